/**
 * How each signature scheme is asked of a token. Hashing happens in software (node:crypto) and the token
 * signs the digest: CKM_ECDSA, CKM_RSA_PKCS over a DigestInfo, CKM_RSA_PKCS_PSS over the digest. The
 * combined CKM_SHA*_… mechanisms would stream the whole message through the token, which is slow for large
 * documents on network HSMs and missing from some. Ed25519 is the exception: pure EdDSA hashes the message
 * itself, so CKM_EDDSA gets the whole message.
 */
import { createHash } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { SCHEMES, type HashName, type SignatureScheme } from '../algorithms.js';
import { seq, oid, NULL, octets } from '../../asn1/der.js';
import { CKM_EDDSA } from './constants.js';

const HASH: Record<HashName, { oid: string; ckm: number; mgf: number; size: number }> = {
  sha256: {
    oid: '2.16.840.1.101.3.4.2.1',
    ckm: pkcs11js.CKM_SHA256,
    mgf: pkcs11js.CKG_MGF1_SHA256,
    size: 32,
  },
  sha384: {
    oid: '2.16.840.1.101.3.4.2.2',
    ckm: pkcs11js.CKM_SHA384,
    mgf: pkcs11js.CKG_MGF1_SHA384,
    size: 48,
  },
  sha512: {
    oid: '2.16.840.1.101.3.4.2.3',
    ckm: pkcs11js.CKM_SHA512,
    mgf: pkcs11js.CKG_MGF1_SHA512,
    size: 64,
  },
};

export interface TokenSignRequest {
  mechanism: pkcs11js.Mechanism;
  /** what goes into C_Sign */
  input: Buffer;
  /** the token's output is raw r||s and must become DER */
  rawEcdsa: boolean;
}

export function signRequest(scheme: SignatureScheme, data: Uint8Array): TokenSignRequest {
  const { family, hash } = SCHEMES[scheme];
  if (family === 'ed25519' || !hash)
    return { mechanism: { mechanism: CKM_EDDSA }, input: Buffer.from(data), rawEcdsa: false };
  const h = HASH[hash];
  const digest = createHash(hash).update(data).digest();
  switch (family) {
    case 'ecdsa':
      return { mechanism: { mechanism: pkcs11js.CKM_ECDSA }, input: digest, rawEcdsa: true };
    case 'rsa-pkcs1':
      // DigestInfo ::= SEQUENCE { AlgorithmIdentifier (hash, NULL), OCTET STRING digest } (RFC 8017 §9.2)
      return {
        mechanism: { mechanism: pkcs11js.CKM_RSA_PKCS },
        input: seq(seq(oid(h.oid), NULL), octets(digest)),
        rawEcdsa: false,
      };
    case 'rsa-pss': {
      // salt length = hash length, MGF1 over the same hash: the parameters algorithms.ts advertises (RFC 4055)
      const parameter: pkcs11js.RsaPSS = {
        type: pkcs11js.CK_PARAMS_RSA_PSS,
        hashAlg: h.ckm,
        mgf: h.mgf,
        saltLen: h.size,
      };
      return {
        mechanism: { mechanism: pkcs11js.CKM_RSA_PKCS_PSS, parameter },
        input: digest,
        rawEcdsa: false,
      };
    }
  }
}
