/**
 * EME-OAEP decoding of a raw RSA result (crypto/rsa-oaep.ts), judged by OpenSSL: what node:crypto's
 * publicEncrypt pads with OAEP (each hash, with and without a label) decodes to the message after a raw
 * private-key operation, and any wrong byte, label or hash gives null.
 */
import { describe, it, expect } from 'vitest';
import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { oaepDecode, type OaepHash } from '../../src/crypto/rsa-oaep.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const K = 256;
const raw = (ct: Buffer) => privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ct);
const enc = (m: Buffer, hash: OaepHash, label?: Buffer) => publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash, ...(label ? { oaepLabel: label } : {}) }, m);

describe('EME-OAEP decoding', () => {
  for (const hash of ['sha1', 'sha256', 'sha384', 'sha512'] as const) {
    it(`${hash}: OpenSSL's encodings decode, tampered ones do not`, () => {
      const key = randomBytes(32);
      const em = raw(enc(key, hash));
      expect(oaepDecode(em, K, hash)?.equals(key)).toBe(true);
      // an empty message and the longest one the key takes
      expect(oaepDecode(raw(enc(Buffer.alloc(0), hash)), K, hash)?.length).toBe(0);
      const longest = randomBytes(K - 2 * { sha1: 20, sha256: 32, sha384: 48, sha512: 64 }[hash] - 2);
      expect(oaepDecode(raw(enc(longest, hash)), K, hash)?.equals(longest)).toBe(true);
      // with a label: the same label decodes, another or none does not
      const label = Buffer.from('nhãn');
      const labelled = raw(enc(key, hash, label));
      expect(oaepDecode(labelled, K, hash, label)?.equals(key)).toBe(true);
      expect(oaepDecode(labelled, K, hash)).toBeNull();
      expect(oaepDecode(labelled, K, hash, Buffer.from('khác'))).toBeNull();
      // another hash
      expect(oaepDecode(em, K, hash === 'sha256' ? 'sha1' : 'sha256')).toBeNull();
      // every position of the encoding matters: leading byte, masked seed, masked DB
      for (const at of [0, 1, 20, 40, 100, K - 1]) {
        const bad = Buffer.from(em);
        bad[at]! ^= 0x01;
        expect(oaepDecode(bad, K, hash)).toBeNull();
      }
    });
  }

  it('a result shorter than the modulus is taken as having lost leading zeros; a longer one is refused', () => {
    const key = randomBytes(32);
    const em = raw(enc(key, 'sha256'));
    expect(em[0]).toBe(0);
    expect(oaepDecode(em.subarray(1), K, 'sha256')?.equals(key)).toBe(true);
    expect(oaepDecode(Buffer.concat([Buffer.alloc(1), em]), K, 'sha256')).toBeNull();
  });

  it('random bytes and a PKCS#1 v1.5 encoding are not OAEP', () => {
    for (let i = 0; i < 200; i++) expect(oaepDecode(Buffer.concat([Buffer.alloc(1), randomBytes(K - 1)]), K, 'sha256')).toBeNull();
    const v15 = raw(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, randomBytes(32)));
    expect(oaepDecode(v15, K, 'sha256')).toBeNull();
  });
});
