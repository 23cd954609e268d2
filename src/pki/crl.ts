/**
 * CRLs (RFC 5280 §5): full CRLs and delta CRLs sharing one monotonic CRL number per CA. A full CRL lists
 * every revoked or held certificate not yet expired and points to the delta (Freshest CRL); a delta lists
 * what changed after its base full CRL, releases from hold as removeFromCRL. Generation locks the CA row,
 * so numbers never repeat and no concurrent status change falls between two CRLs.
 */
import { TrucError, isTrucError } from '../errors.js';
import { SCHEMES } from '../crypto/algorithms.js';
import { appendAudit } from '../audit/index.js';
import { bitString, ctx as ctxTag, enumerated, generalizedTime, int, seq, time, uintFromBytes } from '../asn1/der.js';
import { ext, extension, OID } from './certificate.js';
import { getCa, insertCrl, latestCrl, nextCrlNumber, revokedFor, changedSince, type CrlRow, type RevokedEntry } from './store.js';
import { auditWithEvent, emit, emitInTx, emitted, pkiEvent, urls, type PkiContext } from './context.js';
import { REASONS } from './revoke.js';

function entry(e: RevokedEntry, removal: boolean): Buffer {
  const exts: Buffer[] = [];
  const reason = removal ? REASONS.removeFromCRL : e.status === 'hold' ? REASONS.certificateHold : (e.reason ?? 0);
  // RFC 5280 §5.3.1: the reason code unspecified is left out
  if (reason !== 0) exts.push(extension(OID.reasonCode, false, enumerated(reason)));
  if (e.invalidityDate && !removal) exts.push(extension(OID.invalidityDate, false, generalizedTime(e.invalidityDate)));
  return seq(
    uintFromBytes(Buffer.from(e.serial, 'hex')),
    time(e.revokedAt ?? new Date(0)),
    ...(exts.length ? [seq(...exts)] : []),
  );
}

export interface GenerateOptions {
  delta?: boolean;
}

/** Generates and stores a CRL; a refusal (unknown CA, no base for a delta, deltas disabled) is audited too. */
export async function generateCrl(ctx: PkiContext, caId: string, actor: string, opts: GenerateOptions = {}): Promise<CrlRow> {
  try {
    return await makeCrl(ctx, caId, actor, opts);
  } catch (e) {
    if (isTrucError(e)) {
      await auditWithEvent(
        ctx,
        [{ actor, action: opts.delta ? 'ca.crl.delta' : 'ca.crl', target: caId.slice(0, 200), outcome: 'failure', detail: { code: e.code, reason: e.message } }],
        pkiEvent(ctx, 'crl.refused', 'failure', actor, { ca: caId.slice(0, 200), delta: !!opts.delta, code: e.code }, e.message),
      );
    }
    throw e;
  }
}

async function makeCrl(ctx: PkiContext, caId: string, actor: string, opts: GenerateOptions): Promise<CrlRow> {
  const ca = await getCa(ctx.db, caId);
  if (!ca) throw new TrucError('unknown_ca', `no CA "${caId}"`);
  const delta = !!opts.delta;
  if (delta && !ctx.crl.deltas) throw new TrucError('unsupported', 'delta CRLs are disabled in the configuration');
  const store = ctx.keys.get(ca.keyStore);
  const sigAlg = SCHEMES[ca.scheme].algorithmIdentifier;
  const action = delta ? 'crl.delta.generated' : 'crl.generated';
  let inOutbox = false;
  const row = await ctx.db.tx(async (sql) => {
    const number = await nextCrlNumber(sql, caId); // row lock on the CA until commit
    const now = ctx.clock();
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const hours = delta ? ctx.crl.deltaValidityHours : ctx.crl.validityHours;
    const nextUpdate = new Date(thisUpdate.getTime() + hours * 3_600_000);
    const [{ high }] = await sql.query<{ high: string | null }>(
      'SELECT max(status_seq) AS high FROM pki_certificate WHERE ca_id = $1',
      [caId],
    );
    const highSeq = Number(high ?? 0);
    let entries: Buffer[];
    let baseNumber: number | null = null;
    const crlExts = [ext.authorityKeyIdentifier(ca.ski), extension(OID.cRLNumber, false, int(number))];
    if (delta) {
      const base = await latestCrl(sql, caId, false);
      if (!base) throw new TrucError('conflict', `CA "${caId}" has no full CRL to base a delta on; generate one first`);
      baseNumber = base.number;
      const changed = await changedSince(sql, caId, base.highSeq, thisUpdate);
      entries = changed.map((e) => entry(e, e.status === 'good'));
      crlExts.push(extension(OID.deltaCRLIndicator, true, int(base.number)));
    } else {
      const revoked = await revokedFor(sql, caId, thisUpdate);
      entries = revoked.map((e) => entry(e, false));
      if (ctx.crl.deltas) crlExts.push(ext.freshestCrl([urls.deltaCrl(ctx, caId)]));
    }
    const tbs = seq(
      int(1),
      Buffer.from(sigAlg),
      ca.subjectDer,
      time(thisUpdate),
      time(nextUpdate),
      ...(entries.length ? [seq(...entries)] : []),
      ctxTag(0, seq(...crlExts)),
    );
    const signature = await store.sign(ca.keyId, ca.scheme, tbs);
    const der = seq(tbs, Buffer.from(sigAlg), bitString(signature));
    const r: CrlRow = { caId, number, delta, baseNumber, highSeq, thisUpdate, nextUpdate, entries: entries.length, der };
    await insertCrl(sql, r);
    await appendAudit(
      sql,
      [{ actor, action: delta ? 'ca.crl.delta' : 'ca.crl', target: caId, outcome: 'success', detail: { number, entries: entries.length, baseNumber } }],
      now,
    );
    // with an outbox, the event is written with the CRL and its audit record: all three or none
    inOutbox = await emitInTx(ctx, sql, () => [pkiEvent(ctx, action, 'success', actor, { ca: caId, number, entries: entries.length })]);
    return r;
  });
  if (inOutbox) emitted(ctx);
  else emit(ctx, action, 'success', actor, { ca: caId, number: row.number, entries: row.entries });
  return row;
}

/** The CRL to serve: the latest, regenerated first when it is past its nextUpdate. */
export async function currentCrl(ctx: PkiContext, caId: string, delta: boolean): Promise<CrlRow> {
  const latest = await latestCrl(ctx.db, caId, delta);
  if (latest && latest.nextUpdate > ctx.clock()) return latest;
  if (delta && !(await latestCrl(ctx.db, caId, false))) await generateCrl(ctx, caId, 'system', { delta: false });
  return generateCrl(ctx, caId, 'system', { delta });
}

/** Regenerates CRLs that are missing or within `marginMs` of their nextUpdate. Used by the scheduler. */
export async function refreshCrls(ctx: PkiContext, caIds: string[], marginMs: number): Promise<CrlRow[]> {
  const out: CrlRow[] = [];
  const soon = new Date(ctx.clock().getTime() + marginMs);
  for (const id of caIds) {
    const full = await latestCrl(ctx.db, id, false);
    if (!full || full.nextUpdate <= soon) out.push(await generateCrl(ctx, id, 'system'));
    if (ctx.crl.deltas) {
      const d = await latestCrl(ctx.db, id, true);
      if (!d || d.nextUpdate <= soon || (full && d.baseNumber !== null && d.number < full.number))
        out.push(await generateCrl(ctx, id, 'system', { delta: true }));
    }
  }
  return out;
}
