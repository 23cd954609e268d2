/**
 * The consumer's security server against what real HTTP clients send, byte for byte over raw sockets:
 * HTTP/1.0, pipelining, Expect, chunked framing, request-target forms, header edge cases, request smuggling
 * shapes, methods, SOAP envelopes and clients that go away. Each test asserts the correct behaviour (RFC 9110,
 * RFC 9112, X-Road's PR-REST / PR-MESS), and the provider's information system is
 * a probe that records exactly what reaches it; after every odd request a normal call on a new connection
 * must still work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { startTestAxis, type TestAxis } from './setup.js';
import { parseService } from '../../../src/exchange/ids.js';
import { parseSoap, soapEnvelope, soapFault } from '../../../src/exchange/server/soap.js';

let t: TestAxis;
let probe: http.Server;
let port: number;
let isHost: string;

const CLIENT = 'VN/GOV/000.00.00.G22/vanthu';
const SUBJECT = 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu';
const SVC = '/r1/VN/PROV/000.00.31.H29/vanthu/probe';
const RIGHTS = '/r1/VN/PROV/000.00.31.H29/vanthu/probeRights';

interface Seen {
  method: string;
  url: string;
  version: string;
  rawHeaders: string[];
  body: Buffer;
  trailers: string[];
}
const seen: Seen[] = [];
const seenWith = (marker: string) => seen.filter((s) => s.url.includes(marker) || s.body.includes(marker));
const header = (s: Seen, name: string) => {
  const out: string[] = [];
  for (let i = 0; i < s.rawHeaders.length; i += 2) if (s.rawHeaders[i]!.toLowerCase() === name.toLowerCase()) out.push(s.rawHeaders[i + 1]!);
  return out;
};

beforeAll(async () => {
  probe = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', version: req.httpVersion, rawHeaders: req.rawHeaders, body, trailers: req.rawTrailers };
      seen.push(s);
      const answer = () => {
        if (req.headers.soapaction !== undefined) {
          // a SOAP service: the answer repeats the request's header (PR-MESS 2.2)
          try {
            const p = parseSoap(body, String(req.headers['content-type']));
            const out = soapEnvelope(p.fields, `<ns1:probeSoapResponse xmlns:ns1="urn:probe"><n>${seen.length}</n></ns1:probeSoapResponse>`);
            res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8', 'content-length': out.length });
            res.end(out);
          } catch (e) {
            const out = soapFault('Client', e);
            res.writeHead(500, { 'content-type': 'text/xml; charset=utf-8', 'content-length': out.length });
            res.end(out);
          }
          return;
        }
        const out = Buffer.from(JSON.stringify({ n: seen.length, method: s.method, url: s.url, body: body.toString('latin1') }));
        // a service naming a header of its own as hop-by-hop (RFC 9110 §7.6.1)
        const hop = req.url?.includes('/connhop') ? { connection: 'keep-alive, X-Internal-Hop', 'x-internal-hop': 'service-internal' } : {};
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': out.length, 'x-probe': 'yes', ...hop });
        res.end(out);
      };
      if (req.url?.includes('/slow')) setTimeout(answer, 2500);
      else answer();
    });
  });
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  t = await startTestAxis();
  const hcm = t.axis.members[2]!.server.store;
  for (const code of ['probe', 'probeSoap', 'probeRights']) await hcm.putService(parseService(`SERVICE:VN/PROV/000.00.31.H29/vanthu/${code}`), base);
  for (const code of ['probe', 'probeSoap']) await hcm.grant({ service: `SERVICE:VN/PROV/000.00.31.H29/vanthu/${code}`, subject: SUBJECT, method: '*', path: '*' });
  // rights that X-Road writes as endpoints: one segment between, a file type within a segment
  for (const path of ['/ho-so/*/tep', '/ho-so/*.pdf']) await hcm.grant({ service: 'SERVICE:VN/PROV/000.00.31.H29/vanthu/probeRights', subject: SUBJECT, method: 'GET', path });
  const u = new URL(t.axis.members[0]!.isUrl);
  port = Number(u.port);
  isHost = u.hostname;
}, 180_000);

afterAll(async () => {
  await t?.close();
  await new Promise<void>((r) => (probe ? probe.close(() => r()) : r()));
});

// ---------------------------------------------------------------------------------------------------------
// a raw HTTP/1.x client: exact bytes out, responses parsed back as they come

interface Resp {
  version: string;
  status: number;
  reason: string;
  headers: [string, string][];
  body: Buffer;
}
const get = (r: Resp, name: string) => r.headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];

/** Parses the responses in `buf`; `noBody(i)` for an answer to HEAD (the i-th final response). */
function parseResponses(buf: Buffer, closed: boolean, noBody: (i: number) => boolean): { resps: Resp[]; rest: number } {
  const resps: Resp[] = [];
  let at = 0;
  let finals = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const lines = buf.subarray(at, end).toString('latin1').split('\r\n');
    const m = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(lines[0]!);
    if (!m) break;
    const headers = lines.slice(1).map((l) => {
      const c = l.indexOf(':');
      return [l.slice(0, c), l.slice(c + 1).trim()] as [string, string];
    });
    const status = Number(m[2]);
    const r: Resp = { version: m[1]!, status, reason: m[3] ?? '', headers, body: Buffer.alloc(0) };
    let p = end + 4;
    if (status >= 100 && status < 200) {
      resps.push(r);
      at = p;
      continue;
    }
    const te = headers.find(([k]) => k.toLowerCase() === 'transfer-encoding')?.[1];
    const cl = headers.find(([k]) => k.toLowerCase() === 'content-length')?.[1];
    if (noBody(finals) || status === 204 || status === 304) {
      // no body
    } else if (te && /chunked/i.test(te)) {
      const parts: Buffer[] = [];
      let ok = false;
      for (;;) {
        const eol = buf.indexOf('\r\n', p);
        if (eol < 0) break;
        const size = parseInt(buf.subarray(p, eol).toString('latin1').split(';')[0]!, 16);
        if (size === 0) {
          const tEnd = buf.indexOf('\r\n\r\n', eol);
          if (buf.subarray(eol, eol + 4).toString('latin1') === '\r\n\r\n') {
            p = eol + 4;
            ok = true;
          } else if (tEnd >= 0) {
            p = tEnd + 4;
            ok = true;
          }
          break;
        }
        if (buf.length < eol + 2 + size + 2) break;
        parts.push(buf.subarray(eol + 2, eol + 2 + size));
        p = eol + 2 + size + 2;
      }
      if (!ok) break;
      r.body = Buffer.concat(parts);
    } else if (cl !== undefined) {
      const n = Number(cl);
      if (buf.length < p + n) break;
      r.body = buf.subarray(p, p + n);
      p += n;
    } else {
      // delimited by the close
      if (!closed) break;
      r.body = buf.subarray(p);
      p = buf.length;
    }
    resps.push(r);
    finals++;
    at = p;
  }
  return { resps, rest: at };
}

