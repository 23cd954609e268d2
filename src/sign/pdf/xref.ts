/**
 * The cross-reference of a PDF (§7.5.4–7.5.8): from `startxref` at the end of the file, each section —
 * a classic `xref` table with its `trailer`, or a cross-reference stream (/Type /XRef, /W, /Index) — then
 * the previous ones through /Prev, and the /XRefStm of hybrid files. Newer sections win. Loops, too many
 * sections and entries beyond /Size limits are errors, never hangs.
 */
import { TrucError } from '../../errors.js';
import type { PdfDict, PdfObject } from './objects.js';
import { bad, isWhite, Lexer, parseIndirect, parseValue } from './parse.js';
import { decodeStream } from './stream.js';
import { MAX_OBJECTS, MAX_XREF_SECTIONS, STARTXREF_WINDOW } from './limits.js';

export type XrefEntry =
  | { type: 'free' }
  | { type: 'offset'; offset: number; gen: number }
  | { type: 'compressed'; stream: number; index: number };

export interface XrefSection {
  offset: number;
  kind: 'table' | 'stream';
  trailer: PdfDict;
}

export interface Xref {
  entries: Map<number, XrefEntry>;
  /** the newest trailer (for a stream, the stream's dictionary) */
  trailer: PdfDict;
  /** newest first */
  sections: XrefSection[];
  /** the offset `startxref` names */
  startxref: number;
  /** what was read leniently (as qpdf and poppler read it) */
  repairs: string[];
}

const intOf = (o: PdfObject | undefined): number | undefined => (o?.kind === 'num' && Number.isInteger(o.value) ? o.value : undefined);

export function findStartxref(buf: Buffer): number {
  const from = Math.max(0, buf.length - STARTXREF_WINDOW);
  const at = buf.lastIndexOf('startxref', buf.length, 'latin1');
  if (at < from) throw bad('no startxref near the end of the file');
  const lx = new Lexer(buf, at + 9);
  const t = lx.next();
  if (t.t !== 'num' || !t.int || t.value < 0 || t.value >= buf.length) throw bad('startxref does not give an offset inside the file', at);
  return t.value;
}

function readTable(buf: Buffer, offset: number, into: Map<number, XrefEntry>): PdfDict {
  const lx = new Lexer(buf, offset);
  const kw = lx.next();
  if (kw.t !== 'kw' || kw.value !== 'xref') throw bad('expected "xref"', offset);
  let count = 0;
  while (true) {
    const save = lx.pos;
    const a = lx.next();
    if (a.t === 'kw' && a.value === 'trailer') break;
    const b = lx.next();
    if (a.t !== 'num' || !a.int || b.t !== 'num' || !b.int || a.value < 0 || b.value < 0) throw bad('bad cross-reference subsection header', save);
    if (a.value + b.value > MAX_OBJECTS) throw bad('cross-reference names too many objects', save);
    for (let i = 0; i < b.value; i++) {
      const at = lx.pos;
      const off = lx.next();
      const gen = lx.next();
      const t = lx.next();
      if (off.t !== 'num' || !off.int || gen.t !== 'num' || !gen.int || t.t !== 'kw' || (t.value !== 'n' && t.value !== 'f'))
        throw bad('bad cross-reference entry', at);
      if (++count > MAX_OBJECTS) throw bad('cross-reference too long', at);
      const n = a.value + i;
      if (into.has(n)) continue;
      into.set(n, t.value === 'f' ? { type: 'free' } : { type: 'offset', offset: off.value, gen: gen.value });
    }
  }
  const trailer = parseValue(lx);
  if (trailer.kind !== 'dict') throw bad('trailer is not a dictionary', offset);
  return trailer.entries;
}

