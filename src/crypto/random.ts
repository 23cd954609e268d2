/**
 * Random bytes for values needed on every message (nonces, body ids): taken from a pool refilled 4 KiB at a
 * time. On this platform's machines each `randomBytes` call costs a few microseconds (a call into the
 * kernel's generator), several per exchanged message; the pool makes that one call per ~200 values. The
 * bytes are the same CSPRNG output, handed out once each; Node's own `randomUUID` pools the same way.
 */
import { randomFillSync } from 'node:crypto';

const POOL = 4096;
const pool = Buffer.allocUnsafeSlow(POOL);
let off = POOL;

/** `n` fresh random bytes (a new buffer, never shared); large requests bypass the pool. */
export function randomPooled(n: number): Buffer {
  if (n > 256) return randomFillSync(Buffer.allocUnsafe(n));
  if (off + n > POOL) {
    randomFillSync(pool);
    off = 0;
  }
  const out = Buffer.from(pool.subarray(off, off + n));
  // a handed-out value is not left readable in the pool
  pool.fill(0, off, off + n);
  off += n;
  return out;
}
