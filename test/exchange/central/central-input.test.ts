/**
 * Bad input to the central server's registration service, its configuration download routes and
 * the security server's configuration client: each refused with a specific error, nothing kept from it.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { buildApp } from '../../../src/http/app.js';
import { CentralServer } from '../../../src/exchange/central/index.js';
import { ConfClient, canonicalBytes, sha256Hex, sha512Hex, type ConfAnchor, type Fetch } from '../../../src/exchange/conf/index.js';
import { tmp } from '../../helpers/openssl.js';
import { world, INSTANCE, type World, type Agency } from './fixture.js';

async function refusal(p: Promise<unknown>): Promise<{ code: string; reason?: unknown; message?: string }> {
  try {
    await p;
  } catch (e: any) {
    return { code: e.code, reason: e.detail?.reason, message: e.message };
  }
  throw new Error('expected a refusal');
}

describe('registration requests', () => {
  let w: World;
  let app: FastifyInstance;
  let vpcp: Agency;
  let bnv: Agency;

  const pendingCount = async () => (await w.central.registration.list('pending', 1000)).length;

  /** a request whose payload is exactly `payload` (canonicalised), signed by `a`'s signing key */
  async function signedPayload(a: Agency, payload: Record<string, unknown>, extra: Record<string, unknown> = {}) {
    const bytes = canonicalBytes(payload);
    const s = await w.signer(a.signing);
    return {
      payload: bytes.toString('base64'),
      signingCert: s.certificate.toString('base64'),
      signingOcsp: s.ocsp.toString('base64'),
      signatureAlgorithm: s.scheme,
      signature: (await s.sign(bytes)).toString('base64'),
      ...extra,
    };
  }
  const base = (a: Agency, type: string, serverCode = 'ss1') => ({
    id: randomUUID(),
    type,
    instance: INSTANCE,
    server: { memberClass: a.memberClass, memberCode: a.memberCode, serverCode },
    createdAt: new Date().toISOString(),
  });

  /** the submission is refused with this code (and reason), and nothing new waits pending */
  async function expectRefused(body: unknown, code: string, reason?: string) {
    const before = await pendingCount();
    const r = await refusal(w.central.registration.submit(body));
    expect(r.code, r.message).toBe(code);
    if (reason) expect(r.reason, r.message).toBe(reason);
    expect(await pendingCount()).toBe(before);
  }

  beforeAll(async () => {
    w = await world('memory://');
    app = await buildApp(w.p, { central: w.central });
    vpcp = await w.agency('GOV', '000.00.00.G22', 'Văn phòng Chính phủ');
    bnv = await w.agency('GOV', '000.00.00.G09', 'Bộ Nội vụ');
    // both servers registered
    for (const a of [vpcp, bnv]) {
      const r = await w.central.registration.submit(await w.request(a, { type: 'auth-cert' }));
      await w.central.registration.approve(r.id, 'test');
    }
  });
  afterAll(async () => {
    await app?.close();
    await w?.close();
  });

  // ---- payload fields that do not belong to the request's type

  it('refuses a maintenance request that also carries an (unchecked) address', async () => {
    await expectRefused(await signedPayload(vpcp, { ...base(vpcp, 'maintenance'), maintenance: true, address: 'evil.example:1\u0000<script>' }), 'registration_invalid', 'malformed');
  });

  it('refuses an address-change request that also carries maintenance: true', async () => {
    await expectRefused(await signedPayload(vpcp, { ...base(vpcp, 'address-change'), address: 'ss1b.vpcp.example:5500', maintenance: true }), 'registration_invalid', 'malformed');
  });

  it('refuses a client request that also carries an authCertHash, and an auth-cert-deletion that carries a client', async () => {
    await expectRefused(
      await signedPayload(vpcp, { ...base(vpcp, 'client'), client: { memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: 'abc' }, authCertHash: 'ab'.repeat(32) }),
      'registration_invalid',
      'malformed',
    );
    await expectRefused(
      await signedPayload(vpcp, { ...base(vpcp, 'auth-cert-deletion'), authCertHash: sha256Hex(vpcp.auth.certificate), client: { memberClass: 'GOV', memberCode: '000.00.00.G09', subsystemCode: 'x' } }),
      'registration_invalid',
      'malformed',
    );
  });

  it('refuses envelope fields of an auth-cert request (authCert, proofOfPossession) on a maintenance request', async () => {
    const req = await w.request(vpcp, { type: 'maintenance', maintenance: false });
    const auth = await w.request(vpcp, { type: 'auth-cert' });
    await expectRefused({ ...req, authCert: auth.authCert, authOcsp: auth.authOcsp, popAlgorithm: auth.popAlgorithm, proofOfPossession: auth.proofOfPossession }, 'registration_invalid', 'malformed');
  });

  it('refuses a createdAt that is not an ISO 8601 UTC time', async () => {
    await expectRefused(await signedPayload(vpcp, { ...base(vpcp, 'maintenance'), maintenance: false, createdAt: new Date().toUTCString() }), 'registration_invalid', 'malformed');
  });

  // ---- signatures and owners

  it('refuses a signature algorithm that does not fit the key (RSA scheme over an EC signature)', async () => {
    const req = await w.request(vpcp, { type: 'maintenance', maintenance: false });
    await expectRefused({ ...req, signatureAlgorithm: 'rsa-pkcs1-sha256' }, 'registration_invalid', 'bad_signature');
    await expectRefused({ ...req, signatureAlgorithm: 'ed25519' }, 'registration_invalid', 'bad_signature');
  });

  it('refuses a request for another member’s server (signed with the requester’s own key)', async () => {
    const body = await signedPayload(vpcp, { ...base(bnv, 'address-change'), address: 'hijack.example:5500' });
    await expectRefused(body, 'registration_invalid', 'wrong_owner');
  });

  it('refuses a replayed request', async () => {
    const req = await w.request(vpcp, { type: 'maintenance', maintenance: false });
    expect((await w.central.registration.submit(req)).status).toBe('pending');
    await expectRefused(req, 'registration_invalid', 'replay');
  });

  it('refuses a request with a stale createdAt and one from the future', async () => {
    await expectRefused(await w.request(vpcp, { type: 'maintenance', maintenance: false, now: new Date(Date.now() - 3600_000) }), 'registration_invalid', 'bad_time');
    await expectRefused(await w.request(vpcp, { type: 'maintenance', maintenance: false, now: new Date(Date.now() + 3600_000) }), 'registration_invalid', 'bad_time');
  });

  it('refuses an authentication certificate used as its own signing certificate (wrong purpose/owner)', async () => {
    const req = await w.request({ ...vpcp, signing: vpcp.auth }, { type: 'maintenance', maintenance: false });
    const r = await refusal(w.central.registration.submit(req));
    expect(['registration_invalid', 'cert_invalid']).toContain(r.code);
  });

  it('refuses the OCSP response of the signing certificate presented as the authentication certificate’s', async () => {
    const other = await w.agency('GOV', '000.00.00.G05', 'Bộ Công an');
    const req = await w.request(other, { type: 'auth-cert' });
    await expectRefused({ ...req, authOcsp: req.signingOcsp }, 'ocsp_stale');
  });

  it('refuses certificates once expired (central clock ten years ahead)', async () => {
    const ahead = await CentralServer.open({ db: w.p.db, keys: w.p.keys, bus: w.p.bus, instance: INSTANCE, clock: () => new Date(Date.now() + 10 * 365 * 86400_000) });
    try {
      const req = await w.request(vpcp, { type: 'maintenance', maintenance: false, now: new Date(Date.now() + 10 * 365 * 86400_000) });
      const r = await refusal(ahead.registration.submit(req));
      expect(['cert_invalid', 'ocsp_stale']).toContain(r.code);
    } finally {
      await ahead.stop();
    }
  });

  it('refuses a truncated signature and one that is too long', async () => {
    const req = await w.request(vpcp, { type: 'maintenance', maintenance: false });
    await expectRefused({ ...req, signature: req.signature.slice(0, 20) }, 'registration_invalid', 'bad_signature');
    await expectRefused({ ...req, signature: 'A'.repeat(4000) }, 'registration_invalid', 'malformed');
  });

  it('refuses base64 that is not canonical padding noise (payload with "=" inside)', async () => {
    const req = await w.request(vpcp, { type: 'maintenance', maintenance: false });
    await expectRefused({ ...req, payload: req.payload + '=' }, 'registration_invalid', 'malformed');
  });

  // ---- over HTTP

  it('answers a wrong content type, truncated JSON, an empty body and a non-object with 4xx problem documents', async () => {
    const req = await w.request(vpcp, { type: 'maintenance', maintenance: false });
    const cases: { headers: Record<string, string>; payload: string }[] = [
      { headers: { 'content-type': 'text/plain' }, payload: JSON.stringify(req) },
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'payload=abc' },
      { headers: { 'content-type': 'application/json' }, payload: JSON.stringify(req).slice(0, 100) },
      { headers: { 'content-type': 'application/json' }, payload: '' },
      { headers: { 'content-type': 'application/json' }, payload: '"a string"' },
      { headers: { 'content-type': 'application/json' }, payload: 'null' },
    ];
    const before = await pendingCount();
    for (const c of cases) {
      const r = await app.inject({ method: 'POST', url: '/central/register', ...c });
      expect(r.statusCode, `${c.headers['content-type']} ${c.payload.slice(0, 30)}: ${r.body}`).toBeGreaterThanOrEqual(400);
      expect(r.statusCode, r.body).toBeLessThan(500);
      expect(r.headers['content-type']).toContain('application/problem+json');
    }
    expect(await pendingCount()).toBe(before);
  });

  it('answers a JSON body with prototype-polluting keys with a problem document', async () => {
    const req = await w.request(vpcp, { type: 'maintenance', maintenance: false });
    const r = await app.inject({ method: 'POST', url: '/central/register', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(req).replace(/^\{/, '{"__proto__":{"x":1},') });
    expect(r.statusCode, r.body).toBeGreaterThanOrEqual(400);
    expect(r.statusCode, r.body).toBeLessThan(500);
  });
});

