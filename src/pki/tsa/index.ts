/**
 * Time-stamping authority (RFC 3161, with RFC 5816 ESSCertIDv2). Takes a TimeStampReq for a SHA-256,
 * SHA-384 or SHA-512 digest and answers a TimeStampResp whose token is CMS SignedData over a TSTInfo
 * (policy, serial, genTime with accuracy, the nonce echoed), signed by a time-stamping certificate the
 * platform issues to itself. Weak or unknown hashes and malformed requests get a rejection status, not
 * an error page. The HTTP binding lives in src/http/tsa.
 */
export { TimeStampAuthority, type TsaOptions } from './authority.js';
export { parseTimeStampRequest, MAX_TSA_REQUEST_BYTES, type TimeStampRequest, type FailureInfo } from './request.js';
export { tsaMigrations, getToken, type TokenRow } from './store.js';
export { grantedResponse, rejectionResponse } from './respond.js';
