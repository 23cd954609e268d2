/**
 * X-Road's message protocol for SOAP (PR-MESS 4.0) on the information-system side: what an agency's system
 * written for X-Road's SOAP services sends works unchanged.
 *
 * A SOAP 1.1 envelope (`text/xml`, or the first part of a `multipart/related` message with attachments, MTOM
 * included) names the client, the service, the message id and the protocol version in its header, in the
 * namespaces `http://x-road.eu/xsd/xroad.xsd` and `http://x-road.eu/xsd/identifiers`. The servers carry the
 * message byte for byte (the envelope and the attachments, as the information system wrote them) inside the
 * signed message of `./message.ts`; only Content-Type and SOAPAction reach the service. The provider's
 * server checks that the service's response repeats the request's header fields, writes `requestHash`
 * (SHA-512 of the request's SOAP part, base64) into the response's header, and the consumer's server checks
 * both again before the client sees the response. Failures of the axis reach the client as SOAP faults with
 * X-Road's fault codes.
 *
 * This module reads and edits the bytes; `./consumer.ts` and `./provider.ts` carry them. The envelope is
 * parsed as a stream (saxes, no document type declarations), edits are made on the bytes at positions the
 * parser reported, so nothing of the message is re-serialised.
 *
 * Only the envelope is held in memory. A `text/xml` message is the envelope, read whole and bounded by
 * `SOAP_MAX_BYTES`; a `multipart/related` one (attachments, MTOM) is read only until its SOAP part has ended
 * (`readSoapHead`, that much bounded the same way) and the attachments after it stream on through the
 * servers as a REST body does: spooled, logged, signed over their hash, forwarded.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { TrucError, isTrucError, toProblem } from '../../errors.js';
import { MEMBER_SERVICES, memberId, memberServiceId, representedParty, representedPartyHeader, serverId, serviceId, subsystemId, type ServerId, type ServiceId, type SubsystemId } from '../ids.js';
import { problemMessageVi, xroadFault, type ErrorOrigin } from './xroad-error.js';
import { MAX_XML_DEPTH } from '../../sign/xades/parse.js';

export const SOAP_ENV_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
export const XRD_NS = 'http://x-road.eu/xsd/xroad.xsd';
/** X-Road's third-party representation extension (PR-THIRDPARTY): the `representedParty` header field */
export const REPR_NS = 'http://x-road.eu/xsd/representation.xsd';
export const ID_NS = 'http://x-road.eu/xsd/identifiers';
export const SHA512_URI = 'http://www.w3.org/2001/04/xmlenc#sha512';
/** Trục's own elements in a fault's detail (the stable code and the Vietnamese and English text) */
export const TRUC_NS = 'urn:truc:exchange';

/**
 * The envelope is held whole while it passes (it is parsed, and the response edited): its size is bounded —
 * a `text/xml` message's whole body, a multipart message's bytes up to the end of its SOAP part.
 */
export const SOAP_MAX_BYTES = 64 * 1024 * 1024;

/** The X-Road header fields whose values a response must repeat (PR-MESS 2.2). */
const COPIED = ['client', 'service', 'centralService', 'id', 'userId', 'issue', 'protocolVersion'] as const;
const ID_FIELDS = new Set(['client', 'service', 'centralService', 'securityServer']);
const ID_PARTS = ['xRoadInstance', 'memberClass', 'memberCode', 'subsystemCode', 'groupCode', 'serviceCode', 'serviceVersion', 'securityCategoryCode', 'serverCode'];

export interface XrdIdentifier {
  objectType: string;
  parts: Record<string, string>;
}

export interface SoapFields {
  client?: XrdIdentifier;
  service?: XrdIdentifier;
  centralService?: XrdIdentifier;
  /** PR-TARGETSS: the provider's security server the client wants the message to go to */
  securityServer?: XrdIdentifier;
  id?: string;
  userId?: string;
  issue?: string;
  protocolVersion?: string;
  requestHash?: string;
  /** PR-THIRDPARTY: the party the client acts for, as written (checked by `soapRequest`) */
  representedParty?: { partyClass?: string; partyCode?: string };
}

export interface ParsedSoap {
  /**
   * the HTTP body's bytes in hand: the whole body (the envelope, or the multipart message holding it), or —
   * for a multipart message read by `readSoapHead` — its beginning, up to and past the end of the SOAP part
   */
  message: Buffer;
  /** the SOAP envelope's bytes, and where they start in `message` */
  part: Buffer;
  partOffset: number;
  fields: SoapFields;
  /** the body's first element: the service's wrapper element, or a Fault */
  body: { ns: string; local: string } | null;
  /** how many elements the Body holds (one in a message of the protocol) */
  bodyChildren: number;
  fault: boolean;
  /** byte offsets in `part`: the Header's end tag, an existing requestHash element (start, end) */
  headerEnd: number;
  hashRange: [number, number] | null;
}

interface MediaType {
  type: string;
  params: Record<string, string>;
}

/** `type/subtype; name=value; name="quoted value"` (names lower-cased, quotes and escapes undone). */
export function parseMediaType(text: string): MediaType {
  const semi = text.indexOf(';');
  const type = (semi < 0 ? text : text.slice(0, semi)).trim().toLowerCase();
  const params: Record<string, string> = {};
  let i = semi < 0 ? text.length : semi + 1;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) break;
    const name = text.slice(i, eq).replace(/^[\s;]+/, '').trim().toLowerCase();
    let j = eq + 1;
    while (text[j] === ' ' || text[j] === '\t') j++;
    let value = '';
    if (text[j] === '"') {
      j++;
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\' && j + 1 < text.length) j++;
        value += text[j];
        j++;
      }
      j++;
      const next = text.indexOf(';', j);
      i = next < 0 ? text.length : next + 1;
    } else {
      const next = text.indexOf(';', j);
      value = (next < 0 ? text.slice(j) : text.slice(j, next)).trim();
      i = next < 0 ? text.length : next + 1;
    }
    if (name) params[name] = value;
  }
  return { type, params };
}

