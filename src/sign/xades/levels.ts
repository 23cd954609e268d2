/**
 * XAdES levels above B-B (EN 319 132-1 §5.3, §5.5; baseline EN 319 132-1 §6): unsigned qualifying
 * properties added to a signature (enveloped, enveloping or detached) without touching what it signed —
 *   B-T  xades:SignatureTimeStamp: an RFC 3161 token over the exclusive canonical form of ds:SignatureValue
 *        (its ds:CanonicalizationMethod says so), carried base64 in xades:EncapsulatedTimeStamp;
 *   B-LT xades:CertificateValues (the certificates of the signer's and the TSA's paths) and
 *        xades:RevocationValues (CRLs, and OCSP responses as DER OCSPResponse);
 *   B-LTA xadesv141:ArchiveTimeStamp over the signature and every property before it (`archive.ts`);
 *        renewed by xadesv141:TimeStampValidationData for the last archive time-stamp's TSA, then another
 *        ArchiveTimeStamp (`renewXadesArchive`).
 * They sit in xades:UnsignedProperties/xades:UnsignedSignatureProperties, outside SignedProperties, so the
 * core signature — and xmlsec1's verdict on it — is unchanged.
 */
import { createHash } from 'node:crypto';
import { TrucError } from '../../errors.js';
import { collectEvidence } from '../evidence/collect.js';
import { needEvidence, needTimeStamper, rank, type Level, type LevelContext } from '../level.js';
import { readTimeStampToken } from '../timestamp/token.js';
import { editXml } from './edit.js';
import { DS_NS, EXC_C14N, XADES_NS, c14nElement, excC14n } from './c14n.js';
import { archiveTimeStampInput, XADES141_NS } from './archive.js';
import { REFERENCE_PROPERTIES } from './refs.js';
import { X_TIMESTAMPS, type XTimeStampKind } from './extended.js';
import { resolveDetached, type DetachedInput } from './detached.js';
import type { Collected } from '../evidence/collect.js';

export { DS_NS, XADES_NS, EXC_C14N, excC14n };

