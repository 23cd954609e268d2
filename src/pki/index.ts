/**
 * PKI: the government CA. A root and issuing CAs with keys in software or PKCS#11 key stores; certificate
 * profiles as data; issuance from PKCS#10 requests in batches, each certificate stored and audited before
 * it is returned; revocation with RFC 5280 reasons, including hold and release; full and delta CRLs.
 * Path validation (`./path`) checks certificates for relying parties.
 */
export { pkiMigrations, searchCerts, getCert, getCa, listCas, latestCrl, type CaRow, type CertRow, type CertQuery, type CrlRow } from './store.js';
export { type PkiContext, urls } from './context.js';
export { initHierarchy, addCa, caChain, type CaSpec } from './hierarchy.js';
export { Issuer, prepare, defaultIssuingCa, type IssueRequest, type Issued } from './issue.js';
export { KeyAgreementRequests, type KaRequestRow } from './key-agreement/service.js';
export { signKaRequest, readKaRequest, answerChallenge, type KaRequest, type KaChallenge, type PopKey } from './key-agreement/request.js';
export { revoke, release, parseReason, reasonName, REASONS, type RevokeRequest } from './revoke.js';
export { generateCrl, currentCrl, refreshCrls } from './crl.js';
export { loadProfiles, parseProfile, type Profile } from './profile.js';
export { parseCsr, type ParsedCsr } from './csr.js';
export { normalizeSerial } from './serial.js';
export { describeCertificate, type DescribedCertificate, type DescribedExtension } from './describe.js';
export { encodeName, decodeName, nameToString, parseNameString, type NameAttribute } from './name.js';
