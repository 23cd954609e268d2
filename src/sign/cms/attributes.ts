/**
 * The CMS identifiers and signed attributes both the signer and the verifier need: content types, the
 * digest algorithms a scheme implies, and ESS signingCertificateV2 (RFC 5035), which binds the signature
 * to one certificate so a second certificate for the same key cannot be substituted.
 */
import { createHash } from 'node:crypto';
import { ctx, octets, oid, seq, setOf, tlv, NULL, TAG } from '../../asn1/der.js';
import { SCHEMES, type SignatureScheme } from '../../crypto/algorithms.js';
import { CMS_OIDS as OIDS } from '../../asn1/oids.js';

export { OIDS };

export type DigestName = 'sha256' | 'sha384' | 'sha512';

export const DIGEST_OID: Record<DigestName, string> = { sha256: OIDS.sha256, sha384: OIDS.sha384, sha512: OIDS.sha512 };

/** The message digest a scheme hashes with; Ed25519 signs the attributes directly and pairs with SHA-512 (RFC 8419). */
export function digestFor(scheme: SignatureScheme): DigestName {
  return SCHEMES[scheme].hash ?? 'sha512';
}

/** AlgorithmIdentifier of a digest; parameters absent, as RFC 5754 says generators should. */
export function digestAlgorithmId(d: DigestName): Buffer {
  return seq(oid(DIGEST_OID[d]));
}

/** Accepts the NULL-parameter form some producers still emit. */
export function digestFromAlgorithmId(der: Buffer): DigestName | undefined {
  for (const d of Object.keys(DIGEST_OID) as DigestName[]) {
    if (der.equals(seq(oid(DIGEST_OID[d]))) || der.equals(seq(oid(DIGEST_OID[d]), NULL))) return d;
  }
  return undefined;
}

/** Attribute ::= SEQUENCE { attrType, attrValues SET OF } — DER orders the values. */
export function attribute(type: string, ...values: Buffer[]): Buffer {
  return seq(oid(type), setOf(values));
}

/**
 * SigningCertificateV2 with one ESSCertIDv2: SHA-256 of the certificate (the default hash, so its
 * AlgorithmIdentifier is omitted as DER requires) and the issuer and serial number.
 */
export function signingCertificateV2(certDer: Buffer, issuerNameDer: Buffer, serialContent: Buffer): Buffer {
  const hash = createHash('sha256').update(certDer).digest();
  const issuerSerial = seq(seq(ctx(4, issuerNameDer)), tlv(TAG.INTEGER, serialContent));
  return seq(seq(seq(octets(hash), issuerSerial)));
}
