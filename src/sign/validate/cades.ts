/**
 * Validation of a CAdES signature (detached with its content, or enveloping): each SignerInfo through
 * basic signature validation, its time-stamps (content, signature, CAdES-X, archive) giving the proof of existence. A CMS that cannot be read is one TOTAL-FAILED / FORMAT_FAILURE entry — a
 * report, not an exception — so a relying party always gets an answer.
 */
import { createHash } from 'node:crypto';
import { isTrucError } from '../../errors.js';
import { inspectCms } from '../cades/verify.js';
import type { ValidationReport } from './report.js';
import { validateSigner, type ValidationOptions } from './signer.js';

import { UNSIGNED } from '../cades/unsigned.js';
import { carriedBy, signatureTimestamps, timestampReport, withCarried } from './timestamps.js';
import { verifyTimeStamp } from '../timestamp/verify.js';
import type { TimestampReport } from './report.js';
import { archiveTimestamps } from './archive.js';
import { cadesXTimestamps } from './cades-x.js';

export async function validateCades(cms: Uint8Array, opts: ValidationOptions & { content?: Uint8Array }): Promise<ValidationReport> {
  const at = opts.at ?? new Date();
  const report: ValidationReport = {
    validationTime: at.toISOString(),
    document: { kind: 'cms', bytes: cms.length, sha256: createHash('sha256').update(cms).digest('hex') },
    signatures: [],
  };
  let inspection;
  try {
    inspection = inspectCms(cms, opts.content);
  } catch (e) {
    if (!isTrucError(e)) throw e;
    report.signatures.push({
      index: 0,
      format: 'CAdES',
      level: 'unknown',
      indication: e.code === 'unsupported' ? 'INDETERMINATE' : 'TOTAL-FAILED',
      subIndication: e.code === 'unsupported' ? 'CRYPTO_CONSTRAINTS_FAILURE' : 'FORMAT_FAILURE',
      message: e.message,
      checks: { integrity: null, signatureValue: null, signingCertificateReference: null, certificateChain: null, certificateValidAtSigningTime: null },
      certificatePath: [],
      warnings: [],
    });
    return report;
  }
  for (const [index, s] of inspection.signers.entries()) {
    const timed = s.unsignedAttributes.has(UNSIGNED.signatureTimeStamp);
    const longTerm = timed && s.unsignedAttributes.has(UNSIGNED.revocationValues);
    const level = s.unsignedAttributes.has(UNSIGNED.archiveTimeStampV3) && longTerm ? 'B-LTA' : longTerm ? 'B-LT' : timed ? 'B-T' : 'B-B';
    const carried = carriedBy(s);
    carried.ocsps.push(...inspection.ocsps);
    const ats = await archiveTimestamps(inspection.der, index, s, opts.content, { ...opts, at }, carried, inspection.certificates);
    // CAdES-X: a valid CAdES-C-time-stamp proves the signature and its signature time-stamps existed
    const x = await cadesXTimestamps(s, { ...opts, at }, carried, ats.poe, inspection.certificates);
    const stampsPoe = [x.signature, ats.poe].filter((d): d is Date => !!d).sort((a, b) => a.getTime() - b.getTime())[0];
    const ts = await signatureTimestamps(s, { ...opts, at }, carried, stampsPoe, inspection.certificates);
    const poes = [ts.poe, stampsPoe].filter((d): d is Date => !!d);
    const poe = poes.length ? new Date(Math.min(...poes.map((d) => d.getTime()))) : undefined;
    const r = await validateSigner(s, inspection.certificates, [...inspection.crls, ...carried.crls], { index, format: 'CAdES', level, claimedSigningTime: s.signingTime }, { ...opts, at }, { ocsps: carried.ocsps, certs: carried.certs, ...(poe ? { poe } : {}) });
    // content time-stamps (signed attributes, possibly several): each over the content, judged and reported
    const content = opts.content ?? inspection.content;
    const contentReports: TimestampReport[] = [];
    for (const token of s.contentTimestamps ?? []) {
      if (!content) {
        contentReports.push({ type: 'content', valid: false, problem: 'the signed content is needed to check a content time-stamp', sha256: createHash('sha256').update(token).digest('hex') });
        continue;
      }
      const tctx = withCarried({ ...opts, at }, carried);
      tctx.intermediates.push(...inspection.certificates);
      const c = await verifyTimeStamp(token, (h) => createHash(h).update(content).digest(), { trustAnchors: opts.trustAnchors, at, ...tctx });
      contentReports.push(timestampReport('content', c, undefined, token));
      if (!c.valid) r.warnings.push(`dấu thời gian nội dung không hợp lệ / a content time-stamp is not valid: ${c.problem}`);
      else if (c.genTime && ts.poe && c.genTime > ts.poe) r.warnings.push('dấu thời gian nội dung muộn hơn dấu thời gian chữ ký / a content time-stamp is later than the signature time-stamp');
    }
    if (ts.reports.length || x.reports.length || ats.reports.length || contentReports.length) r.timestamps = [...contentReports, ...ts.reports, ...x.reports, ...ats.reports];
    if (longTerm) r.embeddedEvidence = { certificates: carried.certs.length, crls: carried.crls.length, ocspResponses: carried.ocsps.length };
    r.warnings.push(...inspection.repairs);
    if (!s.signingTime) r.warnings.push('no signing-time attribute (required by CAdES baseline)');
    for (const t of ats.reports) if (!t.valid) r.warnings.push(`an archive time-stamp is not valid: ${t.problem}`);
    for (const t of ts.reports) if (!t.valid) r.warnings.push(`a signature time-stamp is not valid: ${t.problem}`);
    for (const t of x.reports)
      if (!t.valid) r.warnings.push(`dấu thời gian CAdES-X không hợp lệ / a ${t.type === 'sig-and-refs' ? 'CAdES-C-time-stamp' : 'time-stamped-certs-crls-references'} is not valid: ${t.problem}`);
    if (ts.poe && s.signingTime && s.signingTime.getTime() > ts.poe.getTime() + 60_000) r.warnings.push('the claimed signing time is after the signature time-stamp');
    report.signatures.push(r);
  }
  return report;
}
