/**
 * The signatures API. `POST /api/v1/validate` validates a signed file — a PDF (PAdES), a CMS signature
 * (CAdES, with its detached content), an XAdES-signed XML file — and answers the EN 319 102-1 report as
 * JSON, or as the Vietnamese text officials read (`?format=text`, `&lang=en`), revocation soft-fail unless
 * asked `revocation=hard-fail` (as `truc verify --hard-fail`, which comes here while `truc start` holds the
 * embedded database: src/cli/beside.ts). Any authenticated principal
 * may validate (validation reveals nothing the file does not already carry; authentication keeps the
 * service from being an open, anonymous CPU sink). `POST /api/v1/sign` signs with the key the platform
 * holds for the calling principal (role `signer`): a PDF as PAdES at a requested level, optionally with a
 * visible signature, anything else as a detached CAdES signature.
 *
 * `POST /api/v1/augment` raises a signed file to B-T, B-LT or B-LTA without re-signing (`?level=`), or renews
 * the archive time-stamp of a B-LTA one (`?renew=true`), with the TSA and OCSP responder the server runs; it
 * needs no private key, only time-stamps and revocation data, so whoever may validate may augment
 * (`sign.validate`: /tsa and /ocsp are public anyway). Each call is audited (`sign.augment`, success or
 * failure) and published (`truc.sign.document.augmented`, `truc.sign.augment.failed`).
 *
 * The body is the file itself (application/pdf, application/pkcs7-signature, application/cms,
 * application/octet-stream, application/xml), or JSON {file: base64, content?: base64, …} when a detached
 * content must travel with its signature. Every file is scanned for malware first when the server has a
 * scanner; an infected file is refused with 422 `malware_detected` and a `truc.sign.upload.refused` event
 * (the scanner itself publishes `truc.scan.malware.detected`).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TrucError } from '../../errors.js';
import { recordAudit } from '../../audit/index.js';
import { makeEvent } from '../../bus/index.js';
import { listCas } from '../../pki/index.js';
import type { OcspResponder } from '../../pki/ocsp/index.js';
import type { TimeStampAuthority } from '../../pki/tsa/index.js';
import type { Scanner } from '../../monitor/scan/index.js';
import type { Platform } from '../../platform.js';
import {
  detectFormat,
  getSignKey,
  keySigner,
  localTimeStamper,
  parseLevel,
  platformEvidence,
  reportText,
  signCades,
  signPdf,
  validateFile,
  reportXml,
  reportHtml,
  parseLock,
  augmentFile,
  type AugmentFileResult,
  type FieldLock,
  type LevelContext,
  type ValidationReport,
} from '../../sign/index.js';
import { guard } from '../auth/guard.js';
import { twoPhaseRoutes } from './two-phase.js';

/** Largest file accepted (the decoded file; JSON bodies carry it in base64, a third larger). */
export const MAX_SIGN_FILE = 25 * 1024 * 1024;
/** what a request may carry: a file and its detached content, both base64 in JSON, and the fields */
export const VALIDATE_BODY_LIMIT = Math.ceil((MAX_SIGN_FILE * 2 * 4) / 3) + 64 * 1024;
const BODY_LIMIT = VALIDATE_BODY_LIMIT;
const RAW_TYPES = ['application/pkcs7-signature', 'application/cms', 'application/xml', 'text/xml'];
const security = [{ bearer: [] }];
/** the most detached documents one validation takes */
const MAX_CONTENTS = 64;

export interface SignRouteDeps {
  scanner?: Scanner;
  tsa?: TimeStampAuthority;
  ocsp?: OcspResponder;
}

interface Upload {
  file: Buffer;
  content?: Buffer;
  /** JSON `contents`: the named documents of a detached XAdES signature over several files */
  contents?: { name: string; content: Buffer }[];
  /** JSON fields, or the query string for a raw body */
  fields: Record<string, unknown>;
}

function base64(v: unknown, what: string): Buffer {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/=\s_-]*$/.test(v)) throw new TrucError('bad_request', `${what} phải là base64 (${what} must be base64)`);
  return Buffer.from(v, 'base64');
}

