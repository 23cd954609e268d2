/**
 * Assembly of a CMS SignedData with one signer (RFC 5652) for the CAdES and PAdES signers: the signed
 * attributes to be signed, then — once the signature value comes back from the external signer — the
 * SignerInfo and the ContentInfo, with the content embedded (enveloping) or not (detached).
 */
import { createPublicKey } from 'node:crypto';
import { ctx, int, octets, oid, seq, setOf, tlv, time, TAG } from '../../asn1/der.js';
import { SCHEMES } from '../../crypto/algorithms.js';
import { parseCertificate } from '../../pki/path/index.js';
import { attribute, digestAlgorithmId, OIDS, signingCertificateV2, type DigestName } from '../cms/attributes.js';
import type { SignerIdentity } from '../signer.js';

export interface SignedAttributesInput {
  certificate: Uint8Array;
  messageDigest: Buffer;
  /** eContentType; id-data unless said otherwise */
  contentType?: string;
  /** CAdES carries it; PAdES must not (the time is the /M of the signature dictionary) */
  signingTime?: Date;
  /** further attributes, DER `Attribute`s (commitment type, signature policy, …) */
  extra?: Buffer[];
}

/** The signed attributes as the DER SET OF that the signature is computed over (RFC 5652 §5.4). */
export function signedAttributes(input: SignedAttributesInput): Buffer {
  const certDer = Buffer.from(input.certificate);
  const cert = parseCertificate(certDer);
  const attrs = [
    attribute(OIDS.contentType, oid(input.contentType ?? OIDS.data)),
    attribute(OIDS.messageDigest, octets(input.messageDigest)),
    attribute(OIDS.signingCertificateV2, signingCertificateV2(certDer, cert.issuer.der, cert.serial)),
    ...(input.signingTime ? [attribute(OIDS.signingTime, time(new Date(Math.floor(input.signingTime.getTime() / 1000) * 1000)))] : []),
    ...(input.extra ?? []),
  ];
  return setOf(attrs);
}

export interface SignedDataInput {
  identity: SignerIdentity;
  digest: DigestName;
  /** the DER SET OF the signature was computed over */
  signedAttrs: Buffer;
  signature: Buffer;
  contentType?: string;
  /** the content, for an enveloping signature */
  content?: Uint8Array;
  /** unsigned attributes (a signature time-stamp, …), DER `Attribute`s */
  unsignedAttrs?: Buffer[];
}

export function signedData(input: SignedDataInput): Buffer {
  const certDer = Buffer.from(input.identity.certificate);
  const cert = parseCertificate(certDer);
  const attrsImplicit = Buffer.from(input.signedAttrs);
  attrsImplicit[0] = 0xa0; // carried under [0] IMPLICIT, signed as SET OF
  const signerInfo = seq(
    int(1),
    seq(cert.issuer.der, tlv(TAG.INTEGER, cert.serial)),
    digestAlgorithmId(input.digest),
    attrsImplicit,
    Buffer.from(SCHEMES[input.identity.scheme].algorithmIdentifier),
    octets(input.signature),
    ...(input.unsignedAttrs?.length ? [tlv(0xa1, ...[...input.unsignedAttrs].sort(Buffer.compare))] : []),
  );
  const contentType = oid(input.contentType ?? OIDS.data);
  const encap = input.content ? seq(contentType, ctx(0, octets(input.content))) : seq(contentType);
  const certificates = [certDer, ...(input.identity.chain ?? []).map((c) => Buffer.from(c))];
  const sd = seq(
    int(1),
    setOf([digestAlgorithmId(input.digest)]),
    encap,
    tlv(0xa0, ...certificates.sort(Buffer.compare)),
    setOf([signerInfo]),
  );
  return seq(oid(OIDS.signedData), ctx(0, sd));
}

/** The longest signature value the signer's key can produce: sizes a placeholder before signing. */
export function maxSignatureLength(certificate: Uint8Array): number {
  const cert = parseCertificate(Buffer.from(certificate));
  const key = createPublicKey({ key: cert.spki, format: 'der', type: 'spki' });
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') return Math.ceil((d?.modulusLength ?? 4096) / 8);
  if (key.asymmetricKeyType === 'ec') {
    const bytes = { 'prime256v1': 32, secp384r1: 48, secp521r1: 66 }[d?.namedCurve ?? ''] ?? 66;
    // DER SEQUENCE of two INTEGERs, each possibly with a leading zero
    return 2 * (bytes + 3) + 3;
  }
  return 114; // Ed25519 64, Ed448 114
}