// SOAP 1.2's type is recognised so that its sender is told SOAP 1.1 is the protocol (Client.InvalidContentType)
const SOAP_TYPES = new Set(['text/xml', 'multipart/related', 'application/xop+xml', 'application/soap+xml']);

/** A call in X-Road's SOAP protocol: a POST of a SOAP 1.1 envelope, with or without attachments. */
export function isSoapCall(method: string | undefined, contentType: string | undefined, soapAction: string | string[] | undefined): boolean {
  if (method !== 'POST') return false;
  if (soapAction !== undefined) return true;
  return !!contentType && SOAP_TYPES.has(parseMediaType(contentType).type);
}

const bad = (fault: string, message: string) => new TrucError('bad_request', message, { xroadFault: fault });

interface FoundPart {
  part: Buffer;
  offset: number;
  type: MediaType;
}

/**
 * The multipart message's SOAP part (the `start` part, else the first) and its media type. `complete`: the
 * whole message is in hand; otherwise `message` is its beginning and null means the SOAP part has not ended
 * in it yet (read more).
 */
/** the most a MIME part's headers may take */
const MAX_PART_HEAD = 64 * 1024;

function soapPartOf(message: Buffer, mt: MediaType, complete = true, resume?: { at: number }): FoundPart | null {
  const boundary = mt.params.boundary;
  if (!boundary) throw bad('MimeParsingFailed', 'a multipart/related message without a boundary parameter');
  const delim = Buffer.from(`--${boundary}`, 'latin1');
  // a message read in pieces is looked through again from the first part not passed yet
  let at = resume && resume.at > 0 ? resume.at : message.indexOf(delim);
  const start = mt.params.start?.trim();
  while (at >= 0) {
    if (resume) resume.at = at;
    let p = at + delim.length;
    if (message[p] === 0x2d && message[p + 1] === 0x2d) break; // closing delimiter
    // the rest of the delimiter line (transport padding), then the part's headers up to an empty line
    const eol = message.indexOf('\r\n', p);
    if (eol < 0) break;
    p = eol + 2;
    const headEnd = message.indexOf('\r\n\r\n', p - 2);
    // a part's headers are a few lines: bounded, so that a message read in pieces is not looked through
    // again and again for an end that does not come
    if ((headEnd < 0 ? message.length : headEnd) - p > MAX_PART_HEAD)
      throw bad('MimeParsingFailed', `a MIME part's headers longer than ${MAX_PART_HEAD} bytes`);
    if (headEnd < 0) {
      if (!complete) return null;
      throw bad('MimeParsingFailed', 'a MIME part without the empty line after its headers');
    }
    const head = message.subarray(p, headEnd).toString('latin1');
    const contentStart = headEnd + 4;
    const next = message.indexOf(Buffer.concat([Buffer.from('\r\n', 'latin1'), delim]), contentStart - 2);
    if (next < 0) {
      if (!complete) return null;
      throw bad('MimeParsingFailed', 'a MIME part without a closing boundary');
    }
    const headers: Record<string, string> = {};
    for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
      const c = line.indexOf(':');
      if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
    }
    const id = headers['content-id'];
    if (!start || id === start || `<${id}>` === start || id === `<${start}>`) {
      const cte = (headers['content-transfer-encoding'] ?? '8bit').toLowerCase();
      if (!['8bit', '7bit', 'binary'].includes(cte)) throw bad('MimeParsingFailed', `the SOAP part's Content-Transfer-Encoding is ${cte}; X-Road's protocol asks for 8bit`);
      return { part: message.subarray(contentStart, Math.max(contentStart, next)), offset: contentStart, type: parseMediaType(headers['content-type'] ?? 'text/xml') };
    }
    at = next + 2;
  }
  if (!complete) return null;
  throw bad('MimeParsingFailed', start ? `the multipart message has no part with Content-ID ${start}` : 'the multipart message has no parts');
}

/** The encoding an XML declaration names (`<?xml version="1.0" encoding="windows-1258"?>`), when the transport names none. */
function declaredEncoding(part: Buffer): string | undefined {
  const head = part.subarray(0, 200).toString('latin1');
  return /^(?:\xef\xbb\xbf)?<\?xml[^>]*\sencoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head)?.[1];
}

const SINGLE_BYTE = /^(us-ascii|ascii|iso-8859-\d+|latin1|windows-125\d|cp125\d|koi8-[ru])$/;

/** Reads the envelope's characters and the way back from a character's index to its byte offset. */
function decode(part: Buffer, charset: string): { text: string; byteAt: (i: number) => number } {
  const cs = charset.toLowerCase();
  // a UTF-16 byte-order mark names the encoding whatever the transport says (XML 1.0 Appendix F)
  if ((part[0] === 0xff && part[1] === 0xfe) || (part[0] === 0xfe && part[1] === 0xff))
    throw bad('InvalidContentType', "the SOAP message is UTF-16 (its byte-order mark says so), which is not supported; X-Road's SOAP messages are UTF-8 (or a single-byte encoding)");
  if (cs === 'utf-8' || cs === 'utf8') {
    const bom = part[0] === 0xef && part[1] === 0xbb && part[2] === 0xbf ? 3 : 0;
    const text = part.subarray(bom).toString('utf8');
    if (text.includes('\ufffd') && !Buffer.from(text, 'utf8').equals(part.subarray(bom))) throw bad('InvalidSoap', 'the SOAP message is not valid UTF-8');
    return { text, byteAt: (i) => bom + Buffer.byteLength(text.slice(0, i), 'utf8') };
  }
  if (SINGLE_BYTE.test(cs)) {
    let text: string;
    try {
      text = new TextDecoder(cs).decode(part);
    } catch {
      throw bad('InvalidContentType', `the character encoding ${charset} is not supported`);
    }
    if (text.length !== part.length) throw bad('InvalidSoap', `the SOAP message is not valid ${charset}`);
    return { text, byteAt: (i) => i };
  }
  throw bad('InvalidContentType', `the character encoding ${charset} is not supported; X-Road's SOAP messages are UTF-8 (or a single-byte encoding)`);
}

