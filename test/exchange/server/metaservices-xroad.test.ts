/**
 * X-Road's metaservices as our security servers answer them, checked against what X-Road itself specifies and
 * does, so that a client written for X-Road (a portal, a catalogue collector, X-Road Metrics, SoapUI) reads
 * them unchanged. A deviation fails here.
 *
 * Sources (NIIS X-Road, doc/Protocols and src/):
 * - PR-META  "X-Road: Service Metadata Protocol" (v2.13+): §2 listClients, §3 listMethods/allowedMethods
 *   (SOAP), §4 getWsdl, Annex A (clientList schema), Annex B (WSDL, OpenAPI of listClients), Annex C examples.
 * - PR-MREST "X-Road: Service Metadata Protocol for REST" (v0.5+): §4 listMethods/allowedMethods, §5
 *   getOpenAPI, Annex A (restServiceDetailsListType), Annex B examples.
 * - PR-REST  "X-Road: Message Protocol for REST" §4.6 error handling (400 for Client.*, 500 otherwise,
 *   X-Road-Error, {"type","message","detail"}).
 * - X-Road's implementation where the specification is silent: RestMetadataServiceHandlerImpl (REST
 *   metaservices), MetadataServiceHandlerImpl (SOAP metaservices), MetadataClientRequestProcessor
 *   (listClients), ServerConfImpl.getRestServices/getAllowedRestServices/getServiceEndpoints,
 *   Openapi3Anonymiser, MessageProcessorBase.getServiceAddresses. Error names are X-Road 7's
 *   (`Server.ServerProxy.InternalError`…), as PR-REST's examples write them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { DOMParser, type Element as XElement } from '@xmldom/xmldom';
import { parse as parseYaml } from 'yaml';
import { startTestAxis, type TestAxis } from './setup.js';
import { parseService } from '../../../src/exchange/ids.js';

const XRD_NS = 'http://x-road.eu/xsd/xroad.xsd';
const ID_NS = 'http://x-road.eu/xsd/identifiers';
const SOAP_ENV_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
const OPMON_NS = 'http://x-road.eu/xsd/op-monitoring.xsd';

const HCM_SUB = 'VN/PROV/000.00.31.H29/vanthu';
const VPCP_SUB = 'VN/GOV/000.00.00.G22/vanthu';
const BNV_SUB = 'VN/GOV/000.00.00.G09/vanthu';

/** the OpenAPI 3 description registered for ho-so: one fixed server URL (an internal address), one with a variable */
const HO_SO_OPENAPI = `openapi: 3.0.3
info:
  title: Hồ sơ một cửa
  version: "1.0"
servers:
  - url: http://10.20.30.40:8080/api/v1
  - url: https://{host}/api
    variables:
      host:
        default: noi-bo.hcm.gov.vn
paths:
  /ho-so:
    get: { responses: { "200": { description: ok } } }
  /ho-so/{ma}:
    get: { responses: { "200": { description: ok } } }
    delete: { responses: { "204": { description: gone } } }
`;

let t: TestAxis;
/** message ids of metaservice calls made in beforeAll, for the operational monitoring check */
const metaIds = { rest: `meta-rest-${randomUUID()}`, soap: `meta-soap-${randomUUID()}` };
let started = 0;

interface Who {
  memberClass: string;
  memberCode: string;
  subsystem?: string;
}
const VPCP: Who = { memberClass: 'GOV', memberCode: '000.00.00.G22', subsystem: 'vanthu' };
const HCM: Who = { memberClass: 'PROV', memberCode: '000.00.31.H29', subsystem: 'vanthu' };

function ident(tag: string, type: string, w: Who, extra = ''): string {
  return `<xrd:${tag} id:objectType="${type}"><id:xRoadInstance>VN</id:xRoadInstance><id:memberClass>${w.memberClass}</id:memberClass><id:memberCode>${w.memberCode}</id:memberCode>${w.subsystem ? `<id:subsystemCode>${w.subsystem}</id:subsystemCode>` : ''}${extra}</xrd:${tag}>`;
}