function upload(req: FastifyRequest): Upload {
  const query = (req.query ?? {}) as Record<string, unknown>;
  const b = req.body as unknown;
  let u: Upload;
  if (Buffer.isBuffer(b)) u = { file: b, fields: query };
  else if (typeof b === 'string') u = { file: Buffer.from(b, 'utf8'), fields: query };
  else if (b && typeof b === 'object' && 'file' in b) {
    const j = b as Record<string, unknown>;
    u = { file: base64(j.file, 'file'), ...(j.content !== undefined ? { content: base64(j.content, 'content') } : {}), fields: { ...query, ...j } };
    if (j.contents !== undefined) {
      if (!Array.isArray(j.contents) || j.contents.length > MAX_CONTENTS || j.contents.some((c) => !c || typeof c !== 'object' || typeof (c as { name?: unknown }).name !== 'string'))
        throw new TrucError('bad_request', `contents là danh sách tối đa ${MAX_CONTENTS} {name, file} (contents is a list of at most ${MAX_CONTENTS} {name, file}, file in base64)`);
      u.contents = (j.contents as { name: string; file: unknown }[]).map((c, i) => ({ name: c.name, content: base64(c.file, `contents[${i}].file`) }));
    }
  } else
    throw new TrucError(
      'bad_request',
      'gửi tệp làm thân yêu cầu hoặc JSON {"file": base64} (send the file as the body — application/pdf, application/pkcs7-signature, application/cms, application/octet-stream, application/xml — or JSON {"file": base64})',
    );
  if (!u.file.length) throw new TrucError('bad_request', 'tệp rỗng (the file is empty)');
  for (const x of [u.file, u.content, ...(u.contents ?? []).map((c) => c.content)])
    if (x && x.length > MAX_SIGN_FILE) throw new TrucError('too_large', `không nhận tệp lớn quá ${MAX_SIGN_FILE} byte (files of more than ${MAX_SIGN_FILE} bytes are not accepted)`, { max: MAX_SIGN_FILE });
  return u;
}

const actorOf = (req: FastifyRequest) => req.principal?.name ?? 'anonymous';

