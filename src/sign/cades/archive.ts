/**
 * The archive-time-stamp-v3 of CAdES B-LTA (EN 319 122-1 §5.5.2, §5.5.3). The time-stamp's message imprint
 * is the hash — with the time-stamp's own hash algorithm — of the concatenation of
 *   1. SignedData.encapContentInfo.eContentType (tag, length, value),
 *   2. the hash of the signed content (the same content the message-digest covers), raw octets,
 *   3. version, sid, digestAlgorithm, signedAttrs, signatureAlgorithm and signature of the SignerInfo, as
 *      encoded (tag, length, value), in their order,
 *   4. the DER of the ATSHashIndexV3 the token carries in its own unsigned attribute ats-hash-index-v3:
 *      ATSHashIndexV3 ::= SEQUENCE { hashIndAlgorithm AlgorithmIdentifier DEFAULT {id-sha256},
 *        certificatesHashIndex SEQUENCE OF OCTET STRING, crlsHashIndex SEQUENCE OF OCTET STRING,
 *        unsignedAttrsHashIndex SEQUENCE OF OCTET STRING }
 *      — a hash of each element of SignedData.certificates and SignedData.crls (whole encoding), and, for
 *      each unsigned attribute of the signer and each of its values, a hash of attrType ‖ AttributeValue.
 * The index lets later additions (more validation data, the next archive time-stamp) sit beside what the
 * token covers: a verifier recomputes the imprint from the stored index, then checks that every hash in
 * the index still matches an element present — an element changed or removed breaks the archive.
 */
import { createHash } from 'node:crypto';
import { oid, octets, seq, set } from '../../asn1/der.js';
import { checkTree, children, decodeOid, parseOne, type Element } from '../../asn1/reader.js';
import { TrucError } from '../../errors.js';
import { digestAlgorithmId, digestFromAlgorithmId, type DigestName } from '../cms/attributes.js';
import type { DigestAlgorithm } from '../cms/signature-value.js';
import { MAX_CMS_BYTES } from './verify.js';

export const ATS_HASH_INDEX_V3 = '0.4.0.19122.1.5';

const bad = (m: string) => new TrucError('malformed_cms', `archive time-stamp: ${m}`);

export interface ArchiveParts {
  eContentType: Buffer;
  /** eContent octets (enveloping), undefined when detached */
  eContent?: Buffer;
  certificates: Buffer[];
  crls: Buffer[];
  /** version … signature of the SignerInfo, each as encoded */
  signerFields: Buffer[];
  /** each unsigned attribute: attrType (TLV) and its values (TLVs) */
  unsigned: { type: string; typeTlv: Buffer; values: Buffer[] }[];
}

/** The parts of signer `index` of a SignedData that an archive-time-stamp-v3 covers. */
export function archiveParts(cms: Uint8Array, index = 0): ArchiveParts {
  const buf = Buffer.from(cms.buffer, cms.byteOffset, cms.byteLength);
  checkTree(buf, 'CMS', 48);
  const ci = children(parseOne(buf, 'CMS', MAX_CMS_BYTES));
  if (ci[1]?.tag !== 0xa0) throw bad('not a ContentInfo');
  const sd = children(children(ci[1])[0]);
  let i = 2;
  const encap = children(sd[i++]);
  const eContent = encap[1] ? Buffer.from(children(encap[1])[0].value) : undefined;
  const certificates = sd[i]?.tag === 0xa0 ? children(sd[i++], 'certificates', 200).map((e) => Buffer.from(e.raw)) : [];
  const crls = sd[i]?.tag === 0xa1 ? children(sd[i++], 'crls', 200).map((e) => Buffer.from(e.raw)) : [];
  const info = children(sd[i], 'signerInfos', 16)[index];
  if (!info) throw bad(`no signer ${index}`);
  const fields = children(info, 'SignerInfo');
  const last = fields[fields.length - 1];
  const unsigned = last.tag === 0xa1
    ? children(last, 'unsignedAttrs', 64).map((a: Element) => {
        const [t, vals] = children(a);
        return { type: decodeOid(t.value), typeTlv: Buffer.from(t.raw), values: children(vals, 'attrValues', 64).map((v) => Buffer.from(v.raw)) };
      })
    : [];
  return {
    eContentType: Buffer.from(encap[0].raw),
    ...(eContent ? { eContent } : {}),
    certificates,
    crls,
    signerFields: (last.tag === 0xa1 ? fields.slice(0, -1) : fields).map((f) => Buffer.from(f.raw)),
    unsigned,
  };
}

