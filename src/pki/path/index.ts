/**
 * Certificate path validation (RFC 5280 section 6). `validatePath` takes a target certificate, a pool of
 * untrusted intermediates and a set of trust anchors (certificates, or a name and a key), builds
 * candidate paths up to an anchor (names compared the RFC way, AKI/SKI preferred, cross-certificates and
 * same-name CAs with different keys tried in turn, depth and effort bounded, loops cut), and validates
 * them at a given time — now or in the past: signatures (RSA PKCS#1 and PSS, ECDSA, EdDSA),
 * validity, basicConstraints and path length, key usage and extended key usage for the purpose asked,
 * name constraints (DNS, email, directory names, IPv4/IPv6 ranges, URI hosts), certificate policies
 * (with policy mapping, in a collapsed tree that drops qualifiers) and unknown critical extensions; then
 * revocation from CRLs (complete, delta, indirect, scoped by issuing distribution point) and OCSP
 * (CA-signed or delegated responders), with hard-fail, soft-fail or no revocation checking. The answer is
 * a value, never an exception: valid with the path and the revocation evidence used, or invalid with a
 * stable reason code, the certificate at fault and the path tried. Options: a validation profile
 * (`rfc5280`, or the web-PKI-style `strict`, ./profile.ts, with the structure rules every profile
 * enforces), the maximum number of intermediates, and a peer name (DNS name, IP address or e-mail) the
 * target must be valid for (RFC 6125, ./peer-name.ts). Every validation has a work budget (signature
 * checks and candidates, ./work.ts; a second one for a pass from the anchors' side when the first runs
 * out, ./build.ts) and reports what it spent. `buildOcspRequest` makes the request a
 * fetcher sends. The `truc verify-cert` command and `POST /api/v1/certificates/validate` are thin wrappers.
 */
export { validatePath, type ValidatePathInput } from './validate.js';
export type { PathResult, ValidPath, InvalidPath, FailureReason, RevocationEvidence, WorkDone, PathNote } from './result.js';
export { PROFILES, type ProfileName } from './profile.js';
export { peerNameOf, type PeerName } from './peer-name.js';
export type { RevocationOptions } from './revocation.js';
export { revocationTimeOf } from './revocation.js';
export type { Purpose } from './purpose.js';
export type { TrustAnchorInput } from './anchor.js';
export { buildOcspRequest, type OcspRequestOptions, type CertIdHash } from './ocsp-request.js';
export { parseCertificate, type Certificate } from './certificate.js';
export { parseCrl, type Crl } from './crl.js';
export * as limits from './limits.js';
export { checkSignature, type SignatureCheck } from './signature.js';
