/**
 * X-Road's service metadata protocol for REST (PR-MREST), answered by the provider's security server
 * itself: `listMethods` (the REST services of a subsystem), `allowedMethods` (those the calling client
 * holds an access right to) and `getOpenAPI?serviceCode=…`. They are called like any service,
 *
 *   GET /r1/{instance}/{class}/{member}/{subsystem}/listMethods       X-Road-Client: I/C/M/S
 *
 * through the consumer's server, so the request and the answer are signed and logged like any exchange.
 * A service with an OpenAPI 3 description registered (`truc ss service describe`, ./openapi.ts) is of type
 * `OPENAPI`: `getOpenAPI` answers its description as registered, and `listMethods` lists the operations it
 * describes; one without is of type `REST`, and `getOpenAPI` refuses as X-Road does for a service not
 * described by OpenAPI (`Server.ServerProxy.ServiceType`). `allowedMethods` lists the endpoints the client's
 * access rights open, whatever the type. The SOAP forms of `listMethods` and `allowedMethods`, and `getWsdl`
 * for a service with a WSDL description (./wsdl.ts; its type `WSDL`), are answered too (X-Road's PR-META), for
 * clients of the SOAP protocol.
 */
import type { IncomingMessage } from 'node:http';
import { TrucError } from '../../errors.js';
import { subsystemText, subsystemOf, type ServiceId, type SubsystemId } from '../ids.js';
import type { GlobalConf } from '../conf/global.js';
import { serviceType, subjectCovers, type AccessRight, type ServerSnapshot, type ServiceRow } from './store.js';
import { bodyChildren, identifierXml, localAnswer, localMultipartAnswer, soapEnvelope, xmlEscape, type ParsedSoap } from './soap.js';
import { wsdlForClients } from './wsdl.js';
import { descriptionContentType, descriptionForClients } from './openapi.js';

export const META_SERVICES = new Set(['listMethods', 'allowedMethods', 'getOpenAPI']);

/** An access right's method and path as X-Road writes an endpoint (`**` for any path below: a trailing `*` is written so). */
function endpoint(r: AccessRight): { method: string; path: string } {
  return { method: r.method, path: r.path === '*' ? '**' : /[^*]\*$/.test(r.path) ? `${r.path.slice(0, -1)}**` : r.path };
}

/** X-Road's base endpoint (any method, any path): the service itself, never listed as one of its endpoints */
const isBase = (e: { method: string; path: string }) => e.method === '*' && e.path === '**';

/** whether an access right opens a described operation (its path with `*` for a parameter) whole */
function opens(r: AccessRight, e: { method: string; path: string }): boolean {
  if (r.method !== '*' && r.method !== e.method) return false;
  return r.path === '*' || (r.path.endsWith('*') ? e.path.startsWith(r.path.slice(0, -1)) : r.path === e.path);
}

/**
 * A service as PR-MREST lists it. Its endpoints: for a service described by OpenAPI, the operations the
 * description defines — all of them for `listMethods`, those the client's rights open for `allowedMethods`;
 * for one without, the endpoints its access rights name. The base endpoint (`*` `**`, the service as a
 * whole) is never listed, as X-Road leaves it out (`ServerConfImpl.getServiceEndpoints`).
 */
function entry(row: ServiceRow, rights: AccessRight[], all: boolean): Record<string, unknown> {
  const s = row.service;
  const seen = new Set<string>();
  const endpoints = [];
  const candidates = row.openapi ? row.openapi.endpoints.filter((e) => all || rights.some((r) => opens(r, e))) : rights.map(endpoint);
  for (const e of candidates) {
    const k = `${e.method} ${e.path}`;
    if (seen.has(k) || isBase(e)) continue;
    seen.add(k);
    endpoints.push(e);
  }
  return {
    object_type: 'SERVICE',
    xroad_instance: s.instance,
    member_class: s.memberClass,
    member_code: s.memberCode,
    subsystem_code: s.subsystemCode,
    service_code: s.serviceCode,
    ...(s.serviceVersion ? { service_version: s.serviceVersion } : {}),
    service_type: serviceType(row),
    endpoint_list: endpoints,
  };
}

function servicesOf(snap: ServerSnapshot, provider: SubsystemId): ServiceRow[] {
  const want = subsystemText(provider);
  return [...snap.services.values()].filter((r) => !r.disabled && subsystemText(subsystemOf(r.service)) === want).sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
}

