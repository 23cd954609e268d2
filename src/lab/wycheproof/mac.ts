/** MAC family (mac_test_schema_v1): HMAC over SHA-1/SHA-2/SHA-3 and AES-CMAC; truncated tags compared by prefix. */
import type { MacAlg } from '../product.js';
import { unsupported } from '../product.js';
import { attempt } from '../outcome.js';
import { type Family, hexField, need } from './family.js';
import { bytesEqual } from '../hex.js';

/** File algorithm names (`HMACSHA256`, `HMACSHA3-256`, `AES-CMAC`) to the lab's names. */
export function macAlgOf(fileAlgorithm: string): MacAlg {
  if (fileAlgorithm === 'AES-CMAC') return 'AES-CMAC';
  const m = /^HMACSHA(1|224|256|384|512|3-224|3-256|3-384|3-512)$/.exec(fileAlgorithm);
  if (!m) throw unsupported(`MAC ${fileAlgorithm}`);
  return (m[1].startsWith('3-') ? `HMAC-SHA3-${m[1].slice(2)}` : `HMAC-SHA-${m[1]}`) as MacAlg;
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
