/**
 * The monitoring API: event intake (JSON batches, Windows XML exports) for event senders; event search,
 * alerts, rules, hunting and status for analysts; malware scanning of uploaded bytes. Intake answers 202
 * only once the accepted events are stored, and 503 with Retry-After when the queue is full.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { TrucError } from '../../errors.js';
import { recordAudit } from '../../audit/index.js';
import type { Platform } from '../../platform.js';
import { guard } from '../auth/guard.js';
import { boundedLimit } from '../../monitor/events/store.js';
import { hunt, NotifySecrets, type MonitorService } from '../../monitor/index.js';
import { monitorStats } from '../../monitor/stats.js';
import { parseWindowsXmlStream } from '../../monitor/intake/windows.js';
import { parseJsonEventsStream, type JsonBatch } from '../../monitor/intake/json.js';
import { onlyContentTypes } from '../json-body.js';

const INTAKE_BODY_LIMIT = 32 * 1024 * 1024;

function date(v: unknown, name: string): Date | undefined {
  if (v === undefined || v === '') return undefined;
  const d = new Date(String(v));
  if (Number.isNaN(d.getTime())) throw new TrucError('bad_request', `${name} is not a date`);
  return d;
}

function busy(reply: FastifyReply, url: string) {
  return reply
    .status(503)
    .header('retry-after', '1')
    .type('application/problem+json')
    .send({
      type: 'urn:truc:error:busy',
      title: 'busy',
      status: 503,
      detail: 'the event intake queue is full; retry after the indicated delay',
      code: 'busy',
      instance: url.split('?')[0],
    });
}

export async function monitorRoutes(app: FastifyInstance, p: Platform, m: MonitorService): Promise<void> {
  const actor = (req: { principal?: { name: string } }) => req.principal?.name ?? 'anonymous';
  const max = m.deps.config.http.maxEvents;

  async function accept(values: unknown[], reply: FastifyReply, url: string, intake: 'http' | 'windows', refused?: ReadonlyMap<number, string>) {
    if (values.length > max) throw new TrucError('too_large', `at most ${max} events a request`, { max });
    const stored = m.submit(values, intake, refused);
    if (!stored) return busy(reply, url);
    const r = await stored;
    return reply.status(202).send({ accepted: r.ids.length, ids: r.ids, rejected: r.rejected });
  }

  // A JSON or NDJSON batch is split into events as its bytes arrive, in a scope of its own (like the Windows
  // export below): the whole body is never parsed at once, an event too large or too deep to build is
  // refused by its index without being built, and a body past the request's bounds (bytes, events, values)
  // as soon as it passes them. The caller is authenticated before (onRequest runs before the body is read).
  await app.register(async (batch) => {
    const streamed = (ndjson: boolean) => async (req: { headers: Record<string, unknown> }, payload: AsyncIterable<Buffer>) => {
      const declared = Number(req.headers['content-length']);
      const limits = { bytes: INTAKE_BODY_LIMIT, events: max };
      return { jsonBatch: await parseJsonEventsStream(payload, { ndjson, limits, declaredLength: Number.isNaN(declared) ? undefined : declared }) };
    };
    batch.removeContentTypeParser('application/json');
    batch.addContentTypeParser('application/json', streamed(false));
    batch.addContentTypeParser('application/x-ndjson', streamed(true));
    batch.post(
      '/api/v1/events',
      {
        bodyLimit: INTAKE_BODY_LIMIT,
        onRequest: guard(p, 'monitor.ingest'),
        schema: {
          tags: ['monitor'],
          summary: 'Send a batch of events (JSON array, {events: [...]}, or NDJSON)',
          security: [{ bearer: [] }],
        },
      },
      async (req, reply) => {
        const b = (req.body as { jsonBatch?: JsonBatch } | undefined)?.jsonBatch;
        if (!b) throw new TrucError('unsupported', 'gửi application/json hoặc application/x-ndjson (send application/json or application/x-ndjson)');
        return accept(b.values, reply, req.url, 'http', b.refused);
      },
    );
  });

  // The Windows export is parsed as its bytes arrive, in a scope of its own: a body whose declared length
  // is over the bound is refused before a byte is read, and one that grows past the bound — in bytes,
  // events, elements or nesting — as soon as it does, never read whole first (the body used to be taken
  // in whole, up to 32 MiB, before the XML and its bounds were looked at). The caller is authenticated
  // before (onRequest runs before the body is read).
  await app.register(async (win) => {
    win.addContentTypeParser(['application/xml', 'text/xml'], async (req: { headers: Record<string, unknown> }, payload: AsyncIterable<Buffer>) => {
      const declared = Number(req.headers['content-length']);
      const events = await parseWindowsXmlStream(payload, { bytes: INTAKE_BODY_LIMIT, events: max }, Number.isNaN(declared) ? undefined : declared);
      return { windowsEvents: events };
    });
    win.post(
      '/api/v1/events/windows',
      {
        bodyLimit: INTAKE_BODY_LIMIT,
        onRequest: guard(p, 'monitor.ingest'),
        schema: { tags: ['monitor'], summary: 'Send Windows events as an EVTX XML export', security: [{ bearer: [] }] },
      },
      async (req, reply) => {
        const events = (req.body as { windowsEvents?: unknown[] } | undefined)?.windowsEvents;
        if (!Array.isArray(events)) throw new TrucError('unsupported', 'gửi application/xml (send application/xml)');
        return accept(events, reply, req.url, 'windows');
      },
    );
  });

  app.get(
    '/api/v1/events',
    { onRequest: guard(p, 'monitor.read'), schema: { tags: ['monitor'], summary: 'Search stored events: from, to, limit, and dotted field=value filters', security: [{ bearer: [] }] } },
    async (req) => {
      const { from, to, limit, after_ts, after_id, ...where } = req.query as Record<string, string>;
      const events = await m.events.search({
        ...(date(from, 'from') ? { from: date(from, 'from')! } : {}),
        ...(date(to, 'to') ? { to: date(to, 'to')! } : {}),
        ...(limit !== undefined ? { limit: boundedLimit(limit, 100, 10_000) } : {}),
        ...(after_ts && after_id ? { after: { ts: date(after_ts, 'after_ts')!, id: after_id } } : {}),
        where,
      });
      return { events };
    },
  );

  app.get(
    '/api/v1/events/rejected',
    { onRequest: guard(p, 'monitor.read'), schema: { tags: ['monitor'], summary: 'Accepted events the database refused for their data, kept in quarantine with the reason (newest first; limit)', security: [{ bearer: [] }] } },
    async (req) => ({ rejected: await m.events.rejected(Number((req.query as Record<string, string>).limit ?? 100) || 100) }),
  );

  app.get('/api/v1/alerts', { onRequest: guard(p, 'monitor.read'), schema: { tags: ['monitor'], summary: 'List alerts', security: [{ bearer: [] }] } }, async (req) => {
    const q = req.query as Record<string, string>;
    const alerts = await m.alerts.list({
      ...(q.status ? { status: q.status } : {}),
      ...(q.rule ? { ruleId: q.rule } : {}),
      ...(q.minSeverity ? { minSeverity: Number(q.minSeverity) } : {}),
      ...(q.assignee ? { assignee: q.assignee } : {}),
      ...(q.since ? { since: date(q.since, 'since')! } : {}),
      ...(q.limit ? { limit: Number(q.limit) } : {}),
    });
    return { alerts };
  });

  app.get('/api/v1/alerts/groups', { onRequest: guard(p, 'monitor.read'), schema: { tags: ['monitor'], security: [{ bearer: [] }] } }, async () => ({
    groups: await m.alerts.groups(),
  }));

  app.get('/api/v1/alerts/:id', { onRequest: guard(p, 'monitor.read'), schema: { tags: ['monitor'], security: [{ bearer: [] }] } }, async (req) =>
    m.alerts.get((req.params as { id: string }).id),
  );

  app.get('/api/v1/alerts/:id/events', { onRequest: guard(p, 'monitor.read'), schema: { tags: ['monitor'], security: [{ bearer: [] }] } }, async (req) => ({
    events: await m.alertEvents(await m.alerts.get((req.params as { id: string }).id)),
  }));

  const body = (req: { body: unknown }) => (req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {});
  const audited = async (req: any, action: string, target: string, detail: Record<string, unknown> = {}) =>
    recordAudit(p.db, { actor: actor(req), action, target, outcome: 'success', detail }).catch((err) => p.log.error({ err }, 'audit write failed'));

  app.post('/api/v1/alerts/:id/ack', { onRequest: guard(p, 'monitor.manage'), schema: { tags: ['monitor'], security: [{ bearer: [] }] } }, async (req) => {
    const id = (req.params as { id: string }).id;
    const a = await m.alerts.acknowledge(id, actor(req));
    await audited(req, 'monitor.alert.ack', id);
    return a;
  });
  app.post('/api/v1/alerts/:id/assign', { onRequest: guard(p, 'monitor.manage'), schema: { tags: ['monitor'], security: [{ bearer: [] }] } }, async (req) => {
    const id = (req.params as { id: string }).id;
    const a = await m.alerts.assign(id, String(body(req).assignee ?? ''), actor(req));
    await audited(req, 'monitor.alert.assign', id, { assignee: a.assignee });
    return a;
  });
  app.post('/api/v1/alerts/:id/notes', { onRequest: guard(p, 'monitor.manage'), schema: { tags: ['monitor'], security: [{ bearer: [] }] } }, async (req) =>
    m.alerts.note((req.params as { id: string }).id, actor(req), String(body(req).text ?? '')),
  );
  app.post('/api/v1/alerts/:id/close', { onRequest: guard(p, 'monitor.manage'), schema: { tags: ['monitor'], security: [{ bearer: [] }] } }, async (req) => {
    const id = (req.params as { id: string }).id;
    const reason = String(body(req).reason ?? '');
    const a = await m.alerts.close(id, reason, actor(req));
    await audited(req, 'monitor.alert.close', id, { reason });
    return a;
  });

  app.get('/api/v1/rules', { onRequest: guard(p, 'monitor.read'), schema: { tags: ['monitor'], security: [{ bearer: [] }] } }, async () => ({
    rules: m.detection.rules(),
    rejected: m.detection.rejected.slice(0, 1000),
  }));
  app.patch('/api/v1/rules/:id', { onRequest: guard(p, 'monitor.manage'), schema: { tags: ['monitor'], summary: 'Enable, disable or tune a rule: {enabled, filter}', security: [{ bearer: [] }] } }, async (req) => {
    const id = (req.params as { id: string }).id;
    const b = body(req);
    const change: { enabled?: boolean; filter?: Record<string, unknown> | null } = {};
    if (b.enabled !== undefined) {
      if (typeof b.enabled !== 'boolean') throw new TrucError('bad_request', 'enabled is true or false');
      change.enabled = b.enabled;
    }
    if (b.filter !== undefined) change.filter = b.filter as Record<string, unknown> | null;
    const r = await m.detection.configure(id, change, actor(req));
    await audited(req, 'monitor.rule.configure', r.id, change);
    return r;
  });

  app.post('/api/v1/hunt', { onRequest: guard(p, 'monitor.read'), schema: { tags: ['monitor'], summary: 'Run a rule (id or YAML) over stored events', security: [{ bearer: [] }] } }, async (req) => {
    const b = body(req);
    const from = date(b.from, 'from');
    const to = date(b.to, 'to') ?? new Date();
    if (!from) throw new TrucError('bad_request', 'from is required');
    return hunt(m.events, m.detection, {
      from,
      to,
      ...(typeof b.ruleId === 'string' ? { ruleId: b.ruleId } : {}),
      ...(typeof b.yaml === 'string' ? { yaml: b.yaml } : {}),
      ...(b.where && typeof b.where === 'object' ? { where: b.where as Record<string, string> } : {}),
      ...(typeof b.limit === 'number' ? { limit: b.limit } : {}),
    });
  });

  app.post(
    '/api/v1/scan',
    {
      bodyLimit: m.deps.config.scan.maxBytes + 1,
      // the caller first, then the kind of body: raw bytes only, refused before reading anything else
      onRequest: [guard(p, 'monitor.scan'), onlyContentTypes('application/octet-stream')],
      schema: { tags: ['monitor'], summary: 'Scan bytes for malware (application/octet-stream; ?name=file name)', security: [{ bearer: [] }] },
    },
    async (req) => {
      if (!m.scanner) throw new TrucError('unsupported', 'máy chủ này không quét mã độc (malware scanning is not available on this server)');
      if (!Buffer.isBuffer(req.body)) throw new TrucError('unsupported', 'gửi tệp dưới dạng application/octet-stream (send the file as application/octet-stream)');
      const name = String((req.query as Record<string, string>).name ?? 'upload');
      return m.scanner.scanBuffer(req.body, name, { user: actor(req), ip: req.ip });
    },
  );

  app.get<{ Querystring: { from?: string; to?: string; top?: number } }>(
    '/api/v1/monitor/stats',
    {
      onRequest: guard(p, 'monitor.read'),
      schema: {
        tags: ['monitor'],
        summary: 'The dashboard: events and alerts (by level) per time bucket, top rules, hosts, source addresses and actions, for a range (default the last 24 hours, at most a year)',
        security: [{ bearer: [] }],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' }, top: { type: 'integer', minimum: 1, maximum: 50 } },
        },
      },
    },
    async (req) => {
      const to = req.query.to ? new Date(req.query.to) : new Date();
      const from = req.query.from ? new Date(req.query.from) : new Date(to.getTime() - 86_400_000);
      return monitorStats(m.deps.db, { from, to, ...(req.query.top ? { top: req.query.top } : {}) });
    },
  );

  // notification secrets: the clear value is taken once and sealed under the vault; no answer carries it
  const secrets = NotifySecrets.of(p);
  app.get('/api/v1/monitor/notify-secrets', { onRequest: guard(p, 'monitor.read'), schema: { tags: ['monitor'], summary: 'Notification secrets: set or not, never their values', security: [{ bearer: [] }] } }, async () => ({
    secrets: (await secrets.status(m.deps.config.notify)).map((x) => ({ ...x, ...(x.updatedAt ? { updatedAt: x.updatedAt.toISOString() } : {}) })),
  }));
  app.put<{ Params: { name: string }; Body: { value?: unknown } }>(
    '/api/v1/monitor/notify-secrets/:name',
    { onRequest: guard(p, 'monitor.manage'), schema: { tags: ['monitor'], summary: 'Seal a notification secret: {value}; only the sealed form is stored', security: [{ bearer: [] }] } },
    async (req) => {
      const value = req.body?.value;
      if (typeof value !== 'string' || !value) throw new TrucError('bad_request', 'cần {"value": "…"} không rỗng (a non-empty {"value": "…"} is required)');
      await secrets.set(req.params.name, value, actor(req));
      return { name: req.params.name, set: true };
    },
  );
  app.delete<{ Params: { name: string } }>(
    '/api/v1/monitor/notify-secrets/:name',
    { onRequest: guard(p, 'monitor.manage'), schema: { tags: ['monitor'], summary: 'Remove a notification secret (its data key is shredded)', security: [{ bearer: [] }] } },
    async (req) => {
      if (!(await secrets.remove(req.params.name, actor(req)))) throw new TrucError('not_found', `bí mật "${req.params.name}" chưa đặt (secret "${req.params.name}" is not set)`);
      return { name: req.params.name, set: false };
    },
  );

  app.get('/api/v1/monitor/status', { onRequest: guard(p, 'monitor.read'), schema: { tags: ['monitor'], security: [{ bearer: [] }] } }, async () => ({
    queue: m.queue.stats,
    syslog: m.addresses,
    rules: m.detection.engine.detector.stats(),
    rejectedRules: m.detection.rejected.length,
    scanner: m.scanner?.engines ?? [],
    notifications: m.notifier.stats,
    alerts: m.stats,
    bus: await m.busHealth(),
  }));
}
