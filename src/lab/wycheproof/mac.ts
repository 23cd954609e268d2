/** MAC family (mac_test_schema_v1): HMAC over SHA-1/SHA-2/SHA-3 and AES-CMAC; truncated tags compared by prefix. */
import type { MacAlg } from '../product.js';
import { attempt } from '../outcome.js';
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

export const mac: Family<{ alg: MacAlg; tagSize: number }> = {
  name: 'mac',
  schemas: ['mac_test_schema_v1.json'],
  group: (g, file) => ({ alg: macAlgOf(file.doc.algorithm), tagSize: Number(g.tagSize) / 8 }),
  async test(adapter, g, t) {
    const tag = hexField(t, 'tag');
    const r = await attempt(() => need(adapter, 'macCompute')({ alg: g.alg, key: hexField(t, 'key'), msg: hexField(t, 'msg'), tagSize: g.tagSize }));
    if (!r.ok) return { accepted: false, note: r.note };
    if (r.value.length < g.tagSize) return { accepted: false, note: `tag shorter than ${g.tagSize} bytes` };
    return bytesEqual(r.value.subarray(0, g.tagSize), tag) ? { accepted: true } : { accepted: false, note: 'tag differs' };
  },
};
