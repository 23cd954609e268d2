/**
 * What a key on a token is, read from its attributes: the key algorithm (from CKA_KEY_TYPE and the curve
 * or modulus size) and the SubjectPublicKeyInfo rebuilt from the public key object, since tokens keep no
 * SPKI of their own.
 */
import { seq, oid, NULL, bitString, uintFromBytes, TAG } from '../../asn1/der.js';
import { parseOne, decodeOid } from '../../asn1/reader.js';
import { TrucError } from '../../errors.js';
import type { KeyAlgorithm } from '../algorithms.js';
import pkcs11js from 'pkcs11js';
import { CKK_EC_EDWARDS } from './constants.js';

export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ed25519: '1.3.101.112',
} as const;

/** Uncompressed point size (or raw Ed25519 key size): tells a raw CKA_EC_POINT from a DER-wrapped one. */
const POINT_SIZE: Record<string, number> = { 'EC-P256': 65, 'EC-P384': 97, Ed25519: 32 };

/** CKA_EC_PARAMS for key generation: the namedCurve choice of ECParameters, an OID. */
export function ecParams(alg: KeyAlgorithm): Buffer {
  if (alg === 'EC-P256') return oid(OID.p256);
  if (alg === 'EC-P384') return oid(OID.p384);
  if (alg === 'Ed25519') return oid(OID.ed25519); // RFC 8410 OID; PKCS#11 3.0 also allows printable "edwards25519"
  throw new TrucError('internal', `no EC parameters for ${alg}`);
}

function curveOf(params: Buffer, edwards: boolean): KeyAlgorithm {
  let el;
  try {
    el = parseOne(params, 'CKA_EC_PARAMS', 256);
  } catch {
    throw new TrucError('unsupported', 'the key has unreadable EC parameters');
  }
  if (el.tag === TAG.PrintableString) {
    const name = el.value.toString('ascii');
    if (edwards && name === 'edwards25519') return 'Ed25519';
    throw new TrucError('unsupported', `keys on curve "${name}" are not supported`);
  }
  if (el.tag !== TAG.OID)
    throw new TrucError('unsupported', 'the key has explicit or implicit EC parameters');
  const curve = decodeOid(el.value);
  if (edwards && curve === OID.ed25519) return 'Ed25519';
  if (!edwards && curve === OID.p256) return 'EC-P256';
  if (!edwards && curve === OID.p384) return 'EC-P384';
  throw new TrucError('unsupported', `keys on curve ${curve} are not supported`);
}

export interface PublicAttributes {
  keyType: number;
  ecParams?: Buffer;
  ecPoint?: Buffer;
  modulus?: Buffer;
  publicExponent?: Buffer;
}

export function algorithmOf(a: PublicAttributes): KeyAlgorithm {
  if (a.keyType === pkcs11js.CKK_EC || a.keyType === CKK_EC_EDWARDS) {
    if (!a.ecParams) throw new TrucError('unsupported', 'the key has no CKA_EC_PARAMS');
    return curveOf(a.ecParams, a.keyType === CKK_EC_EDWARDS);
  }
  if (a.keyType === pkcs11js.CKK_RSA) {
    if (!a.modulus) throw new TrucError('unsupported', 'the key has no CKA_MODULUS');
    let i = 0;
    while (i < a.modulus.length && a.modulus[i] === 0) i++;
    const bits = (a.modulus.length - i) * 8;
    if (bits === 2048 || bits === 3072 || bits === 4096) return `RSA-${bits}` as KeyAlgorithm;
    throw new TrucError('unsupported', `RSA keys of ${bits} bits are not supported`);
  }
  throw new TrucError('unsupported', `key type 0x${a.keyType.toString(16)} is not supported`);
}

/**
 * CKA_EC_POINT is specified as a DER OCTET STRING holding the point, but some tokens hand out the bare
 * point; the expected size tells which.
 */
function pointOf(alg: KeyAlgorithm, ecPoint: Buffer | undefined): Buffer {
  if (!ecPoint) throw new TrucError('key_store', `the ${alg} public key has no CKA_EC_POINT`);
  const size = POINT_SIZE[alg];
  if (ecPoint.length === size) return ecPoint;
  try {
    const el = parseOne(ecPoint, 'CKA_EC_POINT', 1024);
    if (el.tag === TAG.OCTET_STRING && el.value.length === size) return el.value;
  } catch {
    // fall through to the error below
  }
  throw new TrucError('key_store', `the token's CKA_EC_POINT for a ${alg} key has an unexpected form`);
}

export function spkiOf(alg: KeyAlgorithm, a: PublicAttributes): Buffer {
  if (alg === 'Ed25519') return seq(seq(oid(OID.ed25519)), bitString(pointOf(alg, a.ecPoint)));
  if (alg === 'EC-P256' || alg === 'EC-P384')
    return seq(
      seq(oid(OID.ecPublicKey), oid(alg === 'EC-P256' ? OID.p256 : OID.p384)),
      bitString(pointOf(alg, a.ecPoint)),
    );
  if (!a.modulus || !a.publicExponent)
    throw new TrucError('key_store', 'the RSA public key lacks modulus or exponent');
  const rsaPublicKey = seq(uintFromBytes(a.modulus), uintFromBytes(a.publicExponent));
  return seq(seq(oid(OID.rsaEncryption), NULL), bitString(rsaPublicKey));
}