describe('configuration download routes', () => {
  let w: World;
  let app: FastifyInstance;
  let partPath: string;

  beforeAll(async () => {
    w = await world('memory://');
    app = await buildApp(w.p, { central: w.central });
    await w.central.generator.generate();
    const signed = (await app.inject({ method: 'GET', url: `/conf/${INSTANCE}/directory` })).json();
    partPath = JSON.parse(Buffer.from(signed.directory, 'base64').toString()).parts[0].path;
  });
  afterAll(async () => {
    await app?.close();
    await w?.close();
  });

  it('answers odd part paths with 4xx, never 5xx nor another resource', async () => {
    const hash = partPath.slice('parts/'.length);
    const odd = [
      `/conf/${INSTANCE}/parts/..%2Fdirectory`,
      `/conf/${INSTANCE}/parts/%2e%2e%2fdirectory`,
      `/conf/${INSTANCE}/parts/${hash}/`,
      `/conf/${INSTANCE}/parts/${hash}%00`,
      `/conf/${INSTANCE}/parts/${hash.toUpperCase()}`,
      `/conf/${INSTANCE}/parts/${hash}%2F..`,
      `/conf/${INSTANCE}/parts/${'a'.repeat(100_000)}`,
      `/conf/${INSTANCE}/parts/%ZZ`,
      `/conf/${INSTANCE}/parts/%0d%0aSet-Cookie:%20x=1`,
      `/conf/..%2F${INSTANCE}/directory`,
      `/conf/${'V'.repeat(5000)}/directory`,
    ];
    for (const url of odd) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.statusCode, `${url.slice(0, 80)}: ${r.body.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
      expect(r.statusCode, `${url.slice(0, 80)}: ${r.body.slice(0, 200)}`).toBeLessThan(500);
      expect(r.headers['set-cookie']).toBeUndefined();
    }
    const ok = await app.inject({ method: 'GET', url: `/conf/${INSTANCE}/${partPath}` });
    expect(ok.statusCode).toBe(200);
    expect(sha512Hex(ok.rawPayload)).toBe(hash);
  });

  it('answers a conditional request for an immutable part with 304 or the same bytes, never an error', async () => {
    const url = `/conf/${INSTANCE}/${partPath}`;
    const first = await app.inject({ method: 'GET', url });
    const r = await app.inject({ method: 'GET', url, headers: { 'if-none-match': first.headers.etag as string } });
    expect([200, 304]).toContain(r.statusCode);
    if (r.statusCode === 200) expect(r.rawPayload.equals(first.rawPayload)).toBe(true);
    const d = await app.inject({ method: 'GET', url: `/conf/${INSTANCE}/directory`, headers: { 'if-modified-since': new Date(Date.now() + 86400_000).toUTCString() } });
    expect([200, 304]).toContain(d.statusCode);
  });

  it('does not answer write methods on the public download routes', async () => {
    for (const method of ['POST', 'PUT', 'DELETE'] as const) {
      const r = await app.inject({ method, url: `/conf/${INSTANCE}/directory`, payload: '{}', headers: { 'content-type': 'application/json' } });
      expect(r.statusCode).toBeGreaterThanOrEqual(400);
      expect(r.statusCode).toBeLessThan(500);
    }
  });
});

describe('configuration client given bad sources', () => {
  let w: World;
  let anchor: ConfAnchor;
  const URL_BASE = 'http://conf.invalid/conf/VN';
  type Dir = { instance: string; version: number; generatedAt: string; expiresAt: string; parts: { name: string; hash: string; path: string }[] };
  let real: { dir: Dir; parts: Map<string, Buffer> };

  async function sign(dir: Dir) {
    const signer = (w.central as any).signer;
    const bytes = canonicalBytes(dir);
    return { directory: bytes.toString('base64'), signatureAlgorithm: signer.scheme, signature: (await signer.sign(bytes)).toString('base64'), certificateHash: sha256Hex(signer.certificate) };
  }

  /** a fetch serving `dirEnv` and parts from the map; `override(path)` may answer instead */
  function served(state: { env: unknown; parts: Map<string, Buffer> }, override?: (path: string) => Response | Promise<Response> | undefined): Fetch {
    return async (u) => {
      const path = new URL(u).pathname;
      const o = await override?.(path);
      if (o) return o;
      if (path.endsWith('/directory')) return new Response(JSON.stringify(state.env), { status: 200 });
      const hash = path.split('/').pop()!;
      const b = state.parts.get(hash);
      return b ? new Response(new Uint8Array(b), { status: 200 }) : new Response('no', { status: 404 });
    };
  }

  /** a client holding the real configuration (version V) */
  async function holding(fetchOverride: { current?: Fetch }, opts: Record<string, unknown> = {}) {
    const state = { env: await sign(real.dir), parts: real.parts };
    const f: Fetch = (u, init) => (fetchOverride.current ?? served(state))(u, init);
    const c = new ConfClient({ anchor, dir: tmp('truc-probe-conf-'), fetch: f, ...opts });
    expect(await c.refresh()).toBe(true);
    return c;
  }

  beforeAll(async () => {
    w = await world('memory://', { registrationUrl: 'https://127.0.0.1:1/central/register', centralTlsCertHash: 'cd'.repeat(32) });
    await w.central.registry.addMember({ memberClass: 'GOV', memberCode: '000.00.00.G22', name: 'Văn phòng Chính phủ' }, 'test');
    await w.central.generator.generate();
    anchor = await w.central.exportAnchor('http://conf.invalid');
    expect(anchor.sources[0].url).toBe(URL_BASE);
    const env = await w.central.generator.signedDirectory();
    const dir = JSON.parse(Buffer.from(env.directory, 'base64').toString()) as Dir;
    const parts = new Map<string, Buffer>();
    for (const p of dir.parts) parts.set(p.hash, (await w.central.generator.part(p.hash))!);
    expect(dir.parts.map((p) => p.name).sort()).toEqual(['private-params', 'shared-params']);
    real = { dir, parts };
  });
  afterAll(async () => {
    await w?.close();
  });

  it('refuses the same version offered without its private-params part (other contents than held)', async () => {
    const o: { current?: Fetch } = {};
    const c = await holding(o);
    const dropped = { ...real.dir, parts: real.dir.parts.filter((p) => p.name === 'shared-params') };
    o.current = served({ env: await sign(dropped), parts: real.parts });
    expect((await refusal(c.refresh())).code).toBe('conf_invalid');
    expect(c.privateParameters()).toBeDefined();
  });

  it('refuses the same version offered with another generatedAt (other contents than held)', async () => {
    const o: { current?: Fetch } = {};
    const c = await holding(o);
    const other = { ...real.dir, generatedAt: new Date(Date.parse(real.dir.generatedAt) - 1000).toISOString() };
    o.current = served({ env: await sign(other), parts: real.parts });
    expect((await refusal(c.refresh())).code).toBe('conf_invalid');
  });

  it('refuses a directory whose expiry precedes its generation time', async () => {
    const c = new ConfClient({
      anchor,
      dir: tmp('truc-probe-conf-'),
      fetch: served({ env: await sign({ ...real.dir, generatedAt: new Date(Date.now() + 365 * 86400_000).toISOString(), expiresAt: new Date(Date.now() + 3600_000).toISOString() }), parts: real.parts }),
    });
    expect((await refusal(c.refresh())).code).toBe('conf_invalid');
    expect(c.current()).toBeUndefined();
  });

  it('keeps what it has and says why: bad signature, older version, expired, hash mismatch, missing part', async () => {
    const o: { current?: Fetch } = {};
    const c = await holding(o);
    const v = c.current()!.version;
    const next = { ...real.dir, version: real.dir.version + 1, generatedAt: new Date().toISOString() };
    const cases: [string, Fetch][] = [];
    const badSig = { ...(await sign(next)) };
    badSig.signature = (await sign({ ...next, version: next.version + 5 })).signature;
    cases.push(['conf_invalid', served({ env: badSig, parts: real.parts })]);
    cases.push(['conf_outdated', served({ env: await sign({ ...real.dir, version: real.dir.version - 1 < 1 ? 1 : real.dir.version - 1 }), parts: real.parts })]);
    cases.push(['conf_expired', served({ env: await sign({ ...next, generatedAt: new Date(Date.now() - 700_000).toISOString(), expiresAt: new Date(Date.now() - 1000).toISOString() }), parts: real.parts })]);
    const fakeShared = Buffer.from('{"instance":"VN"}');
    const mism = { ...next, parts: next.parts.map((p) => (p.name === 'shared-params' ? { ...p, hash: sha512Hex(Buffer.from('other')), path: `parts/${sha512Hex(Buffer.from('other'))}` } : p)) };
    cases.push(['conf_invalid', served({ env: await sign(mism), parts: new Map([...real.parts, [sha512Hex(Buffer.from('other')), fakeShared]]) })]);
    const missing = { ...next, parts: next.parts.map((p) => (p.name === 'shared-params' ? { ...p, hash: 'e'.repeat(128), path: `parts/${'e'.repeat(128)}` } : p)) };
    cases.push(['peer_unreachable', served({ env: await sign(missing), parts: real.parts })]);
    if (real.dir.version === 1) cases.splice(1, 1); // no older version to offer
    for (const [code, f] of cases) {
      o.current = f;
      const r = await refusal(c.refresh());
      expect(r.code, r.message).toBe(code);
      expect(c.current()!.version).toBe(v);
      expect(c.status().lastError?.code).toBe(code);
      expect(c.status().lastError?.message).toBeTruthy();
    }
  });

  it('refuses a part larger than the limit streamed without a content-length, quickly and without holding it all', async () => {
    const o: { current?: Fetch } = {};
    const c = await holding(o);
    const next = { ...real.dir, version: real.dir.version + 1, parts: real.dir.parts.map((p) => (p.name === 'shared-params' ? { ...p, hash: 'f'.repeat(128), path: `parts/${'f'.repeat(128)}` } : p)) };
    const env = await sign(next);
    const chunk = new Uint8Array(1024 * 1024);
    let sent = 0;
    o.current = served({ env, parts: real.parts }, (path) => {
      if (!path.endsWith('f'.repeat(128))) return undefined;
      const stream = new ReadableStream<Uint8Array>({
        pull(ctrl) {
          sent += chunk.length;
          if (sent > 200 * 1024 * 1024) ctrl.close();
          else ctrl.enqueue(chunk);
        },
      });
      return new Response(stream, { status: 200 });
    });
    const r = await refusal(c.refresh());
    expect(r.code, r.message).toBe('conf_invalid');
    expect(sent).toBeLessThanOrEqual(40 * 1024 * 1024);
    expect(c.current()!.version).toBe(real.dir.version);
  });

  it('refuses a directory that declares a huge content-length without reading it', async () => {
    const o: { current?: Fetch } = {};
    const c = await holding(o);
    o.current = async () => new Response('{}', { status: 200, headers: { 'content-length': String(10 * 1024 * 1024 * 1024) } });
    const r = await refusal(c.refresh());
    expect(['conf_invalid', 'peer_unreachable']).toContain(r.code);
  });

  describe('over real HTTP', () => {
    let server: Server;
    let port: number;
    let mode: 'stall-body' | 'stall-headers' | 'redirect' | 'redirect-loop' = 'stall-body';
    beforeAll(async () => {
      server = createServer((req, res) => {
        if (mode === 'stall-body') {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' });
          res.write('{"directory":"');
          return; // never ends
        }
        if (mode === 'stall-headers') return; // never answers
        if (mode === 'redirect' && req.url!.startsWith('/elsewhere/')) {
          // a valid, signed configuration at the redirect's target
          const path = req.url!.slice('/elsewhere'.length);
          if (path.endsWith('/directory')) return void sign(real.dir).then((env) => res.end(JSON.stringify(env)));
          const b = real.parts.get(path.split('/').pop()!);
          res.writeHead(b ? 200 : 404);
          return res.end(b ?? 'no');
        }
        if (mode === 'redirect') {
          res.writeHead(302, { location: `http://127.0.0.1:${port}/elsewhere${req.url}` });
          return res.end();
        }
        res.writeHead(302, { location: req.url });
        res.end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as { port: number }).port;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });

    const anchorAt = () => ({ ...anchor, sources: [{ ...anchor.sources[0], url: `http://127.0.0.1:${port}/conf/VN` }] });

    for (const m of ['stall-body', 'stall-headers'] as const)
      it(`gives up on a server that stalls (${m}) within its timeout and keeps the schedule going`, async () => {
        mode = m;
        const c = new ConfClient({ anchor: anchorAt(), dir: tmp('truc-probe-conf-'), timeoutMs: 500, minIntervalMs: 50, maxBackoffMs: 100 });
        // given up on by its own 500 ms time-out (a client that waited for ever is the test's time-out: tests assert no time)
        const r = await refusal(c.refresh());
        expect(r.code).toBe('peer_unreachable');
        c.start();
        try {
          const end = Date.now() + 8000;
          while (c.status().consecutiveFailures < 3 && Date.now() < end) await new Promise((x) => setTimeout(x, 50));
          expect(c.status().consecutiveFailures).toBeGreaterThanOrEqual(3);
        } finally {
          c.stop();
        }
      });

    it('does not follow a redirect loop forever', async () => {
      mode = 'redirect-loop';
      const c = new ConfClient({ anchor: anchorAt(), dir: tmp('truc-probe-conf-'), timeoutMs: 3000 });
      const r = await refusal(c.refresh());
      expect(r.code).toBe('peer_unreachable');
    });

    it('does not follow a redirect away from the anchor’s source URL (refuses it and says so)', async () => {
      mode = 'redirect';
      const c = new ConfClient({ anchor: anchorAt(), dir: tmp('truc-probe-conf-'), timeoutMs: 3000 });
      const r = await refusal(c.refresh());
      expect(r.code).toBe('peer_unreachable');
      expect(r.message).toMatch(/302|redirect/i);
    });
  });
});
