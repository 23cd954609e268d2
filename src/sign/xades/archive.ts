/**
 * XAdES B-LTA (EN 319 132-1 §5.5.2, baseline §6.3): the xadesv141:ArchiveTimeStamp, an RFC 3161 token
 * over everything the signature consists of when it is made. The message imprint's input (the
 * "not distributed" case, §5.5.2.2) is, in this order, each octet stream canonicalised with the
 * time-stamp's ds:CanonicalizationMethod (here exclusive C14N, always written explicitly):
 *   1. each ds:Reference of ds:SignedInfo, in order, processed as XMLDSig does (dereference, transforms);
 *      a result that is still a node-set is canonicalised;
 *   2. ds:SignedInfo, ds:SignatureValue and ds:KeyInfo (when present);
 *   3. the unsigned signature properties that come before this ArchiveTimeStamp in
 *      xades:UnsignedSignatureProperties, in their order (so an earlier archive time-stamp, and the
 *      validation data added for it, is covered by the next one);
 *   4. every ds:Object of the signature except the one holding xades:QualifyingProperties.
 * Renewal adds, before the next ArchiveTimeStamp, a xadesv141:TimeStampValidationData with the
 * certificates and revocation data of the previous one's TSA, so that the chain of proofs can be checked
 * offline. References are limited to what our validator accepts anyway: URI="" and "#id", with the
 * enveloped-signature and exclusive C14N transforms, and a detached reference (a URI naming a file, no
 * transforms) whose content the caller gives.
 */
import { TrucError } from '../../errors.js';
import { DS_NS, EXC_C14N, XADES_NS, excC14n } from './c14n.js';
import type { DetachedContent } from './dsig/reference.js';

export const XADES141_NS = 'http://uri.etsi.org/01903/v1.4.1#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const MAX_REFERENCES = 16;

