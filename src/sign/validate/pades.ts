/**
 * Validation of the signatures of a PDF (PAdES, EN 319 142-1 with EN 319 102-1): each signature field's
 * CMS checked against the bytes its ByteRange covers, the signer validated as for CAdES (the claimed
 * signing time is /M: PAdES signatures carry no signing-time attribute), and for each signature whether
 * the file was changed after it by anything other than later signatures. A PDF that cannot be read is a
 * `malformed_pdf` error; a signature that cannot be read is a FORMAT_FAILURE entry.
 */
import { createHash } from 'node:crypto';
import { isTrucError } from '../../errors.js';
import { inspectCms } from '../cades/verify.js';
import { readPdfSignatures } from '../pades/verify.js';
import type { SignatureReport, ValidationReport } from './report.js';
import { validateSigner, type ValidationOptions } from './signer.js';
import { addNotes, note, withNotes, type ReportNote } from './notes.js';

import { UNSIGNED } from '../cades/unsigned.js';
import { dssOffset, readDss } from '../pades/dss.js';
import { PdfDocument } from '../pdf/document.js';
import { verifyTimeStamp } from '../timestamp/verify.js';
import type { TimestampReport } from './report.js';
import { signatureTimestamps, timestampReport, withCarried, type Carried } from './timestamps.js';

const SIGNING_TIME = '1.2.840.113549.1.9.5';

