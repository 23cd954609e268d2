/**
 * The digest and signature algorithms a CMS SignerInfo may name, read the way real signers write them, and
 * the signature value checked with them. Verification is not policy: SHA-1, SHA-224, SHA-3, SHA-512/t,
 * RSA-PSS with any hash and mask hash, ECDSA in DER or plain (BSI TR-03111) form, ECDSA identifiers with
 * NULL parameters, `rsaEncryption` or `id-ecPublicKey` standing for "this key type with the SignerInfo's
 * digest" — all are checked here, and whether the algorithm is acceptable is the algorithm policy's
 * question (`sign/validate/algorithms.ts`). What cannot be checked at all is answered `unsupported` with
 * the algorithm named, so the validator says INDETERMINATE, never that the signature is broken.
 */
import { constants, createHash, createPublicKey, publicDecrypt, verify, type KeyObject } from 'node:crypto';
import { children, decodeOid, readElement, type Element } from '../../asn1/reader.js';
import { mgf1 } from '../../crypto/rsa-oaep.js';

/** node:crypto names of the digests a SignerInfo may use. */
export type DigestAlgorithm = 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512' | 'sha512-224' | 'sha512-256' | 'sha3-224' | 'sha3-256' | 'sha3-384' | 'sha3-512';

export const DIGEST_BY_OID: Readonly<Record<string, DigestAlgorithm>> = {
  '1.2.840.113549.2.5': 'md5',
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '2.16.840.1.101.3.4.2.5': 'sha512-224',
  '2.16.840.1.101.3.4.2.6': 'sha512-256',
  '2.16.840.1.101.3.4.2.7': 'sha3-224',
  '2.16.840.1.101.3.4.2.8': 'sha3-256',
  '2.16.840.1.101.3.4.2.9': 'sha3-384',
  '2.16.840.1.101.3.4.2.10': 'sha3-512',
};

type Family = 'rsa' | 'pss' | 'ecdsa' | 'ecdsa-plain' | 'eddsa' | 'dsa';
/** hash: a digest, 'signer' for "the SignerInfo's digestAlgorithm", null for EdDSA (no pre-hash) */
interface Scheme {
  family: Family;
  hash: DigestAlgorithm | 'signer' | null;
  name: string;
}

const rsa = (hash: DigestAlgorithm | 'signer', name: string): Scheme => ({ family: 'rsa', hash, name });
const ec = (hash: DigestAlgorithm | 'signer', name: string): Scheme => ({ family: 'ecdsa', hash, name });
const plain = (hash: DigestAlgorithm, name: string): Scheme => ({ family: 'ecdsa-plain', hash, name });