const h = (alg: DigestName | DigestAlgorithm, ...parts: Buffer[]) => {
  const c = createHash(alg);
  for (const p of parts) c.update(p);
  return c.digest();
};

/** The index hashes of the current parts: certificates, CRLs, unsigned attribute values. */
export function indexHashes(parts: ArchiveParts, alg: DigestName): { certs: Buffer[]; crls: Buffer[]; attrs: Buffer[] } {
  return {
    certs: parts.certificates.map((c) => h(alg, c)),
    crls: parts.crls.map((c) => h(alg, c)),
    attrs: parts.unsigned.flatMap((a) => a.values.map((v) => h(alg, a.typeTlv, v))),
  };
}

/** ATSHashIndexV3 over the parts as they are now (DER; hashIndAlgorithm omitted when SHA-256, its default). */
export function atsHashIndexV3(parts: ArchiveParts, alg: DigestName = 'sha256'): Buffer {
  const x = indexHashes(parts, alg);
  return seq(...(alg === 'sha256' ? [] : [digestAlgorithmId(alg)]), seq(...x.certs.map(octets)), seq(...x.crls.map(octets)), seq(...x.attrs.map(octets)));
}

export const atsHashIndexAttribute = (index: Buffer) => seq(oid(ATS_HASH_INDEX_V3), set(index));

/** The message imprint an archive-time-stamp-v3 must carry. */
export function archiveImprint(parts: ArchiveParts, content: Uint8Array | undefined, index: Buffer, alg: DigestName | DigestAlgorithm): Buffer {
  const data = content ?? parts.eContent;
  if (!data) throw new TrucError('bad_request', 'the signed content is needed for an archive time-stamp of a detached signature');
  return h(alg, parts.eContentType, h(alg, Buffer.from(data)), ...parts.signerFields, index);
}

/** Reads an ATSHashIndexV3: its algorithm and the three lists. */
export function readAtsHashIndexV3(der: Buffer): { alg: DigestName; certs: Buffer[]; crls: Buffer[]; attrs: Buffer[] } {
  const f = children(parseOne(der, 'ATSHashIndexV3', MAX_CMS_BYTES), 'ATSHashIndexV3', 4);
  let k = 0;
  let alg: DigestName | undefined = 'sha256';
  if (f.length === 4) alg = digestFromAlgorithmId(Buffer.from(f[k++].raw));
  if (!alg || f.length - k !== 3) throw bad('ATSHashIndexV3 is not [algorithm,] certificates, crls, unsignedAttrs');
  const list = (e: Element) => children(e, 'hash index', 1000).map((o) => {
    if (o.tag !== 0x04) throw bad('a hash index entry is not an OCTET STRING');
    return Buffer.from(o.value);
  });
  return { alg, certs: list(f[k]), crls: list(f[k + 1]), attrs: list(f[k + 2]) };
}

/** Entries of the stored index that match no element present now (what was altered or removed since). */
export function missingFromIndex(stored: ReturnType<typeof readAtsHashIndexV3>, parts: ArchiveParts): string[] {
  const now = indexHashes(parts, stored.alg);
  const out: string[] = [];
  const check = (what: string, want: Buffer[], have: Buffer[]) => {
    const pool = have.map((b) => b.toString('hex'));
    for (const w of want) {
      const at = pool.indexOf(w.toString('hex'));
      if (at < 0) out.push(`${what} ${w.toString('hex').slice(0, 16)}…`);
      else pool.splice(at, 1);
    }
  };
  check('certificate', stored.certs, now.certs);
  check('CRL', stored.crls, now.crls);
  check('unsigned attribute', stored.attrs, now.attrs);
  return out;
}
