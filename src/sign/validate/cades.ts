/**
 * Validation of a CAdES signature (detached with its content, or enveloping): each SignerInfo through
 * basic signature validation. A CMS that cannot be read is one TOTAL-FAILED / FORMAT_FAILURE entry — a
 * report, not an exception — so a relying party always gets an answer.
 */
import { createHash } from 'node:crypto';
import { isTrucError } from '../../errors.js';
import { inspectCms } from '../cades/verify.js';
import type { ValidationReport } from './report.js';
import { validateSigner, type ValidationOptions } from './signer.js';

const TIMESTAMP_TOKEN = '1.2.840.113549.1.9.16.2.14';

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
    const level = s.unsignedAttributes.has(TIMESTAMP_TOKEN) ? 'B-T' : 'B-B';
    const r = await validateSigner(s, inspection.certificates, inspection.crls, { index, format: 'CAdES', level, claimedSigningTime: s.signingTime }, { ...opts, at });
    if (!s.signingTime) r.warnings.push('no signing-time attribute (required by CAdES baseline)');
    if (level === 'B-T') r.warnings.push('the signature time-stamp is not validated yet: validation at the current time');
    report.signatures.push(r);
  }
  return report;
}
