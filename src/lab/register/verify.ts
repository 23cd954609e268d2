/**
 * Checking a lab report against its detached signature. The signature covers the report's canonical
 * bytes; a report file holding exactly those bytes verifies as it is (also with `openssl cms -verify`),
 * and a re-formatted copy of the same JSON verifies after canonicalisation, which the answer says.
 */
import { TrucError, isTrucError } from '../../errors.js';
import type { TrustAnchorInput } from '../../pki/path/index.js';
import { verifyDetached, type DetachedVerification } from '../../sign/index.js';
import { canonicalJson } from '../report/canonical.js';
import type { LabReport } from '../report/model.js';

export interface ReportVerification extends DetachedVerification {
  report: LabReport;
  /** true when the file was not byte-exact and was verified in its canonical form */
  canonicalised: boolean;
}

const MAX_REPORT_BYTES = 256 * 1024 * 1024;

export async function verifyReportSignature(content: Uint8Array, signature: Uint8Array, opts: { trustAnchors?: TrustAnchorInput[] } = {}): Promise<ReportVerification> {
  if (content.length > MAX_REPORT_BYTES) throw new TrucError('too_large', 'report too large');
  let report: LabReport;
  try {
    report = JSON.parse(Buffer.from(content).toString('utf8')) as LabReport;
  } catch {
    throw new TrucError('invalid_signature', 'the report is not JSON');
  }
  try {
    return { ...(await verifyDetached(signature, content, opts)), report, canonicalised: false };
  } catch (e) {
    if (!isTrucError(e) || !/does not match the signed message digest/.test(e.message)) throw e;
    const canonical = Buffer.from(canonicalJson(report), 'utf8');
    if (canonical.equals(Buffer.from(content))) throw e;
    return { ...(await verifyDetached(signature, canonical, opts)), report, canonicalised: true };
  }
}
