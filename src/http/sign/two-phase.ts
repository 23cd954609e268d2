/**
 * Two-phase signing over HTTP, for officials whose key is on their own token (role `signer`, like
 * `POST /api/v1/sign`). `POST /api/v1/sign/prepare` takes the documents, the certificate from the token
 * and the parameters, and answers for each the data to be signed and a handle; the console hands those to
 * the official's `truc agent`, which signs on the token; `POST /api/v1/sign/complete` takes the handle and
 * the value (or a batch of them) and answers the signed document at the level asked. Each call is audited
 * (`sign.prepare`, `sign.complete`, success or failure) and published (`truc.sign.document.prepared`,
 * `truc.sign.document.signed`, `truc.sign.document.failed`); the documents are scanned for malware first.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TrucError } from '../../errors.js';
import { recordAudit } from '../../audit/index.js';
import { makeEvent } from '../../bus/index.js';
import { listCas } from '../../pki/index.js';
import { parseCertificate, type Certificate } from '../../pki/path/index.js';
import type { Platform } from '../../platform.js';
import { completeSigning, localTimeStamper, MAX_BATCH, platformEvidence, prepareSigning, type Completed, type LevelContext } from '../../sign/index.js';
import { guard } from '../auth/guard.js';
import type { SignRouteDeps } from './routes.js';

const security = [{ bearer: [] }];

function base64(v: unknown, what: string, max: number): Buffer {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/=\s_-]*$/.test(v)) throw new TrucError('bad_request', `${what} phải là base64 (${what} must be base64)`);
  const b = Buffer.from(v, 'base64');
  if (!b.length) throw new TrucError('bad_request', `${what} rỗng (${what} is empty)`);
  if (b.length > max) throw new TrucError('too_large', `${what} lớn quá ${max} byte (${what} is larger than ${max} bytes)`, { max });
  return b;
}

/** A certificate as base64 DER or PEM. */
function certificate(v: unknown, what: string): Buffer {
  if (typeof v === 'string' && v.includes('-----BEGIN CERTIFICATE-----')) return base64(v.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ''), what, 64 * 1024);
  return base64(v, what, 64 * 1024);
}

const actorOf = (req: FastifyRequest) => req.principal?.name ?? 'anonymous';

/**
 * The intermediates from the platform's own CAs between a certificate and its root, when the caller sent
 * none: a token usually holds only the official's certificate, and the console has nothing else to send.
 * Matched by name and, where both say, key identifier; at most 8 up; empty when the issuer is not ours.
 */
export function chainFromCas(cert: Buffer, cas: Buffer[]): Buffer[] {
  let child: Certificate;
  try {
    child = parseCertificate(cert);
  } catch {
    return []; // prepare says what is wrong with it
  }
  const pool = cas.flatMap((d) => {
    try {
      return [parseCertificate(d)];
    } catch {
      return [];
    }
  });
  const chain: Buffer[] = [];
  for (let i = 0; i < 8 && !child.selfIssued; i++) {
    const issuer = pool.find((c) => c.subject.key === child.issuer.key && (!child.authorityKeyId || !c.subjectKeyId || c.subjectKeyId.equals(child.authorityKeyId)));
    if (!issuer || issuer.selfIssued) break;
    chain.push(issuer.der);
    child = issuer;
  }
  return chain;
}

