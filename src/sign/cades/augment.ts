/**
 * Raising a CAdES signature's level without re-signing (EN 319 122-1 §5.5): B-T adds a signature-time-stamp
 * over the signature value; B-LT adds certificate-values and revocation-values covering the signer's path
 * and each time-stamp's TSA path. Levels already reached are kept as they are. B-LTA adds an
 * archive-time-stamp-v3 (`archive.ts`) whose token carries the ats-hash-index-v3 of what it covers (a
 * signature that has one is left as it is; `renewCadesArchive` adds the next one). A detached signature
 * needs its content for B-LTA.
 */
import { createHash } from 'node:crypto';
import { TrucError } from '../../errors.js';
import { collectEvidence } from '../evidence/collect.js';
import { needEvidence, needTimeStamper, rank, type Level, type LevelContext } from '../level.js';
import { readTimeStampToken } from '../timestamp/token.js';
import { addUnsignedAttributes, addValidationData, certificateValuesAttribute, revocationValuesAttribute, signatureTimeStampAttribute, UNSIGNED } from './unsigned.js';
import { inspectCms } from './verify.js';
import { archiveImprint, archiveParts, atsHashIndexAttribute, atsHashIndexV3 } from './archive.js';
import { oid, seq, set } from '../../asn1/der.js';

/** The signer's structure, content not needed (digest unchecked): augmentation does not judge, it adds. */
const inspect = (der: Uint8Array) => inspectCms(der, () => Buffer.alloc(0));

export async function augmentCades(der: Uint8Array, level: Level, ctx: LevelContext, index = 0, content?: Uint8Array): Promise<Buffer> {
  // a BER signature is raised in its DER form (the signature is over the DER of its signed attributes anyway)
  let cms: Buffer = inspect(der).der;
  let s = inspect(cms).signers[index];
  if (!s) throw new TrucError('bad_request', `the CMS has no signer ${index}`);
  if (rank(level) >= rank('B-T') && !s.unsignedAttributes.has(UNSIGNED.signatureTimeStamp)) {
    const token = await needTimeStamper(ctx).stamp(createHash('sha256').update(s.signatureValue).digest(), 'sha256');
    cms = addUnsignedAttributes(cms, [signatureTimeStampAttribute(token)], index);
    s = inspect(cms).signers[index];
  }
  if (rank(level) >= rank('B-LT') && !s.unsignedAttributes.has(UNSIGNED.revocationValues)) {
    if (!s.certificate) throw new TrucError('bad_request', "the signer's certificate is not in the CMS");
    const tokens = (s.unsignedAttributes.get(UNSIGNED.signatureTimeStamp) ?? []).map((t) => readTimeStampToken(t));
    const targets = [s.certificate.der, ...tokens.flatMap((t) => (t.signer.certificate ? [t.signer.certificate.der] : []))];
    const pool = [...inspect(cms).certificates, ...tokens.flatMap((t) => t.cms.certificates)];
    const ev = await collectEvidence(targets, pool, needEvidence(ctx));
    cms = addUnsignedAttributes(cms, [certificateValuesAttribute(ev.certs), revocationValuesAttribute(ev.crls, ev.ocsps)], index);
  }
  if (rank(level) >= rank('B-LTA') && !inspect(cms).signers[index].unsignedAttributes.has(UNSIGNED.archiveTimeStampV3)) cms = await addArchiveTimeStamp(cms, index, content, ctx);
  return cms;
}

/** A new archive-time-stamp-v3 over the signature as it is now, its ats-hash-index-v3 in the token. */
async function addArchiveTimeStamp(cms: Buffer, index: number, content: Uint8Array | undefined, ctx: LevelContext): Promise<Buffer> {
  const parts = archiveParts(cms, index);
  const hashIndex = atsHashIndexV3(parts, 'sha256');
  const imprint = archiveImprint(parts, content, hashIndex, 'sha256');
  const token = await needTimeStamper(ctx).stamp(imprint, 'sha256');
  const withIndex = addUnsignedAttributes(token, [atsHashIndexAttribute(hashIndex)], 0);
  return addUnsignedAttributes(cms, [seq(oid(UNSIGNED.archiveTimeStampV3), set(withIndex))], index);
}

/**
 * Renews the archive time-stamp of a B-LTA signature (EN 319 122-1 §5.5.3): the certificates and fresh
 * revocation data of the newest archive time-stamp's TSA are added to SignedData.certificates and
 * SignedData.crls (OCSP responses as RevocationInfoChoice `other`, id-ri-ocsp-response, RFC 5940), then a
 * new archive-time-stamp-v3 covers all of it — the earlier archive time-stamps among the unsigned
 * attributes its hash index lists. Earlier time-stamps stay valid: their indexes still find every element
 * they listed. A detached signature needs its content, as for B-LTA.
 */
export async function renewCadesArchive(der: Uint8Array, ctx: LevelContext, index = 0, content?: Uint8Array): Promise<Buffer> {
  let cms: Buffer = inspect(der).der;
  const s = inspect(cms).signers[index];
  if (!s) throw new TrucError('bad_request', `the CMS has no signer ${index}`);
  const tokens = (s.unsignedAttributes.get(UNSIGNED.archiveTimeStampV3) ?? []).map((t) => readTimeStampToken(t));
  if (!tokens.length) throw new TrucError('bad_request', 'the signature has no archive time-stamp to renew (raise it to B-LTA first)');
  if (!content && !inspect(cms).content) throw new TrucError('bad_request', 'the signed content is needed to renew the archive time-stamp of a detached signature');
  const newest = tokens.reduce((a, b) => (b.tstInfo.genTime > a.tstInfo.genTime ? b : a));
  if (!newest.signer.certificate) throw new TrucError('bad_request', "the newest archive time-stamp does not carry its TSA's certificate");
  const ev = await collectEvidence([newest.signer.certificate.der], [...inspect(cms).certificates, ...tokens.flatMap((t) => t.cms.certificates)], needEvidence(ctx));
  cms = addValidationData(cms, ev.certs, ev.crls, ev.ocsps);
  return addArchiveTimeStamp(cms, index, content, ctx);
}