type Step = string | Buffer | { waitFor: string; ms?: number } | { sleep: number };

/**
 * Sends `steps` on a new connection and reads until `finals` final responses came, the server closed, or
 * `timeoutMs`; then waits `closeWaitMs` more to see whether the server closes the connection.
 */
async function rawCall(
  steps: Step | Step[],
  o: { finals?: number; head?: number[]; timeoutMs?: number; closeWaitMs?: number; destroyAfterMs?: number } = {},
): Promise<{ resps: Resp[]; finals: Resp[]; closed: boolean; raw: Buffer }> {
  const list = Array.isArray(steps) ? steps : [steps];
  const want = o.finals ?? 1;
  const noBody = (i: number) => (o.head ?? []).includes(i);
  const s = net.connect(port, isHost);
  s.setNoDelay(true);
  let raw = Buffer.alloc(0);
  let closed = false;
  const waiters = new Set<() => void>();
  const poke = () => {
    for (const w of [...waiters]) w();
  };
  s.on('data', (d: Buffer) => {
    raw = Buffer.concat([raw, d]);
    poke();
  });
  s.on('close', () => {
    closed = true;
    poke();
  });
  s.on('error', () => {});
  await new Promise<void>((r, j) => {
    s.once('connect', () => r());
    s.once('error', j);
  });
  const until = (cond: () => boolean, ms: number) =>
    new Promise<void>((resolve) => {
      if (cond()) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      }
      function check() {
        if (cond()) done();
      }
      waiters.add(check);
    });
  for (const step of list) {
    if (typeof step === 'string' || Buffer.isBuffer(step)) {
      if (!closed) s.write(typeof step === 'string' ? Buffer.from(step, 'latin1') : step);
    } else if ('sleep' in step) await new Promise((r) => setTimeout(r, step.sleep));
    else await until(() => raw.includes(step.waitFor) || closed, step.ms ?? 10_000);
  }
  if (o.destroyAfterMs !== undefined) {
    await new Promise((r) => setTimeout(r, o.destroyAfterMs));
    s.destroy();
    return { resps: [], finals: [], closed: true, raw };
  }
  const finalsOf = () => parseResponses(raw, closed, noBody).resps.filter((r) => r.status >= 200);
  await until(() => finalsOf().length >= want || closed, o.timeoutMs ?? 30_000);
  if (o.closeWaitMs) await until(() => closed, o.closeWaitMs);
  const { resps } = parseResponses(raw, closed, noBody);
  s.destroy();
  return { resps, finals: resps.filter((r) => r.status >= 200), closed, raw };
}

const json = (r: Resp) => JSON.parse(r.body.toString('utf8'));
const mark = (what: string) => `${what}-${randomUUID().slice(0, 8)}`;
const req = (line: string, headers: string[] = [], body: string | Buffer = '') =>
  Buffer.concat([Buffer.from(`${line}\r\n${[`Host: ${isHost}:${port}`, ...headers].map((h) => `${h}\r\n`).join('')}\r\n`, 'latin1'), typeof body === 'string' ? Buffer.from(body, 'latin1') : body]);

