/**
 * XML edited in place. Signing (enveloped) and augmenting only add elements to a document — a ds:Signature at the
 * end of the root, unsigned properties inside a signature — so the output is the input's bytes with the new
 * elements' text spliced in where the DOM has them, written in the input's encoding (and after its byte-order
 * mark). Serialising the whole DOM again would rewrite the document: an ISO-8859-2, windows-1250 or UTF-16 file
 * came back as UTF-8 under a declaration still naming the old encoding (its accented letters then unreadable and
 * every digest over them broken), and characters the serializer writes raw (`&#13;` in text becomes a line end
 * the next reader turns into `&#10;`) changed what was signed.
 *
 * Where each element lies is found by one pass over the text (comments, CDATA sections, processing
 * instructions and quoted attribute values skipped), matched one to one, in document order, with the elements
 * the parser built: a count that differs refuses the edit rather than guess. Outside UTF-16 the pass runs over
 * the bytes themselves (as Latin-1: one character a byte): in UTF-8 and the ASCII-compatible encodings the
 * characters that delimit markup are single bytes that no multi-byte sequence contains. New text is encoded
 * for the document: a character its encoding cannot write (a Vietnamese name in an ISO-8859-1 document) as a
 * character reference, which XML reads back as the same character. The new elements carry the namespace
 * declarations an ancestor does not already make; the output is read again and must hold every element.
 */
import { XMLSerializer } from '@xmldom/xmldom';
import { TrucError } from '../../errors.js';
import { parseXml, readXml, type XmlEncoding } from './parse.js';

/** An element's place in the text: `<` of its start tag, after its `>`, `<` of its end tag, after its `>` (self-closing: close = -1). */
interface Span {
  start: number;
  openEnd: number;
  close: number;
  end: number;
}

/** Where every element of `view` starts and ends, in document order (the order of start tags). */
function spans(view: string): Span[] {
  const out: Span[] = [];
  const open: Span[] = [];
  const n = view.length;
  let i = 0;
  const skipTo = (from: number, end: string): number => {
    const e = view.indexOf(end, from);
    return e < 0 ? n : e + end.length;
  };
  for (;;) {
    const lt = view.indexOf('<', i);
    if (lt < 0) break;
    if (view.startsWith('<!--', lt)) i = skipTo(lt + 4, '-->');
    else if (view.startsWith('<![CDATA[', lt)) i = skipTo(lt + 9, ']]>');
    else if (view[lt + 1] === '?' || view[lt + 1] === '!') i = skipTo(lt + 2, '>');
    else {
      let j = lt + 1;
      let quote = '';
      for (; j < n; j++) {
        const c = view[j];
        if (quote) {
          if (c === quote) quote = '';
        } else if (c === '"' || c === "'") quote = c;
        else if (c === '>') break;
      }
      if (j >= n) break;
      if (view[lt + 1] === '/') {
        const s = open.pop();
        if (s) {
          s.close = lt;
          s.end = j + 1;
        }
      } else {
        const s: Span = { start: lt, openEnd: j + 1, close: -1, end: j + 1 };
        out.push(s);
        if (view[j - 1] !== '/') open.push(s);
      }
      i = j + 1;
    }
  }
  return out;
}

const SINGLE_BYTE = new Map<string, Map<number, number>>();

/** For an ASCII-compatible encoding: the characters a byte of their own writes (built from the decoder, not a table of ours). */
function singleBytes(encoding: string): Map<number, number> {
  let m = SINGLE_BYTE.get(encoding);
  if (!m) {
    m = new Map();
    const d = new TextDecoder(encoding);
    for (let b = 0x80; b <= 0xff; b++) {
      const c = d.decode(Uint8Array.of(b));
      const cp = c.codePointAt(0)!;
      if (c.length === 1 && cp !== 0xfffd && !m.has(cp)) m.set(cp, b);
    }
    SINGLE_BYTE.set(encoding, m);
  }
  return m;
}

/** New markup (element and attribute names ASCII, as ours are) in the document's encoding. */
function encode(text: string, encoding: XmlEncoding): Buffer {
  if (encoding.name === 'utf-8') return Buffer.from(text, 'utf8');
  if (encoding.name === 'utf-16le') return Buffer.from(text, 'utf16le');
  if (encoding.name === 'utf-16be') return Buffer.from(text, 'utf16le').swap16();
  const table = singleBytes(encoding.name);
  const byte = (cp: number) => (cp < 0x80 ? cp : table.get(cp));
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const b = byte(cp);
    if (b !== undefined) out.push(b);
    else {
      // windows-1258 writes "ễ" as ê and a combining tilde: a letter and the one mark that follows it, both in the
      // encoding, read back (composed) as the same character
      const nfd = ch.normalize('NFD');
      const mark = byte(nfd.codePointAt(nfd.length - 1)!);
      const letter = nfd.length > 1 ? byte(nfd.slice(0, -1).normalize('NFC').codePointAt(0)!) : undefined;
      if (mark !== undefined && letter !== undefined && nfd.slice(0, -1).normalize('NFC').length === 1) out.push(letter, mark);
      else for (const c of `&#x${cp.toString(16)};`) out.push(c.charCodeAt(0));
    }
  }
  return Buffer.from(out);
}

/** A piece of output: new text, or the document's own (a tag name copied). */
interface Insertion {
  at: number;
  to: number;
  pieces: { text: string; own?: boolean }[];
}

