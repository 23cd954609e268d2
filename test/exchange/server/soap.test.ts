/**
 * X-Road's SOAP message protocol (PR-MESS 4.0) through two security servers: envelopes as X-Road's own
 * examples write them, with attachments, in Vietnamese, and every refusal as a SOAP fault with X-Road's
 * fault code. The provider's information system is a plain HTTP server that sees exactly what reaches it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { DOMParser } from '@xmldom/xmldom';
import { startTestAxis, type TestAxis } from './setup.js';
import { parseService } from '../../../src/exchange/ids.js';
import { SHA512_URI, XRD_NS, parseSoap, requestHashOf, withRequestHash } from '../../../src/exchange/server/soap.js';
import type { MessageLog } from '../../../src/exchange/log/index.js';

const sha512 = (b: Buffer | string) => createHash('sha512').update(b).digest('base64');

interface Who {
  instance?: string;
  memberClass: string;
  memberCode: string;
  subsystem?: string;
}
const VPCP: Who = { memberClass: 'GOV', memberCode: '000.00.00.G22', subsystem: 'vanthu' };
const HCM: Who = { memberClass: 'PROV', memberCode: '000.00.31.H29', subsystem: 'vanthu' };

function envelope(o: { client?: Who | null; service?: (Who & { code: string; version?: string }) | null; id?: string | null; userId?: string; issue?: string; version?: string | null; body?: string; extraHeader?: string; prolog?: string }): string {
  const ident = (tag: string, type: string, w: Who, extra = '') =>
    `<xrd:${tag} id:objectType="${type}"><id:xRoadInstance>${w.instance ?? 'VN'}</id:xRoadInstance><id:memberClass>${w.memberClass}</id:memberClass><id:memberCode>${w.memberCode}</id:memberCode>${w.subsystem ? `<id:subsystemCode>${w.subsystem}</id:subsystemCode>` : ''}${extra}</xrd:${tag}>`;
  const svc = o.service === undefined ? { ...HCM, code: 'traCuuVanBan', version: 'v1' } : o.service;
  return (
    (o.prolog ?? '<?xml version="1.0" encoding="UTF-8"?>\n') +
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="http://vanthu.gov.vn/lienthong" xmlns:xrd="http://x-road.eu/xsd/xroad.xsd" xmlns:id="http://x-road.eu/xsd/identifiers">\n' +
    '  <SOAP-ENV:Header>\n' +
    (o.client === null ? '' : `    ${ident('client', o.client?.subsystem === undefined && o.client ? 'MEMBER' : 'SUBSYSTEM', o.client ?? VPCP)}\n`) +
    (svc === null ? '' : `    ${ident('service', 'SERVICE', svc, `<id:serviceCode>${svc.code}</id:serviceCode>${svc.version ? `<id:serviceVersion>${svc.version}</id:serviceVersion>` : ''}`)}\n`) +
    (o.id === null ? '' : `    <xrd:id>${o.id ?? randomUUID()}</xrd:id>\n`) +
    (o.userId ? `    <xrd:userId>${o.userId}</xrd:userId>\n` : '') +
    (o.issue ? `    <xrd:issue>${o.issue}</xrd:issue>\n` : '') +
    (o.version === null ? '' : `    <xrd:protocolVersion>${o.version ?? '4.0'}</xrd:protocolVersion>\n`) +
    (o.extraHeader ?? '') +
    '  </SOAP-ENV:Header>\n' +
    `  <SOAP-ENV:Body>${o.body ?? `<ns1:${svc?.code ?? 'traCuuVanBan'}><soHieu>7816/VPCP-TTĐT</soHieu></ns1:${svc?.code ?? 'traCuuVanBan'}>`}</SOAP-ENV:Body>\n` +
    '</SOAP-ENV:Envelope>\n'
  );
}

describe('SOAP messages: reading and editing the bytes', () => {
  it('reads the header fields and writes requestHash at the end of the header, multi-byte text before it intact', () => {
    const req = Buffer.from(envelope({ userId: 'VN001', issue: 'Công văn số 7816/VPCP-TTĐT về việc tiếp nhận' }));
    const p = parseSoap(req, 'text/xml; charset=utf-8');
    expect(p.fields.client).toEqual({ objectType: 'SUBSYSTEM', parts: { xRoadInstance: 'VN', memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: 'vanthu' } });
    expect(p.fields.service?.parts.serviceCode).toBe('traCuuVanBan');
    expect(p.fields.issue).toBe('Công văn số 7816/VPCP-TTĐT về việc tiếp nhận');
    expect(p.body).toEqual({ ns: 'http://vanthu.gov.vn/lienthong', local: 'traCuuVanBan' });
    // a response repeating the header, with a requestHash of its own that must be replaced
    const resp = Buffer.from(
      envelope({ userId: 'VN001', issue: 'Công văn số 7816/VPCP-TTĐT về việc tiếp nhận', id: p.fields.id!, extraHeader: '    <xrd:requestHash algorithmId="x">bogus</xrd:requestHash>\n', body: '<ns1:traCuuVanBanResponse><ketQua>Đã tiếp nhận</ketQua></ns1:traCuuVanBanResponse>' }),
    );
    const out = withRequestHash(p, parseSoap(resp, 'text/xml'), requestHashOf(p));
    const doc = new DOMParser().parseFromString(out.toString('utf8'), 'text/xml');
    const hashes = doc.getElementsByTagNameNS(XRD_NS, 'requestHash');
    expect(hashes.length).toBe(1);
    expect(hashes[0]!.textContent).toBe(sha512(req));
    expect(hashes[0]!.getAttribute('algorithmId')).toBe(SHA512_URI);
    expect(out.toString('utf8')).toContain('<ketQua>Đã tiếp nhận</ketQua>');
    expect(out.toString('utf8')).not.toContain('bogus');
    // the re-read response carries it, byte for byte where it was
    expect(parseSoap(out, 'text/xml').fields.requestHash).toBe(sha512(req));
  });

  it('keeps a byte-order mark and a single-byte encoding (windows-1258) exact', () => {
    const id = randomUUID();
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(envelope({ id, issue: 'Hồ sơ số 12' }))]);
    const p = parseSoap(bom, 'text/xml');
    const resp = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(envelope({ id, issue: 'Hồ sơ số 12', body: '<ns1:traCuuVanBanResponse/>' }))]);
    const out = withRequestHash(p, parseSoap(resp, 'text/xml'), 'H');
    expect(out.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(out.toString('utf8')).toMatch(/<\/xrd:protocolVersion>\n {2}<xrd:requestHash [^>]+>H<\/xrd:requestHash><\/SOAP-ENV:Header>/);
    // windows-1258: one byte a character (0xD0 is Đ); the edit lands at the same byte offset
    const latin = envelope({ id, issue: 'X\u0110Y', prolog: '<?xml version="1.0" encoding="windows-1258"?>\n' }).replace('TTĐT', 'TTDT');
    const w = Buffer.from(latin.replace('\u0110', '\u00d0'), 'latin1');
    const pw = parseSoap(w, 'text/xml; charset=windows-1258');
    expect(pw.fields.issue).toBe('X\u0110Y');
    // without a charset parameter, the XML declaration names the encoding
    expect(parseSoap(w, 'text/xml').fields.issue).toBe('X\u0110Y');
    const ow = withRequestHash(pw, pw, 'H');
    const end = ow.indexOf('</SOAP-ENV:Header>');
    expect(ow.subarray(end - 200, end).toString('latin1')).toContain('<xrd:requestHash');
    expect(ow.includes(Buffer.from([0x58, 0xd0, 0x59]))).toBe(true);
  });

  it('finds the SOAP part of a multipart message by its Content-ID and hashes that part only', () => {
    const soap = envelope({});
    const body = Buffer.from(
      '--MIME_boundary\r\nContent-Type: text/plain\r\nContent-ID: <other>\r\n\r\nfirst\r\n' +
        `--MIME_boundary\r\nContent-Type: text/xml; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\nContent-ID: <rootpart>\r\n\r\n${soap}\r\n` +
        '--MIME_boundary--\r\n',
    );
    const p = parseSoap(body, 'multipart/related; type="text/xml"; start="<rootpart>"; boundary="MIME_boundary"');
    expect(p.part.toString()).toBe(soap);
    expect(requestHashOf(p)).toBe(sha512(soap));
  });

  it('refuses what is not an X-Road SOAP message, naming X-Road’s fault', () => {
    const fault = (b: string, ct = 'text/xml') => {
      try {
        parseSoap(Buffer.from(b), ct);
        return 'parsed';
      } catch (e) {
        return (e as { detail?: { xroadFault?: string } }).detail?.xroadFault;
      }
    };
    expect(fault('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + envelope({ prolog: '' }))).toBe('InvalidSoap');
    expect(fault('<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>')).toBe('InvalidXml');
    expect(fault('<x xmlns="urn:x"/>')).toBe('InvalidSoap');
    expect(fault('<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Header/></S:Envelope>')).toBe('MissingBody');
    expect(fault(envelope({ extraHeader: '<xrd:id>again</xrd:id>' }))).toBe('DuplicateHeaderField');
    expect(fault(envelope({}), 'application/json')).toBe('InvalidContentType');
    expect(fault(envelope({}), 'text/xml; charset=utf-16')).toBe('InvalidContentType');
    expect(fault('--b\r\nContent-Type: text/xml\r\n\r\n<x/>', 'multipart/related; boundary=b')).toBe('MimeParsingFailed');
  });
});

let t: TestAxis;
let seen: { headers: http.IncomingHttpHeaders; body: Buffer; url: string }[] = [];
/** how the information system answers: echo the header (X-Road's rule), or misbehave */
let mode: 'echo' | 'wrong-id' | 'fault' | 'json' | 'big' = 'echo';
let is: http.Server;

