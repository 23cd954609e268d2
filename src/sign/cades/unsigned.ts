/**
 * The unsigned attributes of the CAdES levels above B-B (EN 319 122-1): signature-time-stamp (B-T),
 * certificate-values and revocation-values (B-LT), and the rewriting of a SignedData to add them. Unsigned
 * attributes are outside what the signer signed, so a signature is raised a level by re-encoding its
 * SignerInfo with more of them — the signed attributes and the signature value are copied byte for byte.
 */
import { ctx, int, oid, seq, set, tlv } from '../../asn1/der.js';
import { checkTree, children, parseOne, type Element } from '../../asn1/reader.js';
import { TrucError } from '../../errors.js';
import { basicOfOcspResponse } from '../evidence/ocsp.js';
import { ID_RI_OCSP_RESPONSE, MAX_CMS_BYTES } from './verify.js';

export const UNSIGNED = {
  signatureTimeStamp: '1.2.840.113549.1.9.16.2.14',
  certificateValues: '1.2.840.113549.1.9.16.2.23',
  revocationValues: '1.2.840.113549.1.9.16.2.24',
  archiveTimeStampV3: '0.4.0.1733.2.4',
} as const;

const attr = (type: string, value: Buffer) => seq(oid(type), set(value));

export const signatureTimeStampAttribute = (token: Buffer) => attr(UNSIGNED.signatureTimeStamp, token);

/** CertificateValues ::= SEQUENCE OF Certificate */
export const certificateValuesAttribute = (certs: Buffer[]) => attr(UNSIGNED.certificateValues, seq(...certs));

/** RevocationValues ::= SEQUENCE { crlVals [0] SEQUENCE OF CertificateList, ocspVals [1] SEQUENCE OF BasicOCSPResponse } */
export function revocationValuesAttribute(crls: Buffer[], ocspResponses: Buffer[]): Buffer {
  const basics = ocspResponses.map(basicOfOcspResponse).filter((b): b is Buffer => !!b);
  return attr(UNSIGNED.revocationValues, seq(...(crls.length ? [ctx(0, seq(...crls))] : []), ...(basics.length ? [ctx(1, seq(...basics))] : [])));
}

/** The CRLs and BasicOCSPResponses of a revocation-values attribute value. */
export function readRevocationValues(value: Buffer): { crls: Buffer[]; basicOcsp: Buffer[] } {
  const out = { crls: [] as Buffer[], basicOcsp: [] as Buffer[] };
  for (const part of children(parseOne(value, 'RevocationValues', MAX_CMS_BYTES), 'RevocationValues', 3)) {
    const items = children(children(part, 'revocation values', 1)[0] ?? parseOne(Buffer.from([0x30, 0])), 'revocation values', 200).map((e) => Buffer.from(e.raw));
    if (part.tag === 0xa0) out.crls.push(...items);
    else if (part.tag === 0xa1) out.basicOcsp.push(...items);
  }
  return out;
}

export function readCertificateValues(value: Buffer): Buffer[] {
  return children(parseOne(value, 'CertificateValues', MAX_CMS_BYTES), 'CertificateValues', 200).map((e) => Buffer.from(e.raw));
}

const bad = (m: string) => new TrucError('malformed_cms', m);

/** The ContentInfo's elements and the SignedData's, of a DER CMS within the size and depth limits. */
function openSignedData(cms: Uint8Array): { ci: Element[]; sd: Element[] } {
  const buf = Buffer.from(cms.buffer, cms.byteOffset, cms.byteLength);
  if (buf.length > MAX_CMS_BYTES) throw new TrucError('too_large', `CMS of ${buf.length} bytes exceeds ${MAX_CMS_BYTES}`);
  checkTree(buf, 'CMS', 48);
  const ci = children(parseOne(buf, 'CMS', MAX_CMS_BYTES));
  if (ci.length !== 2 || ci[1].tag !== 0xa0) throw bad('not a ContentInfo');
  return { ci, sd: children(children(ci[1])[0]) };
}

/** The SignedData with `attrs` added to the unsigned attributes of signer `index` (DER SET OF order). */
export function addUnsignedAttributes(cms: Uint8Array, attrs: Buffer[], index = 0): Buffer {
  const { ci, sd } = openSignedData(cms);
  const infosEl = sd[sd.length - 1];
  if (infosEl?.tag !== 0x31) throw bad('SignedData has no signerInfos');
  const infos = children(infosEl, 'signerInfos', 16);
  const target = infos[index];
  if (!target) throw bad(`no signer ${index}`);
  const fields = children(target, 'SignerInfo');
  const last = fields[fields.length - 1];
  const existing: Buffer[] = last.tag === 0xa1 ? children(last, 'unsignedAttrs', 64).map((e: Element) => Buffer.from(e.raw)) : [];
  const kept = last.tag === 0xa1 ? fields.slice(0, -1) : fields;
  const all = [...existing, ...attrs].sort(Buffer.compare);
  const signerInfo = seq(...kept.map((f) => f.raw), tlv(0xa1, ...all));
  // signerInfos is a SET OF: keep the order the signers had (re-sorting would not change their bytes)
  const newInfos = set(...infos.map((i, k) => (k === index ? signerInfo : i.raw)));
  const signedData = seq(...sd.slice(0, -1).map((e) => e.raw), newInfos);
  return seq(ci[0].raw, ctx(0, signedData));
}

/**
 * The SignedData with certificates, CRLs and OCSP responses added to SignedData.certificates and
 * SignedData.crls (each once; OCSPResponses as RevocationInfoChoice other [1] with id-ri-ocsp-response,
 * RFC 5940, which makes the SignedData version 5 per RFC 5652 §5.1). Neither field is signed nor covered
 * field by field by an archive time-stamp (its hash index lists their elements), so earlier signatures and
 * archive time-stamps stay valid.
 */
export function addValidationData(cms: Uint8Array, certs: Buffer[], crls: Buffer[], ocspResponses: Buffer[]): Buffer {
  const { ci, sd } = openSignedData(cms);
  let i = 3;
  const oldCerts = sd[i]?.tag === 0xa0 ? children(sd[i++], 'certificates', 200).map((e) => Buffer.from(e.raw)) : [];
  const oldCrls = sd[i]?.tag === 0xa1 ? children(sd[i++], 'crls', 200).map((e) => Buffer.from(e.raw)) : [];
  if (sd[i]?.tag !== 0x31 || i !== sd.length - 1) throw bad('SignedData is not version, digestAlgorithms, encapContentInfo, [certificates], [crls], signerInfos');
  const once = (have: Buffer[], add: Buffer[]) => {
    const out = [...have];
    for (const a of add) if (!out.some((h) => h.equals(a))) out.push(a);
    return out;
  };
  const ocspChoices = ocspResponses.map((o) => ctx(1, oid(ID_RI_OCSP_RESPONSE), o));
  const allCerts = once(oldCerts, certs);
  const allCrls = once(oldCrls, [...crls, ...ocspChoices]);
  const hasOther = allCrls.some((c) => c[0] === 0xa1);
  const version = hasOther ? int(5) : Buffer.from(sd[0].raw);
  const signedData = seq(
    version,
    sd[1].raw,
    sd[2].raw,
    ...(allCerts.length ? [tlv(0xa0, ...allCerts.sort(Buffer.compare))] : []),
    ...(allCrls.length ? [tlv(0xa1, ...allCrls.sort(Buffer.compare))] : []),
    sd[i].raw,
  );
  return seq(ci[0].raw, ctx(0, signedData));
}
