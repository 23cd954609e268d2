/**
 * The algorithm registry: key types, signature schemes and their ASN.1 identifiers. Which of them a
 * deployment allows is policy (configuration), checked with `assertAllowed`; this file only knows what
 * each one is.
 */
import { TrucError } from '../errors.js';
import { seq, oid, NULL, ctx, int } from '../asn1/der.js';

export type KeyAlgorithm = 'EC-P256' | 'EC-P384' | 'RSA-2048' | 'RSA-3072' | 'RSA-4096' | 'Ed25519';

export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = [
  'EC-P256',
  'EC-P384',
  'RSA-2048',
  'RSA-3072',
  'RSA-4096',
  'Ed25519',
];

export type SignatureScheme =
  | 'ecdsa-sha256'
  | 'ecdsa-sha384'
  | 'ecdsa-sha512'
  | 'rsa-pkcs1-sha256'
  | 'rsa-pkcs1-sha384'
  | 'rsa-pkcs1-sha512'
  | 'rsa-pss-sha256'
  | 'rsa-pss-sha384'
  | 'rsa-pss-sha512'
  | 'ed25519';

export type HashName = 'sha256' | 'sha384' | 'sha512';

export interface SchemeInfo {
  family: 'ecdsa' | 'rsa-pkcs1' | 'rsa-pss' | 'ed25519';
  hash: HashName | null;
  /** DER of the AlgorithmIdentifier placed in certificates, CRLs, CMS. */
  algorithmIdentifier: Uint8Array;
}

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// PSS parameters: hash, MGF1 with the same hash, salt length = hash length, trailer field 1 (RFC 4055).
function pssAlgId(hash: HashName): Uint8Array {
  const h = { sha256: '2.16.840.1.101.3.4.2.1', sha384: '2.16.840.1.101.3.4.2.2', sha512: '2.16.840.1.101.3.4.2.3' }[hash];
  const salt = { sha256: 32, sha384: 48, sha512: 64 }[hash];
  const hashAlg = seq(oid(h), NULL);
  return seq(
    oid('1.2.840.113549.1.1.10'),
    seq(ctx(0, hashAlg), ctx(1, seq(oid('1.2.840.113549.1.1.8'), hashAlg)), ctx(2, int(salt))),
  );
}

export const SCHEMES: Record<SignatureScheme, SchemeInfo> = {
  'ecdsa-sha256': { family: 'ecdsa', hash: 'sha256', algorithmIdentifier: hex('300a06082a8648ce3d040302') },
  'ecdsa-sha384': { family: 'ecdsa', hash: 'sha384', algorithmIdentifier: hex('300a06082a8648ce3d040303') },
  'ecdsa-sha512': { family: 'ecdsa', hash: 'sha512', algorithmIdentifier: hex('300a06082a8648ce3d040304') },
  'rsa-pkcs1-sha256': {
    family: 'rsa-pkcs1',
    hash: 'sha256',
    algorithmIdentifier: hex('300d06092a864886f70d01010b0500'),
  },
  'rsa-pkcs1-sha384': {
    family: 'rsa-pkcs1',
    hash: 'sha384',
    algorithmIdentifier: hex('300d06092a864886f70d01010c0500'),
  },
  'rsa-pkcs1-sha512': {
    family: 'rsa-pkcs1',
    hash: 'sha512',
    algorithmIdentifier: hex('300d06092a864886f70d01010d0500'),
  },
  'rsa-pss-sha256': { family: 'rsa-pss', hash: 'sha256', algorithmIdentifier: pssAlgId('sha256') },
  'rsa-pss-sha384': { family: 'rsa-pss', hash: 'sha384', algorithmIdentifier: pssAlgId('sha384') },
  'rsa-pss-sha512': { family: 'rsa-pss', hash: 'sha512', algorithmIdentifier: pssAlgId('sha512') },
  ed25519: { family: 'ed25519', hash: null, algorithmIdentifier: hex('300506032b6570') },
};

export function keyFamily(alg: KeyAlgorithm): 'ec' | 'rsa' | 'ed25519' {
  return alg.startsWith('EC-') ? 'ec' : alg.startsWith('RSA-') ? 'rsa' : 'ed25519';
}

/** The signature scheme used by default for a key: hash strength matched to the key. */
export function defaultScheme(alg: KeyAlgorithm, rsaPadding: 'pkcs1' | 'pss' = 'pkcs1'): SignatureScheme {
  switch (alg) {
    case 'EC-P256':
      return 'ecdsa-sha256';
    case 'EC-P384':
      return 'ecdsa-sha384';
    case 'Ed25519':
      return 'ed25519';
    default:
      return rsaPadding === 'pss' ? 'rsa-pss-sha256' : 'rsa-pkcs1-sha256';
  }
}

export function schemeFitsKey(scheme: SignatureScheme, alg: KeyAlgorithm): boolean {
  const fam = SCHEMES[scheme].family;
  const kf = keyFamily(alg);
  return (fam === 'ecdsa' && kf === 'ec') || (fam.startsWith('rsa') && kf === 'rsa') || (fam === 'ed25519' && kf === 'ed25519');
}

export function parseKeyAlgorithm(s: string): KeyAlgorithm {
  if ((KEY_ALGORITHMS as readonly string[]).includes(s)) return s as KeyAlgorithm;
  throw new TrucError('key_not_allowed', `unknown key algorithm "${s}"`, { allowed: KEY_ALGORITHMS });
}

export function parseScheme(s: string): SignatureScheme {
  if (s in SCHEMES) return s as SignatureScheme;
  throw new TrucError('key_not_allowed', `unknown signature scheme "${s}"`, { allowed: Object.keys(SCHEMES) });
}

/** Algorithm policy: which key algorithms and schemes this deployment allows. */
export interface AlgorithmPolicy {
  keyAlgorithms: KeyAlgorithm[];
  signatureSchemes: SignatureScheme[];
}

export const DEFAULT_POLICY: AlgorithmPolicy = {
  keyAlgorithms: [...KEY_ALGORITHMS],
  signatureSchemes: Object.keys(SCHEMES) as SignatureScheme[],
};

export function assertKeyAllowed(policy: AlgorithmPolicy, alg: KeyAlgorithm): void {
  if (!policy.keyAlgorithms.includes(alg))
    throw new TrucError('key_not_allowed', `key algorithm ${alg} is not allowed by policy`, {
      allowed: policy.keyAlgorithms,
    });
}

export function assertSchemeAllowed(policy: AlgorithmPolicy, scheme: SignatureScheme): void {
  if (!policy.signatureSchemes.includes(scheme))
    throw new TrucError('key_not_allowed', `signature scheme ${scheme} is not allowed by policy`, {
      allowed: policy.signatureSchemes,
    });
}
