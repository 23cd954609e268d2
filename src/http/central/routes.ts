/**
 * The central server over HTTP. Public: the global configuration (`GET /conf/{instance}/directory`, the
 * signed directory; `GET /conf/{instance}/parts/{sha512}`, immutable part bytes) and the registration
 * service (`POST /central/register`, authenticated by the request's own signatures). Operators: the
 * management API under `/api/v1/central/…` (central.read to look, central.manage to change), every change
 * audited by the central server itself, every error an RFC 9457 problem document. A change refused before
 * the central server sees it (the schema — bodies checked strictly, ../validation.ts —, the body reader, a
 * certificate that is neither PEM nor base64) is audited here, under the action the registry would use —
 * on the public registration route an anonymous caller's too (bad JSON, XML, oversized or over-deep bodies
 * are refused before the registration service reads them). The registration route is limited per source
 * address as the guard limits the management API (../auth/limit.ts): each request takes a token, each
 * refusal costs `failureCost` more, and a source out of tokens is answered 429 with Retry-After before its
 * body is read; those 429s are audited once per source and window (DenialAggregator), not one by one.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TrucError } from '../../errors.js';
import { toPem } from '../../asn1/der.js';
import type { Platform } from '../../platform.js';
import { guard, limited, platformLimits } from '../auth/guard.js';
import { submitRefusalAudited } from '../../exchange/central/registration.js';
import { auditRefusals, strictValidator } from '../validation.js';
import { describeEncryptionCert, type CentralServer, type RequestStatus } from '../../exchange/central/index.js';
import { auditedRefusal } from '../../exchange/central/context.js';
import { recordAudit } from '../../audit/index.js';
import { sha256Hex } from '../../exchange/conf/signed.js';

const security = [{ bearer: [] }];
const REGISTER_BODY_LIMIT = 96 * 1024;
const actor = (req: FastifyRequest) => req.principal!.name;
const REGISTER_ACTION = 'central.registration.submit';

/**
 * The registration route's per-source limit, taken before the body is read: a source whose bucket is empty
 * is answered 429 with Retry-After. Its first 429 of a window is audited at once, the rest counted and
 * written as one record when the window closes (the guard's DenialAggregator), and published (throttled).
 */
async function registrationLimit(p: Platform, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const l = platformLimits(p);
  const now = Date.now();
  const wait = l.limiter.take(req.ip, now);
  if (!wait) return;
  const denial = { source: req.ip, kind: 'rate_limited', actor: 'anonymous', action: REGISTER_ACTION, target: req.url.split('?')[0]!.slice(0, 200), method: req.method, reason: 'rate_limited' };
  if (l.denials.note(denial, now))
    await recordAudit(p.db, { actor: denial.actor, action: denial.action, target: denial.target, outcome: 'denied', detail: { reason: denial.reason, ip: req.ip, method: req.method } }).catch((e) =>
      p.log.error({ err: e }, 'audit write failed'),
    );
  limited(p, req, reply, wait, l, 'per-source limit of the registration service reached');
}

const problem = {
  description: 'RFC 9457 problem details; `code` is stable (registration_invalid, cert_invalid, cert_revoked, ocsp_stale, unknown_member, conflict, …)',
  content: { 'application/problem+json': { schema: { type: 'object', additionalProperties: true, required: ['type', 'title', 'status', 'code'], properties: { code: { type: 'string' }, detail: { type: 'string' } } } } },
};
const documented = <T extends object>(schema: T) => ({ ...schema, response: { '4xx': problem, '5xx': problem } });

const part = { type: 'string', minLength: 1, maxLength: 255 };
const obj = (required: string[], properties: Record<string, unknown>) => ({ type: 'object', additionalProperties: false, required, properties });

/** PEM or base64 DER → DER */
function der(what: string, v: string): Buffer {
  const b64 = v.includes('-----BEGIN') ? v.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '') : v.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64))
    throw new TrucError('malformed_pem', `${what === 'certificate' ? 'chứng thư' : 'chứng thư trung gian'} không phải PEM hay DER mã hoá base64 / ${what} is neither PEM nor base64 DER`);
  return Buffer.from(b64, 'base64');
}

