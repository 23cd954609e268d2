/**
 * A bounded PDF tokenizer and object parser (ISO 32000-1 §7.2–7.3). It reads one value, or one indirect
 * object `n g obj … endobj` with its stream, from a byte offset. Containers are parsed with an explicit
 * stack (depth and item counts bounded), strings and names with length bounds, and nothing is read past
 * the limit given for the object. Every failure is a `malformed_pdf` TrucError naming the offset.
 */
import { TrucError } from '../../errors.js';
import type { PdfDict, PdfObject } from './objects.js';
import { MAX_CONTAINER_ITEMS, MAX_DEPTH, MAX_OBJECT_BYTES } from './limits.js';

const WS = new Set([0x00, 0x09, 0x0a, 0x0c, 0x0d, 0x20]);
const DELIM = new Set([0x28, 0x29, 0x3c, 0x3e, 0x5b, 0x5d, 0x7b, 0x7d, 0x2f, 0x25]);

export const bad = (message: string, at?: number): TrucError =>
  new TrucError('malformed_pdf', at === undefined ? message : `${message} (at byte ${at})`, at === undefined ? undefined : { offset: at });

export const isWhite = (c: number): boolean => WS.has(c);

type Token =
  | { t: 'num'; raw: string; value: number; int: boolean }
  | { t: 'name'; value: string }
  | { t: 'str'; bytes: Buffer }
  | { t: 'kw'; value: string }
  | { t: 'open'; value: '[' | '<<' }
  | { t: 'close'; value: ']' | '>>' }
  | { t: 'eof' };

export class Lexer {
  pos: number;
  readonly end: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    limit = buf.length,
  ) {
    this.pos = start;
    this.end = Math.min(limit, buf.length);
  }

  skipWhite(): void {
    const b = this.buf;
    while (this.pos < this.end) {
      const c = b[this.pos];
      if (WS.has(c)) this.pos++;
      else if (c === 0x25) {
        while (this.pos < this.end && b[this.pos] !== 0x0a && b[this.pos] !== 0x0d) this.pos++;
      } else break;
    }
  }

  next(): Token {
    this.skipWhite();
    const b = this.buf;
    if (this.pos >= this.end) return { t: 'eof' };
    const start = this.pos;
    const c = b[this.pos];
    if (c === 0x5b) {
      this.pos++;
      return { t: 'open', value: '[' };
    }
    if (c === 0x5d) {
      this.pos++;
      return { t: 'close', value: ']' };
    }
    if (c === 0x3c && b[this.pos + 1] === 0x3c) {
      this.pos += 2;
      return { t: 'open', value: '<<' };
    }
    if (c === 0x3e && b[this.pos + 1] === 0x3e) {
      this.pos += 2;
      return { t: 'close', value: '>>' };
    }
    if (c === 0x3c) return this.hexString();
    if (c === 0x28) return this.literalString();
    if (c === 0x2f) return this.name();
    if (c === 0x2b || c === 0x2d || c === 0x2e || (c >= 0x30 && c <= 0x39)) {
      let p = this.pos + 1;
      while (p < this.end && ((b[p] >= 0x30 && b[p] <= 0x39) || b[p] === 0x2e)) p++;
      const raw = b.toString('latin1', this.pos, p);
      this.pos = p;
      if (raw.length > 64) throw bad('number too long', start);
      const value = Number(raw === '-' || raw === '+' || raw === '.' ? '0' : raw);
      if (!Number.isFinite(value)) throw bad(`bad number ${raw}`, start);
      return { t: 'num', raw, value, int: /^[+-]?\d+$/.test(raw) };
    }
    if (DELIM.has(c)) throw bad(`unexpected "${String.fromCharCode(c)}"`, start);
    let p = this.pos;
    while (p < this.end && !WS.has(b[p]) && !DELIM.has(b[p])) p++;
    if (p - this.pos > 64) throw bad('keyword too long', start);
    const value = b.toString('latin1', this.pos, p);
    this.pos = p;
    return { t: 'kw', value };
  }

  private name(): Token {
    const b = this.buf;
    let p = this.pos + 1;
    const bytes: number[] = [];
    while (p < this.end && !WS.has(b[p]) && !DELIM.has(b[p])) {
      if (b[p] === 0x23 && p + 2 < this.end) {
        const h = parseInt(b.toString('latin1', p + 1, p + 3), 16);
        if (!Number.isNaN(h)) {
          bytes.push(h);
          p += 3;
          continue;
        }
      }
      bytes.push(b[p++]);
      if (bytes.length > 127 * 4) throw bad('name too long', this.pos);
    }
    this.pos = p;
    return { t: 'name', value: Buffer.from(bytes).toString('latin1') };
  }

  private hexString(): Token {
    const b = this.buf;
    const start = this.pos;
    let p = this.pos + 1;
    const close = b.indexOf(0x3e, p);
    if (close < 0 || close >= this.end) throw bad('unterminated hex string', start);
    let hex = '';
    for (; p < close; p++) {
      const c = b[p];
      if (WS.has(c)) continue;
      if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66))) throw bad('bad hex string', p);
      hex += String.fromCharCode(c);
    }
    if (hex.length % 2) hex += '0';
    this.pos = close + 1;
    return { t: 'str', bytes: Buffer.from(hex, 'hex') };
  }

  private literalString(): Token {
    const b = this.buf;
    const start = this.pos;
    let p = this.pos + 1;
    let depth = 1;
    const out: number[] = [];
    while (true) {
      if (p >= this.end) throw bad('unterminated string', start);
      const c = b[p++];
      if (c === 0x5c) {
        if (p >= this.end) throw bad('unterminated string', start);
        const e = b[p++];
        const simple: Record<number, number> = { 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x62: 0x08, 0x66: 0x0c, 0x28: 0x28, 0x29: 0x29, 0x5c: 0x5c };
        if (e in simple) out.push(simple[e]);
        else if (e >= 0x30 && e <= 0x37) {
          let v = e - 0x30;
          for (let k = 0; k < 2 && p < this.end && b[p] >= 0x30 && b[p] <= 0x37; k++) v = v * 8 + (b[p++] - 0x30);
          out.push(v & 0xff);
        } else if (e === 0x0d) {
          if (b[p] === 0x0a) p++;
        } else if (e !== 0x0a) out.push(e);
        continue;
      }
      if (c === 0x28) depth++;
      else if (c === 0x29 && --depth === 0) break;
      out.push(c);
    }
    this.pos = p;
    return { t: 'str', bytes: Buffer.from(out) };
  }
}

