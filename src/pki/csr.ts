/**
 * PKCS#10 certification requests (RFC 2986): parsed from PEM or DER with a bounded reader, the signature
 * checked over the exact bytes of the request info (proof of possession of the private key), the public key
 * classified into one of our key algorithms, and the requested alternative names read from the
 * extensionRequest attribute.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { TrucError } from '../errors.js';
import { TAG, pemFirstBody } from '../asn1/der.js';
import { children, decodeOid, parseOne, checkTree, type Element } from '../asn1/reader.js';
import type { KeyAlgorithm, SignatureScheme } from '../crypto/algorithms.js';
import { verifyWith } from '../crypto/sign.js';
import { decodeName, type NameAttribute } from './name.js';
import { decodeAltNames, emptyAltNames, type AltNames } from './san.js';

export const MAX_CSR_BYTES = 64 * 1024;

export interface ParsedCsr {
  der: Buffer;
  subject: NameAttribute[];
  spki: Buffer;
  keyAlgorithm: KeyAlgorithm;
  signatureScheme: SignatureScheme;
  altNames: AltNames;
}

const SIG_OIDS: Record<string, SignatureScheme> = {
  '1.2.840.10045.4.3.2': 'ecdsa-sha256',
  '1.2.840.10045.4.3.3': 'ecdsa-sha384',
  '1.2.840.10045.4.3.4': 'ecdsa-sha512',
  '1.2.840.113549.1.1.11': 'rsa-pkcs1-sha256',
  '1.2.840.113549.1.1.12': 'rsa-pkcs1-sha384',
  '1.2.840.113549.1.1.13': 'rsa-pkcs1-sha512',
  '1.3.101.112': 'ed25519',
};

const PSS_HASH: Record<string, SignatureScheme> = {
  '2.16.840.1.101.3.4.2.1': 'rsa-pss-sha256',
  '2.16.840.1.101.3.4.2.2': 'rsa-pss-sha384',
  '2.16.840.1.101.3.4.2.3': 'rsa-pss-sha512',
};

/** Accepts PEM (`CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`) or raw DER. */
export function csrBytes(input: Buffer | string): Buffer {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (buf.length > MAX_CSR_BYTES) throw new TrucError('too_large', `CSR larger than ${MAX_CSR_BYTES} bytes`);
  const text = buf.subarray(0, 64).toString('latin1');
  if (text.includes('-----BEGIN')) {
    const b64 = pemFirstBody(buf.toString('latin1'), ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'])?.body;
    if (b64 === undefined) throw new TrucError('malformed_pem', 'no CERTIFICATE REQUEST block in the PEM');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new TrucError('malformed_pem', 'PEM body is not base64');
    return Buffer.from(b64, 'base64');
  }
  return buf;
}

export function keyAlgorithmOf(spki: Buffer): KeyAlgorithm {
  return publicKeyOf(spki).algorithm;
}

/**
 * The key object and our name for its algorithm; parsed once, used for the type check and the signature.
 * OpenSSL validates the key; the algorithm is read from the SPKI's own fields, which costs nothing beside
 * the import (asking the key object for its details costs about a tenth of a CSR check).
 */
function publicKeyOf(spki: Buffer): { key: KeyObject; algorithm: KeyAlgorithm } {
  const key = importSpki(spki);
  return { key, algorithm: classify(spki, key) };
}

function importSpki(spki: Buffer): KeyObject {
  try {
    return createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    throw new TrucError('malformed_csr', 'the public key cannot be parsed');
  }
}

const CURVES: Record<string, { name: string; algorithm?: KeyAlgorithm }> = {
  '1.2.840.10045.3.1.7': { name: 'prime256v1', algorithm: 'EC-P256' },
  '1.3.132.0.34': { name: 'secp384r1', algorithm: 'EC-P384' },
  '1.3.132.0.35': { name: 'secp521r1' },
  '1.3.132.0.10': { name: 'secp256k1' },
};

/** Significant bits of a DER INTEGER's magnitude. */
function bitLength(v: Buffer): number {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  return v[i] === 0 ? 0 : (v.length - i - 1) * 8 + (32 - Math.clz32(v[i]!));
}

/** Our key algorithm from the SubjectPublicKeyInfo that `key` was imported from (so known well formed). */
function classify(spki: Buffer, key: KeyObject): KeyAlgorithm {
  const [alg, bits] = children(parseOne(spki, 'SubjectPublicKeyInfo'), 'SubjectPublicKeyInfo', 2);
  const [oid, params] = children(alg!, 'AlgorithmIdentifier', 2);
  switch (decodeOid(oid!.value)) {
    case '1.2.840.10045.2.1': {
      const curveOid = params?.tag === TAG.OID ? decodeOid(params.value) : 'explicit parameters';
      const curve = CURVES[curveOid];
      if (curve?.algorithm) return curve.algorithm;
      throw new TrucError('key_not_allowed', `EC curve ${curve?.name ?? curveOid} is not supported`);
    }
    case '1.2.840.113549.1.1.1': {
      const [modulus, exponent] = children(parseOne(bits!.value.subarray(1), 'RSAPublicKey'), 'RSAPublicKey', 2);
      const e = exponent!.value;
      if (!(e.length === 3 && e[0] === 1 && e[1] === 0 && e[2] === 1)) throw new TrucError('key_not_allowed', 'RSA public exponent must be 65537');
      const n = bitLength(modulus!.value);
      if (n === 2048 || n === 3072 || n === 4096) return `RSA-${n}` as KeyAlgorithm;
      throw new TrucError('key_not_allowed', `RSA key of ${n} bits is not allowed (2048, 3072 or 4096)`);
    }
    case '1.3.101.112':
      return 'Ed25519';
    default:
      throw new TrucError('key_not_allowed', `key type ${key.asymmetricKeyType} is not supported`);
  }
}

function schemeOf(algId: Element): { scheme: SignatureScheme; saltLength?: number } {
  const [o, params] = children(algId, 'CSR signatureAlgorithm', 2);
  if (!o || o.tag !== TAG.OID) throw new TrucError('malformed_csr', 'bad signature algorithm');
  const dotted = decodeOid(o.value);
  if (dotted === '1.2.840.113549.1.1.10') {
    // RSASSA-PSS: hash from [0] (MGF1 assumed on the same hash), salt length from [2] (default 20)
    if (params && params.tag !== TAG.SEQUENCE) throw new TrucError('malformed_csr', 'bad RSASSA-PSS parameters');
    const fields = params ? children(params, 'PSS params', 4) : [];
    const hashField = fields.find((f) => f.tag === 0xa0);
    // [0] EXPLICIT AlgorithmIdentifier { OID, … }
    const hashAlg = hashField ? children(hashField, 'PSS hashAlgorithm', 1)[0] : undefined;
    const hashOidEl = hashAlg?.tag === TAG.SEQUENCE ? children(hashAlg, 'PSS hashAlgorithm', 2)[0] : undefined;
    if (hashField && hashOidEl?.tag !== TAG.OID) throw new TrucError('malformed_csr', 'bad RSASSA-PSS hash algorithm');
    const hashOid = hashOidEl ? decodeOid(hashOidEl.value) : '1.3.14.3.2.26';
    const s = PSS_HASH[hashOid];
    if (!s) throw new TrucError('key_not_allowed', `RSASSA-PSS with hash ${hashOid} is not allowed`);
    const saltField = fields.find((f) => f.tag === 0xa2);
    const saltInt = saltField ? children(saltField, 'PSS saltLength', 1)[0] : undefined;
    if (saltInt && (saltInt.tag !== TAG.INTEGER || saltInt.value.length === 0 || saltInt.value.length > 2))
      throw new TrucError('malformed_csr', 'bad RSASSA-PSS salt length');
    return { scheme: s, saltLength: saltInt ? saltInt.value.readUIntBE(0, saltInt.value.length) : 20 };
  }
  const s = SIG_OIDS[dotted];
  if (!s) throw new TrucError('key_not_allowed', `CSR signature algorithm ${dotted} is not allowed`);
  return { scheme: s };
}

export function parseCsr(input: Buffer | string): ParsedCsr {
  const der = csrBytes(input);
  checkTree(der, 'CSR', 16);
  const root = parseOne(der, 'CSR', MAX_CSR_BYTES);
  const parts = root.tag === TAG.SEQUENCE ? children(root, 'CSR', 3) : [];
  if (parts.length !== 3 || parts[0].tag !== TAG.SEQUENCE || parts[2].tag !== TAG.BIT_STRING)
    throw new TrucError('malformed_csr', 'not a PKCS#10 CertificationRequest');
  const [info, algId, sigBits] = parts;
  const fields = children(info, 'CSR info', 4);
  if (fields.length < 3 || fields[0].tag !== TAG.INTEGER || fields[1].tag !== TAG.SEQUENCE || fields[2].tag !== TAG.SEQUENCE)
    throw new TrucError('malformed_csr', 'bad CertificationRequestInfo');
  if (fields[0].value.length !== 1 || fields[0].value[0] !== 0)
    throw new TrucError('malformed_csr', 'CSR version must be 1 (0)');
  const subject = decodeName(Buffer.from(fields[1].raw));
  const spki = Buffer.from(fields[2].raw);
  const { key: publicKey, algorithm: keyAlgorithm } = publicKeyOf(spki);
  const { scheme: signatureScheme, saltLength } = schemeOf(algId);
  if (sigBits.value[0] !== 0) throw new TrucError('malformed_csr', 'signature BIT STRING has unused bits');
  if (!verifyWith(publicKey, signatureScheme, info.raw, sigBits.value.subarray(1), saltLength))
    throw new TrucError('bad_csr_signature', 'the CSR signature does not verify with its own public key');
  let altNames = emptyAltNames();
  const attrs = fields[3];
  if (attrs && attrs.tag === 0xa0) {
    for (const attr of children(attrs, 'CSR attributes', 32)) {
      const [t, values] = children(attr, 'CSR attribute', 2);
      if (t && t.tag === TAG.OID && decodeOid(t.value) === '1.2.840.113549.1.9.14' && values) {
        const exts = children(values, 'extensionRequest', 1)[0];
        for (const ext of exts ? children(exts, 'extensions', 64) : []) {
          const ef = children(ext, 'extension', 3);
          if (ef[0] && decodeOid(ef[0].value) === '2.5.29.17') {
            const octet = ef[ef.length - 1];
            altNames = decodeAltNames(parseOne(Buffer.from(octet.value), 'subjectAltName'));
          }
        }
      }
    }
  }
  return { der, subject, spki, keyAlgorithm, signatureScheme, altNames };
}
