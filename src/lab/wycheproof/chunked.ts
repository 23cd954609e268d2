/**
 * C2SP chunked encryption (c2sp_chunked_encryption_schema; c2sp.org/chunked-encryption, "Cobblestone"):
 * the product decrypts a whole message under a key and a context. The file stores the ciphertext
 * zlib-compressed (a storage encoding, undone here) and the plaintext by its length and SHA-512; a valid
 * test must decrypt to exactly that, and an invalid one — reordered, truncated or extended chunks, a final
 * chunk missing, a wrong key or context — must be refused as a whole, with no partial plaintext.
 */
import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import type { HashName } from '../product.js';
import { labCannotAsk } from '../product.js';
import { attempt } from '../outcome.js';
import { type Family, hashName, hexField, need, sameBytes } from './family.js';

/** The compressed ciphertext is bounded like any input: 64 MiB out at most. */
const MAX_CT = 64 * 1024 * 1024;

export const chunked: Family<{ alg: string; aead: string; hash: HashName }> = {
  name: 'chunked',
  schemas: ['c2sp_chunked_encryption_schema.json'],
  group: (g, file) => ({ alg: file.doc.algorithm, aead: String(g.aead), hash: hashName(g.sha) }),
  async test(adapter, g, t) {
    let ct: Uint8Array;
    try {
      ct = new Uint8Array(inflateSync(hexField(t, 'ct'), { maxOutputLength: MAX_CT }));
    } catch (e) {
      throw labCannotAsk(`compressed ciphertext (${(e as Error).message})`);
    }
    const r = await attempt(() => need(adapter, 'chunkedDecrypt')({ ...g, key: hexField(t, 'key'), ctx: hexField(t, 'ctx'), ct }));
    if (!r.ok) return { accepted: false, note: r.note };
    if (t.result !== 'valid') return { accepted: true, note: `decrypted ${r.value.length} bytes` };
    if (r.value.length !== Number(t.msgLength)) return { accepted: false, note: `plaintext of ${r.value.length} bytes, not ${String(t.msgLength)}` };
    return sameBytes(createHash('sha512').update(r.value).digest(), hexField(t, 'msgSha512'), 'plaintext (its SHA-512)');
  },
};
