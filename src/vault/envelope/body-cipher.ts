/**
 * The cipher a store plugs in for bodies at rest (the message log's bodies and attachments, stored
 * documents, uploads, the records a store keeps in its database): streaming encrypt/decrypt of one object
 * by id, or the whole-buffer seal/open of a small one, with the caller's associated data, over the vault's
 * envelope keys. Ids are prefixed by a namespace so that two stores never share a key row.
 */
import type { Transform } from 'node:stream';
import type { Vault } from './vault.js';

export interface BodyCipher {
  /** plaintext in, ciphertext out; makes the object's data key (an id encrypts once: `conflict` after) */
  encrypt(id: string, ad?: Uint8Array, opts?: { expiresAt?: Date }): Promise<Transform>;
  /** ciphertext in, plaintext out; the stream errors with `decrypt_failed` on tampering or truncation */
  decrypt(id: string, ad?: Uint8Array): Promise<Transform>;
  /** a small object sealed whole under its own data key (same rules as `encrypt`) */
  seal(id: string, plaintext: Uint8Array, ad?: Uint8Array, opts?: { expiresAt?: Date }): Promise<Buffer>;
  /** opens what `seal` made: `decrypt_failed` when altered or the associated data differs, `shredded` once shredded */
  open(id: string, sealed: Uint8Array, ad?: Uint8Array): Promise<Buffer>;
  /** crypto-shreds the object (retention); returns whether a key was destroyed */
  shred(id: string, reason?: string): Promise<boolean>;
}

export function bodyCipher(vault: Vault, namespace: string): BodyCipher {
  const key = (id: string) => `${namespace}:${id}`;
  return {
    encrypt: (id, ad, opts) => vault.encrypt({ id: key(id) }, { ad, expiresAt: opts?.expiresAt }),
    decrypt: (id, ad) => vault.decrypt({ id: key(id) }, { ad }),
    seal: (id, plaintext, ad, opts) => vault.seal({ id: key(id) }, plaintext, { ad, expiresAt: opts?.expiresAt }),
    open: (id, sealed, ad) => vault.open({ id: key(id) }, sealed, { ad }),
    shred: async (id, reason) => (await vault.shred({ id: key(id) }, { reason: reason ?? 'retention expired' })) > 0,
  };
}