const kids = (el: Element, ns: string, local: string): Element[] =>
  Array.from(el.childNodes as unknown as ArrayLike<Node>).filter((n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === local);
const all = (root: Document | Element, ns: string, local: string): Element[] => Array.from(root.getElementsByTagNameNS(ns, local) as unknown as ArrayLike<Element>);

/** The octets a SignatureTimeStamp imprints: the canonical ds:SignatureValue of the signature. */
export function signatureValueOctets(sig: Element, algorithm = EXC_C14N): Buffer {
  const sv = kids(sig, DS_NS, 'SignatureValue')[0];
  if (!sv) throw new TrucError('malformed_xml', 'the signature has no SignatureValue');
  // other producers name inclusive C14N (or none: Canonical XML 1.0, XAdES's default)
  return algorithm === EXC_C14N ? excC14n(sv) : c14nElement(sv, algorithm);
}

/** The signature's xades:UnsignedSignatureProperties, made when absent. */
export function unsignedSignatureProperties(doc: Document, sig: Element): Element {
  const qp = all(sig, XADES_NS, 'QualifyingProperties')[0];
  if (!qp) throw new TrucError('malformed_xml', 'the signature has no xades:QualifyingProperties');
  const prefix = qp.prefix ? `${qp.prefix}:` : '';
  let up = kids(qp, XADES_NS, 'UnsignedProperties')[0];
  if (!up) up = qp.appendChild(doc.createElementNS(XADES_NS, `${prefix}UnsignedProperties`)) as Element;
  let usp = kids(up, XADES_NS, 'UnsignedSignatureProperties')[0];
  if (!usp) usp = up.appendChild(doc.createElementNS(XADES_NS, `${prefix}UnsignedSignatureProperties`)) as Element;
  return usp;
}

/** Appends an element; XAdES 1.3.2 elements take the prefix the signature's QualifyingProperties uses. */
export function child(doc: Document, parent: Element, ns: string, name: string, text?: string, attrs: Record<string, string> = {}): Element {
  const qp = all(doc, XADES_NS, 'QualifyingProperties')[0];
  const prefix = ns === XADES_NS ? (qp?.prefix ? `${qp.prefix}:` : '') : ns === XADES141_NS ? 'xadesv141:' : 'ds:';
  const el = doc.createElementNS(ns, `${prefix}${name}`);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.appendChild(doc.createTextNode(text));
  parent.appendChild(el);
  return el;
}

const b64 = (el: Element) => Buffer.from((el.textContent ?? '').replace(/\s+/g, ''), 'base64');
export const tokenOf = (ts: Element) => b64(kids(ts, XADES_NS, 'EncapsulatedTimeStamp')[0] ?? ts);
export const tokenId = (token: Buffer, kind: string) => `${kind}-${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;

/** xades:CertificateValues and xades:RevocationValues, under `parent` (the properties, or a TimeStampValidationData). */
export function writeValues(doc: Document, parent: Element, ev: Collected): void {
  const cv = child(doc, parent, XADES_NS, 'CertificateValues');
  for (const c of ev.certs) child(doc, cv, XADES_NS, 'EncapsulatedX509Certificate', c.toString('base64'));
  const rv = child(doc, parent, XADES_NS, 'RevocationValues');
  if (ev.crls.length) {
    const crls = child(doc, rv, XADES_NS, 'CRLValues');
    for (const c of ev.crls) child(doc, crls, XADES_NS, 'EncapsulatedCRLValue', c.toString('base64'));
  }
  if (ev.ocsps.length) {
    const ocsps = child(doc, rv, XADES_NS, 'OCSPValues');
    for (const o of ev.ocsps) child(doc, ocsps, XADES_NS, 'EncapsulatedOCSPValue', o.toString('base64'));
  }
}

/** A new xadesv141:ArchiveTimeStamp at the end of the signature's unsigned signature properties. */
async function appendArchiveTimeStamp(doc: Document, sig: Element, usp: Element, ctx: LevelContext, content?: DetachedInput): Promise<void> {
  // a detached signature over several files: each reference takes the document it names (or whose digest it has)
  const refs = kids(kids(sig, DS_NS, 'SignedInfo')[0] ?? sig, DS_NS, 'Reference');
  const imprint = createHash('sha256').update(archiveTimeStampInput(doc, sig, null, EXC_C14N, resolveDetached(content, refs).content)).digest();
  const token = await needTimeStamper(ctx).stamp(imprint, 'sha256');
  const ats = child(doc, usp, XADES141_NS, 'ArchiveTimeStamp', undefined, { Id: tokenId(token, 'ATS') });
  child(doc, ats, DS_NS, 'CanonicalizationMethod', undefined, { Algorithm: EXC_C14N });
  child(doc, ats, XADES_NS, 'EncapsulatedTimeStamp', token.toString('base64'));
}

export function signatureAt(doc: Document, index: number): Element {
  const sig = all(doc, DS_NS, 'Signature')[index];
  if (!sig) throw new TrucError('bad_request', `the document has no signature ${index}`);
  return sig;
}

export const keyInfoCerts = (sig: Element) => all(kids(sig, DS_NS, 'KeyInfo')[0] ?? sig, DS_NS, 'X509Certificate').map(b64);

/**
 * Raises XAdES signature `index` of the document to `level` (levels already reached are kept). A detached
 * signature's content is needed for B-LTA (the archive time-stamp covers it). Text gives text, bytes give bytes:
 * the document's own, in its encoding, with the new properties written in (`edit.ts`).
 */
export async function augmentXades(xml: string, level: Level, ctx: LevelContext, index?: number, content?: DetachedInput): Promise<string>;
export async function augmentXades(xml: Uint8Array, level: Level, ctx: LevelContext, index?: number, content?: DetachedInput): Promise<Buffer>;
export async function augmentXades(xml: Uint8Array | string, level: Level, ctx: LevelContext, index?: number, content?: DetachedInput): Promise<string | Buffer>;
export async function augmentXades(xml: Uint8Array | string, level: Level, ctx: LevelContext, index = 0, content?: DetachedInput): Promise<string | Buffer> {
  const original = typeof xml === 'string' ? xml : Buffer.from(xml);
  if (rank(level) < rank('B-T')) return original;
  const edit = editXml(xml);
  const doc = edit.doc;
  const sig = signatureAt(doc, index);
  const usp = unsignedSignatureProperties(doc, sig);
  let changed = false;
  const stamps = () => kids(usp, XADES_NS, 'SignatureTimeStamp');
  if (!stamps().length) {
    const token = await needTimeStamper(ctx).stamp(createHash('sha256').update(signatureValueOctets(sig)).digest(), 'sha256');
    const ts = child(doc, usp, XADES_NS, 'SignatureTimeStamp', undefined, { Id: tokenId(token, 'TS') });
    child(doc, ts, DS_NS, 'CanonicalizationMethod', undefined, { Algorithm: EXC_C14N });
    child(doc, ts, XADES_NS, 'EncapsulatedTimeStamp', token.toString('base64'));
    changed = true;
  }
  if (rank(level) >= rank('B-LT') && !kids(usp, XADES_NS, 'RevocationValues').length) {
    const certs = keyInfoCerts(sig);
    if (!certs[0]) throw new TrucError('bad_request', "the signer's certificate is not in the KeyInfo");
    const tokens = stamps().map((t) => readTimeStampToken(tokenOf(t)));
    const targets = [certs[0], ...tokens.flatMap((t) => (t.signer.certificate ? [t.signer.certificate.der] : []))];
    writeValues(doc, usp, await collectEvidence(targets, [...certs, ...tokens.flatMap((t) => t.cms.certificates)], needEvidence(ctx)));
    changed = true;
  }
  if (rank(level) >= rank('B-LTA') && !kids(usp, XADES141_NS, 'ArchiveTimeStamp').length) {
    await appendArchiveTimeStamp(doc, sig, usp, ctx, content);
    changed = true;
  }
  return changed ? edit.output() : original;
}

/**
 * Renews the archive time-stamp of a B-LTA signature (EN 319 132-1 §5.5.2, §6.3): the certificates and
 * fresh revocation data of the newest archive time-stamp's TSA go into a xadesv141:TimeStampValidationData,
 * and a new ArchiveTimeStamp then covers everything, the earlier ones included — before the algorithms or
 * the TSA certificate of the last one weaken or expire.
 */
export async function renewXadesArchive(xml: string, ctx: LevelContext, index?: number, content?: DetachedInput): Promise<string>;
export async function renewXadesArchive(xml: Uint8Array, ctx: LevelContext, index?: number, content?: DetachedInput): Promise<Buffer>;
export async function renewXadesArchive(xml: Uint8Array | string, ctx: LevelContext, index?: number, content?: DetachedInput): Promise<string | Buffer>;
export async function renewXadesArchive(xml: Uint8Array | string, ctx: LevelContext, index = 0, content?: DetachedInput): Promise<string | Buffer> {
  const edit = editXml(xml);
  const doc = edit.doc;
  const sig = signatureAt(doc, index);
  const usp = unsignedSignatureProperties(doc, sig);
  const archives = kids(usp, XADES141_NS, 'ArchiveTimeStamp');
  if (!archives.length) throw new TrucError('bad_request', 'the signature has no archive time-stamp to renew (raise it to B-LTA first)');
  const last = readTimeStampToken(tokenOf(archives[archives.length - 1]));
  if (!last.signer.certificate) throw new TrucError('bad_request', "the last archive time-stamp does not carry its TSA's certificate");
  const present = readXadesUnsigned(sig).certs;
  const ev = await collectEvidence([last.signer.certificate.der], [...last.cms.certificates, ...present, ...keyInfoCerts(sig)], needEvidence(ctx));
  writeValues(doc, child(doc, usp, XADES141_NS, 'TimeStampValidationData', undefined, { Id: tokenId(Buffer.concat([...ev.certs, ...ev.crls, ...ev.ocsps]), 'TSVD') }), ev);
  await appendArchiveTimeStamp(doc, sig, usp, ctx, content);
  return edit.output();
}

export interface XadesUnsigned {
  /** signature time-stamps: the token and the canonicalization it names */
  timestamps: { token: Buffer; c14n: string }[];
  /** archive time-stamps in document order, with their elements (their imprint depends on their place) */
  archives: { token: Buffer; c14n: string; element: Element }[];
  /** CertificateValues, and those of each TimeStampValidationData */
  certs: Buffer[];
  crls: Buffer[];
  ocsps: Buffer[];
  /** SigAndRefsTimeStamp(V2) and RefsOnlyTimeStamp(V2) (XAdES-X), their inputs given by `extended.ts` */
  xTimestamps: { kind: XTimeStampKind; name: string; token: Buffer; c14n: string; element: Element; distributed: boolean }[];
  /** the UnsignedSignatureProperties element, when there is one */
  properties?: Element;
  /** CompleteCertificateRefs(V2) and CompleteRevocationRefs (XAdES-C), checked by `refs.ts` */
  references: Element[];
  /** unsigned properties not understood */
  others: string[];
}

const C14N_DEFAULT = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';

/** What a signature's UnsignedSignatureProperties carry, read for validation. */
export function readXadesUnsigned(sig: Element): XadesUnsigned {
  const out: XadesUnsigned = { timestamps: [], archives: [], xTimestamps: [], certs: [], crls: [], ocsps: [], references: [], others: [] };
  const usp = all(sig, XADES_NS, 'UnsignedSignatureProperties')[0];
  if (!usp) return out;
  out.properties = usp;
  const c14nOf = (el: Element) => kids(el, DS_NS, 'CanonicalizationMethod')[0]?.getAttribute('Algorithm') ?? C14N_DEFAULT;
  const values = (el: Element) => {
    for (const c of kids(el, XADES_NS, 'CertificateValues')) out.certs.push(...kids(c, XADES_NS, 'EncapsulatedX509Certificate').map(b64));
    for (const r of kids(el, XADES_NS, 'RevocationValues')) {
      for (const c of kids(r, XADES_NS, 'CRLValues')) out.crls.push(...kids(c, XADES_NS, 'EncapsulatedCRLValue').map(b64));
      for (const o of kids(r, XADES_NS, 'OCSPValues')) out.ocsps.push(...kids(o, XADES_NS, 'EncapsulatedOCSPValue').map(b64));
    }
  };
  values(usp);
  for (const n of Array.from(usp.childNodes as unknown as ArrayLike<Node>)) {
    if (n.nodeType !== 1) continue;
    const el = n as Element;
    const name = el.namespaceURI === XADES_NS ? el.localName : el.namespaceURI === XADES141_NS ? `v141:${el.localName}` : `{${el.namespaceURI}}${el.localName}`;
    if (name === 'SignatureTimeStamp') for (const t of kids(el, XADES_NS, 'EncapsulatedTimeStamp')) out.timestamps.push({ token: b64(t), c14n: c14nOf(el) });
    else if (name === 'v141:ArchiveTimeStamp') for (const t of kids(el, XADES_NS, 'EncapsulatedTimeStamp')) out.archives.push({ token: b64(t), c14n: c14nOf(el), element: el });
    else if (name === 'v141:TimeStampValidationData') values(el);
    else if (Object.hasOwn(X_TIMESTAMPS, el.localName) && X_TIMESTAMPS[el.localName].ns === el.namespaceURI)
      for (const t of kids(el, XADES_NS, 'EncapsulatedTimeStamp'))
        out.xTimestamps.push({ kind: X_TIMESTAMPS[el.localName].kind, name: el.localName, token: b64(t), c14n: c14nOf(el), element: el, distributed: kids(el, XADES_NS, 'Include').length > 0 });
    else if (REFERENCE_PROPERTIES.has(name.replace(/^v141:/, ''))) out.references.push(el);
    else if (name !== 'CertificateValues' && name !== 'RevocationValues') out.others.push(name);
  }
  return out;
}
