/**
 * Binary XML as EVTX stores it (MS-EVEN6 BinXml): a token stream of elements, attributes, text and
 * substitution slots, where an event is usually one template instance — a reference to a template
 * definition kept once in the chunk, plus the values for its slots. Templates and element names are read
 * once per chunk and cached by their offset, so a record costs its values, not its structure.
 *
 * Every offset is checked against the chunk, every loop advances or stops, template references and element
 * nesting have depths, and each record has a work budget: garbage ends in a TrucError-free `BinXmlError`
 * that the chunk reader reports as a skipped record.
 */
import { decodeValue, type Value } from './values.js';

export class BinXmlError extends Error {}

export const ELEMENT = 0;
export const TEXT = 1;
export const SUBST = 2;
export const INSTANCE = 3;

export interface XAttr {
  name: string;
  parts: XNode[];
}
export interface XElement {
  kind: typeof ELEMENT;
  name: string;
  attrs: XAttr[];
  children: XNode[];
  /** What the renderer learnt of this element's shape, computed once per template (json.ts). */
  shape?: unknown;
}
export interface XText {
  kind: typeof TEXT;
  text: string;
}
export interface XSubst {
  kind: typeof SUBST;
  index: number;
  optional: boolean;
}
export interface XInstance {
  kind: typeof INSTANCE;
  template: XNode[];
  values: Values;
}
export type XNode = XElement | XText | XSubst | XInstance;

/** The values of one template instance: their descriptors (size, type) and data in the chunk, decoded on first use. */
export class Values {
  private readonly decoded: (Value | undefined)[] = [];
  /** Offset in the chunk of each value. */
  private readonly offsets: number[];
  constructor(
    private readonly chunk: Buffer,
    /** Offset of the descriptor table: 4 bytes a value (size 2, type 1, unused 1). */
    private readonly descriptors: number,
    readonly count: number,
    offsets: number[],
    private readonly exact = false,
  ) {
    this.offsets = offsets;
  }
  get(i: number): Value {
    if (i >= this.count) return null;
    let v = this.decoded[i];
    if (v === undefined) {
      const d = this.descriptors + 4 * i;
      v = this.decoded[i] = decodeValue(this.chunk, this.chunk[d + 2]!, this.offsets[i]!, this.chunk.readUInt16LE(d), this.exact);
    }
    return v;
  }
}

export const NO_VALUES = new Values(Buffer.alloc(0), 0, 0, []);

/** Deepest nesting of elements and of template references (templates within templates, BinXml values). */
export const MAX_DEPTH = 64;
/** Tokens and nodes one record may cost, templates it compiles included (real records: a few hundred). */
export const RECORD_BUDGET = 1 << 16;

interface Cursor {
  pos: number;
  end: number;
}

/** A name from the file as it may appear in a message: short, printable. */
const shown = (name: string) => JSON.stringify(name.length > 40 ? name.slice(0, 40) + '…' : name);

const fail = (msg: string): never => {
  throw new BinXmlError(msg);
};

/** Reads the binary XML of one chunk; holds that chunk's name and template caches. */
export class BinXmlReader {
  private readonly names = new Map<number, string>();
  private readonly templates = new Map<number, XNode[] | BinXmlError>();
  private readonly compiling = new Set<number>();
  budget = RECORD_BUDGET;

  /** `exact`: strings keep their trailing white space (evtx_dump, and so by default this reader, drops it). */
  constructor(
    readonly chunk: Buffer,
    readonly exact = false,
  ) {}

  /** Parses a fragment (a record's event, or a BinXml value) in `[start, end)` of the chunk. */
  fragment(start: number, end: number, depth: number): XNode[] {
    if (start < 0 || end > this.chunk.length || start > end) fail('đoạn XML nhị phân ngoài khối (binary XML fragment outside its chunk)');
    return this.nodes({ pos: start, end }, depth, false);
  }

  spend(n: number): void {
    if ((this.budget -= n) < 0) fail('bản ghi vượt giới hạn xử lý (record exceeds the work bound)');
  }

