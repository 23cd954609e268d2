/**
 * ML-DSA signing family (mldsa_sign_seed_schema, mldsa_sign_noseed_schema): the product signs with the
 * group's private key — the 32-byte seed, or the expanded private key — exactly as given, wrong lengths
 * and out-of-range coefficients included, and a valid test's signature must be the listed one (signing
 * is deterministic, or hedged with the test's `rnd`). A test marked Internal carries only µ, the 64-byte
 * message representative, for Sign_internal; the others carry the message and its context. An invalid
 * test (bad key, context over 255 bytes) must be refused.
 */
import type { MlDsaAlg, MlDsaSignInput } from '../product.js';
import { unsupported } from '../product.js';
import { asked, type Family, hexField, need, optionalHex, sameBytes } from './family.js';

const ALGS: readonly string[] = ['ML-DSA-44', 'ML-DSA-65', 'ML-DSA-87'];

type Key = { seed: Uint8Array } | { privateKey: Uint8Array };

export const mldsaSign: Family<{ alg: MlDsaAlg; key: Key }> = {
  name: 'mldsa-sign',
  schemas: ['mldsa_sign_seed_schema.json', 'mldsa_sign_noseed_schema.json'],
  group(g, file) {
    if (!ALGS.includes(file.doc.algorithm)) throw unsupported(file.doc.algorithm);
    const key: Key =
      typeof g.privateSeed === 'string'
        ? { seed: hexField(g, 'privateSeed') }
        : { privateKey: hexField(g, 'privateKey') };
    return { alg: file.doc.algorithm as MlDsaAlg, key };
  },
  async test(adapter, g, t) {
    const rnd = optionalHex(t, 'rnd');
    const message =
      typeof t.msg === 'string'
        ? { msg: hexField(t, 'msg'), context: hexField(t, 'ctx') }
        : { mu: hexField(t, 'mu') };
    const input = { alg: g.alg, ...g.key, ...message, ...(rnd ? { rnd } : {}) } as MlDsaSignInput;
    return asked(
      'sign',
      () => need(adapter, 'mlDsaSign')(input),
      t,
      (sig) => sameBytes(sig, hexField(t, 'sig'), 'signature'),
    );
  },
};