export async function twoPhaseRoutes(
  app: FastifyInstance,
  p: Platform,
  deps: SignRouteDeps,
  opts: { maxFile: number; bodyLimit: number; scan: (req: FastifyRequest, files: Buffer[], name: string) => Promise<void> },
): Promise<void> {
  const anchors = async () => (await listCas(p.db)).filter((c) => !c.parentId).map((c) => Buffer.from(c.certificate));
  const failed = async (req: FastifyRequest, action: string, target: string, e: unknown) => {
    const code = e instanceof TrucError ? e.code : 'internal';
    await recordAudit(p.db, { actor: actorOf(req), action, target, outcome: 'failure', detail: { code, reason: (e as Error).message.slice(0, 300) } }).catch(() => {});
    p.bus
      .publish('truc.sign.document.failed', makeEvent('sign', 'document.failed', 'failure', { category: ['file'], user: { name: actorOf(req) }, source: { ip: req.ip }, truc: { step: action, code }, reason: (e as Error).message.slice(0, 300) }))
      .catch(() => {});
  };

  app.post(
    '/api/v1/sign/prepare',
    {
      bodyLimit: opts.bodyLimit,
      onRequest: guard(p, 'sign.sign'),
      schema: {
        tags: ['signatures'],
        summary:
          'Two-phase signing, step one: JSON {certificate (base64 DER or PEM, from the token), chain? (default: the platform CAs above the certificate), file (base64), title?, format: pades|cades|xades, level?, signingTime?, reason?, location?, page? (from 1), visible? {rect, lines?}, packaging?} or {certificate, items: [{file, title?, …parameters}]} for a batch; answers the data to be signed and a single-use handle for each',
        security,
      },
    },
    async (req) => {
      const b = (req.body ?? {}) as Record<string, unknown>;
      if (typeof b !== 'object' || Buffer.isBuffer(b)) throw new TrucError('bad_request', 'gửi JSON {certificate, file, format, …} hoặc {certificate, items: […]} (send JSON {certificate, file, format, …} or {certificate, items: […]})');
      const cert = certificate(b.certificate, 'certificate');
      const given = Array.isArray(b.chain) ? b.chain.slice(0, 8).map((c, i) => certificate(c, `chain[${i}]`)) : [];
      const chain = given.length ? given : chainFromCas(cert, (await listCas(p.db)).map((c) => Buffer.from(c.certificate)));
      const raw = Array.isArray(b.items) ? (b.items as Record<string, unknown>[]) : [b];
      if (raw.length > MAX_BATCH) throw new TrucError('too_large', `một lô có tối đa ${MAX_BATCH} văn bản (a batch holds at most ${MAX_BATCH} documents)`, { max: MAX_BATCH });
      let total = 0;
      const items = raw.map((it, i) => {
        if (!it || typeof it !== 'object') throw new TrucError('bad_request', `items[${i}] không phải đối tượng (items[${i}] is not an object)`);
        const document = base64(it.file, raw.length > 1 ? `items[${i}].file` : 'file', opts.maxFile);
        total += document.length;
        const { file: _f, title, certificate: _c, chain: _ch, items: _i, ...params } = it;
        if (params.page !== undefined) params.page = Number(params.page) - 1; // people count pages from 1
        return { document, title: typeof title === 'string' ? title : undefined, params };
      });
      if (total > opts.maxFile * 2) throw new TrucError('too_large', `một lô mang tối đa ${opts.maxFile * 2} byte văn bản (a batch carries at most ${opts.maxFile * 2} bytes of documents)`, { max: opts.maxFile * 2 });
      await opts.scan(req, items.map((i) => i.document), 'sign-prepare');
      let prepared;
      try {
        prepared = await prepareSigning(p.db, actorOf(req), { certificate: cert, chain }, items);
      } catch (e) {
        await failed(req, 'sign.prepare', items.length === 1 ? 'document' : `batch of ${items.length}`, e);
        throw e;
      }
      for (const it of prepared.items) {
        await recordAudit(p.db, { actor: actorOf(req), action: 'sign.prepare', target: it.documentSha256, outcome: 'success', detail: { handle: it.handle, ...(prepared.batch ? { batch: prepared.batch } : {}), format: it.params.format, level: it.params.level, title: it.title, digest: it.digest } });
        p.bus
          .publish('truc.sign.document.prepared', makeEvent('sign', 'document.prepared', 'success', { category: ['file'], user: { name: actorOf(req) }, source: { ip: req.ip }, file: { hash: { sha256: it.documentSha256 } }, truc: { format: it.params.format, level: it.params.level } }))
          .catch(() => {});
      }
      return prepared;
    },
  );

  const context = async (): Promise<LevelContext> => ({
    ...(deps.tsa ? { timeStamper: localTimeStamper(deps.tsa) } : {}),
    evidence: platformEvidence(p.pki, deps.ocsp),
    trustAnchors: await anchors(),
  });

  async function completeOne(req: FastifyRequest, handle: unknown, signature: unknown, file: unknown): Promise<Completed> {
    if (typeof handle !== 'string' || !handle || handle.length > 100) throw new TrucError('bad_request', 'handle là chuỗi mà bước prepare trả về (handle is the text prepare answered)');
    const value = base64(signature, 'signature', 4096);
    const document = file !== undefined ? base64(file, 'file', opts.maxFile) : undefined;
    let done: Completed;
    try {
      done = await completeSigning(p.db, actorOf(req), handle, value, await context(), document ? { document } : {});
    } catch (e) {
      await failed(req, 'sign.complete', handle, e);
      throw e;
    }
    await recordAudit(p.db, {
      actor: actorOf(req),
      action: 'sign.complete',
      target: done.documentSha256,
      outcome: 'success',
      detail: { handle, format: done.params.format, level: done.params.level, title: done.title, serial: done.serial, signedSha256: done.signedSha256 },
    });
    p.bus
      .publish('truc.sign.document.signed', makeEvent('sign', 'document.signed', 'success', { category: ['file'], user: { name: actorOf(req) }, source: { ip: req.ip }, file: { hash: { sha256: done.documentSha256 } }, truc: { format: done.params.format, level: done.params.level, serial: done.serial, twoPhase: true } }))
      .catch(() => {});
    return done;
  }

  const typeOf = (d: Completed) =>
    d.params.format === 'pades' ? 'application/pdf' : d.params.format === 'xades' ? 'application/xml' : d.params.packaging === 'enveloping' ? 'application/pkcs7-mime' : 'application/pkcs7-signature';

  app.post(
    '/api/v1/sign/complete',
    {
      bodyLimit: opts.bodyLimit,
      onRequest: guard(p, 'sign.sign'),
      schema: {
        tags: ['signatures'],
        summary:
          "Two-phase signing, step two: JSON {handle, signature (base64: the token's value over the data to be signed; ECDSA as DER or r‖s), file? (the document again, refused if it changed)} answers the signed file; {items: [{handle, signature}]} answers JSON {items: [{handle, file (base64), sha256}]}",
        security,
      },
    },
    async (req, reply) => {
      const b = (req.body ?? {}) as Record<string, unknown>;
      if (typeof b !== 'object' || Buffer.isBuffer(b)) throw new TrucError('bad_request', 'gửi JSON {handle, signature} (send JSON {handle, signature})');
      if (Array.isArray(b.items)) {
        if (b.items.length > MAX_BATCH) throw new TrucError('too_large', `một lô có tối đa ${MAX_BATCH} văn bản (a batch holds at most ${MAX_BATCH} documents)`, { max: MAX_BATCH });
        const out = [];
        for (const it of b.items as Record<string, unknown>[]) {
          try {
            const d = await completeOne(req, it?.handle, it?.signature, it?.file);
            out.push({ handle: d.handle, title: d.title, type: typeOf(d), file: d.signed.toString('base64'), sha256: d.signedSha256 });
          } catch (e) {
            // each document stands alone: one refused does not undo the others
            out.push({ handle: String(it?.handle ?? ''), error: { code: e instanceof TrucError ? e.code : 'internal', message: (e as Error).message } });
          }
        }
        return { items: out };
      }
      const d = await completeOne(req, b.handle, b.signature, b.file);
      reply.header('x-truc-signature-level', d.params.level);
      reply.header('x-truc-signed-sha256', d.signedSha256);
      return reply.type(typeOf(d)).send(d.signed);
    },
  );
}
