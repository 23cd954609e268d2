/**
 * Canonical XML 1.1's xml:base fix-up (§2.4). When an element is rendered but ancestors of it are omitted, the
 * xml:base values of those omitted ancestors would be lost and the element's relative references would resolve
 * elsewhere; so the element's own xml:base (or none) is joined with theirs, innermost first, up to the nearest
 * ancestor that is rendered, and the result written as its xml:base (no attribute when it comes out empty).
 * join-URI-References is RFC 3986 §5.2.2 reference resolution with the specification's changes: the base may
 * itself be relative, a base whose last segment is "." or ".." counts as a directory (so that joining ".." and
 * "x" goes up, "../x"), and leading ".." segments of a relative path are kept instead of dropped.
 */

const XML_NS = 'http://www.w3.org/XML/1998/namespace';

interface Uri {
  scheme?: string;
  authority?: string;
  path: string;
  query?: string;
  fragment?: string;
}

/** RFC 3986 appendix B: any string splits into the five components. */
function split(u: string): Uri {
  const m = /^(?:([^:/?#]+):)?(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/s.exec(u)!;
  return {
    ...(m[1] !== undefined ? { scheme: m[1] } : {}),
    ...(m[2] !== undefined ? { authority: m[2] } : {}),
    path: m[3] ?? '',
    ...(m[4] !== undefined ? { query: m[4] } : {}),
    ...(m[5] !== undefined ? { fragment: m[5] } : {}),
  };
}

const join5 = (u: Uri): string =>
  `${u.scheme !== undefined ? `${u.scheme}:` : ''}${u.authority !== undefined ? `//${u.authority}` : ''}${u.path}${u.query !== undefined ? `?${u.query}` : ''}${u.fragment !== undefined ? `#${u.fragment}` : ''}`;

/** RFC 3986 §5.2.4, except that a relative path keeps the ".." segments it cannot climb over. */
export function removeDotSegments(path: string): string {
  const absolute = path.startsWith('/');
  const segments = (absolute ? path.slice(1) : path).split('/');
  const out: string[] = [];
  let directory = false;
  for (const [i, s] of segments.entries()) {
    const last = i === segments.length - 1;
    directory = false;
    if (s === '.') directory = last;
    else if (s === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
      directory = last;
    } else out.push(s);
  }
  const body = out.join('/');
  return `${absolute ? '/' : ''}${body}${directory && body && !body.endsWith('/') ? '/' : ''}`;
}

/** RFC 3986 §5.2.3 merge, a last segment "." or ".." of the base taken as a directory. */
function merge(base: Uri, ref: string): string {
  if (base.authority !== undefined && base.path === '') return `/${ref}`;
  const path = /(^|\/)\.\.?$/.test(base.path) ? `${base.path}/` : base.path;
  const slash = path.lastIndexOf('/');
  return slash < 0 ? ref : `${path.slice(0, slash + 1)}${ref}`;
}

/** join-URI-References(base, ref): `ref` resolved against `base`, either of them possibly relative. */
export function joinUriReferences(baseText: string, refText: string): string {
  const base = split(baseText);
  const ref = split(refText);
  if (ref.scheme !== undefined) return join5({ ...ref, path: removeDotSegments(ref.path) });
  const t: Uri = {
    path: '',
    ...(base.scheme !== undefined ? { scheme: base.scheme } : {}),
    ...(ref.fragment !== undefined ? { fragment: ref.fragment } : {}),
  };
  if (ref.authority !== undefined)
    return join5({
      ...t,
      authority: ref.authority,
      path: removeDotSegments(ref.path),
      ...(ref.query !== undefined ? { query: ref.query } : {}),
    });
  if (base.authority !== undefined) t.authority = base.authority;
  if (ref.path === '') {
    t.path = base.path;
    const q = ref.query ?? base.query;
    if (q !== undefined) t.query = q;
  } else {
    t.path = removeDotSegments(ref.path.startsWith('/') ? ref.path : merge(base, ref.path));
    if (ref.query !== undefined) t.query = ref.query;
  }
  return join5(t);
}

const parentElement = (n: Node): Element | null =>
  n.parentNode && n.parentNode.nodeType === 1 ? (n.parentNode as Element) : null;
const xmlBase = (el: Element): string | undefined =>
  el.hasAttributeNS(XML_NS, 'base') ? (el.getAttributeNS(XML_NS, 'base') ?? undefined) : undefined;

/**
 * The xml:base an element rendered under omitted ancestors carries: `own` (its xml:base in the set, if any)
 * joined with the xml:base of each omitted ancestor up to the nearest one in the set. Undefined: none.
 */
export function fixedUpBase(
  el: Element,
  has: (n: Node) => boolean,
  own: string | undefined,
): string | undefined {
  let value = own;
  for (let p = parentElement(el); p && !has(p); p = parentElement(p)) {
    const b = xmlBase(p);
    if (b === undefined) continue;
    value = value === undefined ? b : joinUriReferences(b, value);
  }
  return value ? value : undefined;
}
