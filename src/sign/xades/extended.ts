/**
 * XAdES-C and XAdES-X (TS 101 903 v1.3.2/v1.4.1 §7.4, §7.5; EN 319 132-1 §5.4, §5.5.1): the references to the
 * validation data (CompleteCertificateRefs(V2), CompleteRevocationRefs) and the time-stamps over them —
 *   SigAndRefsTimeStamp (xades, v1) / SigAndRefsTimeStampV2 (xadesv141): over, in this order, ds:SignatureValue,
 *     every xades:SignatureTimeStamp in order of appearance, CompleteCertificateRefs(V2), CompleteRevocationRefs,
 *     and AttributeCertificateRefs(V2) and AttributeRevocationRefs when present;
 *   RefsOnlyTimeStamp / RefsOnlyTimeStampV2: over the same references alone, in the same order.
 * Each element is canonicalised on its own with the time-stamp's ds:CanonicalizationMethod (Canonical XML 1.0
 * when it names none, as XAdES says) and the octets concatenated — the explicit (not distributed) mechanism; a
 * time-stamp that lists its inputs with xades:Include (the distributed one of TS 101 903) takes them in the order
 * of its Includes, which must name all of those elements (`includedTimeStampInput`).
 *
 * A SigAndRefsTimeStamp is a proof of existence of the signature value, its signature time-stamps and the
 * references; a RefsOnlyTimeStamp of the references only (EU DSS: VALIDATION_DATA_TIMESTAMP and
 * VALIDATION_DATA_REFSONLY_TIMESTAMP). `augmentXadesX` raises a signature to XAdES-X (and X-L with the values).
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Asn1Schema from '@peculiar/asn1-schema';
import { TrucError } from '../../errors.js';
import { decodeName, nameToString } from '../../pki/name.js';
import { parseCertificate, parseCrl } from '../../pki/path/index.js';
import { parseOcspResponse } from '../../pki/path/ocsp.js';
import { collectEvidence, type Collected } from '../evidence/collect.js';
import { needEvidence, needTimeStamper, type LevelContext } from '../level.js';
import { readTimeStampToken } from '../timestamp/token.js';
import { XADES141_NS } from './archive.js';
import { DS_NS, EXC_C14N, XADES_NS, c14nElement, excC14n } from './c14n.js';
import { C14N10 } from './dsig/c14n.js';
import { augmentXades, child, keyInfoCerts, readXadesUnsigned, signatureAt, tokenId, tokenOf, unsignedSignatureProperties, writeValues } from './levels.js';
import { editXml } from './edit.js';

export type XTimeStampKind = 'sig-and-refs' | 'refs-only';

/** The element names of the X time-stamps: local name → kind, and whether it is the v1.4.1 (V2) form */
export const X_TIMESTAMPS: Record<string, { kind: XTimeStampKind; ns: string }> = {
  SigAndRefsTimeStamp: { kind: 'sig-and-refs', ns: XADES_NS },
  SigAndRefsTimeStampV2: { kind: 'sig-and-refs', ns: XADES141_NS },
  RefsOnlyTimeStamp: { kind: 'refs-only', ns: XADES_NS },
  RefsOnlyTimeStampV2: { kind: 'refs-only', ns: XADES141_NS },
};

/** the references a time-stamp of XAdES-X covers, in the order the standard takes them */
const REFERENCES: [string, string][] = [
  [XADES_NS, 'CompleteCertificateRefs'],
  [XADES141_NS, 'CompleteCertificateRefsV2'],
  [XADES_NS, 'CompleteRevocationRefs'],
  [XADES_NS, 'AttributeCertificateRefs'],
  [XADES141_NS, 'AttributeCertificateRefsV2'],
  [XADES_NS, 'AttributeRevocationRefs'],
];

