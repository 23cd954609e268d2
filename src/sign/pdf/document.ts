/**
 * A read-only view of a PDF for incremental updates: its cross-reference, its objects on demand (plain
 * objects and those packed in object streams), the catalog, the pages in order and the form fields. The
 * bytes are never changed; the writer appends to them.
 */
import type { PdfDict, PdfObject } from './objects.js';
import { bad, Lexer, parseIndirect, parseValue } from './parse.js';
import { decodeStream } from './stream.js';
import { readXref, type Xref } from './xref.js';
import type { StringDecrypter } from './decrypt.js';
import { MAX_INHERITANCE_DEPTH, MAX_OBJSTM_OBJECTS, MAX_PDF_BYTES, MAX_TREE_NODES } from './limits.js';

export interface Ref {
  num: number;
  gen: number;
}

const intOf = (o: PdfObject | undefined): number | undefined => (o?.kind === 'num' && Number.isInteger(o.value) ? o.value : undefined);

export class PdfDocument {
  readonly xref: Xref;
  private readonly cache = new Map<number, PdfObject>();
  private readonly objStreams = new Map<number, { offsets: Map<number, number>; data: Buffer; first: number }>();
  private resolving = new Set<number>();

  /** the file as read: the input, or from its `%PDF-` header on when the offsets count from there */
  readonly bytes: Buffer;

  constructor(input: Buffer) {
    if (input.length > MAX_PDF_BYTES) throw bad(`file of ${input.length} bytes exceeds ${MAX_PDF_BYTES}`);
    const header = input.subarray(0, 1024).indexOf('%PDF-', 0, 'latin1');
    if (header < 0) throw bad('not a PDF: no %PDF- header');
    this.bytes = input;
    try {
      this.xref = readXref(input);
      if (header > 0) void this.catalog;
    } catch (e) {
      if (header <= 0) throw e;
      // junk before the header (a mail or transfer wrapper): offsets count from `%PDF-`, as readers take them
      this.cache.clear();
      this.objStreams.clear();
      this.bytes = input.subarray(header);
      this.xref = readXref(this.bytes);
      this.xref.repairs.push(`bỏ qua ${header} byte trước %PDF- / ${header} bytes before %PDF- were set aside: offsets are counted from the header`);
    }
  }

  /** what was read leniently, as qpdf and poppler read it (empty for a well-formed file) */
  get repairs(): string[] {
    return this.xref.repairs;
  }

  /** The kind of cross-reference the newest section uses: an update must use the same. */
  get xrefKind(): 'table' | 'stream' {
    return this.xref.sections[0].kind;
  }

  /** One more than the highest object number in use (what /Size must be at least). */
  get size(): number {
    let max = intOf(this.xref.trailer.get('Size')) ?? 0;
    for (const n of this.xref.entries.keys()) if (n + 1 > max) max = n + 1;
    return max;
  }

  /** The object `num`, or null when it is free or absent (§7.3.10). */
  get(num: number): PdfObject {
    const hit = this.cache.get(num);
    if (hit) return hit;
    if (this.resolving.has(num)) throw bad(`object ${num} refers to itself while being read`);
    this.resolving.add(num);
    try {
      const v = this.load(num);
      this.cache.set(num, v);
      return v;
    } finally {
      this.resolving.delete(num);
    }
  }

  genOf(num: number): number {
    const e = this.xref.entries.get(num);
    return e?.type === 'offset' ? e.gen : 0;
  }

  private load(num: number): PdfObject {
    const e = this.xref.entries.get(num);
    if (!e || e.type === 'free') return { kind: 'null' };
    if (e.type === 'offset') {
      const o = parseIndirect(this.bytes, e.offset, (r) => {
        const l = r.num === num ? undefined : this.get(r.num);
        return l?.kind === 'num' ? l.value : undefined;
      });
      if (o.num !== num) throw bad(`the cross-reference entry of object ${num} points at object ${o.num}`, e.offset);
      return o.value;
    }
    const stm = this.objectStream(e.stream);
    const off = stm.offsets.get(num);
    if (off === undefined) throw bad(`object ${num} is not in object stream ${e.stream}`);
    const lx = new Lexer(stm.data, stm.first + off);
    return parseValue(lx);
  }