function respond(req: Buffer): { status: number; type: string; body: string } {
  const text = req.toString('utf8');
  const soap = text.includes('--MIME_boundary') ? text.slice(text.indexOf('<?xml'), text.indexOf('</SOAP-ENV:Envelope>') + 20) : text;
  const header = soap.slice(soap.indexOf('<SOAP-ENV:Header>'), soap.indexOf('</SOAP-ENV:Header>') + 18);
  const code = /<id:serviceCode>([^<]+)</.exec(header)![1]!;
  if (mode === 'fault')
    return { status: 500, type: 'text/xml; charset=utf-8', body: '<?xml version="1.0"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Server</faultcode><faultstring>Không tìm thấy văn bản</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>' };
  if (mode === 'json') return { status: 200, type: 'application/json', body: '{"ok":true}' };
  const h = mode === 'wrong-id' ? header.replace(/<xrd:id>[^<]+<\/xrd:id>/, '<xrd:id>another</xrd:id>') : header;
  return {
    status: 200,
    type: 'text/xml; charset=utf-8',
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="http://vanthu.gov.vn/lienthong" xmlns:xrd="http://x-road.eu/xsd/xroad.xsd" xmlns:id="http://x-road.eu/xsd/identifiers">${h}<SOAP-ENV:Body><ns1:${code}Response><trangThai>Đã vào sổ</trangThai><nhan>${req.length}</nhan>${mode === 'big' ? `<noiDung>${'Văn bản điện tử. '.repeat(30_000)}</noiDung>` : ''}</ns1:${code}Response></SOAP-ENV:Body></SOAP-ENV:Envelope>`,
  };
}

beforeAll(async () => {
  is = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ headers: req.headers, body, url: req.url ?? '' });
      const r = respond(body);
      res.writeHead(r.status, { 'content-type': r.type, 'x-internal': 'not for the client' });
      res.end(r.body);
    });
  });
  await new Promise<void>((r) => is.listen(0, '127.0.0.1', r));
  t = await startTestAxis();
  const hcm = t.axis.members[2]!;
  const url = `http://127.0.0.1:${(is.address() as AddressInfo).port}/soap/endpoint`;
  for (const code of ['traCuuVanBan', 'guiVanBan']) await hcm.server.store.putService(parseService(`SERVICE:VN/PROV/000.00.31.H29/vanthu/${code}/v1`), url);
  await hcm.server.store.putService(parseService('SERVICE:VN/PROV/000.00.31.H29/vanthu/khongCapQuyen'), url);
  for (const code of ['traCuuVanBan', 'guiVanBan']) await hcm.server.store.grant({ service: `SERVICE:VN/PROV/000.00.31.H29/vanthu/${code}/v1`, subject: 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu', method: '*', path: '*' });
}, 180_000);

afterAll(async () => {
  await t?.close();
  await new Promise((r) => is?.close(r));
});

async function post(body: Buffer | string, contentType = 'text/xml; charset=utf-8', headers: Record<string, string> = {}) {
  const res = await fetch(`${t.axis.members[0]!.isUrl}/`, { method: 'POST', headers: { 'content-type': contentType, ...headers }, body: typeof body === 'string' ? body : new Uint8Array(body) });
  const bytes = Buffer.from(await res.arrayBuffer());
  const text = bytes.toString('utf8');
  const faultcode = /<faultcode>([^<]*)<\/faultcode>/.exec(text)?.[1];
  return { status: res.status, headers: res.headers, bytes, text, faultcode };
}

describe('SOAP through two security servers', () => {
  it('carries X-Road’s example request: the service gets the bytes and SOAPAction only; the client gets requestHash', async () => {
    mode = 'echo';
    seen = [];
    const id = randomUUID();
    const req = envelope({ id, userId: 'VN012345678901', issue: 'Hồ sơ 12/2026' });
    const r = await post(req, 'text/xml; charset=UTF-8', { soapaction: '""', 'x-secret': 'stays here' });
    expect(r.status, r.text).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/xml; charset=utf-8');
    expect(r.headers.get('x-internal')).toBeNull();
    // the service saw the message as the client wrote it, with Content-Type and SOAPAction and nothing of ours
    expect(seen).toHaveLength(1);
    expect(seen[0]!.body.toString('utf8')).toBe(req);
    expect(seen[0]!.url).toBe('/soap/endpoint');
    expect(seen[0]!.headers['content-type']).toBe('text/xml; charset=UTF-8');
    expect(seen[0]!.headers.soapaction).toBe('""');
    expect(seen[0]!.headers['x-secret']).toBeUndefined();
    expect(Object.keys(seen[0]!.headers).filter((k) => k.startsWith('x-road'))).toEqual([]);
    // the response: the header repeated, requestHash = SHA-512 of the request the client sent
    const doc = new DOMParser().parseFromString(r.text, 'text/xml');
    const rh = doc.getElementsByTagNameNS(XRD_NS, 'requestHash');
    expect(rh.length).toBe(1);
    expect(rh[0]!.textContent).toBe(sha512(req));
    expect(rh[0]!.getAttribute('algorithmId')).toBe('http://www.w3.org/2001/04/xmlenc#sha512');
    expect(doc.getElementsByTagNameNS(XRD_NS, 'id')[0]!.textContent).toBe(id);
    expect(r.text).toContain('<trangThai>Đã vào sổ</trangThai>');
    // logged on both sides under the SOAP message id, with the user
    const search = (i: number) => (t.axis.members[i]!.log as MessageLog).search({ messageId: id });
    for (const i of [0, 2]) {
      let hits = await search(i);
      for (let k = 0; k < 100 && hits.length < 2; k++) {
        await new Promise((res) => setTimeout(res, 100));
        hits = await search(i);
      }
      expect(hits.map((h) => h.kind).sort()).toEqual(['request', 'response']);
      expect(hits.find((h) => h.kind === 'request')!.bodyHash.equals(createHash('sha256').update(req).digest())).toBe(true);
    }
  });

  it('carries attachments: the multipart message byte for byte, requestHash over the SOAP part', async () => {
    mode = 'echo';
    seen = [];
    const soap = envelope({ service: { ...HCM, code: 'guiVanBan', version: 'v1' }, body: '<ns1:guiVanBan><tep href="cid:vb1"/></ns1:guiVanBan>' });
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(200_000, 0x9c), Buffer.from('\n%%EOF\n')]);
    const body = Buffer.concat([
      Buffer.from(`--MIME_boundary\r\nContent-Type: text/xml; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\nContent-ID: <rootpart>\r\n\r\n${soap}\r\n--MIME_boundary\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <vb1>\r\n\r\n`),
      pdf,
      Buffer.from('\r\n--MIME_boundary--\r\n'),
    ]);
    const ct = 'multipart/related; type="text/xml"; start="<rootpart>"; boundary="MIME_boundary"';
    const r = await post(body, ct);
    expect(r.status, r.text.slice(0, 500)).toBe(200);
    expect(seen[0]!.body.equals(body)).toBe(true);
    expect(seen[0]!.headers['content-type']).toBe(ct);
    expect(parseSoap(r.bytes, r.headers.get('content-type')!).fields.requestHash).toBe(sha512(soap));
    expect(r.text).toContain(`<nhan>${body.length}</nhan>`);
  });

  it('carries a response larger than the inline limit (spooled on both sides), requestHash written', async () => {
    mode = 'big';
    const req = envelope({});
    const r = await post(req);
    mode = 'echo';
    expect(r.status, r.text.slice(0, 300)).toBe(200);
    expect(r.bytes.length).toBeGreaterThan(500_000);
    const p = parseSoap(r.bytes, 'text/xml');
    expect(p.fields.requestHash).toBe(sha512(req));
    expect(r.text.endsWith('</ns1:traCuuVanBanResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>')).toBe(true);
  });

  it('answers listMethods and allowedMethods itself, in SOAP', async () => {
    const list = async (code: string) => {
      const r = await post(envelope({ service: { ...HCM, code }, body: `<xrd:${code}/>` }));
      expect(r.status, r.text).toBe(200);
      const doc = new DOMParser().parseFromString(r.text, 'text/xml');
      const body = doc.getElementsByTagNameNS('http://schemas.xmlsoap.org/soap/envelope/', 'Body')[0]!;
      return Array.from(body.getElementsByTagNameNS('http://x-road.eu/xsd/identifiers', 'serviceCode')).map((e) => e.textContent);
    };
    const all = await list('listMethods');
    expect(all).toEqual(expect.arrayContaining(['traCuuVanBan', 'guiVanBan', 'khongCapQuyen']));
    const allowed = await list('allowedMethods');
    expect(allowed).toEqual(expect.arrayContaining(['traCuuVanBan', 'guiVanBan']));
    expect(allowed).not.toContain('khongCapQuyen');
    const wsdl = await post(envelope({ service: { ...HCM, code: 'getWsdl' }, body: '<xrd:getWsdl><xrd:serviceCode>guiVanBan</xrd:serviceCode></xrd:getWsdl>' }));
    expect(wsdl.faultcode).toBe('Server.ServerProxy.ServiceType');
  });

  it('passes the service’s own SOAP fault through; refuses a response that is inconsistent or not SOAP', async () => {
    mode = 'fault';
    const f = await post(envelope({}));
    expect(f.status).toBe(500);
    expect(f.faultcode).toBe('SOAP-ENV:Server');
    expect(f.text).toContain('Không tìm thấy văn bản');
    mode = 'wrong-id';
    expect((await post(envelope({}))).faultcode).toBe('Server.ServerProxy.ServiceFailed.InconsistentResponse');
    mode = 'json';
    expect((await post(envelope({}))).faultcode).toBe('Server.ServerProxy.ServiceFailed.InvalidContentType');
    mode = 'echo';
  });

  it('refuses with SOAP faults and X-Road’s codes, before anything reaches the service', async () => {
    mode = 'echo';
    seen = [];
    const cases: [string, string | Buffer, string?][] = [
      ['Client.MissingHeaderField', envelope({ id: null })],
      ['Client.MissingHeaderField', envelope({ version: null })],
      ['Client.InvalidProtocolVersion', envelope({ version: '3.1' })],
      ['Client.InvalidBody', envelope({ body: '<ns1:khac/>' })],
      ['Client.InvalidClientIdentifier', envelope({ client: { memberClass: 'GOV', memberCode: '000.00.00.G22' } })],
      ['Client.InvalidSoap', `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>${envelope({ prolog: '' })}`],
      ['Client.InvalidXml', '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body>'],
      ['Server.ClientProxy.UnknownMember', envelope({ client: { memberClass: 'GOV', memberCode: '000.00.00.G09', subsystem: 'vanthu' } })],
      ['Server.ClientProxy.UnknownMember', envelope({ service: { memberClass: 'PROV', memberCode: '999.99.99.Z99', subsystem: 'vanthu', code: 'traCuuVanBan' }, body: '<ns1:traCuuVanBan/>' })],
      ['Server.ServerProxy.UnknownService', envelope({ service: { ...HCM, code: 'khongCo' }, body: '<ns1:khongCo/>' })],
      ['Server.ServerProxy.AccessDenied', envelope({ service: { ...HCM, code: 'khongCapQuyen' }, body: '<ns1:khongCapQuyen/>' })],
    ];
    for (const [code, body] of cases) {
      const r = await post(body);
      expect(r.status, `${code}: ${r.text}`).toBe(500);
      expect(r.faultcode, r.text).toBe(code);
      expect(r.headers.get('content-type')).toBe('text/xml; charset=utf-8');
      // the fault carries X-Road's error id and Trục's code with Vietnamese and English text
      expect(r.text).toMatch(/<faultDetail xmlns="">[0-9a-f-]{36}<\/faultDetail>/);
      expect(r.text).toMatch(/<truc:message_vi [^>]+>[^<]+<\/truc:message_vi>/);
    }
    // SOAP 1.2 is not X-Road's protocol: told so as a SOAP fault
    const soap12 = await post(envelope({}), 'application/soap+xml; charset=utf-8');
    expect([soap12.status, soap12.faultcode]).toEqual([500, 'Client.InvalidContentType']);
    expect(soap12.text).toContain('SOAP message is text/xml');
    expect(seen).toHaveLength(0);
    // the same message id twice: the second is a replay
    const id = randomUUID();
    expect((await post(envelope({ id }))).status).toBe(200);
    expect((await post(envelope({ id }))).faultcode).toBe('Server.ServerProxy.InvalidMessage');
  });

  it('lists the axis’s clients (GET /listClients) as X-Road’s clientList, in XML or JSON', async () => {
    const base = t.axis.members[0]!.isUrl;
    const x = await fetch(`${base}/listClients`);
    expect(x.headers.get('content-type')).toBe('text/xml; charset=utf-8');
    const doc = new DOMParser().parseFromString(await x.text(), 'text/xml');
    expect(doc.documentElement!.namespaceURI).toBe(XRD_NS);
    expect(doc.documentElement!.localName).toBe('clientList');
    const members = Array.from(doc.getElementsByTagNameNS(XRD_NS, 'member')).map((m) => {
      const id = m.getElementsByTagNameNS(XRD_NS, 'id')[0]!;
      const part = (n: string) => id.getElementsByTagNameNS('http://x-road.eu/xsd/identifiers', n)[0]?.textContent ?? '';
      return `${id.getAttributeNS('http://x-road.eu/xsd/identifiers', 'objectType')}:${part('xRoadInstance')}/${part('memberClass')}/${part('memberCode')}${part('subsystemCode') ? `/${part('subsystemCode')}` : ''} ${m.getElementsByTagNameNS(XRD_NS, 'name')[0]!.textContent}`;
    });
    expect(members).toEqual(expect.arrayContaining(['MEMBER:VN/GOV/000.00.00.G22 Văn phòng Chính phủ', 'SUBSYSTEM:VN/PROV/000.00.31.H29/vanthu UBND Thành phố Hồ Chí Minh']));
    const j = await (await fetch(`${base}/listClients?xRoadInstance=VN`, { headers: { accept: 'application/json' } })).json();
    expect(j.member).toContainEqual({ id: { member_class: 'GOV', member_code: '000.00.00.G09', subsystem_code: 'vanthu', object_type: 'SUBSYSTEM', xroad_instance: 'VN' }, name: 'Bộ Nội vụ' });
    expect((await (await fetch(`${base}/listClients?xRoadInstance=EE`, { headers: { accept: 'application/json' } })).json()).member).toEqual([]);
    // and a request written with protocolVersion 4.x, as X-Road's own examples are
    const r = await post(envelope({ service: { ...HCM, code: 'listMethods' }, body: '<xrd:listMethods/>', version: '4.x' }));
    expect(r.status, r.text).toBe(200);
  });

  it('targets one provider server when the client names it (PR-TARGETSS, X-Road-Security-Server in REST)', async () => {
    const base = t.axis.members[0]!.isUrl;
    const rest = (target: string, accept?: string) =>
      fetch(`${base}/r1/VN/PROV/000.00.31.H29/vanthu/thong-tin`, { headers: { 'x-road-client': 'VN/GOV/000.00.00.G22/vanthu', 'x-road-security-server': target, ...(accept ? { accept } : {}) } });
    const ok = await rest('VN/PROV/000.00.31.H29/ss-hcm');
    expect(ok.status, await ok.clone().text()).toBe(200);
    // the header is the axis's: the service does not see it
    expect(JSON.stringify(await ok.json())).not.toContain('ss-hcm');
    const other = await rest('VN/GOV/000.00.00.G22/ss-vpcp');
    expect([other.status, other.headers.get('x-road-error')]).toEqual([500, 'Server.ClientProxy.InvalidSecurityServer']);
    const bad = await rest('VN/PROV');
    expect([bad.status, bad.headers.get('x-road-error')]).toEqual([400, 'Client.InvalidSecurityServer']);
    // an error follows the Accept header (PR-REST 4.6): XML when XML is preferred, JSON by default
    const xml = await rest('VN/PROV', 'application/xml, application/json;q=0.5');
    expect(xml.headers.get('content-type')).toBe('application/xml; charset=utf-8');
    const doc = new DOMParser().parseFromString(await xml.text(), 'text/xml');
    expect(doc.documentElement!.localName).toBe('error');
    expect(doc.getElementsByTagName('type')[0]!.textContent).toBe('Client.InvalidSecurityServer');
    expect(doc.getElementsByTagName('detail')[0]!.textContent).toMatch(/^[0-9a-f-]{36}$/);
    expect(doc.getElementsByTagName('message_vi')[0]!.textContent).toBe('Định danh không hợp lệ');
    expect((await rest('VN/PROV', 'application/json, application/xml;q=0.9')).headers.get('content-type')).toBe('application/json; charset=utf-8');
    // SOAP: the securityServer header element
    const server = (code: string, m: Who) =>
      `<xrd:securityServer id:objectType="SERVER"><id:xRoadInstance>VN</id:xRoadInstance><id:memberClass>${m.memberClass}</id:memberClass><id:memberCode>${m.memberCode}</id:memberCode><id:serverCode>${code}</id:serverCode></xrd:securityServer>\n`;
    mode = 'echo';
    expect((await post(envelope({ extraHeader: server('ss-hcm', HCM) }))).status).toBe(200);
    expect((await post(envelope({ extraHeader: server('ss-vpcp', VPCP) }))).faultcode).toBe('Server.ClientProxy.InvalidSecurityServer');
  });

  it('keeps the REST protocol where it was: a POST of JSON to / is not SOAP', async () => {
    const r = await fetch(`${t.axis.members[0]!.isUrl}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(r.status).toBe(400);
    expect(r.headers.get('x-road-error')).toBe('Client.BadRequest');
  });
});
