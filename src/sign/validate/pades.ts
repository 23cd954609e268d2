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

const TIMESTAMP_TOKEN = '1.2.840.113549.1.9.16.2.14';
const SIGNING_TIME = '1.2.840.113549.1.9.5';

export async function validatePdf(pdf: Uint8Array, opts: ValidationOptions): Promise<ValidationReport> {
  const at = opts.at ?? new Date();
  const sigs = readPdfSignatures(pdf);
  const report: ValidationReport = {
    validationTime: at.toISOString(),
    document: { kind: 'pdf', bytes: pdf.length, sha256: createHash('sha256').update(pdf).digest('hex') },
    signatures: [],
  };
  for (const [index, s] of sigs.entries()) {
    const pdfPart = { fieldName: s.fieldName, byteRange: s.byteRange, coversWholeFile: s.coversWholeFile, modifiedAfter: s.modifiedAfter, laterSignatures: s.laterSignatures };
    const failed = (message: string, sub: SignatureReport['subIndication'] = 'FORMAT_FAILURE'): SignatureReport => ({
      index,
      format: 'PAdES',
      level: 'unknown',
      indication: sub === 'FORMAT_FAILURE' ? 'TOTAL-FAILED' : 'INDETERMINATE',
      subIndication: sub,
      message,
      ...(s.claimedSigningTime ? { claimedSigningTime: s.claimedSigningTime.toISOString() } : {}),
      checks: { integrity: null, signatureValue: null, signingCertificateReference: null, certificateChain: null, certificateValidAtSigningTime: null },
      certificatePath: [],
      pdf: pdfPart,
      warnings: [],
    });
    if (s.formatProblem || !s.cms) {
      report.signatures.push(failed(s.formatProblem ?? 'no CMS in /Contents'));
      continue;
    }
    if (s.subFilter !== 'ETSI.CAdES.detached' && s.subFilter !== 'adbe.pkcs7.detached') {
      report.signatures.push(failed(`/SubFilter ${s.subFilter ?? '(none)'} is not supported`, 'FORMAT_FAILURE'));
      continue;
    }
    let inspection;
    try {
      inspection = inspectCms(s.cms, s.digestOf);
    } catch (e) {
      if (!isTrucError(e)) throw e;
      report.signatures.push(failed(e.message));
      continue;
    }
    const signer = inspection.signers[0];
    const level = signer.unsignedAttributes.has(TIMESTAMP_TOKEN) ? 'B-T' : 'B-B';
    const r = await validateSigner(signer, inspection.certificates, inspection.crls, { index, format: 'PAdES', level, claimedSigningTime: s.claimedSigningTime ?? signer.signingTime }, { ...opts, at });
    r.pdf = pdfPart;
    if (inspection.signers.length !== 1) r.warnings.push(`the CMS has ${inspection.signers.length} signers; only the first is validated`);
    if (s.subFilter === 'ETSI.CAdES.detached' && signer.signedAttributes.includes(SIGNING_TIME)) r.warnings.push('a PAdES signature must not carry a signing-time attribute');
    if (s.modifiedAfter) r.warnings.push('the document was changed after this signature by something other than a later signature');
    report.signatures.push(r);
  }
  return report;
}