/** A SOAP request to one of HCM's metaservices, as PR-META Annex C writes them (client VPCP's subsystem). */
function metaEnvelope(o: { code: string; body: string; id?: string; serviceVersion?: string; provider?: Who; userId?: string; issue?: string }): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>\n' +
    `<SOAP-ENV:Envelope xmlns:SOAP-ENV="${SOAP_ENV_NS}" xmlns:xrd="${XRD_NS}" xmlns:id="${ID_NS}">\n` +
    '  <SOAP-ENV:Header>\n' +
    `    ${ident('client', 'SUBSYSTEM', VPCP)}\n` +
    `    ${ident('service', 'SERVICE', o.provider ?? HCM, `<id:serviceCode>${o.code}</id:serviceCode>${o.serviceVersion ? `<id:serviceVersion>${o.serviceVersion}</id:serviceVersion>` : ''}`)}\n` +
    `    <xrd:id>${o.id ?? randomUUID()}</xrd:id>\n` +
    (o.userId ? `    <xrd:userId>${o.userId}</xrd:userId>\n` : '') +
    (o.issue ? `    <xrd:issue>${o.issue}</xrd:issue>\n` : '') +
    '    <xrd:protocolVersion>4.0</xrd:protocolVersion>\n' +
    '  </SOAP-ENV:Header>\n' +
    `  <SOAP-ENV:Body>${o.body}</SOAP-ENV:Body>\n` +
    '</SOAP-ENV:Envelope>\n'
  );
}

async function soap(envelope: string) {
  const res = await fetch(`${t.axis.members[0]!.isUrl}/`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: envelope });
  const bytes = Buffer.from(await res.arrayBuffer());
  const text = bytes.toString('utf8');
  return { status: res.status, headers: res.headers, bytes, text, faultcode: /<faultcode>([^<]*)<\/faultcode>/.exec(text)?.[1] };
}

async function rest(path: string, headers: Record<string, string> = {}, provider = HCM_SUB) {
  const res = await fetch(`${t.axis.members[0]!.isUrl}/r1/${provider}/${path}`, { headers: { 'x-road-client': VPCP_SUB, ...headers } });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, text: body.toString('utf8'), json: () => JSON.parse(body.toString('utf8')) };
}

type RestService = { object_type: string; xroad_instance: string; member_class: string; member_code: string; subsystem_code: string; service_code: string; service_type: string; endpoint_list: { method: string; path: string }[] };
const list = async (code: 'listMethods' | 'allowedMethods') => {
  const r = await rest(code);
  expect(r.status, r.text).toBe(200);
  return (r.json() as { service: RestService[] }).service;
};

/** the serviceCode of each xrd:service in a SOAP listMethods/allowedMethods response body */
function soapServiceCodes(text: string): string[] {
  const doc = new DOMParser().parseFromString(text, 'text/xml');
  const body = doc.getElementsByTagNameNS(SOAP_ENV_NS, 'Body')[0]!;
  return Array.from(body.getElementsByTagNameNS(XRD_NS, 'service')).map((s) => s.getElementsByTagNameNS(ID_NS, 'serviceCode')[0]?.textContent ?? '');
}

/** the parts of a multipart/related body: headers (lower-cased) and content */
function multipartParts(contentType: string, bytes: Buffer): { head: string; body: string }[] {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)![1]!;
  return bytes
    .toString('latin1')
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((p) => ({ head: p.slice(0, p.indexOf('\r\n\r\n')).toLowerCase(), body: Buffer.from(p.slice(p.indexOf('\r\n\r\n') + 4, -2), 'latin1').toString('utf8') }));
}