/** A normal call on a new connection: the server is still well. */
async function normalCallWorks(): Promise<void> {
  const m = mark('normal');
  const r = await rawCall(req(`GET ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'Connection: close']));
  expect(r.finals[0]?.status, r.raw.toString('latin1').slice(0, 600)).toBe(200);
  expect(json(r.finals[0]!).url).toBe(`/${m}`);
}

/** A refusal in X-Road's form (PR-REST 4.6): the status, X-Road-Error, and nothing reached the service. */
function expectRefused(r: { finals: Resp[]; raw: Buffer }, status: number | number[], marker: string): void {
  const first = r.finals[0];
  expect(first, `no answer: ${r.raw.toString('latin1').slice(0, 400)}`).toBeDefined();
  expect(Array.isArray(status) ? status : [status], r.raw.toString('latin1').slice(0, 600)).toContain(first!.status);
  expect(get(first!, 'x-road-error'), r.raw.toString('latin1').slice(0, 600)).toBeTruthy();
  expect(seenWith(marker)).toEqual([]);
}

// ---------------------------------------------------------------------------------------------------------

describe('HTTP/1.0, pipelining, Expect, chunked framing', () => {
  it('HTTP/1.0 without keep-alive: the answer whole with its length, no chunked coding, then the connection closes', async () => {
    const m = mark('h10');
    const r = await rawCall(req(`GET ${SVC}/${m} HTTP/1.0`, [`X-Road-Client: ${CLIENT}`]), { closeWaitMs: 3000 });
    const a = r.finals[0]!;
    expect(a.status, r.raw.toString('latin1')).toBe(200);
    // RFC 9112 §6.1: no Transfer-Encoding toward an HTTP/1.0 client; the length delimits the body
    expect(get(a, 'transfer-encoding')).toBeUndefined();
    expect(Number(get(a, 'content-length'))).toBe(a.body.length);
    expect(json(a).url).toBe(`/${m}`);
    expect(r.closed).toBe(true);
    expect(seenWith(m)).toHaveLength(1);
    await normalCallWorks();
  });

  it('HTTP/1.0 with Connection: keep-alive: two requests answered on one connection', async () => {
    const [m1, m2] = [mark('h10ka'), mark('h10ka')];
    const r = await rawCall(
      [req(`GET ${SVC}/${m1} HTTP/1.0`, [`X-Road-Client: ${CLIENT}`, 'Connection: keep-alive']), { waitFor: m1 }, { sleep: 200 }, req(`GET ${SVC}/${m2} HTTP/1.0`, [`X-Road-Client: ${CLIENT}`, 'Connection: keep-alive'])],
      { finals: 2 },
    );
    expect(r.finals.map((x) => x.status), r.raw.toString('latin1')).toEqual([200, 200]);
    expect(get(r.finals[0]!, 'connection')?.toLowerCase()).toBe('keep-alive');
    expect(r.finals.map((x) => json(x).url)).toEqual([`/${m1}`, `/${m2}`]);
  });

  it('HTTP/1.0 POST with Content-Length: the body reaches the service', async () => {
    const m = mark('h10post');
    const r = await rawCall(req(`POST ${SVC}/${m} HTTP/1.0`, [`X-Road-Client: ${CLIENT}`, 'Content-Type: text/plain', 'Content-Length: 11'], 'hello world'));
    expect(r.finals[0]!.status).toBe(200);
    expect(seenWith(m)[0]!.body.toString()).toBe('hello world');
  });

  it('HTTP/1.0 with Transfer-Encoding: the framing is faulty (RFC 9112 §6.1) — refused, not forwarded', async () => {
    const m = mark('h10te');
    const r = await rawCall(req(`POST ${SVC}/${m} HTTP/1.0`, [`X-Road-Client: ${CLIENT}`, 'Content-Type: text/plain', 'Transfer-Encoding: chunked'], '5\r\nhello\r\n0\r\n\r\n'), { closeWaitMs: 2000 });
    expectRefused(r, 400, m);
    await normalCallWorks();
  });

  it('pipelining: two requests in one write are both answered, in order', async () => {
    const [m1, m2] = [mark('pipe'), mark('pipe')];
    const r = await rawCall(Buffer.concat([req(`GET ${SVC}/${m1} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`]), req(`POST ${SVC}/${m2} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'Content-Length: 3'], 'abc')]), { finals: 2 });
    expect(r.finals.map((x) => x.status), r.raw.toString('latin1')).toEqual([200, 200]);
    expect(r.finals.map((x) => json(x).url)).toEqual([`/${m1}`, `/${m2}`]);
    expect(json(r.finals[1]!).body).toBe('abc');
  });

  it('pipelining: a slow first request is still answered first', async () => {
    const [m1, m2] = [mark('pipeslow'), mark('pipefast')];
    const r = await rawCall(Buffer.concat([req(`GET ${SVC}/slow/${m1} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`]), req(`GET ${SVC}/${m2} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`])]), { finals: 2 });
    expect(r.finals.map((x) => x.status)).toEqual([200, 200]);
    expect(r.finals.map((x) => json(x).url)).toEqual([`/slow/${m1}`, `/${m2}`]);
  });

  it('pipelining: a valid request followed by a malformed one — the valid one is answered first (RFC 9112 §9.3.2), then the refusal', async () => {
    const m = mark('pipebad');
    const r = await rawCall(Buffer.concat([req(`GET ${SVC}/slow/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`]), Buffer.from('THIS IS NOT HTTP\r\n\r\n', 'latin1')]), { finals: 2, timeoutMs: 15_000 });
    // the service was called (the first request is valid): its answer must reach the client, first
    await new Promise((res) => setTimeout(res, 3000));
    expect(seenWith(m)).toHaveLength(1);
    expect(r.finals[0]?.status, r.raw.toString('latin1').slice(0, 800)).toBe(200);
    expect(json(r.finals[0]!).url).toBe(`/slow/${m}`);
    expect(r.finals[1]?.status).toBe(400);
    await normalCallWorks();
  });

  it('Expect: 100-continue: 100 first, then the body, which reaches the service without Expect', async () => {
    const m = mark('expect');
    const r = await rawCall([req(`PUT ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'Content-Type: text/plain', 'Content-Length: 5', 'Expect: 100-continue']), { waitFor: '100 Continue', ms: 5000 }, 'hello']);
    expect(r.resps[0]!.status, r.raw.toString('latin1')).toBe(100);
    expect(r.finals[0]!.status).toBe(200);
    const s = seenWith(m)[0]!;
    expect(s.body.toString()).toBe('hello');
    expect(header(s, 'expect')).toEqual([]);
  });

  it('Expect: 100-continue on a request refused before its body (no X-Road-Client): the refusal comes, the server stays well', async () => {
    const m = mark('expectref');
    const r = await rawCall([req(`PUT ${SVC}/${m} HTTP/1.1`, ['Content-Type: text/plain', 'Content-Length: 5', 'Expect: 100-continue']), { waitFor: 'HTTP/1.1 ', ms: 5000 }, 'hello']);
    expectRefused(r, 400, m);
    await normalCallWorks();
  });

  it('a chunked body with chunk extensions and trailers: the decoded body reaches the service', async () => {
    const m = mark('chunked');
    const body = '5;ext=1;q="a b"\r\nhello\r\n6;x\r\n world\r\n0\r\nX-Trailer: after\r\n\r\n';
    const r = await rawCall(req(`POST ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'Content-Type: text/plain', 'Transfer-Encoding: chunked', 'Trailer: X-Trailer'], body));
    expect(r.finals[0]!.status, r.raw.toString('latin1')).toBe(200);
    const s = seenWith(m)[0]!;
    expect(s.body.toString()).toBe('hello world');
    // the framing does not leak into the headers
    expect(header(s, 'x-trailer')).toEqual([]);
    await normalCallWorks();
  });

  it('an empty chunked body: a POST with no content reaches the service', async () => {
    const m = mark('chunked0');
    const r = await rawCall(req(`POST ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'Content-Type: text/plain', 'Transfer-Encoding: chunked'], '0\r\n\r\n'));
    expect(r.finals[0]!.status, r.raw.toString('latin1')).toBe(200);
    const s = seenWith(m)[0]!;
    expect(s.method).toBe('POST');
    expect(s.body.length).toBe(0);
  });
});

describe('request targets', () => {
  it('absolute-form (RFC 9112 §3.2.2: a server MUST accept it) reaches the service as the origin-form would', async () => {
    const m = mark('abs');
    const r = await rawCall(req(`POST http://${isHost}:${port}${SVC}/${m}?q=1 HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'Content-Type: application/json', 'Content-Length: 2'], '{}'));
    expect(r.finals[0]!.status, r.finals[0]?.body.toString()).toBe(200);
    expect(seenWith(m)[0]?.url).toBe(`/${m}?q=1`);
  });

  it('absolute-form with a text/xml REST body is not taken for a SOAP call', async () => {
    const m = mark('absxml');
    const r = await rawCall(req(`POST http://${isHost}:${port}${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'Content-Type: text/xml', 'Content-Length: 8'], '<a>1</a>'));
    expect(r.finals[0]!.status, r.finals[0]?.body.toString()).toBe(200);
    expect(seenWith(m)[0]?.url).toBe(`/${m}`);
  });

  it('"//" below the service passes byte for byte', async () => {
    const m = mark('dbl');
    const r = await rawCall(req(`GET ${SVC}//${m}//b/ HTTP/1.1`, [`X-Road-Client: ${CLIENT}`]));
    expect(r.finals[0]!.status).toBe(200);
    expect(seenWith(m)[0]?.url).toBe(`//${m}//b/`);
  });

  it('a fragment in the request-target (not part of origin-form, RFC 9112 §3.2.1) is refused, or passes as sent — never dropped with the query after it', async () => {
    const m = mark('frag');
    const r = await rawCall(req(`GET ${SVC}/${m}#sec?x=1 HTTP/1.1`, [`X-Road-Client: ${CLIENT}`]));
    if (r.finals[0]!.status === 200) expect(seenWith(m)[0]?.url).toBe(`/${m}#sec?x=1`);
    else expectRefused(r, 400, m);
    await normalCallWorks();
  });

  it('a fragment does not widen an access right: /ho-so/*.pdf does not let /ho-so/mat through as /ho-so/mat#.pdf', async () => {
    const m = mark('fragright');
    const ok = await rawCall(req(`GET ${RIGHTS}/ho-so/${m}.pdf HTTP/1.1`, [`X-Road-Client: ${CLIENT}`]));
    expect(ok.finals[0]!.status).toBe(200);
    const m2 = mark('fragright');
    await rawCall(req(`GET ${RIGHTS}/ho-so/${m2}#.pdf HTTP/1.1`, [`X-Road-Client: ${CLIENT}`]));
    // whatever the answer, the service must not be handed a path the right does not cover
    expect(seenWith(m2).map((s) => s.url)).not.toContain(`/ho-so/${m2}`);
  });

  it('a backslash does not widen an access right: /ho-so/*/tep (one segment) does not reach /ho-so/a/b/tep', async () => {
    const m = mark('bsright');
    await rawCall(req(`GET ${RIGHTS}/ho-so/${m}\\b/tep HTTP/1.1`, [`X-Road-Client: ${CLIENT}`]));
    expect(seenWith(m).map((s) => s.url)).not.toContain(`/ho-so/${m}/b/tep`);
  });

  it("characters a WHATWG URL would rewrite (\\ { } ` \" ' < >) are refused, or reach the service byte for byte (PR-REST: path and query as sent)", async () => {
    const m = mark('chars');
    const target = `/${m}/a\\b/{c}/d\`e/"f"?q='x'&r="<y>"&s={z}`;
    const r = await rawCall(req(`GET ${SVC}${target} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`]));
    // characters RFC 3986 does not allow may be refused; once accepted they pass as sent
    if (r.finals[0]!.status === 200) expect(seenWith(m)[0]?.url).toBe(target);
    else expectRefused(r, 400, m);
  });

  it('an over-long request-target is answered 414 URI Too Long (RFC 9112 §3, RFC 9110 §15.5.15) in X-Road form', async () => {
    const m = mark('long');
    const r = await rawCall(req(`GET ${SVC}/${m}/${'a'.repeat(20_000)} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`]), { closeWaitMs: 2000 });
    expectRefused(r, 414, m);
    await normalCallWorks();
  });

  it('percent-encoded UTF-8 in path and query reaches the service byte for byte (%2F and %25 intact, case kept)', async () => {
    const m = mark('pct');
    const target = `/${m}/h%E1%BB%93-s%C6%A1/t%e1%bb%87p%2Fa%25b?t%C3%AAn=Nguy%E1%BB%85n%20V%C4%83n&x=%2B+y`;
    const r = await rawCall(req(`GET ${SVC}${target} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`]));
    expect(r.finals[0]!.status).toBe(200);
    expect(seenWith(m)[0]?.url).toBe(target);
  });

  it('raw UTF-8 bytes in the request-target are refused 400 (they must be percent-encoded)', async () => {
    const m = mark('rawutf8');
    const r = await rawCall(req(`GET ${SVC}/${m}/h\xe1\xbb\x93 HTTP/1.1`, [`X-Road-Client: ${CLIENT}`]), { closeWaitMs: 2000 });
    expectRefused(r, 400, m);
    await normalCallWorks();
  });
});

