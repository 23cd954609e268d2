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
import { createCipheriv, createDecipheriv, createHmac, type DecipherGCM } from 'node:crypto';
import { randomPooled } from '../../crypto/random.js';
import { TrucError } from '../../errors.js';
import type { BodyCipher, BodyCipherStream } from '../../exchange/log/cipher.js';
import type { Vault } from './vault.js';

const NONCE = 12;
const TAG = 16;
const EMPTY = Buffer.alloc(0);

const INFO = Buffer.from('truc-log-body-key\0');
const ONE = Buffer.from([1]);

/**
 * HKDF-SHA256 (RFC 5869) with an empty salt, computed as its two steps: the extract step once per log key
 * (`prk`), the expand step per body — one HMAC for a 32-byte key. Same bytes as `hkdfSync('sha256', dek,
 * '', info, 32)`, at a quarter of its cost (node's one-shot HKDF builds key objects on every call).
 */
function extract(dek: Buffer): Buffer {
  return createHmac('sha256', Buffer.alloc(32)).update(dek).digest();
}

function itemKey(prk: Buffer, aad: Buffer): Buffer {
  return createHmac('sha256', prk).update(INFO).update(aad).update(ONE).digest();
}

/** The log name in a cipher id written with each body (`vault:xlog:<name>`), or undefined for another cipher. */
export function logNameOfCipher(id: string): string | undefined {
  return id.startsWith('vault:xlog:') ? id.slice('vault:xlog:'.length) : undefined;
}

/**
 * A body cipher for the log named `name` (e.g. the security server's identifier), its key in `vault`.
 * `create: false` (a verifier) never makes a key: `not_found` when the log has none.
 */
export async function logBodyCipher(vault: Vault, name: string, o: { create?: boolean } = {}): Promise<BodyCipher> {
  const objectId = `xlog:${name}`;
  const prk = extract(await (o.create === false ? vault.existingStoreKey(objectId) : vault.storeKey(objectId)));
  return {
    id: `vault:${objectId}`.slice(0, 255),
    encryptor(aad: Buffer): BodyCipherStream {
      const nonce = randomPooled(NONCE);
      const c = createCipheriv('aes-256-gcm', itemKey(prk, aad), nonce);
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
            d = createDecipheriv('aes-256-gcm', itemKey(prk, aad), head.subarray(0, NONCE));
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
