/**
 * X-Road's SOAP protocol (PR-MESS 4.0) with messages shaped as real SOAP stacks write them (Apache
 * CXF, Axis2, .NET WCF, PHP SoapClient, zeep, gSOAP): MTOM/XOP and SwA, encodings, prologs, namespace styles,
 * SOAPAction forms, faults — in both directions, through both security servers. The provider's information
 * system is a plain HTTP server that records exactly what reaches it and answers as the test tells it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { startTestAxis, type TestAxis } from './setup.js';
import { parseService } from '../../../src/exchange/ids.js';

const ENV_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
const XRD_NS = 'http://x-road.eu/xsd/xroad.xsd';
const ID_NS = 'http://x-road.eu/xsd/identifiers';
const sha512 = (b: Buffer | string) => createHash('sha512').update(b).digest('base64');
const B = (s: string) => Buffer.from(s, 'utf8');
const L = (s: string) => Buffer.from(s, 'latin1');

interface Seen {
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}
interface Answer {
  status?: number;
  headers?: Record<string, string>;
  /** a Buffer is sent with Content-Length; an array of chunks chunked */
  body: Buffer | Buffer[];
  /** the connection is cut after the first chunk (a service that breaks off) */
  cut?: boolean;
}

let t: TestAxis;
let is: http.Server;
let seen: Seen[] = [];
/** what the service sent last (the whole body) */
let sent: Buffer = Buffer.alloc(0);
let answer: (r: Seen) => Answer = echo;

interface EnvOpts {
  /** the SOAP envelope's prefix; '' for the default namespace */
  env?: string;
  xrd?: string;
  idp?: string;
  prolog?: string;
  order?: string[];
  /** attributes on each xrd header field */
  fieldAttrs?: string;
  /** attributes on the text fields only (id, protocolVersion, userId, issue) */
  textAttrs?: string;
  /** declare xrd and id on the Header instead of the Envelope */
  declOnHeader?: boolean;
  /** extra namespace declarations on the Envelope */
  envDecl?: string;
  userId?: string;
  issue?: string;
  body?: string;
  extraHeader?: string;
  /** the header as written instead (e.g. a self-closing one, or none: '') */
  header?: string;
  nl?: string;
}

function envelope(id: string, o: EnvOpts = {}, response = false): string {
  const e = o.env ?? 'SOAP-ENV';
  const E = (n: string) => (e ? `${e}:${n}` : n);
  const x = o.xrd ?? 'xrd';
  const i = o.idp ?? 'id';
  const nl = o.nl ?? '\n';
  const fa = o.fieldAttrs ?? '';
  const ta = o.textAttrs ?? '';
  const parts = (w: { cls: string; code: string; sub: string }) => `<${i}:xRoadInstance>VN</${i}:xRoadInstance><${i}:memberClass>${w.cls}</${i}:memberClass><${i}:memberCode>${w.code}</${i}:memberCode><${i}:subsystemCode>${w.sub}</${i}:subsystemCode>`;
  const fields: Record<string, string> = {
    client: `<${x}:client ${i}:objectType="SUBSYSTEM"${fa}>${parts({ cls: 'GOV', code: '000.00.00.G22', sub: 'vanthu' })}</${x}:client>`,
    service: `<${x}:service ${i}:objectType="SERVICE"${fa}>${parts({ cls: 'PROV', code: '000.00.31.H29', sub: 'vanthu' })}<${i}:serviceCode>traCuuVanBan</${i}:serviceCode><${i}:serviceVersion>v1</${i}:serviceVersion></${x}:service>`,
    id: `<${x}:id${fa}${ta}>${id}</${x}:id>`,
    userId: o.userId === undefined ? '' : `<${x}:userId${fa}${ta}>${o.userId}</${x}:userId>`,
    issue: o.issue === undefined ? '' : `<${x}:issue${fa}${ta}>${o.issue}</${x}:issue>`,
    protocolVersion: `<${x}:protocolVersion${fa}${ta}>4.0</${x}:protocolVersion>`,
  };
  const order = o.order ?? ['client', 'service', 'id', 'userId', 'issue', 'protocolVersion'];
  const xdecl = `xmlns:${x}="${XRD_NS}" xmlns:${i}="${ID_NS}"`;
  const envDecl = (e ? `xmlns:${e}="${ENV_NS}"` : `xmlns="${ENV_NS}"`) + (o.declOnHeader ? '' : ` ${xdecl}`) + (o.envDecl ?? '');
  const header =
    o.header ??
    `<${E('Header')}${o.declOnHeader ? ` ${xdecl}` : ''}>${nl}` +
      order
        .map((k) => fields[k])
        .filter(Boolean)
        .map((f) => `  ${f}${nl}`)
        .join('') +
      (o.extraHeader ?? '') +
      `</${E('Header')}>${nl}`;
  const body =
    o.body ??
    (response
      ? '<ns1:traCuuVanBanResponse xmlns:ns1="http://vanthu.gov.vn/lienthong"><ketQua>Đã tiếp nhận</ketQua></ns1:traCuuVanBanResponse>'
      : '<ns1:traCuuVanBan xmlns:ns1="http://vanthu.gov.vn/lienthong"><soHieu>7816/VPCP-TTĐT</soHieu></ns1:traCuuVanBan>');
  return (o.prolog ?? `<?xml version="1.0" encoding="UTF-8"?>${nl}`) + `<${E('Envelope')} ${envDecl}>${nl}` + header + `<${E('Body')}>${body}</${E('Body')}>${nl}</${E('Envelope')}>${nl}`;
}

const field = (text: string, name: string) => new RegExp(`<(?:[\\w.-]+:)?${name}(?:\\s[^>]*)?>([^<]*)</(?:[\\w.-]+:)?${name}>`).exec(text)?.[1];

/** The default service: a UTF-8 text/xml response repeating the request's header fields (X-Road's rule). */
function echo(r: Seen): Answer {
  const text = r.body.toString('utf8');
  const userId = field(text, 'userId');
  const issue = field(text, 'issue');
  return { headers: { 'content-type': 'text/xml; charset=utf-8' }, body: B(envelope(field(text, 'id')!, { ...(userId !== undefined ? { userId } : {}), ...(issue !== undefined ? { issue } : {}) }, true)) };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  bytes: Buffer;
  text: string;
  faultcode?: string;
}