describe('header edge cases', () => {
  it('X-Road-Client with white space around, in lower and upper case names', async () => {
    for (const h of [`X-Road-Client:    ${CLIENT}   `, `x-road-client: ${CLIENT}`, `X-ROAD-CLIENT:\t${CLIENT}`]) {
      const m = mark('ws');
      const r = await rawCall(req(`GET ${SVC}/${m} HTTP/1.1`, [h]));
      expect(r.finals[0]!.status, h).toBe(200);
      expect(get(r.finals[0]!, 'x-road-client')).toBe(CLIENT);
    }
  });

  it('X-Road-Client twice with different values is refused (not one picked silently)', async () => {
    const m = mark('twoclients');
    const r = await rawCall(req(`GET ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'X-Road-Client: VN/GOV/000.00.00.G09/vanthu']));
    expectRefused(r, 400, m);
    expect(get(r.finals[0]!, 'x-road-error')).toBe('Client.InvalidClientIdentifier');
  });

  it('X-Road-Id twice is refused (a singleton field; RFC 9110 §5.3 allows combining only list fields), not joined into an id the caller never sent', async () => {
    const m = mark('twoids');
    const r = await rawCall(req(`GET ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'X-Road-Id: id-one', 'X-Road-Id: id-two']));
    expect(get(r.finals[0]!, 'x-road-id'), r.raw.toString('latin1').slice(0, 600)).not.toBe('id-one, id-two');
    expectRefused(r, 400, m);
  });

  it('obs-fold (line folding) is refused with 400 (RFC 9112 §5.2), not forwarded', async () => {
    const m = mark('fold');
    const r = await rawCall(req(`GET ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'X-Folded: one', ' two']), { closeWaitMs: 2000 });
    expectRefused(r, 400, m);
    await normalCallWorks();
  });

  it('header values with UTF-8 and Latin-1 bytes reach the service byte for byte', async () => {
    const m = mark('bytes');
    const utf8 = Buffer.from('Nguyễn Văn Ánh', 'utf8').toString('latin1');
    const r = await rawCall(req(`GET ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, `X-Ten: ${utf8}`, 'X-Latin: caf\xe9']));
    expect(r.finals[0]!.status).toBe(200);
    const s = seenWith(m)[0]!;
    expect(Buffer.from(header(s, 'x-ten')[0]!, 'latin1').toString('utf8')).toBe('Nguyễn Văn Ánh');
    expect(Buffer.from(header(s, 'x-latin')[0]!, 'latin1')).toEqual(Buffer.from([0x63, 0x61, 0x66, 0xe9]));
  });

  it('X-Road-UserId in UTF-8 reaches the service byte for byte, and the operational record reads it as the UTF-8 it is', async () => {
    const m = mark('user');
    const id = `uid-${randomUUID()}`;
    const user = 'Nguyễn Văn Ánh';
    const r = await rawCall(req(`GET ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, `X-Road-Id: ${id}`, `X-Road-UserId: ${Buffer.from(user, 'utf8').toString('latin1')}`]));
    expect(r.finals[0]!.status).toBe(200);
    expect(Buffer.from(header(seenWith(m)[0]!, 'x-road-userid')[0]!, 'latin1').toString('utf8')).toBe(user);
    // as the X-Road-Client header's raw UTF-8 is read (docs/exchange.md)
    const end = Date.now() + 20_000;
    let ops: Record<string, unknown>[] = [];
    while (Date.now() < end && !ops.length) {
      ops = await t.axis.members[0]!.server.ctx.ops.search({ messageId: id });
      if (!ops.length) await new Promise((res) => setTimeout(res, 200));
    }
    expect(ops[0]?.user_id, JSON.stringify(ops[0])).toBe(user);
  });

  it('two Host header lines are refused 400 (RFC 9112 §3.2: MUST)', async () => {
    const m = mark('twohost');
    const r = await rawCall(Buffer.from(`GET ${SVC}/${m} HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nX-Road-Client: ${CLIENT}\r\n\r\n`, 'latin1'), { closeWaitMs: 1000 });
    expectRefused(r, 400, m);
    await normalCallWorks();
  });

  it('an HTTP/1.1 request without Host is refused 400 (RFC 9112 §3.2), in X-Road form', async () => {
    const m = mark('nohost');
    const r = await rawCall(Buffer.from(`GET ${SVC}/${m} HTTP/1.1\r\nX-Road-Client: ${CLIENT}\r\n\r\n`, 'latin1'), { closeWaitMs: 1000 });
    expectRefused(r, 400, m);
    await normalCallWorks();
  });

  it('X-Road-UserId twice is refused, not joined into one user "u1, u2" that neither line named', async () => {
    const m = mark('twousers');
    const r = await rawCall(req(`GET ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'X-Road-UserId: EE111', 'X-Road-UserId: EE222']));
    expect(seenWith(m).map((s) => header(s, 'x-road-userid')), r.raw.toString('latin1').slice(0, 300)).toEqual([]);
    expectRefused(r, 400, m);
  });

  it('headers the Connection field names are hop-by-hop and do not reach the service (RFC 9110 §7.6.1: intermediaries MUST remove them)', async () => {
    const m = mark('connopt');
    const r = await rawCall(req(`GET ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'Connection: keep-alive, X-Hop-Secret', 'X-Hop-Secret: for the first hop only', 'X-End: end-to-end']));
    expect(r.finals[0]!.status).toBe(200);
    const s = seenWith(m)[0]!;
    expect(header(s, 'x-end')).toEqual(['end-to-end']);
    expect(header(s, 'x-hop-secret')).toEqual([]);
  });

  it("the service's own Connection-named header does not reach the client (RFC 9110 §7.6.1)", async () => {
    const m = mark('connhop');
    const r = await rawCall(req(`GET ${SVC}/connhop/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`]));
    expect(r.finals[0]!.status).toBe(200);
    expect(get(r.finals[0]!, 'x-probe')).toBe('yes');
    expect(get(r.finals[0]!, 'x-internal-hop')).toBeUndefined();
  });

  it('Upgrade: websocket without a listener: answered as a plain request, Upgrade not forwarded', async () => {
    const m = mark('upgrade');
    const r = await rawCall(req(`GET ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==']), { timeoutMs: 10_000 });
    expect(r.finals[0]?.status, r.raw.toString('latin1').slice(0, 300)).toBe(200);
    const s = seenWith(m)[0]!;
    expect([header(s, 'upgrade'), header(s, 'connection').filter((v) => /upgrade/i.test(v))]).toEqual([[], []]);
    await normalCallWorks();
  });
});

