/**
 * BLS over BLS12-381 (draft-irtf-cfrg-bls-signature, min-pk: public keys in G1, signatures in G2):
 * signature verification under the group's ciphersuite (bls_sig_verify_schema, Basic and proof-of-
 * possession schemes), AggregateVerify of one signature over (key, message) pairs
 * (bls_aggregate_verify_schema), and hash_to_curve onto G2 (bls_hash_to_g2_schema, RFC 9380). Keys,
 * signatures and lists go as the file gives them — identity points, points off the curve or outside the
 * subgroup, bad flag bits, key and message lists of different lengths — for the product to refuse.
 */
import { fromHex } from '../hex.js';
import { attempt, type Observation } from '../outcome.js';
import { type Family, hexField, need, sameBytes } from './family.js';

const verdict = (valid: boolean): Observation => (valid ? { accepted: true, note: 'signature verified' } : { accepted: false, note: 'signature rejected' });

export const blsVerify: Family<{ ciphersuite: string; publicKey: Uint8Array }> = {
  name: 'bls',
  schemas: ['bls_sig_verify_schema.json'],
  group: (g) => ({ ciphersuite: String(g.ciphersuite), publicKey: hexField(g.publicKey as Record<string, unknown>, 'pk') }),
  async test(adapter, g, t) {
    const r = await attempt(() => need(adapter, 'blsVerify')({ ...g, msg: hexField(t, 'msg'), sig: hexField(t, 'sig') }));
    return r.ok ? verdict(r.value) : { accepted: false, note: r.note };
  },
};

export const blsAggregateVerify: Family<{ ciphersuite: string }> = {
  name: 'bls-aggregate',
  schemas: ['bls_aggregate_verify_schema.json'],
  group: (g) => ({ ciphersuite: String(g.ciphersuite) }),
  async test(adapter, g, t) {
    const list = (field: string): Uint8Array[] => (Array.isArray(t[field]) ? (t[field] as unknown[]) : []).map((h) => fromHex(String(h), field));
    const r = await attempt(() =>
      need(adapter, 'blsAggregateVerify')({ ...g, publicKeys: list('pubkeys'), messages: list('messages'), sig: hexField(t, 'sig') }),
    );
    return r.ok ? verdict(r.value) : { accepted: false, note: r.note };
  },
};

export const blsHashToG2: Family<{ dst: string }> = {
  name: 'bls-hash-to-g2',
  schemas: ['bls_hash_to_g2_schema.json'],
  group: (g) => ({ dst: String(g.dst) }),
  async test(adapter, g, t) {
    const r = await attempt(() => need(adapter, 'blsHashToG2')({ dst: g.dst, msg: hexField(t, 'msg') }));
    if (!r.ok) return { accepted: false, note: r.note };
    if (t.result !== 'valid') return { accepted: true, note: 'hashed' };
    return sameBytes(r.value, hexField(t, 'expected'), 'point');
  },
};
