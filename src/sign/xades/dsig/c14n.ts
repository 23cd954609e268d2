/**
 * Canonical XML over document subsets (node-sets), our own: Canonical XML 1.0 and 1.1 (inclusive) and
 * Exclusive XML Canonicalization 1.0, each with or without comments. XML-DSig transforms (enveloped
 * signature, XPath, XPath Filter 2.0, same-document references) hand a node-set to the canonicaliser, so
 * it works on a membership test over the DOM rather than on a subtree: an element outside the set is not
 * rendered but its included descendants are, namespaces are rendered relative to the nearest rendered
 * ancestor, and the inclusive forms carry the xml:* attributes of the ancestors over to an element whose parent
 * is omitted: Canonical XML 1.0 every xml:* attribute (the nearest occurrence along the ancestor axis), 1.1 only
 * the simple inheritable xml:lang and xml:space, never xml:id, and xml:base fixed up (`xml-base.ts`) so that the
 * element keeps the base URI it had (C14N 1.1 §2.4). Namespace nodes are not members of their own: an included
 * element carries its whole namespace axis. Depth is bounded by the parser (MAX_XML_DEPTH), so the recursion
 * here is bounded too.
 */
import { TrucError } from '../../../errors.js';
import { fixedUpBase } from './xml-base.js';

export const C14N10 = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';
export const C14N10_COMMENTS = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments';
export const C14N11 = 'http://www.w3.org/2006/12/xml-c14n11';
export const C14N11_COMMENTS = 'http://www.w3.org/2006/12/xml-c14n11#WithComments';
export const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
export const EXC_C14N_COMMENTS = 'http://www.w3.org/2001/10/xml-exc-c14n#WithComments';

export const C14N_ALGORITHMS = new Set([C14N10, C14N10_COMMENTS, C14N11, C14N11_COMMENTS, EXC_C14N, EXC_C14N_COMMENTS]);

const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';
const XML_NS = 'http://www.w3.org/XML/1998/namespace';

/** A document subset: which nodes (elements, attributes, text, comments, processing instructions) belong to it. */
export interface NodeSet {
  doc: Document;
  has(node: Node): boolean;
}

export interface C14nOptions {
  exclusive: boolean;
  comments: boolean;
  /** Canonical XML 1.1: only xml:lang and xml:space are inherited, xml:base is fixed up, xml:id stays where it is */
  v11?: boolean;
  /** exclusive: the InclusiveNamespaces PrefixList ('#default' for the default namespace) */
  prefixes?: string[];
}

export function c14nOptions(algorithm: string, prefixes?: string[]): C14nOptions {
  if (!C14N_ALGORITHMS.has(algorithm)) throw new TrucError('unsupported', `canonicalization ${algorithm} is not supported`);
  return {
    exclusive: algorithm.startsWith(EXC_C14N),
    comments: algorithm.endsWith('#WithComments'),
    v11: algorithm.startsWith(C14N11),
    ...(prefixes ? { prefixes } : {}),
  };
}

const escText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#xD;');
const escAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;').replace(/\t/g, '&#x9;').replace(/\n/g, '&#xA;').replace(/\r/g, '&#xD;');

const isNsDecl = (a: Attr) => a.namespaceURI === XMLNS_NS || a.name === 'xmlns' || a.name.startsWith('xmlns:');
const attrsOf = (el: Element): Attr[] => Array.from(el.attributes as unknown as ArrayLike<Attr>);
const parentElement = (n: Node): Element | null => (n.parentNode && n.parentNode.nodeType === 1 ? (n.parentNode as Element) : null);

/** The namespaces in scope on an element: prefix ('' for the default) → URI ('' when undeclared). */
export function inScopeNamespaces(el: Element, cache?: Map<Element, Map<string, string>>): Map<string, string> {
  const hit = cache?.get(el);
  if (hit) return hit;
  const parent = parentElement(el);
  const out = new Map(parent ? inScopeNamespaces(parent, cache) : []);
  for (const a of attrsOf(el)) {
    if (!isNsDecl(a)) continue;
    const prefix = a.name === 'xmlns' ? '' : a.name.slice(6);
    if (prefix === 'xml') continue;
    out.set(prefix, a.value);
  }
  // a prefix used without a declaration in this DOM (built by code, not parsed) still has its namespace
  if (el.namespaceURI && !out.has(el.prefix ?? '')) out.set(el.prefix ?? '', el.namespaceURI);
  for (const a of attrsOf(el)) if (a.prefix && a.prefix !== 'xml' && !isNsDecl(a) && a.namespaceURI && !out.has(a.prefix)) out.set(a.prefix, a.namespaceURI);
  cache?.set(el, out);
  return out;
}

/** @xmldom/xmldom keeps the XML declaration as a processing instruction "xml"; it is not one, and not in the data model. */
const isXmlDeclaration = (n: Node) => n.nodeType === 7 && (n as ProcessingInstruction).target === 'xml';

/**
 * The canonical form of a node-set. With `apex`, only that element's subtree is walked (the caller's set holds
 * nothing outside it): the same octets as from the document, without visiting the rest of it.
 */
