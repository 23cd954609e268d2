/**
 * Time-stamps in validation: the signature-time-stamps of a signer checked against its signature value,
 * the validation data a CAdES signer carries (certificate-values, revocation-values), and the proof of
 * existence they yield — the earliest genTime among valid time-stamps over the signature.
 */
import { createHash } from 'node:crypto';
import type { RevocationOptions } from '../../pki/path/index.js';
import type { CmsSigner } from '../cades/verify.js';
import { readCertificateValues, readRevocationValues, UNSIGNED } from '../cades/unsigned.js';
import { ocspResponseOfBasic } from '../evidence/ocsp.js';
import { verifyTimeStamp, type TimeStampCheck } from '../timestamp/verify.js';
import type { TimestampReport } from './report.js';
import type { ValidationOptions } from './signer.js';
import type { AlgorithmPolicy } from './algorithms.js';

export interface Carried {
  certs: Buffer[];
  crls: Buffer[];
  ocsps: Buffer[];
}

export function timestampReport(type: TimestampReport['type'], c: TimeStampCheck, fieldName?: string, token?: Uint8Array): TimestampReport {
  return {
    type,
    valid: c.valid,
    ...(c.genTime ? { genTime: c.genTime.toISOString() } : {}),
    ...(c.tsa ? { tsa: c.tsa.commonName ?? c.tsa.subject } : {}),
    ...(c.serial ? { serial: c.serial } : {}),
    ...(c.policy ? { policy: c.policy } : {}),
    ...(c.subIndication ? { indication: 'INDETERMINATE' as const, subIndication: c.subIndication } : {}),
    ...(c.problem ? { problem: c.problem } : {}),
    ...(fieldName ? { fieldName } : {}),
    ...(token ? { sha256: createHash('sha256').update(token).digest('hex') } : {}),
    ...(c.notes.length ? { notes: [...c.notes] } : {}),
    ...(!c.valid && c.failure ? { failure: c.failure } : {}),
  };
}

/** certificate-values and revocation-values of a CAdES signer (unreadable ones are skipped: they only help). */
export function carriedBy(s: CmsSigner): Carried {
  const out: Carried = { certs: [], crls: [], ocsps: [] };
  for (const v of s.unsignedAttributes.get(UNSIGNED.certificateValues) ?? []) {
    try {
      out.certs.push(...readCertificateValues(v));
    } catch {
      // ignored
    }
  }
  for (const v of s.unsignedAttributes.get(UNSIGNED.revocationValues) ?? []) {
    try {
      const r = readRevocationValues(v);
      out.crls.push(...r.crls);
      out.ocsps.push(...r.basicOcsp.map(ocspResponseOfBasic));
    } catch {
      // ignored
    }
  }
  return out;
}

export function withCarried(opts: ValidationOptions, carried: Carried): { revocation: RevocationOptions; intermediates: Uint8Array[]; algorithmPolicy?: AlgorithmPolicy } {
  return {
    ...(opts.algorithmPolicy ? { algorithmPolicy: opts.algorithmPolicy } : {}),
    revocation: {
      mode: 'soft-fail',
      ...opts.revocation,
      crls: [...(opts.revocation?.crls ?? []), ...carried.crls],
      ocspResponses: [...(opts.revocation?.ocspResponses ?? []), ...carried.ocsps],
    },
    intermediates: [...(opts.intermediates ?? []), ...carried.certs],
  };
}

/** Checks each signature-time-stamp of the signer; `later` is a proof of existence of the tokens themselves. */
export async function signatureTimestamps(
  s: CmsSigner,
  opts: ValidationOptions & { at: Date },
  carried: Carried,
  later: Date | undefined,
  /** certificates the signature carries: a TSA's token usually holds only the TSA's own */
  pool: Buffer[],
): Promise<{ reports: TimestampReport[]; poe?: Date }> {
  const reports: TimestampReport[] = [];
  let poe: Date | undefined;
  const ctx = withCarried(opts, carried);
  ctx.intermediates.push(...pool);
  for (const token of s.unsignedAttributes.get(UNSIGNED.signatureTimeStamp) ?? []) {
    const c = await verifyTimeStamp(token, (h) => createHash(h).update(s.signatureValue).digest(), { trustAnchors: opts.trustAnchors, at: opts.at, ...ctx, ...(later ? { poe: later } : {}) });
    reports.push(timestampReport('signature', c, undefined, token));
    if (c.valid && c.genTime && (!poe || c.genTime < poe)) poe = c.genTime;
  }
  return { reports, ...(poe ? { poe } : {}) };
}
