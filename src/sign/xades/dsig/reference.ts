/**
 * One ds:Reference processed as XML-DSig 1.1 §4.4.3 says: the URI dereferenced (same-document "", "#id" and
 * XPointers — `xpointer.ts` — or a detached file the caller gives), then each transform in turn —
 * enveloped signature, the six canonicalisations, base64, XPath (with here()), XPath Filter 2.0 — and a
 * node-set still left at the end canonicalised with inclusive C14N 1.0. Besides the octets, the result says
 * which elements the reference covers (the apexes of the node-set, and what was cut out of them): the
 * wrapping defence judges a document by these, never by the reference's shape.
 * An Id names an element through an attribute Id, ID or id (any namespace, xml:id too); a name borne by two
 * elements is ambiguous and refused, since either could be the signed one.
 */
import xpath from 'xpath';
import { TrucError } from '../../../errors.js';
import { parseXml } from '../parse.js';
import { C14N10, C14N_ALGORITHMS, c14nOptions, canonicalize, inScopeNamespaces, type NodeSet } from './c14n.js';
import { dereferenceFragment } from './xpointer.js';

export const DS = 'http://www.w3.org/2000/09/xmldsig#';
export const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
export const BASE64 = 'http://www.w3.org/2000/09/xmldsig#base64';
export const XPATH = 'http://www.w3.org/TR/1999/REC-xpath-19991116';
export const XPATH_FILTER2 = 'http://www.w3.org/2002/06/xmldsig-filter2';
export const MANIFEST_TYPE = 'http://www.w3.org/2000/09/xmldsig#Manifest';
const EXC_NS = 'http://www.w3.org/2001/10/xml-exc-c14n#';
/** the XPath transform evaluates its expression once per node: bounded work */
const MAX_XPATH_NODES = 50_000;
const MAX_TRANSFORMS = 16;
const MAX_REPORTED = 20;

/** xpath's compiled expressions: the package has `parse` (evaluation with here() and namespaces) but does not type it */
interface XPathValue {
  booleanValue(): boolean;
  nodeset(): { toArray(): Node[] };
}
interface CompiledXPath {
  evaluate(options: { node: Node; namespaces: Record<string, string>; functions: Record<string, () => Node[]> }): XPathValue;
}
function compileXPath(expression: string): CompiledXPath {
  try {
    return (xpath as unknown as { parse(e: string): CompiledXPath }).parse(expression);
  } catch (e) {
    throw new TrucError('malformed_xml', `the XPath "${expression.slice(0, 200)}" cannot be read: ${(e as Error).message}`);
  }
}

/** Evaluating an XPath over hostile input: an error in it (an unknown function, a type error) is the document's, not ours. */
function evaluateXPath(compiled: CompiledXPath, options: Parameters<CompiledXPath['evaluate']>[0]): XPathValue {
  try {
    return compiled.evaluate(options);
  } catch (e) {
    throw unsupported(`the XPath cannot be evaluated: ${(e as Error).message}`);
  }
}

export const unsupported = (m: string) => new TrucError('unsupported', m);

export const dsChildren = (el: Element, local: string, ns = DS): Element[] =>
  Array.from(el.childNodes as unknown as ArrayLike<Node>).filter((n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === local);

/** Every element of the document by its Id/ID/id attribute (several when the name is not unique). */
export function idIndex(doc: Document): Map<string, Element[]> {
  const out = new Map<string, Element[]>();
  for (const el of Array.from(doc.getElementsByTagName('*') as unknown as ArrayLike<Element>))
    for (const a of Array.from(el.attributes as unknown as ArrayLike<Attr>)) {
      const local = a.localName ?? a.name;
      if ((local === 'Id' || local === 'ID' || local === 'id') && !a.name.startsWith('xmlns')) out.set(a.value, [...(out.get(a.value) ?? []), el]);
    }
  return out;
}

function within(root: Node, n: Node): boolean {
  let x: Node | null = n.nodeType === 2 ? (n as Attr).ownerElement : n;
  for (; x; x = x.parentNode) if (x === root) return true;
  return false;
}

const whole = (doc: Document, comments: boolean): NodeSet => ({ doc, has: (n) => comments || n.nodeType !== 8 });
const subtree = (el: Element, comments: boolean): NodeSet => ({ doc: el.ownerDocument, has: (n) => (comments || n.nodeType !== 8) && within(el, n) });
const minus = (set: NodeSet, el: Element): NodeSet => ({ doc: set.doc, has: (n) => set.has(n) && !within(el, n) });
const fromSet = (doc: Document, nodes: Set<Node>): NodeSet => ({ doc, has: (n) => nodes.has(n) });

/** Every node of the document in document order (elements, their attributes, text, comments, PIs), bounded. */
function allNodes(doc: Document, limit: number): Node[] {
  const out: Node[] = [];
  const walk = (n: Node) => {
    if (out.length > limit) throw unsupported(`an XPath transform over more than ${limit} nodes`);
    out.push(n);
    if (n.nodeType === 1) for (const a of Array.from((n as Element).attributes as unknown as ArrayLike<Attr>)) out.push(a);
    for (let c = n.firstChild; c; c = c.nextSibling) walk(c);
  };
  for (let c = doc.firstChild; c; c = c.nextSibling) walk(c);
  return out;
}

/** The namespace prefixes an XPath expression may use: those in scope on its element. */
function xpathNamespaces(el: Element): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [p, u] of inScopeNamespaces(el)) if (p) out[p] = u;
  return out;
}

