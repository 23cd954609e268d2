/**
 * The signature-wrapping defence, judged on what the references cover rather than on their shape. A wrapping
 * attack keeps the signed element (so every digest holds) but moves it where a reader does not look, and puts
 * content of its own where the reader does: an unsigned element of the same kind beside it, or around it.
 * Duplicated Ids are refused earlier (`reference.ts`: an Id borne by two elements names nothing). Here, for
 * each element a reference of this signature covers (an apex of its node-set; for a ds:Object, the content
 * it carries), a signature is refused when the document holds
 *   - an ancestor of that element of the same qualified name that no signature covers (the signed original
 *     wrapped inside forged content of its kind), or
 *   - an element of the same qualified name that no signature covers any part of, with content, outside
 *     every signature except inside a ds:Object (forged content beside the hidden original).
 * Elements of the XML-DSig and XAdES namespaces are the signatures' own machinery and are not judged, nor are
 * containers of signatures (the seller's and the tax authority's slots of an e-invoice) or empty elements
 * (a slot not yet signed). Everything else the specification allows — references outside the signature,
 * several signatures over different parts, unsigned ds:Objects of other kinds — stands, and the report names
 * what each reference covers.
 */
import { DS } from './reference.js';
import type { Coverage } from './reference.js';
import { elementPath } from './reference.js';

const XADES_NAMESPACES = new Set(['http://uri.etsi.org/01903/v1.3.2#', 'http://uri.etsi.org/01903/v1.4.1#']);
/** bounded work on hostile input: the apexes judged per signature, the twins examined per name */
const MAX_APEXES = 64;
const MAX_TWINS = 2_000;

const machinery = (el: Element) => el.namespaceURI === DS || XADES_NAMESPACES.has(el.namespaceURI ?? '');
const parentElement = (n: Node): Element | null => (n.parentNode && n.parentNode.nodeType === 1 ? (n.parentNode as Element) : null);

function hasContent(el: Element): boolean {
  if (el.attributes.length) return true;
  for (let c = el.firstChild; c; c = c.nextSibling) if (c.nodeType === 1 || ((c.nodeType === 3 || c.nodeType === 4) && (c as Text).data.trim())) return true;
  return false;
}

/** Inside a ds:Signature, and not within one of its ds:Objects (where content, signed or not, is carried). */
function inSignatureMachinery(el: Element): boolean {
  for (let p = parentElement(el); p; p = parentElement(p)) {
    if (p.namespaceURI !== DS) continue;
    if (p.localName === 'Object') return false;
    if (p.localName === 'Signature') return true;
  }
  return false;
}

/**
 * Why the signature's coverage lets a reader be deceived, or undefined. `own` is what this signature's
 * references cover; `all` what every signature of the document covers (content another signature signs is
 * not forged content).
 */
export function wrappingProblem(doc: Document, own: Coverage[], all: Coverage[]): string | undefined {
  const apexes: Element[] = [];
  for (const c of own)
    for (const el of c.elements) {
      if (el === doc.documentElement) continue;
      if (el.namespaceURI === DS && el.localName === 'Object') {
        for (let k = el.firstChild; k; k = k.nextSibling) if (k.nodeType === 1 && !machinery(k as Element)) apexes.push(k as Element);
      } else if (!machinery(el)) apexes.push(el);
    }
  if (!apexes.length) return undefined;
  const allApexes = new Set(all.flatMap((c) => c.elements));
  // elements on the way down to covered content: a signature's container, the signed element's parents
  const above = new Set<Element>();
  for (const a of allApexes) for (let p: Element | null = a; p && !above.has(p); p = parentElement(p)) above.add(p);
  const covered = (el: Element) => all.some((c) => c.has(el));
  const byName = new Map<string, Element[]>();
  for (const a of apexes.slice(0, MAX_APEXES)) {
    for (let p = parentElement(a); p; p = parentElement(p))
      if (p.namespaceURI === a.namespaceURI && p.localName === a.localName && !covered(p))
        return `the signed ${elementPath(a)} lies inside ${elementPath(p)}, an element of the same kind that is not signed / phần được ký nằm trong một phần tử cùng loại không được ký`;
    const key = `${a.namespaceURI ?? ''}|${a.localName}`;
    let twins = byName.get(key);
    if (!twins) {
      twins = Array.from((a.namespaceURI ? doc.getElementsByTagNameNS(a.namespaceURI, a.localName) : doc.getElementsByTagNameNS(null as never, a.localName)) as unknown as ArrayLike<Element>).slice(0, MAX_TWINS);
      byName.set(key, twins);
    }
    for (const t of twins) {
      if (t === a || above.has(t) || covered(t) || !hasContent(t) || inSignatureMachinery(t)) continue;
      if (t.getElementsByTagNameNS(DS, 'Signature').length) continue;
      return `${elementPath(t)} is not signed but is of the same kind as the signed ${elementPath(a)}: a reader could take it for the signed content / phần tử không được ký cùng loại với phần được ký, người đọc có thể nhầm là nội dung đã ký`;
    }
  }
  return undefined;
}
