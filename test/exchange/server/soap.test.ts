/**
 * X-Road's SOAP message protocol (PR-MESS 4.0) through two security servers: envelopes as X-Road's own
 * examples write them, with attachments, in Vietnamese, and every refusal as a SOAP fault with X-Road's
 * fault code. The provider's information system is a plain HTTP server that sees exactly what reaches it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { Readable } from 'node:stream';
import { createHash, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { DOMParser } from '@xmldom/xmldom';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as nodeSoap from 'soap';
import { tmp } from '../../helpers/openssl.js';
import { startTestAxis, type TestAxis } from './setup.js';
import { parseService } from '../../../src/exchange/ids.js';
import { PARSE_SLICE, SHA512_URI, XRD_NS, checkConsistent, parseSoap, parseSoapYielding, readSoapHead, requestHashOf, soapMessageBytes, withRequestHash } from '../../../src/exchange/server/soap.js';
import type { MessageLog } from '../../../src/exchange/log/index.js';
import type { TrucError } from '../../../src/errors.js';

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
  it("a response's protocol version is its own 4.x (as X-Road compares the header); the other fields must repeat the request's", () => {
    const id = randomUUID();
    const req = parseSoap(Buffer.from(envelope({ id, version: '4.x' })), 'text/xml');
    expect(() => checkConsistent(req, parseSoap(Buffer.from(envelope({ id, version: '4.0' })), 'text/xml'))).not.toThrow();
    for (const version of [null, '5.0'])
      expect(() => checkConsistent(req, parseSoap(Buffer.from(envelope({ id, version })), 'text/xml'))).toThrow(/protocolVersion/);
    expect(() => checkConsistent(req, parseSoap(Buffer.from(envelope({ id: randomUUID(), version: '4.0' })), 'text/xml'))).toThrow(/the header field id differs/);
  });

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

  it('reads a multipart message only as far as its SOAP part, leaving the attachments in the stream', async () => {
    const soap = envelope({ issue: 'Tờ trình số 5' });
    const before = `--MIME_boundary\r\nContent-Type: application/octet-stream\r\nContent-ID: <truoc>\r\n\r\n${'x'.repeat(3000)}\r\n`;
    const root = `--MIME_boundary\r\nContent-Type: text/xml; charset=UTF-8\r\nContent-ID: <rootpart>\r\n\r\n${soap}\r\n`;
    const attachment = Buffer.alloc(300_000, 0xa7);
    const message = Buffer.concat([Buffer.from(before + root + '--MIME_boundary\r\nContent-Type: application/pdf\r\nContent-ID: <vb1>\r\n\r\n'), attachment, Buffer.from('\r\n--MIME_boundary--\r\n')]);
    const ct = 'multipart/related; type="text/xml"; start="<rootpart>"; boundary="MIME_boundary"';
    // in small pieces, cut anywhere (inside the delimiters too): the SOAP part is found once it has ended
    for (const size of [1, 7, 4096, message.length]) {
      let pulled = 0;
      async function* pieces() {
        for (let i = 0; i < message.length; i += size) {
          pulled = Math.min(message.length, i + size);
          yield message.subarray(i, i + size);
        }
      }
      const head = await readSoapHead(pieces(), ct, 64 * 1024);
      expect(head.parsed.part.toString('utf8')).toBe(soap);
      expect(head.parsed.fields.issue).toBe('Tờ trình số 5');
      expect(requestHashOf(head.parsed)).toBe(sha512(soap));
      if (size < message.length) {
        // the attachment was not read: only the bytes up to the SOAP part's end and one piece more
        expect(head.rest).not.toBeNull();
        expect(pulled).toBeLessThan(before.length + root.length + 2 * size + 20);
        expect(head.parsed.message.length).toBe(pulled);
      }
      // the bytes read and the rest are the message, unchanged
      const back: Buffer[] = [];
      for await (const c of soapMessageBytes(head.parsed.message, head.rest)) back.push(c);
      expect(Buffer.concat(back).equals(message)).toBe(true);
    }
    // the response edit touches the bytes read and nothing after them
    const one = async function* () {
      yield message.subarray(0, before.length + root.length + 100);
      yield message.subarray(before.length + root.length + 100);
    };
    const head = await readSoapHead(one(), ct, 64 * 1024);
    const out = withRequestHash(head.parsed, head.parsed, 'H');
    expect(out.length).toBe(head.parsed.message.length + Buffer.byteLength(`<xrd:requestHash xmlns:xrd="${XRD_NS}" algorithmId="${SHA512_URI}">H</xrd:requestHash>`));
    const whole = Buffer.concat([out, message.subarray(head.parsed.message.length)]);
    const again = parseSoap(whole, ct);
    expect(again.fields.requestHash).toBe('H');
    expect(whole.subarray(whole.length - attachment.length - 21).equals(message.subarray(message.length - attachment.length - 21))).toBe(true);
    await head.close();
  });

  it('bounds what it reads for the envelope and refuses broken multipart messages as parseSoap does', async () => {
    const ct = 'multipart/related; type="text/xml"; boundary=b';
    async function* from(...parts: (string | Buffer)[]) {
      for (const p of parts) yield Buffer.from(p);
    }
    const refusal = async (src: AsyncIterable<Buffer>, type: string, limit = 1024) => {
      try {
        await readSoapHead(src, type, limit);
        return 'read';
      } catch (e) {
        const err = e as TrucError;
        return (err.detail as { xroadFault?: string } | undefined)?.xroadFault ?? err.code;
      }
    };
    // an envelope part that has not ended within the limit: refused before the rest is read
    let pulled = 0;
    async function* endless() {
      yield Buffer.from('--b\r\nContent-Type: text/xml\r\n\r\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">');
      for (;;) {
        pulled++;
        yield Buffer.alloc(256, 0x20);
      }
    }
    expect(await refusal(endless(), ct)).toBe('too_large');
    expect(pulled).toBeLessThan(10);
    // a text/xml message is the envelope: read whole, bounded
    expect(await refusal(from(envelope({}), ' '.repeat(2000)), 'text/xml')).toBe('too_large');
    expect(await refusal(from('--b\r\nContent-Type: text/xml\r\n\r\n<x/>'), ct)).toBe('MimeParsingFailed');
    expect(await refusal(from('<x/>'), 'multipart/related')).toBe('MimeParsingFailed');
    // a part whose headers never end, with delimiters coming all along (each would make the parts be looked
    // through again from that part's start): refused once its headers pass 64 KiB, not at the size limit
    let served = 0;
    async function* headless() {
      yield Buffer.from('--b\r\nContent-Type: text/xml\r\n');
      for (;;) {
        served++;
        yield Buffer.from('X-Pad: aaaa\r\n--b\r\n'.repeat(1000));
      }
    }
    expect(await refusal(headless(), ct, 64 * 1024 * 1024)).toBe('MimeParsingFailed');
    expect(served).toBeLessThan(10);
    expect(await refusal(from(`--b\r\nContent-Type: text/xml\r\n\r\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>${envelope({ prolog: '' })}\r\n--b\r\n`), ct, 64 * 1024)).toBe('InvalidSoap');
    expect(await refusal(from(`--b\r\nContent-Type: text/xml; charset=utf-16\r\n\r\n${envelope({})}\r\n--b--\r\n`), ct, 64 * 1024)).toBe('InvalidContentType');
    // MTOM: the root part is application/xop+xml
    const mtom = await readSoapHead(from(`--b\r\nContent-Type: application/xop+xml; charset=UTF-8; type="text/xml"\r\n\r\n${envelope({})}\r\n--b\r\nContent-Type: image/png\r\n\r\n`, Buffer.alloc(5000)), 'multipart/related; type="application/xop+xml"; boundary=b', 64 * 1024);
    expect(mtom.parsed.fields.protocolVersion).toBe('4.0');
    expect(mtom.rest).not.toBeNull();
    await mtom.close();
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

  it('stops at 256 levels of nesting: a deeply nested body is refused, not parsed (quadratic in the parser)', () => {
    const nested = (n: number) => envelope({ body: `<ns1:traCuuVanBan>${'<a>'.repeat(n)}${'</a>'.repeat(n)}</ns1:traCuuVanBan>` });
    // the envelope, header and body wrapper take 3 levels: 250 more pass
    expect(parseSoap(Buffer.from(nested(250)), 'text/xml').fields.protocolVersion).toBe('4.0');
    for (const n of [254, 200_000]) {
      let err: unknown;
      try {
        parseSoap(Buffer.from(nested(n)), 'text/xml');
      } catch (e) {
        err = e;
      }
      expect(err, String(n)).toMatchObject({ code: 'bad_request', detail: { xroadFault: 'InvalidXml' } });
      expect((err as Error).message).toMatch(/deeper than 256 levels/);
    }
  });

  it('parses a large envelope a slice at a time, the event loop turning between slices, with the same result', async () => {
    // slices cut inside a Vietnamese letter's UTF-16 text and inside a surrogate pair (an emoji) give the
    // same fields, positions and hash as one whole parse
    const filler = (n: number) => `<ns1:traCuuVanBan>${'<muc>Đã tiếp nhận 📄</muc>'.repeat(n)}</ns1:traCuuVanBan>`;
    const resp = Buffer.from(envelope({ issue: 'Công văn 📄 số 7816', extraHeader: '    <xrd:requestHash algorithmId="x">bogus</xrd:requestHash>\n', body: filler(60_000) }));
    expect(resp.length).toBeGreaterThan(3 * PARSE_SLICE);
    let turned = false;
    setImmediate(() => (turned = true));
    const sliced = await parseSoapYielding(resp, 'text/xml');
    expect(turned).toBe(true);
    const whole = parseSoap(resp, 'text/xml');
    expect(sliced.fields).toEqual(whole.fields);
    expect([sliced.headerEnd, sliced.hashRange, sliced.body]).toEqual([whole.headerEnd, whole.hashRange, whole.body]);
    expect(resp.subarray(...sliced.hashRange!).toString()).toBe('<xrd:requestHash algorithmId="x">bogus</xrd:requestHash>');
    // a small one is parsed at once
    turned = false;
    setImmediate(() => (turned = true));
    await parseSoapYielding(Buffer.from(envelope({})), 'text/xml');
    expect(turned).toBe(false);
    // a failure in a late slice, and one in the first (the rest is not parsed), as parseSoap names them
    const broken = Buffer.from(envelope({ body: filler(60_000) }).replace('</ns1:traCuuVanBan>', '</ns1:khac>'));
    await expect(parseSoapYielding(broken, 'text/xml')).rejects.toMatchObject({ detail: { xroadFault: 'InvalidXml' } });
    const deep = Buffer.from(envelope({ body: `<ns1:traCuuVanBan>${'<a>'.repeat(300)}${'</a>'.repeat(300)}${'<b/>'.repeat(400_000)}</ns1:traCuuVanBan>` }));
    await expect(parseSoapYielding(deep, 'text/xml')).rejects.toThrow(/deeper than 256 levels/);
  });
});

let t: TestAxis;
let seen: { headers: http.IncomingHttpHeaders; body: Buffer; url: string }[] = [];
/** how the information system answers: echo the header (X-Road's rule), or misbehave */
let mode: 'echo' | 'wrong-id' | 'fault' | 'json' | 'big' | 'stream' = 'echo';
let is: http.Server;