/**
 * Parses one value from the lexer. Integers followed by `g R` become references. Depth and item counts
 * are bounded; the container stack is explicit.
 */
export function parseValue(lx: Lexer): PdfObject {
  type Frame = { kind: 'array'; items: PdfObject[] } | { kind: 'dict'; entries: PdfDict; key: string | null; at: number };
  const stack: Frame[] = [];
  while (true) {
    const at = lx.pos;
    const tok = lx.next();
    let value: PdfObject | undefined;
    switch (tok.t) {
      case 'eof':
        throw bad('unexpected end of data', at);
      case 'open':
        if (stack.length >= MAX_DEPTH) throw bad(`nesting deeper than ${MAX_DEPTH}`, at);
        stack.push(tok.value === '[' ? { kind: 'array', items: [] } : { kind: 'dict', entries: new Map(), key: null, at });
        continue;
      case 'close': {
        const top = stack.pop();
        if (!top || (top.kind === 'array') !== (tok.value === ']')) throw bad(`unbalanced "${tok.value}"`, at);
        if (top.kind === 'dict') {
          if (top.key !== null) throw bad(`dictionary key /${top.key} has no value`, top.at);
          value = { kind: 'dict', entries: top.entries };
        } else value = { kind: 'array', items: top.items };
        break;
      }
      case 'name':
        value = { kind: 'name', value: tok.value };
        break;
      case 'str':
        value = { kind: 'str', bytes: tok.bytes };
        break;
      case 'num': {
        value = { kind: 'num', value: tok.value, raw: tok.raw };
        if (tok.int && tok.value >= 0) {
          // `n g R`: look ahead two tokens, rewinding when it is not a reference
          const save = lx.pos;
          const g = lx.next();
          if (g.t === 'num' && g.int && g.value >= 0) {
            const r = lx.next();
            if (r.t === 'kw' && r.value === 'R') {
              value = { kind: 'ref', num: tok.value, gen: g.value };
              break;
            }
          }
          lx.pos = save;
        }
        break;
      }
      case 'kw':
        if (tok.value === 'true' || tok.value === 'false') value = { kind: 'bool', value: tok.value === 'true' };
        else if (tok.value === 'null') value = { kind: 'null' };
        else throw bad(`unexpected keyword "${tok.value}"`, at);
        break;
    }
    const top = stack[stack.length - 1];
    if (!top) return value;
    if (top.kind === 'array') {
      if (top.items.length >= MAX_CONTAINER_ITEMS) throw bad('array too long', at);
      top.items.push(value);
    } else if (top.key === null) {
      if (value.kind !== 'name') throw bad('dictionary key is not a name', at);
      top.key = value.value;
    } else {
      if (top.entries.size >= MAX_CONTAINER_ITEMS) throw bad('dictionary too long', at);
      // a null value is the same as an absent entry (§7.3.7)
      if (value.kind !== 'null') top.entries.set(top.key, value);
      top.key = null;
    }
  }
}

