/**
 * Signing and verifying with node:crypto key objects, per signature scheme. Shared by the software key
 * store (private keys) and by every verifier (public keys from certificates and CSRs).
 */
import { createPublicKey, sign as nodeSign, verify as nodeVerify, constants, type KeyObject } from 'node:crypto';
import { SCHEMES, type SignatureScheme } from './algorithms.js';

/** the key types each scheme family signs with */
const KEY_TYPES: Record<string, readonly string[]> = { ecdsa: ['ec'], 'rsa-pkcs1': ['rsa'], 'rsa-pss': ['rsa', 'rsa-pss'], ed25519: ['ed25519'] };

function options(scheme: SignatureScheme, key: KeyObject, pssSaltLength?: number) {
  const info = SCHEMES[scheme];
  if (info.family === 'rsa-pss')
    return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pssSaltLength ?? constants.RSA_PSS_SALTLEN_DIGEST };
  if (info.family === 'rsa-pkcs1') return { key, padding: constants.RSA_PKCS1_PADDING };
  return key; // ECDSA: DER output by default; Ed25519: pure
}

export function signWith(key: KeyObject, scheme: SignatureScheme, data: Uint8Array): Buffer {
  return nodeSign(SCHEMES[scheme].hash, data, options(scheme, key) as KeyObject);
}

export function verifyWith(
  key: KeyObject | Buffer,
  scheme: SignatureScheme,
  data: Uint8Array,
  signature: Uint8Array,
  /** RSASSA-PSS: the salt length the signer declared (RFC 4055 parameters); default the hash length */
  pssSaltLength?: number,
): boolean {
  const k = Buffer.isBuffer(key) ? createPublicKey({ key, format: 'der', type: 'spki' }) : key;
  // the scheme named must be the key's: Node ignores RSA padding for an EC key, so a signature declared
  // "rsa-pkcs1-sha256" (or "ed25519") over an EC key would otherwise verify as ECDSA
  if (!KEY_TYPES[SCHEMES[scheme].family].includes(k.asymmetricKeyType ?? '')) return false;
  try {
    return nodeVerify(SCHEMES[scheme].hash, data, options(scheme, k, pssSaltLength) as KeyObject, signature);
  } catch {
    return false;
  }
}
