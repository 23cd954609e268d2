/**
 * ML-KEM families (FIPS 203). Every key, ciphertext and seed goes to the product as the file has it —
 * wrong lengths and unreduced coefficients included — and an invalid test must be refused outright:
 * - mlkem_test_schema: key generation from the seed d||z gives the listed encapsulation key, and
 *   decapsulation gives K (the implicit-rejection K for a modified ciphertext);
 * - mlkem_encaps_test_schema: encapsulation to `ek` with the randomness m gives c and K; an `ek` whose
 *   coefficients are not reduced mod q, or of the wrong length, fails FIPS 203's input check;
 * - mlkem_keygen_seed_test_schema: the seed gives the listed encapsulation and decapsulation keys;
 * - mlkem_semi_expanded_decaps_test_schema: decapsulation with the expanded key `dk` as given; a `dk` of
 *   the wrong length or whose H(ek) does not match fails FIPS 203's input check.
 */
import type { MlKemAlg } from '../product.js';
import { unsupported } from '../product.js';
import { attempt } from '../outcome.js';
import { allSame, asked, type Family, hexField, need, optionalHex, sameBytes } from './family.js';
import type { WycheproofGroup } from './file.js';

type Group = { alg: MlKemAlg };

function parameterSet(g: WycheproofGroup): Group {
  const alg = String(g.parameterSet) as MlKemAlg;
  if (!['ML-KEM-512', 'ML-KEM-768', 'ML-KEM-1024'].includes(alg)) throw unsupported(alg);
  return { alg };
}

export const mlkem: Family<Group> = {
  name: 'mlkem',
  schemas: ['mlkem_test_schema.json'],
  group: parameterSet,
  async test(adapter, g, t) {
    const seed = hexField(t, 'seed');
    const ek = optionalHex(t, 'ek');
    if (ek && t.result === 'valid' && adapter.kemKeygen) {
      const k = await attempt(() => need(adapter, 'kemKeygen')({ alg: g.alg, seed }));
      if (!k.ok) return { accepted: false, note: `keygen: ${k.note}` };
      const same = sameBytes(k.value.ek, ek, 'encapsulation key');
      if (!same.accepted) return same;
    }
    const d = await attempt(() => need(adapter, 'kemDecaps')({ alg: g.alg, seed, ct: hexField(t, 'c') }));
    if (!d.ok) return { accepted: false, note: `decaps: ${d.note}` };
    if (t.result !== 'valid') return { accepted: true, note: 'decapsulation succeeded' };
    return sameBytes(d.value, hexField(t, 'K'), 'shared secret');
  },
};

export const mlkemEncaps: Family<Group> = {
  name: 'mlkem-encaps',
  schemas: ['mlkem_encaps_test_schema.json'],
  group: parameterSet,
  test: (adapter, g, t) =>
    asked(
      'encaps',
      () => need(adapter, 'kemEncaps')({ alg: g.alg, ek: hexField(t, 'ek'), m: hexField(t, 'm') }),
      t,
      (out) => allSame([out.c, hexField(t, 'c'), 'ciphertext'], [out.K, hexField(t, 'K'), 'shared secret']),
    ),
};

export const mlkemKeygen: Family<Group> = {
  name: 'mlkem-keygen',
  schemas: ['mlkem_keygen_seed_test_schema.json'],
  group: parameterSet,
  test: (adapter, g, t) =>
    asked(
      'keygen',
      () => need(adapter, 'kemKeygen')({ alg: g.alg, seed: hexField(t, 'seed') }),
      t,
      (out) =>
        allSame(
          [out.ek, hexField(t, 'ek'), 'encapsulation key'],
          [out.dk, hexField(t, 'dk'), 'decapsulation key'],
        ),
    ),
};

export const mlkemSemiExpanded: Family<Group> = {
  name: 'mlkem-semi-expanded',
  schemas: ['mlkem_semi_expanded_decaps_test_schema.json'],
  group: parameterSet,
  test: (adapter, g, t) =>
    asked(
      'decaps',
      () => need(adapter, 'kemDecaps')({ alg: g.alg, dk: hexField(t, 'dk'), ct: hexField(t, 'c') }),
      t,
      (K) => sameBytes(K, hexField(t, 'K'), 'shared secret'),
    ),
};