/**
 * Parses a SOAP message as X-Road's protocol sends it. `contentType` is the HTTP Content-Type (or the one the
 * message was carried with). Throws `bad_request` with X-Road's fault name in `xroadFault` for a message
 * that is not one (MissingHeader, MissingBody, DuplicateHeaderField, InvalidSoap, MimeParsingFailed, …).
 */
export function parseSoap(message: Buffer, contentType: string): ParsedSoap {
  const mt = parseMediaType(contentType || 'text/xml');
  return parseEnvelope(message, mt, mt.type === 'multipart/related' ? soapPartOf(message, mt)! : { part: message, offset: 0, type: mt });
}

/**
 * `parseSoap` for the servers' paths: an envelope of more than `PARSE_SLICE` characters is parsed a slice at
 * a time, the event loop turning between slices, so that one large envelope (up to `SOAP_MAX_BYTES`, ~2 s of
 * parsing at 64 MiB of small elements) does not hold every other exchange of the server while it is read.
 */
export async function parseSoapYielding(message: Buffer, contentType: string): Promise<ParsedSoap> {
  const mt = parseMediaType(contentType || 'text/xml');
  return parseEnvelopeYielding(message, mt, mt.type === 'multipart/related' ? soapPartOf(message, mt)! : { part: message, offset: 0, type: mt });
}

/** the characters parsed between two turns of the event loop (~10–30 ms of parsing) */
export const PARSE_SLICE = 512 * 1024;

/** The envelope found in `message` (the whole body, or the part of a multipart message) read and checked. */
function parseEnvelope(message: Buffer, mt: MediaType, found: FoundPart): ParsedSoap {
  const r = envelopeReader(message, mt, found);
  r.write(r.text);
  return r.finish();
}