export function canonicalize(set: NodeSet, opts: C14nOptions, apex?: Element): Buffer {
  const out: string[] = [];
  const cache = new Map<Element, Map<string, string>>();
  const prefixList = new Set((opts.prefixes ?? []).map((p) => (p === '#default' ? '' : p)));

  const visiblyUsed = (el: Element): Set<string> => {
    const used = new Set<string>([el.prefix ?? '']);
    for (const a of attrsOf(el)) if (!isNsDecl(a) && a.prefix && a.prefix !== 'xml') used.add(a.prefix);
    return used;
  };

  /**
   * The xml:* attributes an element whose parent is omitted carries over from its ancestors (inclusive forms):
   * the nearest occurrence of each along the whole ancestor axis, whether or not in the set — 1.0 every one,
   * 1.1 xml:lang and xml:space only (xml:base is fixed up apart, xml:id and the others are not inherited).
   */
  const inheritedXmlAttrs = (el: Element): Map<string, string> => {
    const found = new Map<string, string>();
    for (let p = parentElement(el); p; p = parentElement(p))
      for (const a of attrsOf(p)) {
        if (a.namespaceURI !== XML_NS && !a.name.startsWith('xml:')) continue;
        const local = a.localName ?? a.name.slice(4);
        if (opts.v11 && !['lang', 'space'].includes(local)) continue;
        if (!found.has(local)) found.set(local, a.value);
      }
    return found;
  };

  const element = (el: Element, rendered: Map<string, string>) => {
    const included = set.has(el);
    let next = rendered;
    if (included) {
      const scope = inScopeNamespaces(el, cache);
      const candidates = opts.exclusive ? [...new Set([...visiblyUsed(el), ...[...prefixList].filter((p) => scope.has(p))])] : [...scope.keys()];
      const decls: [string, string][] = [];
      next = opts.exclusive ? new Map(rendered) : new Map<string, string>();
      for (const p of candidates) {
        const uri = scope.get(p) ?? '';
        const before = rendered.get(p) ?? '';
        if (p === '' && uri === '') {
          if (before !== '') decls.push(['', '']);
        } else if (uri !== '' && rendered.get(p) !== uri) decls.push([p, uri]);
        next.set(p, uri);
      }
      if (!opts.exclusive) for (const [p, uri] of scope) next.set(p, uri);
      decls.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const attrs: { ns: string; local: string; name: string; value: string }[] = [];
      for (const a of attrsOf(el)) if (!isNsDecl(a) && set.has(a)) attrs.push({ ns: a.namespaceURI ?? '', local: a.localName ?? a.name, name: a.name, value: a.value });
      // the parent omitted (the root node too, for the document element): the xml:* attributes carried over
      if (!opts.exclusive && el.parentNode && !set.has(el.parentNode)) {
        // an attribute E has (in the set or not) is not replaced by an ancestor's
        const own = (local: string) => el.hasAttributeNS(XML_NS, local);
        for (const [local, value] of inheritedXmlAttrs(el)) if (!own(local)) attrs.push({ ns: XML_NS, local, name: `xml:${local}`, value });
        if (opts.v11) {
          const i = attrs.findIndex((a) => a.ns === XML_NS && a.local === 'base');
          if (i >= 0) attrs.splice(i, 1);
          const base = fixedUpBase(el, (n) => set.has(n), own('base') ? el.getAttributeNS(XML_NS, 'base') ?? undefined : undefined);
          if (base) attrs.push({ ns: XML_NS, local: 'base', name: 'xml:base', value: base });
        }
      }
      attrs.sort((a, b) => (a.ns !== b.ns ? (a.ns < b.ns ? -1 : 1) : a.local < b.local ? -1 : a.local > b.local ? 1 : 0));
      let tag = `<${el.tagName}`;
      for (const [p, uri] of decls) tag += p ? ` xmlns:${p}="${escAttr(uri)}"` : ` xmlns="${escAttr(uri)}"`;
      for (const a of attrs) tag += ` ${a.name}="${escAttr(a.value)}"`;
      out.push(`${tag}>`);
    }
    else
      // attributes selected without their element (an XPath "//e/@a") are rendered on their own (C14N §2.3)
      for (const a of attrsOf(el)) if (!isNsDecl(a) && set.has(a)) out.push(` ${a.name}="${escAttr(a.value)}"`);
    for (let c = el.firstChild; c; c = c.nextSibling) node(c, next);
    if (included) out.push(`</${el.tagName}>`);
  };

  const node = (n: Node, rendered: Map<string, string>) => {
    switch (n.nodeType) {
      case 1:
        element(n as Element, rendered);
        break;
      case 3:
      case 4:
        if (set.has(n)) out.push(escText((n as Text).data));
        break;
      case 7:
        if (set.has(n) && !isXmlDeclaration(n)) {
          const pi = n as ProcessingInstruction;
          out.push(`<?${pi.target}${pi.data ? ` ${pi.data}` : ''}?>`);
        }
        break;
      case 8:
        if (opts.comments && set.has(n)) out.push(`<!--${(n as Comment).data}-->`);
        break;
      default:
        break;
    }
  };

  if (apex) {
    element(apex, new Map());
    return Buffer.from(out.join(''), 'utf8');
  }
  // the document's own children: a line feed between what comes before or after the root element and it
  let seenRoot = false;
  for (let c = set.doc.firstChild; c; c = c.nextSibling) {
    if (c.nodeType === 1) {
      element(c as Element, new Map());
      seenRoot = true;
      continue;
    }
    if ((c.nodeType !== 7 && c.nodeType !== 8) || !set.has(c) || (c.nodeType === 8 && !opts.comments) || isXmlDeclaration(c)) continue;
    const start = out.length;
    node(c, new Map());
    const text = out.splice(start).join('');
    out.push(seenRoot ? `\n${text}` : `${text}\n`);
  }
  return Buffer.from(out.join(''), 'utf8');
}