/** XML-DSig's XPath transform: the expression, as a boolean, kept or drops each node of the input. */
function xpathTransform(set: NodeSet, t: Element): NodeSet {
  const expr = dsChildren(t, 'XPath')[0];
  if (!expr) throw new TrucError('malformed_xml', 'an XPath transform without its XPath element');
  const parsed = compileXPath(expr.textContent ?? '');
  const namespaces = xpathNamespaces(expr);
  const functions = { here: () => [expr.firstChild ?? expr] };
  const kept = new Set<Node>();
  for (const n of allNodes(set.doc, MAX_XPATH_NODES)) if (set.has(n) && evaluateXPath(parsed, { node: n, namespaces, functions }).booleanValue()) kept.add(n);
  return fromSet(set.doc, kept);
}

/** XPath Filter 2.0: each XPath's nodes (with their subtrees) intersected, subtracted or united, in order; then ∩ the input. */
function filter2Transform(set: NodeSet, t: Element): NodeSet {
  const steps = dsChildren(t, 'XPath', XPATH_FILTER2);
  if (!steps.length) throw new TrucError('malformed_xml', 'an XPath Filter 2.0 transform without XPath elements');
  const nodes = allNodes(set.doc, MAX_XPATH_NODES);
  let filter = new Set<Node>(nodes);
  for (const step of steps) {
    const op = step.getAttribute('Filter');
    const found = evaluateXPath(compileXPath(step.textContent ?? ''), { node: set.doc, namespaces: xpathNamespaces(step), functions: { here: () => [step.firstChild ?? step] } }).nodeset().toArray();
    // each node found with its subtree (an element's attributes included): one walk per root, each node once
    const expanded = new Set<Node>();
    const expand = (n: Node) => {
      if (expanded.has(n)) return;
      expanded.add(n);
      if (n.nodeType === 1) for (const a of Array.from((n as Element).attributes as unknown as ArrayLike<Attr>)) expanded.add(a);
      for (let c = n.firstChild; c; c = c.nextSibling) expand(c);
    };
    for (const r of found) if (r.nodeType === 9) nodes.forEach((n) => expanded.add(n));
    else expand(r);
    if (op === 'intersect') filter = new Set([...filter].filter((n) => expanded.has(n)));
    else if (op === 'subtract') filter = new Set([...filter].filter((n) => !expanded.has(n)));
    else if (op === 'union') for (const n of expanded) filter.add(n);
    else throw new TrucError('malformed_xml', `XPath Filter 2.0: unknown filter "${op ?? ''}"`);
  }
  return fromSet(set.doc, new Set(nodes.filter((n) => set.has(n) && filter.has(n))));
}

/** Where an element is, for people: its path of qualified names, with its Id when it has one. */
export function elementPath(el: Element): string {
  const parts: string[] = [];
  for (let n: Node | null = el; n && n.nodeType === 1; n = n.parentNode) parts.unshift((n as Element).tagName);
  const id = ['Id', 'ID', 'id'].map((a) => el.getAttribute(a)).find((v) => v);
  return `/${parts.join('/')}${id ? `[@Id="${id}"]` : ''}`;
}

export interface Coverage {
  /** the elements whose (included part of the) subtree the reference covers: the node-set's apexes */
  covers: string[];
  /** elements inside a covered subtree that are left out (the signature itself, through enveloped-signature) */
  excludes: string[];
  /** the document's root element is covered */
  wholeDocument: boolean;
  /** the covered elements themselves (for judging, not for the report) */
  elements: Element[];
  /** whether a node is in the reference's node-set (for judging) */
  has(node: Node): boolean;
}

function coverageOf(set: NodeSet): Coverage {
  const out: Coverage = { covers: [], excludes: [], wholeDocument: false, elements: [], has: (n) => set.has(n) };
  const walk = (el: Element, parentIn: boolean) => {
    const inside = set.has(el);
    if (inside && !parentIn) out.elements.push(el);
    if (!inside && parentIn && out.excludes.length < MAX_REPORTED) out.excludes.push(elementPath(el));
    for (let c = el.firstChild; c; c = c.nextSibling) if (c.nodeType === 1) walk(c as Element, inside);
  };
  const root = set.doc.documentElement;
  walk(root, false);
  out.wholeDocument = set.has(root);
  out.covers = out.elements.slice(0, MAX_REPORTED).map(elementPath);
  if (out.elements.length > MAX_REPORTED) out.covers.push(`… ${out.elements.length - MAX_REPORTED} more`);
  return out;
}