/** The metaservice's answer, as the response an information system would give. */
export function metaserviceAnswer(snap: ServerSnapshot, conf: GlobalConf, meta: ServiceId, client: SubsystemId, method: string, path: string): IncomingMessage {
  if (method !== 'GET') throw new TrucError('bad_request', `${meta.serviceCode} is called with GET, not ${method}`, { xroadFault: 'InvalidRequest', reason_vi: `${meta.serviceCode} được gọi bằng GET, không phải ${method}` });
  const provider = subsystemOf(meta);
  const q = path.indexOf('?');
  const pathname = q < 0 ? path : path.slice(0, q);
  if (pathname !== '/' && pathname !== '') throw new TrucError('bad_request', `${meta.serviceCode} takes no path below it`, { xroadFault: 'InvalidRequest', reason_vi: `${meta.serviceCode} không nhận đường dẫn phía sau` });
  const query = new URLSearchParams(q < 0 ? '' : path.slice(q + 1));
  const services = servicesOf(snap, provider);
  if (meta.serviceCode === 'getOpenAPI') {
    const code = query.get('serviceCode');
    if (!code) throw new TrucError('bad_request', 'getOpenAPI needs the query parameter serviceCode', { xroadFault: 'InvalidRequest', reason_vi: 'getOpenAPI cần tham số serviceCode' });
    const row = services.find((r) => r.service.serviceCode === code);
    // X-Road answers both as an internal error (RestMetadataServiceHandlerImpl): its clients read these names
    if (!row) throw new TrucError('unknown_service', `Service not found: ${subsystemText(provider)} has no service ${code}`, { xroadFault: 'InternalError', reason_vi: `không tìm thấy dịch vụ: ${subsystemText(provider)} không có dịch vụ ${code}` });
    const d = snap.descriptions.get(row.text);
    if (!d || d.format === 'wsdl') throw new TrucError('unsupported', `Invalid service type: ${serviceType(row)} (service ${code} has no OpenAPI description)`, { xroadFault: 'InternalError', reason_vi: `loại dịch vụ không hợp lệ: ${serviceType(row)} (dịch vụ ${code} không có mô tả OpenAPI)` });
    const format = d.format;
    return localAnswer(forClients(d.document, (doc) => descriptionForClients(doc, format)), descriptionContentType(format));
  }
  // listMethods: every operation of a described service; allowedMethods: the endpoints the client's rights open
  const list = listed(snap, conf, meta, client, 'rest', services).map(([row, rights]) => entry(row, rights, meta.serviceCode === 'listMethods'));
  const body = Buffer.from(JSON.stringify({ service: list }));
  return localAnswer(body, 'application/json; charset=utf-8');
}

/**
 * The services a listing metaservice names, with the access rights it shows for each: the REST forms list
 * services of type REST and OPENAPI, the SOAP forms those of type WSDL and the ones without a description
 * (a SOAP service need not have its WSDL registered here), as X-Road lists by description type.
 */
function listed(snap: ServerSnapshot, conf: GlobalConf, meta: ServiceId, client: SubsystemId, protocol: 'rest' | 'soap', services = servicesOf(snap, subsystemOf(meta))): [ServiceRow, AccessRight[]][] {
  const out: [ServiceRow, AccessRight[]][] = [];
  for (const row of services) {
    if (protocol === 'rest' ? row.wsdl : row.openapi) continue;
    const rights = snap.access.get(row.text) ?? [];
    if (meta.serviceCode === 'listMethods') out.push([row, rights]);
    else {
      const mine = rights.filter((r) => subjectCovers(snap, conf, r.subject, client));
      if (mine.length) out.push([row, mine]);
    }
  }
  return out;
}

/** X-Road's SOAP metaservices (PR-META) this server answers itself. */
export const SOAP_META_SERVICES = new Set(['listMethods', 'allowedMethods', 'getWsdl']);

/**
 * X-Road's SOAP metaservices: the response envelope repeats the request's header fields (client, service, id,
 * userId, issue, protocolVersion). `listMethods` / `allowedMethods` list each service as an identifier;
 * `getWsdl` answers the WSDL registered for the service its body names, as an attachment (PR-META 4).
 */
export function soapMetaserviceAnswer(snap: ServerSnapshot, conf: GlobalConf, meta: ServiceId, client: SubsystemId, request: ParsedSoap): IncomingMessage {
  if (meta.serviceCode === 'getWsdl') return getWsdlAnswer(snap, meta, request);
  const items = listed(snap, conf, meta, client, 'soap')
    .map(([row]) => {
      const s = row.service;
      const parts: Record<string, string> = { xRoadInstance: s.instance, memberClass: s.memberClass, memberCode: s.memberCode, subsystemCode: s.subsystemCode, serviceCode: s.serviceCode, ...(s.serviceVersion ? { serviceVersion: s.serviceVersion } : {}) };
      return identifierXml('service', { objectType: 'SERVICE', parts });
    })
    .join('');
  const body = soapEnvelope(request.fields, `<xrd:${meta.serviceCode}Response>${items}</xrd:${meta.serviceCode}Response>`);
  return localAnswer(body, 'text/xml; charset=utf-8');
}

/**
 * A description (WSDL or OpenAPI) as clients get it, its provider's addresses hidden: the last few asked for
 * are kept (a rewrite parses the document again).
 */
const rewritten = new Map<string, Buffer>();
function forClients(document: string, rewrite: (document: string) => Buffer): Buffer {
  let out = rewritten.get(document);
  if (out) {
    rewritten.delete(document);
  } else {
    out = rewrite(document);
    if (rewritten.size >= 16) rewritten.delete(rewritten.keys().next().value!);
  }
  rewritten.set(document, out);
  return out;
}

