/**
 * XAdES levels above B-B (EN 319 132-1 §5.3, §5.5; baseline EN 319 132-1 §6): unsigned qualifying
 * properties added to an enveloped signature without touching what it signed —
 *   B-T  xades:SignatureTimeStamp: an RFC 3161 token over the exclusive canonical form of ds:SignatureValue
 *        (its ds:CanonicalizationMethod says so), carried base64 in xades:EncapsulatedTimeStamp;
 *   B-LT xades:CertificateValues (the certificates of the signer's and the TSA's paths) and
 *        xades:RevocationValues (CRLs, and OCSP responses as DER OCSPResponse).
 * They sit in xades:UnsignedProperties/xades:UnsignedSignatureProperties, outside SignedProperties, so the
 * core signature — and xmlsec1's verdict on it — is unchanged.
 */
import { createHash } from 'node:crypto';
import { XMLSerializer } from '@xmldom/xmldom';
import { ExclusiveCanonicalization } from 'xml-crypto';
import { TrucError } from '../../errors.js';
import { collectEvidence } from '../evidence/collect.js';
import { needEvidence, needTimeStamper, rank, type Level, type LevelContext } from '../level.js';
import { readTimeStampToken } from '../timestamp/token.js';
import { parseXml } from './parse.js';

export const DS_NS = 'http://www.w3.org/2000/09/xmldsig#';
export const XADES_NS = 'http://uri.etsi.org/01903/v1.3.2#';
export const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';

