/**
 * Deterministic AEAD (daead_test_schema_v1): AES-SIV-CMAC as RFC 5297 defines it for deterministic use —
 * one associated-data string, no nonce, the synthetic IV in front of the ciphertext. A valid test is
 * encrypted (the output must be the listed one) and decrypted; an invalid one must be refused on decryption.
 */
import { attempt } from '../outcome.js';
import { type Family, hexField, need, sameBytes } from './family.js';

export const daead: Family<{ alg: string }> = {
  name: 'daead',
  schemas: ['daead_test_schema_v1.json'],
  group: (_g, file) => ({ alg: file.doc.algorithm }),
  async test(adapter, g, t) {
    const key = hexField(t, 'key');
    const aad = hexField(t, 'aad');
    const msg = hexField(t, 'msg');
    const ct = hexField(t, 'ct');
    if (t.result === 'valid') {
      const enc = await attempt(() => need(adapter, 'daeadEncrypt')({ alg: g.alg, key, aad, msg }));
      if (!enc.ok) return { accepted: false, note: `encrypt: ${enc.note}` };
      const c = sameBytes(enc.value, ct, 'ciphertext');
      if (!c.accepted) return c;
    }
    const dec = await attempt(() => need(adapter, 'daeadDecrypt')({ alg: g.alg, key, aad, ct }));
    if (!dec.ok) return { accepted: false, note: `decrypt: ${dec.note}` };
    if (t.result === 'valid') return sameBytes(dec.value, msg, 'plaintext');
    return { accepted: true, note: 'decryption succeeded' };
  },
};