beforeAll(async () => {
  t = await startTestAxis();
  started = Math.floor(Date.now() / 1000) - 1;
  const hcm = t.axis.members[2]!;
  const store = hcm.server.store;
  const url = hcm.serviceUrl!;
  // ho-so: REST, described by OpenAPI 3 (type OPENAPI), the whole service granted to Văn phòng Chính phủ
  await store.putService(parseService(`SERVICE:${HCM_SUB}/ho-so`), url);
  await store.describeService(parseService(`SERVICE:${HCM_SUB}/ho-so`), HO_SO_OPENAPI);
  await store.grant({ service: `SERVICE:${HCM_SUB}/ho-so`, subject: `SUBSYSTEM:${VPCP_SUB}`, method: '*', path: '*' });
  // kin: REST, granted to Bộ Nội vụ only
  await store.putService(parseService(`SERVICE:${HCM_SUB}/kin`), url);
  await store.grant({ service: `SERVICE:${HCM_SUB}/kin`, subject: `SUBSYSTEM:${BNV_SUB}`, method: 'GET', path: '/ho-so/*' });
  // the axis gives every member thong-tin and echo (REST, granted * * to the others) and thongTin (SOAP, WSDL)
  // metaservice calls for the operational monitoring check at the end
  expect((await rest('listMethods', { 'x-road-id': metaIds.rest })).status).toBe(200);
  expect((await soap(metaEnvelope({ code: 'listMethods', body: '<xrd:listMethods/>', id: metaIds.soap }))).status).toBe(200);
}, 180_000);

afterAll(async () => {
  await t?.close();
});

describe('listClients (PR-META §2, Annex A, Annex B OpenAPI, Annex C.1)', () => {
  it('answers clientList XML by default: text/xml, members and subsystems with xrd:id/@id:objectType and xrd:name', async () => {
    const r = await fetch(`${t.axis.members[0]!.isUrl}/listClients`);
    expect(r.status).toBe(200);
    // PR-META §2: "security server MUST respond with content-type text/xml"
    expect(r.headers.get('content-type')).toMatch(/^text\/xml(;\s*charset=utf-8)?$/i);
    const doc = new DOMParser().parseFromString(await r.text(), 'text/xml');
    expect([doc.documentElement!.namespaceURI, doc.documentElement!.localName]).toEqual([XRD_NS, 'clientList']);
    const members = Array.from(doc.documentElement!.childNodes).filter((n): n is XElement => n.nodeType === 1);
    expect(members.every((m) => m.namespaceURI === XRD_NS && m.localName === 'member')).toBe(true);
    const seen = members.map((m) => {
      const id = m.getElementsByTagNameNS(XRD_NS, 'id')[0]!;
      const part = (n: string) => id.getElementsByTagNameNS(ID_NS, n)[0]?.textContent ?? null;
      return { type: id.getAttributeNS(ID_NS, 'objectType'), instance: part('xRoadInstance'), cls: part('memberClass'), code: part('memberCode'), sub: part('subsystemCode'), name: m.getElementsByTagNameNS(XRD_NS, 'name')[0]?.textContent };
    });
    // both the members and their subsystems (Annex C.1), a subsystem named by its member's name
    expect(seen).toContainEqual({ type: 'MEMBER', instance: 'VN', cls: 'PROV', code: '000.00.31.H29', sub: null, name: 'UBND Thành phố Hồ Chí Minh' });
    expect(seen).toContainEqual({ type: 'SUBSYSTEM', instance: 'VN', cls: 'PROV', code: '000.00.31.H29', sub: 'vanthu', name: 'UBND Thành phố Hồ Chí Minh' });
    expect(seen.every((s) => s.type === 'MEMBER' || s.type === 'SUBSYSTEM')).toBe(true);
  });

  it('answers JSON with Accept: application/json, fields as Annex B names them (member[].id.object_type …, name)', async () => {
    const r = await fetch(`${t.axis.members[0]!.isUrl}/listClients`, { headers: { accept: 'application/json' } });
    expect(r.headers.get('content-type')).toMatch(/^application\/json(;\s*charset=utf-8)?$/i);
    const j = (await r.json()) as { member: { id: Record<string, string>; name: string }[] };
    expect(Object.keys(j)).toEqual(['member']);
    expect(j.member).toContainEqual({ id: { member_class: 'PROV', member_code: '000.00.31.H29', object_type: 'MEMBER', xroad_instance: 'VN' }, name: 'UBND Thành phố Hồ Chí Minh' });
    expect(j.member).toContainEqual({ id: { member_class: 'PROV', member_code: '000.00.31.H29', subsystem_code: 'vanthu', object_type: 'SUBSYSTEM', xroad_instance: 'VN' }, name: 'UBND Thành phố Hồ Chí Minh' });
  });

  it('answers JSON whenever the Accept header lists application/json, whatever its q (MetadataClientRequestProcessor.acceptsJson)', async () => {
    const r = await fetch(`${t.axis.members[0]!.isUrl}/listClients`, { headers: { accept: 'text/xml;q=1.0, application/json;q=0.9' } });
    expect(r.headers.get('content-type')).toMatch(/^application\/json/i);
    const x = await fetch(`${t.axis.members[0]!.isUrl}/listClients`, { headers: { accept: 'application/xml, */*' } });
    expect(x.headers.get('content-type')).toMatch(/^text\/xml/i);
  });

  it('reads an empty xRoadInstance parameter as its own instance (MetadataClientRequestProcessor: StringUtils.isBlank → own instance)', async () => {
    const r = await fetch(`${t.axis.members[0]!.isUrl}/listClients?xRoadInstance=`, { headers: { accept: 'application/json' } });
    const j = (await r.json()) as { member: unknown[] };
    expect(j.member.length).toBeGreaterThan(0);
  });
});

