/**
 * MAC families: HMAC over SHA-1/SHA-2/SHA-3 and AES-CMAC (mac_test_schema_v1), and MACs with a nonce
 * (mac_with_iv_test_schema_v1); truncated tags compared by prefix.
 */
import type { MacAlg } from '../product.js';
import { attempt, type Observation } from '../outcome.js';
import { type Family, hexField, need } from './family.js';
import { bytesEqual } from '../hex.js';

/**
 * File algorithm names (`HMACSHA256`, `HMACSHA3-256`, `HMACSHA512/224`, `HMACSM3`) to the lab's
 * (`HMAC-SHA-256`, `HMAC-SHA3-256`, `HMAC-SHA-512/224`, `HMAC-SM3`); any other MAC (AES-CMAC, ARIA-CMAC,
 * KMAC128, SipHash-2-4…) passes under the file's name, for the product to take or refuse.
 */
export function macAlgOf(fileAlgorithm: string): MacAlg {
  const m = /^HMAC(SHA3-(?:224|256|384|512)|SHA(?:1|224|256|384|512|512\/224|512\/256)|SM3)$/.exec(fileAlgorithm);
  if (!m) return fileAlgorithm;
  if (m[1] === 'SM3') return 'HMAC-SM3';
  return (m[1].startsWith('SHA3-') ? `HMAC-${m[1]}` : `HMAC-SHA-${m[1].slice(3)}`) as MacAlg;
}

/** The product computed a tag (or refused): accepted when its leading `tagSize` bytes are the test's tag. */
async function compareTag(computed: () => Promise<Uint8Array>, tagSize: number, tag: Uint8Array): Promise<Observation> {
  const r = await attempt(computed);
  if (!r.ok) return { accepted: false, note: r.note };
  if (r.value.length < tagSize) return { accepted: false, note: `tag shorter than ${tagSize} bytes` };
  return bytesEqual(r.value.subarray(0, tagSize), tag) ? { accepted: true } : { accepted: false, note: 'tag differs' };
}

export const mac: Family<{ alg: MacAlg; tagSize: number }> = {
  name: 'mac',
  schemas: ['mac_test_schema_v1.json'],
  group: (g, file) => ({ alg: macAlgOf(file.doc.algorithm), tagSize: Number(g.tagSize) / 8 }),
  test: (adapter, g, t) =>
    compareTag(() => need(adapter, 'macCompute')({ alg: g.alg, key: hexField(t, 'key'), msg: hexField(t, 'msg'), tagSize: g.tagSize }), g.tagSize, hexField(t, 'tag')),
};

/**
 * MACs that take a nonce (mac_with_iv_test_schema_v1): AES-GMAC, VMAC-AES. The algorithm passes under the
 * file's name with the group's tag size (VMAC-64 and VMAC-128 are different functions, not truncations);
 * a modified tag is caught by the lab's comparison, as a verifier compares.
 */
export const macWithIv: Family<{ alg: string; tagSize: number }> = {
  name: 'mac-with-iv',
  schemas: ['mac_with_iv_test_schema_v1.json'],
  group: (g, file) => ({ alg: file.doc.algorithm, tagSize: Number(g.tagSize) / 8 }),
  test: (adapter, g, t) =>
    compareTag(
      () => need(adapter, 'macWithIv')({ alg: g.alg, key: hexField(t, 'key'), iv: hexField(t, 'iv'), msg: hexField(t, 'msg'), tagSize: g.tagSize }),
      g.tagSize,
      hexField(t, 'tag'),
    ),
};