async function parseEnvelopeYielding(message: Buffer, mt: MediaType, found: FoundPart): Promise<ParsedSoap> {
  const r = envelopeReader(message, mt, found);
  // saxes carries a surrogate or CR left at a slice's end over to the next one
  for (let at = 0; at < r.text.length && !r.failed(); at += PARSE_SLICE) {
    if (at > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    r.write(r.text.slice(at, at + PARSE_SLICE));
  }
  return r.finish();
}

/**
 * The parser of one envelope, fed its text (whole or in slices) and then finished: the fields read, the
 * checks made, or the first failure thrown.
 */
function envelopeReader(message: Buffer, mt: MediaType, found: FoundPart): { text: string; write(slice: string): void; failed(): boolean; finish(): ParsedSoap } {
  const { part, offset: partOffset, type: partType } = found;
  if (partType.type !== 'text/xml' && partType.type !== 'application/xop+xml')
    throw bad('InvalidContentType', `a SOAP message is text/xml (or multipart/related with a text/xml or MTOM part), not ${partType.type || 'without a type'}`);
  const { text, byteAt } = decode(part, partType.params.charset ?? mt.params.charset ?? declaredEncoding(part) ?? 'utf-8');

  const fields: SoapFields = {};
  const seen = new Set<string>();
  let depth = 0;
  let inHeader = false;
  let sawHeader = false;
  let sawBody = false;
  let headerEnd = -1;
  let hashRange: [number, number] | null = null;
  let hashStart = -1;
  let body: ParsedSoap['body'] = null;
  let bodyChildren = 0;
  let field: { name: string; text: string; id?: XrdIdentifier; attrs: Record<string, string> } | null = null;
  let idPart: { name: string; text: string } | null = null;
  let repr: { partyClass?: string; partyCode?: string } | null = null;
  let reprPart: { name: 'partyClass' | 'partyCode'; text: string } | null = null;
  const p = new SaxesParser({ xmlns: true, position: true });
  let failure: Error | null = null;
  const fail = (e: Error) => {
    failure ??= e;
  };
  p.on('error', (e) => fail(bad('InvalidXml', `the SOAP message is not well-formed XML: ${e.message}`)));
  p.on('doctype', () => fail(bad('InvalidSoap', 'a SOAP message must not contain a document type declaration')));
  p.on('opentag', (t: SaxesTagNS) => {
    depth++;
    // the parser resolves every name along the open elements: unbounded nesting is quadratic (200,000
    // levels, 1.4 MB, would hold the event loop for minutes), so the parse stops here
    if (depth > MAX_XML_DEPTH) throw bad('InvalidXml', `the SOAP message nests elements deeper than ${MAX_XML_DEPTH} levels`);
    if (depth === 1) {
      if (t.uri !== SOAP_ENV_NS || t.local !== 'Envelope') fail(bad('InvalidSoap', `the root element is {${t.uri}}${t.local}, not a SOAP 1.1 Envelope`));
      return;
    }
    if (depth === 2) {
      if (t.uri !== SOAP_ENV_NS) return fail(bad('InvalidSoap', `an element {${t.uri}}${t.local} directly in the Envelope`));
      if (t.local === 'Header') {
        if (sawHeader || sawBody) fail(bad('InvalidSoap', 'the Envelope holds more than one Header, or a Header after the Body'));
        sawHeader = inHeader = true;
      } else if (t.local === 'Body') {
        if (sawBody) fail(bad('InvalidSoap', 'the Envelope holds more than one Body'));
        sawBody = true;
      } else fail(bad('InvalidSoap', `an element ${t.local} directly in the Envelope`));
      return;
    }
    if (depth === 3 && inHeader && t.uri === REPR_NS && t.local === 'representedParty') {
      if (seen.has('repr:representedParty')) fail(bad('DuplicateHeaderField', 'the header field representedParty appears twice'));
      seen.add('repr:representedParty');
      repr = {};
      return;
    }
    if (depth === 4 && repr) {
      if (t.uri !== REPR_NS || (t.local !== 'partyClass' && t.local !== 'partyCode')) fail(bad('InvalidSoap', `representedParty holds an element {${t.uri}}${t.local}`));
      else if (repr[t.local] !== undefined) fail(bad('DuplicateHeaderField', `representedParty names ${t.local} twice`));
      else reprPart = { name: t.local, text: '' };
      return;
    }
    if (depth === 3 && inHeader && t.uri === XRD_NS) {
      if (seen.has(t.local)) fail(bad('DuplicateHeaderField', `the header field ${t.local} appears twice`));
      seen.add(t.local);
      const attrs: Record<string, string> = {};
      for (const a of Object.values(t.attributes)) attrs[`{${a.uri}}${a.local}`] = a.value;
      field = { name: t.local, text: '', attrs };
      if (ID_FIELDS.has(t.local)) field.id = { objectType: attrs[`{${ID_NS}}objectType`] ?? '', parts: {} };
      if (t.local === 'requestHash') hashStart = text.lastIndexOf('<', p.position - 1);
      return;
    }
    if (depth === 3 && !inHeader && sawBody) {
      bodyChildren++;
      if (!body) body = { ns: t.uri, local: t.local };
      return;
    }
    if (depth === 4 && field?.id) {
      if (t.uri !== ID_NS) fail(bad('InvalidSoap', `the identifier ${field.name} holds an element {${t.uri}}${t.local}`));
      else if (field.id.parts[t.local] !== undefined) fail(bad('DuplicateHeaderField', `the identifier ${field.name} names ${t.local} twice`));
      idPart = { name: t.local, text: '' };
    }
  });
  const onText = (s: string) => {
    if (idPart) idPart.text += s;
    else if (reprPart) reprPart.text += s;
    else if (field && depth === 3) field.text += s;
  };
  p.on('text', onText);
  p.on('cdata', onText);
  p.on('closetag', () => {
    if (depth === 4 && repr) {
      if (reprPart) repr[reprPart.name] = reprPart.text.trim();
      reprPart = null;
    } else if (depth === 3 && repr) {
      fields.representedParty = repr;
      repr = null;
    } else if (depth === 4 && idPart && field?.id) {
      field.id.parts[idPart.name] = idPart.text.trim();
      idPart = null;
    } else if (depth === 3 && field) {
      const f = field;
      field = null;
      if (f.id) (fields as Record<string, unknown>)[f.name] = f.id;
      else if (f.name === 'requestHash') {
        fields.requestHash = f.text.replace(/\s+/g, '');
        hashRange = [hashStart, p.position];
      } else if ((COPIED as readonly string[]).includes(f.name)) (fields as Record<string, unknown>)[f.name] = f.text.trim();
    } else if (depth === 2 && inHeader) {
      inHeader = false;
      headerEnd = text.lastIndexOf('</', p.position - 1);
    }
    depth--;
  });
  const guarded = (step: () => void) => {
    if (failure) return;
    try {
      step();
    } catch (e) {
      fail(isTrucError(e) ? e : bad('InvalidXml', `the SOAP message is not well-formed XML: ${(e as Error).message}`));
    }
  };
  return {
    text,
    write: (slice) => guarded(() => p.write(slice)),
    failed: () => failure !== null,
    finish: () => {
      guarded(() => p.close());
      if (failure) throw failure;
      if (!sawBody) throw bad('MissingBody', 'Malformed SOAP message: body missing');
      const b = body as ParsedSoap['body'];
      const range = hashRange as [number, number] | null;
      return {
        message,
        part,
        partOffset,
        fields,
        body: b,
        bodyChildren,
        fault: !!b && b.ns === SOAP_ENV_NS && b.local === 'Fault',
        headerEnd: headerEnd < 0 ? -1 : byteAt(headerEnd),
        hashRange: range ? [byteAt(range[0]), byteAt(range[1])] : null,
      };
    },
  };
}

/** the most of an envelope `bodyChildren` reads again: a metaservice's request is a few elements */
const MAX_META_REQUEST = 64 * 1024;

/** An element below the body's wrapper element: its path of local names from the wrapper's child down. */
export interface BodyElement {
  path: string;
  text: string;
  /** `id:objectType` when present */
  objectType?: string;
}

/**
 * Every element below the body's wrapper element of an envelope already checked, in document order, with its
 * own text (trimmed), read again as UTF-8 (as X-Road sends what a server answers itself). Throws the parser's
 * error as it comes (the callers say what could not be read), or when there are more than `maxElements`.
 */
function walkBody(parsed: ParsedSoap, maxElements: number): BodyElement[] {
  const out: BodyElement[] = [];
  const p = new SaxesParser({ xmlns: true });
  const stack: string[] = [];
  const open: (BodyElement | null)[] = [];
  let inBody = false;
  p.on('opentag', (t: SaxesTagNS) => {
    stack.push(t.local);
    if (stack.length === 2) inBody = t.uri === SOAP_ENV_NS && t.local === 'Body';
    if (inBody && stack.length >= 4) {
      if (out.length >= maxElements) throw new Error(`more than ${maxElements} elements`);
      const objectType = Object.values(t.attributes).find((x) => x.uri === ID_NS && x.local === 'objectType')?.value;
      const el: BodyElement = { path: stack.slice(3).join('/'), text: '', ...(objectType !== undefined ? { objectType } : {}) };
      out.push(el);
      open.push(el);
    } else open.push(null);
  });
  const onText = (x: string) => {
    const el = open[open.length - 1];
    if (el) el.text += x;
  };
  p.on('text', onText);
  p.on('cdata', onText);
  p.on('closetag', () => {
    const el = open.pop();
    if (el) el.text = el.text.trim();
    stack.pop();
  });
  p.write(parsed.part.toString('utf8')).close();
  return out;
}

/**
 * The text of each child element of the body's wrapper element, by local name (`getWsdl`'s `serviceCode` and
 * `serviceVersion`): read again from the envelope already checked, for the metaservices this server answers.
 */
export function bodyChildren(parsed: ParsedSoap): Record<string, string> {
  if (parsed.part.length > MAX_META_REQUEST)
    throw new TrucError('bad_request', `a metaservice's request is at most ${MAX_META_REQUEST} bytes`, { xroadFault: 'InvalidBody', reason_vi: `yêu cầu dịch vụ siêu dữ liệu tối đa ${MAX_META_REQUEST} byte` });
  let elements: BodyElement[];
  try {
    elements = walkBody(parsed, Infinity);
  } catch (e) {
    throw new TrucError('bad_request', `a metaservice's request is read as UTF-8 and this one is not: ${(e as Error).message.slice(0, 200)}`, {
      xroadFault: 'InvalidBody',
      reason_vi: 'yêu cầu dịch vụ siêu dữ liệu được đọc theo UTF-8, yêu cầu này không phải UTF-8',
    });
  }
  const out: Record<string, string> = Object.create(null);
  for (const el of elements) if (!el.path.includes('/')) out[el.path] ??= el.text;
  return out;
}

/**
 * Every element below the body's wrapper element, in document order, with its text (trimmed): the nested
 * request of a service this server answers itself (operational monitoring's `searchCriteria`, `outputSpec`).
 */
export function bodyElements(parsed: ParsedSoap, maxElements = 1000): BodyElement[] {
  if (parsed.part.length > MAX_META_REQUEST)
    throw new TrucError('bad_request', `a request this server answers itself is at most ${MAX_META_REQUEST} bytes`, { xroadFault: 'InvalidBody', reason_vi: `yêu cầu máy chủ tự trả lời tối đa ${MAX_META_REQUEST} byte` });
  try {
    return walkBody(parsed, maxElements);
  } catch (e) {
    throw new TrucError('bad_request', `the request's body cannot be read: ${(e as Error).message.slice(0, 200)}`, {
      xroadFault: 'InvalidBody',
      reason_vi: 'không đọc được thân yêu cầu (đọc theo UTF-8)',
    });
  }
}

/** A SOAP message whose envelope is read and checked, and what follows the bytes read. */
export interface SoapHead {
  /** `parsed.message` holds the bytes read */
  parsed: ParsedSoap;
  /** the message's bytes after `parsed.message`, not read yet; null when the message ended within them */
  rest: AsyncIterator<Buffer | Uint8Array> | null;
  /** stops reading the rest (the source stream is destroyed) when it is not wanted */
  close(): Promise<void>;
}

/**
 * Reads a SOAP message from a stream as far as its envelope goes: a `text/xml` message whole, a
 * `multipart/related` one until its SOAP part has ended (the attachments after it are left in the stream).
 * What is read is bounded by `limit` (`too_large` beyond); the envelope is parsed and checked as `parseSoap`
 * does, with the same faults. On a failure the source is left as it is: the caller decides whether it is
 * closed (a client's request stays open for the fault that answers it).
 */
export async function readSoapHead(source: AsyncIterable<Buffer | Uint8Array>, contentType: string, limit: number): Promise<SoapHead> {
  const mt = parseMediaType(contentType || 'text/xml');
  const it = source[Symbol.asyncIterator]();
  const close = async () => {
    await it.return?.();
  };
  let buf = Buffer.allocUnsafe(64 * 1024);
  let len = 0;
  const tooLarge = () =>
    new TrucError('too_large', mt.type === 'multipart/related' ? `the SOAP part of a multipart message is held in memory: it must end within the message's first ${limit} bytes` : `a SOAP message is held whole while it passes: at most ${limit} bytes`, { limit });
  // the end of a part is a CRLF and a delimiter: the parts are looked for again only once one came in
  const end = mt.type === 'multipart/related' && mt.params.boundary ? Buffer.from(`\r\n--${mt.params.boundary}`, 'latin1') : null;
  let looked = 0;
  const resume = { at: 0 };
  if (mt.type === 'multipart/related') soapPartOf(Buffer.alloc(0), mt, false);
  for (;;) {
    const r = await it.next();
    if (r.done) {
      const parsed = await parseSoapYielding(buf.subarray(0, len), contentType);
      if (parsed.partOffset + parsed.part.length > limit) throw tooLarge();
      return { parsed, rest: null, close };
    }
    const c = r.value;
    // the bytes before this piece were within the limit: the SOAP part may end in it
    if (len >= limit || (!end && len + c.length > limit)) throw tooLarge();
    if (len + c.length > buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(Math.min(buf.length * 2, limit), len + c.length));
      buf.copy(grown, 0, 0, len);
      buf = grown;
    }
    buf.set(c, len);
    len += c.length;
    if (!end) continue;
    const message = buf.subarray(0, len);
    if (message.indexOf(end, Math.max(0, looked - end.length)) < 0) {
      looked = len;
      continue;
    }
    looked = len;
    const found = soapPartOf(message, mt, false, resume);
    if (found) {
      if (found.offset + found.part.length > limit) throw tooLarge();
      return { parsed: await parseEnvelopeYielding(message, mt, found), rest: it, close };
    }
    if (len >= limit) throw tooLarge();
  }
}