export async function signRoutes(app: FastifyInstance, p: Platform, deps: SignRouteDeps): Promise<void> {
  app.addContentTypeParser(RAW_TYPES, { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_r, body, done) => done(null, body));
  // the routes here take bodies beyond the platform's default limit: say which limit a body broke, then let
  // the platform's handler (the parent scope's, which an error thrown here reaches) write the problem
  app.setErrorHandler((err: { code?: string }) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      throw new TrucError('too_large', `thân yêu cầu lớn quá ${BODY_LIMIT} byte (request body exceeds ${BODY_LIMIT} bytes: a file of at most ${MAX_SIGN_FILE} bytes, raw or base64 in JSON)`, { max: BODY_LIMIT });
    throw err;
  });

  async function scan(req: FastifyRequest, files: Buffer[], name: string): Promise<void> {
    if (!deps.scanner) return;
    for (const f of files) {
      const r = await deps.scanner.scanBuffer(f, name, { user: actorOf(req), ip: req.ip });
      if (r.verdict === 'clean') continue;
      const event = makeEvent('sign', 'upload.refused', 'failure', {
        category: ['malware', 'file'],
        user: { name: actorOf(req) },
        source: { ip: req.ip },
        file: { name, size: f.length, hash: { sha256: r.sha256 } },
        url: { path: req.url.split('?')[0] },
        truc: { matches: r.matches.map((m) => `${m.engine}:${m.name}`) },
        reason: 'malware detected in an uploaded file',
      });
      await p.bus.publish('truc.sign.upload.refused', event).catch(() => {});
      throw new TrucError('malware_detected', 'the file is refused: malware detected', { sha256: r.sha256, matches: r.matches.map((m) => m.name) });
    }
  }

  const anchors = async () => (await listCas(p.db)).filter((c) => !c.parentId).map((c) => Buffer.from(c.certificate));

  app.post(
    '/api/v1/validate',
    {
      bodyLimit: BODY_LIMIT,
      onRequest: guard(p, 'sign.validate'),
      schema: {
        tags: ['signatures'],
        summary:
          'Validate a signed PDF, CMS or XAdES file (raw body or JSON {file, content?} — or {file, contents: [{name, file}]} for a detached XAdES signature over several files, each matched to its reference by name or digest); ?format=text|xml|html&lang=vi|en for the text, ETSI TS 119 102-2 XML or HTML report; ?revocation=hard-fail makes a signature without revocation status INDETERMINATE (default soft-fail)',
        security,
      },
    },
    async (req, reply) => {
      const u = upload(req);
      await scan(req, [u.file, ...(u.content ? [u.content] : []), ...(u.contents ?? []).map((c) => c.content)], 'validate');
      const kind = detectFormat(u.file);
      if (!kind) throw new TrucError('unsupported', 'not a PDF, CMS or XML signature');
      const revocation = u.fields.revocation ?? 'soft-fail';
      if (revocation !== 'soft-fail' && revocation !== 'hard-fail') throw new TrucError('bad_request', 'revocation is soft-fail or hard-fail');
      const report: ValidationReport = await validateFile(u.file, {
        trustAnchors: await anchors(),
        revocation: { mode: revocation },
        ...(u.contents ? { content: u.contents } : u.content ? { content: u.content } : {}),
      });
      const bad = report.signatures.filter((s) => s.indication !== 'TOTAL-PASSED');
      if (!report.signatures.length || bad.length) {
        const event = makeEvent('sign', 'validation.failed', 'failure', {
          category: ['file'],
          user: { name: actorOf(req) },
          source: { ip: req.ip },
          file: { size: u.file.length, hash: { sha256: report.document.sha256 } },
          truc: { kind, signatures: report.signatures.length, indications: report.signatures.map((s) => `${s.indication}${s.subIndication ? `/${s.subIndication}` : ''}`) },
          reason: report.signatures.length ? bad.map((s) => s.message ?? s.indication).join('; ').slice(0, 500) : 'no signature found',
        });
        p.bus.publish('truc.sign.validation.failed', event).catch(() => {});
      }
      const f = u.fields;
      if (f.format === 'xml') return reply.type('application/xml; charset=utf-8').send(reportXml(report));
      if (f.format === 'html') return reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'").send(reportHtml(report, f.lang === 'en' ? 'en' : 'vi'));
      if (f.format === 'text') return reply.type('text/plain; charset=utf-8').send(reportText(report, f.lang === 'en' ? 'en' : 'vi'));
      return report;
    },
  );

  app.post(
    '/api/v1/sign',
    {
      bodyLimit: BODY_LIMIT,
      onRequest: guard(p, 'sign.sign'),
      schema: {
        tags: ['signatures'],
        summary:
          "Sign with the caller's platform-held key: a PDF as PAdES (?level=B-B|B-T|B-LT|B-LTA, reason, location, page, rect=x1,y1,x2,y2 for a visible signature, certify=1|2|3, lock=All|Include:f1,f2|Exclude:f1 for a FieldMDP lock), other files as detached CAdES",
        security,
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      const u = upload(req);
      await scan(req, [u.file], 'sign');
      const f = u.fields;
      const key = await getSignKey(p.db, actor);
      if (!key) throw new TrucError('not_found', `no signing key is held for "${actor}" (an administrator creates one with truc sign key create)`);
      const isPdf = detectFormat(u.file) === 'pdf';
      const format = f.format === undefined ? (isPdf ? 'pades' : 'cades') : String(f.format);
      if (format !== 'pades' && format !== 'cades') throw new TrucError('bad_request', 'format is pades or cades');
      if (format === 'pades' && !isPdf) throw new TrucError('bad_request', 'PAdES needs a PDF');
      const level = parseLevel(String(f.level ?? 'B-B'));
      const ctx: LevelContext = {
        ...(deps.tsa ? { timeStamper: localTimeStamper(deps.tsa) } : {}),
        ...(level === 'B-LT' || level === 'B-LTA' ? { evidence: platformEvidence(p.pki, deps.ocsp), trustAnchors: await anchors() } : {}),
      };
      const signer = await keySigner(p.pki, key);
      const docHash = createHash('sha256').update(u.file).digest('hex');
      const str = (v: unknown) => (v === undefined || v === null || v === '' ? undefined : String(v).slice(0, 500));
      let out: Buffer;
      try {
        if (format === 'pades') {
          const visible = visibleOf(f);
          out = await signPdf(u.file, signer, {
            level,
            context: ctx,
            ...(str(f.reason) ? { reason: str(f.reason) } : {}),
            ...(str(f.location) ? { location: str(f.location) } : {}),
            ...(f.page !== undefined ? { page: intField(f.page, 'page') - 1 } : {}),
            ...(visible ? { visible } : {}),
            ...(f.certify !== undefined ? { certify: certifyField(f.certify) } : {}),
            ...(f.lock !== undefined ? { lock: lockField(f.lock) } : {}),
          });
        } else out = await signCades(u.file, signer, { level, context: ctx, packaging: 'detached' });
      } catch (e) {
        await recordAudit(p.db, { actor, action: 'sign.sign', target: docHash, outcome: 'failure', detail: { format, level, reason: (e as Error).message.slice(0, 300) } }).catch(() => {});
        p.bus
          .publish('truc.sign.document.failed', makeEvent('sign', 'document.failed', 'failure', { category: ['file'], user: { name: actor }, truc: { format, level }, reason: (e as Error).message.slice(0, 300) }))
          .catch(() => {});
        throw e;
      }
      await recordAudit(p.db, {
        actor,
        action: 'sign.sign',
        target: docHash,
        outcome: 'success',
        detail: { format, level, bytes: u.file.length, serial: key.serial, signedSha256: createHash('sha256').update(out).digest('hex') },
      });
      const event = makeEvent('sign', 'document.signed', 'success', {
        category: ['file'],
        user: { name: actor },
        source: { ip: req.ip },
        file: { size: u.file.length, hash: { sha256: docHash } },
        truc: { format, level, serial: key.serial },
      });
      p.bus.publish('truc.sign.document.signed', event).catch(() => {});
      reply.header('x-truc-signature-level', level);
      return reply.type(format === 'pades' ? 'application/pdf' : 'application/pkcs7-signature').send(out);
    },
  );

  await twoPhaseRoutes(app, p, deps, { maxFile: MAX_SIGN_FILE, bodyLimit: BODY_LIMIT, scan });

  app.post(
    '/api/v1/augment',
    {
      bodyLimit: BODY_LIMIT,
      onRequest: guard(p, 'sign.validate'),
      schema: {
        tags: ['signatures'],
        summary: 'Raise a signed PDF, CMS or XAdES file to B-T, B-LT or B-LTA without re-signing (?level=), or renew its archive time-stamp (?renew=true)',
        description:
          'The body is the signed file (raw, or JSON {file, content?, level?, renew?} in base64, content being the signed data of a detached CAdES or XAdES signature, needed for B-LTA and renewal — or {file, contents: [{name, file}]} for a detached XAdES signature over several files, each matched to its reference by name or digest). The answer is the augmented file, of the same type, with x-truc-signature-level (and x-truc-augmented: false when it already was at that level). Refused: not a signature 400, a TOTAL-FAILED signature 422 invalid_signature, a signature already above the level or not B-LTA for a renewal 409 conflict; no TSA on this server 400.',
        security,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            // checked by the handler, so that a bad level gets our message and an audit record
            level: { type: 'string', maxLength: 8, description: 'B-T, B-LT or B-LTA' },
            renew: { type: 'boolean', description: 'add a further archive time-stamp to a B-LTA signature' },
          },
        },
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      const u = upload(req);
      await scan(req, [u.file, ...(u.content ? [u.content] : []), ...(u.contents ?? []).map((c) => c.content)], 'augment');
      const f = u.fields;
      const renew = f.renew === true || f.renew === 'true';
      const docHash = createHash('sha256').update(u.file).digest('hex');
      const asked = renew ? 'renew' : String(f.level ?? '').slice(0, 16);
      let r: AugmentFileResult;
      try {
        if (f.level === undefined && !renew) throw new TrucError('bad_request', 'level (B-T, B-LT or B-LTA) or renew=true is required');
        const level = f.level === undefined ? undefined : parseLevel(String(f.level));
        const ctx: LevelContext = {
          ...(deps.tsa ? { timeStamper: localTimeStamper(deps.tsa) } : {}),
          evidence: platformEvidence(p.pki, deps.ocsp),
          trustAnchors: await anchors(),
        };
        r = await augmentFile(u.file, {
          ...(level ? { level } : {}),
          ...(renew ? { renew } : {}),
          ...(u.contents ? { content: u.contents } : u.content ? { content: u.content } : {}),
          context: ctx,
          validation: { trustAnchors: ctx.trustAnchors!, revocation: { mode: 'soft-fail' } },
        });
      } catch (e) {
        const code = (e as { code?: string }).code;
        await recordAudit(p.db, { actor, action: 'sign.augment', target: docHash, outcome: 'failure', detail: { level: asked, ...(code ? { code } : {}), reason: (e as Error).message.slice(0, 300) } }).catch(() => {});
        p.bus
          .publish('truc.sign.augment.failed', makeEvent('sign', 'augment.failed', 'failure', { category: ['file'], user: { name: actor }, source: { ip: req.ip }, file: { size: u.file.length, hash: { sha256: docHash } }, truc: { level: asked }, reason: (e as Error).message.slice(0, 300) }))
          .catch(() => {});
        throw e;
      }
      const augmentedSha256 = createHash('sha256').update(r.bytes).digest('hex');
      await recordAudit(p.db, {
        actor,
        action: 'sign.augment',
        target: docHash,
        outcome: 'success',
        detail: { kind: r.kind, from: r.from, level: r.to, renewed: r.renewed, changed: r.changed, signatures: r.signatures, bytes: u.file.length, augmentedSha256 },
      });
      if (r.changed)
        p.bus
          .publish('truc.sign.document.augmented', makeEvent('sign', 'document.augmented', 'success', { category: ['file'], user: { name: actor }, source: { ip: req.ip }, file: { size: u.file.length, hash: { sha256: docHash } }, truc: { kind: r.kind, from: r.from, level: r.to, renewed: r.renewed } }))
          .catch(() => {});
      reply.header('x-truc-signature-level', r.to);
      reply.header('x-truc-augmented', String(r.changed));
      return reply.type(r.kind === 'pdf' ? 'application/pdf' : r.kind === 'xml' ? 'application/xml' : r.detached ? 'application/pkcs7-signature' : 'application/pkcs7-mime').send(r.bytes);
    },
  );
}

