/**
 * EME-OAEP decoding (RFC 8017 §7.1.2, step 3) of the encoded message a raw RSA private operation gives
 * back. It exists for tokens that hold an RSA decryption key but implement OAEP only with SHA-1 (SoftHSM2
 * 2.6): the token still does the private-key operation (CKM_RSA_X_509 — offered on any CKA_DECRYPT key,
 * so nothing is opened that the token did not already allow), and the padding is checked here.
 *
 * Every way the encoding can be wrong (leading byte, label hash, padding string, missing separator) gives
 * the same answer, null, after the same work: telling them apart, or answering faster for some, is the
 * oracle of Manger's attack. Only the position of the message is data-dependent at the end, and by then
 * the encoding is known to be valid.
 */
import { createHash } from 'node:crypto';

export type OaepHash = 'sha1' | 'sha256' | 'sha384' | 'sha512';

const H_LEN: Record<OaepHash, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/** MGF1 (RFC 8017 §B.2.1) with a node:crypto hash name; OAEP here, PSS in src/sign/cms/signature-value.ts */
export function mgf1(hash: string, seed: Uint8Array, length: number): Buffer {
  const out = Buffer.alloc(length);
  const counter = Buffer.alloc(4);
  for (let at = 0, c = 0; at < length; c++) {
    counter.writeUInt32BE(c);
    const block = createHash(hash).update(seed).update(counter).digest();
    at += block.copy(out, at);
  }
  return out;
}

/** 1 when x is 0, else 0, without a branch (x a byte) */
const isZero = (x: number): number => ((x - 1) >>> 8) & 1;

/**
 * The message inside `em`, the k-byte result of the raw RSA operation (a shorter one is taken as having
 * lost its leading zero bytes), or null when it is not a valid OAEP encoding for `hash` and `label`.
 */
export function oaepDecode(em: Uint8Array, k: number, hash: OaepHash, label: Uint8Array = new Uint8Array(0)): Buffer | null {
  const hLen = H_LEN[hash];
  if (k < 2 * hLen + 2 || em.length > k) return null;
  const full = Buffer.alloc(k);
  full.set(em, k - em.length);
  const maskedSeed = full.subarray(1, 1 + hLen);
  const maskedDb = full.subarray(1 + hLen);
  const seed = mgf1(hash, maskedDb, hLen);
  for (let i = 0; i < hLen; i++) seed[i]! ^= maskedSeed[i]!;
  const db = mgf1(hash, seed, k - hLen - 1);
  for (let i = 0; i < db.length; i++) db[i]! ^= maskedDb[i]!;
  const lHash = createHash(hash).update(label).digest();

  let good = isZero(full[0]!);
  let diff = 0;
  for (let i = 0; i < hLen; i++) diff |= db[i]! ^ lHash[i]!;
  good &= isZero(diff);
  // PS (zero bytes) then 0x01 then M: find the first 0x01, and fail on any other byte before it
  let found = 0;
  let index = 0;
  let stray = 0;
  for (let i = hLen; i < db.length; i++) {
    const b = db[i]!;
    const one = isZero(b ^ 1);
    const zero = isZero(b);
    const first = one & (found ^ 1);
    index |= -first & i;
    stray |= (found ^ 1) & (one ^ 1) & (zero ^ 1);
    found |= one;
  }
  good &= found & (stray ^ 1);
  full.fill(0);
  seed.fill(0);
  if (!good) {
    db.fill(0);
    return null;
  }
  const message = Buffer.from(db.subarray(index + 1));
  db.fill(0);
  return message;
}
