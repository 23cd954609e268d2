/** Curve names as vector files spell them, mapped to the lab's names; an unknown curve is unsupported. */
import { type EcCurve, type EdCurve, type XCurve, unsupported } from '../product.js';

const EC: Record<string, EcCurve> = { secp256r1: 'P-256', 'P-256': 'P-256', secp384r1: 'P-384', 'P-384': 'P-384', secp521r1: 'P-521', 'P-521': 'P-521' };
const ED: Record<string, EdCurve> = { edwards25519: 'Ed25519', edwards448: 'Ed448', Ed25519: 'Ed25519', Ed448: 'Ed448' };
const X: Record<string, XCurve> = { curve25519: 'X25519', curve448: 'X448', X25519: 'X25519', X448: 'X448' };

export function ecCurve(name: unknown): EcCurve {
  const c = EC[String(name)];
  if (!c) throw unsupported(`curve ${String(name)}`);
  return c;
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
