/**
 * The document desk over HTTP. For clerks and the console (`/api/v1/doc/…`, doc.send to send, report
 * statuses, recall, update and replace; doc.read to look): the agencies one can send to, uploads (streamed
 * to the desk folder), sending to one or many agencies, inbox and outbox, a document with its attachments
 * and signature reports, each recipient's latest status. Reading a document is audited and is an event,
 * so monitoring sees who read what.
 *
 * And the provider side the security server forwards the `edoc` service to: `POST /edoc/packages` and
 * `POST /edoc/statuses`. These trust `X-Road-Client` as the security server asserts it, so they answer
 * only callers from `providerFrom` (default: this machine's loopback addresses, where the security server
 * of the demonstration axis runs) — put the desk behind the agency's own security server, never on a
 * public listener.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TrucError } from '../../errors.js';
import type { Platform } from '../../platform.js';
import { guard } from '../auth/guard.js';
import { recordAudit } from '../../audit/index.js';
import { makeEvent } from '../../bus/index.js';
import type { AttachmentInput, DocumentDesk, SendInput } from '../../exchange/edoc/desk.js';
import { FRAMES_MEDIA_TYPE } from '../../exchange/edoc/frame.js';
import { MAX_STATUS_BYTES } from '../../exchange/edoc/http.js';
import { isStatusCode } from '../../exchange/edoc/status.js';

const security = [{ bearer: [] }];
const tags = ['documents'];
const STREAM_TYPES = ['application/pdf', 'application/octet-stream', FRAMES_MEDIA_TYPE];

export interface DocRouteOptions {
  /** addresses allowed to call the provider endpoints (default loopback) */
  providerFrom?: string[];
}

interface AttachmentBody {
  name: string;
  contentType?: string;
  description?: string;
  /** an upload id from POST /api/v1/doc/uploads */
  upload?: string;
  /** or the bytes, base64 (small files) */
  data?: string;
  contentId?: string;
}

/** Base64 as RFC 4648 writes it (line breaks and spaces aside): whole quanta, padding only at the end. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The bytes of base64 data, or `bad_request`: never what a lenient decoder makes of the part it can read. */
function base64(data: string, field: string): Buffer {
  const s = data.replace(/[\r\n\t ]/g, '');
  if (!BASE64.test(s)) throw new TrucError('bad_request', `${field}: dữ liệu không phải base64 hợp lệ / ${field}: the data is not valid base64`, { field });
  return Buffer.from(s, 'base64');
}