/** certify=1|2|3: a certification signature (DocMDP) and what it permits later. */
function certifyField(v: unknown): 1 | 2 | 3 {
  const n = Number(v);
  if (n !== 1 && n !== 2 && n !== 3) throw new TrucError('bad_request', 'certify is 1 (no changes), 2 (form filling and signing) or 3 (also annotations)');
  return n;
}

/** lock=All|Include:a,b|Exclude:c (query), or lock: {action, fields} (JSON): a FieldMDP lock. */
function lockField(v: unknown): FieldLock {
  if (typeof v === 'string') return parseLock(v);
  const o = (v && typeof v === 'object' ? v : {}) as Record<string, unknown>;
  if (o.fields !== undefined && (!Array.isArray(o.fields) || o.fields.some((x) => typeof x !== 'string'))) throw new TrucError('bad_request', 'lock.fields is a list of field names');
  return parseLock(`${String(o.action ?? '')}${Array.isArray(o.fields) && o.fields.length ? `:${(o.fields as string[]).join(',')}` : ''}`);
}

function intField(v: unknown, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new TrucError('bad_request', `${what} must be a positive integer`);
  return n;
}

/** rect=x1,y1,x2,y2 (query) or visible: {rect: [..], image?: base64 PNG} (JSON): a visible signature. */
function visibleOf(f: Record<string, unknown>): { rect: [number, number, number, number]; image?: Buffer } | undefined {
  const v = (f.visible && typeof f.visible === 'object' ? f.visible : {}) as Record<string, unknown>;
  const raw = v.rect ?? f.rect;
  if (raw === undefined) return undefined;
  const nums = (Array.isArray(raw) ? raw : String(raw).split(',')).map(Number);
  if (nums.length !== 4 || nums.some((n) => !Number.isFinite(n) || n < 0 || n > 20_000) || nums[2] <= nums[0] || nums[3] <= nums[1])
    throw new TrucError('bad_request', 'rect is x1,y1,x2,y2 in points with x2 > x1 and y2 > y1');
  return { rect: nums as [number, number, number, number], ...(v.image !== undefined ? { image: base64(v.image, 'visible.image') } : {}) };
}
