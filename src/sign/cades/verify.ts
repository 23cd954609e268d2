/**
 * Reads a CMS SignedData (CAdES, or the /Contents of a PAdES signature) and checks what can be checked
 * without trust decisions: the structure (BER brought to DER first, then the bounded DER reader;
 * anything malformed is a `malformed_cms` error), the signer's certificate among those carried, the message-digest against the content (or a
 * digest the caller computed, as PAdES does over the ByteRange), signing-certificate-v2 against that
 * certificate, and the signature value over the signed attributes. Cryptographic failures are answered
 * as values, so the validator can name them (HASH_FAILURE, SIG_CRYPTO_FAILURE); the validator in
 * `sign/validate` adds the certificate path and the indications of EN 319 102-1.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { children, decodeOid, parseOne, type Element } from '../../asn1/reader.js';
import { TrucError } from '../../errors.js';
import { parseCertificate, type Certificate } from '../../pki/path/index.js';
import { OIDS } from '../cms/attributes.js';
import { berElementEnd, berToDer, signedAttributesOctets } from '../cms/ber.js';
import { checkSignatureValue, readDigestAlgorithm, type DigestAlgorithm } from '../cms/signature-value.js';
import { note, type ReportNote } from '../validate/notes.js';

export const MAX_CMS_BYTES = 8 * 1024 * 1024;
const MAX_CERTS = 50;
const MAX_ATTRS = 64;
const MAX_DEPTH = 48;

export interface CmsSigner {
  /** the SignerInfo's digestAlgorithm ('unknown' when it names none we know: see `unsupportedAlgorithm`) */
  digest: DigestAlgorithm | 'unknown';
  /** further digest algorithms the signature relies on (XAdES: its references'), judged by the algorithm policy */
  otherDigests?: string[];
  certificate: Certificate | undefined;
  /** signer's claimed signing time (absent in PAdES) */
  signingTime?: Date;
  contentType: string;
  /** message-digest matches the content; undefined when there was no content to compare with (a detached signature given alone) */
  digestMatches: boolean | undefined;
  /** signing-certificate-v2 names the signer's certificate: 'absent' when there is no such attribute */
  signingCertificate: 'ok' | 'mismatch' | 'absent';
  /** the signature value verifies over the signed attributes with the signer's key */
  signatureValid: boolean;
  signatureProblem?: string;
  /** the signature algorithm as read (e.g. `ecdsa-with-SHA256`, `RSASSA-PSS(sha3-256, MGF1-sha3-256, salt 32)`) */
  signatureAlgorithm?: string;
  /** an algorithm this signature relies on that we cannot compute: neither proven good nor broken */
  unsupportedAlgorithm?: string;
  /** what was read leniently (legacy encodings, repeated attributes the standard allows) */
  notes?: ReportNote[];
  /** the content-time-stamp tokens among the signed attributes (EN 319 122-1 §5.2.8), each as carried */
  contentTimestamps?: Buffer[];
  /** OIDs of the signed and unsigned attributes */
  signedAttributes: string[];
  unsignedAttributes: Map<string, Buffer[]>;
  /** the first unsigned attribute of each type as encoded: its attrType and attrValues elements (what CAdES-X time-stamps hash) */
  unsignedAttributeOctets?: Map<string, Buffer>;
  /** DER of the SignerInfo's signature value (what a signature time-stamp imprints) */
  signatureValue: Buffer;
}

export interface CmsInspection {
  /** eContent, for an enveloping signature */
  content?: Buffer;
  certificates: Buffer[];
  crls: Buffer[];
  /** OCSPResponses carried in SignedData.crls as RevocationInfoChoice `other` (id-ri-ocsp-response) */
  ocsps: Buffer[];
  signers: CmsSigner[];
  /** the SignedData as read: the input, or its DER form when it came as BER */
  der: Buffer;
  fromBer: boolean;
  /** what was read leniently in the whole CMS (padding dropped, BER) */
  repairs: ReportNote[];
}

export const ID_RI_OCSP_RESPONSE = '1.3.6.1.5.5.7.16.2';

const CONTENT_TIMESTAMP = '1.2.840.113549.1.9.16.2.20';
const SIGNING_CERTIFICATE_V1 = '1.2.840.113549.1.9.16.2.12';

const bad = (message: string): TrucError => new TrucError('malformed_cms', message);

function expect(el: Element | undefined, tag: number, what: string): Element {
  if (!el || el.tag !== tag) throw bad(`${what}: expected tag 0x${tag.toString(16)}${el ? `, found 0x${el.tag.toString(16)}` : ''}`);
  return el;
}

const oidOf = (el: Element | undefined, what: string): string => decodeOid(expect(el, 0x06, what).value);

