/**
 * Curve names as vector files spell them, mapped to the lab's names. The lab does not judge curves: a
 * Weierstrass curve it has no alias for is passed on under the file's own name (secp224r1, brainpoolP256r1,
 * sect283k1…), and the product says whether it has it.
 */
import { type EcCurve, type EdCurve, type XCurve, labCannotAsk, unsupported } from '../product.js';

const EC: Record<string, EcCurve> = {
  secp256r1: 'P-256',
  'P-256': 'P-256',
  secp384r1: 'P-384',
  'P-384': 'P-384',
  secp521r1: 'P-521',
  'P-521': 'P-521',
  // JOSE's name for secp256k1 (RFC 8812)
  'P-256K': 'secp256k1',
};
const ED: Record<string, EdCurve> = { edwards25519: 'Ed25519', edwards448: 'Ed448', Ed25519: 'Ed25519', Ed448: 'Ed448' };
const X: Record<string, XCurve> = { curve25519: 'X25519', curve448: 'X448', X25519: 'X25519', X448: 'X448' };

export function ecCurve(name: unknown): EcCurve {
  if (typeof name !== 'string' || !/^[A-Za-z0-9-]{1,40}$/.test(name)) throw labCannotAsk(`curve name ${String(name)}`);
  return EC[name] ?? name;
}

export function edCurve(name: unknown): EdCurve {
  const c = ED[String(name)];
  if (!c) throw unsupported(`curve ${String(name)}`);
  return c;
}

export function xCurve(name: unknown): XCurve {
  const c = X[String(name)];
  if (!c) throw unsupported(`curve ${String(name)}`);
  return c;
}
