/**
 * Hardened XML parsing for signing and validation: a size limit, and no document type declaration at
 * all — which shuts out external entities (XXE) and entity expansion (billion laughs) before the parser
 * sees them. Parse errors are `malformed_xml`, never a half-built tree.
 */
import { DOMParser } from '@xmldom/xmldom';
import { TrucError } from '../../errors.js';

export const MAX_XML_BYTES = 16 * 1024 * 1024;

export function parseXml(input: Uint8Array | string): Document {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
  if (Buffer.byteLength(text) > MAX_XML_BYTES) throw new TrucError('too_large', `XML of more than ${MAX_XML_BYTES} bytes`);
  if (/<!DOCTYPE/i.test(text) || /<!ENTITY/i.test(text)) throw new TrucError('malformed_xml', 'XML with a document type declaration is refused (no DTDs, no entities)');
  const errors: string[] = [];
  let doc: ReturnType<DOMParser['parseFromString']> | undefined;
  try {
    doc = new DOMParser({
      onError: (level: string, msg: string) => {
        if (level !== 'warning') errors.push(msg);
      },
    } as never).parseFromString(text, 'application/xml');
  } catch (e) {
    errors.push((e as Error).message);
  }
  if (errors.length || !doc?.documentElement) throw new TrucError('malformed_xml', `not well-formed XML: ${errors[0] ?? 'no root element'}`);
  return doc as unknown as Document;
}
