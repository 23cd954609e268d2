/**
 * The XML namespaces XAdES uses and the one canonical form our time-stamps and enveloping digests are computed
 * over: exclusive C14N without comments (our own canonicaliser, `dsig/c14n.ts`), which renders only the
 * namespaces an element visibly uses, so a property canonicalises the same wherever it sits in the document.
 */
import { C14N10, c14nOptions, canonicalize } from './dsig/c14n.js';

export const DS_NS = 'http://www.w3.org/2000/09/xmldsig#';
export const XADES_NS = 'http://uri.etsi.org/01903/v1.3.2#';
export const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';

const within = (root: Node, n: Node): boolean => {
  for (let x: Node | null = n.nodeType === 2 ? (n as Attr).ownerElement : n; x; x = x.parentNode)
    if (x === root) return true;
  return false;
};

/**
 * The exclusive canonical form (without comments) of an element's subtree, as UTF-8 octets; `without` (an
 * element inside it, the signature for the enveloped-signature transform) left out.
 */
export function excC14n(el: Element, without?: Element): Buffer {
  const has = (n: Node) => n.nodeType !== 8 && within(el, n) && !(without && within(without, n));
  return canonicalize({ doc: el.ownerDocument, has }, { exclusive: true, comments: false }, el);
}

/**
 * An element's subtree in any of the canonical forms XML-DSig names (inclusive 1.0 — the default XAdES gives
 * time-stamps that name none —, 1.1, exclusive; with or without comments): what the time-stamps of other
 * producers (SigAndRefsTimeStamp, RefsOnlyTimeStamp, SignatureTimeStamp) are computed over.
 */
export function c14nElement(el: Element, algorithm: string = C14N10): Buffer {
  const opts = c14nOptions(algorithm);
  const has = (n: Node) => (opts.comments || n.nodeType !== 8) && within(el, n);
  return canonicalize({ doc: el.ownerDocument, has }, opts, el);
}