describe('request smuggling shapes: refused with 400, never forwarded', () => {
  const cases: [string, string[], string][] = [
    ['Transfer-Encoding and Content-Length together', ['Transfer-Encoding: chunked', 'Content-Length: 5'], '5\r\nhello\r\n0\r\n\r\n'],
    ['Transfer-Encoding: chunked, identity', ['Transfer-Encoding: chunked, identity'], '5\r\nhello\r\n0\r\n\r\n'],
    ['Transfer-Encoding: identity alone', ['Transfer-Encoding: identity', 'Content-Length: 5'], 'hello'],
    ['chunked twice on two lines', ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], '5\r\nhello\r\n0\r\n\r\n'],
    ['Content-Length twice with different values', ['Content-Length: 5', 'Content-Length: 6'], 'hello!'],
    ['a Content-Length list', ['Content-Length: 5, 6'], 'hello!'],
    ['white space before the colon', ['Transfer-Encoding : chunked'], '5\r\nhello\r\n0\r\n\r\n'],
  ];
  for (const [name, hs, body] of cases)
    it(name, async () => {
      const m = mark('smuggle');
      const r = await rawCall(req(`POST ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'Content-Type: text/plain', ...hs], body + `GET ${SVC}/${m}-smuggled HTTP/1.1\r\nHost: x\r\nX-Road-Client: ${CLIENT}\r\n\r\n`), { closeWaitMs: 2000, timeoutMs: 10_000 });
      expectRefused(r, 400, m);
      expect(r.finals).toHaveLength(1);
      expect(r.closed).toBe(true);
      await normalCallWorks();
    });

  it('a transfer coding the server does not apply (gzip, chunked): 501 (RFC 9112 §6.1), not the still-gzipped bytes passed on as the content', async () => {
    const m = mark('gzipte');
    const { gzipSync } = await import('node:zlib');
    const gz = gzipSync(Buffer.from(`plain text ${m}`));
    const chunk = Buffer.concat([Buffer.from(`${gz.length.toString(16)}\r\n`, 'latin1'), gz, Buffer.from('\r\n0\r\n\r\n', 'latin1')]);
    const r = await rawCall(req(`POST ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'Content-Type: text/plain', 'Transfer-Encoding: gzip, chunked'], chunk), { closeWaitMs: 1000 });
    expect(seenWith(m).map((s) => [s.body.length, header(s, 'content-encoding')])).toEqual([]);
    expect([400, 501]).toContain(r.finals[0]?.status);
    await normalCallWorks();
  });
});