/** The message again as a stream: the bytes read, then the rest. */
export async function* soapMessageBytes(head: Buffer, rest: AsyncIterator<Buffer | Uint8Array> | null): AsyncGenerator<Buffer> {
  if (head.length) yield head;
  if (!rest) return;
  for (;;) {
    const r = await rest.next();
    if (r.done) return;
    yield Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
  }
}

function clientOf(x: XrdIdentifier): SubsystemId {
  const p = x.parts;
  if (x.objectType === 'MEMBER' || (x.objectType === 'SUBSYSTEM' && !p.subsystemCode))
    throw new TrucError('unknown_client', 'only subsystems are clients of the axis: the client header names a member without a subsystemCode', { xroadFault: 'InvalidClientIdentifier' });
  if (x.objectType !== 'SUBSYSTEM') throw new TrucError('unknown_client', `the client's objectType is ${x.objectType || 'missing'}, not SUBSYSTEM`, { xroadFault: 'InvalidClientIdentifier' });
  try {
    return subsystemId(memberId(p.xRoadInstance ?? '', p.memberClass ?? '', p.memberCode ?? ''), p.subsystemCode!);
  } catch (e) {
    throw isTrucError(e) ? new TrucError('bad_identifier', e.message, { xroadFault: 'InvalidClientIdentifier' }) : e;
  }
}

