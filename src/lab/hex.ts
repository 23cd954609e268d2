/**
 * Hex codec for vector files and wire messages. Vector files and external products speak hex; a malformed
 * string is the file's or the product's fault and is reported as such, never silently truncated.
 */
import { TrucError } from '../errors.js';

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

export function fromHex(s: string, where = 'hex'): Uint8Array {
  if (typeof s !== 'string' || !HEX.test(s)) {
    throw new TrucError('bad_request', `${where}: not an even-length hex string`, { where });
  }
  return new Uint8Array(Buffer.from(s, 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}
