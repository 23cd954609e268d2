/**
 * Slow clients and oversized bodies against a real server: 150 connections dribbling headers (slowloris)
 * while the honest client issues and asks OCSP; and on every route that takes a body, a declared 200 MB
 * upload from a stranger, answered at once — 401 before the body on a guarded route, 413 naming the
 * route's own limit on a public one — always as a problem document (OCSP and TSP: their protocol's own
 * error response), never by reading the body.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { connect, type Socket } from 'node:net';
import { call, isProblem, startRig, type Rig } from './helpers.js';

const BOUND_MS = 15_000;

/** Sends the head of a request declaring `length` bytes and a first 64 KiB, then reads the answer. */
function declaredUpload(base: string, method: string, path: string, length: number, type = 'application/json'): Promise<{ status: number; type: string; body: string; ms: number }> {
  const u = new URL(base);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const s = connect({ host: u.hostname, port: Number(u.port), localAddress: '127.0.0.4' });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`${method} ${path}: no answer within ${BOUND_MS} ms`));
    }, BOUND_MS);
    const done = (r: { status: number; type: string; body: string }) => {
      clearTimeout(timer);
      s.destroy();
      resolve({ ...r, ms: performance.now() - t0 });
    };
    s.on('error', () => {
      /* the server may close while we still write: what it answered is in buf */
    });
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const len = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? NaN);
      const body = buf.subarray(end + 4);
      if (Number.isFinite(len) && body.length < len) return;
      done({ status: Number(head.split(' ')[1]), type: /content-type:\s*([^\r\n]+)/i.exec(head)?.[1] ?? '', body: body.toString('utf8') });
    });
    s.on('close', () => {
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = buf.subarray(0, end).toString('latin1');
        done({ status: Number(head.split(' ')[1]), type: /content-type:\s*([^\r\n]+)/i.exec(head)?.[1] ?? '', body: buf.subarray(end + 4).toString('utf8') });
      }
    });
    s.write(`${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`);
    s.write(Buffer.alloc(64 * 1024, 0x20));
  });
}

describe('abuse: slow clients and oversized bodies', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig();
    expect((await rig.issue()).status).toBe(201);
  }, 60_000);
  afterAll(async () => rig?.close());

  it('keeps issuance and OCSP answered while 150 connections dribble their headers', async () => {
    const u = new URL(rig.url);
    const socks: Socket[] = [];
    for (let i = 0; i < 150; i++) {
      const s = connect({ host: u.hostname, port: Number(u.port), localAddress: '127.0.0.5' });
      s.on('error', () => {});
      s.write('POST /api/v1/certificates HTTP/1.1\r\nHost: x\r\n');
      socks.push(s);
    }
    const drip = setInterval(() => {
      for (const s of socks) if (!s.destroyed) s.write(`X-${socks.indexOf(s)}: ${Date.now()}\r\n`);
    }, 500);
    try {
      for (let k = 0; k < 4; k++) {
        const a = await rig.issue();
        expect(a.status).toBe(201);
        expect(a.ms).toBeLessThan(BOUND_MS);
        const o = await rig.ocsp();
        expect(o.status).toBe(200);
        expect(o.ms).toBeLessThan(BOUND_MS);
        await new Promise((r) => setTimeout(r, 300));
      }
    } finally {
      clearInterval(drip);
      for (const s of socks) s.destroy();
    }
  }, 60_000);

  it('answers a declared 200 MB upload on every route that takes a body without reading it', async () => {
    const spec = JSON.parse((await call(rig.url, { path: '/openapi.json' })).body.toString()) as { paths: Record<string, Record<string, unknown>> };
    const routes: [string, string][] = [];
    for (const [path, ops] of Object.entries(spec.paths))
      for (const m of Object.keys(ops)) if (['post', 'put', 'patch'].includes(m)) routes.push([m.toUpperCase(), path.replace(/\{[^}]+\}/g, 'x')]);
    const types: Record<string, string> = { '/ocsp': 'application/ocsp-request', '/tsa': 'application/timestamp-query' };
    for (const path of Object.keys(types)) if (!routes.some(([m, p]) => m === 'POST' && p === path)) routes.push(['POST', path]);
    expect(routes.length).toBeGreaterThan(20);
    for (const [method, path] of routes) {
      const r = await declaredUpload(rig.url, method, path, 200_000_000, types[path]);
      if (types[path] && r.status === 200) {
        // OCSP and TSP answer every error in their own protocol (RFC 6960 A.1, RFC 3161): malformedRequest
        expect(r.type, path).toMatch(/application\/(ocsp-response|timestamp-reply)/);
        continue;
      }
      expect([401, 404, 413, 415], `${method} ${path}: ${r.status}`).toContain(r.status);
      expect(r.type, `${method} ${path}`).toContain('application/problem+json');
      const p = JSON.parse(r.body);
      expect(p.status).toBe(r.status);
      if (r.status === 413) expect(p.max, `${method} ${path}`).toBeLessThan(200_000_000);
      // the honest client is answered between strangers' uploads
      const o = await rig.ocsp();
      expect(o.status).toBe(200);
    }
  }, 120_000);

  it('a stranger’s body is never parsed: a broken JSON body on a guarded route is 401, not 400', async () => {
    const r = await call(rig.url, { method: 'POST', path: '/api/v1/certificates', headers: { 'content-type': 'application/json' }, body: '{"profile":', localAddress: '127.0.0.6' });
    expect(r.status).toBe(401);
    expect(isProblem(r)).toBe(true);
  });
});