describe('REST listMethods / allowedMethods (PR-MREST §4, Annex A, Annex B.1–B.2)', () => {
  it('answers listMethods as JSON {"service":[…]} with X-Road’s snake_case fields, its headers those of any exchange', async () => {
    const id = `lm-${randomUUID()}`;
    const r = await rest('listMethods', { 'x-road-id': id });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/i);
    expect(r.headers.get('x-road-error')).toBeNull();
    expect([r.headers.get('x-road-id'), r.headers.get('x-road-client'), r.headers.get('x-road-service')]).toEqual([id, VPCP_SUB, `${HCM_SUB}/listMethods`]);
    expect(r.headers.get('x-road-request-hash')).toMatch(/^[A-Za-z0-9+/]{86}==$/);
    const j = r.json() as { service: RestService[] };
    expect(Object.keys(j)).toEqual(['service']);
    const thongTin = j.service.find((s) => s.service_code === 'thong-tin')!;
    expect(thongTin).toMatchObject({ object_type: 'SERVICE', xroad_instance: 'VN', member_class: 'PROV', member_code: '000.00.31.H29', subsystem_code: 'vanthu', service_code: 'thong-tin', service_type: 'REST' });
    expect(Array.isArray(thongTin.endpoint_list)).toBe(true);
  });

  it('answers JSON whatever the Accept header (RestMetadataServiceHandlerImpl writes MimeTypes.JSON)', async () => {
    const r = await rest('listMethods', { accept: 'application/xml' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/i);
    expect(Array.isArray(r.json().service)).toBe(true);
  });

  it('does not list the metaservices themselves (PR-MREST §4: "SHALL NOT contain names of the metainfo services")', async () => {
    const codes = (await list('listMethods')).map((s) => s.service_code);
    for (const m of ['listMethods', 'allowedMethods', 'getOpenAPI', 'getWsdl']) expect(codes).not.toContain(m);
  });

  it('lists only REST services: service_type REST or OPENAPI, never a WSDL-described service (ServerConfImpl.getRestServices: OPENAPI3, REST)', async () => {
    const all = await list('listMethods');
    expect(all.map((s) => s.service_type).filter((x) => x !== 'REST' && x !== 'OPENAPI')).toEqual([]);
    expect(all.map((s) => s.service_code)).not.toContain('thongTin');
  });

  it('lists an OpenAPI-described service as OPENAPI with the operations it describes as endpoints (Annex B.1)', async () => {
    const hoSo = (await list('listMethods')).find((s) => s.service_code === 'ho-so');
    expect(hoSo).toMatchObject({ service_type: 'OPENAPI' });
    expect(hoSo!.endpoint_list).toEqual([
      { method: 'GET', path: '/ho-so' },
      { method: 'GET', path: '/ho-so/*' },
      { method: 'DELETE', path: '/ho-so/*' },
    ]);
  });

  it('never lists the service-level base endpoint "* **" in listMethods (ServerConfImpl.getServiceEndpoints filters isBaseEndpoint)', async () => {
    const all = await list('listMethods');
    const base = all.filter((s) => s.endpoint_list.some((e) => e.method === '*' && e.path === '**')).map((s) => s.service_code);
    expect(base).toEqual([]);
  });

  it('allowedMethods lists only the services the caller holds a right to (PR-MREST §4)', async () => {
    const codes = (await list('allowedMethods')).map((s) => s.service_code);
    expect(codes).toEqual(expect.arrayContaining(['thong-tin', 'echo', 'ho-so']));
    expect(codes).not.toContain('kin');
  });

  it('allowedMethods lists only REST services: not the WSDL-described thongTin the caller may call', async () => {
    const allowed = await list('allowedMethods');
    expect(allowed.map((s) => s.service_code)).not.toContain('thongTin');
    expect(allowed.every((s) => s.service_type === 'REST' || s.service_type === 'OPENAPI')).toBe(true);
  });

  it('allowedMethods of an OpenAPI service granted whole lists its described endpoints the right matches (getAllowedRestServices), not "* **"', async () => {
    const hoSo = (await list('allowedMethods')).find((s) => s.service_code === 'ho-so');
    expect(hoSo?.endpoint_list).toEqual([
      { method: 'GET', path: '/ho-so' },
      { method: 'GET', path: '/ho-so/*' },
      { method: 'DELETE', path: '/ho-so/*' },
    ]);
  });

  it('allowedMethods never lists the base endpoint "* **" either', async () => {
    const allowed = await list('allowedMethods');
    expect(allowed.filter((s) => s.endpoint_list.some((e) => e.method === '*' && e.path === '**')).map((s) => s.service_code)).toEqual([]);
  });

  it('a provider subsystem the global configuration does not know: Server.ClientProxy.UnknownMember, 500 (MessageProcessorBase.getServiceAddresses)', async () => {
    const r = await rest('listMethods', {}, 'VN/PROV/000.00.31.H29/khong-co');
    expect([r.status, r.headers.get('x-road-error')]).toEqual([500, 'Server.ClientProxy.UnknownMember']);
  });
});

