/** Bounds on what path validation accepts and how much work it does, whatever the input. */
export const MAX_CERT_BYTES = 1 << 20;
export const MAX_INTERMEDIATES = 100;
export const MAX_TRUST_ANCHORS = 1000;
/** certificates in a path, trust anchor excluded */
export const MAX_PATH_DEPTH = 10;
/** complete candidate paths validated before giving up */
export const MAX_PATHS_TRIED = 32;
/** issuer look-ups during path building, across all branches */
export const MAX_BUILD_STEPS = 2000;
/**
 * Signature verifications per validation (path building and checking; CRLs and OCSP apart): twice the
 * largest pool, so that the right issuer among MAX_INTERMEDIATES same-name, key-id-less candidates is
 * still found, while a pool crafted to make every branch verify stops early
 */
export const MAX_SIGNATURE_CHECKS = 256;
/** issuer candidates looked at during path building, across all branches */
export const MAX_CANDIDATES = 4096;
export const MAX_CRL_BYTES = 16 << 20;
export const MAX_CRLS = 100;
export const MAX_CRL_ENTRIES = 1_000_000;
export const MAX_OCSP_BYTES = 1 << 20;
export const MAX_OCSP_RESPONSES = 100;
/** name-constraint comparisons per path (names × subtrees), as OpenSSL bounds it */
export const MAX_NAME_CHECKS = 1 << 20;
/** clock skew tolerated on OCSP thisUpdate */
export const OCSP_SKEW_MS = 5 * 60_000;
/** an OCSP response without nextUpdate is taken as fresh for this long after thisUpdate */
export const OCSP_MAX_AGE_MS = 24 * 3600_000;