function serviceOf(x: XrdIdentifier): ServiceId {
  const p = x.parts;
  if (x.objectType !== 'SERVICE') throw bad('InvalidRequest', `the service's objectType is ${x.objectType || 'missing'}, not SERVICE`);
  try {
    // a member's own service (no subsystem): X-Road's operational monitoring, offered by a server's owner
    if (!p.subsystemCode) {
      if (!MEMBER_SERVICES.has(p.serviceCode ?? '')) throw new TrucError('unknown_service', 'services of the axis belong to subsystems: the service header has no subsystemCode');
      // X-Road's operational monitoring services are recognised by the provider and the code alone: a version
      // in the header is ignored (OpMonitoringServiceHandlerImpl.canHandle); getSecurityServerMetrics is
      // recognised by its whole identifier, so that one with a version is a service nobody offers
      if (p.serviceVersion && p.serviceCode === 'getSecurityServerMetrics') throw new TrucError('unknown_service', `${p.serviceCode} has no versions`, { reason_vi: `${p.serviceCode} không có phiên bản` });
      return memberServiceId(memberId(p.xRoadInstance ?? '', p.memberClass ?? '', p.memberCode ?? ''), p.serviceCode!);
    }
    return serviceId(subsystemId(memberId(p.xRoadInstance ?? '', p.memberClass ?? '', p.memberCode ?? ''), p.subsystemCode), p.serviceCode ?? '', p.serviceVersion || undefined);
  } catch (e) {
    if (isTrucError(e) && e.code === 'unknown_service') throw e;
    throw isTrucError(e) ? new TrucError('bad_identifier', e.message, { xroadFault: 'InvalidRequest' }) : e;
  }
}

export interface SoapRequest {
  parsed: ParsedSoap;
  client: SubsystemId;
  service: ServiceId;
  id: string;
  /** requestHash of the response to come: SHA-512 of the SOAP part, base64 */
  hash: string;
  /** what travels to the service besides the body (and what the log keeps of the user and case) */
  headers: Record<string, string>;
  /** PR-TARGETSS: the provider's server the message must go to */
  target?: ServerId;
}

