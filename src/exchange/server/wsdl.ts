/**
 * WSDL descriptions of the SOAP services a security server's clients provide (X-Road's service descriptions
 * of type WSDL): the provider's operator registers the WSDL 1.1 document of a service, clients fetch it through
 * the axis with X-Road's `getWsdl` metaservice (PR-META 4: the WSDL travels as an attachment of the SOAP
 * response), and the REST `listMethods` names the service's type `WSDL`.
 *
 * The document is kept as given. What is checked is what the metaservice relies on: a WSDL 1.1
 * `definitions` root, and the service's code among its operations (`wsdl:binding/wsdl:operation`, with the
 * version X-Road writes as `id:version` in it; else `wsdl:portType/wsdl:operation`). When it is answered, every
 * endpoint address of its ports is replaced by `http://example.org/xroad-endpoint`, as PR-META asks: the
 * provider's information system is reached only through its security server, and its address is not shown.
 *
 * Parsed as a stream (saxes): no document type declaration, at most `MAX_XML_DEPTH` levels, at most
 * `MAX_DESCRIPTION_BYTES`.
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { TrucError } from '../../errors.js';
import { MAX_XML_DEPTH } from '../../sign/xades/parse.js';
import { MAX_DESCRIPTION_BYTES } from './openapi.js';
import { ID_NS } from './soap.js';

export const WSDL_NS = 'http://schemas.xmlsoap.org/wsdl/';
/** the namespaces of a port's address element: SOAP 1.1, SOAP 1.2 and HTTP bindings */
const ADDRESS_NS = new Set(['http://schemas.xmlsoap.org/wsdl/soap/', 'http://schemas.xmlsoap.org/wsdl/soap12/', 'http://schemas.xmlsoap.org/wsdl/http/']);
/** what a client sees as every endpoint's address (PR-META 4) */
export const XROAD_ENDPOINT = 'http://example.org/xroad-endpoint';

export interface WsdlDescription {
  format: 'wsdl';
  /** the operations, each an X-Road service code, with the version the binding gives it */
  operations: { name: string; version?: string }[];
  /** `definitions/@name`, when present */
  title?: string;
  targetNamespace?: string;
}

const bad = (why: string) => new TrucError('bad_request', `không phải mô tả WSDL 1.1 hợp lệ / not a valid WSDL 1.1 description: ${why}`);

/** Is this text a WSDL (XML) rather than an OpenAPI (JSON or YAML) description? */
export function looksLikeXml(text: string): boolean {
  return /^\s*(?:\ufeff\s*)?</.test(text.slice(0, 1024));
}

interface Scan {
  description: WsdlDescription;
  /** where each port's address start tag is in the text: [start, end) */
  addresses: [number, number][];
}

function scan(text: string): Scan {
  if (Buffer.byteLength(text) > MAX_DESCRIPTION_BYTES) throw new TrucError('too_large', `a WSDL description is at most ${MAX_DESCRIPTION_BYTES} bytes`);
  const p = new SaxesParser({ xmlns: true, position: true });
  const stack: { uri: string; local: string }[] = [];
  const binding: WsdlDescription['operations'] = [];
  const portType: string[] = [];
  const addresses: [number, number][] = [];
  let title: string | undefined;
  let targetNamespace: string | undefined;
  let op: { name: string; version?: string } | null = null;
  let version: string | null = null;
  let failure: Error | null = null;
  p.on('error', (e) => {
    failure ??= bad(`not well-formed XML: ${e.message.slice(0, 200)}`);
  });
  p.on('doctype', () => {
    throw bad('a document type declaration is not taken');
  });
  p.on('opentag', (t: SaxesTagNS) => {
    stack.push({ uri: t.uri, local: t.local });
    const d = stack.length;
    if (d > MAX_XML_DEPTH) throw bad(`elements nested deeper than ${MAX_XML_DEPTH} levels`);
    const at = (i: number, local: string) => stack[i]!.uri === WSDL_NS && stack[i]!.local === local;
    if (d === 1) {
      if (!at(0, 'definitions')) throw bad(`the root element is {${t.uri}}${t.local}, not WSDL 1.1 definitions`);
      title = t.attributes.name?.value.slice(0, 200);
      targetNamespace = t.attributes.targetNamespace?.value.slice(0, 500);
    } else if (d === 3 && at(2, 'operation') && (at(1, 'binding') || at(1, 'portType'))) {
      const name = t.attributes.name?.value ?? '';
      if (at(1, 'portType')) portType.push(name);
      else binding.push((op = { name }));
    } else if (d === 4 && op && t.uri === ID_NS && t.local === 'version') version = '';
    else if (d === 4 && at(1, 'service') && at(2, 'port') && ADDRESS_NS.has(t.uri) && t.local === 'address') addresses.push([text.lastIndexOf('<', p.position - 1), p.position]);
  });
  const onText = (s: string) => {
    if (version !== null) version += s;
  };
  p.on('text', onText);
  p.on('cdata', onText);
  p.on('closetag', () => {
    const d = stack.length;
    if (d === 4 && version !== null && op) {
      if (version.trim()) op.version = version.trim().slice(0, 255);
      version = null;
    } else if (d === 3) op = null;
    stack.pop();
  });
  try {
    p.write(text).close();
  } catch (e) {
    failure ??= e instanceof TrucError ? e : bad((e as Error).message.slice(0, 200));
  }
  if (failure) throw failure;
  const operations = binding.length ? binding : [...new Set(portType)].map((name) => ({ name }));
  if (!operations.length) throw bad('it defines no operation (wsdl:binding or wsdl:portType)');
  return {
    description: { format: 'wsdl', operations, ...(title ? { title } : {}), ...(targetNamespace ? { targetNamespace } : {}) },
    addresses,
  };
}

/** Parses and checks a WSDL 1.1 description; throws `bad_request` saying what is wrong. */
export function parseWsdl(text: string): WsdlDescription {
  return scan(text).description;
}

/** Does the description define the service (its code an operation; its version, when both name one, the same)? */
export function describesService(d: WsdlDescription, serviceCode: string, serviceVersion?: string): boolean {
  return d.operations.some((o) => o.name === serviceCode && (!o.version || !serviceVersion || o.version === serviceVersion));
}

/** The document as clients get it: every port's endpoint address replaced by `XROAD_ENDPOINT`. */
export function wsdlForClients(text: string): Buffer {
  const { addresses } = scan(text);
  let out = '';
  let from = 0;
  for (const [start, end] of addresses) {
    const tag = text.slice(start, end);
    out += text.slice(from, start) + tag.replace(/(\slocation\s*=\s*)(?:"[^"]*"|'[^']*')/, `$1"${XROAD_ENDPOINT}"`);
    from = end;
  }
  return Buffer.from(out + text.slice(from), 'utf8');
}
