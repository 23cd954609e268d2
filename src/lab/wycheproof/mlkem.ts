/**
 * ML-KEM family (mlkem_test_schema): key generation from the seed d||z must give the listed encapsulation
 * key, and decapsulation must give K (including implicit-rejection K for a modified ciphertext). Invalid
 * tests carry a malformed seed or ciphertext length, which the product must refuse outright.
 */
import type { MlKemAlg } from '../product.js';
import { unsupported } from '../product.js';
import { attempt } from '../outcome.js';
import { type Family, hexField, need, optionalHex, sameBytes } from './family.js';

export const mlkem: Family<{ alg: MlKemAlg }> = {
  name: 'mlkem',
  schemas: ['mlkem_test_schema.json'],
  group(g) {
    const alg = String(g.parameterSet) as MlKemAlg;
    if (!['ML-KEM-512', 'ML-KEM-768', 'ML-KEM-1024'].includes(alg)) throw unsupported(alg);
    return { alg };
  },
  async test(adapter, g, t) {
    const seed = hexField(t, 'seed');
    const ek = optionalHex(t, 'ek');
    if (ek && t.result === 'valid' && adapter.kemKeygen) {
      const k = await attempt(() => need(adapter, 'kemKeygen')({ alg: g.alg, seed }));
      if (!k.ok) return { accepted: false, note: `keygen: ${k.note}` };
      const same = sameBytes(k.value, ek, 'encapsulation key');
      if (!same.accepted) return same;
    }
    const d = await attempt(() => need(adapter, 'kemDecaps')({ alg: g.alg, seed, ct: hexField(t, 'c') }));
    if (!d.ok) return { accepted: false, note: `decaps: ${d.note}` };
    if (t.result !== 'valid') return { accepted: true, note: 'decapsulation succeeded' };
    return sameBytes(d.value, hexField(t, 'K'), 'shared secret');
  },
};
