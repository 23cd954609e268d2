/**
 * A certificate's status asked again when an operator approves the request that carried it. A request may
 * wait for days; the OCSP responses it carried prove its certificates good when it came, not now — a
 * signing key reported stolen while its address change waited would otherwise still move the server. So
 * at approval the central server asks the responders of the approved CA that issued the certificate itself
 * (the operator approved those URLs; the certificate's own AIA is not asked), as security servers fetch
 * their own responses (../server/own-status.ts), but once and with a nonce, so that a responder which
 * honours nonces signs its answer now. What is asked here is only whether an answer can be had: the
 * caller judges it with the path validator, as it judged the responses the request carried.
 */
import { buildOcspRequest, parseCertificate, type Certificate } from '../../pki/path/index.js';
import { evaluateOcsp, parseOcspResponse } from '../../pki/path/ocsp.js';
import { issuerOfCert } from '../../pki/path/issuer.js';
import type { CaEntry } from './store.js';
import { httpOcspFetcher, type OcspFetcher } from '../server/own-status.js';

export { httpOcspFetcher, type OcspFetcher };

/** one responder's time to answer, and all of a CA's responders' together: an operator is waiting */
const PER_RESPONDER_MS = 5_000;
const OVERALL_MS = 10_000;

/** A current answer of a responder, or why none could be had (no responder reached, none usable). */
export type Asked = { response: Buffer; url: string } | { unavailable: string };

/**
 * Asks the OCSP responders of the approved CA that issued `certDer` for its status now. Answers the first
 * response that is signed by the CA or its delegate, is about this certificate, says good, revoked or
 * unknown, and is no older than `maxAgeMs`; a responder that cannot be reached, says tryLater, or answers
 * anything else is passed over (the caller decides what its silence means).
 */
export async function askResponders(cas: readonly CaEntry[], certDer: Buffer, now: Date, maxAgeMs: number, fetcher: OcspFetcher = httpOcspFetcher): Promise<Asked> {
  let cert: Certificate;
  try {
    cert = parseCertificate(certDer);
  } catch {
    return { unavailable: 'the certificate cannot be read' };
  }
  for (const ca of cas) {
    const issuerDer = [ca.certificate, ...ca.intermediates].find((c) => {
      try {
        return parseCertificate(c).subject.der.equals(cert.issuer.der);
      } catch {
        return false;
      }
    });
    if (!issuerDer) continue;
    const issuer = issuerOfCert(parseCertificate(issuerDer));
    const deadline = AbortSignal.timeout(OVERALL_MS);
    const why: string[] = [];
    for (const url of ca.ocspUrls) {
      if (deadline.aborted) {
        why.push(`${url}: not asked, ${OVERALL_MS / 1000} s spent`);
        continue;
      }
      try {
        const der = await fetcher(url, buildOcspRequest(certDer, issuerDer, { nonce: true }), AbortSignal.any([deadline, AbortSignal.timeout(PER_RESPONDER_MS)]));
        const parsed = parseOcspResponse(der);
        if (typeof parsed === 'string') throw new Error(parsed);
        const r = evaluateOcsp(parsed, cert, issuer, now);
        if (!r.ok) throw new Error(r.why);
        if (now.getTime() - r.answer.thisUpdate.getTime() > maxAgeMs) throw new Error(`answered with a response produced at ${r.answer.thisUpdate.toISOString()}`);
        return { response: der, url };
      } catch (e) {
        const cause = (e as { cause?: { code?: unknown } }).cause?.code;
        why.push(`${url}: ${String((e as Error).message ?? e).slice(0, 200)}${typeof cause === 'string' ? ` (${cause})` : ''}`);
      }
    }
    return { unavailable: why.join('; ') || `the CA ${ca.name} has no OCSP URL` };
  }
  return { unavailable: 'no approved CA issued the certificate' };
}
