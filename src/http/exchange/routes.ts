/**
 * Security servers over HTTP, for operators and the console: the servers this process runs (one in
 * production, three in the demonstration axis), each one's state (configuration, own certificates' OCSP,
 * message log, health per service), diagnostics, its services and access rights, and its message log.
 * ss.read to look, ss.manage to change, ss.log.read for the message log; every change audited, and every
 * change refused to an authenticated caller (by the schema, the body reader, the route or the store) audited
 * as a failure under the same action. Bodies are checked strictly (../validation.ts): an unknown member or a
 * wrong JSON type is a 400, never dropped or coerced.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TrucError } from '../../errors.js';
import type { Platform } from '../../platform.js';
import { guard } from '../auth/guard.js';
import { auditRefusals, strictValidator } from '../validation.js';
import { recordAudit } from '../../audit/index.js';
import { makeEvent } from '../../bus/index.js';
import type { SecurityServer } from '../../exchange/server/server.js';
import { parseServer, parseService, parseSubsystem, serverText, serviceText, subsystemText } from '../../exchange/ids.js';
import { listCas } from '../../pki/index.js';
import { X509Certificate } from 'node:crypto';
import { IS_CONNECTIONS, checkSubject, serviceType, type IsConnection } from '../../exchange/server/store.js';
import type { ServiceDescription } from '../../exchange/server/openapi.js';
import { looksLikeXml, type WsdlDescription } from '../../exchange/server/wsdl.js';

const security = [{ bearer: [] }];
const tags = ['exchange'];

export interface ExchangeRouteOptions {
  /** the security servers of this process, by server code */
  servers: () => SecurityServer[];
}

/** what a refused change was about: the service or subsystem its body or query names, else the path */
function refusedTarget(req: FastifyRequest): string {
  const b = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
  const q = (req.query ?? {}) as Record<string, unknown>;
  const named = [b.service, b.subsystem, q.service].find((x) => typeof x === 'string' && x);
  return typeof named === 'string' ? named : req.url.split('?')[0]!;
}