/** A POST to the consumer's server as an information system sends it (http.request: only the headers given, and the length). */
function send(body: Buffer | Buffer[], headers: Record<string, string>, o: { path?: string; expectContinue?: boolean } = {}): Promise<Reply> {
  const u = new URL(t.axis.members[0]!.isUrl);
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { ...headers };
    if (Buffer.isBuffer(body) && !Object.keys(h).some((k) => k.toLowerCase() === 'transfer-encoding')) h['content-length'] = String(body.length);
    if (o.expectContinue) h.expect = '100-continue';
    const req = http.request({ host: u.hostname, port: u.port, path: o.path ?? '/', method: 'POST', headers: h, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const text = bytes.toString('utf8');
        const faultcode = /<faultcode>([^<]*)<\/faultcode>/.exec(text)?.[1];
        resolve({ status: res.statusCode!, headers: res.headers, bytes, text, ...(faultcode !== undefined ? { faultcode } : {}) });
      });
      res.on('error', reject);
    });
    req.setTimeout(90_000, () => req.destroy(new Error('no answer within 90 s (a hang)')));
    req.on('error', reject);
    const write = () => {
      if (Buffer.isBuffer(body)) req.end(body);
      else {
        for (const c of body) req.write(c);
        req.end();
      }
    };
    if (o.expectContinue) {
      let went = false;
      req.on('continue', () => {
        went = true;
        write();
      });
      // .NET sends the body anyway after 350 ms without an answer; here we wait for 100 Continue (5 s)
      setTimeout(() => {
        if (!went) req.destroy(new Error('no 100 Continue within 5 s'));
      }, 5000);
      req.flushHeaders();
    } else write();
  });
}

const HASH_EL = /<xrd:requestHash xmlns:xrd="http:\/\/x-road\.eu\/xsd\/xroad\.xsd" algorithmId="http:\/\/www\.w3\.org\/2001\/04\/xmlenc#sha512">([A-Za-z0-9+/=]+)<\/xrd:requestHash>/g;

/**
 * A response as the client got it against what the service sent: the only difference is the requestHash
 * element the provider's server wrote as the last element of the header (replacing one the service wrote, when
 * `serviceHash` says where), equal to SHA-512 of the request's SOAP part.
 */
function expectOnlyHashAdded(r: Reply, serviceSent: Buffer, requestSoapPart: Buffer | string, headerEndTag: string, serviceHash?: RegExp): void {
  expect(r.status, r.text.slice(0, 1500)).toBe(200);
  const text = r.bytes.toString('latin1');
  const hits = [...text.matchAll(HASH_EL)];
  expect(hits.length, 'one requestHash written').toBe(1);
  expect(hits[0]![1]).toBe(sha512(requestSoapPart));
  const at = hits[0]!.index!;
  // the last element of the header: the header's end tag right after it
  expect(text.slice(at + hits[0]![0].length, at + hits[0]![0].length + headerEndTag.length)).toBe(headerEndTag);
  const stripped = L(text.slice(0, at) + text.slice(at + hits[0]![0].length));
  const expected = serviceHash ? L(serviceSent.toString('latin1').replace(serviceHash, '')) : serviceSent;
  expect(stripped.equals(expected), 'the response is the service’s, byte for byte, but for requestHash').toBe(true);
}

/** A normal call still works after an odd one. */
async function normalCall(): Promise<void> {
  const prev = answer;
  answer = echo;
  try {
    const req = B(envelope(randomUUID()));
    const r = await send(req, { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' });
    expect(r.status, `normal call after the case: ${r.text.slice(0, 800)}`).toBe(200);
    expect([...r.bytes.toString('latin1').matchAll(HASH_EL)][0]?.[1]).toBe(sha512(req));
  } finally {
    answer = prev;
  }
}

function expectFault(r: Reply, code: string | RegExp): void {
  expect(r.status, r.text.slice(0, 1500)).toBe(500);
  expect(r.headers['content-type']).toMatch(/^text\/xml/);
  if (typeof code === 'string') expect(r.faultcode, r.text.slice(0, 1500)).toBe(code);
  else expect(r.faultcode ?? '', r.text.slice(0, 1500)).toMatch(code);
}

/** A multipart/related body: parts of headers and content, a preamble and an epilogue. */
function multipart(boundary: string, parts: { headers: string[]; content: Buffer | string }[], o: { preamble?: string; epilogue?: string } = {}): Buffer {
  const out: Buffer[] = [];
  if (o.preamble !== undefined) out.push(L(o.preamble + '\r\n'));
  parts.forEach((p, k) => {
    out.push(L(`${k ? '\r\n' : ''}--${boundary}\r\n${p.headers.map((h) => h + '\r\n').join('')}\r\n`));
    out.push(Buffer.isBuffer(p.content) ? p.content : B(p.content));
  });
  out.push(L(`\r\n--${boundary}--`));
  if (o.epilogue !== undefined) out.push(L('\r\n' + o.epilogue));
  return Buffer.concat(out);
}

/** binary bytes with CRLFs, `--`, blank lines and a prefix of the boundary in them */
function nasty(boundary: string, n = 4096): Buffer {
  const pieces: Buffer[] = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])];
  pieces.push(L(`\r\n--\r\n\r\n--${boundary.slice(0, Math.max(1, boundary.length - 3))}\r\n-- \r\n\r\n`));
  for (let k = 0, len = pieces[0]!.length + pieces[1]!.length; len < n; k++, len += 8) pieces.push(Buffer.from([k & 0xff, 0x0d, 0x0a, 0x2d, 0x2d, (k * 7) & 0xff, 0x00, 0xff]));
  pieces.push(L('\r\n'));
  return Buffer.concat(pieces);
}

beforeAll(async () => {
  is = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = { url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks) };
      seen.push(s);
      let a: Answer;
      try {
        a = answer(s);
      } catch (e) {
        res.writeHead(599).end(String(e));
        return;
      }
      sent = Buffer.isBuffer(a.body) ? a.body : Buffer.concat(a.body);
      if (Buffer.isBuffer(a.body)) {
        res.writeHead(a.status ?? 200, { ...(a.headers ?? {}), 'content-length': String(a.body.length) });
        res.end(a.body);
      } else {
        res.writeHead(a.status ?? 200, a.headers ?? {});
        if (a.cut) {
          res.write(a.body[0]!);
          setTimeout(() => res.socket?.destroy(), 100);
          return;
        }
        for (const c of a.body) res.write(c);
        res.end();
      }
    });
  });
  await new Promise<void>((r) => is.listen(0, '127.0.0.1', r));
  t = await startTestAxis();
  const hcm = t.axis.members[2]!;
  const url = `http://127.0.0.1:${(is.address() as AddressInfo).port}/svc/endpoint`;
  await hcm.server.store.putService(parseService('SERVICE:VN/PROV/000.00.31.H29/vanthu/traCuuVanBan/v1'), url);
  await hcm.server.store.grant({ service: 'SERVICE:VN/PROV/000.00.31.H29/vanthu/traCuuVanBan/v1', subject: 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu', method: '*', path: '*' });
}, 180_000);

afterAll(async () => {
  await t?.close();
  await new Promise((r) => is?.close(r));
});

/** the request's fields as the echoing multipart services need them */
const idOf = (r: Seen) => field(r.body.toString('latin1'), 'id')!;