export interface ReferenceData {
  octets: Buffer;
  /** undefined for a detached file */
  coverage?: Coverage;
  /** the URI names content outside the document */
  detached: boolean;
}

type Data = { set: NodeSet } | { octets: Buffer };

/** The content of detached references: one for all, or what the application finds for each (`xades/detached.ts`). */
export type DetachedContent = Uint8Array | ((uri: string | null, reference: Element) => Uint8Array | undefined);

/**
 * Dereferences and transforms one reference. `signature` is the ds:Signature the reference belongs to (the
 * enveloped-signature transform removes it); `content` the detached file, when the URI names one. A node-set
 * left at the end is canonicalised with `finalC14n`: Canonical XML 1.0 for the digest (XML-DSig §4.4.3.2), a
 * XAdES time-stamp's own ds:CanonicalizationMethod for the data it time-stamps (EN 319 132-1 §4.5).
 */
export function referenceData(doc: Document, signature: Element, reference: Element, ids: Map<string, Element[]>, detachedContent?: DetachedContent, finalC14n: string = C14N10): ReferenceData {
  const uri = reference.getAttribute('URI');
  const content = typeof detachedContent === 'function' ? detachedContent(uri, reference) : detachedContent;
  let data: Data;
  let detached = false;
  const transforms = dsChildren(reference, 'Transforms').flatMap((t) => dsChildren(t, 'Transform'));
  if (uri === null) {
    if (content) {
      data = { octets: Buffer.from(content) };
      detached = true;
    } else if (transforms.some((t) => t.getAttribute('Algorithm') === ENVELOPED)) {
      // No URI: the application names the data (XML-DSig §4.4.3.1). One that cuts its own signature out with
      // enveloped-signature signs the document around it; xmlsec1 reads an absent URI as URI="" too.
      data = { set: whole(doc, false) };
    } else throw new TrucError('not_found', 'a reference without a URI signs data the application must supply (give the signed file)');
  } else if (uri.trim() === '') data = { set: whole(doc, false) };
  else if (uri.trim().startsWith('#')) {
    const p = dereferenceFragment(doc, uri, ids);
    data = { set: p.kind === 'document' ? whole(doc, true) : p.kind === 'element' ? subtree(p.element, p.comments) : fromSet(doc, p.nodes) };
  } else {
    if (!content) throw new TrucError('not_found', `the detached content "${uri}" is not available`);
    data = { octets: Buffer.from(content) };
    detached = true;
  }
  let lastSet: NodeSet | undefined = 'set' in data ? data.set : undefined;
  if (transforms.length > MAX_TRANSFORMS) throw unsupported(`more than ${MAX_TRANSFORMS} transforms`);
  const asSet = (d: Data): NodeSet => ('set' in d ? d.set : whole(parseXml(d.octets), false));
  for (const t of transforms) {
    const alg = t.getAttribute('Algorithm') ?? '';
    if (alg === ENVELOPED) data = { set: minus(asSet(data), signature) };
    else if (C14N_ALGORITHMS.has(alg)) {
      const prefixes = dsChildren(t, 'InclusiveNamespaces', EXC_NS)[0]?.getAttribute('PrefixList')?.split(/\s+/).filter(Boolean);
      const set = asSet(data);
      lastSet = set;
      data = { octets: canonicalize(set, c14nOptions(alg, prefixes)) };
    } else if (alg === BASE64) {
      let text: string;
      if ('set' in data) {
        const set = data.set;
        lastSet = set;
        const parts: string[] = [];
        const walk = (n: Node) => {
          if ((n.nodeType === 3 || n.nodeType === 4) && set.has(n)) parts.push((n as Text).data);
          for (let c = n.firstChild; c; c = c.nextSibling) walk(c);
        };
        walk(set.doc);
        text = parts.join('');
      } else text = data.octets.toString('latin1');
      data = { octets: Buffer.from(text.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64') };
    } else if (alg === XPATH) data = { set: xpathTransform(asSet(data), t) };
    else if (alg === XPATH_FILTER2) data = { set: filter2Transform(asSet(data), t) };
    else throw unsupported(`transform ${alg || '(none)'} is not supported`);
    if ('set' in data) lastSet = data.set;
  }
  if ('set' in data) {
    lastSet = data.set;
    if (!C14N_ALGORITHMS.has(finalC14n)) throw unsupported(`canonicalization ${finalC14n} is not supported`);
    data = { octets: canonicalize(data.set, c14nOptions(finalC14n)) };
  }
  return { octets: data.octets, detached, ...(lastSet && lastSet.doc === doc && !detached ? { coverage: coverageOf(lastSet) } : {}) };
}
