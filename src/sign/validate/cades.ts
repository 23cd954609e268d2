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
import { addNotes, note, withNotes } from './notes.js';

import { UNSIGNED } from '../cades/unsigned.js';
import { carriedBy, signatureTimestamps, timestampReport, withCarried } from './timestamps.js';
import { verifyTimeStamp } from '../timestamp/verify.js';
import type { TimestampReport } from './report.js';
import { archiveTimestamps } from './archive.js';
import { cadesXTimestamps } from './cades-x.js';
import { hasCadesRefs, readCadesRefs } from '../cades/refs.js';
import { matchValidationDataRefs } from '../xades/refs.js';
import { basicOfOcspResponse } from '../evidence/ocsp.js';
import type { RevocationEvidence } from '../../pki/path/index.js';

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
      notes: [],
    });
    return withNotes(report);
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
    const used: RevocationEvidence[] = [];
    const r = await validateSigner(s, inspection.certificates, [...inspection.crls, ...carried.crls], { index, format: 'CAdES', level, claimedSigningTime: s.signingTime }, { ...opts, at }, { ocsps: carried.ocsps, certs: carried.certs, used, ...(poe ? { poe } : {}) });
    if (hasCadesRefs(s)) {
      // CAdES-C: each reference against the values at hand and those validation used, as XAdES's (`xades/refs.ts`)
      const { refs, notes } = readCadesRefs(s);
      addNotes(r, ...notes);
      const from = (source: 'signature' | 'validation', ders: readonly Uint8Array[]) => ders.map((der) => ({ der: Buffer.from(der), source }));
      // an OCSP reference's hash is over the OCSPResponse or, as some producers compute it, its BasicOCSPResponse
      const withBasic = (ders: readonly Uint8Array[]) => ders.flatMap((d) => [Buffer.from(d), ...[basicOfOcspResponse(Buffer.from(d))].filter((b): b is Buffer => !!b)]);
      const anchors = opts.trustAnchors.filter((a): a is Uint8Array => a instanceof Uint8Array);
      const matched = matchValidationDataRefs(refs, {
        certificates: [...from('signature', [...inspection.certificates, ...carried.certs]), ...from('validation', [...r.certificatePath.map((c) => Buffer.from(c, 'base64')), ...(opts.intermediates ?? []), ...anchors])],
        crls: [...from('signature', [...inspection.crls, ...carried.crls]), ...from('validation', [...(opts.revocation?.crls ?? []), ...used.filter((e) => e.kind === 'crl').map((e) => e.der)])],
        ocsps: [...from('signature', withBasic(carried.ocsps)), ...from('validation', withBasic([...(opts.revocation?.ocspResponses ?? []), ...used.filter((e) => e.kind === 'ocsp').map((e) => e.der)]))],
      });
      const refsPoe = [x.references, ats.poe].filter((d): d is Date => !!d).sort((a, b) => a.getTime() - b.getTime())[0];
      if (refsPoe) for (const m of matched) m.poe = refsPoe.toISOString();
      r.validationDataReferences = matched;
      for (const [i, m] of matched.entries())
        if (m.matches !== true) addNotes(r, note('VALIDATION_DATA_REFERENCE_UNMATCHED', { n: i + 1, kind: m.kind, names: m.names, problem: m.problem }));
    }
    // content time-stamps (signed attributes, possibly several): each over the content, judged and reported
    const content = opts.content ?? inspection.content;
    const contentReports: TimestampReport[] = [];
    for (const token of s.contentTimestamps ?? []) {
      if (!content) {
        contentReports.push({ type: 'content', valid: false, failure: 'SIGNED_DATA_NOT_FOUND', problem: 'the signed content is needed to check a content time-stamp', sha256: createHash('sha256').update(token).digest('hex') });
        continue;
      }
      const tctx = withCarried({ ...opts, at }, carried);
      tctx.intermediates.push(...inspection.certificates);
      const c = await verifyTimeStamp(token, (h) => createHash(h).update(content).digest(), { trustAnchors: opts.trustAnchors, at, ...tctx });
      contentReports.push(timestampReport('content', c, undefined, token));
      if (!c.valid) addNotes(r, note('CONTENT_TS_INVALID', { problem: c.problem }));
      else if (c.genTime && ts.poe && c.genTime > ts.poe) addNotes(r, note('CONTENT_TS_AFTER_SIGNATURE_TS'));
    }
    if (ts.reports.length || x.reports.length || ats.reports.length || contentReports.length) r.timestamps = [...contentReports, ...ts.reports, ...x.reports, ...ats.reports];
    if (longTerm) r.embeddedEvidence = { certificates: carried.certs.length, crls: carried.crls.length, ocspResponses: carried.ocsps.length };
    addNotes(r, ...inspection.repairs);
    if (!s.signingTime) addNotes(r, note('SIGNING_TIME_MISSING', { format: 'CAdES' }));
    for (const t of ats.reports) if (!t.valid) addNotes(r, note('ARCHIVE_TS_INVALID', { problem: t.problem }));
    for (const t of ts.reports) if (!t.valid) addNotes(r, note('SIGNATURE_TS_INVALID', { problem: t.problem }));
    for (const t of x.reports) if (!t.valid) addNotes(r, note('X_TS_INVALID', { type: t.type === 'sig-and-refs' ? 'CAdES-C-time-stamp' : 'time-stamped-certs-crls-references', problem: t.problem }));
    if (ts.poe && s.signingTime && s.signingTime.getTime() > ts.poe.getTime() + 60_000) addNotes(r, note('SIGNING_TIME_AFTER_TS'));
    report.signatures.push(r);
  }
  return withNotes(report);
}