const MB = 1024 * 1024;
/** what the service saw of a streamed message, and what it sent after its envelope */
let streamed: { length: number; sha256: string; contentType: string; responseTail: string } | null = null;
const STREAM_RESPONSE_BYTES = 100 * MB;
/** the streamed answer's attachment length, and whether its header names another message id */
let streamAnswer = { bytes: STREAM_RESPONSE_BYTES, wrongId: false };

/** `n` bytes that differ from piece to piece, made as they are read (never held whole) */
async function* bytes(n: number, seed: number, hashes: ReturnType<typeof createHash>[] = []): AsyncGenerator<Buffer> {
  const piece = 256 * 1024;
  for (let off = 0, k = 0; off < n; off += piece, k++) {
    const b = Buffer.alloc(Math.min(piece, n - off), (seed + k) & 0xff);
    b.writeUInt32BE(k, 0);
    for (const h of hashes) h.update(b);
    yield b;
  }
}

/**
 * The service for a streamed message: hashes what it receives, and answers with a multipart message of its
 * own whose attachment is STREAM_RESPONSE_BYTES long, written as it is made.
 */
async function streamService(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const whole = createHash('sha256');
  let n = 0;
  let first = Buffer.alloc(0);
  for await (const c of req) {
    whole.update(c as Buffer);
    n += (c as Buffer).length;
    if (first.length < 64 * 1024) first = Buffer.concat([first, (c as Buffer).subarray(0, 64 * 1024 - first.length)]);
  }
  const text = first.toString('utf8');
  let header = text.slice(text.indexOf('<SOAP-ENV:Header>'), text.indexOf('</SOAP-ENV:Header>') + 18);
  if (streamAnswer.wrongId) header = header.replace(/<xrd:id>[^<]+<\/xrd:id>/, '<xrd:id>another</xrd:id>');
  const soap = `<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="http://vanthu.gov.vn/lienthong" xmlns:xrd="http://x-road.eu/xsd/xroad.xsd" xmlns:id="http://x-road.eu/xsd/identifiers">${header}<SOAP-ENV:Body><ns1:guiVanBanResponse><tep href="cid:ketqua"/><nhan>${n}</nhan></ns1:guiVanBanResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>`;
  res.writeHead(200, { 'content-type': 'multipart/related; type="text/xml"; start="<traloi>"; boundary="TRA_LOI"' });
  const tail = createHash('sha256');
  const write = async (b: Buffer, after: boolean) => {
    if (after) tail.update(b);
    if (!res.write(b)) await new Promise((r) => res.once('drain', r));
  };
  await write(Buffer.from(`--TRA_LOI\r\nContent-Type: text/xml; charset=UTF-8\r\nContent-ID: <traloi>\r\n\r\n${soap}`), false);
  await write(Buffer.from('\r\n--TRA_LOI\r\nContent-Type: application/pdf\r\nContent-ID: <ketqua>\r\n\r\n'), true);
  for await (const b of bytes(streamAnswer.bytes, 7)) await write(b, true);
  await write(Buffer.from('\r\n--TRA_LOI--\r\n'), true);
  res.end();
  streamed = { length: n, sha256: whole.digest('hex'), contentType: String(req.headers['content-type']), responseTail: tail.digest('hex') };
}

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
    if (mode === 'stream') return void streamService(req, res).catch((e) => res.destroy(e));
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
  // a small held-body budget (64 MiB by default): the streaming test below then measures the bodies' own
  // footprint, not a budget two servers in one process may each fill
  t = await startTestAxis({ limits: { heldBodyBytes: 8 * 1024 * 1024 } });
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

