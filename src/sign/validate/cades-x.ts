/**
 * CAdES-X time-stamps in validation (TS 101 733 §6.3.5, §6.3.6; EN 319 122-2): the CAdES-C-time-stamp
 * (id-aa-ets-escTimeStamp) over, in this order, the signature value's octets, the signature-time-stamp attribute,
 * the complete-certificate-references and the complete-revocation-references attributes; the
 * time-stamped-certs-crls-references (id-aa-ets-certCRLTimestamp) over the two reference attributes alone. Each
 * attribute counts as its attrType and attrValues as encoded, without the enclosing SEQUENCE (as EU DSS and
 * BouncyCastle compute it). A valid CAdES-C-time-stamp is a proof of existence of the signature and its
 * signature time-stamps, either one of the references (the references themselves are matched against the values in
 * `validate/cades.ts`, through `cades/refs.ts`).
 */
import { createHash } from 'node:crypto';
import type { CmsSigner } from '../cades/verify.js';
import { UNSIGNED } from '../cades/unsigned.js';
import { verifyTimeStamp } from '../timestamp/verify.js';
import type { TimestampReport } from './report.js';
import type { ValidationOptions } from './signer.js';
import { timestampReport, withCarried, type Carried } from './timestamps.js';

export const CADES_X = {
  escTimeStamp: '1.2.840.113549.1.9.16.2.25',
  certCrlTimestamp: '1.2.840.113549.1.9.16.2.26',
  completeCertificateRefs: '1.2.840.113549.1.9.16.2.21',
  completeRevocationRefs: '1.2.840.113549.1.9.16.2.22',
} as const;

/** The octets a CAdES-X time-stamp of `kind` imprints, or why they cannot be had. */
export function cadesXInput(s: CmsSigner, kind: 'sig-and-refs' | 'refs-only'): Buffer | string {
  const part = (oid: string) => s.unsignedAttributeOctets?.get(oid);
  const certRefs = part(CADES_X.completeCertificateRefs);
  const revRefs = part(CADES_X.completeRevocationRefs);
  if (!certRefs || !revRefs) return 'the complete-certificate-references or complete-revocation-references attribute it covers is missing / thiếu thuộc tính tham chiếu được đóng dấu';
  const head = kind === 'sig-and-refs' ? [s.signatureValue, part(UNSIGNED.signatureTimeStamp) ?? Buffer.alloc(0)] : [];
  return Buffer.concat([...head, certRefs, revRefs]);
}

/**
 * Checks each CAdES-X time-stamp of the signer; `later` is a proof of existence of the tokens themselves (an archive
 * time-stamp). Answers the reports and the proofs of existence they give: of the signature (`signature`, CAdES-C
 * time-stamps only) and of the references (`references`, both kinds).
 */
export async function cadesXTimestamps(
  s: CmsSigner,
  opts: ValidationOptions & { at: Date },
  carried: Carried,
  later: Date | undefined,
  pool: Buffer[],
): Promise<{ reports: TimestampReport[]; signature?: Date; references?: Date }> {
  const reports: TimestampReport[] = [];
  let signature: Date | undefined;
  let references: Date | undefined;
  const ctx = withCarried(opts, carried);
  ctx.intermediates.push(...pool);
  for (const [oid, kind] of [
    [CADES_X.escTimeStamp, 'sig-and-refs'],
    [CADES_X.certCrlTimestamp, 'refs-only'],
  ] as const) {
    for (const token of s.unsignedAttributes.get(oid) ?? []) {
      const input = cadesXInput(s, kind);
      if (typeof input === 'string') {
        reports.push({ type: kind, valid: false, failure: 'FORMAT_FAILURE', problem: input, sha256: createHash('sha256').update(token).digest('hex') });
        continue;
      }
      const c = await verifyTimeStamp(token, (h) => createHash(h).update(input).digest(), { trustAnchors: opts.trustAnchors, at: opts.at, ...ctx, ...(later ? { poe: later } : {}) });
      reports.push(timestampReport(kind, c, undefined, token));
      if (!c.valid || !c.genTime) continue;
      if (!references || c.genTime < references) references = c.genTime;
      if (kind === 'sig-and-refs' && (!signature || c.genTime < signature)) signature = c.genTime;
    }
  }
  return { reports, ...(signature ? { signature } : {}), ...(references ? { references } : {}) };
}