describe('REST getOpenAPI (PR-MREST §5, Annex B.3)', () => {
  it('answers the registered description, YAML as YAML', async () => {
    const r = await rest('getOpenAPI?serviceCode=ho-so');
    expect(r.status, r.text).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/yaml/i);
    const doc = parseYaml(r.text) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths)).toEqual(['/ho-so', '/ho-so/{ma}']);
  });

  it('hides the provider’s own server addresses: each servers[].url without variables becomes its path (Openapi3Anonymiser)', async () => {
    const r = await rest('getOpenAPI?serviceCode=ho-so');
    expect(r.text).not.toContain('10.20.30.40');
    const doc = parseYaml(r.text) as { servers: { url: string }[] };
    expect(doc.servers.map((s) => s.url)).toEqual(['/api/v1', 'https://{host}/api']);
  });

  it('without serviceCode: Server.ServerProxy.InvalidRequest, HTTP 500 (PR-REST §4.6: not a Client.* error)', async () => {
    const r = await rest('getOpenAPI');
    expect([r.status, r.headers.get('x-road-error')]).toEqual([500, 'Server.ServerProxy.InvalidRequest']);
  });

  it('for a code the provider does not have: Server.ServerProxy.InternalError "Service not found" (RestMetadataServiceHandlerImpl.handleGetOpenApi)', async () => {
    const r = await rest('getOpenAPI?serviceCode=khong-co');
    expect([r.status, r.headers.get('x-road-error')]).toEqual([500, 'Server.ServerProxy.InternalError']);
  });

  it('for a service not described by OpenAPI: Server.ServerProxy.InternalError "Invalid service type" (handleGetOpenApi)', async () => {
    const r = await rest('getOpenAPI?serviceCode=thong-tin');
    expect([r.status, r.headers.get('x-road-error')]).toEqual([500, 'Server.ServerProxy.InternalError']);
  });

  it('a refusal has PR-REST §4.6’s form: JSON {type, message, detail}, Content-Type JSON, X-Road-Error naming the type', async () => {
    const r = await rest('getOpenAPI?serviceCode=thong-tin');
    expect(r.headers.get('content-type')).toMatch(/^application\/json;\s*charset=utf-8$/i);
    const j = r.json() as Record<string, unknown>;
    expect(typeof j.type).toBe('string');
    expect(j.type).toBe(r.headers.get('x-road-error'));
    expect(typeof j.message).toBe('string');
    expect(j.detail).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('SOAP listMethods / allowedMethods (PR-META §3, Annex B, Annex C.2–C.5)', () => {
  it('answers listMethodsResponse with xrd:service identifiers, the request header repeated and requestHash added (Annex C.3)', async () => {
    const id = randomUUID();
    const r = await soap(metaEnvelope({ code: 'listMethods', body: '<xrd:listMethods/>', id, userId: 'VN012345678901', issue: 'HS-12/2026' }));
    expect(r.status, r.text).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/xml/i);
    const doc = new DOMParser().parseFromString(r.text, 'text/xml');
    const header = doc.getElementsByTagNameNS(SOAP_ENV_NS, 'Header')[0]!;
    const h = (n: string) => header.getElementsByTagNameNS(XRD_NS, n)[0]?.textContent?.trim();
    expect([h('id'), h('userId'), h('issue'), h('protocolVersion')]).toEqual([id, 'VN012345678901', 'HS-12/2026', '4.0']);
    expect(header.getElementsByTagNameNS(XRD_NS, 'client')[0]!.getAttributeNS(ID_NS, 'objectType')).toBe('SUBSYSTEM');
    expect(header.getElementsByTagNameNS(XRD_NS, 'service')[0]!.getElementsByTagNameNS(ID_NS, 'serviceCode')[0]!.textContent).toBe('listMethods');
    expect(header.getElementsByTagNameNS(XRD_NS, 'requestHash')[0]!.getAttribute('algorithmId')).toBe('http://www.w3.org/2001/04/xmlenc#sha512');
    const body = doc.getElementsByTagNameNS(SOAP_ENV_NS, 'Body')[0]!;
    const children = Array.from(body.childNodes).filter((n): n is XElement => n.nodeType === 1);
    expect(children.map((c) => `{${c.namespaceURI}}${c.localName}`)).toEqual([`{${XRD_NS}}listMethodsResponse`]);
    const services = Array.from(children[0]!.childNodes).filter((n): n is XElement => n.nodeType === 1);
    expect(services.length).toBeGreaterThan(0);
    for (const s of services) {
      expect([s.namespaceURI, s.localName, s.getAttributeNS(ID_NS, 'objectType')]).toEqual([XRD_NS, 'service', 'SERVICE']);
      const parts = Array.from(s.childNodes).filter((n): n is XElement => n.nodeType === 1);
      expect(parts.every((p) => p.namespaceURI === ID_NS)).toBe(true);
      expect(parts.map((p) => p.localName).slice(0, 5)).toEqual(['xRoadInstance', 'memberClass', 'memberCode', 'subsystemCode', 'serviceCode']);
    }
    expect(soapServiceCodes(r.text)).toContain('thongTin');
  });

  it('listMethods lists SOAP services only: not the OpenAPI-described ho-so (MetadataServiceHandlerImpl: DescriptionType.WSDL)', async () => {
    const r = await soap(metaEnvelope({ code: 'listMethods', body: '<xrd:listMethods/>' }));
    expect(r.status, r.text).toBe(200);
    const codes = soapServiceCodes(r.text);
    expect(codes).toContain('thongTin');
    expect(codes).not.toContain('ho-so');
  });

  it('allowedMethods lists the SOAP services the caller may call, not the OpenAPI-described ho-so it holds a right to', async () => {
    const r = await soap(metaEnvelope({ code: 'allowedMethods', body: '<xrd:allowedMethods/>' }));
    expect(r.status, r.text).toBe(200);
    expect(r.text).toContain('allowedMethodsResponse');
    const codes = soapServiceCodes(r.text);
    expect(codes).toContain('thongTin');
    expect(codes).not.toContain('kin');
    expect(codes).not.toContain('ho-so');
  });
});

describe('SOAP getWsdl (PR-META §4, Annex B, Annex C.6–C.8)', () => {
  const getWsdl = (inner: string, o: { serviceVersion?: string } = {}) => soap(metaEnvelope({ code: 'getWsdl', body: `<xrd:getWsdl>${inner}</xrd:getWsdl>`, ...o }));

  it('answers multipart/related: the envelope with getWsdlResponse repeating the service, then the WSDL (text/xml), endpoint hidden', async () => {
    const r = await getWsdl('<xrd:serviceCode>thongTin</xrd:serviceCode>');
    expect(r.status, r.text.slice(0, 1000)).toBe(200);
    const ct = r.headers.get('content-type')!;
    expect(ct).toMatch(/^multipart\/related;/i);
    expect(ct).toMatch(/type="?text\/xml"?/i);
    const parts = multipartParts(ct, r.bytes);
    expect(parts).toHaveLength(2);
    const env = new DOMParser().parseFromString(parts[0]!.body, 'text/xml');
    const resp = env.getElementsByTagNameNS(XRD_NS, 'getWsdlResponse')[0]!;
    expect(resp.getElementsByTagNameNS(XRD_NS, 'serviceCode')[0]!.textContent).toBe('thongTin');
    expect(env.getElementsByTagNameNS(XRD_NS, 'requestHash')).toHaveLength(1);
    expect(parts[1]!.head).toMatch(/content-type:\s*text\/xml/);
    const wsdl = new DOMParser().parseFromString(parts[1]!.body, 'text/xml');
    expect([wsdl.documentElement!.namespaceURI, wsdl.documentElement!.localName]).toEqual(['http://schemas.xmlsoap.org/wsdl/', 'definitions']);
    const addresses = Array.from(wsdl.getElementsByTagNameNS('http://schemas.xmlsoap.org/wsdl/soap/', 'address')).map((a) => a.getAttribute('location'));
    expect(addresses.length).toBeGreaterThan(0);
    expect(addresses.every((a) => a === 'http://example.org/xroad-endpoint')).toBe(true);
  });

  it('answers the request of Annex C.6, whose service header names a serviceVersion for getWsdl (MetadataServiceHandlerImpl.canHandle reads the code only)', async () => {
    const r = await getWsdl('<xrd:serviceCode>thongTin</xrd:serviceCode>', { serviceVersion: 'v1' });
    expect([r.status, r.faultcode], r.text.slice(0, 600)).toEqual([200, undefined]);
    expect(r.headers.get('content-type')).toMatch(/^multipart\/related;/i);
  });

  it('without serviceCode: Server.ServerProxy.InvalidRequest "Missing serviceCode in message body" (handleGetWsdl: X_INVALID_REQUEST)', async () => {
    const r = await getWsdl('');
    expect([r.status, r.faultcode]).toEqual([500, 'Server.ServerProxy.InvalidRequest']);
  });

  it('for an OpenAPI-described (REST) service: Server.ServerProxy.ServiceType (getWsdlUrl: X_INVALID_SERVICE_TYPE)', async () => {
    const r = await getWsdl('<xrd:serviceCode>ho-so</xrd:serviceCode>');
    expect([r.status, r.faultcode]).toEqual([500, 'Server.ServerProxy.ServiceType']);
  });

  it('for a code the provider does not have: Server.ServerProxy.UnknownService, as a SOAP 1.1 fault with faultstring and detail', async () => {
    const r = await getWsdl('<xrd:serviceCode>khongCo</xrd:serviceCode>');
    expect([r.status, r.faultcode]).toEqual([500, 'Server.ServerProxy.UnknownService']);
    expect(r.headers.get('content-type')).toMatch(/^text\/xml/i);
    const doc = new DOMParser().parseFromString(r.text, 'text/xml');
    const fault = doc.getElementsByTagNameNS(SOAP_ENV_NS, 'Fault')[0]!;
    expect(fault).toBeDefined();
    expect(fault.getElementsByTagName('faultstring')[0]?.textContent?.length).toBeGreaterThan(0);
    expect(fault.getElementsByTagName('faultDetail')[0]?.textContent).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('operational monitoring of metaservice calls (PR-OPMON; RestMetadataServiceHandlerImpl / MetadataServiceHandlerImpl.startHandling)', () => {
  /** the provider-side records, read by HCM's own subsystem from its server */
  async function providerRecords(): Promise<Record<string, unknown>[]> {
    const body =
      `<om:getSecurityServerOperationalData xmlns:om="${OPMON_NS}"><om:searchCriteria><om:recordsFrom>${started}</om:recordsFrom><om:recordsTo>${started + 3600}</om:recordsTo></om:searchCriteria></om:getSecurityServerOperationalData>`;
    const env =
      '<?xml version="1.0" encoding="utf-8"?>\n' +
      `<SOAP-ENV:Envelope xmlns:SOAP-ENV="${SOAP_ENV_NS}" xmlns:xrd="${XRD_NS}" xmlns:id="${ID_NS}"><SOAP-ENV:Header>` +
      ident('client', 'SUBSYSTEM', HCM) +
      ident('service', 'SERVICE', { memberClass: HCM.memberClass, memberCode: HCM.memberCode }, '<id:serviceCode>getSecurityServerOperationalData</id:serviceCode>') +
      ident('securityServer', 'SERVER', { memberClass: HCM.memberClass, memberCode: HCM.memberCode }, '<id:serverCode>ss-hcm</id:serverCode>') +
      `<xrd:id>${randomUUID()}</xrd:id><xrd:protocolVersion>4.0</xrd:protocolVersion></SOAP-ENV:Header><SOAP-ENV:Body>${body}</SOAP-ENV:Body></SOAP-ENV:Envelope>`;
    const res = await fetch(`${t.axis.members[2]!.isUrl}/`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: env });
    const bytes = Buffer.from(await res.arrayBuffer());
    // the first seconds after `started` are not available yet: X-Road refuses such a recordsFrom, and the poll asks again
    if (res.status === 500 && bytes.toString('utf8').includes('<faultcode>Server.ServerProxy.OpMonitor.Client.InvalidRequest</faultcode>')) return [];
    expect(res.status, bytes.toString('utf8').slice(0, 1000)).toBe(200);
    const ct = res.headers.get('content-type')!;
    const boundary = /boundary="?([^";]+)"?/.exec(ct)![1]!;
    const raw = bytes.toString('latin1').split(`--${boundary}`).slice(1, -1);
    const att = Buffer.from(raw[1]!.slice(raw[1]!.indexOf('\r\n\r\n') + 4, -2), 'latin1');
    return (JSON.parse(gunzipSync(att).toString('utf8')) as { records: Record<string, unknown>[] }).records;
  }

  it('records a REST metaservice as serviceType REST and a SOAP one as WSDL, on the provider’s server', async () => {
    let recs: Record<string, unknown>[] = [];
    // the records are written in batches: a busy machine may take a while (polled up to a minute)
    for (const end = Date.now() + 60_000; Date.now() < end; ) {
      recs = (await providerRecords()).filter((r) => r.securityServerType === 'Producer' && (r.messageId === metaIds.rest || r.messageId === metaIds.soap));
      if (recs.length === 2) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(recs).toHaveLength(2);
    const by = (id: string) => recs.find((r) => r.messageId === id)!;
    expect([by(metaIds.rest).serviceCode, by(metaIds.soap).serviceCode]).toEqual(['listMethods', 'listMethods']);
    expect({ rest: by(metaIds.rest).serviceType, soap: by(metaIds.soap).serviceType }).toEqual({ rest: 'REST', soap: 'WSDL' });
  }, 120_000);
});