/** The consumer's and the provider's operational records of a message: side, attachments, request size, SOAP parts' sizes. */
async function opRecords(id: string) {
  let rows: Record<string, unknown>[] = [];
  // each server records the exchange as it ends: waited for, not assumed
  for (let k = 0; k < 100 && rows.length < 2; k++) {
    if (k) await new Promise((r) => setTimeout(r, 50));
    rows = [];
    for (const i of [0, 2]) rows.push(...(await t.axis.members[i]!.server.ctx.ops.search({ messageId: id })));
  }
  return rows
    .map((r) => ({
      side: r.side,
      request_attachments: r.request_attachments,
      response_attachments: r.response_attachments,
      request_bytes: String(r.request_bytes),
      // the sizes as X-Road counts them: the SOAP part; with attachments, their contents and the SOAP part's
      request_soap_bytes: String(r.request_soap_bytes),
      response_soap_bytes: String(r.response_soap_bytes),
      request_mime_bytes: String(r.request_mime_bytes),
      response_mime_bytes: String(r.response_mime_bytes),
    }))
    .sort((a, b) => String(a.side).localeCompare(String(b.side)));
}

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
    const id = randomUUID();
    const soap = envelope({ id, service: { ...HCM, code: 'guiVanBan', version: 'v1' }, body: '<ns1:guiVanBan><tep href="cid:vb1"/></ns1:guiVanBan>' });
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
    // both servers' operational records: one attachment in the request, none in the text/xml answer, the same
    // sizes on both sides (X-Road Metrics pairs the two records by them); the SOAP parts' sizes as X-Road
    // counts them: the request's envelope, and the whole text/xml answer
    const soapBytes = { request_soap_bytes: String(Buffer.byteLength(soap)), response_soap_bytes: String(r.bytes.length), request_mime_bytes: String(Buffer.byteLength(soap) + pdf.length), response_mime_bytes: 'null' };
    expect(await opRecords(id)).toEqual([
      { side: 'consumer', request_attachments: 1, response_attachments: 0, request_bytes: String(body.length), ...soapBytes },
      { side: 'provider', request_attachments: 1, response_attachments: 0, request_bytes: String(body.length), ...soapBytes },
    ]);
  });

  it('streams a multipart message far larger than the envelope’s limit both ways: only the envelope in memory, logged and verified', async () => {
    mode = 'stream';
    streamed = null;
    const id = randomUUID();
    const soap = envelope({ id, service: { ...HCM, code: 'guiVanBan', version: 'v1' }, issue: 'Hồ sơ quy hoạch kèm bản đồ', body: '<ns1:guiVanBan><tep href="cid:bando"/></ns1:guiVanBan>' });
    const size = 150 * MB;
    const ct = 'multipart/related; type="text/xml"; start="<rootpart>"; boundary="MIME_boundary"';
    const sent = createHash('sha256');
    let sentBytes = 0;
    async function* request(): AsyncGenerator<Buffer> {
      for await (const b of (async function* () {
        yield Buffer.from(`--MIME_boundary\r\nContent-Type: text/xml; charset=UTF-8\r\nContent-ID: <rootpart>\r\n\r\n${soap}\r\n--MIME_boundary\r\nContent-Type: image/tiff\r\nContent-ID: <bando>\r\n\r\n`);
        yield* bytes(size, 3);
        yield Buffer.from('\r\n--MIME_boundary--\r\n');
      })()) {
        sent.update(b);
        sentBytes += b.length;
        yield b;
      }
    }
    const used = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const base = used();
    let peak = base;
    const rss0 = process.memoryUsage().rss;
    let rssPeak = rss0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, used());
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 10);
    const whole = createHash('sha256');
    let got = 0;
    let envelopeOut: ReturnType<typeof parseSoap>;
    let tail: string;
    let status: number;
    let responseType: string;
    try {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const r = http.request(`${t.axis.members[0]!.isUrl}/`, { method: 'POST', headers: { 'content-type': ct, soapaction: '"guiVanBan"' } }, resolve);
        r.on('error', reject);
        Readable.from(request()).pipe(r);
      });
      status = res.statusCode!;
      responseType = String(res.headers['content-type']);
      // the client reads the answer as a stream too: its envelope, then the attachment hashed as it comes
      async function* counted() {
        for await (const c of res) {
          whole.update(c as Buffer);
          got += (c as Buffer).length;
          yield c as Buffer;
        }
      }
      const head = await readSoapHead(counted(), responseType, 64 * 1024);
      envelopeOut = head.parsed;
      const after = createHash('sha256').update(head.parsed.message.subarray(head.parsed.partOffset + head.parsed.part.length));
      for await (const c of soapMessageBytes(Buffer.alloc(0), head.rest)) after.update(c);
      tail = after.digest('hex');
    } finally {
      clearInterval(sampler);
      mode = 'echo';
    }
    expect(status, envelopeOut.part.toString('utf8').slice(0, 500)).toBe(200);
    // the service got the client's bytes, all of them, with the client's Content-Type
    expect(streamed).not.toBeNull();
    expect(streamed!.length).toBe(sentBytes);
    expect(streamed!.sha256).toBe(sent.digest('hex'));
    expect(streamed!.contentType).toBe(ct);
    // the client got the service's envelope with requestHash over its SOAP part, and the attachment unchanged
    expect(responseType).toBe('multipart/related; type="text/xml"; start="<traloi>"; boundary="TRA_LOI"');
    expect(envelopeOut.fields.requestHash).toBe(sha512(soap));
    expect(envelopeOut.fields.id).toBe(id);
    expect(envelopeOut.part.toString('utf8')).toContain(`<nhan>${sentBytes}</nhan>`);
    expect(tail).toBe(streamed!.responseTail);
    expect(got).toBeGreaterThan(STREAM_RESPONSE_BYTES);
    const grew = (peak - base) / MB;
    console.log(`SOAP with attachments, ${(sentBytes / MB).toFixed(0)} MB up and ${(got / MB).toFixed(0)} MB down through both servers: memory grew by at most ${grew.toFixed(1)} MB (heap + array buffers), RSS by ${((rssPeak - rss0) / MB).toFixed(1)} MB`);
    // both servers and both ends run in this process: neither message was ever held whole (the request is
    // 150 MB, and held whole it would be at least that, live, on each server). Measured with the 8 MiB
    // held-body budget set above: 27–36 MB of growth with two runs side by side (95 MB with the default
    // 64 MiB budget, which each server may fill with spooled chunks awaiting delivery) — the rest is garbage
    // not yet collected
    expect(grew).toBeLessThan(100);
    // both servers logged both messages, each body whole, and their logs verify
    const responseHash = whole.digest();
    for (const i of [0, 2]) {
      const log = t.axis.members[i]!.log as MessageLog;
      let hits = await log.search({ messageId: id });
      for (let k = 0; k < 100 && hits.length < 2; k++) {
        await new Promise((r) => setTimeout(r, 100));
        hits = await log.search({ messageId: id });
      }
      const rq = hits.find((h) => h.kind === 'request')!;
      const rs = hits.find((h) => h.kind === 'response')!;
      expect(rq.bodyLength).toBe(sentBytes);
      expect(rq.bodyHash.toString('hex')).toBe(streamed!.sha256);
      expect(rs.bodyLength).toBe(got);
      expect(rs.bodyHash.equals(responseHash)).toBe(true);
      const v = await log.verify({ trustedTsaCerts: [] });
      expect(v.problem).toBeUndefined();
      // every body checked against its hash (the time-stamps are not: no TSA certificate is given here)
      expect(v.bodies).toBe(v.records);
    }
    // a chunked request (no Content-Length) of one attachment, answered with one: counted as they streamed,
    // the request's size as read, on both sides
    // the answer's SOAP part as the provider's server sent it (requestHash written in), as the client got it
    const sizes = {
      request_soap_bytes: String(Buffer.byteLength(soap)),
      response_soap_bytes: String(envelopeOut.part.length),
      request_mime_bytes: String(Buffer.byteLength(soap) + size),
      response_mime_bytes: String(envelopeOut.part.length + STREAM_RESPONSE_BYTES),
    };
    expect(await opRecords(id)).toEqual([
      { side: 'consumer', request_attachments: 1, response_attachments: 1, request_bytes: String(sentBytes), ...sizes },
      { side: 'provider', request_attachments: 1, response_attachments: 1, request_bytes: String(sentBytes), ...sizes },
    ]);
  }, 300_000);

  it('refuses a streamed multipart answer whose envelope does not repeat the request’s header', async () => {
    mode = 'stream';
    streamAnswer = { bytes: 2 * MB, wrongId: true };
    try {
      const soap = envelope({ service: { ...HCM, code: 'guiVanBan', version: 'v1' }, body: '<ns1:guiVanBan><tep href="cid:vb1"/></ns1:guiVanBan>' });
      const body = Buffer.concat([Buffer.from(`--MIME_boundary\r\nContent-Type: text/xml; charset=UTF-8\r\n\r\n${soap}\r\n--MIME_boundary\r\nContent-Type: application/pdf\r\n\r\n`), Buffer.alloc(500_000, 0x31), Buffer.from('\r\n--MIME_boundary--\r\n')]);
      const r = await post(body, 'multipart/related; type="text/xml"; boundary="MIME_boundary"');
      expect([r.status, r.faultcode], r.text).toEqual([500, 'Server.ServerProxy.ServiceFailed.InconsistentResponse']);
    } finally {
      mode = 'echo';
      streamAnswer = { bytes: STREAM_RESPONSE_BYTES, wrongId: false };
    }
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
  });

  it('answers getWsdl with the WSDL registered for the service, as an attachment, its endpoint addresses hidden (PR-META 4)', async () => {
    const hcm = t.axis.members[2]!;
    const store = hcm.server.store;
    const tra = parseService('SERVICE:VN/PROV/000.00.31.H29/vanthu/traCuuVanBan/v1');
    const getWsdl = (code?: string, version?: string) =>
      post(envelope({ service: { ...HCM, code: 'getWsdl' }, body: `<xrd:getWsdl>${code ? `<xrd:serviceCode>${code}</xrd:serviceCode>` : ''}${version ? `<xrd:serviceVersion>${version}</xrd:serviceVersion>` : ''}</xrd:getWsdl>` }));
    // before any is registered: the service is not of type WSDL
    expect((await getWsdl('traCuuVanBan', 'v1')).faultcode).toBe('Server.ServerProxy.ServiceType');
    const op = (name: string) =>
      `<wsdl:operation name="${name}"><soap:operation soapAction=""/><id:version>v1</id:version><wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation>`;
    const doc =
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<wsdl:definitions name="vanThuLienThong" targetNamespace="http://vanthu.gov.vn/lienthong" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:id="http://x-road.eu/xsd/identifiers" xmlns:tns="http://vanthu.gov.vn/lienthong">' +
      '<wsdl:documentation>Tra cứu và gửi văn bản điện tử — Văn thư UBND TP.HCM</wsdl:documentation>' +
      `<wsdl:portType name="vanThu"><wsdl:operation name="traCuuVanBan"/><wsdl:operation name="guiVanBan"/></wsdl:portType>` +
      `<wsdl:binding name="vanThuBinding" type="tns:vanThu"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>${op('traCuuVanBan')}${op('guiVanBan')}</wsdl:binding>` +
      `<wsdl:service name="vanThuService"><wsdl:port binding="tns:vanThuBinding" name="vanThuPort"><soap:address location='http://10.20.30.40:8080/noi-bo/vanthu'/></wsdl:port></wsdl:service>` +
      '</wsdl:definitions>\n';
    // what is not a WSDL of this service is refused, saying why
    await expect(store.describeService(tra, doc.replace(/traCuuVanBan/g, 'khac'))).rejects.toThrow(/defines no operation traCuuVanBan of version v1 \(it defines khac v1, guiVanBan v1\)/);
    await expect(store.describeService(tra, doc.replace('<id:version>v1</id:version>', '<id:version>v2</id:version>'))).rejects.toThrow(/no operation traCuuVanBan of version v1/);
    await expect(store.describeService(tra, '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>')).rejects.toThrow(/document type declaration/);
    await expect(store.describeService(tra, '<definitions xmlns="http://www.w3.org/ns/wsdl"/>')).rejects.toThrow(/not WSDL 1\.1 definitions/);
    await expect(store.describeService(tra, doc.replace('</wsdl:definitions>', ''))).rejects.toThrow(/not well-formed/);
    expect(await store.describeService(tra, doc)).toMatchObject({ format: 'wsdl', title: 'vanThuLienThong', operations: [{ name: 'traCuuVanBan', version: 'v1' }, { name: 'guiVanBan', version: 'v1' }] });

    const r = await getWsdl('traCuuVanBan', 'v1');
    expect(r.status, r.text).toBe(200);
    const ct = r.headers.get('content-type')!;
    expect(ct).toMatch(/^multipart\/related;/);
    const boundary = /boundary="?([^";]+)"?/.exec(ct)![1]!;
    const parts = r.text.split(`--${boundary}`).slice(1, -1).map((p) => p.slice(p.indexOf('\r\n\r\n') + 4, -2));
    expect(parts).toHaveLength(2);
    // the envelope: getWsdlResponse repeating the service asked for, the header repeated, requestHash written
    const env = new DOMParser().parseFromString(parts[0]!, 'text/xml');
    const resp = env.getElementsByTagNameNS(XRD_NS, 'getWsdlResponse')[0]!;
    expect(resp.getElementsByTagNameNS(XRD_NS, 'serviceCode')[0]!.textContent).toBe('traCuuVanBan');
    expect(resp.getElementsByTagNameNS(XRD_NS, 'serviceVersion')[0]!.textContent).toBe('v1');
    expect(env.getElementsByTagNameNS(XRD_NS, 'requestHash')).toHaveLength(1);
    // the attachment: the WSDL as registered, but for the address of the provider's own system
    const got = parts[1]!;
    expect(got).not.toContain('10.20.30.40');
    expect(got).toContain(`<soap:address location="http://example.org/xroad-endpoint"/>`);
    expect(got).toBe(doc.replace(`location='http://10.20.30.40:8080/noi-bo/vanthu'`, 'location="http://example.org/xroad-endpoint"'));
    // the version may be left out; a service with no WSDL, one that does not exist, a request naming none
    expect((await getWsdl('traCuuVanBan')).status).toBe(200);
    const noWsdl = await getWsdl('guiVanBan');
    expect(noWsdl.faultcode).toBe('Server.ServerProxy.ServiceType');
    // the provider's reason reaches the client in Vietnamese too
    expect(noWsdl.text).toMatch(/<truc:message_vi [^>]*>[^<]*: dịch vụ guiVanBan không có mô tả WSDL: loại dịch vụ là REST<\/truc:message_vi>/);
    expect((await getWsdl('khongTonTai')).faultcode).toBe('Server.ServerProxy.UnknownService');
    expect((await getWsdl()).faultcode).toBe('Server.ServerProxy.InvalidRequest');
    // a request in a single-byte encoding (windows-1258, a non-ASCII element beside the service code) is answered
    const latin = envelope({ prolog: '<?xml version="1.0" encoding="windows-1258"?>\n', service: { ...HCM, code: 'getWsdl' }, body: '<xrd:getWsdl><xrd:serviceCode>traCuuVanBan</xrd:serviceCode><xrd:caf\u00e9>x</xrd:caf\u00e9></xrd:getWsdl>' });
    const odd = await post(Buffer.from(latin, 'latin1'), 'text/xml; charset=windows-1258');
    expect([odd.status, odd.faultcode]).toEqual([200, undefined]);
    // REST's view of it: listMethods leaves a WSDL-described service out (X-Road lists REST and OPENAPI
    // services there), getOpenAPI refuses it as X-Road does (an internal error, "Invalid service type: WSDL")
    const rest = (path: string) => fetch(`${t.axis.members[0]!.isUrl}/r1/VN/PROV/000.00.31.H29/vanthu/${path}`, { headers: { 'x-road-client': 'VN/GOV/000.00.00.G22/vanthu' } });
    const listed = (await (await rest('listMethods')).json()) as { service: { service_code: string; service_type: string }[] };
    expect(listed.service.map((x) => x.service_code)).not.toContain('traCuuVanBan');
    expect(listed.service.length).toBeGreaterThan(0);
    const openapi = await rest('getOpenAPI?serviceCode=traCuuVanBan');
    expect(openapi.headers.get('x-road-error')).toBe('Server.ServerProxy.InternalError');
    expect(((await openapi.json()) as { message: string }).message).toMatch(/^Invalid service type: WSDL/);
    await store.describeService(tra, null);
    expect((await getWsdl('traCuuVanBan', 'v1')).faultcode).toBe('Server.ServerProxy.ServiceType');
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
      ['Client.InvalidXml', envelope({ body: `<ns1:traCuuVanBan>${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}</ns1:traCuuVanBan>` })],
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
    // a multipart message read as a stream (longer than the inline limit): its envelope refused as a fault,
    // before its attachment is read
    const multipart = (soap: string) =>
      Buffer.concat([Buffer.from(`--MIME_boundary\r\nContent-Type: text/xml; charset=UTF-8\r\n\r\n${soap}\r\n--MIME_boundary\r\nContent-Type: application/pdf\r\n\r\n`), Buffer.alloc(300_000, 0x25), Buffer.from('\r\n--MIME_boundary--\r\n')]);
    const mct = 'multipart/related; type="text/xml"; boundary="MIME_boundary"';
    for (const [code, soap] of [
      ['Client.InvalidSoap', `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>${envelope({ prolog: '' })}`],
      ['Client.MissingHeaderField', envelope({ id: null })],
      ['Client.InvalidBody', envelope({ body: '<ns1:khac/>' })],
    ] as const) {
      const r = await post(multipart(soap), mct);
      expect([r.status, r.faultcode], r.text).toEqual([500, code]);
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

/**
 * X-Road's SOAP protocol against a SOAP stack nobody on the team wrote (node-soap, `soap` on npm): the
 * provider's information system is a node-soap server publishing a WSDL; the WSDL is registered at the
 * provider's security server; the client fetches it through the axis with `getWsdl` (PR-META 4), builds a
 * node-soap client from it pointed at its own security server, adds X-Road's header and calls the service.
 * What node-soap writes must pass both servers, and what they carry back must be what node-soap reads.
 */
const HO_SO_NS = 'http://vanthu.gov.vn/lienthong';
const NODE_SOAP_SERVICE = 'SERVICE:VN/PROV/000.00.31.H29/vanthu/traCuuHoSo/v1';

const wsdlAt = (location: string) => `<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions name="vanThu" targetNamespace="${HO_SO_NS}" xmlns:tns="${HO_SO_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:id="http://x-road.eu/xsd/identifiers">
  <wsdl:types>
    <xsd:schema targetNamespace="${HO_SO_NS}" elementFormDefault="qualified">
      <xsd:element name="traCuuHoSo"><xsd:complexType><xsd:sequence><xsd:element name="soHieu" type="xsd:string"/></xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="traCuuHoSoResponse"><xsd:complexType><xsd:sequence>
        <xsd:element name="trichYeu" type="xsd:string"/><xsd:element name="nguoiKy" type="xsd:string"/><xsd:element name="soTrang" type="xsd:int"/>
      </xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="nopHoSo"><xsd:complexType><xsd:sequence><xsd:element name="soHieu" type="xsd:string"/></xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="nopHoSoResponse"><xsd:complexType><xsd:sequence>
        <xsd:element name="soByte" type="xsd:int"/><xsd:element name="sha256" type="xsd:string"/>
      </xsd:sequence></xsd:complexType></xsd:element>
    </xsd:schema>
  </wsdl:types>
  <wsdl:message name="nopHoSo"><wsdl:part name="body" element="tns:nopHoSo"/></wsdl:message>
  <wsdl:message name="nopHoSoResponse"><wsdl:part name="body" element="tns:nopHoSoResponse"/></wsdl:message>
  <wsdl:message name="traCuuHoSo"><wsdl:part name="body" element="tns:traCuuHoSo"/></wsdl:message>
  <wsdl:message name="traCuuHoSoResponse"><wsdl:part name="body" element="tns:traCuuHoSoResponse"/></wsdl:message>
  <wsdl:portType name="vanThuPortType">
    <wsdl:operation name="traCuuHoSo"><wsdl:input message="tns:traCuuHoSo"/><wsdl:output message="tns:traCuuHoSoResponse"/></wsdl:operation>
    <wsdl:operation name="nopHoSo"><wsdl:input message="tns:nopHoSo"/><wsdl:output message="tns:nopHoSoResponse"/></wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="vanThuBinding" type="tns:vanThuPortType">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="traCuuHoSo">
      <soap:operation soapAction=""/>
      <id:version>v1</id:version>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
    <wsdl:operation name="nopHoSo">
      <soap:operation soapAction=""/>
      <id:version>v1</id:version>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="vanThuService">
    <wsdl:port name="vanThuPort" binding="tns:vanThuBinding"><soap:address location="${location}"/></wsdl:port>
  </wsdl:service>
</wsdl:definitions>
`;

/** X-Road's header, as a client adds it to what its SOAP stack writes */
const xroadHeader = (id: string, code = 'traCuuHoSo') =>
  `<xrd:client xmlns:xrd="http://x-road.eu/xsd/xroad.xsd" xmlns:id="http://x-road.eu/xsd/identifiers" id:objectType="SUBSYSTEM"><id:xRoadInstance>VN</id:xRoadInstance><id:memberClass>GOV</id:memberClass><id:memberCode>000.00.00.G22</id:memberCode><id:subsystemCode>vanthu</id:subsystemCode></xrd:client>` +
  `<xrd:service xmlns:xrd="http://x-road.eu/xsd/xroad.xsd" xmlns:id="http://x-road.eu/xsd/identifiers" id:objectType="SERVICE"><id:xRoadInstance>VN</id:xRoadInstance><id:memberClass>PROV</id:memberClass><id:memberCode>000.00.31.H29</id:memberCode><id:subsystemCode>vanthu</id:subsystemCode><id:serviceCode>${code}</id:serviceCode><id:serviceVersion>v1</id:serviceVersion></xrd:service>` +
  `<xrd:id xmlns:xrd="http://x-road.eu/xsd/xroad.xsd">${id}</xrd:id>` +
  `<xrd:userId xmlns:xrd="http://x-road.eu/xsd/xroad.xsd">VN012345678901</xrd:userId>` +
  `<xrd:protocolVersion xmlns:xrd="http://x-road.eu/xsd/xroad.xsd">4.0</xrd:protocolVersion>`;

let soapIs: http.Server;
const calls: { args: unknown; headers: unknown }[] = [];

const startNodeSoapService = async () => {
  soapIs = http.createServer((_req, res) => res.writeHead(404).end());
  await new Promise<void>((r) => soapIs.listen(0, '127.0.0.1', r));
  const location = `http://127.0.0.1:${(soapIs.address() as AddressInfo).port}/noi-bo/vanthu`;
  const server = nodeSoap.listen(
    soapIs,
    '/noi-bo/vanthu',
    {
      vanThuService: {
        vanThuPort: {
          traCuuHoSo: (args: { soHieu: string }, _cb: unknown, headers: unknown) => {
            calls.push({ args, headers });
            return { trichYeu: `Về việc tiếp nhận văn bản ${args.soHieu}`, nguoiKy: 'Trần Văn Đức', soTrang: 3 };
          },
        },
      },
    },
    wsdlAt(location),
  );
  // X-Road's rule for a provider: the response repeats the request's header (PR-MESS 2.2)
  server.addSoapHeader((_method: string, _args: unknown, headers: Record<string, unknown>) => echoHeader(headers));
  const hcm = t.axis.members[2]!;
  await hcm.server.store.putService(parseService(NODE_SOAP_SERVICE), location);
  await hcm.server.store.grant({ service: NODE_SOAP_SERVICE, subject: 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu', method: '*', path: '*' });
  await hcm.server.store.describeService(parseService(NODE_SOAP_SERVICE), wsdlAt(location));
  // nopHoSo: a provider that takes SOAP with attachments and answers in MTOM, its attachment echoed
  mtomIs = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      mtomSeen.push({ contentType: String(req.headers['content-type']), body });
      const inBoundary = /boundary="?([^";]+)"?/.exec(String(req.headers['content-type']))![1]!;
      const parts = body.toString('latin1').split(`--${inBoundary}`).slice(1, -1).map((p) => Buffer.from(p.slice(p.indexOf('\r\n\r\n') + 4, -2), 'latin1'));
      const envelope = parts[0]!.toString('utf8');
      const header = envelope.slice(envelope.indexOf('<soap:Header>') + 13, envelope.indexOf('</soap:Header>'));
      const file = parts[1]!;
      const b = 'tra-loi-mtom';
      const out = Buffer.concat([
        Buffer.from(`--${b}\r\nContent-Type: application/xop+xml; charset=UTF-8; type="text/xml"\r\nContent-ID: <tra-loi>\r\n\r\n`),
        Buffer.from(
          `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tns="${HO_SO_NS}"><soap:Header>${header}</soap:Header>` +
            `<soap:Body><tns:nopHoSoResponse><tns:soByte>${file.length}</tns:soByte><tns:sha256>${createHash('sha256').update(file).digest('hex')}</tns:sha256></tns:nopHoSoResponse></soap:Body></soap:Envelope>`,
        ),
        Buffer.from(`\r\n--${b}\r\nContent-Type: application/pdf\r\nContent-ID: <ban-sao>\r\n\r\n`),
        file,
        Buffer.from(`\r\n--${b}--\r\n`),
      ]);
      res.writeHead(200, { 'content-type': `multipart/related; type="application/xop+xml"; start="<tra-loi>"; start-info="text/xml"; boundary=${b}` }).end(out);
    });
  });
  await new Promise<void>((r) => mtomIs.listen(0, '127.0.0.1', r));
  const nop = 'SERVICE:VN/PROV/000.00.31.H29/vanthu/nopHoSo/v1';
  await hcm.server.store.putService(parseService(nop), `http://127.0.0.1:${(mtomIs.address() as AddressInfo).port}/nop`);
  await hcm.server.store.grant({ service: nop, subject: 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu', method: '*', path: '*' });
};
let mtomIs: http.Server;
const mtomSeen: { contentType: string; body: Buffer }[] = [];

/** the header node-soap parsed out of the request, written back as X-Road's (the provider's side of PR-MESS 2.2) */
function echoHeader(h: Record<string, any>): string {
  const X = 'xmlns:xrd="http://x-road.eu/xsd/xroad.xsd" xmlns:id="http://x-road.eu/xsd/identifiers"';
  const ident = (tag: string, v: Record<string, any>) =>
    `<xrd:${tag} ${X} id:objectType="${v.attributes['id:objectType']}">` +
    ['xRoadInstance', 'memberClass', 'memberCode', 'subsystemCode', 'serviceCode', 'serviceVersion'].filter((k) => v[k] !== undefined).map((k) => `<id:${k}>${v[k]}</id:${k}>`).join('') +
    `</xrd:${tag}>`;
  const text = (tag: string) => (h[tag] === undefined ? '' : `<xrd:${tag} ${X}>${h[tag]}</xrd:${tag}>`);
  return ident('client', h.client) + ident('service', h.service) + text('id') + text('userId') + text('issue') + text('protocolVersion');
}

describe('X-Road SOAP with node-soap on both ends (a SOAP stack nobody on the team wrote)', () => {
  beforeAll(startNodeSoapService);
  afterAll(async () => {
    await new Promise((r) => soapIs?.close(r));
    await new Promise((r) => mtomIs?.close(r));
  });

  it('a node-soap client built from the WSDL fetched with getWsdl calls a node-soap service through both servers', async () => {
    const vpcp = t.axis.members[0]!;
    const getWsdl =
      `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xrd="http://x-road.eu/xsd/xroad.xsd" xmlns:id="http://x-road.eu/xsd/identifiers"><SOAP-ENV:Header>` +
      xroadHeader(randomUUID()).replace('<id:serviceCode>traCuuHoSo</id:serviceCode><id:serviceVersion>v1</id:serviceVersion>', '<id:serviceCode>getWsdl</id:serviceCode>') +
      `</SOAP-ENV:Header><SOAP-ENV:Body><xrd:getWsdl><xrd:serviceCode>traCuuHoSo</xrd:serviceCode><xrd:serviceVersion>v1</xrd:serviceVersion></xrd:getWsdl></SOAP-ENV:Body></SOAP-ENV:Envelope>`;
    const r = await fetch(`${vpcp.isUrl}/`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: getWsdl });
    const text = await r.text();
    expect(r.status, text).toBe(200);
    const boundary = /boundary="?([^";]+)"?/.exec(r.headers.get('content-type')!)![1]!;
    const wsdl = text.split(`--${boundary}`)[2]!.split('\r\n\r\n').slice(1).join('\r\n\r\n').slice(0, -2);
    expect(wsdl).toContain('http://example.org/xroad-endpoint');
    const file = join(tmp('truc-wsdl-'), 'vanthu.wsdl');
    writeFileSync(file, wsdl);
    // the client's stack points at its own security server, as X-Road's clients do
    const client = await nodeSoap.createClientAsync(file, { endpoint: `${vpcp.isUrl}/` });
    const id = randomUUID();
    client.addSoapHeader(xroadHeader(id));
    const [result, raw] = await client.traCuuHoSoAsync({ soHieu: '7816/VPCP-TTĐT' });
    expect(result).toEqual({ trichYeu: 'Về việc tiếp nhận văn bản 7816/VPCP-TTĐT', nguoiKy: 'Trần Văn Đức', soTrang: 3 });
    // the service got what node-soap wrote, X-Road's header with it; the client got requestHash, the SHA-512
    // of the request as its stack sent it
    expect(calls).toEqual([{ args: { soHieu: '7816/VPCP-TTĐT' }, headers: expect.objectContaining({ id, userId: 'VN012345678901', protocolVersion: '4.0' }) }]);
    const hash = createHash('sha512').update(client.lastRequest!, 'utf8').digest('base64');
    expect(raw).toContain(`algorithmId="http://www.w3.org/2001/04/xmlenc#sha512">${hash}</xrd:requestHash>`);
    // the same id again is a replay; without X-Road's header the client's server refuses before anything
    // leaves it — both as SOAP faults node-soap reads
    const fault = async (call: Promise<unknown>) => {
      try {
        await call;
      } catch (e) {
        return (e as { root?: { Envelope?: { Body?: { Fault?: { faultcode?: string } } } } }).root?.Envelope?.Body?.Fault?.faultcode;
      }
      return 'answered';
    };
    expect(await fault(client.traCuuHoSoAsync({ soHieu: '1' }))).toBe('Server.ServerProxy.InvalidMessage');
    client.clearSoapHeaders();
    expect(await fault(client.traCuuHoSoAsync({ soHieu: '1' }))).toBe('Client.MissingHeader');
    expect(calls).toHaveLength(1);

    // SOAP with attachments as node-soap sends them (multipart/related, the envelope an application/xop+xml
    // part), through both servers to a provider answering in MTOM, which node-soap reads back
    const mtom = await nodeSoap.createClientAsync(file, { endpoint: `${vpcp.isUrl}/`, parseResponseAttachments: true });
    mtom.addSoapHeader(xroadHeader(randomUUID(), 'nopHoSo'));
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(300_000, 0xe2), Buffer.from('\r\n--không phải ranh giới\r\n%%EOF\n')]);
    const [filed] = await mtom.nopHoSoAsync({ soHieu: '12/QĐ-UBND' }, { attachments: [{ mimetype: 'application/pdf', contentId: 'quyet-dinh', name: 'quyet-dinh.pdf', body: pdf }] });
    expect(filed).toEqual({ soByte: pdf.length, sha256: createHash('sha256').update(pdf).digest('hex') });
    // the provider got node-soap's message byte for byte; node-soap got the attachment echoed, and requestHash
    // over the SOAP part it sent
    expect(mtomSeen).toHaveLength(1);
    expect(mtomSeen[0]!.contentType).toMatch(/^multipart\/related; type="application\/xop\+xml"/);
    expect(mtomSeen[0]!.body.includes(pdf)).toBe(true);
    const back = mtom.lastResponseAttachments!.parts;
    expect(back).toHaveLength(1);
    expect(Buffer.compare(back[0]!.body, pdf)).toBe(0);
    const sentEnvelope = mtomSeen[0]!.body.subarray(mtomSeen[0]!.body.indexOf('\r\n\r\n') + 4);
    const soapPart = sentEnvelope.subarray(0, sentEnvelope.indexOf('\r\n--'));
    expect(mtom.lastResponse).toContain(`>${createHash('sha512').update(soapPart).digest('base64')}</xrd:requestHash>`);
  });
});
