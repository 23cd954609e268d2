/**
 * Hardened XML parsing for signing and validation: limits on size, element count and depth, and no
 * document type declaration at all — which shuts out external entities (XXE) and entity expansion
 * (billion laughs) before the parser sees them. Parse errors are `malformed_xml`, never a half-built tree.
 */
import { DOMParser } from '@xmldom/xmldom';
import { TrucError } from '../../errors.js';

export const MAX_XML_BYTES = 16 * 1024 * 1024;
/** an edXML document with its signatures has hundreds of elements; a DOM node costs some hundred bytes */
export const MAX_XML_ELEMENTS = 100_000;
/** deeper than any document we sign; canonicalisers and verifiers recurse along the depth */
export const MAX_XML_DEPTH = 256;

/**
 * Counts elements and nesting before any DOM is built (a DOM of millions of elements takes gigabytes; one
 * nested a hundred thousand deep overflows the recursive canonicalisers): one pass over the text, comments,
 * CDATA sections, processing instructions and quoted attribute values skipped. Malformed text is left for
 * the parser to refuse.
 */
function checkShape(text: string): void {
  let depth = 0;
  let elements = 0;
  let i = 0;
  const n = text.length;
  const skipTo = (from: number, end: string): number => {
    const e = text.indexOf(end, from);
    return e < 0 ? n : e + end.length;
  };
  for (;;) {
    const lt = text.indexOf('<', i);
    if (lt < 0) return;
    if (text.startsWith('<!--', lt)) i = skipTo(lt + 4, '-->');
    else if (text.startsWith('<![CDATA[', lt)) i = skipTo(lt + 9, ']]>');
    else if (text[lt + 1] === '?') i = skipTo(lt + 2, '?>');
    else {
      let j = lt + 1;
      let quote = '';
      for (; j < n; j++) {
        const c = text[j];
        if (quote) {
          if (c === quote) quote = '';
        } else if (c === '"' || c === "'") quote = c;
        else if (c === '>') break;
      }
      if (j >= n) return;
      if (text[lt + 1] === '/') depth--;
      else {
        elements++;
        if (text[j - 1] !== '/') depth++;
      }
      if (depth > MAX_XML_DEPTH) throw new TrucError('too_large', `XML nested deeper than ${MAX_XML_DEPTH} elements`);
      if (elements > MAX_XML_ELEMENTS) throw new TrucError('too_large', `XML of more than ${MAX_XML_ELEMENTS} elements`);
      i = j + 1;
    }
  }
}

/**
 * How a document's characters are written: the byte-order mark it starts with (kept when the document is edited),
 * and the encoding — UTF-8, UTF-16 in either byte order (told by the mark), or the one the XML declaration names.
 */
export interface XmlEncoding {
  /** WHATWG name: utf-8, utf-16le, utf-16be, iso-8859-2, windows-1252 (which "ISO-8859-1" names), …; "text" for characters given as a string */
  name: string;
  /** the byte-order mark's length in bytes (0 without one) */
  bom: number;
  /** windows-1258 only: Normalization Form C changed the characters as decoded (a base letter and a tone mark became one) */
  composed?: boolean;
}

/**
 * Encodings that write a letter as a base letter and a combining mark: windows-1258, whose five tone marks follow the
 * letter they sit on (Vietnamese "ệ" is 0xEA 0xF2, ê and the dot below). Canonical XML 1.0 §2.1 asks the processor
 * that converts a document from an encoding that is not UCS-based to use Normalization Form C, and glibc's iconv —
 * which libxml2, so xmlsec1, uses — composes them as it decodes; WHATWG's decoder (and Java's) gives the two
 * characters. We read these documents in NFC (what the standard and xmlsec1 digest); a validator that finds a digest
 * broken reads the document again as decoded (`asDecoded`), for signers who digested the two characters. Other
 * single-byte and multi-byte encodings are read as decoded: they hold precomposed letters, and normalising them would
 * change characters (CJK compatibility ideographs) that other tools keep.
 */
const COMPOSED_ENCODINGS = new Set(['windows-1258']);

