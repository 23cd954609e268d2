/**
 * Detached CMS SignedData (RFC 5652): the content is hashed, not carried, so the signed file stays as it
 * is beside its `.p7s`. Signed attributes are contentType, messageDigest, signingTime and ESS
 * signingCertificateV2 (RFC 5035); the signature is made by the key store over their DER SET encoding, and
 * the signer's certificate and its CA chain travel in `certificates` so a verifier needs only a root.
 */
import { createHash } from 'node:crypto';
import { ctx, int, octets, oid, seq, setOf, tlv, time, TAG } from '../../asn1/der.js';
import { SCHEMES, type SignatureScheme } from '../../crypto/algorithms.js';
import { parseCertificate } from '../../pki/path/index.js';
import { attribute, digestAlgorithmId, digestFor, OIDS, signingCertificateV2 } from './attributes.js';

export interface DetachedSigner {
  /** the signer's certificate, DER */
  certificate: Uint8Array;
  /** CA certificates above it (issuing CA first), DER; included so relying parties can build the path */
  chain?: Uint8Array[];
  scheme: SignatureScheme;
  /** signs the whole message per the scheme (the key store's `sign`); ECDSA answers in DER */
  sign(data: Uint8Array): Promise<Buffer> | Buffer;
}

export interface DetachedOptions {
  signingTime?: Date;
}

/** Signs `content`; returns the DER ContentInfo holding the SignedData (a `.p7s`). */
export async function signDetached(content: Uint8Array, signer: DetachedSigner, opts: DetachedOptions = {}): Promise<Buffer> {
  const certDer = Buffer.from(signer.certificate);
  const cert = parseCertificate(certDer);
  const digest = digestFor(signer.scheme);
  const messageDigest = createHash(digest).update(content).digest();
  const when = new Date(Math.floor((opts.signingTime ?? new Date()).getTime() / 1000) * 1000);

  const signedAttrs = [
    attribute(OIDS.contentType, oid(OIDS.data)),
    attribute(OIDS.signingTime, time(when)),
    attribute(OIDS.messageDigest, octets(messageDigest)),
    attribute(OIDS.signingCertificateV2, signingCertificateV2(certDer, cert.issuer.der, cert.serial)),
  ];
  // Signed over the explicit SET OF encoding; carried under the implicit [0] tag (RFC 5652 §5.4).
  const attrsSet = setOf(signedAttrs);
  const signature = await signer.sign(attrsSet);
  const attrsImplicit = Buffer.from(attrsSet);
  attrsImplicit[0] = 0xa0;

  const sid = seq(cert.issuer.der, tlv(TAG.INTEGER, cert.serial));
  const signerInfo = seq(
    int(1),
    sid,
    digestAlgorithmId(digest),
    attrsImplicit,
    Buffer.from(SCHEMES[signer.scheme].algorithmIdentifier),
    octets(signature),
  );
  const certificates = [certDer, ...(signer.chain ?? []).map((c) => Buffer.from(c))];
  const signedData = seq(
    int(1),
    setOf([digestAlgorithmId(digest)]),
    seq(oid(OIDS.data)), // encapContentInfo without eContent: detached
    tlv(0xa0, ...certificates.sort(Buffer.compare)), // [0] IMPLICIT CertificateSet, in DER's SET OF order
    setOf([signerInfo]),
  );
  return seq(oid(OIDS.signedData), ctx(0, signedData));
}
