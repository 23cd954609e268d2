/**
 * SHA-256 of small inputs in one call. `createHash` builds a Hash object per digest — about 2 µs of
 * overhead each on this machine, against ~1 µs for the one-shot `crypto.hash` — and a security server
 * takes some fifteen small digests per exchange (message digests, tree nodes, chain hashes, replay
 * fingerprints). Several parts are joined first: copying a few KB costs less than the object.
 */
import { createHash, hash } from 'node:crypto';

const oneShot: ((data: Buffer | string) => Buffer) | null =
  typeof hash === 'function' ? (data) => hash('sha256', data, 'buffer') : null;

export function sha256(...parts: (Buffer | string)[]): Buffer {
  if (oneShot) {
    if (parts.length === 1) return oneShot(parts[0]!);
    return oneShot(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p))));
  }
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}
