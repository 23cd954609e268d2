/**
 * DocMDP certification (ISO 32000-1 §12.8.2.2, ISO 32000-2 §12.8.2.2; PAdES EN 319 142-1 §5.4): the
 * document's first signature may certify it, its signature dictionary carrying /Reference [<</Type/SigRef
 * /TransformMethod/DocMDP /TransformParams <</P n /V/1.2>>>>] — inside the signed bytes — and the catalog
 * /Perms /DocMDP pointing at it. P says which later incremental updates are permitted:
 *   1  none (validation data — DSS — and document time-stamps excepted, as ISO 32000-2 and PAdES allow),
 *   2  filling in form fields, and adding signatures,
 *   3  as 2, and creating, changing or deleting annotations.
 * Each later revision is compared with the one before it object by object, and every changed object is
 * put in a class; a class the permissions do not allow is reported as a violation, in a sentence.
 */
import { PdfDocument } from '../pdf/document.js';
import { serialize, type PdfDict, type PdfObject } from '../pdf/objects.js';
import { contentRevisions } from './verify.js';

export type MdpPermission = 1 | 2 | 3;

const nameOf = (o: PdfObject | undefined): string | undefined => (o?.kind === 'name' ? o.value : undefined);

/** P of the DocMDP transform a signature dictionary's /Reference names (2 when the transform has no P), or undefined. */
export function docMdpOf(doc: PdfDocument, sig: PdfDict): MdpPermission | undefined {
  const refs = doc.resolve(sig.get('Reference'));
  if (refs?.kind !== 'array') return undefined;
  for (const r of refs.items) {
    const d = doc.resolve(r);
    if (d?.kind !== 'dict' || nameOf(d.entries.get('TransformMethod')) !== 'DocMDP') continue;
    const params = doc.resolve(d.entries.get('TransformParams'));
    const p = params?.kind === 'dict' ? params.entries.get('P') : undefined;
    const v = p?.kind === 'num' ? p.value : 2;
    return v === 1 || v === 3 ? v : 2;
  }
  return undefined;
}

/** The object number catalog /Perms /DocMDP refers to, in the document as it is. */
export function permsDocMdp(doc: PdfDocument): number | undefined {
  try {
    const perms = doc.catalog.get('Perms');
    if (!perms) return undefined;
    const d = doc.dictOf(perms, 'the /Perms').get('DocMDP');
    return d?.kind === 'ref' ? d.num : undefined;
  } catch {
    return undefined;
  }
}

type Change = 'signature' | 'docTimeStamp' | 'form' | 'fill' | 'annotation' | 'annots' | 'new' | 'dss';

const same = (a: PdfObject | undefined, b: PdfObject | undefined) => (a === undefined || b === undefined ? a === b : serialize(a).equals(serialize(b)));
function changedKeys(before: PdfDict, after: PdfDict): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => !same(before.get(k), after.get(k)));
}
const only = (keys: string[], allowed: string[]) => keys.every((k) => allowed.includes(k));

const ALLOWED: Record<MdpPermission, Set<Change>> = {
  1: new Set(['dss']),
  2: new Set(['dss', 'signature', 'docTimeStamp', 'form', 'fill', 'annots', 'new']),
  3: new Set(['dss', 'signature', 'docTimeStamp', 'form', 'fill', 'annots', 'new', 'annotation']),
};
const DOC_TS: Set<Change> = new Set(['dss', 'docTimeStamp', 'form', 'annots', 'new']);

const DESCRIBE: Record<Change, string> = {
  signature: 'a signature was added',
  docTimeStamp: 'a document time-stamp was added',
  form: 'the form was changed',
  fill: 'a form field was filled in',
  annotation: 'an annotation was added or changed',
  annots: "a page's annotations were changed",
  new: 'objects were added',
  dss: 'validation data was added',
};