describe('methods', () => {
  it('a lower-case method name (methods are case-sensitive, RFC 9110 §9.1) is not taken for GET, nor forwarded', async () => {
    const m = mark('lower');
    const r = await rawCall(req(`get ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`]), { closeWaitMs: 1000 });
    expectRefused(r, [400, 501], m);
    await normalCallWorks();
  });

  for (const method of ['PROPFIND', 'QUERY'])
    it(`${method} with a body reaches the service as sent`, async () => {
      const m = mark(method);
      const r = await rawCall(req(`${method} ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'Content-Type: application/xml', 'Content-Length: 8'], '<q>1</q>'));
      expect(r.finals[0]!.status, r.finals[0]?.body.toString()).toBe(200);
      const s = seenWith(m)[0]!;
      expect([s.method, s.body.toString()]).toEqual([method, '<q>1</q>']);
    });

  it('an unknown extension method: forwarded ("any method reaches the provider", docs/exchange.md) or 501 Not Implemented (RFC 9110 §9.1), not 400', async () => {
    const m = mark('frob');
    const r = await rawCall(req(`FROB ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`]), { closeWaitMs: 1000 });
    if (seenWith(m).length) expect(seenWith(m)[0]!.method).toBe('FROB');
    else expect(r.finals[0]?.status, r.raw.toString('latin1').slice(0, 400)).toBe(501);
    await normalCallWorks();
  });

  for (const method of ['GET', 'DELETE'])
    it(`${method} with a body: the body and its length reach the service`, async () => {
      const m = mark(`${method}body`);
      const r = await rawCall(req(`${method} ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'Content-Type: application/json', 'Content-Length: 9'], '{"a":"b"}'));
      expect(r.finals[0]!.status).toBe(200);
      const s = seenWith(m)[0]!;
      expect([s.method, s.body.toString(), header(s, 'content-length')[0]]).toEqual([method, '{"a":"b"}', '9']);
    });

  it('HEAD with a body, pipelined with a GET: the HEAD answer has no body, the GET after it is read as its own request', async () => {
    const [m1, m2] = [mark('headbody'), mark('afterhead')];
    const r = await rawCall(Buffer.concat([req(`HEAD ${SVC}/${m1} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'Content-Length: 5'], 'hello'), req(`GET ${SVC}/${m2} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`])]), { finals: 2, head: [0] });
    expect(r.finals.map((x) => x.status), r.raw.toString('latin1')).toEqual([200, 200]);
    expect(json(r.finals[1]!).url).toBe(`/${m2}`);
    const s = seenWith(m1)[0]!;
    expect(s.method).toBe('HEAD');
  });
});

// ---------------------------------------------------------------------------------------------------------

const ENV = 'http://schemas.xmlsoap.org/soap/envelope/';
const XRD = 'http://x-road.eu/xsd/xroad.xsd';
const IDN = 'http://x-road.eu/xsd/identifiers';
function soapReq(o: { id?: string; header?: string; body?: string; serviceType?: string; noVersion?: boolean } = {}): string {
  const id = o.id ?? randomUUID();
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="${ENV}" xmlns:xrd="${XRD}" xmlns:id="${IDN}"><SOAP-ENV:Header>` +
    (o.header ??
      `<xrd:client id:objectType="SUBSYSTEM"><id:xRoadInstance>VN</id:xRoadInstance><id:memberClass>GOV</id:memberClass><id:memberCode>000.00.00.G22</id:memberCode><id:subsystemCode>vanthu</id:subsystemCode></xrd:client>` +
        `<xrd:service id:objectType="${o.serviceType ?? 'SERVICE'}"><id:xRoadInstance>VN</id:xRoadInstance><id:memberClass>PROV</id:memberClass><id:memberCode>000.00.31.H29</id:memberCode><id:subsystemCode>vanthu</id:subsystemCode><id:serviceCode>probeSoap</id:serviceCode></xrd:service>` +
        `<xrd:id>${id}</xrd:id>${o.noVersion ? '' : '<xrd:protocolVersion>4.0</xrd:protocolVersion>'}`) +
    `</SOAP-ENV:Header><SOAP-ENV:Body>${o.body ?? `<ns1:probeSoap xmlns:ns1="urn:probe"><m>${id}</m></ns1:probeSoap>`}</SOAP-ENV:Body></SOAP-ENV:Envelope>`
  );
}
const soapPost = (body: Buffer | string, type = 'text/xml; charset=utf-8') => {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return req('POST / HTTP/1.1', [`Content-Type: ${type}`, `Content-Length: ${b.length}`, 'SOAPAction: ""'], b);
};
const faultcode = (r: Resp) => /<faultcode>([^<]*)<\/faultcode>/.exec(r.body.toString('utf8'))?.[1];

describe('SOAP (PR-MESS 4.0)', () => {
  it('an envelope with a UTF-8 byte-order mark: answered, the bytes reach the service as sent', async () => {
    const m = randomUUID();
    const b = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(soapReq({ id: m }), 'utf8')]);
    const r = await rawCall(soapPost(b));
    expect(r.finals[0]!.status, r.finals[0]?.body.toString()).toBe(200);
    expect(seenWith(m)[0]!.body.equals(b)).toBe(true);
  });

  it('a SOAP 1.2 envelope (application/soap+xml): a SOAP 1.1 fault Client.InvalidContentType, HTTP 500, as X-Road answers; nothing forwarded', async () => {
    const m = randomUUID();
    const env = soapReq({ id: m }).replace(ENV, 'http://www.w3.org/2003/05/soap-envelope');
    const r = await rawCall(soapPost(env, 'application/soap+xml; charset=utf-8'));
    expect(r.finals[0]!.status).toBe(500);
    expect(get(r.finals[0]!, 'content-type')).toMatch(/^text\/xml/);
    expect(faultcode(r.finals[0]!)).toBe('Client.InvalidContentType');
    expect(seenWith(m)).toEqual([]);
  });

  it('CDATA and comments in the header read as their text; the message goes through unchanged', async () => {
    const m = randomUUID();
    const header =
      `<!-- đầu --><xrd:client id:objectType="SUBSYSTEM"><id:xRoadInstance>VN</id:xRoadInstance><id:memberClass><![CDATA[GOV]]></id:memberClass><id:memberCode>000.00<!-- x -->.00.G22</id:memberCode><id:subsystemCode>vanthu</id:subsystemCode></xrd:client>` +
      `<xrd:service id:objectType="SERVICE"><id:xRoadInstance>VN</id:xRoadInstance><id:memberClass>PROV</id:memberClass><id:memberCode>000.00.31.H29</id:memberCode><id:subsystemCode>vanthu</id:subsystemCode><id:serviceCode>probeSoap</id:serviceCode></xrd:service>` +
      `<xrd:id><![CDATA[${m}]]></xrd:id><!-- c --><xrd:protocolVersion>4.0</xrd:protocolVersion>`;
    const env = soapReq({ id: m, header });
    const r = await rawCall(soapPost(env));
    expect(r.finals[0]!.status, r.finals[0]?.body.toString()).toBe(200);
    expect(seenWith(m)[0]!.body.toString('utf8')).toBe(env);
  });

  it('namespace prefixes other than xrd and id (and a default namespace) are the same names', async () => {
    const m = randomUUID();
    const env =
      `<?xml version="1.0"?><s:Envelope xmlns:s="${ENV}"><s:Header>` +
      `<client xmlns="${XRD}" xmlns:i="${IDN}" i:objectType="SUBSYSTEM"><i:xRoadInstance>VN</i:xRoadInstance><i:memberClass>GOV</i:memberClass><i:memberCode>000.00.00.G22</i:memberCode><i:subsystemCode>vanthu</i:subsystemCode></client>` +
      `<x:service xmlns:x="${XRD}" xmlns:y="${IDN}" y:objectType="SERVICE"><y:xRoadInstance>VN</y:xRoadInstance><y:memberClass>PROV</y:memberClass><y:memberCode>000.00.31.H29</y:memberCode><y:subsystemCode>vanthu</y:subsystemCode><y:serviceCode>probeSoap</y:serviceCode></x:service>` +
      `<x:id xmlns:x="${XRD}">${m}</x:id><x:protocolVersion xmlns:x="${XRD}">4.0</x:protocolVersion></s:Header><s:Body><probeSoap xmlns="urn:probe"/></s:Body></s:Envelope>`;
    const r = await rawCall(soapPost(env));
    expect(r.finals[0]!.status, r.finals[0]?.body.toString()).toBe(200);
    expect(seenWith(m)).toHaveLength(1);
  });

  it('an xrd:service whose objectType is not SERVICE: a Client fault, nothing forwarded', async () => {
    const m = randomUUID();
    const r = await rawCall(soapPost(soapReq({ id: m, serviceType: 'SUBSYSTEM' })));
    expect(r.finals[0]!.status).toBe(500);
    expect(faultcode(r.finals[0]!)).toMatch(/^Client\./);
    expect(seenWith(m)).toEqual([]);
  });

  it('a missing xrd:protocolVersion: Client.MissingHeaderField', async () => {
    const m = randomUUID();
    const r = await rawCall(soapPost(soapReq({ id: m, noVersion: true })));
    expect(r.finals[0]!.status).toBe(500);
    expect(faultcode(r.finals[0]!)).toBe('Client.MissingHeaderField');
    expect(seenWith(m)).toEqual([]);
  });

  it('a body with two child elements: Client.InvalidBody, as X-Road ("body must have exactly one child element"); nothing forwarded', async () => {
    const m = randomUUID();
    const r = await rawCall(soapPost(soapReq({ id: m, body: `<ns1:probeSoap xmlns:ns1="urn:probe"><m>${m}</m></ns1:probeSoap><ns1:other xmlns:ns1="urn:probe"/>` })));
    expect(r.finals[0]!.status, r.finals[0]?.body.toString()).toBe(500);
    expect(faultcode(r.finals[0]!)).toBe('Client.InvalidBody');
    expect(seenWith(m)).toEqual([]);
  });
});

describe('clients that go away', () => {
  it('a client closing its connection while waiting for the answer: the server goes on, the next call works', async () => {
    const m = mark('gone');
    await rawCall(req(`GET ${SVC}/slow/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`]), { destroyAfterMs: 500 });
    await new Promise((r) => setTimeout(r, 3500));
    expect(seenWith(m)).toHaveLength(1);
    await normalCallWorks();
  });

  it('a client closing its connection mid-way through a chunked body: nothing delivered, the next call works', async () => {
    const m = mark('gonebody');
    await rawCall([req(`POST ${SVC}/${m} HTTP/1.1`, [`X-Road-Client: ${CLIENT}`, 'Content-Type: text/plain', 'Transfer-Encoding: chunked'], '5\r\nhello\r\n')], { destroyAfterMs: 500 });
    await new Promise((r) => setTimeout(r, 1500));
    expect(seenWith(m)).toEqual([]);
    await normalCallWorks();
  });
});