export async function validatePdf(pdf: Uint8Array, opts: ValidationOptions): Promise<ValidationReport> {
  const at = opts.at ?? new Date();
  const all = readPdfSignatures(pdf);
  const sigs = all.filter((s) => s.subFilter !== 'ETSI.RFC3161');
  const doc = new PdfDocument(Buffer.from(pdf.buffer, pdf.byteOffset, pdf.byteLength));
  const dss = readDss(doc);
  const dssAt = dssOffset(doc);
  const carried: Carried = { certs: dss?.certs ?? [], crls: dss?.crls ?? [], ocsps: dss?.ocsps ?? [] };
  const report: ValidationReport = {
    validationTime: at.toISOString(),
    document: { kind: 'pdf', bytes: pdf.length, sha256: createHash('sha256').update(pdf).digest('hex') },
    signatures: [],
  };

  const pool: Buffer[] = [];
  for (const s of sigs)
    try {
      if (s.cms) pool.push(...inspectCms(s.cms, () => Buffer.alloc(0)).certificates);
    } catch {
      // reported with the signature below
    }
  // document time-stamps, newest first: each later valid one is a proof of existence of those before it
  const docTs: { coverEnd: number; genTime?: Date; valid: boolean; report: TimestampReport }[] = [];
  let later: Date | undefined;
  for (const s of all.filter((x) => x.subFilter === 'ETSI.RFC3161').sort((a, b) => b.coverEnd - a.coverEnd)) {
    if (s.formatProblem || !s.cms) {
      docTs.push({ coverEnd: s.coverEnd, valid: false, report: { type: 'document', valid: false, fieldName: s.fieldName, failure: 'FORMAT_FAILURE', problem: s.formatProblem ?? 'no token in /Contents' } });
      continue;
    }
    const tctx = withCarried(opts, carried);
    tctx.intermediates.push(...pool);
    const c = await verifyTimeStamp(s.cms, s.digestOf, { trustAnchors: opts.trustAnchors, at, ...tctx, ...(later ? { poe: later } : {}) });
    const r = timestampReport('document', c, s.fieldName, s.cms);
    if (s.modifiedAfter) addNotes(r, note('DOCUMENT_CHANGED_AFTER_TIMESTAMP'));
    docTs.push({ coverEnd: s.coverEnd, valid: c.valid, report: r, ...(c.genTime ? { genTime: c.genTime } : {}) });
    if (c.valid) later = c.genTime;
  }
  docTs.reverse();
  if (docTs.length) report.documentTimestamps = docTs.map((d) => d.report);

  for (const [index, s] of sigs.entries()) {
    const pdfPart = {
      fieldName: s.fieldName,
      byteRange: s.byteRange,
      coversWholeFile: s.coversWholeFile,
      modifiedAfter: s.modifiedAfter,
      changesAfter: s.changesAfter,
      laterSignatures: s.laterSignatures,
      ...(s.certification ? { certification: s.certification } : {}),
      ...(s.fieldLock ? { fieldLock: s.fieldLock } : {}),
    };
    const failed = (message: string, sub: SignatureReport['subIndication'] = 'FORMAT_FAILURE', indication: SignatureReport['indication'] = sub === 'FORMAT_FAILURE' ? 'TOTAL-FAILED' : 'INDETERMINATE'): SignatureReport => ({
      index,
      format: 'PAdES',
      level: 'unknown',
      indication,
      subIndication: sub,
      message,
      ...(s.claimedSigningTime ? { claimedSigningTime: s.claimedSigningTime.toISOString() } : {}),
      checks: { integrity: null, signatureValue: null, signingCertificateReference: null, certificateChain: null, certificateValidAtSigningTime: null },
      certificatePath: [],
      pdf: pdfPart,
      warnings: [],
      notes: [],
    });
    if (s.formatProblem || !s.cms) {
      report.signatures.push(failed(s.formatProblem ?? 'no CMS in /Contents'));
      continue;
    }
    const sha1Style = s.subFilter === 'adbe.pkcs7.sha1';
    if (s.subFilter !== 'ETSI.CAdES.detached' && s.subFilter !== 'adbe.pkcs7.detached' && !sha1Style) {
      // a format we do not read proves nothing against the signature: not checked, so not failed
      report.signatures.push(failed(`chưa hỗ trợ dạng chữ ký này, chữ ký chưa được kiểm tra / /SubFilter ${s.subFilter ?? '(none)'} is not supported: the signature was not checked`, 'FORMAT_FAILURE', 'INDETERMINATE'));
      continue;
    }
    let inspection;
    try {
      // adbe.pkcs7.sha1 (ISO 32000-1 §12.8.3.3.1): the CMS encapsulates the SHA-1 digest of the ByteRange and
      // signs that; the detached forms sign the ByteRange itself
      inspection = sha1Style ? inspectCms(s.cms) : inspectCms(s.cms, s.digestOf);
    } catch (e) {
      if (!isTrucError(e)) throw e;
      // a digest outside the policy (SHA-1, MD5) is a cryptographic constraint, not a broken file
      report.signatures.push(failed(e.message, e.code === 'unsupported' ? 'CRYPTO_CONSTRAINTS_FAILURE' : 'FORMAT_FAILURE'));
      continue;
    }
    const signer = inspection.signers[0];
    const contentNotes: ReportNote[] = [...inspection.repairs];
    if (sha1Style) {
      const byteRangeSha1 = s.digestOf('sha1');
      if (inspection.content === undefined) {
        report.signatures.push(failed('CMS không mang giá trị băm của ByteRange / adbe.pkcs7.sha1: the CMS does not encapsulate the digest of the ByteRange'));
        continue;
      }
      // the encapsulated digest must be the ByteRange's, as the messageDigest must be the encapsulated digest's
      if (!inspection.content.equals(byteRangeSha1)) signer.digestMatches = false;
      (signer.otherDigests ??= []).push('sha1');
    } else if (inspection.content !== undefined) {
      // a detached PAdES CMS that encapsulates content signs that content, not the ByteRange (DSS: not intact)
      signer.digestMatches = false;
      contentNotes.push(note('CMS_CONTENT_NOT_BYTE_RANGE', { bytes: inspection.content.length }));
    }
    const covering = docTs.filter((d) => d.coverEnd >= s.coverEnd);
    const firstCover = covering.find((d) => d.valid)?.genTime;
    const ts = await signatureTimestamps(signer, { ...opts, at }, carried, firstCover, inspection.certificates);
    const poes = [ts.poe, ...covering.filter((d) => d.valid).map((d) => d.genTime)].filter((d): d is Date => !!d);
    const poe = poes.length ? new Date(Math.min(...poes.map((d) => d.getTime()))) : undefined;
    const timed = signer.unsignedAttributes.has(UNSIGNED.signatureTimeStamp) || covering.length > 0;
    const longTerm = timed && dssAt !== undefined && dssAt > s.coverEnd;
    const archived = longTerm && docTs.some((d) => d.coverEnd > dssAt!);
    const level = archived ? 'B-LTA' : longTerm ? 'B-LT' : timed ? 'B-T' : 'B-B';
    const r = await validateSigner(signer, inspection.certificates, [...inspection.crls, ...carried.crls], { index, format: 'PAdES', level, claimedSigningTime: s.claimedSigningTime ?? signer.signingTime }, { ...opts, at }, { ocsps: [...carried.ocsps, ...inspection.ocsps], certs: carried.certs, ...(poe ? { poe } : {}) });
    r.pdf = pdfPart;
    addNotes(r, ...doc.repairs.map((detail) => note('PDF_READ_LENIENTLY', { detail })), ...contentNotes);
    // content time-stamps (signed attributes): each over the bytes the ByteRange covers
    const contentStamps: TimestampReport[] = [];
    for (const token of signer.contentTimestamps ?? []) {
      const tctx = withCarried({ ...opts, at }, carried);
      tctx.intermediates.push(...pool);
      const c = await verifyTimeStamp(token, (h) => s.digestOf(h), { trustAnchors: opts.trustAnchors, at, ...tctx });
      contentStamps.push(timestampReport('content', c, undefined, token));
    }
    const stamps = [...contentStamps, ...ts.reports, ...covering.map((d) => d.report)];
    if (stamps.length) r.timestamps = stamps;
    if (dss) r.embeddedEvidence = { certificates: dss.certs.length, crls: dss.crls.length, ocspResponses: dss.ocsps.length };
    for (const t of ts.reports) if (!t.valid) addNotes(r, note('SIGNATURE_TS_INVALID', { problem: t.problem }));
    for (const t of contentStamps) if (!t.valid) addNotes(r, note('CONTENT_TS_INVALID', { problem: t.problem }));
    if (inspection.signers.length !== 1) addNotes(r, note('CMS_MULTIPLE_SIGNERS', { count: inspection.signers.length }));
    if (s.subFilter === 'ETSI.CAdES.detached' && signer.signedAttributes.includes(SIGNING_TIME)) addNotes(r, note('PADES_SIGNING_TIME_PRESENT'));
    if (s.changesAfter.length) addNotes(r, note('DOCUMENT_CHANGED_AFTER', { changes: s.changesAfter.join('; ') }));
    else if (s.modifiedAfter) addNotes(r, note('DOCUMENT_FILLED_AFTER'));
    const mdp = s.certification;
    if (mdp?.violations.length && r.indication === 'TOTAL-PASSED')
      Object.assign(r, { indication: 'INDETERMINATE', subIndication: 'SIG_CONSTRAINTS_FAILURE', message: `changes the certification (DocMDP P=${mdp.permissions}) does not permit: ${mdp.violations.join('; ')}` });
    // ISO 32000-1 §12.8.2 and PAdES (EN 319 142-1 §5.4): an incremental update may add to a signed document
    // (fill in, sign, annotate, add validation data) but what alters the objects the signature covered —
    // the shadow and spoofing attacks — leaves the signed document unconfirmed, whatever the certification
    if (!mdp && s.alteredAfter.length && r.indication === 'TOTAL-PASSED')
      Object.assign(r, { indication: 'INDETERMINATE', subIndication: 'SIG_CONSTRAINTS_FAILURE', message: `tài liệu bị thay đổi sau khi ký, ở phần chữ ký đã ký / the document was changed after this signature in what it signed: ${s.alteredAfter.join('; ')}` });
    const lock = s.fieldLock;
    if (lock?.violations.length && r.indication === 'TOTAL-PASSED')
      Object.assign(r, { indication: 'INDETERMINATE', subIndication: 'SIG_CONSTRAINTS_FAILURE', message: `changes the signature's field lock (FieldMDP ${lock.action}) does not permit: ${lock.violations.join('; ')}` });
    report.signatures.push(r);
  }
  return withNotes(report);
}
