/**
 * Two-phase signing for a principal whose key is on a token the platform never sees: `prepareSigning`
 * makes the data to be signed for one document or a batch and records a handle for each;
 * `completeSigning` takes a handle and the token's value, checks the value against the certificate, claims
 * the handle and answers the signed document at the level asked. The CLI and the HTTP API call these; the
 * clock and the handle lifetime are explicit so tests can move time.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { TrucError } from '../../errors.js';
import type { Sql } from '../../store/index.js';
import type { LevelContext } from '../level.js';
import { checkValue, completeDocument, dataToBeSigned, type SignerCertificate } from './data.js';
import { normaliseParams, type TwoPhaseParams } from './params.js';
import { assertOpen, batchHandles, claimPending, finishPending, getPending, insertPending, newBatch, newHandle, releasePending, type Pending } from './pending.js';

/** Handles live 10 minutes unless told otherwise; at most a day. */
export const DEFAULT_HANDLE_TTL = 600;
export const MAX_BATCH = 100;

export interface PrepareItem {
  document: Uint8Array;
  /** what the official is shown: the document's title or file name */
  title?: string;
  /** the signature parameters (format, level, signingTime, reason, location, page, visible, packaging …) */
  params: Record<string, unknown>;
}

export interface PreparedItem {
  handle: string;
  title: string;
  documentSha256: string;
  params: TwoPhaseParams;
  /** the bytes to sign, base64 */
  dataToBeSigned: string;
  /** their digest with `hash`, hex — what the agent shows and what tokens signing a digest take */
  digest: string;
  hash: string;
  scheme: string;
  expiresAt: string;
}

export interface Prepared {
  batch?: string;
  items: PreparedItem[];
}

export interface TwoPhaseClock {
  now?: () => Date;
  /** handle lifetime in seconds */
  ttlSeconds?: number;
}

function checkCertificate(signer: SignerCertificate, at: Date): void {
  let c: X509Certificate;
  try {
    c = new X509Certificate(Buffer.from(signer.certificate));
  } catch (e) {
    throw new TrucError('bad_request', `the signer's certificate cannot be read / không đọc được chứng thư: ${(e as Error).message}`);
  }
  if (new Date(c.validTo).getTime() < at.getTime() || new Date(c.validFrom).getTime() > at.getTime())
    throw new TrucError('cert_invalid', `the signer's certificate is not valid at ${at.toISOString()} (${c.validFrom} – ${c.validTo}) / chứng thư không còn hiệu lực`);
}

export async function prepareSigning(sql: Sql, principal: string, signer: SignerCertificate, items: PrepareItem[], clock: TwoPhaseClock = {}): Promise<Prepared> {
  if (!items.length) throw new TrucError('bad_request', 'nothing to sign');
  if (items.length > MAX_BATCH) throw new TrucError('too_large', `a batch holds at most ${MAX_BATCH} documents`, { max: MAX_BATCH });
  const now = clock.now?.() ?? new Date();
  const ttl = clock.ttlSeconds ?? DEFAULT_HANDLE_TTL;
  if (!(ttl > 0 && ttl <= 86_400)) throw new TrucError('bad_request', 'a handle lives from 1 second to a day');
  checkCertificate(signer, now);
  const expiresAt = new Date(now.getTime() + ttl * 1000);
  const batch = items.length > 1 ? newBatch() : undefined;
  // every item's data is made before any row is written: a bad document in a batch leaves nothing behind
  const made = [];
  for (const [i, item] of items.entries()) {
    if (!item.document?.length) throw new TrucError('bad_request', `document ${i + 1} is empty`);
    const params = normaliseParams(item.params, now);
    const dtbs = await dataToBeSigned(item.document, signer, params);
    made.push({ item, params, dtbs, title: (item.title ?? '').slice(0, 300) || `document ${i + 1}` });
  }
  const out: PreparedItem[] = [];
  for (const [position, m] of made.entries()) {
    const handle = newHandle();
    const documentSha256 = createHash('sha256').update(m.item.document).digest('hex');
    await insertPending(sql, {
      handle,
      principal,
      ...(batch ? { batch } : {}),
      position,
      title: m.title,
      params: m.params,
      document: Buffer.from(m.item.document),
      documentSha256,
      certificate: Buffer.from(signer.certificate),
      chain: (signer.chain ?? []).map((c) => Buffer.from(c)),
      scheme: m.dtbs.scheme,
      dtbs: m.dtbs.data,
      createdAt: now,
      expiresAt,
    });
    out.push({
      handle,
      title: m.title,
      documentSha256,
      params: m.params,
      dataToBeSigned: m.dtbs.data.toString('base64'),
      digest: m.dtbs.digest.toString('hex'),
      hash: m.dtbs.hash,
      scheme: m.dtbs.scheme,
      expiresAt: expiresAt.toISOString(),
    });
  }
  return { ...(batch ? { batch } : {}), items: out };
}

export interface Completed {
  handle: string;
  title: string;
  params: TwoPhaseParams;
  documentSha256: string;
  signed: Buffer;
  signedSha256: string;
  serial: string;
}

/**
 * Step two for one handle. Refusals, each before anything is written: unknown handle (`not_found`), used
 * (`handle_used`), expired (`handle_expired`), a value that does not verify (`invalid_signature`), a
 * document sent again that is not the one prepared, or one that no longer gives the same data to be
 * signed (`document_changed`).
 */
export async function completeSigning(
  sql: Sql,
  principal: string,
  handle: string,
  value: Uint8Array,
  ctx: LevelContext,
  opts: TwoPhaseClock & { document?: Uint8Array } = {},
): Promise<Completed> {
  const now = opts.now?.() ?? new Date();
  const p: Pending = await getPending(sql, principal, handle);
  assertOpen(p, now);
  if (opts.document) {
    const sha = createHash('sha256').update(opts.document).digest('hex');
    if (sha !== p.documentSha256)
      throw new TrucError('document_changed', `the document is not the one prepared (SHA-256 ${sha.slice(0, 16)}… instead of ${p.documentSha256.slice(0, 16)}…) / tài liệu đã bị thay đổi sau khi chuẩn bị ký`, {
        expected: p.documentSha256,
        got: sha,
      });
  }
  const checked = checkValue(p.dtbs, p.scheme, p.certificate, value);
  await claimPending(sql, p, now);
  let signed: Buffer;
  try {
    signed = await completeDocument(opts.document ?? p.document, { certificate: p.certificate, chain: p.chain }, p.params, p.dtbs, checked, ctx);
  } catch (e) {
    // nothing was written: the handle may be completed again (a time-stamp authority back up)
    await releasePending(sql, p).catch(() => {});
    throw e;
  }
  await finishPending(sql, p);
  return {
    handle,
    title: p.title,
    params: p.params,
    documentSha256: p.documentSha256,
    signed,
    signedSha256: createHash('sha256').update(signed).digest('hex'),
    serial: new X509Certificate(p.certificate).serialNumber.toLowerCase(),
  };
}

/** The handles of a batch, in the order they were prepared. */
export async function batchOf(sql: Sql, principal: string, batch: string): Promise<string[]> {
  const handles = await batchHandles(sql, principal, batch);
  if (!handles.length) throw new TrucError('not_found', `no batch "${batch.slice(0, 60)}" / không có lô ký này`);
  return handles;
}
