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
  generate(algorithm: KeyAlgorithm, label: string): Promise<KeyInfo>;
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
  close(): Promise<void>;
}

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