function readStreamSection(buf: Buffer, offset: number, into: Map<number, XrefEntry>, repairs: string[]): PdfDict {
  const obj = parseIndirect(buf, offset, () => undefined);
  if (obj.value.kind !== 'stream') throw bad('the cross-reference offset names neither a table nor a stream', offset);
  const dict = obj.value.dict;
  const type = dict.get('Type');
  if (type?.kind !== 'name' || type.value !== 'XRef') throw bad('cross-reference stream without /Type /XRef', offset);
  const size = intOf(dict.get('Size'));
  if (size === undefined || size < 0 || size > MAX_OBJECTS) throw bad('cross-reference stream /Size missing or too large', offset);
  const w = dict.get('W');
  const widths = w?.kind === 'array' ? w.items.map(intOf) : [];
  if (widths.length !== 3 || widths.some((x) => x === undefined || x < 0 || x > 8)) throw bad('bad /W', offset);
  const [w0, w1, w2] = widths as number[];
  const idx = dict.get('Index');
  const index = idx?.kind === 'array' ? idx.items.map(intOf) : [0, size];
  if (index.length % 2 || index.some((x) => x === undefined || x < 0)) throw bad('bad /Index', offset);
  const data = decodeStream(dict, obj.value.data, repairs);
  const rowLen = w0 + w1 + w2;
  if (rowLen === 0) throw bad('bad /W', offset);
  const field = (p: number, n: number, dflt: number): number => {
    if (n === 0) return dflt;
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + data[p + i];
    return v;
  };
  let p = 0;
  let total = 0;
  for (let k = 0; k < index.length; k += 2) {
    const first = index[k]!;
    const count = index[k + 1]!;
    if (first + count > MAX_OBJECTS || (total += count) > MAX_OBJECTS) throw bad('cross-reference stream names too many objects', offset);
    for (let i = 0; i < count; i++, p += rowLen) {
      if (p + rowLen > data.length) throw bad('cross-reference stream shorter than its /Index says', offset);
      const t = field(p, w0, 1);
      const b = field(p + w0, w1, 0);
      const c = field(p + w0 + w1, w2, 0);
      const n = first + i;
      if (into.has(n)) continue;
      if (t === 0) into.set(n, { type: 'free' });
      else if (t === 1) into.set(n, { type: 'offset', offset: b, gen: c });
      else if (t === 2) into.set(n, { type: 'compressed', stream: b, index: c });
      // other types are reserved: treated as null objects (§7.5.8.3)
    }
  }
  return dict;
}

export function readXref(buf: Buffer): Xref {
  const startxref = findStartxref(buf);
  const entries = new Map<number, XrefEntry>();
  const sections: XrefSection[] = [];
  const seen = new Set<number>();
  const repairs: string[] = [];
  let offset: number | undefined = startxref;
  while (offset !== undefined) {
    if (seen.has(offset)) throw bad('the /Prev chain loops', offset);
    if (seen.size >= MAX_XREF_SECTIONS) throw bad('too many cross-reference sections');
    if (offset < 0 || offset >= buf.length) throw bad('cross-reference offset outside the file', offset);
    seen.add(offset);
    let p = offset;
    while (p < buf.length && isWhite(buf[p])) p++;
    const isTable = buf.toString('latin1', p, p + 4) === 'xref';
    let trailer: PdfDict;
    try {
      if (isTable) {
        trailer = readTable(buf, p, entries);
        // hybrid file: the table's entries win over the stream's, so the stream is read after
        const stm = intOf(trailer.get('XRefStm'));
        if (stm !== undefined && stm >= 0 && stm < buf.length && !seen.has(stm)) {
          seen.add(stm);
          readStreamSection(buf, stm, entries, repairs);
        }
      } else trailer = readStreamSection(buf, p, entries, repairs);
    } catch (e) {
      // a lexer error deep in a broken section ("number too long") says little without where it was met
      if (e instanceof TrucError && e.code === 'malformed_pdf' && !/cross-reference|xref|trailer|\/W|\/Index/.test(e.message))
        throw new TrucError('malformed_pdf', `the cross-reference section at byte ${offset} cannot be read: ${e.message}`);
      throw e;
    }
    sections.push({ offset, kind: isTable ? 'table' : 'stream', trailer });
    offset = intOf(trailer.get('Prev'));
    // `/Prev 0` (written by some producers for "no previous section") names the header, never a section
    if (offset === 0) {
      repairs.push('bỏ qua /Prev 0 trong trailer / a trailer /Prev 0 was ignored');
      offset = undefined;
    }
  }
  return { entries, trailer: sections[0].trailer, sections, startxref, repairs };
}
