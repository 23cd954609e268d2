/**
 * What a SubjectPublicKeyInfo holds, read for the strict profile's key rules: the algorithm, RSA modulus
 * size and public exponent, the named curve of an EC key or the fact that its parameters are explicit.
 * Reads only the structure (bounded by the certificate parser's limits); it never builds a key object.
 */
import { children, readElement } from '../../asn1/reader.js';
import { readOid } from './primitives.js';

export type KeyInfo =
  | { kind: 'rsa'; bits: number; exponent: bigint }
  | { kind: 'ec'; curve: string | null; explicit: boolean }
  | { kind: 'eddsa'; curve: 'Ed25519' | 'Ed448' }
  | { kind: 'other'; oid: string }
  | { kind: 'unreadable' };

const RSA = '1.2.840.113549.1.1.1';
const RSA_PSS = '1.2.840.113549.1.1.10';
const EC = '1.2.840.10045.2.1';

/** Named curves by OID; the strict profile accepts the first three. */
export const CURVES: Record<string, string> = {
  '1.2.840.10045.3.1.7': 'P-256',
  '1.3.132.0.34': 'P-384',
  '1.3.132.0.35': 'P-521',
  '1.2.840.10045.3.1.1': 'P-192',
  '1.3.132.0.33': 'P-224',
  '1.3.132.0.10': 'secp256k1',
  '1.3.36.3.3.2.8.1.1.7': 'brainpoolP256r1',
  '1.3.36.3.3.2.8.1.1.11': 'brainpoolP384r1',
  '1.3.36.3.3.2.8.1.1.13': 'brainpoolP512r1',
};

function magnitude(v: Buffer): Buffer {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  return v.subarray(i);
}

export function inspectKey(spki: Buffer): KeyInfo {
  try {
    const [alg, bits] = children(readElement(spki, 0, 'subjectPublicKeyInfo'), 'subjectPublicKeyInfo', 2);
    const [oidEl, params] = children(alg, 'algorithm', 2);
    const oid = readOid(oidEl, 'algorithm');
    if (oid === RSA || oid === RSA_PSS) {
      if (bits.tag !== 0x03 || bits.value[0] !== 0) return { kind: 'unreadable' };
      const [n, e] = children(readElement(bits.value.subarray(1), 0, 'RSA key'), 'RSA key', 2);
      if (!n || !e || n.tag !== 0x02 || e.tag !== 0x02 || n.value[0] & 0x80 || e.value[0] & 0x80)
        return { kind: 'unreadable' };
      const mod = magnitude(n.value);
      const bitLength = mod[0] === 0 ? 0 : (mod.length - 1) * 8 + (32 - Math.clz32(mod[0]));
      return { kind: 'rsa', bits: bitLength, exponent: BigInt('0x' + (magnitude(e.value).toString('hex') || '0')) };
    }
    if (oid === EC) {
      if (params?.tag === 0x06) return { kind: 'ec', curve: CURVES[readOid(params, 'curve')] ?? readOid(params, 'curve'), explicit: false };
      // specifiedCurve (a SEQUENCE) or implicitlyCA (NULL): RFC 5480 forbids both in certificates
      return { kind: 'ec', curve: null, explicit: params?.tag === 0x30 };
    }
    if (oid === '1.3.101.112') return { kind: 'eddsa', curve: 'Ed25519' };
    if (oid === '1.3.101.113') return { kind: 'eddsa', curve: 'Ed448' };
    return { kind: 'other', oid };
  } catch {
    return { kind: 'unreadable' };
  }
}
