/**
 * Message bodies at rest in a security server's message log, encrypted under the vault's keys.
 *
 * The log asks for one cipher stream per body, with associated data naming the log and the body's random
 * 16-byte id (src/exchange/log/cipher.ts). One data key per log lives in the vault (wrapped by the active
 * key-encryption key, re-wrapped on rotation, destroyed by shredding); each body gets its own AES-256-GCM
 * key, derived with HKDF-SHA256 from that data key and the associated data, and a random 96-bit nonce:
 *
 *   stored body := nonce (12) · ciphertext · tag (16)
 *
 * A body cannot be swapped for another (its key and tag depend on the log and body ids) and any change to
 * it fails the tag at `final`. Nothing is kept whole in memory: the decryptor holds back the last 16 bytes.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, type DecipherGCM } from 'node:crypto';
import { TrucError } from '../../errors.js';
import type { BodyCipher, BodyCipherStream } from '../../exchange/log/cipher.js';
import type { Vault } from './vault.js';

const NONCE = 12;
const TAG = 16;
const EMPTY = Buffer.alloc(0);

function itemKey(dek: Buffer, aad: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', dek, EMPTY, Buffer.concat([Buffer.from('truc-log-body-key\0'), aad]), 32));
}

/** A body cipher for the log named `name` (e.g. the security server's identifier), its key in `vault`. */
export async function logBodyCipher(vault: Vault, name: string): Promise<BodyCipher> {
  const objectId = `xlog:${name}`;
  const dek = await vault.storeKey(objectId);
  return {
    id: `vault:${objectId}`.slice(0, 255),
    encryptor(aad: Buffer): BodyCipherStream {
      const nonce = randomBytes(NONCE);
      const c = createCipheriv('aes-256-gcm', itemKey(dek, aad), nonce);
      c.setAAD(aad);
      let head: Buffer | null = nonce;
      const withHead = (b: Buffer) => {
        if (!head) return b;
        const out = Buffer.concat([head, b]);
        head = null;
        return out;
      };
      return {
        update: (chunk) => withHead(c.update(chunk)),
        final: () => withHead(Buffer.concat([c.final(), c.getAuthTag()])),
      };
    },
    decryptor(aad: Buffer): BodyCipherStream {
      let head = EMPTY;
      let d: DecipherGCM | null = null;
      let tail = EMPTY;
      return {
        update(chunk) {
          if (!d) {
            head = Buffer.concat([head, chunk]);
            if (head.length < NONCE) return EMPTY;
            d = createDecipheriv('aes-256-gcm', itemKey(dek, aad), head.subarray(0, NONCE));
            d.setAAD(aad);
            chunk = head.subarray(NONCE);
            head = EMPTY;
          }
          const all = tail.length ? Buffer.concat([tail, chunk]) : chunk;
          const keep = Math.min(TAG, all.length);
          tail = Buffer.from(all.subarray(all.length - keep));
          return d.update(all.subarray(0, all.length - keep));
        },
        final() {
          if (!d || tail.length !== TAG) throw new TrucError('decrypt_failed', 'nội dung lưu trữ bị cắt cụt / the stored body is truncated');
          d.setAuthTag(tail);
          try {
            return d.final();
          } catch {
            throw new TrucError('decrypt_failed', 'nội dung lưu trữ đã bị sửa đổi / the stored body was altered (authentication tag mismatch)');
          }
        },
      };
    },
  };
}