const kids = (el: Element, ns: string, local: string): Element[] =>
  Array.from(el.childNodes as unknown as ArrayLike<Node>).filter((n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === local);

function c14n(el: Element, algorithm: string): Buffer {
  return algorithm === EXC_C14N ? excC14n(el) : c14nElement(el, algorithm);
}

/**
 * The elements an X time-stamp covers, in the order the standard takes them: `usp` is the signature's
 * UnsignedSignatureProperties. The references are required (a time-stamp over references the signature lacks
 * stamps nothing).
 */
function xTimeStampElements(sig: Element, usp: Element, kind: XTimeStampKind): Element[] {
  const out: Element[] = [];
  if (kind === 'sig-and-refs') {
    const sv = kids(sig, DS_NS, 'SignatureValue')[0];
    if (!sv) throw new TrucError('malformed_xml', 'the signature has no SignatureValue');
    out.push(sv, ...kids(usp, XADES_NS, 'SignatureTimeStamp'));
  }
  let refs = 0;
  for (const [ns, local] of REFERENCES)
    for (const el of kids(usp, ns, local).slice(0, 1)) {
      out.push(el);
      if (local.startsWith('Complete')) refs++;
    }
  if (!refs) throw new TrucError('malformed_xml', 'the signature has no CompleteCertificateRefs or CompleteRevocationRefs for the time-stamp to cover');
  return out;
}

/** The input of an X time-stamp's message imprint, explicit (not distributed) form: each element it covers canonicalised, concatenated. */
export function xTimeStampInput(sig: Element, usp: Element, kind: XTimeStampKind, algorithm: string = C14N10): Buffer {
  return Buffer.concat(xTimeStampElements(sig, usp, kind).map((el) => c14n(el, algorithm)));
}

const MAX_INCLUDES = 64;
const ID_ATTRIBUTES = ['Id', 'ID', 'id'];

/**
 * The input of an X time-stamp that names its inputs with xades:Include (TS 101 903's distributed form, kept by EN
 * 319 132-1's IncludeType): each Include, in its order, a same-document reference "#id" to an element of this
 * signature, canonicalised with the time-stamp's CanonicalizationMethod, the octets concatenated. The Includes must
 * name every element a time-stamp of its kind covers (ds:SignatureValue, each SignatureTimeStamp and the references
 * for SigAndRefs; the references for RefsOnly) — a time-stamp over less is no proof of what it leaves out — and
 * nothing outside the signature (another signature's value stamped here would prove nothing of this one). An Id
 * borne by two elements of the document is refused, as for references. referencedData (the data a ds:Reference
 * points to) has no place in an X time-stamp.
 */
export function includedTimeStampInput(sig: Element, usp: Element, ts: Element, kind: XTimeStampKind, algorithm: string = C14N10): Buffer {
  const includes = kids(ts, XADES_NS, 'Include');
  if (includes.length > MAX_INCLUDES) throw new TrucError('malformed_xml', `more than ${MAX_INCLUDES} xades:Include elements`);
  const byId = new Map<string, Element[]>();
  for (const el of Array.from(sig.ownerDocument.getElementsByTagName('*') as unknown as ArrayLike<Element>))
    for (const a of ID_ATTRIBUTES) {
      const v = el.getAttribute(a);
      if (v) byId.set(v, [...(byId.get(v) ?? []), el]);
    }
  const inside = (el: Element) => {
    for (let n: Node | null = el; n; n = n.parentNode) if (n === sig) return true;
    return false;
  };
  const included = includes.map((inc) => {
    const uri = inc.getAttribute('URI') ?? '';
    if (!/^#[^#\s()]+$/.test(uri)) throw new TrucError('unsupported', `xades:Include URI="${uri}": only same-document references "#id" are supported`);
    if (/^(true|1)$/.test(inc.getAttribute('referencedData') ?? '')) throw new TrucError('malformed_xml', `xades:Include URI="${uri}" with referencedData: an X time-stamp covers properties of the signature, not referenced data`);
    const found = byId.get(uri.slice(1)) ?? [];
    if (found.length !== 1) throw new TrucError('malformed_xml', `xades:Include URI="${uri}" names ${found.length} elements`);
    if (!inside(found[0])) throw new TrucError('malformed_xml', `xades:Include URI="${uri}" names an element outside the signature`);
    return found[0];
  });
  const missing = xTimeStampElements(sig, usp, kind).filter((el) => !included.includes(el));
  if (missing.length) throw new TrucError('malformed_xml', `the xades:Include elements leave out ${missing.map((el) => el.localName).join(', ')}, which a ${ts.localName} covers`);
  return Buffer.concat(included.map((el) => c14n(el, algorithm)));
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const b64digest = (der: Buffer) => createHash('sha256').update(der).digest('base64');
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const dn = (der: Buffer) => nameToString(decodeName(der));

function digestAlgAndValue(doc: Document, parent: Element, name: string, der: Buffer): void {
  const d = child(doc, parent, XADES_NS, name);
  child(doc, d, DS_NS, 'DigestMethod', undefined, { Algorithm: SHA256 });
  child(doc, d, DS_NS, 'DigestValue', b64digest(der));
}

/**
 * CompleteCertificateRefs (v1) or CompleteCertificateRefsV2 (v1.4.1) over `certs` (the signer's excepted, which
 * SigningCertificate names), and CompleteRevocationRefs over the CRLs and OCSP responses.
 */
function writeReferences(doc: Document, usp: Element, before: Element | null, form: 'v1' | 'v141', signer: Buffer, ev: Collected): void {
  const holder = doc.createElementNS(XADES_NS, 'tmp');
  const ccr = child(doc, holder, form === 'v1' ? XADES_NS : XADES141_NS, form === 'v1' ? 'CompleteCertificateRefs' : 'CompleteCertificateRefsV2', undefined, { Id: tokenId(Buffer.concat(ev.certs), 'CCR') });
  const certRefs = child(doc, ccr, form === 'v1' ? XADES_NS : XADES141_NS, 'CertRefs');
  for (const der of ev.certs) {
    if (der.equals(signer)) continue;
    const c = parseCertificate(der);
    const cert = child(doc, certRefs, XADES_NS, 'Cert');
    digestAlgAndValue(doc, cert, 'CertDigest', der);
    if (form === 'v1') {
      const is = child(doc, cert, XADES_NS, 'IssuerSerial');
      child(doc, is, DS_NS, 'X509IssuerName', dn(c.issuer.der));
      child(doc, is, DS_NS, 'X509SerialNumber', BigInt(`0x${c.serialHex || '0'}`).toString());
    }
  }
  const crr = child(doc, holder, XADES_NS, 'CompleteRevocationRefs', undefined, { Id: tokenId(Buffer.concat([...ev.crls, ...ev.ocsps]), 'CRR') });
  if (ev.crls.length) {
    const list = child(doc, crr, XADES_NS, 'CRLRefs');
    for (const der of ev.crls) {
      const crl = parseCrl(der);
      const ref = child(doc, list, XADES_NS, 'CRLRef');
      digestAlgAndValue(doc, ref, 'DigestAlgAndValue', der);
      const id = child(doc, ref, XADES_NS, 'CRLIdentifier');
      child(doc, id, XADES_NS, 'Issuer', dn(crl.issuer.der));
      child(doc, id, XADES_NS, 'IssueTime', iso(crl.thisUpdate));
      if (crl.crlNumber !== undefined) child(doc, id, XADES_NS, 'Number', crl.crlNumber.toString());
    }
  }
  if (ev.ocsps.length) {
    const list = child(doc, crr, XADES_NS, 'OCSPRefs');
    for (const der of ev.ocsps) {
      const parsed = parseOcspResponse(der);
      if (typeof parsed === 'string') throw new TrucError('malformed_der', `an OCSP response to reference cannot be read: ${parsed}`);
      const tbs = parsed.basic.tbsResponseData;
      const ref = child(doc, list, XADES_NS, 'OCSPRef');
      const id = child(doc, ref, XADES_NS, 'OCSPIdentifier');
      const rid = child(doc, id, XADES_NS, 'ResponderID');
      if (tbs.responderID.byKey) child(doc, rid, XADES_NS, 'ByKey', Buffer.from(tbs.responderID.byKey.buffer).toString('base64'));
      else child(doc, rid, XADES_NS, 'ByName', tbs.responderID.byName ? dn(Buffer.from(asn1Name(tbs.responderID.byName))) : '');
      child(doc, id, XADES_NS, 'ProducedAt', iso(tbs.producedAt));
      digestAlgAndValue(doc, ref, 'DigestAlgAndValue', der);
    }
  }
  for (const el of [ccr, crr]) usp.insertBefore(el, before);
}

/** DER of a responder's name as @peculiar/asn1 parsed it (loaded when first needed, as `pki/path/ocsp.ts` does) */
function asn1Name(name: unknown): ArrayBuffer {
  return (createRequire(import.meta.url)('@peculiar/asn1-schema') as typeof Asn1Schema).AsnConvert.serialize(name);
}

export interface XadesXOptions {
  /** which signature of the document (default 0) */
  index?: number;
  /** SigAndRefsTimeStamp (default) or RefsOnlyTimeStamp */
  timeStamp?: XTimeStampKind;
  /** XAdES 1.3.2 elements (SigAndRefsTimeStamp, CompleteCertificateRefs; default) or EN 319 132-1's V2 ones */
  form?: 'v1' | 'v141';
  /** also CertificateValues and RevocationValues (XAdES-X-L; default true) */
  values?: boolean;
  /** the canonicalization the time-stamp names (default exclusive C14N) */
  c14n?: string;
}

/**
 * Raises a signature to XAdES-X (X-L with the values): a SignatureTimeStamp when it has none, then the references
 * to its validation data (the signer's and the TSAs' paths and their revocation data, gathered as for B-LT) right
 * after the signature time-stamps, the X time-stamp after them, and the values at the end. A signature that
 * already has references, or an archive time-stamp the new properties could not come before, is refused.
 */
export async function augmentXadesX(xml: string, ctx: LevelContext, opts?: XadesXOptions): Promise<string>;
export async function augmentXadesX(xml: Uint8Array, ctx: LevelContext, opts?: XadesXOptions): Promise<Buffer>;
export async function augmentXadesX(xml: Uint8Array | string, ctx: LevelContext, opts: XadesXOptions = {}): Promise<string | Buffer> {
  const index = opts.index ?? 0;
  const form = opts.form ?? 'v1';
  const kind = opts.timeStamp ?? 'sig-and-refs';
  const algorithm = opts.c14n ?? EXC_C14N;
  const edit = editXml(await augmentXades(xml, 'B-T', ctx, index));
  const doc = edit.doc;
  const sig = signatureAt(doc, index);
  const usp = unsignedSignatureProperties(doc, sig);
  const present = readXadesUnsigned(sig);
  if (present.references.length) throw new TrucError('conflict', 'the signature already has references to its validation data (XAdES-C)');
  if (present.archives.length) throw new TrucError('conflict', 'the signature has an archive time-stamp: XAdES-X properties cannot be added before it');
  const certs = keyInfoCerts(sig);
  if (!certs[0]) throw new TrucError('bad_request', "the signer's certificate is not in the KeyInfo");
  const stamps = kids(usp, XADES_NS, 'SignatureTimeStamp');
  const tokens = stamps.map((t) => readTimeStampToken(tokenOf(t)));
  const targets = [certs[0], ...tokens.flatMap((t) => (t.signer.certificate ? [t.signer.certificate.der] : []))];
  const ev: Collected = present.crls.length + present.ocsps.length ? { certs: present.certs, crls: present.crls, ocsps: present.ocsps } : await collectEvidence(targets, [...certs, ...tokens.flatMap((t) => t.cms.certificates)], needEvidence(ctx));
  const after = stamps[stamps.length - 1];
  const before = (after?.nextSibling as Element | null) ?? null;
  writeReferences(doc, usp, before, form, certs[0], ev);
  const imprint = createHash('sha256').update(xTimeStampInput(sig, usp, kind, algorithm)).digest();
  const token = await needTimeStamper(ctx).stamp(imprint, 'sha256');
  const name = `${kind === 'sig-and-refs' ? 'SigAndRefsTimeStamp' : 'RefsOnlyTimeStamp'}${form === 'v1' ? '' : 'V2'}`;
  const holder = doc.createElementNS(XADES_NS, 'tmp');
  const ts = child(doc, holder, form === 'v1' ? XADES_NS : XADES141_NS, name, undefined, { Id: tokenId(token, kind === 'sig-and-refs' ? 'SRTS' : 'ROTS') });
  child(doc, ts, DS_NS, 'CanonicalizationMethod', undefined, { Algorithm: algorithm });
  child(doc, ts, XADES_NS, 'EncapsulatedTimeStamp', token.toString('base64'));
  usp.insertBefore(ts, before);
  if ((opts.values ?? true) && !kids(usp, XADES_NS, 'RevocationValues').length) writeValues(doc, usp, ev);
  return edit.output();
}
