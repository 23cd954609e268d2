/** AEAD family (aead_test_schema_v1): AES-GCM, AES-CCM, ChaCha20-Poly1305, XChaCha20-Poly1305 and kin. */
import type { AeadAlg } from '../product.js';
import { attempt } from '../outcome.js';
import { type Family, hexField, need, sameBytes } from './family.js';

interface Group {
  alg: AeadAlg;
  tagSize: number;
}

export const aead: Family<Group> = {
  name: 'aead',
  schemas: ['aead_test_schema_v1.json'],
  group: (g, file) => ({ alg: file.doc.algorithm as AeadAlg, tagSize: Number(g.tagSize) / 8 }),
  async test(adapter, g, t) {
    const base = { alg: g.alg, key: hexField(t, 'key'), iv: hexField(t, 'iv'), aad: hexField(t, 'aad'), tagSize: g.tagSize };
    const msg = hexField(t, 'msg');
    const ct = hexField(t, 'ct');
    const tag = hexField(t, 'tag');
    if (t.result === 'valid' && adapter.aeadEncrypt) {
      const enc = await attempt(() => need(adapter, 'aeadEncrypt')({ ...base, msg }));
      if (!enc.ok) return { accepted: false, note: `encrypt: ${enc.note}` };
      const c = sameBytes(enc.value.ct, ct, 'ciphertext');
      if (!c.accepted) return c;
      const tg = sameBytes(enc.value.tag, tag, 'tag');
      if (!tg.accepted) return tg;
    }
    const dec = await attempt(() => need(adapter, 'aeadDecrypt')({ ...base, ct, tag }));
    if (!dec.ok) return { accepted: false, note: `decrypt: ${dec.note}` };
    if (t.result === 'valid') return sameBytes(dec.value, msg, 'plaintext');
    return { accepted: true, note: 'decryption succeeded' };
  },
};
