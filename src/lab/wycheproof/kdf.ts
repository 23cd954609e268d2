/**
 * Key derivation families: HKDF (hkdf_test_schema_v1) and PBKDF2 (pbkdf_test_schema). An invalid test here
 * asks for something the function must refuse (an over-long output), so producing any output is accepting.
 */
import type { HashName } from '../product.js';
import { unsupported } from '../product.js';
import { attempt } from '../outcome.js';
import { type Family, hashName, hexField, need, sameBytes } from './family.js';

/** Reads the hash from `HKDF-SHA-256` or `PBKDF2-HMACSHA512`. */
function hashOf(fileAlgorithm: string): HashName {
  const m = /^(?:HKDF-|PBKDF2-HMAC)(SHA.*)$/.exec(fileAlgorithm);
  const two = m && /^SHA-?(1|224|256|384|512)$/.exec(m[1]);
  if (two) return hashName(`SHA-${two[1]}`);
  const three = m && /^SHA3-(224|256|384|512)$/.exec(m[1]);
  if (three) return hashName(`SHA3-${three[1]}`);
  throw unsupported(`KDF ${fileAlgorithm}`);
}

export const hkdf: Family<{ hash: HashName }> = {
  name: 'hkdf',
  schemas: ['hkdf_test_schema_v1.json'],
  group: (_g, file) => ({ hash: hashOf(file.doc.algorithm) }),
  async test(adapter, g, t) {
    const r = await attempt(() =>
      need(adapter, 'kdf')({ alg: 'HKDF', hash: g.hash, ikm: hexField(t, 'ikm'), salt: hexField(t, 'salt'), info: hexField(t, 'info'), size: Number(t.size) }),
    );
    if (!r.ok) return { accepted: false, note: r.note };
    if (t.result !== 'valid') return { accepted: true, note: `produced ${r.value.length} bytes` };
    return sameBytes(r.value, hexField(t, 'okm'), 'output key material');
  },
};

export const pbkdf2: Family<{ hash: HashName }> = {
  name: 'pbkdf2',
  schemas: ['pbkdf_test_schema.json'],
  group: (_g, file) => ({ hash: hashOf(file.doc.algorithm) }),
  async test(adapter, g, t) {
    const r = await attempt(() =>
      need(adapter, 'kdf')({
        alg: 'PBKDF2',
        hash: g.hash,
        password: hexField(t, 'password'),
        salt: hexField(t, 'salt'),
        iterations: Number(t.iterationCount),
        size: Number(t.dkLen),
      }),
    );
    if (!r.ok) return { accepted: false, note: r.note };
    if (t.result !== 'valid') return { accepted: true, note: `produced ${r.value.length} bytes` };
    return sameBytes(r.value, hexField(t, 'dk'), 'derived key');
  },
};
