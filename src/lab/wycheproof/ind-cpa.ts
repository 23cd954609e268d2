/** Unauthenticated cipher family (ind_cpa_test_schema_v1): CBC with PKCS#5 padding (AES, ARIA, CAMELLIA…) and AES-XTS. */
import type { CipherAlg } from '../product.js';
import { attempt } from '../outcome.js';
import { type Family, hexField, need, sameBytes } from './family.js';

export const indCpa: Family<{ alg: CipherAlg }> = {
  name: 'cipher',
  schemas: ['ind_cpa_test_schema_v1.json'],
  group: (_g, file) => ({ alg: file.doc.algorithm as CipherAlg }),
  async test(adapter, g, t) {
    const base = { alg: g.alg, key: hexField(t, 'key'), iv: hexField(t, 'iv') };
    const msg = hexField(t, 'msg');
    const ct = hexField(t, 'ct');
    if (t.result === 'valid' && adapter.cipherEncrypt) {
      const enc = await attempt(() => need(adapter, 'cipherEncrypt')({ ...base, msg }));
      if (!enc.ok) return { accepted: false, note: `encrypt: ${enc.note}` };
      const c = sameBytes(enc.value, ct, 'ciphertext');
      if (!c.accepted) return c;
    }
    const dec = await attempt(() => need(adapter, 'cipherDecrypt')({ ...base, ct }));
    if (!dec.ok) return { accepted: false, note: `decrypt: ${dec.note}` };
    if (t.result === 'valid') return sameBytes(dec.value, msg, 'plaintext');
    return { accepted: true, note: 'decryption succeeded' };
  },
};