export interface EditedXml<T> {
  /** the document, to add elements to (nothing else may change) */
  doc: Document;
  /** the input with the elements added to `doc` since, in the input's form: a string for a string, else bytes in its encoding */
  output(): T;
}

/** Opens a document for adding elements; `output()` writes them into the input as it was. */
export function editXml<T extends Uint8Array | string>(input: T): EditedXml<T extends string ? string : Buffer> {
  const { text, encoding } = readXml(input);
  if (encoding.name === 'iso-2022-jp') throw new TrucError('unsupported', 'tài liệu ISO-2022-JP không ký hay nâng mức tại chỗ được, hãy chuyển sang UTF-8 / a document in ISO-2022-JP cannot be signed or augmented in place (its bytes shift state); convert it to UTF-8 first');
  const bytes = typeof input === 'string' ? undefined : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  // positions: in the string; in UTF-16 in its characters (two bytes each, after the mark); otherwise in the bytes
  const utf16 = encoding.name === 'utf-16le' || encoding.name === 'utf-16be';
  const view = typeof input === 'string' ? input : utf16 ? text : bytes!.toString('latin1');
  const doc = parseXml(typeof input === 'string' ? input : text);
  const all = (): Element[] => Array.from(doc.getElementsByTagName('*') as unknown as ArrayLike<Element>);
  const found = spans(view);
  const elements = all();
  if (found.length !== elements.length) throw new TrucError('unsupported', `không sửa XML tại chỗ được / the XML could not be edited in place (${elements.length} elements parsed, ${found.length} found in the text)`);
  const place = new Map<Node, Span>(elements.map((e, i) => [e, found[i]]));

  const output = (): string | Buffer => {
    const now = all();
    if (now.filter((e) => place.has(e)).length !== place.size) throw new TrucError('internal', 'an element of the document was removed while it was edited in place');
    // the new elements' text as the whole document's serialisation writes it: a namespace declaration an ancestor
    // already makes is not repeated (the ancestors are written as the document has them)
    const full = new XMLSerializer().serializeToString(doc as never);
    const written = spans(full);
    if (written.length !== now.length) throw new TrucError('internal', 'the edited XML could not be serialised element for element');
    const textOf = new Map<Node, string>(now.map((e, i) => [e, full.slice(written[i].start, written[i].end)]));
    const inserts: Insertion[] = [];
    for (const [el, span] of place) {
      const kids = Array.from(el.childNodes as unknown as ArrayLike<Node>);
      const isNew = (k: Node | undefined) => !!k && k.nodeType === 1 && !place.has(k);
      const runs: { pieces: string[]; at: number }[] = [];
      for (let a = 0; a < kids.length; a++) {
        if (!isNew(kids[a])) continue;
        let b = a;
        while (isNew(kids[b + 1])) b++;
        const prev = kids[a - 1];
        const next = kids[b + 1];
        const original = (k: Node | undefined) => (k && k.nodeType === 1 ? place.get(k) : undefined);
        // between the neighbours it has in the DOM: before the next element, after the previous one, else at the edge
        const later = kids.slice(b + 1).find((k) => original(k));
        const at = original(next)?.start ?? original(prev)?.end ?? (!prev ? span.openEnd : !next || !later ? span.close : original(later)!.start);
        runs.push({ at, pieces: kids.slice(a, b + 1).map((k) => textOf.get(k)!) });
        a = b;
      }
      if (!runs.length) continue;
      if (span.close < 0) {
        // <x/> gets children: <x> … </x>, the name as the document writes it
        const name = /^<([^\s/>]+)/.exec(view.slice(span.start, span.openEnd))![1];
        inserts.push({ at: span.openEnd - 2, to: span.openEnd, pieces: [{ text: '>' }, ...runs.flatMap((r) => r.pieces.map((t) => ({ text: t }))), { text: '</' }, { text: name, own: true }, { text: '>' }] });
      } else for (const r of runs) inserts.push({ at: r.at, to: r.at, pieces: r.pieces.map((t) => ({ text: t })) });
    }
    inserts.sort((x, y) => x.at - y.at);
    let out: string | Buffer;
    if (typeof input === 'string') {
      const parts: string[] = [];
      let from = 0;
      for (const ins of inserts) {
        parts.push(view.slice(from, ins.at), ...ins.pieces.map((p) => p.text));
        from = ins.to;
      }
      parts.push(view.slice(from));
      out = parts.join('');
    } else {
      const pos = (i: number) => (utf16 ? encoding.bom + 2 * i : i);
      const parts: Buffer[] = [];
      let from = 0; // in bytes: the mark comes first
      for (const ins of inserts) {
        parts.push(bytes!.subarray(from, pos(ins.at)));
        for (const p of ins.pieces) parts.push(p.own && !utf16 ? Buffer.from(p.text, 'latin1') : encode(p.text, encoding));
        from = pos(ins.to);
      }
      parts.push(bytes!.subarray(from));
      out = Buffer.concat(parts);
    }
    // read back: every element there, the new ones included
    const again = parseXml(out).getElementsByTagName('*').length;
    if (again !== now.length) throw new TrucError('internal', `the XML edited in place reads back with ${again} elements, not ${now.length}`);
    return out;
  };
  return { doc, output: output as () => T extends string ? string : Buffer };
}
