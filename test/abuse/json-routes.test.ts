/**
 * Hostile JSON on every route of the API that takes a body, enumerated from the router (not a chosen few):
 * arrays and objects 100,000 deep, 50 MB of tiny values, a 50 MB string, 150,000 members in one object, a
 * member named twice, `__proto__` (plain and escaped) and `constructor.prototype`. Each is refused with a
 * problem document — 400 or 413, its detail in Vietnamese with English beside it — while a health request
 * made at the same time is answered, and the process's memory stays bounded. The event intake, which splits
 * batches into events as they arrive, may instead take the body and refuse every event in it by index; its
 * own cases follow: events naming `__proto__` refused by index, and bodies growing past 32 MiB without a
 * declared length refused at the bound (the readers leave a refused body flowing so that the answer is
 * written).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { routeTable } from '../../src/http/app.js';
import { call, sendStreamed, startEveryRoute, type EveryRoute } from './helpers.js';
import { hostileJson } from './corpus.js';

const ATTACKER = '127.0.0.7';
const MB = 1024 * 1024;
const HOSTILE = hostileJson();

/** Vietnamese (a letter only Vietnamese writes) with English beside it in parentheses. */
const bilingual = (s: string) => /[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]/i.test(s) && /\([A-Za-z]/.test(s);

const PROTOCOL: Record<string, string> = { '/ocsp': 'application/ocsp-response', '/tsa': 'application/timestamp-reply' };

describe('abuse: hostile JSON on every route that takes a body', () => {
  let rig: EveryRoute;
  let routes: { method: string; path: string; bodyLimit: number }[];
  let rssBase = 0;
  let rssPeak = 0;
  let sampler: NodeJS.Timeout;

  beforeAll(async () => {
    rig = await startEveryRoute();
    routes = routeTable(rig.app)
      .filter((r) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method))
      .map((r) => ({ method: r.method, path: r.url.replace(/:[^/]+/g, 'x').replace(/\*/g, 'x'), bodyLimit: r.bodyLimit }));
    rssBase = process.memoryUsage().rss;
    rssPeak = rssBase;
    sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
  }, 120_000);
  afterAll(async () => {
    clearInterval(sampler);
    await rig?.close();
  });

  it('finds the routes in the router: every part that takes a body is there', () => {
    const paths = new Set(routes.map((r) => `${r.method} ${r.path}`));
    for (const want of [
      'POST /api/v1/certificates',
      'POST /api/v1/certificates/validate',
      'POST /ocsp',
      'POST /tsa',
      'POST /api/v1/events',
      'POST /api/v1/hunt',
      'POST /api/v1/validate',
      'POST /api/v1/sign',
      'POST /api/v1/vault/encrypt',
      'POST /api/v1/lab/runs',
      'POST /central/register',
      'POST /api/v1/doc/uploads',
    ])
      expect(paths, want).toContain(want);
    expect(routes.length).toBeGreaterThan(60);
  });

  it('refuses each hostile body on each route with a bilingual problem document, a health request answered meanwhile', async () => {
    const seen: string[] = [];
    // every route and body is tried, and what went wrong said for all of them at the end
    const wrong: string[] = [];
    const check = (ok: boolean, what: string) => {
      if (!ok) wrong.push(what);
      return ok;
    };
    for (const b of HOSTILE)
      for (const r of routes) {
        const what = `${r.method} ${r.path} ← ${b.name}`;
        const [a, health] = await Promise.all([sendStreamed(rig.url, r.method, r.path, rig.token, b, { localAddress: ATTACKER }), call(rig.url, { path: '/healthz' })]);
        check(health.status === 200, `health beside ${what}: ${health.status}`);
        if (process.env.TRUC_ABUSE_TRACE) console.log(`${Math.round(rssPeak / MB)} MB peak\t${a.status}\t${what}`);
        seen.push(`${a.status}`);
        if (PROTOCOL[r.path]) {
          // OCSP and TSP answer every error in their own protocol (RFC 6960 A.1, RFC 3161 2.4.2)
          check(a.status === 200 && a.type.includes(PROTOCOL[r.path]!), `${what}: ${a.status} ${a.type}`);
          continue;
        }
        if (r.path === '/api/v1/events' && a.status === 202) {
          // the intake took the batch apart: nothing in it was stored
          check(JSON.parse(a.body).accepted === 0, `${what}: ${a.body.slice(0, 200)}`);
          continue;
        }
        if (!check([400, 413].includes(a.status) && a.type.includes('application/problem+json'), `${what}: ${a.status} ${a.body.slice(0, 200)}`)) continue;
        const problem = JSON.parse(a.body) as { status: number; detail: string; max?: number };
        check(problem.status === a.status, `${what}: problem status ${problem.status}`);
        check(bilingual(problem.detail), `${what}: not in both languages: ${problem.detail.slice(0, 200)}`);
        // refused where it broke a bound: a body of megabytes over the route's limit is answered before it was all sent
        if (b.length > Math.max(r.bodyLimit, 8 * MB)) check(a.sent < b.length, `${what}: read whole`);
      }
    expect(wrong).toEqual([]);
    console.log(`hostile JSON: ${routes.length} routes × ${HOSTILE.length} bodies answered; RSS grew ${Math.round((rssPeak - rssBase) / MB)} MB at most`);
    expect(seen.length).toBeGreaterThan(HOSTILE.length * 50);
    // a loose bound: 50 MB bodies, and the test's own buffers, in one process
    expect(rssPeak - rssBase, `RSS grew ${Math.round((rssPeak - rssBase) / MB)} MB`).toBeLessThan(1024 * MB);
  }, 600_000);

  it('event intake: an event naming __proto__ (plain or escaped) is refused by its index, its neighbours stored, nothing polluted', async () => {
    const at = new Date().toISOString();
    const good = (n: number) => `{"@timestamp":"${at}","event":{"action":"probe"},"truc":{"n":${n}}}`;
    const bodies: [string, string][] = [
      [`[${good(1)},{"@timestamp":"${at}","__proto__":{"admin":true}},${good(2)}]`, 'application/json'],
      [`{"events":[${good(1)},{"@timestamp":"${at}","user":{"\\u005f_proto__":{"admin":true}}},${good(2)}]}`, 'application/json'],
      [`${good(1)}\n{"@timestamp":"${at}","__proto__":{"admin":true}}\n${good(2)}\n`, 'application/x-ndjson'],
      // "events" spelled with an escape: read whole (within 64 KiB) and each event measured again
      [`{"\\u0065vents":[${good(1)},{"@timestamp":"${at}","__proto__":{"admin":true}},${good(2)}]}`, 'application/json'],
    ];
    for (const [body, type] of bodies) {
      const r = await call(rig.url, { method: 'POST', path: '/api/v1/events', headers: { authorization: `Bearer ${rig.token}`, 'content-type': type }, body });
      expect(r.status, body).toBe(202);
      expect(JSON.parse(r.body.toString()), body).toMatchObject({ accepted: 2, rejected: [{ index: 1, reason: 'event carries a "__proto__" member' }] });
    }
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('a body refused midway is left flowing, not destroyed: the answer is written before the connection closes', async () => {
    // a request's body destroyed by the reader took its socket with it, and the 413 was never written
    const { readTextInSlices } = await import('../../src/monitor/intake/text-stream.js');
    const { readJsonBody } = await import('../../src/http/json-body.js');
    const { PassThrough } = await import('node:stream');
    for (const read of [
      (b: InstanceType<typeof PassThrough>) => readTextInSlices(b, () => {}, { max: 1000, what: 'JSON' }),
      (b: InstanceType<typeof PassThrough>) => readJsonBody(b, { max: 1000 }),
      (b: InstanceType<typeof PassThrough>) => readJsonBody(b, { max: 1_000_000 }),
    ]) {
      const body = Object.assign(new PassThrough(), { headers: {} });
      const refused = read(body);
      body.write('[' + '['.repeat(100) + '0,'.repeat(1000));
      await expect(refused).rejects.toMatchObject({ code: expect.stringMatching(/too_large|bad_request/) });
      expect(body.destroyed).toBe(false);
      expect(body.readableFlowing).toBe(true);
      // the rest is taken and dropped
      body.end('x'.repeat(100_000));
      await new Promise((r) => body.once('end', r));
    }
  });

  it('event intake: a body growing past 32 MiB without a declared length is refused at the bound', async () => {
    const grow = (name: string, head: string, fill: string, tail: string) => {
      const piece = Buffer.from(fill.repeat(Math.floor(MB / 4 / fill.length)));
      return { name, length: 64 * MB, *pieces() { yield Buffer.from(head); for (let i = 0; i < 256; i++) yield piece; yield Buffer.from(tail); } };
    };
    for (const [b, type, path] of [
      [grow('NDJSON', '{"message":"', 'x', '"}\n'), 'application/x-ndjson', '/api/v1/events'],
      [grow('JSON', '[{"message":"', 'x', '"}]'), 'application/json', '/api/v1/events'],
      [grow('XML', '<Events><Event><EventData><Data Name="x">', 'x', '</Data></EventData></Event></Events>'), 'application/xml', '/api/v1/events/windows'],
    ] as const) {
      const a = await sendStreamed(rig.url, 'POST', path, rig.token, b, { type, chunked: true, lockstep: true, localAddress: ATTACKER }).catch((e: Error) => ({ status: 0, body: e.message, sent: 0, type: '' }));
      // The answer is written, then Fastify closes the connection (the client may send more); bytes of ours
      // still unread at the server make that close a reset, which can drop the answer before the client reads
      // it — HTTP/1.1's early answer. Either way nothing past the bound was kept.
      expect([413, 0], `${b.name}: ${a.status} ${a.body.slice(0, 200)}`).toContain(a.status);
      if (a.status === 413) {
        expect(JSON.parse(a.body).detail, b.name).toMatch(/33554432/);
        expect(a.sent, b.name).toBeLessThan(48 * MB);
      }
    }
    expect((await call(rig.url, { path: '/healthz' })).status).toBe(200);
  });
});