  private u8(c: Cursor): number {
    if (c.pos >= c.end) fail('hết dữ liệu giữa chừng (data ends inside a token)');
    return this.chunk[c.pos++]!;
  }
  private u16(c: Cursor): number {
    if (c.pos + 2 > c.end) fail('hết dữ liệu giữa chừng (data ends inside a token)');
    const v = this.chunk.readUInt16LE(c.pos);
    c.pos += 2;
    return v;
  }
  private u32(c: Cursor): number {
    if (c.pos + 4 > c.end) fail('hết dữ liệu giữa chừng (data ends inside a token)');
    const v = this.chunk.readUInt32LE(c.pos);
    c.pos += 4;
    return v;
  }
  private utf16(c: Cursor, chars: number): string {
    const end = c.pos + 2 * chars;
    if (end > c.end) fail('chuỗi vượt quá dữ liệu (string runs past its data)');
    const s = this.chunk.toString('utf16le', c.pos, end);
    c.pos = end;
    return s;
  }

  /** An element or attribute name: inline where it is first used, else a reference to that place. */
  private name(c: Cursor): string {
    const off = this.u32(c);
    const cached = this.names.get(off);
    if (off === c.pos) {
      // inline: skip over it (next-string offset 4, hash 2, length 2, characters, NUL)
      if (c.pos + 8 > c.end) fail('tên vượt quá dữ liệu (name runs past its data)');
      const chars = this.chunk.readUInt16LE(c.pos + 6);
      c.pos += 8;
      let s = cached;
      if (s === undefined) this.names.set(off, (s = this.utf16(c, chars)));
      else c.pos += 2 * chars;
      c.pos += 2;
      if (c.pos > c.end) fail('tên vượt quá dữ liệu (name runs past its data)');
      return s;
    }
    if (cached !== undefined) return cached;
    if (off + 8 > this.chunk.length) fail('tên nằm ngoài khối (name outside its chunk)');
    const chars = this.chunk.readUInt16LE(off + 6);
    const s = this.utf16({ pos: off + 8, end: this.chunk.length }, chars);
    this.names.set(off, s);
    return s;
  }

  private nodes(c: Cursor, depth: number, inElement: boolean): XNode[] {
    if (depth > MAX_DEPTH) fail('lồng quá sâu (nested too deeply)');
    const out: XNode[] = [];
    while (c.pos < c.end) {
      this.spend(1);
      const t = this.chunk[c.pos]!;
      if (t & ~0x4f) fail(`mã thẻ lạ 0x${t.toString(16)} (unknown token 0x${t.toString(16)})`);
      switch (t & 0x0f) {
        case 0x00: // end of stream
          if (inElement) fail('hết luồng trong phần tử (end of stream inside an element)');
          c.pos++;
          return out;
        case 0x01:
          out.push(this.element(c, depth + 1));
          break;
        case 0x04:
          if (!inElement) fail('thẻ đóng thừa (unmatched end tag)');
          c.pos++;
          return out;
        case 0x0c:
          out.push(this.instance(c, depth + 1));
          break;
        case 0x0f: // fragment header: token, major, minor, flags
          c.pos += 4;
          break;
        case 0x0a: // processing instruction target: a name, not part of the event
          c.pos++;
          this.name(c);
          break;
        case 0x0b: {
          c.pos++;
          this.utf16(c, this.u16(c));
          break;
        }
        default: {
          const n = this.content(c);
          if (!n) fail(`thẻ 0x${t.toString(16)} không đúng chỗ (token 0x${t.toString(16)} out of place)`);
          if (n!.kind !== TEXT || (n as XText).text !== '') out.push(n!);
        }
      }
    }
    if (inElement) fail('phần tử chưa đóng khi hết dữ liệu (element not closed before the data ends)');
    return out;
  }

  /** A text, character reference, entity reference or substitution token, or undefined if `c` is not at one. */
  private content(c: Cursor): XNode | undefined {
    const t = this.chunk[c.pos]!;
    switch (t & ~0x4f ? -1 : t & 0x0f) {
      case 0x05: {
        c.pos++;
        const type = this.u8(c);
        if (type !== 0x01 && type !== 0x02) fail(`giá trị văn bản kiểu lạ 0x${type.toString(16)} (text value of unknown type)`);
        return { kind: TEXT, text: this.utf16(c, this.u16(c)) };
      }
      case 0x07:
        c.pos++;
        return { kind: TEXT, text: this.utf16(c, this.u16(c)) };
      case 0x08:
        c.pos++;
        return { kind: TEXT, text: `&#${this.u16(c)};` };
      case 0x09:
        c.pos++;
        return { kind: TEXT, text: `&${this.name(c)};` };
      case 0x0d:
      case 0x0e: {
        c.pos++;
        const index = this.u16(c);
        this.u8(c); // the type the template expects; the instance's own descriptor decides
        return { kind: SUBST, index, optional: (t & 0x0f) === 0x0e };
      }
      default:
        return undefined;
    }
  }

