/**
 * Archive-time-stamps-v3 of a CAdES signer in validation (EN 319 122-1 §5.5.3, EN 319 102-1 §5.6.2.4): each
 * token's imprint recomputed from the signature's parts and the ats-hash-index-v3 the token carries, every
 * entry of that index matched against an element still present, and the token verified as a time-stamp —
 * newest first, a valid later archive time-stamp being the proof of existence of the earlier ones. The
 * earliest valid genTime is a proof of existence of everything covered: the signature, its
 * signature-time-stamps and the validation data carried before it.
 */
import { createHash } from 'node:crypto';
import { isTrucError } from '../../errors.js';
import { ATS_HASH_INDEX_V3, archiveImprint, archiveParts, missingFromIndex, readAtsHashIndexV3 } from '../cades/archive.js';
import { UNSIGNED } from '../cades/unsigned.js';
import type { CmsSigner } from '../cades/verify.js';
import { readTimeStampToken } from '../timestamp/token.js';
import { verifyTimeStamp } from '../timestamp/verify.js';
import type { TimestampReport } from './report.js';
import type { ValidationOptions } from './signer.js';
import { timestampReport, withCarried, type Carried } from './timestamps.js';

export async function archiveTimestamps(
  cms: Uint8Array,
  index: number,
  s: CmsSigner,
  content: Uint8Array | undefined,
  opts: ValidationOptions & { at: Date },
  carried: Carried,
  pool: Buffer[],
): Promise<{ reports: TimestampReport[]; poe?: Date }> {
  const tokens = s.unsignedAttributes.get(UNSIGNED.archiveTimeStampV3) ?? [];
  if (!tokens.length) return { reports: [] };
  const parts = archiveParts(cms, index);
  const read = tokens.map((der) => {
    try {
      return { der, t: readTimeStampToken(der) };
    } catch (e) {
      if (!isTrucError(e)) throw e;
      return { der, problem: e.message };
    }
  });
  // newest first: a valid later archive time-stamp proves the earlier tokens existed when it was made
  read.sort((a, b) => (b.t?.tstInfo.genTime.getTime() ?? 0) - (a.t?.tstInfo.genTime.getTime() ?? 0));
  const reports: TimestampReport[] = [];
  let later: Date | undefined;
  let poe: Date | undefined;
  const ctx = withCarried(opts, carried);
  ctx.intermediates.push(...pool);
  for (const r of read) {
    const sha256 = createHash('sha256').update(r.der).digest('hex');
    if (!r.t) {
      reports.push({ type: 'archive', valid: false, failure: 'FORMAT_FAILURE', problem: r.problem, sha256 });
      continue;
    }
    const stored = r.t.signer.unsignedAttributes.get(ATS_HASH_INDEX_V3);
    if (stored?.length !== 1) {
      reports.push({ type: 'archive', valid: false, genTime: r.t.tstInfo.genTime.toISOString(), failure: 'FORMAT_FAILURE', problem: 'the archive time-stamp carries no (or more than one) ats-hash-index-v3', sha256 });
      continue;
    }
    let index: ReturnType<typeof readAtsHashIndexV3>;
    try {
      index = readAtsHashIndexV3(stored[0]);
    } catch (e) {
      if (!isTrucError(e)) throw e;
      reports.push({ type: 'archive', valid: false, failure: 'FORMAT_FAILURE', problem: e.message, sha256 });
      continue;
    }
    const data = content ?? parts.eContent;
    if (!data) {
      reports.push({ type: 'archive', valid: false, failure: 'SIGNED_DATA_NOT_FOUND', problem: 'the signed content is needed to check an archive time-stamp', sha256 });
      continue;
    }
    const c = await verifyTimeStamp(r.der, (alg) => archiveImprint(parts, data, stored[0], alg), { trustAnchors: opts.trustAnchors, at: opts.at, ...ctx, ...(later ? { poe: later } : {}) });
    const report = timestampReport('archive', c, undefined, r.der);
    const missing = missingFromIndex(index, parts);
    if (c.valid && missing.length) {
      report.valid = false;
      report.problem = `covered data was altered or removed since the archive time-stamp: ${missing.join(', ')}`;
    }
    reports.push(report);
    if (report.valid && c.genTime) {
      later = c.genTime;
      if (!poe || c.genTime < poe) poe = c.genTime;
    }
  }
  return { reports: reports.reverse(), ...(poe ? { poe } : {}) };
}