export interface ReadXmlOptions {
  /** the characters as the decoder gives them, without Normalization Form C (see COMPOSED_ENCODINGS) */
  asDecoded?: boolean;
}

/**
 * The document's characters and their encoding. A byte-order mark is not part of the document (XML 1.0 §4.3.3):
 * dropped, after telling UTF-16 (FF FE / FE FF) from UTF-8 (EF BB BF) by it; without one the bytes are in the
 * encoding the XML declaration names (UTF-8 when it names none).
 */
export function readXml(input: Uint8Array | string, opts: ReadXmlOptions = {}): { text: string; encoding: XmlEncoding } {
  if (typeof input === 'string') return { text: input.replace(/^\uFEFF/, ''), encoding: { name: 'text', bom: 0 } };
  const b = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const utf16 = () => b.subarray(2, 2 + ((b.length - 2) & ~1));
  if (b[0] === 0xff && b[1] === 0xfe) return { text: utf16().toString('utf16le'), encoding: { name: 'utf-16le', bom: 2 } };
  if (b[0] === 0xfe && b[1] === 0xff) return { text: Buffer.from(utf16()).swap16().toString('utf16le'), encoding: { name: 'utf-16be', bom: 2 } };
  // no BOM: the XML declaration names the encoding (XML 1.0 §4.3.3, Appendix F); producers write ISO-8859-2,
  // windows-1250 and the like (e-Szigno). Read as UTF-8, their accented letters would break every digest.
  const label = /^<\?xml\s[^>]*?encoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']/.exec(b.subarray(0, 256).toString('latin1'))?.[1];
  if (label && !/^utf-?8$/i.test(label)) {
    let decoder: TextDecoder;
    try {
      decoder = new TextDecoder(label, { fatal: true });
    } catch {
      throw new TrucError('malformed_xml', `the XML declares the encoding "${label}", which we cannot read`);
    }
    if (decoder.encoding !== 'utf-8') {
      try {
        const decoded = decoder.decode(b);
        if (!COMPOSED_ENCODINGS.has(decoder.encoding) || opts.asDecoded) return { text: decoded, encoding: { name: decoder.encoding, bom: 0 } };
        const text = decoded.normalize('NFC');
        return { text, encoding: { name: decoder.encoding, bom: 0, ...(text !== decoded ? { composed: true } : {}) } };
      } catch {
        throw new TrucError('malformed_xml', `the XML is not valid ${label}`);
      }
    }
  }
  const bom = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  return { text: b.subarray(bom).toString('utf8'), encoding: { name: 'utf-8', bom } };
}

/** The document's characters (see `readXml`). */
export function xmlText(input: Uint8Array | string, opts: ReadXmlOptions = {}): string {
  return readXml(input, opts).text;
}

export function parseXml(input: Uint8Array | string, opts: ReadXmlOptions = {}): Document {
  const text = xmlText(input, opts);
  if (Buffer.byteLength(text) > MAX_XML_BYTES) throw new TrucError('too_large', `XML of more than ${MAX_XML_BYTES} bytes`);
  if (/<!DOCTYPE/i.test(text) || /<!ENTITY/i.test(text)) throw new TrucError('malformed_xml', 'XML with a document type declaration is refused (no DTDs, no entities)');
  checkShape(text);
  const errors: string[] = [];
  let doc: ReturnType<DOMParser['parseFromString']> | undefined;
  try {
    doc = new DOMParser({
      // the first error ends the parse: a parser that goes on after each error collects one per stray "<"
      // (megabytes of them hold the event loop for a minute), and one is enough to refuse the document
      onError: (level: string, msg: string) => {
        if (level === 'warning') return;
        errors.push(msg);
        throw new Error(msg);
      },
    } as never).parseFromString(text, 'application/xml');
  } catch (e) {
    // what onError threw comes back wrapped ("Reporting error … caused …"): the first message is the one kept
    errors.push((e as Error).message);
  }
  if (errors.length || !doc?.documentElement) throw new TrucError('malformed_xml', `not well-formed XML: ${errors[0] ?? 'no root element'}`);
  return doc as unknown as Document;
}