/** Reads an information system's SOAP request: its identifiers, id and version checked as X-Road does. */
export function soapRequest(message: Buffer | ParsedSoap, contentType: string, soapAction?: string): SoapRequest {
  const parsed = Buffer.isBuffer(message) ? parseSoap(message, contentType) : message;
  const f = parsed.fields;
  if (parsed.headerEnd < 0) throw bad('MissingHeader', 'Malformed SOAP message: header missing');
  if (!f.client) throw bad('MissingHeaderField', 'Required field \'client\' is missing');
  if (f.centralService && !f.service) throw new TrucError('unsupported', 'central services are not defined on this axis: name the service itself', { xroadFault: 'InvalidRequest' });
  if (!f.service) throw bad('MissingHeaderField', 'Required field \'service\' is missing');
  if (!f.id) throw bad('MissingHeaderField', 'Required field \'id\' is missing');
  if (!f.protocolVersion) throw bad('MissingHeaderField', 'Required field \'protocolVersion\' is missing');
  if (!/^4\.\S*$/.test(f.protocolVersion)) throw bad('InvalidProtocolVersion', `unsupported protocol version ${f.protocolVersion}: this server speaks X-Road's message protocol 4.x`);
  if (f.id.length > 255 || /[\p{Cc}]/u.test(f.id)) throw bad('InvalidMessage', 'the message id is longer than 255 characters or holds control characters');
  const client = clientOf(f.client);
  const service = serviceOf(f.service);
  if (!parsed.body) throw bad('MissingBody', 'Malformed SOAP message: the body holds no element');
  if (parsed.bodyChildren > 1) throw bad('InvalidBody', `Malformed SOAP message: the body must hold exactly one element (it holds ${parsed.bodyChildren})`);
  // document/literal wrapped: the request's wrapper element is named after the service code (PR-MESS 2.3)
  if (parsed.body.local !== service.serviceCode) throw bad('InvalidBody', `Malformed SOAP message: the body element ${parsed.body.local} does not match the service code ${service.serviceCode}`);
  const headers: Record<string, string> = { 'content-type': contentType };
  if (soapAction !== undefined) headers.soapaction = soapAction;
  if (f.userId) headers['x-road-userid'] = f.userId;
  if (f.issue) headers['x-road-issue'] = f.issue;
  if (f.representedParty) {
    const r = f.representedParty;
    if (r.partyCode === undefined) throw bad('MissingHeaderField', "Required field 'partyCode' of representedParty is missing");
    try {
      // carried in the signed header as REST carries it, so that both servers' records name it
      headers['x-road-represented-party'] = representedPartyHeader(representedParty(r.partyClass, r.partyCode));
    } catch (e) {
      throw isTrucError(e) ? bad('InvalidHeaderField', e.message) : e;
    }
  }
  let target: ServerId | undefined;
  if (f.securityServer) {
    const p = f.securityServer.parts;
    if (f.securityServer.objectType !== 'SERVER' || !p.serverCode) throw new TrucError('bad_identifier', 'the securityServer header field names no SERVER with a serverCode', { xroadFault: 'InvalidSecurityServer' });
    try {
      target = serverId(memberId(p.xRoadInstance ?? '', p.memberClass ?? '', p.memberCode ?? ''), p.serverCode);
    } catch (e) {
      throw isTrucError(e) ? new TrucError('bad_identifier', e.message, { xroadFault: 'InvalidSecurityServer' }) : e;
    }
  }
  return { parsed, client, service, id: f.id, hash: requestHashOf(parsed), headers, ...(target ? { target } : {}) };
}

/** requestHash: SHA-512 of the request's SOAP part (PR-MESS 2.2), base64. */
export function requestHashOf(parsed: ParsedSoap): string {
  return createHash('sha512').update(parsed.part).digest('base64');
}

const idEqual = (a?: XrdIdentifier, b?: XrdIdentifier) => {
  if (!a || !b) return !a && !b;
  if (a.objectType !== b.objectType) return false;
  return ID_PARTS.every((k) => (a.parts[k] ?? '') === (b.parts[k] ?? ''));
};

/** A response must repeat the request's header fields with the same values (PR-MESS 2.2); a fault need not. */
export function checkConsistent(request: ParsedSoap, response: ParsedSoap): void {
  if (response.fault) return;
  for (const k of COPIED) {
    // the protocol version is the response's own (a 4.x answer to a 4.x request), as X-Road compares it
    if (k === 'protocolVersion') {
      if (!/^4\.\S*$/.test(response.fields.protocolVersion ?? ''))
        throw new TrucError('service_failed', `Response from server proxy is not consistent with request: the header field protocolVersion is ${response.fields.protocolVersion ? `${response.fields.protocolVersion}, not 4.x` : 'missing'}`, { xroadFault: 'ServiceFailed.InconsistentResponse' });
      continue;
    }
    const a = request.fields[k];
    const b = response.fields[k];
    const same = ID_FIELDS.has(k) ? idEqual(a as XrdIdentifier | undefined, b as XrdIdentifier | undefined) : (a ?? '') === (b ?? '');
    if (!same) throw new TrucError('service_failed', `Response from server proxy is not consistent with request: the header field ${k} differs`, { xroadFault: 'ServiceFailed.InconsistentResponse' });
  }
  // the represented party (PR-THIRDPARTY) is one of them: the answer is given for the party the request named
  const [rq, rs] = [request.fields.representedParty, response.fields.representedParty];
  if (!!rq !== !!rs || (rq && rs && ((rq.partyClass ?? '') !== (rs.partyClass ?? '') || (rq.partyCode ?? '') !== (rs.partyCode ?? ''))))
    throw new TrucError('service_failed', 'Response from server proxy is not consistent with request: the header field representedParty differs', { xroadFault: 'ServiceFailed.InconsistentResponse' });
}

/**
 * The service's response with `requestHash` written into its header (an existing one replaced), its
 * consistency with the request checked first. Faults pass as the service gave them. Of a multipart response
 * read by `readSoapHead`, the bytes read are edited; the rest follows unchanged.
 */
export function withRequestHash(request: ParsedSoap, response: ParsedSoap, hash: string): Buffer {
  checkConsistent(request, response);
  if (response.fault) return response.message;
  if (response.headerEnd < 0) throw new TrucError('service_failed', 'Response from server proxy is not consistent with request: the response has no SOAP header', { xroadFault: 'ServiceFailed.InconsistentResponse' });
  const el = Buffer.from(`<xrd:requestHash xmlns:xrd="${XRD_NS}" algorithmId="${SHA512_URI}">${hash}</xrd:requestHash>`, 'latin1');
  const part = response.part;
  const pieces: Buffer[] = [];
  if (response.hashRange) pieces.push(part.subarray(0, response.hashRange[0]), part.subarray(response.hashRange[1], response.headerEnd));
  else pieces.push(part.subarray(0, response.headerEnd));
  pieces.push(el, part.subarray(response.headerEnd));
  const m = response.message;
  return Buffer.concat([m.subarray(0, response.partOffset), ...pieces, m.subarray(response.partOffset + part.length)]);
}

