/**
 * FieldMDP locks (ISO 32000-1 §12.8.2.4 and §12.7.4.5, ISO 32000-2 §12.8.2.4): a signature may lock form
 * fields so that later incremental updates cannot change them. The signature dictionary carries, inside the
 * signed bytes, /Reference [<</Type/SigRef /TransformMethod/FieldMDP /TransformParams <</Type
 * /TransformParams /Action /All|/Include|/Exclude /Fields [(name) …] /V/1.2>>>>]; the signature field
 * carries the same lock as /Lock <</Type/SigFieldLock …>> for interactive viewers.
 *   All      every field is locked;
 *   Include  the fields named in /Fields (fully qualified names) are locked;
 *   Exclude  every field but those named is locked.
 * In validation each later revision is compared with the one before it field by field — the field's
 * dictionary, the value or signature its /V refers to, its widgets — and a locked field that changed or
 * disappeared is a violation; filling in a field the lock leaves free is not.
 */
import { createHash } from 'node:crypto';
import { TrucError } from '../../errors.js';
import { PdfDocument } from '../pdf/document.js';
import { array, decodeTextString, dict, name, serialize, textString, type PdfDict, type PdfObject } from '../pdf/objects.js';
import { contentRevisions } from './verify.js';

export type LockAction = 'All' | 'Include' | 'Exclude';

export interface FieldLock {
  action: LockAction;
  /** fully qualified field names (Include: the locked ones; Exclude: the free ones) */
  fields?: string[];
}

const MAX_LOCKED_NAMES = 1000;
const MAX_WIDGETS = 50;
const nameOf = (o: PdfObject | undefined): string | undefined => (o?.kind === 'name' ? o.value : undefined);

/** Checks a lock asked for at signing: the action, and for Include/Exclude field names the document has. */
export function checkLock(lock: FieldLock, existing: string[]): void {
  if (!['All', 'Include', 'Exclude'].includes(lock.action)) throw new TrucError('bad_request', 'a field lock action is All, Include or Exclude');
  if (lock.action === 'All') return;
  if (!lock.fields?.length) throw new TrucError('bad_request', `a field lock with action ${lock.action} names at least one field`);
  if (lock.fields.length > MAX_LOCKED_NAMES) throw new TrucError('too_large', `a field lock names at most ${MAX_LOCKED_NAMES} fields`);
  const unknown = lock.fields.filter((f) => !existing.includes(f));
  if (unknown.length) throw new TrucError('bad_request', `the PDF has no field named ${unknown.map((f) => `"${f}"`).join(', ')}`, { unknown });
}

/** A lock written as text (`All`, `Include:a,b`, `Exclude:c`), as the command line and the HTTP query give it. */
export function parseLock(spec: string): FieldLock {
  const m = /^(All|Include|Exclude)(?::(.*))?$/.exec(spec.trim());
  if (!m) throw new TrucError('bad_request', 'a field lock is All, Include:field,… or Exclude:field,…');
  const fields = (m[2] ?? '').split(',').map((f) => f.trim()).filter(Boolean);
  return { action: m[1] as LockAction, ...(fields.length ? { fields } : {}) };
}

const lockEntries = (lock: FieldLock): Record<string, PdfObject> => ({
  Action: name(lock.action),
  ...(lock.action !== 'All' ? { Fields: array((lock.fields ?? []).map(textString)) } : {}),
});

/** The /Reference entry of the signature dictionary for a lock. */
export function fieldMdpReference(lock: FieldLock): PdfObject {
  return dict({ Type: name('SigRef'), TransformMethod: name('FieldMDP'), TransformParams: dict({ Type: name('TransformParams'), ...lockEntries(lock), V: name('1.2') }) });
}

/** The signature field's /Lock dictionary. */
export function sigFieldLock(lock: FieldLock): PdfObject {
  return dict({ Type: name('SigFieldLock'), ...lockEntries(lock) });
}

/** The FieldMDP lock a signature dictionary's /Reference names, if any. */
export function fieldMdpOf(doc: PdfDocument, sig: PdfDict): FieldLock | undefined {
  const refs = doc.resolve(sig.get('Reference'));
  if (refs?.kind !== 'array') return undefined;
  for (const r of refs.items.slice(0, 16)) {
    const d = doc.resolve(r);
    if (d?.kind !== 'dict' || nameOf(d.entries.get('TransformMethod')) !== 'FieldMDP') continue;
    const params = doc.resolve(d.entries.get('TransformParams'));
    const p = params?.kind === 'dict' ? params.entries : new Map<string, PdfObject>();
    const action = nameOf(p.get('Action'));
    const list = doc.resolve(p.get('Fields'));
    const fields = list?.kind === 'array' ? list.items.slice(0, MAX_LOCKED_NAMES).flatMap((f) => (f.kind === 'str' ? [decodeTextString(f.bytes)] : [])) : [];
    // an unknown action locks everything: the reading that protects the signer
    return { action: action === 'Include' || action === 'Exclude' ? action : 'All', fields };
  }
  return undefined;
}

export function isLocked(lock: FieldLock, field: string): boolean {
  if (lock.action === 'All') return true;
  const named = (lock.fields ?? []).some((f) => f === field || field.startsWith(`${f}.`)); // a named parent locks its kids
  return lock.action === 'Include' ? named : !named;
}

/** Per field name, a digest of everything that makes up the field: its dictionary, its value, its widgets. */
function fingerprints(doc: PdfDocument): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of doc.fields()) {
    const h = createHash('sha256').update(serialize({ kind: 'dict', entries: f.dict }));
    const v = f.dict.get('V');
    if (v?.kind === 'ref') h.update(serialize(doc.get(v.num)));
    const kids = doc.resolve(f.dict.get('Kids'));
    if (kids?.kind === 'array') for (const k of kids.items.slice(0, MAX_WIDGETS)) h.update(serialize(doc.resolve(k) ?? { kind: 'null' }));
    out.set(decodeTextString(Buffer.from(f.name, 'latin1')), h.digest('hex'));
  }
  return out;
}

/** Locked fields changed or removed by the revisions after `coverEnd` (`ends`: where each revision of the file ends). */
export function lockViolations(bytes: Buffer, coverEnd: number, lock: FieldLock, ends: number[]): string[] {
  const out: string[] = [];
  let before: Map<string, string> | undefined;
  for (const { start, end } of contentRevisions(bytes, coverEnd, ends)) {
    try {
      before ??= fingerprints(new PdfDocument(bytes.subarray(0, start)));
      const after = fingerprints(new PdfDocument(bytes.subarray(0, end)));
      for (const [field, print] of before) {
        if (!isLocked(lock, field)) continue;
        const now = after.get(field);
        if (now === undefined) out.push(`the locked field "${field}" was removed`);
        else if (now !== print) out.push(`the locked field "${field}" was changed`);
      }
      before = after;
    } catch (e) {
      out.push(`a later revision cannot be read: ${(e as Error).message}`);
      before = undefined;
    }
  }
  return [...new Set(out)];
}
