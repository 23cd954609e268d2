/**
 * Verifies a signature given the AlgorithmIdentifier that names it and the signer's SubjectPublicKeyInfo:
 * RSA PKCS#1 v1.5, RSA-PSS (parameters read from the identifier), ECDSA, Ed25519 and Ed448, with SHA-2.
 * SHA-1 signatures are refused: nothing we validate should still rely on them.
 */
import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { children, readElement, type Element } from '../../asn1/reader.js';
import { readOid, readSmallUint } from './primitives.js';

type Family = 'rsa' | 'pss' | 'ecdsa' | 'eddsa';
interface Alg {
  family: Family;
  hash: string | null;
  saltLength?: number;
}

const SIMPLE: Record<string, Alg> = {
  '1.2.840.113549.1.1.11': { family: 'rsa', hash: 'sha256' },
  '1.2.840.113549.1.1.12': { family: 'rsa', hash: 'sha384' },
  '1.2.840.113549.1.1.13': { family: 'rsa', hash: 'sha512' },
  '1.2.840.10045.4.3.2': { family: 'ecdsa', hash: 'sha256' },
  '1.2.840.10045.4.3.3': { family: 'ecdsa', hash: 'sha384' },
  '1.2.840.10045.4.3.4': { family: 'ecdsa', hash: 'sha512' },
  '1.3.101.112': { family: 'eddsa', hash: null },
  '1.3.101.113': { family: 'eddsa', hash: null },
};

const HASHES: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

function hashOf(algId: Element): string | null {
  const [o] = children(algId, 'hash algorithm', 2);
  return o ? (HASHES[readOid(o, 'hash algorithm')] ?? null) : null;
}

function pss(params: Element | undefined): Alg | null {
  // RFC 4055 defaults (SHA-1, MGF1-SHA-1, salt 20) are all SHA-1 and therefore refused
  if (!params || params.tag !== 0x30) return null;
  let hash: string | null = null;
  let mgfHash: string | null = null;
  let saltLength = 20;
  for (const f of children(params, 'RSASSA-PSS params', 4)) {
    const [inner] = children(f, 'RSASSA-PSS params', 1);
    if (!inner) return null;
    if (f.tag === 0xa0) hash = hashOf(inner);
    else if (f.tag === 0xa1) {
      const [mgfOid, mgfParams] = children(inner, 'MGF', 2);
      if (!mgfOid || readOid(mgfOid, 'MGF') !== '1.2.840.113549.1.1.8' || !mgfParams) return null;
      mgfHash = hashOf(mgfParams);
    } else if (f.tag === 0xa2) saltLength = readSmallUint(inner, 'saltLength');
    else if (f.tag === 0xa3 && readSmallUint(inner, 'trailerField') !== 1) return null;
  }
  if (!hash || hash !== mgfHash) return null; // node:crypto uses MGF1 with the signature's hash
  return { family: 'pss', hash, saltLength };
}

function identify(algorithmIdentifier: Buffer): Alg | null {
  const el = readElement(algorithmIdentifier, 0, 'AlgorithmIdentifier');
  const [o, params] = children(el, 'AlgorithmIdentifier', 2);
  if (!o) return null;
  const oid = readOid(o, 'AlgorithmIdentifier');
  if (oid === '1.2.840.113549.1.1.10') return pss(params);
  const alg = SIMPLE[oid];
  if (!alg) return null;
  // ECDSA and EdDSA identifiers carry no parameters; RSA PKCS#1 carries NULL or nothing
  if (params && !(alg.family === 'rsa' && params.tag === 0x05 && params.value.length === 0)) return null;
  return alg;
}

const KEY_TYPES: Record<Family, string[]> = {
  rsa: ['rsa'],
  pss: ['rsa', 'rsa-pss'],
  ecdsa: ['ec'],
  eddsa: ['ed25519', 'ed448'],
};

export type SignatureCheck = 'ok' | 'bad_signature' | 'unsupported_algorithm' | 'bad_key';

export function checkSignature(
  algorithmIdentifier: Buffer,
  spki: Buffer | KeyObject,
  data: Buffer,
  signature: Buffer,
): SignatureCheck {
  let alg: Alg | null;
  try {
    alg = identify(algorithmIdentifier);
  } catch {
    return 'unsupported_algorithm';
  }
  if (!alg) return 'unsupported_algorithm';
  let key: KeyObject;
  try {
    key = Buffer.isBuffer(spki) ? createPublicKey({ key: spki, format: 'der', type: 'spki' }) : spki;
  } catch {
    return 'bad_key';
  }
  if (!KEY_TYPES[alg.family].includes(key.asymmetricKeyType ?? '')) return 'bad_signature';
  try {
    const opts =
      alg.family === 'pss'
        ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: alg.saltLength }
        : alg.family === 'rsa'
          ? { key, padding: constants.RSA_PKCS1_PADDING }
          : key;
    return verify(alg.hash, data, opts as KeyObject, signature) ? 'ok' : 'bad_signature';
  } catch {
    return 'bad_signature';
  }
}