const SCHEMES: Readonly<Record<string, Scheme>> = {
  '1.2.840.113549.1.1.1': rsa('signer', 'rsaEncryption'),
  '1.2.840.113549.1.1.4': rsa('md5', 'md5WithRSAEncryption'),
  '1.2.840.113549.1.1.5': rsa('sha1', 'sha1WithRSAEncryption'),
  '1.3.14.3.2.29': rsa('sha1', 'sha1WithRSASignature'),
  '1.2.840.113549.1.1.14': rsa('sha224', 'sha224WithRSAEncryption'),
  '1.2.840.113549.1.1.11': rsa('sha256', 'sha256WithRSAEncryption'),
  '1.2.840.113549.1.1.12': rsa('sha384', 'sha384WithRSAEncryption'),
  '1.2.840.113549.1.1.13': rsa('sha512', 'sha512WithRSAEncryption'),
  '1.2.840.113549.1.1.15': rsa('sha512-224', 'sha512-224WithRSAEncryption'),
  '1.2.840.113549.1.1.16': rsa('sha512-256', 'sha512-256WithRSAEncryption'),
  '2.16.840.1.101.3.4.3.13': rsa('sha3-224', 'id-rsassa-pkcs1-v1_5-with-sha3-224'),
  '2.16.840.1.101.3.4.3.14': rsa('sha3-256', 'id-rsassa-pkcs1-v1_5-with-sha3-256'),
  '2.16.840.1.101.3.4.3.15': rsa('sha3-384', 'id-rsassa-pkcs1-v1_5-with-sha3-384'),
  '2.16.840.1.101.3.4.3.16': rsa('sha3-512', 'id-rsassa-pkcs1-v1_5-with-sha3-512'),
  '1.2.840.10045.2.1': ec('signer', 'id-ecPublicKey'),
  '1.2.840.10045.4.1': ec('sha1', 'ecdsa-with-SHA1'),
  '1.2.840.10045.4.3.1': ec('sha224', 'ecdsa-with-SHA224'),
  '1.2.840.10045.4.3.2': ec('sha256', 'ecdsa-with-SHA256'),
  '1.2.840.10045.4.3.3': ec('sha384', 'ecdsa-with-SHA384'),
  '1.2.840.10045.4.3.4': ec('sha512', 'ecdsa-with-SHA512'),
  '2.16.840.1.101.3.4.3.9': ec('sha3-224', 'id-ecdsa-with-sha3-224'),
  '2.16.840.1.101.3.4.3.10': ec('sha3-256', 'id-ecdsa-with-sha3-256'),
  '2.16.840.1.101.3.4.3.11': ec('sha3-384', 'id-ecdsa-with-sha3-384'),
  '2.16.840.1.101.3.4.3.12': ec('sha3-512', 'id-ecdsa-with-sha3-512'),
  // BSI TR-03111 ecdsa-plain-*: r || s instead of a DER SEQUENCE
  '0.4.0.127.0.7.1.1.4.1.1': plain('sha1', 'ecdsa-plain-SHA1'),
  '0.4.0.127.0.7.1.1.4.1.2': plain('sha224', 'ecdsa-plain-SHA224'),
  '0.4.0.127.0.7.1.1.4.1.3': plain('sha256', 'ecdsa-plain-SHA256'),
  '0.4.0.127.0.7.1.1.4.1.4': plain('sha384', 'ecdsa-plain-SHA384'),
  '0.4.0.127.0.7.1.1.4.1.5': plain('sha512', 'ecdsa-plain-SHA512'),
  '0.4.0.127.0.7.1.1.4.1.8': plain('sha3-224', 'ecdsa-plain-SHA3-224'),
  '0.4.0.127.0.7.1.1.4.1.9': plain('sha3-256', 'ecdsa-plain-SHA3-256'),
  '0.4.0.127.0.7.1.1.4.1.10': plain('sha3-384', 'ecdsa-plain-SHA3-384'),
  '0.4.0.127.0.7.1.1.4.1.11': plain('sha3-512', 'ecdsa-plain-SHA3-512'),
  '1.2.840.10040.4.3': { family: 'dsa', hash: 'sha1', name: 'dsa-with-sha1' },
  '2.16.840.1.101.3.4.3.1': { family: 'dsa', hash: 'sha224', name: 'dsa-with-sha224' },
  '2.16.840.1.101.3.4.3.2': { family: 'dsa', hash: 'sha256', name: 'dsa-with-sha256' },
  '1.3.101.112': { family: 'eddsa', hash: null, name: 'Ed25519' },
  '1.3.101.113': { family: 'eddsa', hash: null, name: 'Ed448' },
};

const KEY_TYPES: Record<Family, string[]> = {
  rsa: ['rsa'],
  pss: ['rsa', 'rsa-pss'],
  ecdsa: ['ec'],
  'ecdsa-plain': ['ec'],
  eddsa: ['ed25519', 'ed448'],
  dsa: ['dsa'],
};

/** The digest an AlgorithmIdentifier names, its parameters absent or NULL (both are written). */
export function readDigestAlgorithm(der: Buffer): { digest?: DigestAlgorithm; oid: string } {
  const [o, params] = children(readElement(der, 0, 'DigestAlgorithmIdentifier'), 'DigestAlgorithmIdentifier', 2);
  if (o?.tag !== 0x06) return { oid: '?' };
  const oid = decodeOid(o.value);
  const digest = DIGEST_BY_OID[oid];
  return params && !(params.tag === 0x05 && params.value.length === 0) ? { oid } : { ...(digest ? { digest } : {}), oid };
}

