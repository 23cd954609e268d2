/**
 * What decryption needs of a recipient's private key: RSA decryption (key transport) or an ECDH shared
 * secret (key agreement). Either a key in one of our key stores (software or PKCS#11: the private key
 * never leaves the token) or an in-process key object (a PEM file given on the command line).
 */
import { constants, createPublicKey, diffieHellman, privateDecrypt, type KeyObject } from 'node:crypto';
import { TrucError } from '../../errors.js';
import type { KeyStore, RsaDecryptPadding } from '../../crypto/keystore.js';

export interface RecipientKey {
  readonly kind: 'rsa' | 'ec' | 'x25519';
  rsaDecrypt(padding: RsaDecryptPadding, data: Uint8Array): Promise<Buffer>;
  ecdh(peerSpki: Uint8Array): Promise<Buffer>;
}

export function keyObjectRecipient(key: KeyObject): RecipientKey {
  const type = key.asymmetricKeyType;
  const kind = type === 'rsa' ? 'rsa' : type === 'ec' ? 'ec' : type === 'x25519' ? 'x25519' : null;
  if (!kind) throw new TrucError('unsupported', `a ${type} key cannot receive encrypted documents`);
  return {
    kind,
    async rsaDecrypt(padding, data) {
      if (kind !== 'rsa') throw new TrucError('decrypt_failed', 'not an RSA key');
      try {
        if (padding === 'pkcs1') {
          const em = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, data);
          let sep = -1;
          for (let i = 2; i < em.length; i++) if (em[i] === 0 && sep < 0) sep = i;
          if (em[0] !== 0 || em[1] !== 2 || sep < 10) throw new Error('padding');
          return em.subarray(sep + 1);
        }
        return privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: padding.oaep, oaepLabel: padding.label }, data);
      } catch {
        throw new TrucError('decrypt_failed', 'RSA key transport did not decrypt with this key');
      }
    },
    async ecdh(peerSpki) {
      try {
        return diffieHellman({ privateKey: key, publicKey: createPublicKey({ key: Buffer.from(peerSpki), format: 'der', type: 'spki' }) });
      } catch {
        throw new TrucError('decrypt_failed', 'ECDH with the originator key failed (another curve?)');
      }
    },
  };
}

export async function keyStoreRecipient(store: KeyStore, id: string): Promise<RecipientKey> {
  const info = await store.info(id);
  const kind = info.algorithm.startsWith('RSA') ? 'rsa' : info.algorithm.startsWith('EC-') ? 'ec' : null;
  if (!kind) throw new TrucError('unsupported', `a ${info.algorithm} key cannot receive encrypted documents`);
  return {
    kind,
    rsaDecrypt(padding, data) {
      if (!store.rsaDecrypt) throw new TrucError('unsupported', `key store ${store.kind} cannot decrypt`);
      return store.rsaDecrypt(id, padding, data);
    },
    ecdh(peerSpki) {
      if (!store.ecdhDerive) throw new TrucError('unsupported', `key store ${store.kind} cannot derive`);
      return store.ecdhDerive(id, peerSpki);
    },
  };
}
