/**
 * Password-based encryption (pbe_test_schema): PBES2 of RFC 8018 §6.2 — PBKDF2 with an HMAC derives the
 * key, AES-CBC with PKCS#5 padding encrypts under the test's IV. The file names the pair in its algorithm
 * (`PbeWithHmacSha256AndAes_128`); the password is bytes as given (ASCII, UTF-8, a BMPString or not UTF-8
 * at all), never re-encoded by the lab.
 */
import type { PbeInput } from '../product.js';
import { labCannotAsk } from '../product.js';
import { attempt } from '../outcome.js';
import { type Family, hashName, hexField, need, sameBytes } from './family.js';

/** `PbeWithHmacSha1AndAes_128` → PRF SHA-1, AES-128-CBC; a name the lab cannot read is its own gap. */
export function pbeSchemeOf(fileAlgorithm: string): Pick<PbeInput, 'alg' | 'prf' | 'cipher'> {
  const m = /^PbeWithHmacSha(1|224|256|384|512)AndAes_(128|192|256)$/.exec(fileAlgorithm);
  if (!m) throw labCannotAsk(`PBE scheme ${fileAlgorithm}`);
  return { alg: 'PBES2', prf: hashName(`SHA-${m[1]}`), cipher: `AES-${m[2]}-CBC` };
}

export const pbe: Family<Pick<PbeInput, 'alg' | 'prf' | 'cipher'>> = {
  name: 'pbe',
  schemas: ['pbe_test_schema.json'],
  group: (_g, file) => pbeSchemeOf(file.doc.algorithm),
  async test(adapter, g, t) {
    const base: PbeInput = {
      ...g,
      password: hexField(t, 'password'),
      salt: hexField(t, 'salt'),
      iterations: Number(t.iterationCount),
      iv: hexField(t, 'iv'),
    };
    const msg = hexField(t, 'msg');
    const ct = hexField(t, 'ct');
    if (t.result === 'valid') {
      const enc = await attempt(() => need(adapter, 'pbeEncrypt')({ ...base, msg }));
      if (!enc.ok) return { accepted: false, note: `encrypt: ${enc.note}` };
      const c = sameBytes(enc.value, ct, 'ciphertext');
      if (!c.accepted) return c;
    }
    const dec = await attempt(() => need(adapter, 'pbeDecrypt')({ ...base, ct }));
    if (!dec.ok) return { accepted: false, note: `decrypt: ${dec.note}` };
    if (t.result === 'valid') return sameBytes(dec.value, msg, 'plaintext');
    return { accepted: true, note: 'decryption succeeded' };
  },
};
