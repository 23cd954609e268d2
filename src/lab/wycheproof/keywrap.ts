/** Key wrap family (keywrap_test_schema_v1): AES-KW (RFC 3394) and AES-KWP (RFC 5649). */
import type { WrapAlg } from '../product.js';
import { attempt } from '../outcome.js';
import { type Family, hexField, need, sameBytes } from './family.js';

// AES-WRAP is the file's name for RFC 3394; other wraps (ARIA-KWP, SEED-WRAP…) pass under their own names
const ALGS: Record<string, WrapAlg> = { 'AES-WRAP': 'AES-KW', 'AES-KW': 'AES-KW', 'AES-KWP': 'AES-KWP' };

export const keywrap: Family<{ alg: WrapAlg }> = {
  name: 'keywrap',
  schemas: ['keywrap_test_schema_v1.json'],
  group: (_g, file) => ({ alg: ALGS[file.doc.algorithm] ?? file.doc.algorithm }),
  async test(adapter, g, t) {
    const key = hexField(t, 'key');
    const msg = hexField(t, 'msg');
    const ct = hexField(t, 'ct');
    if (t.result === 'valid' && adapter.keyWrap) {
      const w = await attempt(() => need(adapter, 'keyWrap')({ alg: g.alg, key, msg }));
      if (!w.ok) return { accepted: false, note: `wrap: ${w.note}` };
      const c = sameBytes(w.value, ct, 'wrapped key');
      if (!c.accepted) return c;
    }
    if (t.result !== 'valid' && ct.length === 0) {
      // No ciphertext: the test says this key cannot be wrapped at all.
      const w = await attempt(() => need(adapter, 'keyWrap')({ alg: g.alg, key, msg }));
      return w.ok ? { accepted: true, note: 'wrap succeeded' } : { accepted: false, note: `wrap: ${w.note}` };
    }
    const u = await attempt(() => need(adapter, 'keyUnwrap')({ alg: g.alg, key, ct }));
    if (!u.ok) return { accepted: false, note: `unwrap: ${u.note}` };
    if (t.result === 'valid') return sameBytes(u.value, msg, 'unwrapped key');
    return { accepted: true, note: 'unwrap succeeded' };
  },
};
