/**
 * Abuse-suite helpers: a real listening server on a loopback port, a client bound to another loopback
 * address (so that per-source limits see the attacker and the honest client apart), a normal issuance and
 * an OCSP request as the honest client.
 */
import { Agent, request } from 'node:http';
import { X509Certificate } from 'node:crypto';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { createToken } from '../../src/http/auth/store.js';
import { buildOcspRequest } from '../../src/pki/path/index.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import type { StreamedBody } from './corpus.js';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTP request from `localAddress` (default 127.0.0.1); never rejects on a status, only on a socket error. */
export function call(
  base: string,
  o: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string; localAddress?: string; timeoutMs?: number },
): Promise<Answer> {
  const u = new URL(o.path, base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: o.method ?? 'GET', headers: o.headers, localAddress: o.localAddress, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.setTimeout(o.timeoutMs ?? 30_000, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    if (o.body !== undefined) req.end(o.body);
    else req.end();
  });
}

export interface Rig {
  p: TestPlatform;
  server: RunningServer;
  url: string;
  ra: string;
  csrs: string[];
  /** a normal issuance by the honest client; returns the certificate's DER and the time it took */
  issue(): Promise<{ ms: number; der: Buffer; status: number }>;
  /** an OCSP request for the first issued certificate by the honest client */
  ocsp(): Promise<{ ms: number; status: number }>;
  close(): Promise<void>;
}

export async function startRig(overrides: { rateLimit?: Record<string, number> } = {}): Promise<Rig> {
  const p = await testPlatform('memory://');
  if (overrides.rateLimit) (p.config.http as { rateLimit?: unknown }).rateLimit = overrides.rateLimit;
  p.config.http.port = 0;
  const server = await startServer(p);
  const url = server.url;
  const ra = (await createToken(p.db, 'ra officer', ['ra-officer'])).token;
  const dir = tmp('truc-abuse-');
  const csrs = Array.from({ length: 4 }, (_, i) => opensslCsr(dir, `/C=VN/O=Bộ Nội vụ/CN=Người thử ${i}`).csr.toString());
  let n = 0;
  let first: { leaf: Buffer; issuer: Buffer } | undefined;
  const issue = async () => {
    const t0 = performance.now();
    const r = await call(url, {
      method: 'POST',
      path: '/api/v1/certificates',
      headers: { authorization: `Bearer ${ra}`, 'content-type': 'application/json' },
      body: JSON.stringify({ profile: 'official-signing', csr: csrs[n++ % csrs.length], requestId: `abuse-${Date.now()}-${n}` }),
    });
    const ms = performance.now() - t0;
    if (r.status !== 201) return { ms, der: Buffer.alloc(0), status: r.status };
    const j = JSON.parse(r.body.toString());
    const leaf = Buffer.from(new X509Certificate(j.certificate).raw);
    first ??= { leaf, issuer: Buffer.from(new X509Certificate(j.chain[0]).raw) };
    return { ms, der: leaf, status: r.status };
  };
  const ocsp = async () => {
    if (!first) await issue();
    const body = buildOcspRequest(first!.leaf, first!.issuer);
    const t0 = performance.now();
    const r = await call(url, { method: 'POST', path: '/ocsp', headers: { 'content-type': 'application/ocsp-request' }, body });
    return { ms: performance.now() - t0, status: r.status };
  };
  return {
    p,
    server,
    url,
    ra,
    csrs,
    issue,
    ocsp,
    async close() {
      await server.close();
      await p.close();
    },
  };
}

