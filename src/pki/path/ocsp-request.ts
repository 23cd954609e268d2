/**
 * OCSP requests (RFC 6960 section 4.1) and the CertID they and responses carry: hashes of the issuer's
 * name (its DER as it appears in the certificate's issuer field) and of the issuer's public key bits.
 */
import { createHash, randomBytes } from 'node:crypto';
import { NULL, ctx, octets, oid, seq, tlv } from '../../asn1/der.js';
import { parseCertificate, type Certificate } from './certificate.js';
import { readAnchor, type TrustAnchorInput } from './anchor.js';
import { issuerOfCert, type IssuerInfo } from './issuer.js';
import { OID } from './oids.js';

export type CertIdHash = 'sha1' | 'sha256' | 'sha384' | 'sha512';

export const CERT_ID_HASH_OIDS: Record<CertIdHash, string> = {
  sha1: OID.sha1,
  sha256: OID.sha256,
  sha384: OID.sha384,
  sha512: OID.sha512,
};

export function certIdParts(cert: Certificate, issuer: IssuerInfo, hash: CertIdHash) {
  return {
    issuerNameHash: createHash(hash).update(cert.issuer.der).digest(),
    issuerKeyHash: createHash(hash).update(issuer.publicKeyBits).digest(),
    serial: cert.serial,
  };
}

export function encodeCertId(cert: Certificate, issuer: IssuerInfo, hash: CertIdHash): Buffer {
  const p = certIdParts(cert, issuer, hash);
  return seq(
    seq(oid(CERT_ID_HASH_OIDS[hash]), NULL),
    octets(p.issuerNameHash),
    octets(p.issuerKeyHash),
    tlv(0x02, p.serial),
  );
}

export interface OcspRequestOptions {
  /** CertID hash: SHA-1 is what most responders still index by; SHA-256 where they accept it */
  hash?: CertIdHash;
  /** true for 32 random bytes, or the nonce itself; omitted means no nonce (cacheable responses) */
  nonce?: boolean | Uint8Array;
}

/** An OCSPRequest for one certificate, given its issuer (certificate DER, or a trust anchor's name and key). */
export function buildOcspRequest(
  certDer: Uint8Array,
  issuer: TrustAnchorInput,
  opts: OcspRequestOptions = {},
): Buffer {
  const cert = parseCertificate(Buffer.from(certDer));
  const a = readAnchor(issuer);
  return encodeOcspRequest(cert, a.cert ? issuerOfCert(a.cert) : a, opts);
}

export function encodeOcspRequest(
  cert: Certificate,
  issuer: IssuerInfo,
  opts: OcspRequestOptions = {},
): Buffer {
  const request = seq(encodeCertId(cert, issuer, opts.hash ?? 'sha1'));
  const parts: Buffer[] = [seq(request)];
  if (opts.nonce) {
    const nonce = opts.nonce === true ? randomBytes(32) : Buffer.from(opts.nonce);
    parts.push(ctx(2, seq(seq(oid(OID.ocspNonce), octets(octets(nonce))))));
  }
  return seq(seq(...parts));
}