export interface IndirectObject {
  num: number;
  gen: number;
  value: PdfObject;
  /** offset of the `n g obj` header */
  offset: number;
  /** offset just past `endobj` (or past the value when `endobj` is missing) */
  end: number;
}

/**
 * Reads `n g obj value [stream … endstream] endobj` at `offset`. The stream length comes from /Length,
 * resolved by `resolveLength` when indirect; when it does not land on `endstream`, the data ends at the
 * first `endstream` instead (as every reader tolerates).
 */
export function parseIndirect(buf: Buffer, offset: number, resolveLength: (r: { num: number; gen: number }) => number | undefined): IndirectObject {
  const limit = Math.min(buf.length, offset + MAX_OBJECT_BYTES);
  const lx = new Lexer(buf, offset, limit);
  const n = lx.next();
  const g = lx.next();
  const o = lx.next();
  if (n.t !== 'num' || !n.int || g.t !== 'num' || !g.int || o.t !== 'kw' || o.value !== 'obj') throw bad('no "n g obj" at the offset the cross-reference gives', offset);
  const value = parseValue(lx);
  const afterValue = lx.pos;
  const kw = lx.next();
  if (kw.t === 'kw' && kw.value === 'stream') {
    if (value.kind !== 'dict') throw bad('stream without a dictionary', offset);
    let p = lx.pos;
    if (buf[p] === 0x0d) p++;
    if (buf[p] === 0x0a) p++;
    const lenObj = value.entries.get('Length');
    let len: number | undefined;
    if (lenObj?.kind === 'num' && Number.isInteger(lenObj.value)) len = lenObj.value;
    else if (lenObj?.kind === 'ref') len = resolveLength(lenObj);
    let dataEnd = len !== undefined && len >= 0 && p + len <= buf.length ? p + len : -1;
    if (dataEnd >= 0) {
      const check = new Lexer(buf, dataEnd, Math.min(buf.length, dataEnd + 64));
      const t = check.next();
      if (!(t.t === 'kw' && t.value === 'endstream')) dataEnd = -1;
    }
    if (dataEnd < 0) {
      const e = buf.indexOf('endstream', p, 'latin1');
      if (e < 0) throw bad('stream without endstream', offset);
      dataEnd = e;
      if (buf[dataEnd - 1] === 0x0a) dataEnd--;
      if (buf[dataEnd - 1] === 0x0d) dataEnd--;
    }
    const after = new Lexer(buf, dataEnd, buf.length);
    const es = after.next();
    if (!(es.t === 'kw' && es.value === 'endstream')) throw bad('stream without endstream', dataEnd);
    const eo = after.next();
    const end = eo.t === 'kw' && eo.value === 'endobj' ? after.pos : dataEnd;
    return { num: n.value, gen: g.value, value: { kind: 'stream', dict: value.entries, data: buf.subarray(p, dataEnd) }, offset, end };
  }
  const end = kw.t === 'kw' && kw.value === 'endobj' ? lx.pos : afterValue;
  return { num: n.value, gen: g.value, value, offset, end };
}
