/**
 * The key store interface: keys live in a store (software keys sealed at rest, or a PKCS#11 token) and are
 * used by handle. Callers never see private key material; they ask the store to sign.
 */
import type { KeyAlgorithm, SignatureScheme } from './algorithms.js';

export interface KeyRef {
  /** `software` or `pkcs11` */
  store: string;
  /** store-specific identifier (file id, or CKA_ID hex on a token) */
  id: string;
}

export interface KeyInfo {
  ref: KeyRef;
  label: string;
  algorithm: KeyAlgorithm;
  /** SubjectPublicKeyInfo, DER */
  spki: Buffer;
}

export interface KeyStore {
  readonly kind: string;
  /**
   * `usage` (default `sign`): `decrypt` makes a key for receiving encrypted documents (RSA decryption, ECDH
   * derivation) and not for signing — one key, one purpose.
   */
  generate(algorithm: KeyAlgorithm, label: string, opts?: { usage?: 'sign' | 'decrypt' }): Promise<KeyInfo>;
  info(id: string): Promise<KeyInfo>;
  list(): Promise<KeyInfo[]>;
  /**
   * Signs `data` (the whole message; the store hashes per the scheme). ECDSA signatures come back DER
   * encoded (X.509/CMS form) whatever the store does natively.
   */
  sign(id: string, scheme: SignatureScheme, data: Uint8Array): Promise<Buffer>;
  /** Optional fast path: a synchronous signer for software keys on hot loops (bulk issuance). */
  syncSigner?(id: string, scheme: SignatureScheme): Promise<((data: Uint8Array) => Buffer) | null>;
  /**
   * Optional fast path: signs many messages at once off the calling thread (software keys with signing
   * workers); null when the store has none configured.
   */
  batchSigner?(id: string, scheme: SignatureScheme): Promise<((data: Uint8Array[]) => Promise<Buffer[]>) | null>;
  /**
   * Optional: makes a symmetric AES-256 key-encryption key inside the store (sealed file, or a sensitive,
   * non-extractable token object) for envelope encryption (src/vault). Returns its id.
   */
  generateSecret?(label: string): Promise<SecretInfo>;
  /** Optional: seals a small secret (a data key) under a key-encryption key, AES-256-GCM with `ad`. */
  wrapSecret?(id: string, secret: Uint8Array, ad: Uint8Array): Promise<Buffer>;
  /** Optional: opens what `wrapSecret` sealed; a wrong key, `ad` or a tampered blob is a `decrypt_failed`. */
  unwrapSecret?(id: string, wrapped: Uint8Array, ad: Uint8Array): Promise<Buffer>;
  /** Optional: destroys a key-encryption key (after every data key was re-wrapped away from it). */
  destroySecret?(id: string): Promise<void>;
  /**
   * Optional: decryption with a private key for CMS recipients (src/vault/cms): RSA-OAEP (or PKCS#1 v1.5
   * when the caller's policy allows) key transport. Keys made for signing may refuse.
   */
  rsaDecrypt?(id: string, padding: RsaDecryptPadding, data: Uint8Array): Promise<Buffer>;
  /** Optional: raw ECDH shared secret (the x-coordinate) between a private key and a peer's public point. */
  ecdhDerive?(id: string, peerSpki: Uint8Array): Promise<Buffer>;
  close(): Promise<void>;
}

export interface SecretInfo {
  ref: KeyRef;
  label: string;
}

export type RsaDecryptPadding = { oaep: 'sha1' | 'sha256' | 'sha384' | 'sha512'; label?: Uint8Array } | 'pkcs1';

/** Resolves a KeyRef to the store that holds it. */
export interface KeyStores {
  get(kind: string): KeyStore;
  default: KeyStore;
}

export function keyStores(stores: KeyStore[], defaultKind?: string): KeyStores {
  const byKind = new Map(stores.map((s) => [s.kind, s]));
  const def = byKind.get(defaultKind ?? stores[0]?.kind ?? '');
  if (!def) throw new Error('no key store configured');
  return {
    get(kind) {
      const s = byKind.get(kind);
      if (!s) throw new Error(`key store "${kind}" is not configured`);
      return s;
    },
    default: def,
  };
}
