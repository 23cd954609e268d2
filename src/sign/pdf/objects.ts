/**
 * The PDF object model (ISO 32000-1 §7.3) as plain values, and its serialisation. Names are kept decoded
 * (after #xx escapes) as latin1 strings; strings as their bytes; numbers with their original text so a
 * rewritten object says exactly what it said before. Strings are always written in hex form: nothing in
 * them then needs escaping, and the bytes come back unchanged.
 */
export type PdfObject =
  | { kind: 'null' }
  | { kind: 'bool'; value: boolean }
  | { kind: 'num'; value: number; raw: string }
  | { kind: 'str'; bytes: Buffer }
  | { kind: 'name'; value: string }
  | { kind: 'array'; items: PdfObject[] }
  | { kind: 'dict'; entries: Map<string, PdfObject> }
  | { kind: 'ref'; num: number; gen: number }
  | { kind: 'stream'; dict: Map<string, PdfObject>; data: Buffer };

export type PdfDict = Map<string, PdfObject>;

export const pdfNull: PdfObject = { kind: 'null' };
export const num = (n: number): PdfObject => ({ kind: 'num', value: n, raw: Number.isInteger(n) ? String(n) : n.toFixed(4).replace(/0+$/, '') });
export const name = (value: string): PdfObject => ({ kind: 'name', value });
export const str = (bytes: Buffer | string): PdfObject => ({ kind: 'str', bytes: typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes });
export const ref = (n: number, gen = 0): PdfObject => ({ kind: 'ref', num: n, gen });
export const array = (items: PdfObject[]): PdfObject => ({ kind: 'array', items });
export const dict = (entries: Record<string, PdfObject> | PdfDict): PdfObject => ({
  kind: 'dict',
  entries: entries instanceof Map ? entries : new Map(Object.entries(entries)),
});

/** A PDF text string: ASCII as is, anything else UTF-16BE with its byte order mark (§7.9.2.2). */
export function textString(s: string): PdfObject {
  if (/^[\x20-\x7e]*$/.test(s)) return str(s);
  const be = Buffer.from(s, 'utf16le').swap16();
  return str(Buffer.concat([Buffer.from([0xfe, 0xff]), be]));
}

export function decodeTextString(b: Buffer): string {
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) return Buffer.from(b.subarray(2)).swap16().toString('utf16le');
  if (b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return b.subarray(3).toString('utf8');
  return b.toString('latin1');
}

const REGULAR = /^[!-~]$/;
const DELIMS = new Set(['(', ')', '<', '>', '[', ']', '{', '}', '/', '%', '#']);

export function writeName(n: string): string {
  let out = '/';
  for (const ch of n) {
    const c = ch.charCodeAt(0) & 0xff;
    if (REGULAR.test(ch) && !DELIMS.has(ch)) out += ch;
    else out += '#' + c.toString(16).padStart(2, '0');
  }
  return out;
}

/**
 * Serialises a value without recursion: an explicit stack of pending pieces. Streams are written whole
 * (dictionary with the data's real /Length, then the data as it is).
 */
export function serialize(obj: PdfObject): Buffer {
  const parts: Buffer[] = [];
  const stack: (PdfObject | string | Buffer)[] = [obj];
  while (stack.length) {
    const o = stack.pop()!;
    if (typeof o === 'string') {
      parts.push(Buffer.from(o, 'latin1'));
      continue;
    }
    if (Buffer.isBuffer(o)) {
      parts.push(o);
      continue;
    }
    switch (o.kind) {
      case 'null':
        parts.push(Buffer.from('null'));
        break;
      case 'bool':
        parts.push(Buffer.from(o.value ? 'true' : 'false'));
        break;
      case 'num':
        parts.push(Buffer.from(o.raw, 'latin1'));
        break;
      case 'str':
        parts.push(Buffer.from(`<${o.bytes.toString('hex')}>`, 'latin1'));
        break;
      case 'name':
        parts.push(Buffer.from(writeName(o.value), 'latin1'));
        break;
      case 'ref':
        parts.push(Buffer.from(`${o.num} ${o.gen} R`));
        break;
      case 'array': {
        const pending: (PdfObject | string)[] = ['['];
        o.items.forEach((it, i) => pending.push(...(i ? [' ', it] : [it])));
        pending.push(']');
        for (let i = pending.length - 1; i >= 0; i--) stack.push(pending[i]);
        break;
      }
      case 'dict':
      case 'stream': {
        const entries = o.kind === 'dict' ? o.entries : new Map(o.dict);
        if (o.kind === 'stream') entries.set('Length', num(o.data.length));
        const pending: (PdfObject | string | Buffer)[] = ['<<'];
        for (const [k, v] of entries) pending.push(writeName(k), ' ', v);
        pending.push('>>');
        if (o.kind === 'stream') pending.push('\nstream\n', o.data, '\nendstream');
        for (let i = pending.length - 1; i >= 0; i--) stack.push(pending[i]);
        break;
      }
    }
  }
  return Buffer.concat(parts);
}