/** `total` requests made `concurrency` at a time by `make`, until done or `deadline` (ms since epoch). */
export async function flood(total: number, concurrency: number, make: (i: number) => Promise<Answer>, deadline = Date.now() + 20_000): Promise<Answer[]> {
  const out: Answer[] = [];
  let i = 0;
  const worker = async () => {
    while (i < total && Date.now() < deadline) {
      const k = i++;
      try {
        out.push(await make(k));
      } catch {
        out.push({ status: 0, headers: {}, body: Buffer.alloc(0) });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

export const isProblem = (a: Answer): boolean => {
  if (!String(a.headers['content-type'] ?? '').includes('application/problem+json')) return false;
  const j = JSON.parse(a.body.toString());
  return typeof j.status === 'number' && j.status === a.status && typeof j.title === 'string';
};

/**
 * The HTTP app with every part's routes — CA, OCSP, TSA, monitoring, signatures, vault, lab, the central
 * server, the security servers' management API (none running) and the document desk (not ready: 503) —
 * on a loopback port, and a token holding every role, so that a test can reach each route's body parser.
 */
export interface EveryRoute {
  p: TestPlatform;
  app: import('fastify').FastifyInstance;
  url: string;
  token: string;
  close(): Promise<void>;
}

export async function startEveryRoute(): Promise<EveryRoute> {
  const { buildApp } = await import('../../src/http/app.js');
  const { OcspResponder } = await import('../../src/pki/ocsp/index.js');
  const { TimeStampAuthority } = await import('../../src/pki/tsa/index.js');
  const { MonitorService, monitorConfig } = await import('../../src/monitor/index.js');
  const { openCentral } = await import('../../src/exchange/axis.js');
  const { ROLES } = await import('../../src/http/auth/roles.js');
  const { TrucError } = await import('../../src/errors.js');
  const p = await testPlatform('memory://');
  const ocsp = new OcspResponder(p.pki, p.issuer, p.config.ocsp, p.log);
  await ocsp.start();
  const tsa = new TimeStampAuthority(p.pki, p.issuer, p.config.tsa, p.log);
  await tsa.start();
  const monitor = await MonitorService.start({ db: p.db, bus: p.bus, log: p.log, config: monitorConfig(p.config.monitor), listen: false });
  const central = await openCentral(p, 'http://127.0.0.1:1');
  // a desk that is not there yet, as truc start answers before its demonstration axis is up
  const docDesk = new Proxy({} as import('../../src/exchange/edoc/desk.js').DocumentDesk, {
    get() {
      throw new TrucError('desk_unavailable', 'bàn văn thư chưa sẵn sàng (the document desk is not ready)');
    },
  });
  const app = await buildApp(p, { ocsp, tsa, monitor, central, securityServers: () => [], docDesk });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const token = (await createToken(p.db, 'every role', [...ROLES])).token;
  return {
    p,
    app,
    url,
    token,
    async close() {
      await app.close();
      await monitor.stop();
      await ocsp.stop();
      await p.close();
    },
  };
}

export interface Sent {
  status: number;
  type: string;
  body: string;
  /** bytes of the body handed to the socket when the answer came */
  sent: number;
}

/**
 * Sends `b` piece by piece and stops as soon as the server answers (a server that refuses early must not
 * be made to read 50 MB). Keep-alive, so that the server, which drops the rest of a refused body, does not
 * close the connection over unread bytes; the socket is closed here once the answer is read.
 */
export function sendStreamed(base: string, method: string, path: string, token: string, b: StreamedBody, o: { type?: string; localAddress?: string; chunked?: boolean; lockstep?: boolean } = {}): Promise<Sent> {
  const u = new URL(path, base);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return new Promise((resolve, reject) => {
    let answered = false;
    let sent = 0;
    const req = request({
      host: u.hostname,
      port: u.port,
      path: u.pathname,
      method,
      agent,
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      headers: { authorization: `Bearer ${token}`, 'content-type': o.type ?? 'application/json', ...(o.chunked ? {} : { 'content-length': String(b.length) }) },
    });
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${path} (${b.name}): no answer within 120 s`)), 120_000);
    req.on('error', (e) => {
      if (!answered) {
        clearTimeout(timer);
        agent.destroy();
        reject(e);
      }
    });
    req.on('response', (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        clearTimeout(timer);
        req.destroy();
        agent.destroy();
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: text, sent });
      });
    });
    void (async () => {
      for (const piece of b.pieces()) {
        if (answered || req.destroyed) return;
        sent += piece.length;
        if (!req.write(piece))
          await new Promise<void>((r) => {
            const go = () => {
              req.off('drain', go).off('close', go);
              r();
            };
            req.on('drain', go).on('close', go);
          });
        // lockstep: each piece given time to be read before the next, so that a server that answered and
        // closed finds nothing of ours unread (unread data makes its close a reset, which can drop the answer)
        if (o.lockstep) await new Promise((r) => setTimeout(r, 1));
      }
      if (!answered && !req.destroyed) req.end();
    })();
  });
}
