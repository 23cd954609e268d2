/**
 * Revocation with RFC 5280 reason codes. certificateHold suspends (status `hold`) and can be released;
 * any other reason is final, and a held certificate may still be revoked for good. The status change and
 * its audit record commit together before the caller hears back; the CA row is share-locked so that a CRL
 * being generated never misses a change that commits around it.
 */
import { TrucError } from '../errors.js';
import { appendAudit } from '../audit/index.js';
import { normalizeSerial } from './serial.js';
import { getCert, setStatus, type CertRow } from './store.js';
import { auditWithEvent, emit, emitInTx, emitted, pkiEvent, type PkiContext } from './context.js';

export const REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;
export type ReasonName = keyof typeof REASONS;

export function parseReason(r: string | number | undefined): number {
  if (r === undefined) return 0;
  if (typeof r === 'number' || /^\d+$/.test(r)) {
    const n = Number(r);
    if (!Object.values(REASONS).includes(n as any) || n === 8)
      throw new TrucError('bad_request', `revocation reason ${r} is not a valid RFC 5280 reason code`);
    return n;
  }
  if (!(r in REASONS) || r === 'removeFromCRL')
    throw new TrucError('bad_request', `unknown revocation reason "${r}"`, {
      allowed: Object.keys(REASONS).filter((k) => k !== 'removeFromCRL'),
    });
  return REASONS[r as ReasonName];
}

export function reasonName(n: number | null): string | null {
  if (n === null) return null;
  return (Object.keys(REASONS) as ReasonName[]).find((k) => REASONS[k] === n) ?? String(n);
}

export interface RevokeRequest {
  serial: string;
  reason?: string | number;
  invalidityDate?: Date;
}

async function change(
  ctx: PkiContext,
  serialIn: string,
  actor: string,
  action: 'ca.revoke' | 'ca.release',
  /** checks of the request itself, before the database is touched */
  check: () => void,
  apply: (cert: CertRow) => { status: CertRow['status']; reason: number | null; revokedAt: Date | null; invalidity: Date | null },
): Promise<CertRow> {
  let serial = serialIn;
  try {
    serial = normalizeSerial(serialIn);
    check();
    const now = ctx.clock();
    const changedAction = action === 'ca.revoke' ? 'certificate.revoked' : 'certificate.released';
    const changedFields = (c: CertRow) => ({ ca: c.caId, serial, status: c.status, reason: reasonName(c.reason) });
    const changed = (c: CertRow) => pkiEvent(ctx, changedAction, 'success', actor, changedFields(c));
    let inOutbox = false;
    const updated = await ctx.db.tx(async (sql) => {
      const cert = await getCert(sql, serial, true);
      if (!cert) throw new TrucError('unknown_serial', `no certificate with serial ${serial}`);
      await sql.query('SELECT id FROM pki_ca WHERE id = $1 FOR SHARE', [cert.caId]);
      const next = apply(cert);
      await setStatus(sql, serial, next.status, next.revokedAt, next.reason, next.invalidity);
      await appendAudit(
        sql,
        [
          {
            actor,
            action,
            target: serial,
            outcome: 'success',
            detail: { ca: cert.caId, from: cert.status, to: next.status, reason: reasonName(next.reason) },
          },
        ],
        now,
      );
      const done = { ...cert, status: next.status, reason: next.reason, revokedAt: next.revokedAt, invalidityDate: next.invalidity };
      inOutbox = await emitInTx(ctx, sql, () => [changed(done)]);
      return done;
    });
    if (inOutbox) emitted(ctx);
    else emit(ctx, changedAction, 'success', actor, changedFields(updated));
    // closes the window in which a revocation is in OCSP but not yet in the published CRL; the revocation
    // stands even when this fails (the CRL is audited and emitted as refused, and the schedule catches up)
    if (ctx.crl.publishOnRevocation) {
      const { generateCrl } = await import('./crl.js'); // crl.ts imports this module's reason table
      await generateCrl(ctx, updated.caId, actor).catch(() => {});
    }
    return updated;
  } catch (e) {
    if (e instanceof TrucError) {
      await auditWithEvent(
        ctx,
        [{ actor, action, target: serial, outcome: 'failure', detail: { code: e.code, reason: e.message } }],
        pkiEvent(ctx, action === 'ca.revoke' ? 'revocation.refused' : 'release.refused', 'failure', actor, { serial, code: e.code }, e.message),
      );
    }
    throw e;
  }
}

export function revoke(ctx: PkiContext, req: RevokeRequest, actor: string): Promise<CertRow> {
  // the reason and date are checked inside change(), so that a refused request is audited like any other
  let reason = 0;
  const check = () => {
    reason = parseReason(req.reason);
    if (req.invalidityDate && Number.isNaN(req.invalidityDate.getTime()))
      throw new TrucError('bad_request', 'invalidityDate is not a date');
  };
  return change(ctx, req.serial, actor, 'ca.revoke', check, (cert) => {
    if (cert.status === 'revoked')
      throw new TrucError('already_revoked', `certificate ${cert.serial} is already revoked`, {
        reason: reasonName(cert.reason),
      });
    if (cert.status === 'hold' && reason === REASONS.certificateHold)
      throw new TrucError('already_revoked', `certificate ${cert.serial} is already on hold`);
    const now = ctx.clock();
    return {
      status: reason === REASONS.certificateHold ? 'hold' : 'revoked',
      reason,
      // a held certificate revoked for good keeps the date it stopped being trusted
      revokedAt: cert.status === 'hold' && cert.revokedAt ? cert.revokedAt : now,
      invalidity: req.invalidityDate ?? null,
    };
  });
}

/** Releases a certificate from hold. Its last revocation date is kept for the delta CRL's removeFromCRL. */
export function release(ctx: PkiContext, serial: string, actor: string): Promise<CertRow> {
  return change(ctx, serial, actor, 'ca.release', () => undefined, (cert) => {
    if (cert.status !== 'hold') throw new TrucError('not_on_hold', `certificate ${cert.serial} is not on hold`);
    return { status: 'good', reason: REASONS.removeFromCRL, revokedAt: cert.revokedAt, invalidity: null };
  });
}