export type ValueCheck =
  | { result: 'ok'; algorithm: string; hash?: DigestAlgorithm; note?: string }
  | { result: 'bad_signature'; algorithm: string; hash?: DigestAlgorithm }
  | { result: 'unsupported'; algorithm: string };

/** RSASSA-PSS parameters (RFC 4055; absent fields are SHA-1, MGF1 with SHA-1, salt 20, trailer 1). */
function pssParams(params: Element | undefined): { hash: DigestAlgorithm; mgfHash: DigestAlgorithm; salt: number } | string {
  let hash: DigestAlgorithm | undefined = 'sha1';
  let mgfHash: DigestAlgorithm | undefined = 'sha1';
  let salt = 20;
  if (params && params.tag !== 0x30) return 'RSASSA-PSS with unreadable parameters';
  for (const f of params ? children(params, 'RSASSA-PSS-params', 4) : []) {
    const [inner] = children(f, 'RSASSA-PSS-params', 1);
    if (!inner) return 'RSASSA-PSS with unreadable parameters';
    if (f.tag === 0xa0) {
      const d = readDigestAlgorithm(inner.raw);
      if (!d.digest) return `RSASSA-PSS with hash ${d.oid}`;
      hash = d.digest;
    } else if (f.tag === 0xa1) {
      const [mgf, mgfParams] = children(inner, 'MaskGenAlgorithm', 2);
      const mgfOid = mgf?.tag === 0x06 ? decodeOid(mgf.value) : '?';
      if (mgfOid !== '1.2.840.113549.1.1.8' || !mgfParams) return `RSASSA-PSS with mask generation ${mgfOid}`;
      const d = readDigestAlgorithm(mgfParams.raw);
      if (!d.digest) return `RSASSA-PSS with MGF1 hash ${d.oid}`;
      mgfHash = d.digest;
    } else if (f.tag === 0xa2) {
      if (inner.tag !== 0x02 || inner.value.length > 4 || inner.value[0] & 0x80) return 'RSASSA-PSS with a bad salt length';
      salt = inner.value.reduce((v, b) => v * 256 + b, 0);
    } else if (f.tag === 0xa3) {
      if (inner.tag !== 0x02 || inner.value.length !== 1 || inner.value[0] !== 1) return 'RSASSA-PSS with a trailer field other than 1';
    }
  }
  return { hash, mgfHash, salt };
}

/**
 * EMSA-PSS-VERIFY (RFC 8017 §9.1.2) over the raw RSA output: done here because OpenSSL through node:crypto
 * ties the mask hash to the message hash, and signers (and SHA-3 with PSS) do not always.
 */
function verifyPss(key: KeyObject, data: Buffer, signature: Buffer, p: { hash: DigestAlgorithm; mgfHash: DigestAlgorithm; salt: number }): boolean {
  const modBits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  const k = Math.ceil(modBits / 8);
  if (signature.length !== k) return false;
  let em: Buffer;
  try {
    em = publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, signature);
  } catch {
    return false;
  }
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  if (em.length > emLen) {
    if (em.subarray(0, em.length - emLen).some((b) => b !== 0)) return false;
    em = em.subarray(em.length - emLen);
  }
  const mHash = createHash(p.hash).update(data).digest();
  const hLen = mHash.length;
  if (emLen < hLen + p.salt + 2 || em[emLen - 1] !== 0xbc) return false;
  const masked = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const topBits = 8 * emLen - emBits;
  if (topBits && masked[0] >> (8 - topBits)) return false;
  const db = mgf1(p.mgfHash, h, masked.length);
  for (let i = 0; i < db.length; i++) db[i] ^= masked[i];
  if (topBits) db[0] &= 0xff >> topBits;
  const psLen = emLen - hLen - p.salt - 2;
  if (db.subarray(0, psLen).some((b) => b !== 0) || db[psLen] !== 0x01) return false;
  const salt = db.subarray(db.length - p.salt);
  const h2 = createHash(p.hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  return h2.equals(h);
}

