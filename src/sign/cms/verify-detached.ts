/**
 * Verifies a detached CMS SignedData over given content, strictly: what `inspectCms` reads (BER brought to
 * DER, the signature checked over the DER signed attributes) must show one signer over id-data whose
 * messageDigest equals the content's digest, a signingTime, a signingCertificateV2 (when present) naming
 * the signer's certificate and a valid signature; given trust anchors, the signer's path must validate at
 * the signing time with key usage digitalSignature or nonRepudiation. Any failure throws
 * `invalid_signature` saying which check failed. Lab reports are signed this way.
 */
import { TrucError, isTrucError } from '../../errors.js';
import { validatePath, type Certificate, type TrustAnchorInput } from '../../pki/path/index.js';
import { decodeName, nameToString } from '../../pki/index.js';
import { inspectCms, type CmsInspection } from '../cades/verify.js';
import { OIDS, type DigestName } from './attributes.js';

/** A lab report's signature is a few kilobytes; a CMS with a long chain stays well under this. */
export const MAX_CMS_BYTES = 1 << 20;

export interface DetachedVerifyOptions {
  /** roots to build the signer's path to; without them only the signature itself is checked */
  trustAnchors?: TrustAnchorInput[];
  /** validation time of the path; defaults to the signingTime attribute */
  at?: Date;
}

export interface DetachedVerification {
  signer: { subject: string; issuer: string; serial: string; certificate: Buffer };
  signingTime: Date;
  digest: DigestName;
  /** true when trust anchors were given and the signer's path validated against them */
  trusted: boolean;
  /** the validated path (signer first) when trusted */
  path: Buffer[];
  certificates: Buffer[];
}

const bad = (message: string, detail?: Record<string, unknown>): TrucError => new TrucError('invalid_signature', message, detail);

function dnString(c: Certificate, which: 'subject' | 'issuer'): string {
  try {
    return nameToString(decodeName(c[which].der));
  } catch {
    return c[which].der.toString('hex');
  }
}

export async function verifyDetached(cms: Uint8Array, content: Uint8Array, opts: DetachedVerifyOptions = {}): Promise<DetachedVerification> {
  if (cms.byteLength > MAX_CMS_BYTES) throw new TrucError('too_large', `signature of ${cms.byteLength} bytes exceeds ${MAX_CMS_BYTES}`);
  let cmsRead: CmsInspection;
  try {
    cmsRead = inspectCms(cms, content);
  } catch (e) {
    // a structure that cannot be read is, to this strict verifier, an invalid signature
    if (isTrucError(e) && (e.code === 'malformed_cms' || e.code === 'malformed_der')) throw bad(e.message);
    throw e;
  }
  if (cmsRead.content !== undefined) throw bad('the content is embedded: expected a detached signature');
  if (cmsRead.signers.length !== 1) throw bad(`expected one signer, found ${cmsRead.signers.length}`);
  const s = cmsRead.signers[0];
  if (s.contentType !== OIDS.data) throw bad('contentType attribute is not id-data');
  const digest = s.digest;
  if (digest !== 'sha256' && digest !== 'sha384' && digest !== 'sha512') throw bad(`digest algorithm ${digest}: SHA-256, SHA-384 or SHA-512 expected`);
  const signerCert = s.certificate;
  if (!signerCert) throw bad("the signer's certificate is not in the signature");
  if (!s.digestMatches) throw bad('the content does not match the signed message digest');
  if (!s.signingTime) throw bad('signed attribute signingTime is missing');
  if (s.signingCertificate === 'mismatch') throw bad('signingCertificateV2 does not name the signer certificate');
  if (!s.signatureValid) throw bad(`signature check failed: ${s.signatureProblem}`);

  let trusted = false;
  let path: Buffer[] = [];
  if (opts.trustAnchors?.length) {
    const r = await validatePath({
      target: signerCert.der,
      intermediates: cmsRead.certificates.filter((c) => !c.equals(signerCert.der)),
      trustAnchors: opts.trustAnchors,
      time: opts.at ?? s.signingTime,
    });
    if (!r.valid) throw bad(`the signer's certificate is not trusted: ${r.message}`, { reason: r.reason });
    const ku = signerCert.keyUsage;
    if (ku && !ku.has('digitalSignature') && !ku.has('nonRepudiation')) throw bad("the signer's certificate is not for signing");
    trusted = true;
    path = r.path;
  }
  return {
    signer: { subject: dnString(signerCert, 'subject'), issuer: dnString(signerCert, 'issuer'), serial: signerCert.serialHex, certificate: signerCert.der },
    signingTime: s.signingTime,
    digest,
    trusted,
    path,
    certificates: cmsRead.certificates,
  };
}
