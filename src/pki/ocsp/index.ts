/**
 * OCSP responder (RFC 6960, RFC 5019 profile). Answers good, revoked (time and reason) or unknown for each
 * CertID of a request (SHA-1, SHA-256, SHA-384 or SHA-512 CertIDs), signed by a delegated responder
 * certificate per issuing CA or by the CA itself, with the nonce echoed when asked. Responses for every
 * known certificate are signed ahead and served from memory; revocations re-sign at once. The HTTP
 * binding lives in src/http/ocsp.
 */
export { OcspResponder, canonicalRequest, type OcspOptions, type OcspReply, type RequestMeta } from './responder.js';
export { parseOcspRequest, MAX_REQUEST_BYTES, type ParsedOcspRequest, type RequestedCertId } from './request.js';
export { OCSP_STATUS, MALFORMED, INTERNAL_ERROR, UNAUTHORIZED } from './respond.js';