function verifyWith(family: Family, hash: DigestAlgorithm | null, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    if (family === 'rsa') return verify(hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
    if (family === 'ecdsa-plain') return verify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    return verify(hash, data, key, signature);
  } catch {
    return false;
  }
}

/**
 * Checks `signature` over `data` with the key `spki` under the SignerInfo's `signatureAlgorithm`
 * (`signerDigest`: its digestAlgorithm, what rsaEncryption and id-ecPublicKey imply). When the signature
 * algorithm names one hash and the digestAlgorithm another, both readings are tried (OpenSSL verifies with
 * the digestAlgorithm); a signature that holds under neither is proven wrong.
 */
export function checkSignatureValue(signatureAlgorithm: Buffer, signerDigest: DigestAlgorithm | undefined, spki: Buffer | KeyObject, data: Buffer, signature: Buffer): ValueCheck {
  let o: Element | undefined;
  let params: Element | undefined;
  try {
    [o, params] = children(readElement(signatureAlgorithm, 0, 'signatureAlgorithm'), 'signatureAlgorithm', 2);
  } catch {
    return { result: 'unsupported', algorithm: 'an unreadable signature algorithm' };
  }
  if (o?.tag !== 0x06) return { result: 'unsupported', algorithm: 'an unreadable signature algorithm' };
  const oid = decodeOid(o.value);
  let key: KeyObject;
  try {
    key = Buffer.isBuffer(spki) ? createPublicKey({ key: spki, format: 'der', type: 'spki' }) : spki;
  } catch {
    return { result: 'unsupported', algorithm: `a public key node:crypto cannot read (${oid})` };
  }
  if (oid === '1.2.840.113549.1.1.10') {
    const p = pssParams(params);
    if (typeof p === 'string') return { result: 'unsupported', algorithm: p };
    const algorithm = `RSASSA-PSS(${p.hash}, MGF1-${p.mgfHash}, salt ${p.salt})`;
    if (!KEY_TYPES.pss.includes(key.asymmetricKeyType ?? '')) return { result: 'bad_signature', algorithm, hash: p.hash };
    return verifyPss(key, data, signature, p) ? { result: 'ok', algorithm, hash: p.hash } : { result: 'bad_signature', algorithm, hash: p.hash };
  }
  const scheme = SCHEMES[oid];
  if (!scheme) return { result: 'unsupported', algorithm: `signature algorithm ${oid}` };
  // parameters: absent or NULL for all of these (ECDSA and EdDSA "should" omit them; some signers write NULL)
  const note = params && scheme.family !== 'rsa' && scheme.family !== 'dsa' ? `${scheme.name} written with NULL parameters` : undefined;
  if (params && !(params.tag === 0x05 && params.value.length === 0)) return { result: 'unsupported', algorithm: `${scheme.name} with parameters` };
  if (!KEY_TYPES[scheme.family].includes(key.asymmetricKeyType ?? '')) return { result: 'bad_signature', algorithm: `${scheme.name} with a ${key.asymmetricKeyType ?? 'unknown'} key` };
  if (scheme.hash === null) return verifyWith(scheme.family, null, key, data, signature) ? { result: 'ok', algorithm: scheme.name, ...(note ? { note } : {}) } : { result: 'bad_signature', algorithm: scheme.name };
  const first = scheme.hash === 'signer' ? signerDigest : scheme.hash;
  if (!first) return { result: 'unsupported', algorithm: `${scheme.name} with an unknown digest` };
  const algorithm = scheme.hash === 'signer' ? `${scheme.name} with ${first}` : scheme.name;
  if (verifyWith(scheme.family, first, key, data, signature)) return { result: 'ok', algorithm, hash: first, ...(note ? { note } : {}) };
  if (signerDigest && signerDigest !== first && verifyWith(scheme.family, signerDigest, key, data, signature))
    return { result: 'ok', algorithm: `${scheme.name} computed with the digestAlgorithm ${signerDigest}`, hash: signerDigest, note: `the signature algorithm names ${first} but the value was computed with ${signerDigest}, the SignerInfo's digestAlgorithm` };
  return { result: 'bad_signature', algorithm, hash: first };
}
