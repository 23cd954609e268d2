/**
 * ECDSA signature encodings. Tokens and WebCrypto give the raw fixed-width r||s (IEEE P1363); X.509, CMS
 * and node:crypto want the DER ECDSA-Sig-Value. Conversion lives here so every raw producer shares it.
 */
import { seq, uintFromBytes } from '../asn1/der.js';
import { TrucError } from '../errors.js';

/** r||s (each half the field width) → SEQUENCE { INTEGER r, INTEGER s }, minimally encoded. */
export function ecdsaRawToDer(raw: Uint8Array): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0)
    throw new TrucError('key_store', `raw ECDSA signature has odd or zero length ${raw.length}`);
  const half = raw.length / 2;
  return seq(uintFromBytes(raw.subarray(0, half)), uintFromBytes(raw.subarray(half)));
}
