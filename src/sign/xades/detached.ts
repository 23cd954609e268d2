/**
 * The content of detached references (XML-DSig's URI naming a file outside the document, or no URI at all): which
 * of the documents the caller gives each reference signs. One document for a signature with one detached reference
 * is that reference's, whatever its name (the single-file case, as before). Otherwise each reference is matched
 * first by its URI — the document's name, percent-escapes decoded, `file:` and `./` set aside, then by the last path
 * segment on both sides — and, when no name fits, by its digest: the document whose bytes have the reference's
 * DigestValue under its DigestMethod (references without transforms only: a transformed one would need the whole
 * processing per candidate). A reference nothing matches has no data: its integrity stays unknown
 * (SIGNED_DATA_NOT_FOUND); a document named by URI with another digest is the reference's all the same, and
 * fails it (HASH_FAILURE) — it is the file the signature names. Which reference took which document is recorded.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { DS_NS } from './c14n.js';
import type { DetachedContent } from './dsig/reference.js';
import { DIGEST_METHODS } from './dsig/verify.js';

export interface DetachedDocument {
  /** the file's name (what a reference's URI names) */
  name: string;
  content: Uint8Array;
}

/** What a detached signature is validated with: one content, or several named documents. */
export type DetachedInput = Uint8Array | readonly DetachedDocument[];

export interface DetachedMatch {
  file: string;
  /** `uri`: the reference's URI names the file; `digest`: its digest is the file's; `only`: the one content given for the one detached reference */
  by: 'uri' | 'digest' | 'only';
}

const MAX_DOCUMENTS = 64;
const kids = (el: Element, local: string): Element[] =>
  Array.from(el.childNodes as unknown as ArrayLike<Node>).filter((n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === DS_NS && (n as Element).localName === local);

/** A URI or a file name brought to a comparable form: the full path, and its last segment. */
function nameForms(s: string): [string, string] {
  let t = s.trim();
  try {
    t = decodeURIComponent(t);
  } catch {
    // a stray % stays as it is
  }
  t = t.replace(/^file:(\/\/[^/]*)?/i, '').replace(/\\/g, '/').replace(/^(\.\/)+/, '');
  return [t, t.slice(t.lastIndexOf('/') + 1)];
}

/** A reference is detached when its URI is absent or names something outside the document. */
export const isDetachedUri = (uri: string | null) => uri === null || (uri.trim() !== '' && !uri.trim().startsWith('#'));

export interface DetachedResolution {
  /** the content of a reference, for the XML-DSig core and the archive time-stamp */
  content: DetachedContent | undefined;
  /** which document each reference took */
  matches: Map<Element, DetachedMatch>;
  /** the names of the documents no reference took */
  unused(): string[];
}

/** `references`: the ds:Reference elements of one signature's SignedInfo. */
export function resolveDetached(input: DetachedInput | undefined, references: readonly Element[]): DetachedResolution {
  const matches = new Map<Element, DetachedMatch>();
  const detached = references.filter((r) => isDetachedUri(r.getAttribute('URI')));
  const docs: DetachedDocument[] = !input ? [] : input instanceof Uint8Array ? [{ name: '(content)', content: input }] : input.slice(0, MAX_DOCUMENTS);
  const single = docs.length === 1 && detached.length === 1;
  const byDigest = (ref: Element): DetachedDocument | undefined => {
    if (kids(ref, 'Transforms').length) return undefined;
    const hash = DIGEST_METHODS[kids(ref, 'DigestMethod')[0]?.getAttribute('Algorithm') ?? ''];
    const want = Buffer.from((kids(ref, 'DigestValue')[0]?.textContent ?? '').replace(/\s+/g, ''), 'base64');
    if (!hash || !want.length) return undefined;
    return docs.find((d) => {
      const have = createHash(hash).update(d.content).digest();
      return have.length === want.length && timingSafeEqual(have, want);
    });
  };
  for (const ref of detached) {
    if (single) {
      matches.set(ref, { file: docs[0].name, by: 'only' });
      continue;
    }
    const uri = ref.getAttribute('URI');
    if (uri !== null) {
      const [full, last] = nameForms(uri);
      const named = docs.filter((d) => nameForms(d.name)[0] === full);
      const byLast = named.length ? named : docs.filter((d) => nameForms(d.name)[1] === last);
      if (byLast.length === 1) {
        matches.set(ref, { file: byLast[0].name, by: 'uri' });
        continue;
      }
    }
    const d = byDigest(ref);
    if (d) matches.set(ref, { file: d.name, by: 'digest' });
  }
  const bytesOf = new Map(docs.map((d) => [d.name, d.content]));
  return {
    content: docs.length ? (_uri, ref) => {
      const m = matches.get(ref);
      if (m) return bytesOf.get(m.file);
      // a reference of a signed ds:Manifest, outside SignedInfo: the one content given, as before
      return docs.length === 1 && !references.includes(ref) ? docs[0].content : undefined;
    } : undefined,
    matches,
    unused: () => docs.map((d) => d.name).filter((n) => ![...matches.values()].some((m) => m.file === n)),
  };
}