export async function centralRoutes(app: FastifyInstance, p: Platform, central: CentralServer): Promise<void> {
  app.setValidatorCompiler(strictValidator());
  // the registry and the registration service audit what they refuse themselves (central/context.ts,
  // central/registration.ts): those are not audited twice; what the public registration route refuses
  // before the service sees it is audited as anonymous's
  auditRefusals(app, p, { anonymous: true, audited: (e) => auditedRefusal(e) || submitRefusalAudited(e) });
  const read = guard(p, 'central.read');
  const manage = guard(p, 'central.manage');
  const tags = ['central'];

  // ---- public: configuration download

  app.get<{ Params: { instance: string } }>('/conf/:instance/directory', { schema: documented({ tags, summary: 'The signed configuration directory (public)' }) }, async (req, reply) => {
    if (req.params.instance !== central.instance) throw new TrucError('not_found', `this central server serves instance ${central.instance}`);
    const signed = await central.generator.signedDirectory();
    reply.header('cache-control', 'no-cache');
    return signed;
  });

  // a wildcard, not a :hash parameter (a SHA-512 in hex was longer than the router's parameter limit)
  app.get<{ Params: { instance: string; '*': string } }>('/conf/:instance/parts/*', { schema: documented({ tags, summary: 'A configuration part by its SHA-512 (public, immutable)' }) }, async (req, reply) => {
    if (req.params.instance !== central.instance) throw new TrucError('not_found', `this central server serves instance ${central.instance}`);
    const hash = req.params['*'];
    const bytes = await central.generator.part(hash);
    if (!bytes) throw new TrucError('not_found', 'no configuration part with that hash');
    reply.header('cache-control', 'public, max-age=31536000, immutable');
    reply.header('etag', `"${hash}"`);
    return reply.type('application/json').send(bytes);
  });

  // ---- public: registration (authenticated by the request's own signatures)

  app.post(
    '/central/register',
    {
      bodyLimit: REGISTER_BODY_LIMIT,
      config: { auditAction: REGISTER_ACTION },
      onRequest: async (req, reply) => registrationLimit(p, req, reply),
      // a refused request (4xx, whoever refused it) costs its source more than an accepted one
      onResponse: async (req, reply) => {
        if (reply.statusCode >= 400 && reply.statusCode < 500 && reply.statusCode !== 429) platformLimits(p).limiter.charge(req.ip, Date.now());
      },
      schema: documented({ tags, summary: 'A security server’s registration request (signed; public); 429 with Retry-After when its source sent too many refused ones', body: { type: 'object' } }),
    },
    async (req, reply) => {
      const r = await central.registration.submit(req.body, { ip: req.ip });
      reply.status(r.status === 'approved' ? 201 : 202);
      return r;
    },
  );

  // ---- management

  app.get('/api/v1/central/members', { onRequest: read, schema: documented({ tags, security, summary: 'Members and their subsystems' }) }, async () => central.registry.listMembers());

  app.post<{ Body: { memberClass: string; memberCode: string; name: string } }>(
    '/api/v1/central/members',
    { onRequest: manage, config: { auditAction: 'central.member.add' }, schema: documented({ tags, security, summary: 'Register a member', body: obj(['memberClass', 'memberCode', 'name'], { memberClass: part, memberCode: part, name: { type: 'string', maxLength: 500 } }) }) },
    async (req, reply) => {
      await central.registry.addMember(req.body, actor(req));
      reply.status(201);
      return req.body;
    },
  );

  app.get<{ Querystring: { memberClass?: string; memberCode?: string } }>(
    '/api/v1/central/encryption-certs',
    {
      onRequest: read,
      schema: documented({
        tags,
        security,
        summary: 'Members’ registered encryption certificates (subject, serial, validity, key type, SHA-256, registered at, status); every listing audited',
        querystring: obj([], { memberClass: part, memberCode: part }),
      }),
    },
    async (req) => {
      const { memberClass, memberCode } = req.query;
      if ((memberClass === undefined) !== (memberCode === undefined)) throw new TrucError('bad_request', 'memberClass and memberCode go together');
      const member = memberClass !== undefined && memberCode !== undefined ? { memberClass, memberCode } : undefined;
      const names = new Map((await central.registry.listMembers()).map((m) => [`${m.memberClass}/${m.memberCode}`, m.name]));
      const now = central.ctx.clock();
      const rows = await central.registry.listEncryptionCerts(member);
      const out = rows.map((c) => ({
        memberClass: c.memberClass,
        memberCode: c.memberCode,
        memberName: names.get(`${c.memberClass}/${c.memberCode}`) ?? null,
        ...describeEncryptionCert(c.certificate, now),
        hash: c.hash,
        registeredAt: c.createdAt.toISOString(),
        requestId: c.requestId,
      }));
      // who looked at which agencies' encryption keys is itself a record (central.encryption-cert.list)
      await recordAudit(central.ctx.db, {
        actor: actor(req),
        action: 'central.encryption-cert.list',
        target: member ? `${member.memberClass}/${member.memberCode}` : 'all',
        outcome: 'success',
        detail: { count: out.length, ip: req.ip },
      });
      return out;
    },
  );

  app.get('/api/v1/central/subsystems', { onRequest: read, schema: documented({ tags, security, summary: 'Subsystems' }) }, async () => central.registry.listSubsystems());

  app.post<{ Body: { memberClass: string; memberCode: string; subsystemCode: string } }>(
    '/api/v1/central/subsystems',
    { onRequest: manage, config: { auditAction: 'central.subsystem.add' }, schema: documented({ tags, security, summary: 'Register a subsystem', body: obj(['memberClass', 'memberCode', 'subsystemCode'], { memberClass: part, memberCode: part, subsystemCode: part }) }) },
    async (req, reply) => {
      await central.registry.addSubsystem(req.body, actor(req));
      reply.status(201);
      return req.body;
    },
  );

  app.get('/api/v1/central/servers', { onRequest: read, schema: documented({ tags, security, summary: 'Security servers' }) }, async () => central.registry.listServers());

  app.post<{ Body: { memberClass: string; memberCode: string; serverCode: string; address: string } }>(
    '/api/v1/central/servers',
    {
      onRequest: manage, config: { auditAction: 'central.server.add' },
      schema: documented({ tags, security, summary: 'Register a security server directly', body: obj(['memberClass', 'memberCode', 'serverCode', 'address'], { memberClass: part, memberCode: part, serverCode: part, address: { type: 'string', maxLength: 300 } }) }),
    },
    async (req, reply) => {
      await central.registry.addServer(req.body, actor(req));
      reply.status(201);
      return req.body;
    },
  );

  app.delete<{ Params: { memberClass: string; memberCode: string; serverCode: string } }>(
    '/api/v1/central/servers/:memberClass/:memberCode/:serverCode',
    { onRequest: manage, config: { auditAction: 'central.server.remove' }, schema: documented({ tags, security, summary: 'Remove a security server (with its certificates and clients)' }) },
    async (req, reply) => {
      await central.registry.removeServer(req.params, actor(req));
      return reply.status(204).send();
    },
  );

  app.get('/api/v1/central/groups', { onRequest: read, schema: documented({ tags, security, summary: 'Global groups' }) }, async () => central.registry.listGroups());

  app.post<{ Body: { code: string; description: string } }>(
    '/api/v1/central/groups',
    { onRequest: manage, config: { auditAction: 'central.group.add' }, schema: documented({ tags, security, summary: 'Create a global group', body: obj(['code', 'description'], { code: part, description: { type: 'string', maxLength: 500 } }) }) },
    async (req, reply) => {
      await central.registry.addGlobalGroup(req.body, actor(req));
      reply.status(201);
      return req.body;
    },
  );

  app.post<{ Params: { code: string }; Body: { memberClass: string; memberCode: string; subsystemCode: string } }>(
    '/api/v1/central/groups/:code/members',
    { onRequest: manage, config: { auditAction: 'central.group.member.add' }, schema: documented({ tags, security, summary: 'Add a subsystem to a global group', body: obj(['memberClass', 'memberCode', 'subsystemCode'], { memberClass: part, memberCode: part, subsystemCode: part }) }) },
    async (req, reply) => {
      await central.registry.addGroupMember(req.params.code, req.body, actor(req));
      reply.status(201);
      return req.body;
    },
  );

  app.delete<{ Params: { code: string; memberClass: string; memberCode: string; subsystemCode: string } }>(
    '/api/v1/central/groups/:code/members/:memberClass/:memberCode/:subsystemCode',
    { onRequest: manage, config: { auditAction: 'central.group.member.remove' }, schema: documented({ tags, security, summary: 'Remove a subsystem from a global group' }) },
    async (req, reply) => {
      const { code, ...sub } = req.params;
      await central.registry.removeGroupMember(code, sub, actor(req));
      return reply.status(204).send();
    },
  );

  app.get('/api/v1/central/cas', { onRequest: read, schema: documented({ tags, security, summary: 'Approved certification authorities' }) }, async () =>
    (await central.registry.listCas()).map((c) => ({
      name: c.name,
      certificate: toPem('CERTIFICATE', c.certificate),
      sha256: sha256Hex(c.certificate),
      intermediates: c.intermediates.map((i) => toPem('CERTIFICATE', i)),
      ocspUrls: c.ocspUrls,
    })),
  );

  app.post<{ Body: { name: string; certificate: string; intermediates?: string[]; ocspUrls: string[] } }>(
    '/api/v1/central/cas',
    {
      onRequest: manage, config: { auditAction: 'central.ca.approve' },
      schema: documented({
        tags,
        security,
        summary: 'Approve a CA (trust anchor certificate, intermediates, OCSP URLs); 409 when its name is approved for another certificate, 200 when for the same (intermediates and OCSP URLs brought up to date)',
        body: obj(['name', 'certificate', 'ocspUrls'], {
          name: part,
          certificate: { type: 'string', maxLength: 32768 },
          intermediates: { type: 'array', maxItems: 16, items: { type: 'string', maxLength: 32768 } },
          ocspUrls: { type: 'array', minItems: 1, maxItems: 8, items: { type: 'string', maxLength: 2000 } },
        }),
      }),
    },
    async (req, reply) => {
      const b = req.body;
      const done = await central.registry.approveCa({ name: b.name, certificate: der('certificate', b.certificate), intermediates: (b.intermediates ?? []).map((i) => der('intermediate', i)), ocspUrls: b.ocspUrls }, actor(req));
      // 201 when approved now; 200 when the same trust anchor was approved under this name already
      reply.status(done === 'approved' ? 201 : 200);
      return { name: b.name, ...(done === 'approved' ? {} : { [done]: true }) };
    },
  );

  app.post('/api/v1/central/cas/platform', { onRequest: manage, config: { auditAction: 'central.ca.approve' }, schema: documented({ tags, security, summary: 'Approve this platform’s own CA hierarchy' }) }, async (req, reply) => {
    const names = await central.registry.approvePlatformCas(p.pki, actor(req));
    reply.status(201);
    return { approved: names };
  });

  app.delete<{ Params: { name: string } }>('/api/v1/central/cas/:name', { onRequest: manage, config: { auditAction: 'central.ca.remove' }, schema: documented({ tags, security, summary: 'Withdraw a CA’s approval' }) }, async (req, reply) => {
    await central.registry.removeCa(req.params.name, actor(req));
    return reply.status(204).send();
  });

  app.delete<{ Params: { name: string } }>('/api/v1/central/tsas/:name', { onRequest: manage, config: { auditAction: 'central.tsa.remove' }, schema: documented({ tags, security, summary: 'Withdraw a TSA’s approval' }) }, async (req, reply) => {
    await central.registry.removeTsa(req.params.name, actor(req));
    return reply.status(204).send();
  });

  app.get('/api/v1/central/tsas', { onRequest: read, schema: documented({ tags, security, summary: 'Approved time-stamping authorities' }) }, async () =>
    (await central.registry.listTsas()).map((t) => ({ name: t.name, url: t.url, certificate: toPem('CERTIFICATE', t.certificate) })),
  );

  app.post<{ Body: { name: string; url: string; certificate: string } }>(
    '/api/v1/central/tsas',
    { onRequest: manage, config: { auditAction: 'central.tsa.approve' }, schema: documented({ tags, security, summary: 'Approve a TSA; 409 when its name is approved for another certificate, 200 when for the same (URL brought up to date)', body: obj(['name', 'url', 'certificate'], { name: { type: 'string', maxLength: 200 }, url: { type: 'string', maxLength: 2000 }, certificate: { type: 'string', maxLength: 32768 } }) }) },
    async (req, reply) => {
      const done = await central.registry.approveTsa({ name: req.body.name, url: req.body.url, certificate: der('certificate', req.body.certificate) }, actor(req));
      reply.status(done === 'approved' ? 201 : 200);
      return { name: req.body.name, ...(done === 'approved' ? {} : { [done]: true }) };
    },
  );

  app.get('/api/v1/central/settings', { onRequest: read, schema: documented({ tags, security, summary: 'Settings' }) }, async () => central.settings());

  app.patch<{ Body: Record<string, unknown> }>('/api/v1/central/settings', { onRequest: manage, config: { auditAction: 'central.settings.set' }, schema: documented({ tags, security, summary: 'Change settings', body: { type: 'object', maxProperties: 20 } }) }, async (req) =>
    central.registry.setSettings(req.body as never, actor(req)),
  );

  app.get<{ Querystring: { status?: RequestStatus; limit?: number } }>(
    '/api/v1/central/requests',
    {
      onRequest: read,
      schema: documented({
        tags,
        security,
        summary: 'Registration requests, newest first',
        querystring: obj([], { status: { type: 'string', enum: ['pending', 'approved', 'rejected'] }, limit: { type: 'integer', minimum: 1, maximum: 1000 } }),
      }),
    },
    async (req) => central.registration.list(req.query.status, req.query.limit ?? 100),
  );

  app.get<{ Params: { id: string } }>('/api/v1/central/requests/:id', { onRequest: read, schema: documented({ tags, security, summary: 'One registration request' }) }, async (req) => {
    const r = await central.registration.get(req.params.id);
    if (!r) throw new TrucError('not_found', `không có yêu cầu đăng ký ${req.params.id.slice(0, 128)} / no registration request ${req.params.id.slice(0, 128)}`);
    return r;
  });

  app.post<{ Params: { id: string } }>('/api/v1/central/requests/:id/approve', { onRequest: manage, config: { auditAction: 'central.registration.approve' }, schema: documented({ tags, security, summary: 'Approve a pending request' }) }, async (req) =>
    central.registration.approve(req.params.id, actor(req)),
  );

  app.post<{ Params: { id: string }; Body: { reason?: string } }>(
    '/api/v1/central/requests/:id/reject',
    { onRequest: manage, config: { auditAction: 'central.registration.reject' }, schema: documented({ tags, security, summary: 'Reject a pending request', body: obj([], { reason: { type: 'string', maxLength: 1000 } }) }) },
    async (req) => central.registration.reject(req.params.id, actor(req), req.body?.reason ?? ''),
  );

  app.get('/api/v1/central/configuration', { onRequest: read, schema: documented({ tags, security, summary: 'The latest configuration version' }) }, async () => {
    const v = await central.generator.latest();
    return v
      ? { instance: central.instance, version: v.version, generatedAt: v.generatedAt.toISOString(), expiresAt: v.expiresAt.toISOString(), expired: v.expiresAt.getTime() <= Date.now(), certificateHash: v.certificateHash }
      : { instance: central.instance, version: null };
  });

  app.post('/api/v1/central/configuration/generate', { onRequest: manage, config: { auditAction: 'central.conf.generate' }, schema: documented({ tags, security, summary: 'Generate a new configuration version now' }) }, async (req) => {
    const v = await central.generator.generate({ force: true, actor: actor(req) });
    return { version: v!.version, generatedAt: v!.generatedAt.toISOString(), expiresAt: v!.expiresAt.toISOString() };
  });

  app.get('/api/v1/central/anchor', { onRequest: read, schema: documented({ tags, security, summary: 'The configuration anchor for security servers' }) }, async () => central.exportAnchor());
}
