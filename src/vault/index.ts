/**
 * Vault: protection of stored and transmitted data. Envelope encryption at rest (a data key per object
 * version, streaming AEAD, key-encryption keys in a key store, rotation, crypto-shredding), CMS
 * EnvelopedData/AuthEnvelopedData to recipients' certificates, classification labels and the release
 * checks that run before a document is encrypted and sent.
 */
export { vaultMigrations } from './envelope/migrations.js';
export { Vault, objectAd, type ObjectRef, type KekInfo, type VaultDeps, type EncryptOptions, type RotationReport } from './envelope/vault.js';
export { bodyCipher, type BodyCipher } from './envelope/body-cipher.js';
export { encryptStream, decryptStream, sealBuffer, openBuffer, STREAM_HEADER_LENGTH, type StreamOptions } from './envelope/stream.js';
export { encryptCms, decryptCms, keyObjectRecipient, keyStoreRecipient, type CmsEncryptOptions, type CmsDecryptOptions, type CmsDecrypted, type RecipientKey } from './cms/index.js';