  private element(c: Cursor, depth: number): XElement {
    if (depth > MAX_DEPTH) fail('phần tử lồng quá sâu (elements nested too deeply)');
    const t = this.u8(c);
    c.pos += 2; // dependency identifier
    this.u32(c); // data size
    const name = this.name(c);
    const attrs: XAttr[] = [];
    if (t & 0x40) {
      this.u32(c); // attribute list size
      while (c.pos < c.end && (this.chunk[c.pos]! & 0xbf) === 0x06) {
        this.spend(1);
        c.pos++;
        const an = this.name(c);
        const parts: XNode[] = [];
        for (let n = this.content(c); n; n = c.pos < c.end ? this.content(c) : undefined) {
          this.spend(1);
          parts.push(n);
        }
        attrs.push({ name: an, parts });
      }
    }
    const close = this.u8(c);
    if (close === 0x03) return { kind: ELEMENT, name, attrs, children: [] };
    if (close !== 0x02) fail(`phần tử ${shown(name)} không có thẻ đóng mở đầu (element ${shown(name)}: no close-start tag)`);
    return { kind: ELEMENT, name, attrs, children: this.nodes(c, depth, true) };
  }

  private instance(c: Cursor, depth: number): XInstance {
    if (depth > MAX_DEPTH) fail('mẫu lồng quá sâu (templates nested too deeply)');
    c.pos += 2; // token, unknown
    this.u32(c); // template identifier
    const defOffset = this.u32(c);
    if (defOffset === c.pos) {
      // the definition follows here: next-definition offset 4, GUID 16, data size 4, data
      if (c.pos + 24 > c.end) fail('định nghĩa mẫu vượt quá dữ liệu (template definition runs past its data)');
      c.pos += 24 + this.chunk.readUInt32LE(c.pos + 20);
      if (c.pos > c.end) fail('định nghĩa mẫu vượt quá dữ liệu (template definition runs past its data)');
    }
    const template = this.template(defOffset, depth);
    const count = this.u32(c);
    if (count * 4 > c.end - c.pos) fail('số giá trị của mẫu vượt quá dữ liệu (template value count runs past its data)');
    this.spend(count);
    const offsets: number[] = new Array<number>(count);
    let at = c.pos + count * 4;
    for (let i = 0; i < count; i++) {
      offsets[i] = at;
      at += this.chunk.readUInt16LE(c.pos + 4 * i);
    }
    if (at > c.end) fail('giá trị của mẫu vượt quá bản ghi (template values run past the record)');
    const descriptors = c.pos;
    c.pos = at;
    return { kind: INSTANCE, template, values: new Values(this.chunk, descriptors, count, offsets, this.exact) };
  }

  /** The compiled definition at `offset` in the chunk, parsed on first use. */
  private template(offset: number, depth: number): XNode[] {
    const cached = this.templates.get(offset);
    if (cached instanceof BinXmlError) throw cached;
    if (cached) return cached;
    if (this.compiling.has(offset)) fail(`mẫu tự tham chiếu ở 0x${offset.toString(16)} (template at 0x${offset.toString(16)} refers to itself)`);
    if (offset < 0 || offset + 24 > this.chunk.length)
      fail(`mẫu nằm ngoài khối: 0x${offset.toString(16)} (template outside its chunk: 0x${offset.toString(16)})`);
    const end = offset + 24 + this.chunk.readUInt32LE(offset + 20);
    if (end > this.chunk.length) fail(`mẫu ở 0x${offset.toString(16)} vượt quá khối (template at 0x${offset.toString(16)} runs past its chunk)`);
    this.compiling.add(offset);
    try {
      const nodes = this.nodes({ pos: offset + 24, end }, depth, false);
      this.templates.set(offset, nodes);
      return nodes;
    } catch (e) {
      // a broken definition stays broken for every record that uses it; a budget overrun may not
      if (e instanceof BinXmlError && this.budget >= 0) this.templates.set(offset, e);
      throw e;
    } finally {
      this.compiling.delete(offset);
    }
  }
}