export async function exchangeRoutes(app: FastifyInstance, p: Platform, o: ExchangeRouteOptions): Promise<void> {
  app.setValidatorCompiler(strictValidator());
  auditRefusals(app, p, { target: refusedTarget, detail: (req) => ({ server: String((req.params as { code?: unknown } | undefined)?.code ?? '').slice(0, 255) }) });
  const read = guard(p, 'ss.read');
  const manage = guard(p, 'ss.manage');
  const logRead = guard(p, 'ss.log.read');
  const find = (code: string): SecurityServer => {
    const s = o.servers().find((x) => x.ctx.id.serverCode === code || x.ctx.idText === code);
    if (!s) throw new TrucError('not_found', `tiến trình này không chạy máy chủ an ninh "${code}" / no security server "${code}" in this process`);
    return s;
  };
  const audit = (req: FastifyRequest, action: string, target: string, detail: Record<string, unknown>) =>
    recordAudit(p.db, { actor: req.principal!.name, action, target, outcome: 'success', detail });

  app.get('/api/v1/exchange/servers', { onRequest: read, schema: { tags, security, summary: 'Security servers of this process with their state' } }, async () =>
    o.servers().map((s) => s.status()),
  );

  app.get<{ Params: { code: string } }>('/api/v1/exchange/servers/:code', { onRequest: read, schema: { tags, security, summary: 'One security server’s state' } }, async (req) => find(req.params.code).status());

  app.post<{ Params: { code: string }; Querystring: { peer?: string } }>(
    '/api/v1/exchange/servers/:code/diagnose',
    { onRequest: read, schema: { tags, security, summary: 'Diagnostics: configuration, own certificates, TSAs, a peer connection', querystring: { type: 'object', additionalProperties: false, properties: { peer: { type: 'string', maxLength: 1100 } } } } },
    async (req) => find(req.params.code).diagnose(req.query.peer ? parseServer(req.query.peer) : undefined),
  );

  app.get<{ Params: { code: string } }>('/api/v1/exchange/servers/:code/services', { onRequest: read, schema: { tags, security, summary: 'Services and access rights' } }, async (req) => {
    const s = find(req.params.code);
    const snap = await s.store.snapshot();
    return {
      clients: [...snap.clients],
      // how each client's information system connects (X-Road's connection types; `http` when not listed) and
      // the information systems' TLS certificates registered per subsystem, by SHA-256
      connections: Object.fromEntries([...snap.clients].map((c) => [c, snap.connections.get(c) ?? 'http'])),
      isCerts: Object.fromEntries(
        [...snap.isCerts.entries()].map(([sub, m]) => [sub, [...m.entries()].map(([sha256, der]) => ({ sha256, subject: new X509Certificate(der).subject, notAfter: new Date(new X509Certificate(der).validTo).toISOString() }))]),
      ),
      services: [...snap.services.values()].map((x) => ({
        service: x.text,
        url: x.url,
        timeoutMs: x.timeoutMs,
        disabled: x.disabled,
        // X-Road's service type: OPENAPI when an OpenAPI 3 description is registered (its operations listed),
        // WSDL when a WSDL 1.1 one is
        type: serviceType(x),
        ...(x.openapi ? { openapi: x.openapi } : {}),
        ...(x.wsdl ? { wsdl: x.wsdl } : {}),
        access: snap.access.get(x.text) ?? [],
      })),
      localGroups: Object.fromEntries([...snap.localGroups.entries()].map(([k, v]) => [k, [...v]])),
    };
  });

  app.put<{ Params: { code: string }; Body: { service: string; url: string; timeoutMs?: number } }>(
    '/api/v1/exchange/servers/:code/services',
    {
      onRequest: manage,
      config: { auditAction: 'ss.service.put' },
      schema: { tags, security, summary: 'Publish or update a service', body: { type: 'object', additionalProperties: false, required: ['service', 'url'], properties: { service: { type: 'string', maxLength: 1400 }, url: { type: 'string', maxLength: 2000 }, timeoutMs: { type: 'integer', minimum: 100, maximum: 3_600_000 } } } },
    },
    async (req) => {
      const s = find(req.params.code);
      await s.store.putService(parseService(req.body.service), req.body.url, req.body.timeoutMs);
      await audit(req, 'ss.service.put', req.body.service, { server: s.ctx.idText, url: req.body.url });
      return { ok: true };
    },
  );

  const serviceQuery = { type: 'object', additionalProperties: false, required: ['service'], properties: { service: { type: 'string', maxLength: 1400 } } };
  // a service's OpenAPI 3 description, as text (JSON or YAML): the body is the document itself — YAML or
  // text/plain kept as sent, application/octet-stream as UTF-8, application/json re-serialised after the
  // platform's bounded parse
  if (!app.hasContentTypeParser('application/yaml'))
    app.addContentTypeParser(['application/yaml', 'application/x-yaml', 'text/yaml'], { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.put<{ Params: { code: string }; Querystring: { service: string }; Body: string }>(
    '/api/v1/exchange/servers/:code/services/openapi',
    {
      onRequest: manage,
      bodyLimit: (1 << 20) + 1024,
      config: { auditAction: 'ss.service.describe' },
      schema: { tags, security, summary: 'Register a service’s OpenAPI 3 description (JSON or YAML text in the body)', querystring: serviceQuery },
    },
    async (req) => {
      const s = find(req.params.code);
      const body = typeof req.body === 'string' ? req.body : Buffer.isBuffer(req.body) ? (req.body as Buffer).toString('utf8') : req.body && typeof req.body === 'object' ? JSON.stringify(req.body) : '';
      if (looksLikeXml(body)) throw new TrucError('bad_request', 'mô tả này là XML: mô tả WSDL gửi tới …/services/wsdl / this description is XML: a WSDL description goes to …/services/wsdl');
      const d = (await s.store.describeService(parseService(req.query.service), body)) as ServiceDescription;
      await audit(req, 'ss.service.describe', req.query.service, { server: s.ctx.idText, format: d.format, operations: d.endpoints.length });
      return { service: req.query.service, openapi: d };
    },
  );
  // a SOAP service's WSDL 1.1 description, as XML text in the body (getWsdl answers it to clients)
  app.addContentTypeParser(['application/xml', 'text/xml', 'application/wsdl+xml'], { parseAs: 'string', bodyLimit: (1 << 20) + 1024 }, (_req, body, done) => done(null, body));
  app.put<{ Params: { code: string }; Querystring: { service: string }; Body: string }>(
    '/api/v1/exchange/servers/:code/services/wsdl',
    {
      onRequest: manage,
      bodyLimit: (1 << 20) + 1024,
      config: { auditAction: 'ss.service.describe' },
      schema: { tags, security, summary: 'Register a SOAP service’s WSDL 1.1 description (XML in the body; it must define the service’s code as an operation)', querystring: serviceQuery },
    },
    async (req) => {
      const s = find(req.params.code);
      const body = typeof req.body === 'string' ? req.body : Buffer.isBuffer(req.body) ? (req.body as Buffer).toString('utf8') : '';
      if (!looksLikeXml(body)) throw new TrucError('bad_request', 'mô tả WSDL là tài liệu XML / a WSDL description is an XML document');
      const d = (await s.store.describeService(parseService(req.query.service), body)) as WsdlDescription;
      await audit(req, 'ss.service.describe', req.query.service, { server: s.ctx.idText, format: d.format, operations: d.operations.length });
      return { service: req.query.service, wsdl: d };
    },
  );
  for (const kind of ['openapi', 'wsdl'] as const)
    app.delete<{ Params: { code: string }; Querystring: { service: string } }>(
      `/api/v1/exchange/servers/:code/services/${kind}`,
      {
        onRequest: manage,
        config: { auditAction: 'ss.service.describe' },
        schema: { tags, security, summary: `Remove a service’s ${kind === 'wsdl' ? 'WSDL' : 'OpenAPI'} description: its type is REST again (404 when it has none of that kind)`, querystring: serviceQuery },
      },
      async (req) => {
        const s = find(req.params.code);
        const service = parseService(req.query.service);
        if (!(await s.store.removeDescription(service, kind))) {
          const what = kind === 'wsdl' ? 'WSDL' : 'OpenAPI';
          throw new TrucError('not_found', `dịch vụ ${serviceText(service)} không có mô tả ${what} / no ${what} description of ${serviceText(service)} is registered`);
        }
        await audit(req, 'ss.service.describe', req.query.service, { server: s.ctx.idText, removed: true });
        return { ok: true };
      },
    );

  const rightSchema = { type: 'object', additionalProperties: false, required: ['service', 'subject'], properties: { service: { type: 'string', maxLength: 1400 }, subject: { type: 'string', maxLength: 1400 }, method: { type: 'string', maxLength: 16 }, path: { type: 'string', maxLength: 1000 } } };
  app.post<{ Params: { code: string }; Body: { service: string; subject: string; method?: string; path?: string } }>(
    '/api/v1/exchange/servers/:code/access',
    { onRequest: manage, config: { auditAction: 'ss.access.grant' }, schema: { tags, security, summary: 'Grant an access right (409 when it is granted already)', body: rightSchema } },
    async (req, reply) => {
      const s = find(req.params.code);
      const right = { service: req.body.service, subject: req.body.subject, method: req.body.method ?? '*', path: req.body.path ?? '*' };
      if (!(await s.store.grant(right))) throw new TrucError('conflict', 'quyền truy cập này đã được cấp / this access right is granted already', { right });
      await audit(req, 'ss.access.grant', right.service, { server: s.ctx.idText, ...right });
      reply.status(201);
      return right;
    },
  );

  app.delete<{ Params: { code: string }; Body: { service: string; subject: string; method?: string; path?: string } }>(
    '/api/v1/exchange/servers/:code/access',
    { onRequest: manage, config: { auditAction: 'ss.access.revoke' }, schema: { tags, security, summary: 'Withdraw an access right', body: rightSchema } },
    async (req) => {
      const s = find(req.params.code);
      // identifiers read first: an invalid one is a 400, not "no such right" — unless a right stored with it
      // exactly as written exists (granted before the identifier rules were tightened): that one is withdrawn,
      // never left in place for want of a way to remove it
      let right: { service: string; subject: string; method: string; path: string };
      try {
        right = { service: serviceText(parseService(req.body.service)), subject: checkSubject(req.body.subject), method: req.body.method ?? '*', path: req.body.path ?? '*' };
      } catch (e) {
        const asStored = { service: req.body.service, subject: req.body.subject, method: req.body.method ?? '*', path: req.body.path ?? '*' };
        if (!(await s.store.revoke(asStored))) throw e;
        await audit(req, 'ss.access.revoke', asStored.service, { server: s.ctx.idText, ...asStored, invalidIdentifier: true });
        return { ok: true };
      }
      if (!(await s.store.revoke(right))) throw new TrucError('not_found', 'không có quyền truy cập này / no such access right');
      await audit(req, 'ss.access.revoke', right.service, { server: s.ctx.idText, ...right });
      return { ok: true };
    },
  );

  app.post<{ Params: { code: string }; Body: { subsystem: string } }>(
    '/api/v1/exchange/servers/:code/clients',
    {
      onRequest: manage,
      config: { auditAction: 'ss.client.add' },
      schema: { tags, security, summary: 'Add a client subsystem (409 when it is one already)', body: { type: 'object', additionalProperties: false, required: ['subsystem'], properties: { subsystem: { type: 'string', maxLength: 1100 } } } },
    },
    async (req, reply) => {
      const s = find(req.params.code);
      const sub = parseSubsystem(req.body.subsystem);
      if (!(await s.store.addClient(sub))) throw new TrucError('conflict', `${subsystemText(sub)} đã là phân hệ khách của máy chủ này / ${subsystemText(sub)} is a client of this server already`);
      await audit(req, 'ss.client.add', req.body.subsystem, { server: s.ctx.idText });
      reply.status(201);
      return { ok: true };
    },
  );

  app.put<{ Params: { code: string }; Body: { subsystem: string; connection: IsConnection } }>(
    '/api/v1/exchange/servers/:code/clients/connection',
    {
      onRequest: manage,
      config: { auditAction: 'ss.client.connection' },
      schema: {
        tags,
        security,
        summary: 'How a client’s information system must connect: http, https-noauth (TLS) or https (TLS with a registered certificate)',
        body: { type: 'object', additionalProperties: false, required: ['subsystem', 'connection'], properties: { subsystem: { type: 'string', maxLength: 1100 }, connection: { enum: [...IS_CONNECTIONS] } } },
      },
    },
    async (req) => {
      const s = find(req.params.code);
      await s.store.setConnection(parseSubsystem(req.body.subsystem), req.body.connection);
      await audit(req, 'ss.client.connection', req.body.subsystem, { server: s.ctx.idText, connection: req.body.connection });
      return { ok: true };
    },
  );

  app.post<{ Params: { code: string }; Body: { subsystem: string; certificate: string } }>(
    '/api/v1/exchange/servers/:code/is-certs',
    {
      onRequest: manage,
      config: { auditAction: 'ss.is-cert.add' },
      schema: {
        tags,
        security,
        summary: 'Register an information system’s TLS certificate (PEM, or base64 DER) for a client subsystem of this server: a client’s (connection https) or a provider’s (pinned for https service URLs)',
        body: { type: 'object', additionalProperties: false, required: ['subsystem', 'certificate'], properties: { subsystem: { type: 'string', maxLength: 1100 }, certificate: { type: 'string', maxLength: 64 * 1024 } } },
      },
    },
    async (req, reply) => {
      const s = find(req.params.code);
      const text = req.body.certificate.trim();
      let der: Buffer;
      try {
        der = text.includes('-----BEGIN') ? Buffer.from(new X509Certificate(text).raw) : Buffer.from(text, 'base64');
      } catch {
        throw new TrucError('bad_request', 'chứng thư không đọc được / the certificate is not PEM or base64 DER');
      }
      const sha256 = await s.store.addIsCert(parseSubsystem(req.body.subsystem), der);
      await audit(req, 'ss.is-cert.add', req.body.subsystem, { server: s.ctx.idText, sha256 });
      reply.status(201);
      return { sha256 };
    },
  );

  app.delete<{ Params: { code: string }; Body: { subsystem: string; sha256: string } }>(
    '/api/v1/exchange/servers/:code/is-certs',
    {
      onRequest: manage,
      config: { auditAction: 'ss.is-cert.remove' },
      schema: { tags, security, summary: 'Withdraw an information system’s TLS certificate', body: { type: 'object', additionalProperties: false, required: ['subsystem', 'sha256'], properties: { subsystem: { type: 'string', maxLength: 1100 }, sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' } } } },
    },
    async (req) => {
      const s = find(req.params.code);
      if (!(await s.store.removeIsCert(parseSubsystem(req.body.subsystem), req.body.sha256))) throw new TrucError('not_found', 'không có chứng thư này / no such certificate');
      await audit(req, 'ss.is-cert.remove', req.body.subsystem, { server: s.ctx.idText, sha256: req.body.sha256.toLowerCase() });
      return { ok: true };
    },
  );

  app.get<{ Params: { code: string }; Querystring: { messageId?: string; since?: string; limit?: number } }>(
    '/api/v1/exchange/servers/:code/operations',
    {
      onRequest: read,
      schema: {
        tags,
        security,
        summary: 'Operational records: one per exchange (ids, client, service, times, sizes, status, error code)',
        querystring: { type: 'object', additionalProperties: false, properties: { messageId: { type: 'string', maxLength: 255 }, since: { type: 'string', format: 'date-time' }, limit: { type: 'integer', minimum: 1, maximum: 1000 } } },
      },
    },
    async (req) => {
      const s = find(req.params.code);
      const rows = await s.ctx.ops.search({ ...(req.query.messageId ? { messageId: req.query.messageId } : {}), ...(req.query.since ? { since: new Date(req.query.since) } : {}), limit: req.query.limit ?? 100 });
      // who called what and when, message ids: read like the message log, audited like its search
      await audit(req, 'ss.operations.search', serverText(s.ctx.id), { query: req.query, count: rows.length });
      return rows;
    },
  );

  app.get<{ Params: { code: string }; Querystring: { messageId?: string; client?: string; service?: string; from?: string; to?: string; limit?: number } }>(
    '/api/v1/exchange/servers/:code/log',
    {
      onRequest: logRead,
      schema: {
        tags,
        security,
        summary: 'Search the message log',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { messageId: { type: 'string', maxLength: 255 }, client: { type: 'string', maxLength: 1100 }, service: { type: 'string', maxLength: 1400 }, from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' }, limit: { type: 'integer', minimum: 1, maximum: 1000 } },
        },
      },
    },
    async (req) => {
      const s = find(req.params.code);
      const log = s.ctx.log;
      if (!log.search) throw new TrucError('unsupported', 'this message log cannot be searched');
      const q = req.query;
      const { from, to, ...rest } = q;
      const rows = await log.search({ ...rest, ...(from ? { from: new Date(from) } : {}), ...(to ? { to: new Date(to) } : {}), limit: q.limit ?? 100 });
      await audit(req, 'ss.log.search', serverText(s.ctx.id), { query: q });
      // hashes as hex, not as a serialised Buffer
      return rows.map((r) => {
        const o = { ...(r as Record<string, unknown>) };
        for (const [k, v] of Object.entries(o)) if (Buffer.isBuffer(v)) o[k] = v.toString('hex');
        return o;
      });
    },
  );
  app.post<{ Params: { code: string }; Querystring: { bodies?: string } }>(
    '/api/v1/exchange/servers/:code/log/verify',
    {
      onRequest: logRead,
      schema: {
        tags,
        security,
        summary: 'Verify the whole message log as `truc log verify` does (records, hash chain, hash trees, time-stamps against the platform’s CAs, archives, bodies decrypted); ?bodies=false skips re-hashing the bodies',
        querystring: { type: 'object', additionalProperties: false, properties: { bodies: { type: 'string', enum: ['true', 'false'] } } },
      },
    },
    async (req) => {
      const s = find(req.params.code);
      const log = s.ctx.log;
      if (!log.verify) throw new TrucError('unsupported', 'this message log cannot be verified here');
      const cas = await listCas(p.db);
      const report = (await log.verify({
        trustedTsaCerts: cas.filter((c) => !c.parentId).map((c) => Buffer.from(c.certificate)),
        intermediates: cas.filter((c) => c.parentId).map((c) => Buffer.from(c.certificate)),
        checkBodies: req.query.bodies !== 'false',
      })) as { ok: boolean; problem?: unknown; records: number; incomplete: string[] };
      await recordAudit(p.db, {
        actor: req.principal!.name,
        action: 'ss.log.verify',
        target: serverText(s.ctx.id),
        outcome: report.problem ? 'failure' : 'success',
        detail: { ok: report.ok, records: report.records, ...(report.problem ? { problem: report.problem } : {}), incomplete: report.incomplete.length },
      });
      if (report.problem)
        await p.bus
          .publish('truc.exchange.log.broken', makeEvent('exchange', 'log.broken', 'failure', { category: ['database'], user: { name: req.principal!.name }, truc: { server: serverText(s.ctx.id), problem: report.problem } }))
          .catch(() => {});
      return report;
    },
  );

  app.get<{ Params: { code: string; messageId: string } }>(
    '/api/v1/exchange/servers/:code/log/evidence/:messageId',
    {
      onRequest: logRead,
      schema: {
        tags,
        security,
        summary: "Evidence of one message as an ASiC-E container: its records, bodies (decrypted), hash chain, hash-tree paths and time-stamps, sealed with the member's CAdES signature over META-INF/ASiCManifest.xml",
        params: { type: 'object', additionalProperties: false, properties: { code: { type: 'string', maxLength: 255 }, messageId: { type: 'string', minLength: 1, maxLength: 255 } }, required: ['code', 'messageId'] },
      },
    },
    async (req, reply) => {
      const s = find(req.params.code);
      const log = s.ctx.log;
      if (!log.evidence) throw new TrucError('unsupported', 'this message log cannot export evidence');
      // sealed by the member's signing key: an ASiC-E with CAdES that generic validators check whole
      const stream = await log.evidence(req.params.messageId, { seal: await s.evidenceSeal() });
      await audit(req, 'ss.log.evidence', serverText(s.ctx.id), { messageId: req.params.messageId });
      const name = req.params.messageId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
      return reply
        .header('content-type', 'application/vnd.etsi.asic-e+zip')
        .header('content-disposition', `attachment; filename="evidence-${name}.asice"`)
        .send(stream);
    },
  );
}
