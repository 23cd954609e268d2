/**
 * Serial numbers: 16 random bytes (127 bits of entropy after clearing the sign bit, well over the 64 bits
 * CA/Browser Forum rules ask for), never zero-led so every serial is 16 bytes; uniqueness is enforced by the
 * database's primary key. Kept as lowercase hex.
 */
import { randomFillSync } from 'node:crypto';
import { TrucError } from '../errors.js';

const pool = Buffer.alloc(16 * 1024);
let poolOffset = pool.length;

export function newSerial(): Buffer {
  if (poolOffset + 16 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const s = Buffer.from(pool.subarray(poolOffset, poolOffset + 16));
  poolOffset += 16;
  s[0] &= 0x7f;
  if (s[0] === 0) s[0] = 0x01;
  return s;
}

/** Accepts hex with optional colons/spaces and any case; returns the canonical form the store keys on. */
export function normalizeSerial(s: string): string {
  const hex = s.replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]{1,64}$/.test(hex)) throw new TrucError('bad_request', `"${s}" is not a hexadecimal serial number`);
  const trimmed = hex.replace(/^(00)+/, '');
  return trimmed.length % 2 ? '0' + trimmed : trimmed;
}