const kids = (el: Element, ns: string, local: string): Element[] =>
  Array.from(el.childNodes as unknown as ArrayLike<Node>).filter((n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === local);
const all = (root: Document | Element, ns: string, local: string): Element[] => Array.from(root.getElementsByTagNameNS(ns, local) as unknown as ArrayLike<Element>);

/** The exclusive canonical form (without comments) of an element, as UTF-8 octets. */
export function excC14n(el: Element): Buffer {
  return Buffer.from(new ExclusiveCanonicalization().process(el as never, {}), 'utf8');
}

/** The octets a SignatureTimeStamp imprints: the canonical ds:SignatureValue of the signature. */
export function signatureValueOctets(sig: Element, algorithm = EXC_C14N): Buffer {
  if (algorithm !== EXC_C14N) throw new TrucError('unsupported', `canonicalization ${algorithm} is not supported for time-stamps (exclusive C14N is)`);
  const sv = kids(sig, DS_NS, 'SignatureValue')[0];
  if (!sv) throw new TrucError('malformed_xml', 'the signature has no SignatureValue');
  return excC14n(sv);
}

/** The signature's xades:UnsignedSignatureProperties, made when absent. */
function unsignedSignatureProperties(doc: Document, sig: Element): Element {
  const qp = all(sig, XADES_NS, 'QualifyingProperties')[0];
  if (!qp) throw new TrucError('malformed_xml', 'the signature has no xades:QualifyingProperties');
  const prefix = qp.prefix ? `${qp.prefix}:` : '';
  let up = kids(qp, XADES_NS, 'UnsignedProperties')[0];
  if (!up) up = qp.appendChild(doc.createElementNS(XADES_NS, `${prefix}UnsignedProperties`)) as Element;
  let usp = kids(up, XADES_NS, 'UnsignedSignatureProperties')[0];
  if (!usp) usp = up.appendChild(doc.createElementNS(XADES_NS, `${prefix}UnsignedSignatureProperties`)) as Element;
  return usp;
}

function child(doc: Document, parent: Element, ns: string, name: string, text?: string, attrs: Record<string, string> = {}): Element {
  const prefix = ns === XADES_NS ? (parent.prefix ? `${parent.prefix}:` : '') : 'ds:';
  const el = doc.createElementNS(ns, `${prefix}${name}`);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.appendChild(doc.createTextNode(text));
  parent.appendChild(el);
  return el;
}

/** Raises enveloped XAdES signature `index` of the document to `level` (levels already reached are kept). */
export async function augmentXades(xml: Uint8Array | string, level: Level, ctx: LevelContext, index = 0): Promise<string> {
  if (rank(level) >= rank('B-LTA')) throw new TrucError('unsupported', 'XAdES B-LTA (xadesv141:ArchiveTimeStamp) is not implemented yet');
  const original = typeof xml === 'string' ? xml : Buffer.from(xml).toString('utf8');
  if (rank(level) < rank('B-T')) return original;
  const doc = parseXml(original);
  const sig = all(doc, DS_NS, 'Signature')[index];
  if (!sig) throw new TrucError('bad_request', `the document has no signature ${index}`);
  const usp = unsignedSignatureProperties(doc, sig);
  let changed = false;
  const stamps = () => kids(usp, XADES_NS, 'SignatureTimeStamp');
  if (!stamps().length) {
    const token = await needTimeStamper(ctx).stamp(createHash('sha256').update(signatureValueOctets(sig)).digest(), 'sha256');
    const ts = child(doc, usp, XADES_NS, 'SignatureTimeStamp', undefined, { Id: `TS-${createHash('sha256').update(token).digest('hex').slice(0, 16)}` });
    child(doc, ts, DS_NS, 'CanonicalizationMethod', undefined, { Algorithm: EXC_C14N });
    child(doc, ts, XADES_NS, 'EncapsulatedTimeStamp', token.toString('base64'));
    changed = true;
  }
  if (rank(level) >= rank('B-LT') && !kids(usp, XADES_NS, 'RevocationValues').length) {
    const certs = all(kids(sig, DS_NS, 'KeyInfo')[0] ?? sig, DS_NS, 'X509Certificate').map((c) => Buffer.from((c.textContent ?? '').replace(/\s+/g, ''), 'base64'));
    if (!certs[0]) throw new TrucError('bad_request', "the signer's certificate is not in the KeyInfo");
    const tokens = stamps().map((t) => readTimeStampToken(Buffer.from((kids(t, XADES_NS, 'EncapsulatedTimeStamp')[0]?.textContent ?? '').replace(/\s+/g, ''), 'base64')));
    const targets = [certs[0], ...tokens.flatMap((t) => (t.signer.certificate ? [t.signer.certificate.der] : []))];
    const ev = await collectEvidence(targets, [...certs, ...tokens.flatMap((t) => t.cms.certificates)], needEvidence(ctx));
    const cv = child(doc, usp, XADES_NS, 'CertificateValues');
    for (const c of ev.certs) child(doc, cv, XADES_NS, 'EncapsulatedX509Certificate', c.toString('base64'));
    const rv = child(doc, usp, XADES_NS, 'RevocationValues');
    if (ev.crls.length) {
      const crls = child(doc, rv, XADES_NS, 'CRLValues');
      for (const c of ev.crls) child(doc, crls, XADES_NS, 'EncapsulatedCRLValue', c.toString('base64'));
    }
    if (ev.ocsps.length) {
      const ocsps = child(doc, rv, XADES_NS, 'OCSPValues');
      for (const o of ev.ocsps) child(doc, ocsps, XADES_NS, 'EncapsulatedOCSPValue', o.toString('base64'));
    }
    changed = true;
  }
  return changed ? new XMLSerializer().serializeToString(doc as never) : original;
}

/** What a signature's UnsignedSignatureProperties carry, read for validation. */
export function readXadesUnsigned(sig: Element): { timestamps: { token: Buffer; c14n: string }[]; certs: Buffer[]; crls: Buffer[]; ocsps: Buffer[]; others: string[] } {
  const out = { timestamps: [] as { token: Buffer; c14n: string }[], certs: [] as Buffer[], crls: [] as Buffer[], ocsps: [] as Buffer[], others: [] as string[] };
  const usp = all(sig, XADES_NS, 'UnsignedSignatureProperties')[0];
  if (!usp) return out;
  const b64 = (el: Element) => Buffer.from((el.textContent ?? '').replace(/\s+/g, ''), 'base64');
  for (const n of Array.from(usp.childNodes as unknown as ArrayLike<Node>)) {
    if (n.nodeType !== 1) continue;
    const el = n as Element;
    const name = el.namespaceURI === XADES_NS ? el.localName : `{${el.namespaceURI}}${el.localName}`;
    if (name === 'SignatureTimeStamp') {
      const c14n = kids(el, DS_NS, 'CanonicalizationMethod')[0]?.getAttribute('Algorithm') ?? 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';
      for (const t of kids(el, XADES_NS, 'EncapsulatedTimeStamp')) out.timestamps.push({ token: b64(t), c14n });
    } else if (name === 'CertificateValues') out.certs.push(...kids(el, XADES_NS, 'EncapsulatedX509Certificate').map(b64));
    else if (name === 'RevocationValues') {
      for (const c of kids(el, XADES_NS, 'CRLValues')) out.crls.push(...kids(c, XADES_NS, 'EncapsulatedCRLValue').map(b64));
      for (const o of kids(el, XADES_NS, 'OCSPValues')) out.ocsps.push(...kids(o, XADES_NS, 'EncapsulatedOCSPValue').map(b64));
    } else out.others.push(name);
  }
  return out;
}