function readTime(el: Element): Date | undefined {
  const s = el.value.toString('ascii');
  const m = el.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : el.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(s) : null;
  if (!m) return undefined;
  let y = Number(m[1]);
  if (el.tag === 0x17) y += y < 50 ? 2000 : 1900;
  return new Date(Date.UTC(y, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

/**
 * `content`: the detached content, or a function giving its digest (PAdES hashes the ByteRange itself);
 * omitted for an enveloping signature, whose eContent is used. A detached signature given without its
 * content is read all the same, with `digestMatches` undefined: validation answers SIGNED_DATA_NOT_FOUND.
 */
export function inspectCms(der: Uint8Array, content?: Uint8Array | ((d: DigestAlgorithm) => Buffer)): CmsInspection {
  let input = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  if (input.length > MAX_CMS_BYTES) throw new TrucError('too_large', `CMS of ${input.length} bytes exceeds ${MAX_CMS_BYTES}`);
  const repairs: ReportNote[] = [];
  let buf: Buffer;
  try {
    // zero bytes after the element (a fixed-size buffer a signer did not trim) carry nothing: dropped, and said
    const end = berElementEnd(input, 0, 'CMS', MAX_DEPTH);
    if (end < input.length && input.subarray(end).every((b) => b === 0)) {
      repairs.push(note('CMS_PADDING_IGNORED', { bytes: input.length - end }));
      input = input.subarray(0, end);
    }
    // the BER walk bounds depth and elements and brings the whole tree to DER: no second walk needed
    buf = berToDer(input, 'CMS', MAX_DEPTH);
  } catch (e) {
    throw bad(`neither DER nor BER: ${(e as Error).message}`);
  }
  const fromBer = !buf.equals(input);
  if (fromBer) repairs.push(note('CMS_BER'));
  // every element is checked for the tag RFC 5652 gives it, and for nothing after the last field: a reader
  // that took any constructed element for the SEQUENCE it expects would accept bytes no other reader does
  // (`openssl cms` refuses them "wrong tag"), and what is signed would differ between readers
  const ci = children(expect(parseOne(buf, 'CMS', MAX_CMS_BYTES), 0x30, 'ContentInfo'), 'ContentInfo');
  if (ci.length !== 2) throw bad('ContentInfo: expected contentType and content');
  if (oidOf(ci[0], 'contentType') !== OIDS.signedData) throw bad('not a CMS SignedData');
  const content0 = children(expect(ci[1], 0xa0, 'content'), 'content');
  if (content0.length !== 1) throw bad('content: expected one SignedData');
  const sd = children(expect(content0[0], 0x30, 'SignedData'));
  let i = 0;
  expect(sd[i++], 0x02, 'SignedData.version');
  for (const a of children(expect(sd[i++], 0x31, 'digestAlgorithms'), 'digestAlgorithms')) expect(a, 0x30, 'DigestAlgorithmIdentifier');
  const encap = children(expect(sd[i++], 0x30, 'encapContentInfo'), 'encapContentInfo');
  if (encap.length > 2) throw bad('encapContentInfo: an element after eContent');
  const eContentType = oidOf(encap[0], 'eContentType');
  let eContent: Buffer | undefined;
  if (encap[1]) {
    const inner = children(expect(encap[1], 0xa0, 'eContent'), 'eContent');
    if (inner.length !== 1) throw bad('eContent: expected one OCTET STRING');
    eContent = Buffer.from(expect(inner[0], 0x04, 'eContent').value);
  }
  const certificates: Buffer[] = [];
  const crls: Buffer[] = [];
  // CertificateChoices: a certificate (SEQUENCE), or the [0]..[3] choices, which are no signer's certificate
  if (sd[i]?.tag === 0xa0)
    for (const c of children(sd[i++], 'certificates', MAX_CERTS)) {
      if (c.tag === 0x30) certificates.push(Buffer.from(c.raw));
      else if (c.tag < 0xa0 || c.tag > 0xa3) throw bad(`certificates: tag 0x${c.tag.toString(16)} is no CertificateChoices`);
    }
  const ocsps: Buffer[] = [];
  if (sd[i]?.tag === 0xa1)
    for (const c of children(sd[i++], 'crls', MAX_CERTS)) {
      if (c.tag === 0x30) crls.push(Buffer.from(c.raw));
      else if (c.tag !== 0xa1) throw bad(`crls: tag 0x${c.tag.toString(16)} is no RevocationInfoChoice`);
      else {
        // RevocationInfoChoice other: an OCSPResponse under id-ri-ocsp-response (RFC 5940)
        const [format, info] = children(c, 'OtherRevocationInfoFormat', 2);
        if (format?.tag === 0x06 && decodeOid(format.value) === ID_RI_OCSP_RESPONSE && info?.tag === 0x30) ocsps.push(Buffer.from(info.raw));
      }
    }
  const parsed: Certificate[] = [];
  for (const [n, c] of certificates.entries()) {
    try {
      parsed.push(parseCertificate(c));
    } catch (e) {
      // an unreadable certificate cannot be the signer's, and path building passes over it: said, never silent
      repairs.push(note('CMS_CERTIFICATE_UNREADABLE', { n: n + 1, total: certificates.length, detail: (e as Error).message }));
    }
  }
  const infos = children(expect(sd[i++], 0x31, 'signerInfos'), 'signerInfos', 16);
  if (infos.length === 0) throw bad('no SignerInfo');
  if (sd[i]) throw bad(`SignedData: an element (tag 0x${sd[i]!.tag.toString(16)}) after signerInfos`);
  // a detached signature without its content is still read: everything but the message-digest can be checked
  const signers = infos.map((info) => inspectSigner(info, parsed, eContentType, content ?? eContent, fromBer));
  return { content: eContent, certificates, crls, ocsps, signers, der: buf, fromBer, repairs };
}

/** an Attribute (RFC 5652 §5.3): SEQUENCE { attrType OID, attrValues SET }, nothing more */
function attribute(a: Element): [Element, Element] {
  const parts = children(expect(a, 0x30, 'Attribute'));
  if (parts.length !== 2) throw bad('Attribute: expected attrType and attrValues');
  return [expect(parts[0], 0x06, 'attrType'), expect(parts[1], 0x31, 'attrValues')];
}

function inspectSigner(info: Element, certs: Certificate[], eContentType: string, content: Uint8Array | ((d: DigestAlgorithm) => Buffer) | undefined, fromBer: boolean): CmsSigner {
  const si = children(expect(info, 0x30, 'SignerInfo'));
  let j = 0;
  const version = expect(si[j++], 0x02, 'SignerInfo.version');
  const sid = si[j++];
  let certificate: Certificate | undefined;
  if (sid?.tag === 0x30 && version.value.equals(Buffer.from([1]))) {
    const isn = children(sid, 'sid');
    if (isn.length !== 2) throw bad('IssuerAndSerialNumber: expected issuer and serialNumber');
    const issuer = expect(isn[0], 0x30, 'IssuerAndSerialNumber.issuer');
    const serial = expect(isn[1], 0x02, 'IssuerAndSerialNumber.serialNumber');
    certificate = certs.find((c) => c.issuer.der.equals(issuer.raw) && c.serial.equals(serial.value));
  } else if (sid?.tag === 0x80 && version.value.equals(Buffer.from([3]))) {
    certificate = certs.find((c) => c.subjectKeyId?.equals(sid.value));
  } else throw bad('SignerInfo: version and signer identifier do not agree');
  const notes: ReportNote[] = [];
  const digestId = readDigestAlgorithm(Buffer.from(expect(si[j++], 0x30, 'digestAlgorithm').raw));
  const digest = digestId.digest ?? 'unknown';
  let unsupportedAlgorithm = digestId.digest ? undefined : `digest algorithm ${digestId.oid}`;
  const attrsEl = si[j]?.tag === 0xa0 ? si[j++] : undefined;
  if (!attrsEl) throw bad('no signed attributes');
  const sigAlg = Buffer.from(expect(si[j++], 0x30, 'signatureAlgorithm').raw);
  const signatureValue = Buffer.from(expect(si[j++], 0x04, 'signature').value);
  const unsignedAttributes = new Map<string, Buffer[]>();
  const unsignedAttributeOctets = new Map<string, Buffer>();
  if (si[j]?.tag === 0xa1)
    for (const a of children(si[j++], 'unsignedAttrs', MAX_ATTRS)) {
      const [type, values] = attribute(a);
      const t = oidOf(type, 'attrType');
      unsignedAttributes.set(t, [...(unsignedAttributes.get(t) ?? []), ...children(expect(values, 0x31, 'attrValues')).map((v) => Buffer.from(v.raw))]);
      if (!unsignedAttributeOctets.has(t)) unsignedAttributeOctets.set(t, Buffer.concat([type.raw, values.raw]));
    }
  if (si[j]) throw bad(`SignerInfo: an element (tag 0x${si[j]!.tag.toString(16)}) after unsignedAttrs`);

  const attrs = new Map<string, Element[]>();
  for (const a of children(attrsEl, 'signedAttrs', MAX_ATTRS)) {
    const [type, values] = attribute(a);
    const t = oidOf(type, 'attrType');
    const vals = children(expect(values, 0x31, 'attrValues'));
    if (attrs.has(t)) {
      // CAdES (EN 319 122-1 §5.2.8) lets content-time-stamp appear more than once: each is judged; any other
      // attribute twice is ambiguous about what was signed and refused
      if (t !== CONTENT_TIMESTAMP) throw bad(`signed attribute ${t} appears twice`);
      notes.push(note('CONTENT_TS_ATTRIBUTE_REPEATED'));
      attrs.get(t)!.push(...vals);
      continue;
    }
    attrs.set(t, vals);
  }
  const single = (t: string, name: string): Element => {
    const v = attrs.get(t);
    if (!v) throw bad(`signed attribute ${name} is missing`);
    if (v.length !== 1) throw bad(`signed attribute ${name} must have one value`);
    return v[0];
  };
  const contentType = oidOf(single(OIDS.contentType, 'content-type'), 'content-type');
  if (contentType !== eContentType) throw bad('the content-type attribute differs from eContentType');
  const md = expect(single(OIDS.messageDigest, 'message-digest'), 0x04, 'message-digest').value;
  const actual = content === undefined || digest === 'unknown' ? undefined : typeof content === 'function' ? content(digest) : createHash(digest).update(content).digest();
  const digestMatches = actual === undefined ? undefined : md.length === actual.length && timingSafeEqual(md, actual);
  const signingTime = attrs.has(OIDS.signingTime) ? readTime(single(OIDS.signingTime, 'signing-time')) : undefined;
  if (attrs.has(OIDS.signingTime) && !signingTime) throw bad('signing-time is not a UTCTime or GeneralizedTime in Zulu');

  let signingCertificate: CmsSigner['signingCertificate'] = 'absent';
  if (attrs.has(OIDS.signingCertificateV2)) {
    const sc = children(expect(single(OIDS.signingCertificateV2, 'signing-certificate-v2'), 0x30, 'SigningCertificateV2'));
    const first = children(expect(children(expect(sc[0], 0x30, 'certs'))[0], 0x30, 'ESSCertIDv2'));
    let k = 0;
    let hashName: DigestAlgorithm | undefined = 'sha256';
    let hashOid = '2.16.840.1.101.3.4.2.1';
    if (first[k]?.tag === 0x30) ({ digest: hashName, oid: hashOid } = readDigestAlgorithm(Buffer.from(first[k++].raw)));
    const certHash = expect(first[k], 0x04, 'certHash').value;
    // a hash we cannot compute leaves the binding unchecked: not a mismatch, not a broken file
    if (!hashName) unsupportedAlgorithm ??= `signing-certificate-v2 hash ${hashOid}`;
    else signingCertificate = certificate && createHash(hashName).update(certificate.der).digest().equals(certHash) ? 'ok' : 'mismatch';
  } else if (attrs.has(SIGNING_CERTIFICATE_V1)) {
    // ESS signing-certificate (RFC 2634): the SHA-1 hash of the certificate, what older signers write
    const sc = children(expect(single(SIGNING_CERTIFICATE_V1, 'signing-certificate'), 0x30, 'SigningCertificate'));
    const first = children(expect(children(expect(sc[0], 0x30, 'certs'))[0], 0x30, 'ESSCertID'));
    const certHash = expect(first[0], 0x04, 'certHash').value;
    signingCertificate = certificate && createHash('sha1').update(certificate.der).digest().equals(certHash) ? 'ok' : 'mismatch';
    notes.push(note('SIGNING_CERTIFICATE_V1'));
  }

  let signatureValid = false;
  let signatureProblem: string | undefined;
  let signatureAlgorithm: string | undefined;
  const otherDigests: string[] = [];
  if (certificate) {
    const check = checkSignatureValue(sigAlg, digestId.digest, certificate.spki, signedAttributesOctets(attrsEl, fromBer), signatureValue);
    signatureAlgorithm = check.algorithm;
    signatureValid = check.result === 'ok';
    if (check.result === 'unsupported') {
      unsupportedAlgorithm ??= check.algorithm;
      signatureProblem = `cannot be checked: ${check.algorithm} is not supported`;
    } else if (check.result === 'bad_signature') signatureProblem = `bad signature (${check.algorithm})`;
    else if (check.note) notes.push(note('ALGORITHM_ENCODING_NONSTANDARD', { detail: check.note }));
    if (check.result !== 'unsupported' && check.hash && check.hash !== digest) otherDigests.push(check.hash);
  } else signatureProblem = "the signer's certificate is not in the signature";
  return {
    digest,
    ...(otherDigests.length ? { otherDigests } : {}),
    ...(signatureAlgorithm ? { signatureAlgorithm } : {}),
    ...(unsupportedAlgorithm ? { unsupportedAlgorithm } : {}),
    ...(notes.length ? { notes } : {}),
    ...(attrs.has(CONTENT_TIMESTAMP) ? { contentTimestamps: attrs.get(CONTENT_TIMESTAMP)!.map((v) => Buffer.from(v.raw)) } : {}),
    certificate,
    signingTime,
    contentType,
    digestMatches,
    signingCertificate,
    signatureValid,
    signatureProblem,
    signedAttributes: [...attrs.keys()],
    unsignedAttributes,
    unsignedAttributeOctets,
    signatureValue,
  };
}