/** What one revision changed: classes of change, and changes that are never permitted (described). */
function classify(before: PdfDocument, after: PdfDocument): { changes: Set<Change>; forbidden: string[] } {
  const changes = new Set<Change>();
  const forbidden: string[] = [];
  const root = after.rootRef.num;
  const acroRef = after.catalog.get('AcroForm');
  for (const [n, e] of after.xref.entries) {
    const old = before.xref.entries.get(n);
    if (old && JSON.stringify(old) === JSON.stringify(e)) continue;
    if ((e as { type?: string }).type === 'free') continue;
    let v: PdfObject;
    try {
      v = after.get(n);
    } catch {
      continue;
    }
    const isNew = !old || (old as { type?: string }).type === 'free';
    let prev: PdfObject | undefined;
    if (!isNew)
      try {
        prev = before.get(n);
      } catch {
        prev = undefined;
      }
    if (prev && same(prev, v)) continue;
    if (v.kind === 'stream') {
      if (nameOf(v.dict.get('Type')) === 'XRef') continue;
      if (isNew) changes.add('new');
      else forbidden.push(`object ${n} (a stream: page content, image or the like) was changed`);
      continue;
    }
    if (v.kind !== 'dict') {
      // an array listing annotations or fields: only additions
      if (isNew) changes.add('new');
      else if (v.kind === 'array' && prev?.kind === 'array' && prev.items.every((i) => v.kind === 'array' && v.items.some((j) => same(i, j)))) changes.add('annots');
      else forbidden.push(`object ${n} was changed`);
      continue;
    }
    const d = v.entries;
    const pd = prev?.kind === 'dict' ? prev.entries : undefined;
    const type = nameOf(d.get('Type'));
    if (n === root) {
      const keys = changedKeys(before.catalog, d).filter((k) => k !== 'DSS');
      for (const k of keys) {
        if (k === 'AcroForm' && acroRef?.kind === 'dict') {
          const b = before.resolve(before.catalog.get('AcroForm'));
          const ak = changedKeys(b?.kind === 'dict' ? b.entries : new Map(), acroRef.entries);
          if (only(ak, ['Fields', 'SigFlags', 'DR', 'NeedAppearances'])) changes.add('form');
          else forbidden.push(`the form's /${ak.join(', /')} changed`);
        } else if (k === 'AcroForm' && !before.catalog.get('AcroForm')) changes.add('form');
        else forbidden.push(`the catalog's /${k} changed`);
      }
      continue;
    }
    if (type === 'Sig' || type === 'DocTimeStamp') {
      if (isNew) changes.add(type === 'Sig' ? 'signature' : 'docTimeStamp');
      else forbidden.push(`the signature dictionary ${n} was changed`);
      continue;
    }
    if (type === 'DSS' || type === 'VRI') {
      changes.add('dss');
      continue;
    }
    const isField = d.has('FT') || d.has('T') || nameOf(d.get('Subtype')) === 'Widget';
    const ft = nameOf(d.get('FT'));
    if (type === 'Annot' || d.has('Subtype') || isField) {
      const widget = nameOf(d.get('Subtype')) === 'Widget' || isField;
      if (widget && ft === 'Sig') {
        if (isNew) changes.add('new');
        else if (pd && only(changedKeys(pd, d), ['V', 'AP', 'F'])) changes.add('signature');
        else forbidden.push(`the signature field ${n} was changed`);
      } else if (widget && !isNew && pd && only(changedKeys(pd, d), ['V', 'AS', 'AP', 'MK'])) changes.add('fill');
      else changes.add('annotation');
      continue;
    }
    if (pd && type === 'Page') {
      if (only(changedKeys(pd, d), ['Annots'])) changes.add('annots');
      else forbidden.push(`page object ${n}: /${changedKeys(pd, d).filter((k) => k !== 'Annots').join(', /')} changed`);
      continue;
    }
    if (pd && acroRef?.kind === 'ref' && acroRef.num === n) {
      const ak = changedKeys(pd, d);
      if (only(ak, ['Fields', 'SigFlags', 'DR', 'NeedAppearances'])) changes.add('form');
      else forbidden.push(`the form's /${ak.join(', /')} changed`);
      continue;
    }
    if (isNew) changes.add('new');
    else forbidden.push(`object ${n} was changed`);
  }
  return { changes, forbidden };
}

/** Classifications of revisions by `start-end`: each revision is read once however many signatures ask about it. */
export type RevisionCache = Map<string, { changes: Set<Change>; forbidden: string[] }>;

function classifyRevision(bytes: Buffer, start: number, end: number, cache?: RevisionCache): { changes: Set<Change>; forbidden: string[] } {
  const key = `${start}-${end}`;
  const hit = cache?.get(key);
  if (hit) return hit;
  const c = classify(new PdfDocument(bytes.subarray(0, start)), new PdfDocument(bytes.subarray(0, end)));
  cache?.set(key, c);
  return c;
}

/**
 * Violations of the certification by the revisions after `coverEnd` (the certified revision's end).
 * `ends` are the revision ends of the file; `docTimeStampEnds` those of document time-stamps.
 */
export function mdpViolations(bytes: Buffer, coverEnd: number, p: MdpPermission, ends: number[], docTimeStampEnds: Set<number>, cache?: RevisionCache): string[] {
  const out: string[] = [];
  for (const { start, end } of contentRevisions(bytes, coverEnd, ends)) {
    try {
      const { changes, forbidden } = classifyRevision(bytes, start, end, cache);
      out.push(...forbidden);
      const allowed = docTimeStampEnds.has(end) && !changes.has('signature') ? new Set([...ALLOWED[p], ...DOC_TS]) : ALLOWED[p];
      for (const c of changes) if (!allowed.has(c)) out.push(DESCRIBE[c]);
    } catch (e) {
      out.push(`a later revision cannot be read: ${(e as Error).message}`);
    }
  }
  return [...new Set(out)];
}

/**
 * What changed after a signature besides what a signed document is expected to receive: validation data
 * (DSS), document time-stamps, further signatures and form fills — the changes DocMDP P=2 permits. Anything
 * else (a page's content stream rewritten, pages added or removed, annotations, the catalog changed), in a
 * later revision of its own or slipped into a later signature's revision, is listed, in a sentence.
 */
export function changesAfter(bytes: Buffer, coverEnd: number, ends: number[], docTimeStampEnds: Set<number>, cache?: RevisionCache): string[] {
  return mdpViolations(bytes, coverEnd, 2, ends, docTimeStampEnds, cache);
}