const unsupported = (m: string) => new TrucError('unsupported', `archive time-stamp: ${m}`);
const kids = (el: Element, ns: string, local: string): Element[] =>
  Array.from(el.childNodes as unknown as ArrayLike<Node>).filter((n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === local);
const elementChildren = (el: Element): Element[] => Array.from(el.childNodes as unknown as ArrayLike<Node>).filter((n): n is Element => n.nodeType === 1);

/** `el` canonicalised, without the signature when it lies inside (the enveloped-signature transform). */
function canonicalWithout(el: Element, sig: Element | undefined, algorithm: string): Buffer {
  if (algorithm !== EXC_C14N) throw unsupported(`canonicalization ${algorithm} is not supported (exclusive C14N is)`);
  return excC14n(el, sig);
}

/** Processing instructions outside the root belong to a whole-document node-set (C14N §2.1: a line feed between). */
function documentOctets(doc: Document, sig: Element | undefined, algorithm: string): Buffer {
  const parts: Buffer[] = [];
  let seenRoot = false;
  for (const n of Array.from(doc.childNodes as unknown as ArrayLike<Node>)) {
    if (n === doc.documentElement) {
      parts.push(canonicalWithout(doc.documentElement, sig, algorithm));
      seenRoot = true;
    } else if (n.nodeType === 7) {
      const pi = n as ProcessingInstruction;
      const text = `<?${pi.target}${pi.data ? ` ${pi.data}` : ''}?>`;
      parts.push(Buffer.from(seenRoot ? `\n${text}` : `${text}\n`, 'utf8'));
    }
  }
  return Buffer.concat(parts);
}

function byId(doc: Document, id: string): Element {
  const found = Array.from(doc.getElementsByTagName('*') as unknown as ArrayLike<Element>).filter((e) => ['Id', 'ID', 'id'].some((a) => e.getAttribute(a) === id));
  if (found.length !== 1) throw new TrucError('malformed_xml', `the reference "#${id}" names ${found.length} elements`);
  return found[0];
}

/**
 * The octets one ds:Reference yields after its transforms (canonicalised with `algorithm` if still a node-set).
 * A detached reference (a URI outside the document, no transforms) yields the content's bytes, which the
 * caller must give.
 */
export function referenceOctets(doc: Document, sig: Element, reference: Element, algorithm: string, detached?: DetachedContent): Buffer {
  const uri = reference.getAttribute('URI');
  const content = typeof detached === 'function' ? detached(uri, reference) : detached;
  if (uri !== null && uri !== '' && !uri.startsWith('#')) {
    if (kids(reference, DS_NS, 'Transforms').length) throw unsupported(`transforms on the detached reference "${uri}"`);
    if (!content) throw new TrucError('bad_request', `archive time-stamp: the detached content "${uri}" is needed (the signature does not hold it)`);
    return Buffer.from(content);
  }
  const transforms = kids(reference, DS_NS, 'Transforms').flatMap((t) => kids(t, DS_NS, 'Transform')).map((t) => t.getAttribute('Algorithm') ?? '');
  if (uri === null) {
    // as the core reads it (dsig/reference.ts): the content given, else the document around an enveloped signature
    if (content) {
      if (transforms.length) throw unsupported('transforms on a reference without a URI over the content given');
      return Buffer.from(content);
    }
    if (!transforms.includes(ENVELOPED)) throw new TrucError('bad_request', 'archive time-stamp: a reference without a URI signs data the application must supply');
  }
  const target = !uri ? undefined : byId(doc, uri.slice(1));
  let enveloped = false;
  let octets: Buffer | undefined;
  const canonical = (alg: string) => (target ? canonicalWithout(target, enveloped ? sig : undefined, alg) : documentOctets(doc, enveloped ? sig : undefined, alg));
  for (const t of transforms) {
    if (octets) throw unsupported(`transform ${t} after canonicalization`);
    if (t === ENVELOPED) enveloped = true;
    else if (t === EXC_C14N) {
      if (kids(reference, DS_NS, 'Transforms').some((ts) => ts.getElementsByTagNameNS(EXC_C14N, 'InclusiveNamespaces').length)) throw unsupported('InclusiveNamespaces prefix lists');
      octets = canonical(EXC_C14N);
    } else throw unsupported(`transform ${t}`);
  }
  return octets ?? canonical(algorithm);
}

/**
 * The input of an ArchiveTimeStamp's message imprint: `before` is that time-stamp's element (only the
 * unsigned signature properties before it count), or null for one about to be appended.
 */
export function archiveTimeStampInput(doc: Document, sig: Element, before: Element | null, algorithm = EXC_C14N, content?: DetachedContent): Buffer {
  const parts: Buffer[] = [];
  const signedInfo = kids(sig, DS_NS, 'SignedInfo')[0];
  if (!signedInfo) throw new TrucError('malformed_xml', 'the signature has no SignedInfo');
  const refs = kids(signedInfo, DS_NS, 'Reference');
  if (refs.length > MAX_REFERENCES) throw unsupported(`more than ${MAX_REFERENCES} references`);
  for (const r of refs) parts.push(referenceOctets(doc, sig, r, algorithm, content));
  for (const name of ['SignedInfo', 'SignatureValue', 'KeyInfo']) for (const el of kids(sig, DS_NS, name)) parts.push(canonicalWithout(el, undefined, algorithm));
  const qp = sig.getElementsByTagNameNS(XADES_NS, 'QualifyingProperties')[0];
  const usp = qp ? kids(qp, XADES_NS, 'UnsignedProperties').flatMap((u) => kids(u, XADES_NS, 'UnsignedSignatureProperties'))[0] : undefined;
  if (usp) {
    const props = elementChildren(usp);
    const end = before ? props.indexOf(before) : props.length;
    if (end < 0) throw new TrucError('malformed_xml', 'the archive time-stamp is not an unsigned signature property of this signature');
    for (const p of props.slice(0, end)) parts.push(canonicalWithout(p, undefined, algorithm));
  }
  for (const o of kids(sig, DS_NS, 'Object')) if (!o.getElementsByTagNameNS(XADES_NS, 'QualifyingProperties').length) parts.push(canonicalWithout(o, undefined, algorithm));
  return Buffer.concat(parts);
}