describe('MTOM/XOP and SwA as stacks write them', () => {
  it('baseline: a plain text/xml call', async () => {
    answer = echo;
    seen = [];
    const req = B(envelope(randomUUID()));
    const r = await send(req, { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' });
    expectOnlyHashAdded(r, sent, req, '</SOAP-ENV:Header>');
    expect(seen[0]!.body.equals(req)).toBe(true);
  });

  // CXF (small: read whole; large: streamed past the inline limit), both directions
  for (const size of [3000, 300_000]) {
    it(`Apache CXF MTOM request and MTOM response, attachment of ${size} bytes with CRLF and -- inside`, async () => {
      const boundary = 'uuid:6b62cda8-7d7e-4f2c-9b4e-0b2b1d2f4b1a';
      const id = randomUUID();
      const soap = envelope(id, { env: 'soap', body: '<ns1:traCuuVanBan xmlns:ns1="http://vanthu.gov.vn/lienthong"><tep><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:5aeaa450-17f0-4484-b845-a8480c363444-1@cxf.apache.org"/></tep></ns1:traCuuVanBan>' });
      const att = nasty(boundary, size);
      const body = multipart(boundary, [
        { headers: ['Content-Type: application/xop+xml; charset=UTF-8; type="text/xml"', 'Content-Transfer-Encoding: binary', 'Content-ID: <root.message@cxf.apache.org>'], content: soap },
        { headers: ['Content-Type: application/octet-stream', 'Content-Transfer-Encoding: binary', 'Content-ID: <5aeaa450-17f0-4484-b845-a8480c363444-1@cxf.apache.org>'], content: att },
      ]);
      const ct = `multipart/related; type="application/xop+xml"; boundary="${boundary}"; start="<root.message@cxf.apache.org>"; start-info="text/xml"`;
      const rb = 'uuid:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
      answer = (r) => ({
        headers: { 'content-type': `multipart/related; type="application/xop+xml"; boundary="${rb}"; start="<root.message@cxf.apache.org>"; start-info="text/xml"` },
        body: multipart(rb, [
          { headers: ['Content-Type: application/xop+xml; charset=UTF-8; type="text/xml"', 'Content-Transfer-Encoding: binary', 'Content-ID: <root.message@cxf.apache.org>'], content: envelope(idOf(r), { env: 'soap', body: '<ns1:traCuuVanBanResponse xmlns:ns1="http://vanthu.gov.vn/lienthong"><tep><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:ketqua-1@cxf.apache.org"/></tep></ns1:traCuuVanBanResponse>' }, true) },
          { headers: ['Content-Type: application/octet-stream', 'Content-Transfer-Encoding: binary', 'Content-ID: <ketqua-1@cxf.apache.org>'], content: nasty(rb, size) },
        ]),
      });
      seen = [];
      const r = await send(body, { 'content-type': ct, soapaction: '""' });
      expectOnlyHashAdded(r, sent, soap, '</soap:Header>');
      expect(r.headers['content-type']).toBe(answer(seen[0]!).headers!['content-type']);
      expect(seen[0]!.body.equals(body), 'the service got the message byte for byte').toBe(true);
      expect(seen[0]!.headers['content-type']).toBe(ct);
    });
  }

  it('.NET WCF MTOM: params without spaces in another order, boundary with + and =, root part headers in WCF’s order', async () => {
    const boundary = 'uuid:0ca0e16e-feb1-426c-97d8-c4508ada5e82+id=1';
    const soap = envelope(randomUUID(), { env: 's', nl: '' });
    const body = multipart(boundary, [
      { headers: ['Content-ID: <http://tempuri.org/0>', 'Content-Transfer-Encoding: 8bit', 'Content-Type: application/xop+xml;charset=utf-8;type="text/xml"'], content: soap },
      { headers: ['Content-ID: <http://tempuri.org/1/636123456789012345>', 'Content-Transfer-Encoding: binary', 'Content-Type: application/octet-stream'], content: nasty(boundary) },
    ]);
    const ct = `multipart/related; type="application/xop+xml";start="<http://tempuri.org/0>";boundary="${boundary}";start-info="text/xml"`;
    const rb = 'uuid:1d2c3b4a-feb1-426c-97d8-c4508ada5e82+id=2';
    answer = (r) => ({
      headers: { 'content-type': `multipart/related; type="application/xop+xml";start="<http://tempuri.org/0>";boundary="${rb}";start-info="text/xml"` },
      body: multipart(rb, [
        { headers: ['Content-ID: <http://tempuri.org/0>', 'Content-Transfer-Encoding: 8bit', 'Content-Type: application/xop+xml;charset=utf-8;type="text/xml"'], content: envelope(idOf(r), { env: 's', nl: '' }, true) },
        { headers: ['Content-ID: <http://tempuri.org/1/636123456789099999>', 'Content-Transfer-Encoding: binary', 'Content-Type: application/octet-stream'], content: nasty(rb) },
      ]),
    });
    seen = [];
    const r = await send(body, { 'content-type': ct, soapaction: '"http://tempuri.org/IVanThu/traCuuVanBan"', 'mime-version': '1.0' }, { expectContinue: true });
    expectOnlyHashAdded(r, sent, soap, '</s:Header>');
    expect(seen[0]!.body.equals(body)).toBe(true);
    expect(seen[0]!.headers.soapaction).toBe('"http://tempuri.org/IVanThu/traCuuVanBan"');
  });

  it('Axis2 MTOM: unquoted boundary first, Content-ID of urn:uuid form', async () => {
    const boundary = 'MIMEBoundary_1d0e3b0f6b9a4f5d8c7e2a1b0c9d8e7f6a5b4c3d2e1f0a9b';
    const start = '<0.1d0e3b0f6b9a4f5d8c7e2a1b0c9d8e7f6a5b4c3d2e1f0a9c@apache.org>';
    const soap = envelope(randomUUID(), { env: 'soapenv' });
    const body = multipart(boundary, [
      { headers: ['Content-Type: application/xop+xml; charset=UTF-8; type="text/xml"', 'Content-Transfer-Encoding: binary', `Content-ID: ${start}`], content: soap },
      { headers: ['Content-Type: application/octet-stream', 'Content-Transfer-Encoding: binary', 'Content-ID: <1.urn:uuid:5A6B7C8D9E0F1A2B3C4D@apache.org>'], content: nasty(boundary) },
    ]);
    const ct = `multipart/related; boundary=${boundary}; type="application/xop+xml"; start="${start}"; start-info="text/xml"`;
    answer = echo;
    seen = [];
    const r = await send(body, { 'content-type': ct, soapaction: '"urn:traCuuVanBan"' });
    expectOnlyHashAdded(r, sent, soap, '</SOAP-ENV:Header>');
    expect(seen[0]!.body.equals(body)).toBe(true);
  });

  it('JavaMail/SAAJ boundary ----=_Part_0_1234.5678, quoted, with a preamble before the first boundary and an epilogue after the last', async () => {
    const boundary = '----=_Part_0_1234.5678';
    let soap = '';
    let body: Buffer = Buffer.alloc(0);
    const make = () => {
      soap = envelope(randomUUID());
      body = multipart(
        boundary,
        [
          { headers: ['Content-Type: text/xml; charset=UTF-8', 'Content-Transfer-Encoding: 8bit', 'Content-ID: <rootpart@soapui.org>'], content: soap },
          { headers: ['Content-Type: application/pdf', 'Content-Transfer-Encoding: binary', 'Content-ID: <vb1>'], content: nasty(boundary) },
        ],
        { preamble: 'This is a multi-part message in MIME format.', epilogue: 'epilogue: ignore me\r\n' },
      );
    };
    for (const ct of [`multipart/related; type="text/xml"; start="<rootpart@soapui.org>"; boundary="${boundary}"`, `Multipart/Related; Boundary="${boundary}"; Type="text/xml"; Start="<rootpart@soapui.org>"`]) {
      make();
      answer = echo;
      seen = [];
      const r = await send(body, { 'content-type': ct, soapaction: '""' });
      expectOnlyHashAdded(r, sent, soap, '</SOAP-ENV:Header>');
      expect(seen[0]!.body.equals(body)).toBe(true);
    }
    // the same as a response: preamble and epilogue kept
    const rb = '----=_Part_7_9999.0001';
    answer = (r) => ({
      headers: { 'content-type': `multipart/related; type="text/xml"; boundary="${rb}"; start="<rootpart@soapui.org>"` },
      body: multipart(rb, [
        { headers: ['Content-Type: text/xml; charset=UTF-8', 'Content-ID: <rootpart@soapui.org>'], content: envelope(idOf(r), {}, true) },
        { headers: ['Content-Type: application/pdf', 'Content-ID: <kq>'], content: nasty(rb) },
      ], { preamble: 'This is a multi-part message in MIME format.', epilogue: 'trailing words' }),
    });
    make();
    const r = await send(body, { 'content-type': `multipart/related; type="text/xml"; start="<rootpart@soapui.org>"; boundary="${boundary}"` });
    expectOnlyHashAdded(r, sent, soap, '</SOAP-ENV:Header>');
  });

  it('Content-ID with and without angle brackets, start with and without them', async () => {
    const boundary = 'MIME_boundary';
    for (const [cid, start] of [
      ['rootpart@example.org', '<rootpart@example.org>'],
      ['<rootpart@example.org>', 'rootpart@example.org'],
      ['<rootpart@example.org>', '<rootpart@example.org>'],
    ]) {
      const soap = envelope(randomUUID());
      // the envelope second: only the start parameter says which part it is
      const body = multipart(boundary, [
        { headers: ['Content-Type: application/octet-stream', 'Content-ID: <first>'], content: nasty(boundary) },
        { headers: ['Content-Type: text/xml; charset=UTF-8', `Content-ID: ${cid}`], content: soap },
      ]);
      answer = echo;
      seen = [];
      const r = await send(body, { 'content-type': `multipart/related; type="text/xml"; start="${start}"; boundary=${boundary}` });
      expectOnlyHashAdded(r, sent, soap, '</SOAP-ENV:Header>');
      expect(seen[0]!.body.equals(body)).toBe(true);
    }
  });

  it('Content-Transfer-Encoding binary / 8bit / base64 / quoted-printable on attachments', async () => {
    const boundary = 'b1';
    const soap = envelope(randomUUID());
    const body = multipart(boundary, [
      { headers: ['Content-Type: text/xml; charset=UTF-8', 'Content-Transfer-Encoding: 8bit', 'Content-ID: <env>'], content: soap },
      { headers: ['Content-Type: application/pdf', 'Content-Transfer-Encoding: base64', 'Content-ID: <a1>'], content: nasty(boundary).toString('base64').replace(/(.{76})/g, '$1\r\n') },
      { headers: ['Content-Type: text/plain; charset=UTF-8', 'Content-Transfer-Encoding: quoted-printable', 'Content-ID: <a2>'], content: 'C=C3=B4ng v=C4=83n --=\r\n s=E1=BB=91 1' },
      { headers: ['Content-Type: text/plain; charset=UTF-8', 'Content-Transfer-Encoding: 8bit', 'Content-ID: <a3>'], content: 'Công văn\r\n--\r\n' },
      { headers: ['Content-Type: application/octet-stream', 'Content-Transfer-Encoding: binary', 'Content-ID: <a4>'], content: nasty(boundary) },
    ]);
    answer = echo;
    seen = [];
    const r = await send(body, { 'content-type': `multipart/related; type="text/xml"; start="<env>"; boundary="${boundary}"` });
    expectOnlyHashAdded(r, sent, soap, '</SOAP-ENV:Header>');
    expect(seen[0]!.body.equals(body)).toBe(true);
  });

  it('SwA response with the envelope not first, start naming it', async () => {
    const req = B(envelope(randomUUID()));
    const rb = 'MIME_resp';
    answer = (r) => ({
      headers: { 'content-type': `multipart/related; type="text/xml"; start="<env@resp>"; boundary="${rb}"` },
      body: multipart(rb, [
        { headers: ['Content-Type: application/pdf', 'Content-ID: <pdf@resp>'], content: nasty(rb, 100_000) },
        { headers: ['Content-Type: text/xml; charset=UTF-8', 'Content-ID: <env@resp>'], content: envelope(idOf(r), {}, true) },
        { headers: ['Content-Type: application/pdf', 'Content-ID: <pdf2@resp>'], content: nasty(rb, 100) },
      ]),
    });
    const r = await send(req, { 'content-type': 'text/xml; charset=utf-8' });
    expectOnlyHashAdded(r, sent, req, '</SOAP-ENV:Header>');
  });

  it('a chunked request (CXF’s default past 4 KiB) and a chunked response', async () => {
    const soap = B(envelope(randomUUID(), { body: `<ns1:traCuuVanBan xmlns:ns1="http://vanthu.gov.vn/lienthong">${'<muc>Hồ sơ</muc>'.repeat(8000)}</ns1:traCuuVanBan>` }));
    answer = (r) => {
      const b = B(envelope(idOf(r), {}, true));
      return { headers: { 'content-type': 'text/xml;charset=UTF-8' }, body: [b.subarray(0, 50), b.subarray(50, 51), b.subarray(51)] };
    };
    seen = [];
    const r = await send([soap.subarray(0, 1000), soap.subarray(1000, 70_000), soap.subarray(70_000)], { 'content-type': 'text/xml;charset=UTF-8', soapaction: '""' });
    expectOnlyHashAdded(r, sent, soap, '</SOAP-ENV:Header>');
    expect(seen[0]!.body.equals(soap)).toBe(true);
  });
});

describe('envelopes as stacks write them', () => {
  it('ISO-8859-1 declared in the XML declaration only (no charset in Content-Type), both ways', async () => {
    const prolog = '<?xml version="1.0" encoding="ISO-8859-1"?>\n';
    const issue = 'Dossier n\u00b0 12 \u2013 caf\u00e9 \u00e0 Hu\u00e9'.replace('\u2013', '-');
    const req = L(envelope(randomUUID(), { prolog, issue, body: '<ns1:traCuuVanBan xmlns:ns1="http://vanthu.gov.vn/lienthong"><soHieu>\u00e9t\u00e9</soHieu></ns1:traCuuVanBan>' }));
    answer = (r) => ({ headers: { 'content-type': 'text/xml' }, body: L(envelope(idOf(r), { prolog, issue, body: '<ns1:traCuuVanBanResponse xmlns:ns1="http://vanthu.gov.vn/lienthong"><k>r\u00e9ponse</k></ns1:traCuuVanBanResponse>' }, true)) });
    seen = [];
    const r = await send(req, { 'content-type': 'text/xml' });
    expectOnlyHashAdded(r, sent, req, '</SOAP-ENV:Header>');
    expect(seen[0]!.body.equals(req)).toBe(true);
  });

  it('windows-1258 with Vietnamese (charset parameter), both ways', async () => {
    const prolog = '<?xml version="1.0" encoding="windows-1258"?>\n';
    // "Hồ sơ Đà Nẵng" in windows-1258: ô + combining grave, ơ, Đ, à, N, ă + combining tilde
    const issue = 'H\u00f4\u00cc s\u00f5 \u00d0\u00e0 N\u00e3\u00deng';
    const req = L(envelope(randomUUID(), { prolog, issue, body: `<ns1:traCuuVanBan xmlns:ns1="http://vanthu.gov.vn/lienthong"><soHieu>${issue}</soHieu></ns1:traCuuVanBan>` }));
    answer = (r) => ({ headers: { 'content-type': 'text/xml; charset=windows-1258' }, body: L(envelope(idOf(r), { prolog, issue, body: `<ns1:traCuuVanBanResponse xmlns:ns1="http://vanthu.gov.vn/lienthong"><k>${issue}</k></ns1:traCuuVanBanResponse>` }, true)) });
    seen = [];
    const r = await send(req, { 'content-type': 'text/xml; charset=windows-1258' });
    expectOnlyHashAdded(r, sent, req, '</SOAP-ENV:Header>');
    expect(seen[0]!.body.equals(req)).toBe(true);
  });

  it('UTF-8 with a byte-order mark (.NET’s XmlWriter), both ways', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const req = Buffer.concat([bom, B(envelope(randomUUID(), { env: 's', issue: 'Hồ sơ số 12' }))]);
    answer = (r) => ({ headers: { 'content-type': 'text/xml; charset=utf-8' }, body: Buffer.concat([bom, B(envelope(field(r.body.toString('utf8'), 'id')!, { env: 's', issue: 'Hồ sơ số 12' }, true))]) });
    const r = await send(req, { 'content-type': 'text/xml; charset=utf-8', soapaction: '"http://tempuri.org/IVanThu/traCuuVanBan"' });
    expectOnlyHashAdded(r, sent, req, '</s:Header>');
  });

  it('UTF-16 with a BOM: refused with a proper SOAP fault (documented: other encodings refused), and nothing reaches the service', async () => {
    answer = echo;
    seen = [];
    const text = envelope(randomUUID(), { prolog: '<?xml version="1.0" encoding="UTF-16"?>\n' });
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const withCharset = await send(le, { 'content-type': 'text/xml; charset=UTF-16' });
    expectFault(withCharset, 'Client.InvalidContentType');
    // without a charset parameter: the BOM and the declaration say UTF-16 (XML 1.0 Appendix F; RFC 7303 §3.3)
    const bare = await send(le, { 'content-type': 'text/xml' });
    expectFault(bare, 'Client.InvalidContentType');
    expect(bare.text).toMatch(/UTF-16/);
    expect(seen).toHaveLength(0);
    await normalCall();
  });

  it('whitespace, comments and processing instructions before the root (gSOAP, hand-written clients)', async () => {
    const prolog = '<?xml version="1.0" encoding="UTF-8"?>\n<!-- generated by gSOAP 2.8.117 -->\n<?xml-stylesheet type="text/xsl" href="x.xsl"?>\n\n  \t';
    const req = B(envelope(randomUUID(), { prolog }));
    answer = (r) => ({ headers: { 'content-type': 'text/xml; charset=utf-8' }, body: B(envelope(idOf(r), { prolog }, true)) });
    seen = [];
    const r = await send(req, { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' });
    expectOnlyHashAdded(r, sent, req, '</SOAP-ENV:Header>');
    expect(seen[0]!.body.equals(req)).toBe(true);
  });

  it('the SOAP envelope in the default namespace (no prefix), both ways', async () => {
    const req = B(envelope(randomUUID(), { env: '' }));
    answer = (r) => ({ headers: { 'content-type': 'text/xml; charset=utf-8' }, body: B(envelope(idOf(r), { env: '' }, true)) });
    const r = await send(req, { 'content-type': 'text/xml; charset=utf-8' });
    expectOnlyHashAdded(r, sent, req, '</Header>');
  });

  it('zeep / PHP style: single-quoted declaration, lower-case prefixes, namespaces on each field, xsi:type, mustUnderstand="1", fields in another order', async () => {
    const prolog = "<?xml version='1.0' encoding='utf-8'?>\n";
    const o: EnvOpts = {
      prolog,
      env: 'soap-env',
      xrd: 'ns0',
      idp: 'ns1',
      declOnHeader: true,
      envDecl: ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"',
      fieldAttrs: ' soap-env:mustUnderstand="1"',
      textAttrs: ' xsi:type="xsd:string"',
      order: ['protocolVersion', 'id', 'userId', 'service', 'client'],
      userId: 'EE12345678901',
    };
    const req = B(envelope(randomUUID(), o));
    answer = (r) => ({ headers: { 'content-type': 'text/xml; charset=utf-8' }, body: B(envelope(idOf(r), { ...o, order: ['client', 'service', 'userId', 'id', 'protocolVersion'] }, true)) });
    seen = [];
    const r = await send(req, { 'content-type': 'text/xml; charset=utf-8', soapaction: '"traCuuVanBan"' });
    expectOnlyHashAdded(r, sent, req, '</soap-env:Header>');
    expect(seen[0]!.body.equals(req)).toBe(true);
  });

  it('a response whose header uses another prefix for the xrd namespace, declared on the Header', async () => {
    const req = B(envelope(randomUUID()));
    answer = (r) => ({ headers: { 'content-type': 'text/xml; charset=utf-8' }, body: B(envelope(idOf(r), { xrd: 'x', idp: 'iden', declOnHeader: true }, true)) });
    const r = await send(req, { 'content-type': 'text/xml; charset=utf-8' });
    expectOnlyHashAdded(r, sent, req, '</SOAP-ENV:Header>');
  });

  it('a response where the xrd prefix is bound to another namespace on the Envelope (the written element must still be X-Road’s)', async () => {
    const req = B(envelope(randomUUID()));
    answer = (r) => ({ headers: { 'content-type': 'text/xml; charset=utf-8' }, body: B(envelope(idOf(r), { xrd: 'x', declOnHeader: true, envDecl: ' xmlns:xrd="urn:something-else"' }, true)) });
    const r = await send(req, { 'content-type': 'text/xml; charset=utf-8' });
    expectOnlyHashAdded(r, sent, req, '</SOAP-ENV:Header>');
  });

  it('a response that already holds a requestHash (in the middle of the header, another prefix): replaced', async () => {
    const req = B(envelope(randomUUID()));
    answer = (r) => ({
      headers: { 'content-type': 'text/xml; charset=utf-8' },
      body: B(envelope(idOf(r), {}, true).replace('\n  <xrd:id>', '\n  <q:requestHash xmlns:q="http://x-road.eu/xsd/xroad.xsd" algorithmId="http://www.w3.org/2001/04/xmlenc#sha512">AAAA</q:requestHash>\n  <xrd:id>')),
    });
    const r = await send(req, { 'content-type': 'text/xml; charset=utf-8' });
    expectOnlyHashAdded(r, sent, req, '</SOAP-ENV:Header>', /<q:requestHash [^>]*>AAAA<\/q:requestHash>/);
  });

  it('a response with a self-closing Header, and one with no Header: an X-Road fault, not a mangled response', async () => {
    const req = () => B(envelope(randomUUID()));
    answer = (r) => ({ headers: { 'content-type': 'text/xml; charset=utf-8' }, body: B(envelope(idOf(r), { header: '<SOAP-ENV:Header/>' }, true)) });
    expectFault(await send(req(), { 'content-type': 'text/xml; charset=utf-8' }), 'Server.ServerProxy.ServiceFailed.InconsistentResponse');
    answer = (r) => ({ headers: { 'content-type': 'text/xml; charset=utf-8' }, body: B(envelope(idOf(r), { header: '' }, true)) });
    expectFault(await send(req(), { 'content-type': 'text/xml; charset=utf-8' }), /^Server\.ServerProxy\.ServiceFailed\.(InconsistentResponse|MissingHeader)$/);
    await normalCall();
  });

  it('a self-closing Header followed by a comment with an end tag in it, in a fault: passed unchanged', async () => {
    const req = B(envelope(randomUUID()));
    const f = B(`<?xml version="1.0"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="${ENV_NS}"><SOAP-ENV:Header/><!-- </x> --><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode><faultstring>Sai</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>`);
    answer = () => ({ status: 500, headers: { 'content-type': 'text/xml; charset=utf-8' }, body: f });
    const r = await send(req, { 'content-type': 'text/xml; charset=utf-8' });
    expect(r.status).toBe(500);
    expect(r.bytes.equals(f)).toBe(true);
  });

  it('a very large response envelope (8 MiB, chunked), requestHash written', async () => {
    const req = B(envelope(randomUUID()));
    answer = (r) => {
      const b = B(envelope(idOf(r), { body: `<ns1:traCuuVanBanResponse xmlns:ns1="http://vanthu.gov.vn/lienthong">${'<muc a="1">Văn bản điện tử\r\n</muc>'.repeat(230_000)}</ns1:traCuuVanBanResponse>` }, true));
      const chunks: Buffer[] = [];
      for (let k = 0; k < b.length; k += 100_000) chunks.push(b.subarray(k, k + 100_000));
      return { headers: { 'content-type': 'text/xml; charset=utf-8' }, body: chunks };
    };
    const r = await send(req, { 'content-type': 'text/xml; charset=utf-8' });
    expect(sent.length).toBeGreaterThan(8 * 1024 * 1024);
    expectOnlyHashAdded(r, sent, req, '</SOAP-ENV:Header>');
  });
});

describe('SOAPAction and faults', () => {
  it('SOAPAction quoted, empty "", empty value, and absent: passed as given (or not at all)', async () => {
    answer = echo;
    for (const sa of ['"urn:vanthu#traCuuVanBan"', '""', '', undefined]) {
      seen = [];
      const req = B(envelope(randomUUID()));
      const r = await send(req, { 'content-type': 'text/xml; charset=utf-8', ...(sa !== undefined ? { SOAPAction: sa } : {}) });
      expectOnlyHashAdded(r, sent, req, '</SOAP-ENV:Header>');
      expect(seen[0]!.headers.soapaction, String(sa)).toBe(sa);
      expect(seen[0]!.headers['content-type']).toBe('text/xml; charset=utf-8');
      // Content-Type, SOAPAction and the transport's own headers only
      const names = Object.keys(seen[0]!.headers).sort();
      expect(names.filter((n) => !['host', 'connection', 'content-length', 'content-type', 'soapaction'].includes(n)), names.join()).toEqual([]);
    }
  });

  it('SOAP 1.2 (action in Content-Type): Client.InvalidContentType, nothing reaches the service', async () => {
    answer = echo;
    seen = [];
    const req = B(envelope(randomUUID()));
    expectFault(await send(req, { 'content-type': 'application/soap+xml; charset=utf-8; action="urn:traCuuVanBan"' }), 'Client.InvalidContentType');
    // SOAP 1.2 MTOM (start-info application/soap+xml) with a SOAP 1.2 envelope
    const s12 = `<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><x/></env:Body></env:Envelope>`;
    const body = multipart('b12', [{ headers: ['Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"; action="urn:x"', 'Content-ID: <r>'], content: s12 }]);
    expectFault(await send(body, { 'content-type': 'multipart/related; type="application/xop+xml"; start="<r>"; start-info="application/soap+xml"; action="urn:x"; boundary=b12' }), /^Client\.(InvalidContentType|InvalidSoap)$/);
    expect(seen).toHaveLength(0);
    await normalCall();
  });

  it('the service’s SOAP fault with detail elements passes unchanged with its status (500), and with 200', async () => {
    const fault = B(
      '<?xml version="1.0" encoding="UTF-8"?>\n<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode xmlns:ns2="http://vanthu.gov.vn/lienthong">ns2:KhongTimThay</faultcode><faultstring xml:lang="vi">Không tìm thấy văn bản</faultstring><faultactor>http://vanthu/svc</faultactor><detail><ns2:loiChiTiet xmlns:ns2="http://vanthu.gov.vn/lienthong"><ma>404</ma><moTa>Văn bản 7816/VPCP-TTĐT không có</moTa></ns2:loiChiTiet><stackTrace>at x.y(Z.java:1)</stackTrace></detail></soap:Fault></soap:Body></soap:Envelope>',
    );
    for (const status of [500, 200]) {
      answer = () => ({ status, headers: { 'content-type': 'text/xml;charset=UTF-8' }, body: fault });
      const r = await send(B(envelope(randomUUID())), { 'content-type': 'text/xml; charset=utf-8' });
      expect(r.status).toBe(status);
      expect(r.headers['content-type']).toBe('text/xml;charset=UTF-8');
      expect(r.bytes.equals(fault), r.text).toBe(true);
    }
    // a fault repeating the X-Road header (as X-Road's own services write it): unchanged too
    answer = (r) => ({ status: 500, headers: { 'content-type': 'text/xml; charset=utf-8' }, body: B(envelope(idOf(r), { body: '<SOAP-ENV:Fault><faultcode>SOAP-ENV:Server</faultcode><faultstring>Lỗi</faultstring><detail><e xmlns="urn:e">1</e></detail></SOAP-ENV:Fault>' }, true)) });
    const r = await send(B(envelope(randomUUID())), { 'content-type': 'text/xml; charset=utf-8' });
    expect(r.status).toBe(500);
    expect(r.bytes.equals(sent)).toBe(true);
    await normalCall();
  });

  it('odd multipart requests: each a SOAP fault with an X-Road code, never a hang or an internal error', async () => {
    answer = echo;
    seen = [];
    const soap = envelope(randomUUID());
    const part = (h: string[]) => ({ headers: h, content: soap });
    const cases: [string, Buffer, string, string | RegExp][] = [
      ['no boundary parameter', multipart('b', [part(['Content-Type: text/xml'])]), 'multipart/related; type="text/xml"', 'Client.MimeParsingFailed'],
      ['start names no part', multipart('b', [part(['Content-Type: text/xml', 'Content-ID: <a>'])]), 'multipart/related; type="text/xml"; start="<zzz>"; boundary=b', 'Client.MimeParsingFailed'],
      ['no closing delimiter', Buffer.from(`--b\r\nContent-Type: text/xml\r\n\r\n${soap}`), 'multipart/related; boundary=b', 'Client.MimeParsingFailed'],
      ['the SOAP part base64', multipart('b', [{ headers: ['Content-Type: text/xml', 'Content-Transfer-Encoding: base64'], content: B(soap).toString('base64') }]), 'multipart/related; boundary=b', 'Client.MimeParsingFailed'],
      ['boundary not in the body', multipart('b', [part(['Content-Type: text/xml'])]), 'multipart/related; boundary=other', 'Client.MimeParsingFailed'],
      ['the SOAP part application/json', multipart('b', [part(['Content-Type: application/json'])]), 'multipart/related; boundary=b', 'Client.InvalidContentType'],
      ['an empty body', Buffer.alloc(0), 'text/xml; charset=utf-8', /^Client\.(InvalidXml|InvalidSoap|MissingBody)$/],
      ['an empty multipart body', Buffer.alloc(0), 'multipart/related; boundary=b', 'Client.MimeParsingFailed'],
      ['only a closing delimiter', Buffer.from('--b--\r\n'), 'multipart/related; boundary=b', 'Client.MimeParsingFailed'],
      ['LF line ends only', Buffer.from(`--b\nContent-Type: text/xml\n\n${soap}\n--b--\n`), 'multipart/related; boundary=b', 'Client.MimeParsingFailed'],
    ];
    for (const [what, body, ct, code] of cases) {
      const r = await send(body, { 'content-type': ct });
      expectFault(r, code);
      expect(r.text, what).toMatch(/<faultstring>[^<]+<\/faultstring>/);
    }
    expect(seen).toHaveLength(0);
    await normalCall();
  });

  it('odd answers of the service: each a SOAP fault with an X-Road code', async () => {
    const req = () => B(envelope(randomUUID()));
    const cases: [string, (r: Seen) => Answer, string | RegExp][] = [
      ['an empty 200', () => ({ headers: { 'content-type': 'text/xml' }, body: Buffer.alloc(0) }), /^Server\.ServerProxy\.ServiceFailed/],
      ['HTML error page', () => ({ status: 502, headers: { 'content-type': 'text/html' }, body: B('<html>Bad Gateway</html>') }), 'Server.ServerProxy.ServiceFailed.InvalidContentType'],
      ['truncated XML', (r) => ({ headers: { 'content-type': 'text/xml' }, body: B(envelope(idOf(r), {}, true).slice(0, -30)) }), /^Server\.ServerProxy\.ServiceFailed/],
      ['multipart without its closing delimiter', (r) => ({ headers: { 'content-type': 'multipart/related; boundary=z' }, body: B(`--z\r\nContent-Type: text/xml\r\n\r\n${envelope(idOf(r), {}, true)}`) }), /^Server\.ServerProxy\.ServiceFailed/],
      ['SOAP 1.2 answer', (r) => ({ headers: { 'content-type': 'application/soap+xml' }, body: B(envelope(idOf(r), {}, true)) }), /^Server\.ServerProxy\.ServiceFailed/],
      ['UTF-16 answer', (r) => ({ headers: { 'content-type': 'text/xml; charset=utf-16' }, body: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(envelope(idOf(r), {}, true), 'utf16le')]) }), /^Server\.ServerProxy\.ServiceFailed/],
    ];
    for (const [what, a, code] of cases) {
      answer = a;
      const r = await send(req(), { 'content-type': 'text/xml; charset=utf-8' });
      expect(r.status, what).toBe(500);
      expectFault(r, code);
    }
    await normalCall();
  });
});

describe('header consistency, connections, transports', () => {
  const REPR = 'http://x-road.eu/xsd/representation.xsd';
  const repr = (code: string) => `  <repr:representedParty xmlns:repr="${REPR}"><repr:partyClass>COM</repr:partyClass><repr:partyCode>${code}</repr:partyCode></repr:representedParty>\n`;

  it('representedParty: a response naming another party (or none) is inconsistent, as for the other header fields', async () => {
    // the consistent case first
    answer = (r) => ({ headers: { 'content-type': 'text/xml; charset=utf-8' }, body: B(envelope(idOf(r), { extraHeader: repr('0101234567') }, true)) });
    const ok = B(envelope(randomUUID(), { extraHeader: repr('0101234567') }));
    expectOnlyHashAdded(await send(ok, { 'content-type': 'text/xml; charset=utf-8' }), sent, ok, '</SOAP-ENV:Header>');
    const got: [string, number, string | undefined][] = [];
    for (const [what, other] of [['another party', repr('9999999999')], ['no representedParty', '']] as const) {
      answer = (r) => ({ headers: { 'content-type': 'text/xml; charset=utf-8' }, body: B(envelope(idOf(r), { extraHeader: other }, true)) });
      const r = await send(B(envelope(randomUUID(), { extraHeader: repr('0101234567') })), { 'content-type': 'text/xml; charset=utf-8' });
      got.push([what, r.status, r.faultcode]);
    }
    await normalCall();
    expect(got).toEqual([
      ['another party', 500, 'Server.ServerProxy.ServiceFailed.InconsistentResponse'],
      ['no representedParty', 500, 'Server.ServerProxy.ServiceFailed.InconsistentResponse'],
    ]);
  });

  it('keep-alive (PHP SoapClient, zeep, WCF keep their connection): a refused streamed multipart request, then normal calls on the same connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const u = new URL(t.axis.members[0]!.isUrl);
    const call = (body: Buffer, ct: string) =>
      new Promise<{ status: number; text: string; port: number }>((resolve, reject) => {
        const req = http.request({ host: u.hostname, port: u.port, path: '/', method: 'POST', agent, headers: { 'content-type': ct, 'content-length': String(body.length) } }, (res) => {
          const c: Buffer[] = [];
          res.on('data', (d: Buffer) => c.push(d));
          res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(c).toString('utf8'), port: req.socket?.localPort ?? 0 }));
        });
        req.setTimeout(60_000, () => req.destroy(new Error('hang')));
        req.on('error', reject);
        req.end(body);
      });
    try {
      answer = echo;
      const bad = multipart('kb', [
        { headers: ['Content-Type: text/xml; charset=UTF-8'], content: envelope(randomUUID()).replace(/<xrd:protocolVersion>[^<]*<\/xrd:protocolVersion>/, '') },
        { headers: ['Content-Type: application/octet-stream'], content: nasty('kb', 2_000_000) },
      ]);
      const r1 = await call(bad, 'multipart/related; boundary=kb');
      expect(r1.status).toBe(500);
      expect(r1.text).toContain('<faultcode>Client.MissingHeaderField</faultcode>');
      for (let k = 0; k < 3; k++) {
        const r = await call(B(envelope(randomUUID())), 'text/xml; charset=utf-8');
        expect(r.status, r.text.slice(0, 500)).toBe(200);
      }
    } finally {
      agent.destroy();
    }
  });

  it('a gzip-compressed request (CXF GZIPFeature, WCF compression): a SOAP fault, nothing reaches the service', async () => {
    const { gzipSync } = await import('node:zlib');
    answer = echo;
    seen = [];
    const r = await send(gzipSync(B(envelope(randomUUID()))), { 'content-type': 'text/xml; charset=utf-8', 'content-encoding': 'gzip' });
    expectFault(r, /^Client\./);
    expect(seen).toHaveLength(0);
    await normalCall();
  });

  it('charset quoted in Content-Type (charset="utf-8"), and the XML declaration in single quotes naming windows-1258', async () => {
    answer = echo;
    const req = B(envelope(randomUUID()));
    expectOnlyHashAdded(await send(req, { 'content-type': 'text/xml; charset="utf-8"' }), sent, req, '</SOAP-ENV:Header>');
    const prolog = "<?xml version='1.0' encoding='windows-1258'?>\n";
    const issue = 'H\u00f4\u00cc s\u00f5';
    const w = L(envelope(randomUUID(), { prolog, issue, body: '<ns1:traCuuVanBan xmlns:ns1="urn:x"/>' }));
    answer = (r) => ({ headers: { 'content-type': 'text/xml' }, body: L(envelope(idOf(r), { prolog, issue }, true).replace('Đã tiếp nhận', 'ok')) });
    expectOnlyHashAdded(await send(w, { 'content-type': 'text/xml' }), sent, w, '</SOAP-ENV:Header>');
  });

  it('a PHP service answering with a newline before the XML declaration, and a service breaking off mid-answer (text/xml, multipart): ServiceFailed faults', async () => {
    answer = (r) => ({ headers: { 'content-type': 'text/xml; charset=utf-8' }, body: B('\n' + envelope(idOf(r), {}, true)) });
    expectFault(await send(B(envelope(randomUUID())), { 'content-type': 'text/xml; charset=utf-8' }), /^Server\.ServerProxy\.ServiceFailed/);
    await normalCall();
    for (const multi of [false, true]) {
      answer = (r) => {
        const env = B(envelope(idOf(r), {}, true));
        return multi
          ? { headers: { 'content-type': 'multipart/related; type="text/xml"; boundary=cut' }, body: [Buffer.concat([B('--cut\r\nContent-Type: text/xml\r\n\r\n'), env, B('\r\n--cut\r\nContent-Type: application/pdf\r\n\r\n'), Buffer.alloc(200_000, 1)])], cut: true }
          : { headers: { 'content-type': 'text/xml; charset=utf-8' }, body: [env.subarray(0, env.length - 40)], cut: true };
      };
      const r = await send(B(envelope(randomUUID())), { 'content-type': 'text/xml; charset=utf-8' }).catch((e: Error) => ({ status: -1, text: `the client's connection failed: ${e.message}`, headers: {}, bytes: Buffer.alloc(0) }) as Reply);
      expectFault(r, /^Server\.ServerProxy\.(ServiceFailed|NetworkError)/);
      await normalCall();
    }
  });

  it('a streamed multipart request whose delimiters are cut across HTTP chunks (CXF chunking), envelope second', async () => {
    const boundary = 'uuid:cut-across-chunks';
    const soap = envelope(randomUUID());
    const body = multipart(boundary, [
      { headers: ['Content-Type: application/octet-stream', 'Content-ID: <a0>'], content: nasty(boundary, 70_000) },
      { headers: ['Content-Type: application/xop+xml; charset=UTF-8; type="text/xml"', 'Content-ID: <root>'], content: soap },
      { headers: ['Content-Type: application/octet-stream', 'Content-ID: <a1>'], content: nasty(boundary, 200_000) },
    ]);
    const chunks: Buffer[] = [];
    // cut every 7 bytes around the delimiters, in larger pieces elsewhere
    for (let k = 0; k < body.length; ) {
      const near = body.indexOf(`--${boundary}`, Math.max(0, k - 40)) - k;
      const n = near >= -40 && near < 60 ? 7 : 4096;
      chunks.push(body.subarray(k, k + n));
      k += n;
    }
    answer = echo;
    seen = [];
    const r = await send(chunks, { 'content-type': `multipart/related; type="application/xop+xml"; start="<root>"; start-info="text/xml"; boundary="${boundary}"` });
    expectOnlyHashAdded(r, sent, soap, '</SOAP-ENV:Header>');
    expect(seen[0]!.body.equals(body)).toBe(true);
  });
});