  private objectStream(num: number): { offsets: Map<number, number>; data: Buffer; first: number } {
    const hit = this.objStreams.get(num);
    if (hit) return hit;
    const e = this.xref.entries.get(num);
    if (e?.type !== 'offset') throw bad(`object stream ${num} is not a plain object`);
    const s = this.get(num);
    if (s.kind !== 'stream') throw bad(`object ${num} is not an object stream`);
    const n = intOf(s.dict.get('N'));
    const first = intOf(s.dict.get('First'));
    if (n === undefined || first === undefined || n < 0 || n > MAX_OBJSTM_OBJECTS || first < 0) throw bad(`object stream ${num}: bad /N or /First`);
    const data = decodeStream(s.dict, s.data, this.xref.repairs);
    const lx = new Lexer(data, 0, Math.min(first, data.length));
    const offsets = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const a = lx.next();
      const b = lx.next();
      if (a.t !== 'num' || b.t !== 'num' || !a.int || !b.int) throw bad(`object stream ${num}: bad header`);
      offsets.set(a.value, b.value);
    }
    const v = { offsets, data, first };
    this.objStreams.set(num, v);
    return v;
  }

  /** Follows a reference (a direct value comes back as it is). */
  resolve(o: PdfObject | undefined): PdfObject | undefined {
    return o?.kind === 'ref' ? this.get(o.num) : o;
  }

  dictOf(o: PdfObject | undefined, what: string): PdfDict {
    const v = this.resolve(o);
    if (v?.kind === 'dict') return v.entries;
    if (v?.kind === 'stream') return v.dict;
    throw bad(`${what} is not a dictionary`);
  }

  get rootRef(): Ref {
    const r = this.xref.trailer.get('Root');
    if (r?.kind !== 'ref') throw bad('the trailer has no /Root reference');
    return { num: r.num, gen: r.gen };
  }

  get catalog(): PdfDict {
    return this.dictOf(ref(this.rootRef), 'the catalog');
  }

  /** References of the pages in document order: the page tree walked with an explicit stack. */
  pageRefs(): Ref[] {
    const root = this.catalog.get('Pages');
    if (root?.kind !== 'ref') throw bad('the catalog has no /Pages reference');
    const out: Ref[] = [];
    const stack: Ref[] = [{ num: root.num, gen: root.gen }];
    const seen = new Set<number>();
    while (stack.length) {
      const r = stack.pop()!;
      if (seen.has(r.num)) throw bad('the page tree loops');
      if (seen.add(r.num).size > MAX_TREE_NODES) throw bad('the page tree is too large');
      const node = this.dictOf(ref(r), `page tree node ${r.num}`);
      const type = node.get('Type');
      const kids = this.resolve(node.get('Kids'));
      if (type?.kind === 'name' && type.value === 'Page') out.push(r);
      else if (kids?.kind === 'array') {
        for (let i = kids.items.length - 1; i >= 0; i--) {
          const k = kids.items[i];
          if (k.kind === 'ref') stack.push({ num: k.num, gen: k.gen });
        }
      } else if (!kids) out.push(r);
    }
    return out;
  }

  /**
   * A page attribute that may be inherited from the page tree (ISO 32000-1 §7.7.3.4: /Resources,
   * /MediaBox, /CropBox, /Rotate): the page's own value, else the nearest ancestor's through /Parent.
   */
  pageAttribute(page: Ref, key: 'Resources' | 'MediaBox' | 'CropBox' | 'Rotate'): PdfObject | undefined {
    let node: PdfDict = this.dictOf(ref(page), `page ${page.num}`);
    const seen = new Set<number>([page.num]);
    for (;;) {
      const v = node.get(key);
      if (v !== undefined) return this.resolve(v);
      const parent = node.get('Parent');
      if (parent?.kind !== 'ref' || seen.has(parent.num) || seen.size > MAX_INHERITANCE_DEPTH) return undefined;
      seen.add(parent.num);
      node = this.dictOf(parent, `page tree node ${parent.num}`);
    }
  }

  /** Terminal form fields (walking /Kids), each with its reference and fully qualified name. */
  /**
   * The terminal form fields with their full names. `decrypt`: for an encrypted file, the decrypter of the
   * partial names (`stringDecrypter`), each with the number of the object that holds it.
   */
  fields(decrypt?: StringDecrypter): { ref: Ref | null; dict: PdfDict; name: string }[] {
    const af = this.catalog.get('AcroForm');
    if (!af) return [];
    const acro = this.dictOf(af, 'the AcroForm');
    const fields = this.resolve(acro.get('Fields'));
    if (fields?.kind !== 'array') return [];
    const out: { ref: Ref | null; dict: PdfDict; name: string }[] = [];
    const stack: { o: PdfObject; prefix: string; owner?: Ref }[] = fields.items.map((o) => ({ o, prefix: '' })).reverse();
    const seen = new Set<number>();
    let visited = 0;
    while (stack.length) {
      const { o, prefix, owner: parentOwner } = stack.pop()!;
      const owner = o.kind === 'ref' ? { num: o.num, gen: o.gen } : parentOwner;
      if (++visited > MAX_TREE_NODES) throw bad('the form field tree is too large');
      if (o.kind === 'ref') {
        if (seen.has(o.num)) continue;
        seen.add(o.num);
      }
      const v = this.resolve(o);
      if (v?.kind !== 'dict') continue;
      const t = v.entries.get('T');
      const part = t?.kind === 'str' ? (decrypt && owner ? decrypt(t.bytes, owner.num, owner.gen) : t.bytes) : undefined;
      const name = part ? (prefix ? `${prefix}.` : '') + part.toString('latin1') : prefix;
      const kids = this.resolve(v.entries.get('Kids'));
      const kidFields = kids?.kind === 'array' ? kids.items.filter((k) => { const d = this.resolve(k); return d?.kind === 'dict' && d.entries.has('T'); }) : [];
      if (kidFields.length) for (let i = kidFields.length - 1; i >= 0; i--) stack.push({ o: kidFields[i], prefix: name, ...(owner ? { owner } : {}) });
      else out.push({ ref: o.kind === 'ref' ? { num: o.num, gen: o.gen } : null, dict: v.entries, name });
    }
    return out;
  }
}

function ref(r: Ref): PdfObject {
  return { kind: 'ref', num: r.num, gen: r.gen };
}