const optionalText = (a: Record<string, unknown>, k: string, i: number): string | undefined => {
  const v = a[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new TrucError('bad_request', `attachments[${i}].${k} phải là văn bản / attachments[${i}].${k} must be text`);
  return v || undefined;
};

function attachments(desk: DocumentDesk, list: unknown): (AttachmentInput & { contentId?: string })[] {
  if (list === undefined) return [];
  if (!Array.isArray(list) || list.length > 200) throw new TrucError('bad_request', 'attachments phải là danh sách tối đa 200 tệp / attachments: a list of at most 200');
  return (list as AttachmentBody[]).map((a, i) => {
    if (!a || typeof a !== 'object' || typeof a.name !== 'string' || !a.name) throw new TrucError('bad_request', `attachments[${i}].name (tên tệp) là bắt buộc / attachments[${i}].name is required`);
    const o = a as unknown as Record<string, unknown>;
    const [contentType, description, contentId] = [optionalText(o, 'contentType', i), optionalText(o, 'description', i), optionalText(o, 'contentId', i)];
    const base = { name: a.name, ...(contentType ? { contentType } : {}), ...(description ? { description } : {}), ...(contentId ? { contentId } : {}) };
    if (typeof a.upload === 'string') return { ...base, path: desk.uploadPath(a.upload) };
    if (typeof a.data === 'string') return { ...base, bytes: base64(a.data, `attachments[${i}].data`) };
    throw new TrucError('bad_request', `attachments[${i}]: cần mã tệp tải lên (upload) hoặc dữ liệu base64 (data) / attachments[${i}]: an upload id or base64 data`);
  });
}

function sendInput(desk: DocumentDesk, b: unknown): SendInput {
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw new TrucError('bad_request', 'thân yêu cầu phải là một đối tượng JSON / the body must be a JSON object');
  const o = b as Record<string, unknown>;
  return { ...(o as unknown as SendInput), attachments: attachments(desk, o.attachments) };
}

/** A reason (recall, update, replace): text that is not blank. */
function reasonOf(b: Record<string, unknown> | undefined): string {
  const r = b?.reason;
  if (r === undefined || r === null || r === '') throw new TrucError('bad_request', 'reason (lý do) là bắt buộc / reason is required', { field: 'reason' });
  if (typeof r !== 'string') throw new TrucError('bad_request', 'reason (lý do) phải là văn bản / reason must be text', { field: 'reason' });
  if (!r.trim()) throw new TrucError('bad_request', 'reason (lý do) không được để trống / reason must not be blank', { field: 'reason' });
  return r;
}

/** `limit` of a list: an integer from 1 to 1000, or `bad_request` (never silently replaced). */
function limitOf(v: unknown): { limit?: number } {
  if (v === undefined) return {};
  const s = String(v);
  if (!/^\d{1,4}$/.test(s) || Number(s) < 1 || Number(s) > 1000) throw new TrucError('bad_request', `limit phải là số nguyên từ 1 đến 1000 / limit must be an integer from 1 to 1000 (not "${s.slice(0, 20)}")`, { field: 'limit' });
  return { limit: Number(s) };
}

const LOOPBACK = ['127.0.0.1', '::1', '::ffff:127.0.0.1'];

export async function docRoutes(app: FastifyInstance, p: Platform, desk: DocumentDesk, opts: DocRouteOptions = {}): Promise<void> {
  const read = guard(p, 'doc.read');
  const send = guard(p, 'doc.send');
  const actor = (req: FastifyRequest) => req.principal?.name ?? 'anonymous';
  // uploads and packages stream: no buffering parser for them in this scope
  for (const t of STREAM_TYPES) if (app.hasContentTypeParser(t)) app.removeContentTypeParser(t);
  app.addContentTypeParser(STREAM_TYPES, (_req, payload, done) => done(null, payload));
  if (!app.hasContentTypeParser('application/xml')) app.addContentTypeParser('application/xml', { parseAs: 'buffer', bodyLimit: MAX_STATUS_BYTES }, (_r, body, done) => done(null, body));

  const looked = async (req: FastifyRequest, id: string, what: string) => {
    await recordAudit(p.db, { actor: actor(req), action: 'doc.read', target: id, outcome: 'success', detail: { what } });
    await p.bus.publish('truc.exchange.doc.read', makeEvent('exchange', 'doc.read', 'success', { category: ['file'], user: { name: actor(req) }, source: { ip: req.ip }, truc: { id, what, agency: desk.organ.organId } })).catch(() => {});
  };

  app.get('/api/v1/doc/recipients', { onRequest: read, schema: { tags, security, summary: 'Agencies one can send documents to' } }, async () => desk.recipients().map((r) => ({ id: r.id, name: r.name })));

  app.post('/api/v1/doc/uploads', { onRequest: send, schema: { tags, security, summary: 'Upload a file (streamed: application/octet-stream or application/pdf) to attach to a document; answers its id, size and SHA-256' } }, async (req) => {
    // only the streamed types reach here as a stream; JSON, XML or text were parsed (the bytes are gone)
    const body = req.body as AsyncIterable<Buffer> | undefined;
    if (!body || typeof (body as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== 'function' || Buffer.isBuffer(body))
      throw new TrucError('unsupported', `tệp tải lên phải gửi dạng application/octet-stream hoặc application/pdf, không phải ${String(req.headers['content-type'] ?? '(không có)').slice(0, 100)} / an upload is sent as application/octet-stream or application/pdf, not ${String(req.headers['content-type'] ?? '(none)').slice(0, 100)}`);
    return desk.upload(body, actor(req));
  });

  app.post<{ Body: unknown }>('/api/v1/doc/documents', { onRequest: send, schema: { tags, security, summary: 'Send a document to one or many agencies (signed by the agency, delivered at least once)' } }, async (req) =>
    desk.send(sendInput(desk, req.body), actor(req)),
  );

  app.post<{ Body: { envelope?: string; attachments?: unknown } }>('/api/v1/doc/packages', { onRequest: send, schema: { tags, security, summary: 'Send a ready, signed edXML package with its attachments' } }, async (req) => {
    if (typeof req.body?.envelope !== 'string') throw new TrucError('bad_request', 'envelope phải là phong bì edXML đã ký (chuỗi XML) / envelope: the signed edXML envelope (XML text)', { field: 'envelope' });
    const atts = attachments(desk, req.body.attachments);
    if (atts.some((a) => !a.contentId)) throw new TrucError('bad_request', 'mỗi tệp đính kèm của gói tin có sẵn phải ghi contentId / each attachment of a ready package names its contentId');
    return desk.sendPackage(req.body.envelope, atts as (AttachmentInput & { contentId: string })[], actor(req));
  });

  app.get<{ Querystring: { all?: string; limit?: string; q?: string } }>('/api/v1/doc/inbox', { onRequest: read, schema: { tags, security, summary: 'Received documents and status packets (not yet acknowledged, or all; q searches DocumentId, subject, sender; limit 1–1000)' } }, async (req) =>
    desk.inbox({ all: req.query.all === 'true' || req.query.all === '1', ...limitOf(req.query.limit), ...(req.query.q ? { q: String(req.query.q).slice(0, 500) } : {}) }),
  );

  app.get<{ Querystring: { limit?: string; q?: string } }>('/api/v1/doc/outbox', { onRequest: read, schema: { tags, security, summary: 'Sent documents with each recipient’s delivery and latest status (q searches; limit 1–1000)' } }, async (req) =>
    desk.outbox({ ...limitOf(req.query.limit), ...(req.query.q ? { q: String(req.query.q).slice(0, 500) } : {}) }),
  );

  app.get<{ Params: { id: string } }>('/api/v1/doc/documents/:id', { onRequest: read, schema: { tags, security, summary: 'A document with its attachments, signature reports, recipients and statuses' } }, async (req) => {
    const v = await desk.get(req.params.id);
    await looked(req, req.params.id, 'document');
    return v;
  });

  app.get<{ Params: { id: string } }>('/api/v1/doc/documents/:id/envelope', { onRequest: read, schema: { tags, security, summary: 'The signed edXML envelope as it travelled' } }, async (req, reply) => {
    const xml = await desk.envelope(req.params.id);
    await looked(req, req.params.id, 'envelope');
    return reply.type('application/xml; charset=utf-8').send(xml);
  });

  app.get<{ Params: { id: string; cid: string } }>('/api/v1/doc/documents/:id/attachments/:cid', { onRequest: read, schema: { tags, security, summary: 'An attachment’s bytes (streamed)' } }, async (req, reply: FastifyReply) => {
    const a = await desk.attachment(req.params.id, req.params.cid);
    await looked(req, req.params.id, `attachment ${req.params.cid}`);
    return reply
      .type(a.attachment.contentType)
      .header('content-length', String(a.attachment.size))
      .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(a.attachment.attachmentName)}`)
      .header('x-content-sha256', a.attachment.sha256)
      .send(a.open());
  });

  app.get<{ Params: { id: string } }>('/api/v1/doc/documents/:id/recipients', { onRequest: read, schema: { tags, security, summary: 'Each recipient’s delivery and latest status' } }, async (req) => {
    const v = await desk.recipientStatuses(req.params.id);
    await looked(req, req.params.id, 'recipients');
    return v;
  });

  app.post<{ Params: { id: string }; Body: { code?: string; description?: string; staff?: Record<string, string> } }>(
    '/api/v1/doc/documents/:id/status',
    { onRequest: send, schema: { tags, security, summary: 'Report a status of a received document to its sender (01–06, 15, 16)' } },
    async (req) => {
      const b = req.body ?? {};
      if (!isStatusCode(b.code) || b.code === '13') throw new TrucError('bad_request', 'code (mã trạng thái) phải là một trong 01 02 03 04 05 06 15 16 / code: one of 01 02 03 04 05 06 15 16', { field: 'code' });
      return desk.sendStatus(req.params.id, b.code, { ...(b.description ? { description: b.description } : {}), ...(b.staff ? { staff: b.staff } : {}) }, actor(req));
    },
  );

  app.post<{ Params: { id: string } }>('/api/v1/doc/documents/:id/ack', { onRequest: send, schema: { tags, security, summary: 'Acknowledge a received document or status: it leaves the inbox' } }, async (req) => {
    await desk.ack(req.params.id, actor(req));
    return { ok: true };
  });

  app.post<{ Params: { id: string }; Body: Record<string, unknown> }>('/api/v1/doc/documents/:id/recall', { onRequest: send, schema: { tags, security, summary: 'Recall a sent document' } }, async (req) => {
    const reason = reasonOf(req.body);
    return desk.recall(req.params.id, reason, actor(req));
  });

  app.post<{ Params: { id: string }; Body: Record<string, unknown> }>('/api/v1/doc/documents/:id/update', { onRequest: send, schema: { tags, security, summary: 'Update a sent document (new subject, content, due date, attachments)' } }, async (req) => {
    const b = req.body ?? {};
    const reason = reasonOf(b);
    const change = {
      ...(typeof b.subject === 'string' ? { subject: b.subject } : {}),
      ...(typeof b.content === 'string' ? { content: b.content } : {}),
      ...(typeof b.dueDate === 'string' ? { dueDate: b.dueDate } : {}),
      ...(Array.isArray(b.updateInfo) ? { updateInfo: b.updateInfo.map(String) } : {}),
      attachments: attachments(desk, b.attachments),
    };
    return desk.update(req.params.id, change, reason, actor(req));
  });

  app.post<{ Params: { id: string }; Body: Record<string, unknown> }>('/api/v1/doc/documents/:id/replace', { onRequest: send, schema: { tags, security, summary: 'Replace a sent document by a new one' } }, async (req) => {
    const b = req.body ?? {};
    const reason = reasonOf(b);
    return desk.replace(req.params.id, sendInput(desk, b), reason, actor(req));
  });

  // ---- the provider side: what the security server forwards ----
  const allowed = new Set(opts.providerFrom ?? LOOPBACK);
  const fromServer = (req: FastifyRequest) => {
    if (!allowed.has(req.ip)) throw new TrucError('forbidden', 'điểm dịch vụ của bàn văn thư chỉ trả lời máy chủ an ninh của cơ quan / the document desk’s service endpoints answer only the agency’s security server');
    const client = req.headers['x-road-client'];
    if (typeof client !== 'string' || !client) throw new TrucError('unknown_client', 'thiếu tiêu đề X-Road-Client / no X-Road-Client header');
    const id = req.headers['x-road-id'];
    return { client, xRoadId: typeof id === 'string' ? id : undefined };
  };
  app.post('/edoc/packages', { schema: { tags, summary: 'Provider side: a package forwarded by the security server (frames, streamed)' } }, async (req) => {
    const { client, xRoadId } = fromServer(req);
    return desk.receivePackage(client, req.body as AsyncIterable<Buffer>, xRoadId);
  });
  app.post('/edoc/statuses', { schema: { tags, summary: 'Provider side: a status packet forwarded by the security server' } }, async (req) => {
    const { client, xRoadId } = fromServer(req);
    if (!Buffer.isBuffer(req.body)) throw new TrucError('bad_request', 'cần một gói trạng thái (application/xml) / a status packet (application/xml)');
    return desk.receiveStatus(client, req.body, xRoadId);
  });
}
