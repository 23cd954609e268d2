/**
 * Same-document references by fragment (XML-DSig 1.1 §4.4.3.3 and the XPointer framework): a bare name
 * ("#id") is the element with that Id, without comments; a scheme-based pointer is a sequence of parts —
 * xmlns(p=uri) binds a prefix for the parts after it, xpointer(…) selects nodes — tried in order until one
 * selects something, as the framework says. xpointer(/) is the whole document and xpointer(id('…')) (either
 * quote, any spacing) the element with that Id, both with comments; any other xpointer() expression is
 * evaluated as XPath from the document, each selected element standing for its subtree. Producers write the
 * attribute loosely — surrounding spaces, percent-escaped names — so both are tried. A scheme we do not
 * implement (element(), or one of a producer's own) or an expression we cannot evaluate is `unsupported` with
 * the pointer named: the signature is then indeterminate, never broken nor malformed. An Id borne by two
 * elements is ambiguous (either could be the signed one) and stays a format failure.
 */
import xpath from 'xpath';
import { TrucError } from '../../../errors.js';

export type Pointed =
  | { kind: 'document' }
  /** an element's subtree; `comments`: xpointer() forms keep the comments a bare name drops */
  | { kind: 'element'; element: Element; comments: boolean }
  /** what an XPath selected, each element with its subtree */
  | { kind: 'nodes'; nodes: Set<Node> };

/** a pointer is a URI fragment: longer ones are not what producers write */
const MAX_POINTER = 4096;
const MAX_PARTS = 16;
const MAX_SELECTED = 100_000;

const unsupported = (m: string) => new TrucError('unsupported', m);
const shown = (s: string) => (s.length > 120 ? `${s.slice(0, 120)}…` : s);

/** The element an Id names, the name as written and, failing that, percent-decoded. */
function byId(ids: Map<string, Element[]>, name: string, uri: string): Element {
  let found = ids.get(name) ?? [];
  if (!found.length && name.includes('%')) {
    try {
      found = ids.get(decodeURIComponent(name)) ?? [];
    } catch {
      // a stray "%" is part of the name, not an escape
    }
  }
  if (!found.length)
    throw new TrucError('not_found', `the reference "${shown(uri)}" names no element of the document`);
  if (found.length > 1)
    throw new TrucError(
      'malformed_xml',
      `the reference "${shown(uri)}" names ${found.length} elements (ambiguous: either could be the signed one)`,
    );
  return found[0];
}

/** The parts of a scheme-based pointer: scheme(data), data with ^-escaped parentheses and carets, balanced. */
function parts(pointer: string): { scheme: string; data: string }[] | undefined {
  const out: { scheme: string; data: string }[] = [];
  let i = 0;
  while (i < pointer.length) {
    while (/\s/.test(pointer[i] ?? '')) i++;
    if (i >= pointer.length) break;
    const m = /^([A-Za-z_][\w.:-]*)\(/.exec(pointer.slice(i));
    if (!m) return undefined;
    i += m[0].length;
    let depth = 1;
    let data = '';
    for (; i < pointer.length; i++) {
      const c = pointer[i];
      if (c === '^') {
        const next = pointer[i + 1];
        if (next !== '(' && next !== ')' && next !== '^') return undefined;
        data += next;
        i++;
      } else if (c === '(') {
        depth++;
        data += c;
      } else if (c === ')') {
        if (--depth === 0) break;
        data += c;
      } else data += c;
    }
    if (depth !== 0) return undefined;
    i++;
    out.push({ scheme: m[1], data });
    if (out.length > MAX_PARTS) return undefined;
  }
  return out.length ? out : undefined;
}

/** Each selected node with its subtree (an element's attributes included), bounded. */
function expand(selected: Node[]): Set<Node> {
  const out = new Set<Node>();
  const stack = [...selected].reverse();
  while (stack.length) {
    const n = stack.pop()!;
    if (out.has(n)) continue;
    if (out.size >= MAX_SELECTED) throw unsupported(`an XPointer selecting more than ${MAX_SELECTED} nodes`);
    out.add(n);
    if (n.nodeType === 1)
      for (const a of Array.from((n as Element).attributes as unknown as ArrayLike<Attr>)) out.add(a);
    for (let c = n.lastChild; c; c = c.previousSibling) stack.push(c);
  }
  return out;
}

function evaluate(
  doc: Document,
  expression: string,
  namespaces: Record<string, string>,
  uri: string,
): Node[] {
  let value: { nodeset(): { toArray(): Node[] } } | undefined;
  try {
    value = (
      xpath as unknown as { parse(e: string): { evaluate(o: object): { nodeset(): { toArray(): Node[] } } } }
    )
      .parse(expression)
      .evaluate({ node: doc, namespaces, functions: {} });
    return value.nodeset().toArray();
  } catch (e) {
    throw unsupported(`the XPointer "${shown(uri)}" cannot be evaluated: ${(e as Error).message}`);
  }
}

/** What the fragment of a same-document reference ("#…", the "#" included) points at. */
export function dereferenceFragment(doc: Document, uri: string, ids: Map<string, Element[]>): Pointed {
  const fragment = uri.trim().slice(1).trim();
  if (fragment.length > MAX_POINTER) throw unsupported(`a reference of more than ${MAX_POINTER} characters`);
  // a bare name: an NCName (XML names allow far more than ASCII), no parenthesis
  if (!fragment.includes('(')) return { kind: 'element', element: byId(ids, fragment, uri), comments: false };
  const list = parts(fragment);
  if (!list) throw unsupported(`the XPointer "${shown(uri)}" cannot be read`);
  const namespaces: Record<string, string> = {};
  const skipped: string[] = [];
  for (const [i, { scheme, data }] of list.entries()) {
    const more = i < list.length - 1;
    if (scheme === 'xmlns') {
      const m = /^\s*([A-Za-z_][\w.-]*)\s*=\s*(.*?)\s*$/s.exec(data);
      if (m) namespaces[m[1]] = m[2];
      continue;
    }
    if (scheme !== 'xpointer') {
      skipped.push(`${scheme}()`);
      continue;
    }
    const expr = data.trim();
    if (expr === '/') return { kind: 'document' };
    const id = /^id\s*\(\s*(?:'([^']*)'|"([^"]*)")\s*\)$/.exec(expr);
    if (id) {
      const name = id[1] ?? id[2];
      // a later part is the fallback for a name this document does not bear
      if (more && !(ids.get(name) ?? []).length) continue;
      return { kind: 'element', element: byId(ids, name, uri), comments: true };
    }
    const selected = evaluate(doc, expr, namespaces, uri);
    if (!selected.length) continue;
    if (selected.some((n) => n.nodeType === 9)) return { kind: 'document' };
    return { kind: 'nodes', nodes: expand(selected) };
  }
  if (skipped.length)
    throw unsupported(
      `XPointer ${skipped.join(', ')} is not supported (xpointer() and xmlns() are): "${shown(uri)}"`,
    );
  throw new TrucError('not_found', `the reference "${shown(uri)}" selects nothing in the document`);
}