/** The consumer's server checks what the provider's wrote: the hash of the request it sent, the same fields. */
export function checkResponse(request: ParsedSoap, response: ParsedSoap): void {
  checkConsistent(request, response);
  if (response.fault) return;
  if (response.fields.requestHash !== requestHashOf(request))
    throw new TrucError('service_failed', 'Response from server proxy is not consistent with request: requestHash does not match the request sent', { xroadFault: 'ServiceFailed.InconsistentResponse' });
}

/** Text for an XML element or a quoted attribute. */
export const xmlEscape = (s: string) => s.replace(/[<>&"]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : '&quot;'));

/** A SOAP 1.1 fault as X-Road's servers send it (PR-MESS Annex D.1), with Trục's code and texts in the detail. */
export function soapFault(fault: string, e: unknown, errorId = randomUUID()): Buffer {
  const p = toProblem(e);
  const en = String(p.detail ?? p.code);
  return Buffer.from(
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<SOAP-ENV:Envelope xmlns:SOAP-ENV="${SOAP_ENV_NS}"><SOAP-ENV:Body><SOAP-ENV:Fault>` +
      `<faultcode>${xmlEscape(fault)}</faultcode><faultstring>${xmlEscape(en)}</faultstring><faultactor></faultactor>` +
      `<detail><faultDetail xmlns="">${errorId}</faultDetail>` +
      `<truc:code xmlns:truc="${TRUC_NS}">${xmlEscape(p.code)}</truc:code>` +
      `<truc:message_vi xmlns:truc="${TRUC_NS}">${xmlEscape(problemMessageVi(p as { code: string }))}</truc:message_vi>` +
      `<truc:message_en xmlns:truc="${TRUC_NS}">${xmlEscape(en)}</truc:message_en></detail>` +
      '</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>\n',
    'utf8',
  );
}

/** Answers the information system with a SOAP fault: HTTP 500, as SOAP 1.1 over HTTP asks. */
export function sendSoapFault(res: ServerResponse, e: unknown, origin: ErrorOrigin): void {
  const fault = xroadFault(origin, e);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = soapFault(fault, e);
  res.writeHead(500, { 'content-type': 'text/xml; charset=utf-8', 'content-length': body.length, 'x-road-error': fault });
  res.end(body);
}

/** An X-Road identifier as a header field (`xrd` and `id` prefixes bound on the envelope by `soapEnvelope`). */
export function identifierXml(tag: string, x: XrdIdentifier): string {
  return `<xrd:${tag} id:objectType="${xmlEscape(x.objectType)}">` + Object.entries(x.parts).map(([k, v]) => `<id:${k}>${xmlEscape(v)}</id:${k}>`).join('') + `</xrd:${tag}>`;
}

/**
 * A response envelope (UTF-8) repeating a request's header fields in X-Road's order, around `bodyXml`: what
 * the metaservices answer, and what a service written for the protocol sends back.
 */
export function soapEnvelope(request: SoapFields, bodyXml: string, namespaces = ''): Buffer {
  const text = (tag: string, v?: string) => (v === undefined ? '' : `<xrd:${tag}>${xmlEscape(v)}</xrd:${tag}>`);
  const header =
    (request.client ? identifierXml('client', request.client) : '') +
    (request.service ? identifierXml('service', request.service) : '') +
    (request.centralService ? identifierXml('centralService', request.centralService) : '') +
    (request.securityServer ? identifierXml('securityServer', request.securityServer) : '') +
    text('id', request.id) +
    text('userId', request.userId) +
    text('issue', request.issue) +
    text('protocolVersion', request.protocolVersion) +
    // the party the request was made for, repeated as every header field is (PR-THIRDPARTY)
    (request.representedParty
      ? `<repr:representedParty xmlns:repr="${REPR_NS}">` +
        (request.representedParty.partyClass !== undefined ? `<repr:partyClass>${xmlEscape(request.representedParty.partyClass)}</repr:partyClass>` : '') +
        (request.representedParty.partyCode !== undefined ? `<repr:partyCode>${xmlEscape(request.representedParty.partyCode)}</repr:partyCode>` : '') +
        '</repr:representedParty>'
      : '');
  return Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="${SOAP_ENV_NS}" xmlns:xrd="${XRD_NS}" xmlns:id="${ID_NS}"${namespaces}>` +
      `<SOAP-ENV:Header>${header}</SOAP-ENV:Header><SOAP-ENV:Body>${bodyXml}</SOAP-ENV:Body></SOAP-ENV:Envelope>\n`,
    'utf8',
  );
}

/** An answer this server makes itself (metaservices, monitoring), in the shape of an information system's response. */
export function localAnswer(body: Buffer, contentType: string): IncomingMessage {
  return Object.assign(Readable.from([body]), { statusCode: 200, headers: { 'content-type': contentType, 'content-length': String(body.length) } }) as unknown as IncomingMessage;
}

/**
 * A SOAP envelope with one attachment, as `multipart/related` (SOAP with attachments, the envelope first and
 * named `<envelope>`): getWsdl's WSDL, getSecurityServerOperationalData's records.
 */
export function localMultipartAnswer(envelope: Buffer, attachment: { id: string; type: string; binary?: boolean; bytes: Buffer }, tag: string): IncomingMessage {
  const boundary = `truc-${tag}-${randomUUID()}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Type: text/xml; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\nContent-ID: <envelope>\r\n\r\n`, 'latin1'),
    envelope,
    Buffer.from(`\r\n--${boundary}\r\nContent-Type: ${attachment.type}\r\nContent-Transfer-Encoding: ${attachment.binary ? 'binary' : '8bit'}\r\nContent-ID: <${attachment.id}>\r\n\r\n`, 'latin1'),
    attachment.bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1'),
  ]);
  return localAnswer(body, `multipart/related; type="text/xml"; start="<envelope>"; boundary="${boundary}"`);
}
