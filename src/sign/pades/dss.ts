/**
 * The Document Security Store (EN 319 142-1 §5.4, ISO 32000-2 §12.8.4.3): /DSS in the catalog with
 * /Certs, /CRLs and /OCSPs — arrays of streams holding DER certificates, CRLs and whole OCSPResponses —
 * appended by incremental update after the signatures it serves (PAdES B-LT), merged with a DSS already
 * there (each item once). Reading it back gives validation its offline evidence.
 */
import { createHash } from 'node:crypto';
import { PdfDocument } from '../pdf/document.js';
import { array, dict, name, ref, serialize, type PdfDict, type PdfObject } from '../pdf/objects.js';
import { decodeStream } from '../pdf/stream.js';
import { appendUpdate, objectNumbers, type UpdateObject } from '../pdf/update.js';
import type { Collected } from '../evidence/collect.js';

const KEYS = { certs: 'Certs', crls: 'CRLs', ocsps: 'OCSPs' } as const;
const MAX_DSS_ITEMS = 500;

export interface DssContents {
  certs: Buffer[];
  crls: Buffer[];
  ocsps: Buffer[];
  /** object number of the DSS dictionary, when it is an indirect object */
  num?: number;
}

export function readDss(doc: PdfDocument): DssContents | undefined {
  const d = doc.catalog.get('DSS');
  if (!d) return undefined;
  const dss = doc.dictOf(d, 'the DSS');
  const out: DssContents = { certs: [], crls: [], ocsps: [], ...(d.kind === 'ref' ? { num: d.num } : {}) };
  for (const [k, key] of Object.entries(KEYS) as [keyof typeof KEYS, string][]) {
    const arr = doc.resolve(dss.get(key));
    if (arr?.kind !== 'array') continue;
    for (const item of arr.items.slice(0, MAX_DSS_ITEMS)) {
      const s = doc.resolve(item);
      if (s?.kind === 'stream') out[k].push(decodeStream(s.dict, s.data));
    }
  }
  return out;
}

export function appendDss(pdf: Uint8Array, add: Omit<Collected, 'certs'> & { certs: Buffer[] }): Buffer {
  const doc = new PdfDocument(Buffer.from(pdf.buffer, pdf.byteOffset, pdf.byteLength));
  const next = objectNumbers(doc);
  const changed: UpdateObject[] = [];
  const existing = doc.catalog.get('DSS');
  const dss: PdfDict = existing ? new Map(doc.dictOf(existing, 'the DSS')) : new Map();
  const have = readDss(doc) ?? { certs: [], crls: [], ocsps: [] };
  const h = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  for (const [k, key] of Object.entries(KEYS) as [keyof typeof KEYS, string][]) {
    const seen = new Set(have[k].map(h));
    const fresh = add[k].filter((b) => !seen.has(h(b)) && seen.add(h(b)));
    if (!fresh.length) continue;
    const old = doc.resolve(dss.get(key));
    const items: PdfObject[] = old?.kind === 'array' ? [...old.items] : [];
    for (const b of fresh) {
      const n = next();
      changed.push({ num: n, gen: 0, body: serialize({ kind: 'stream', dict: new Map(), data: b }) });
      items.push(ref(n));
    }
    dss.set(key, array(items));
  }
  if (!changed.length) return Buffer.from(pdf);
  if (!dss.has('Type')) dss.set('Type', name('DSS'));
  const catalog = new Map(doc.catalog);
  if (existing?.kind === 'ref') changed.push({ num: existing.num, gen: existing.gen, body: serialize(dict(dss)) });
  else {
    const n = next();
    changed.push({ num: n, gen: 0, body: serialize(dict(dss)) });
    catalog.set('DSS', ref(n));
    const root = doc.rootRef;
    changed.push({ num: root.num, gen: root.gen, body: serialize(dict(catalog)) });
  }
  return appendUpdate(doc, changed).bytes;
}

/** Where the DSS dictionary's current version sits in the file (undefined when there is none). */
export function dssOffset(doc: PdfDocument): number | undefined {
  const d = readDss(doc);
  if (d?.num === undefined) return undefined;
  const e = doc.xref.entries.get(d.num);
  return e?.type === 'offset' ? e.offset : undefined;
}
