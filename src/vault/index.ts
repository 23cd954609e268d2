/**
 * Vault: protection of stored and transmitted data. Envelope encryption at rest (a data key per object
 * version, streaming AEAD, key-encryption keys in a key store, rotation, crypto-shredding), CMS
 * EnvelopedData/AuthEnvelopedData to recipients' certificates, classification labels and the release
 * checks that run before a document is encrypted and sent.
 */
export { vaultMigrations } from './migrations.js';
export { Vault, objectAd, type ObjectRef, type KekInfo, type VaultDeps, type EncryptOptions, type RotationReport } from './envelope/vault.js';
export { bodyCipher, type BodyCipher } from './envelope/body-cipher.js';
export { encryptStream, decryptStream, sealBuffer, openBuffer, STREAM_HEADER_LENGTH, type StreamOptions } from './envelope/stream.js';
export { encryptCms, decryptCms, keyObjectRecipient, keyStoreRecipient, type CmsEncryptOptions, type CmsDecryptOptions, type CmsDecrypted, type RecipientKey, cmsEncryptStream, cmsDecryptStream, type CmsStreamWriter, type CmsStreamKey } from './cms/index.js';
export { LEVELS, LEVEL_NAME, ESS_CLASSIFICATION, rank as levelRank, parseLevel, isClassified, type Level } from './labels/levels.js';
export { securityLabelAttribute, readSecurityLabel, ID_AA_SECURITY_LABEL, VN_STATE_SECRETS_POLICY, type SecurityLabel } from './labels/security-label.js';
export { findMarkings, highestMarking, pdfText, type Marking } from './labels/markings.js';
export { PolicyStore, parsePolicy, DEFAULT_POLICY, releasePolicyMigrations, type ReleasePolicy, type StoredPolicy } from './release/policy.js';
export { decideRelease, enforceRelease, type ReleaseRequest, type ReleaseDecision, type ReleaseReason } from './release/check.js';
export { decideReceipt, enforceReceipt, type ReceiptRequest, type ReceiptDecision, type ReceiptReason } from './release/receipt.js';