/**
 * `getWsdl` (PR-META 4): the body names `serviceCode` (and `serviceVersion`); the answer is a
 * `multipart/related` message, the envelope with `getWsdlResponse` repeating them, then the WSDL as the
 * attachment, its endpoint addresses replaced by `http://example.org/xroad-endpoint`.
 */
function getWsdlAnswer(snap: ServerSnapshot, meta: ServiceId, request: ParsedSoap): IncomingMessage {
  const want = bodyChildren(request);
  const code = want.serviceCode;
  const version = want.serviceVersion || undefined;
  if (!code) throw new TrucError('bad_request', 'Missing serviceCode in message body: <xrd:getWsdl><xrd:serviceCode>…</xrd:serviceCode></xrd:getWsdl>', { xroadFault: 'InvalidRequest', reason_vi: 'getWsdl cần mã dịch vụ trong thân: <xrd:getWsdl><xrd:serviceCode>…</xrd:serviceCode></xrd:getWsdl>' });
  const rows = servicesOf(snap, subsystemOf(meta)).filter((r) => r.service.serviceCode === code && (!version || r.service.serviceVersion === version));
  if (!rows.length) throw new TrucError('unknown_service', `${subsystemText(subsystemOf(meta))} has no service ${code}${version ? ` of version ${version}` : ''}`);
  const row = rows.find((r) => r.wsdl);
  if (!row) {
    const type = serviceType(rows[0]!);
    throw new TrucError('unsupported', `service ${code} has no WSDL description: its type is ${type}`, { xroadFault: 'ServiceType', reason_vi: `dịch vụ ${code} không có mô tả WSDL: loại dịch vụ là ${type}` });
  }
  const wsdl = forClients(snap.descriptions.get(row.text)!.document, wsdlForClients);
  const envelope = soapEnvelope(
    request.fields,
    `<xrd:getWsdlResponse><xrd:serviceCode>${xmlEscape(code)}</xrd:serviceCode>${version ? `<xrd:serviceVersion>${xmlEscape(version)}</xrd:serviceVersion>` : ''}</xrd:getWsdlResponse>`,
  );
  return localMultipartAnswer(envelope, { id: 'wsdl', type: 'text/xml; charset=UTF-8', bytes: wsdl }, 'wsdl');
}


/**
 * `GET /listClients[?xRoadInstance=…]` on the information-system side (PR-META 2): the members and subsystems
 * of the global configuration, as X-Road's `clientList` XML, or JSON when the caller accepts
 * `application/json`. Only this instance is known (no federation): another instance lists no one.
 */
export function listClients(conf: GlobalConf, instance: string | null, json: boolean): { contentType: string; body: Buffer } {
  const entries: { objectType: 'MEMBER' | 'SUBSYSTEM'; memberClass: string; memberCode: string; subsystemCode?: string; name: string }[] = [];
  // an empty parameter is this instance, as X-Road reads it
  if (!instance || instance === conf.instance) {
    const members = [...conf.shared.members].sort((a, b) => (a.memberClass + '/' + a.memberCode < b.memberClass + '/' + b.memberCode ? -1 : 1));
    for (const m of members) {
      entries.push({ objectType: 'MEMBER', memberClass: m.memberClass, memberCode: m.memberCode, name: m.name });
      for (const sub of [...m.subsystems].sort((a, b) => (a.subsystemCode < b.subsystemCode ? -1 : 1))) entries.push({ objectType: 'SUBSYSTEM', memberClass: m.memberClass, memberCode: m.memberCode, subsystemCode: sub.subsystemCode, name: m.name });
    }
  }
  if (json) {
    const member = entries.map((e) => ({
      id: { member_class: e.memberClass, member_code: e.memberCode, ...(e.subsystemCode ? { subsystem_code: e.subsystemCode } : {}), object_type: e.objectType, xroad_instance: conf.instance },
      name: e.name,
    }));
    return { contentType: 'application/json; charset=utf-8', body: Buffer.from(JSON.stringify({ member })) };
  }
  const xml = entries
    .map(
      (e) =>
        `<xrd:member><xrd:id id:objectType="${e.objectType}"><id:xRoadInstance>${xmlEscape(conf.instance)}</id:xRoadInstance><id:memberClass>${xmlEscape(e.memberClass)}</id:memberClass><id:memberCode>${xmlEscape(e.memberCode)}</id:memberCode>` +
        `${e.subsystemCode ? `<id:subsystemCode>${xmlEscape(e.subsystemCode)}</id:subsystemCode>` : ''}</xrd:id><xrd:name>${xmlEscape(e.name)}</xrd:name></xrd:member>`,
    )
    .join('');
  return {
    contentType: 'text/xml; charset=utf-8',
    body: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<xrd:clientList xmlns:id="http://x-road.eu/xsd/identifiers" xmlns:xrd="http://x-road.eu/xsd/xroad.xsd">${xml}</xrd:clientList>\n`, 'utf8'),
  };
}
