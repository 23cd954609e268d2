/**
 * Serving the web console (a stand-in build in a temporary folder, so this runs without Vite): security
 * headers on every answer, long caching for hashed assets only, the page for client routes, 404 for missing
 * files and for paths that try to leave the folder, and a problem that says how to build when nothing is
 * built. Also the two API routes the console added: whoami and a product of the lab register in full.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { buildReport, loadProfile, type RunResult } from '../../src/lab/index.js';
import { recordRun } from '../../src/lab/register/index.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { tmp } from '../helpers/openssl.js';

const PAGE =
  '<!doctype html><html><head><script type="module" src="/console/assets/index-AbC123.js"></script></head><body><div id="root"></div></body></html>';

/** the page as served: the signing agent's address for the signing page, in a meta element */
const SERVED = (agent = 'http://127.0.0.1:8477') => PAGE.replace('</head>', `<meta name="truc-agent" content="${agent}"></head>`);

function fakeBuild(): string {
  const dir = tmp('truc-console-');
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), PAGE);
  writeFileSync(join(dir, 'assets', 'index-AbC123.js'), 'console.log("console")');
  writeFileSync(join(dir, 'assets', 'index-DeF456.css'), 'body{}');
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(dir, '..', 'secret.txt'), 'outside the console folder');
  return dir;
}

function expectSecurityHeaders(h: Record<string, unknown>) {
  const csp = String(h['content-security-policy']);
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("object-src 'none'");
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).not.toContain('unsafe-eval');
  expect(h['x-frame-options']).toBe('DENY');
  expect(h['x-content-type-options']).toBe('nosniff');
  expect(h['referrer-policy']).toBe('no-referrer');
}

describe('web console serving', () => {
  let p: TestPlatform;
  let app: FastifyInstance;
  let missing: FastifyInstance;

  beforeAll(async () => {
    p = await testPlatform('memory://');
    app = await buildApp(p, { consoleDir: fakeBuild() });
    missing = await buildApp(p, { consoleDir: join(tmp('truc-console-none-'), 'dist') });
  });
  afterAll(async () => {
    await app?.close();
    await missing?.close();
    await p?.close();
  });

  it('serves the page with a strict CSP, no framing, no sniffing, and revalidation', async () => {
    const r = await app.inject({ method: 'GET', url: '/console/' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.body).toBe(SERVED());
    expect(r.headers['cache-control']).toBe('no-cache');
    expectSecurityHeaders(r.headers);
    // the page may call this origin and the official's signing agent on the loopback address, nothing else
    expect(String(r.headers['content-security-policy'])).toContain("connect-src 'self' http://127.0.0.1:8477;");
    const again = await app.inject({
      method: 'GET',
      url: '/console/',
      headers: { 'if-none-match': r.headers.etag as string },
    });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    const bare = await app.inject({ method: 'GET', url: '/console' });
    expect(bare.statusCode).toBe(301);
    expect(bare.headers.location).toBe('/console/');
    // the platform's bare address leads to the console
    const root = await app.inject({ method: 'GET', url: '/' });
    expect([root.statusCode, root.headers.location]).toEqual([302, '/console/']);
  });

  it('answers client routes with the page (SPA fallback), with their query strings too', async () => {
    for (const url of [
      '/console/alerts',
      '/console/alerts/42',
      '/console/lab/products/prd_0123abcd',
      '/console/rules?q=ssh',
      '/console/signin?next=%2Falerts',
    ]) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(200);
      expect(r.body, url).toBe(SERVED());
      expect(r.headers['cache-control']).toBe('no-cache');
      expectSecurityHeaders(r.headers);
    }
  });

  it('caches hashed assets for a year and other files not at all; types them', async () => {
    const js = await app.inject({ method: 'GET', url: '/console/assets/index-AbC123.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expectSecurityHeaders(js.headers);
    const css = await app.inject({ method: 'GET', url: '/console/assets/index-DeF456.css' });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const icon = await app.inject({ method: 'GET', url: '/console/favicon.svg' });
    expect(icon.headers['content-type']).toBe('image/svg+xml');
    expect(icon.headers['cache-control']).toBe('no-cache');
  });

  it('answers 404 problems for missing assets and files, and for paths leaving the folder', async () => {
    for (const url of [
      '/console/assets/index-old999.js',
      '/console/assets/sub/page',
      '/console/missing.js',
      '/console/..%2fsecret.txt',
      '/console/assets/..%2f..%2fsecret.txt',
    ]) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(404);
      expect(r.headers['content-type'], url).toMatch(/application\/problem\+json/);
      expect(r.body, url).not.toContain('outside the console folder');
      expectSecurityHeaders(r.headers);
    }
    // dot segments the router resolves itself leave /console/ altogether
    for (const url of ['/console/%2e%2e/secret.txt', '/console/../secret.txt']) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(404);
      expect(r.body, url).not.toContain('outside the console folder');
    }
  });

  it('points the signing page at the configured agent, and refuses an agent that is not on the loopback address', async () => {
    const config = p.config.console;
    try {
      p.config.console = { signingAgent: 'http://localhost:9911/' };
      const other = await buildApp(p, { consoleDir: fakeBuild() });
      const r = await other.inject({ method: 'GET', url: '/console/signatures' });
      expect(r.body).toBe(SERVED('http://localhost:9911'));
      expect(String(r.headers['content-security-policy'])).toContain("connect-src 'self' http://localhost:9911;");
      await other.close();
      p.config.console = { signingAgent: 'https://agent.example.org' };
      await expect(buildApp(p, { consoleDir: fakeBuild() })).rejects.toThrow(/loopback/);
    } finally {
      p.config.console = config;
    }
  });

  it('without a build, says how to make one', async () => {
    for (const url of ['/console/', '/console/alerts']) {
      const r = await missing.inject({ method: 'GET', url });
      expect(r.statusCode).toBe(404);
      expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(r.json()).toMatchObject({ code: 'not_found', build: 'npm run build:web' });
      expect(r.json().detail).toMatch(/not built.*npm run build:web/);
      expectSecurityHeaders(r.headers);
    }
  });

  it('leaves the APIs without the console headers', async () => {
    const r = await app.inject({ method: 'GET', url: '/healthz' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-security-policy']).toBeUndefined();
  });
});

describe('API routes the console uses', () => {
  let p: TestPlatform;
  let app: FastifyInstance;
  const auth = (t: string) => ({ authorization: `Bearer ${t}` });

  beforeAll(async () => {
    p = await testPlatform('memory://');
    app = await buildApp(p, { consoleDir: fakeBuild() });
  });
  afterAll(async () => {
    await app?.close();
    await p?.close();
  });

  it('whoami tells any principal its name, roles and permissions; 401 without a valid token', async () => {
    const { token } = await createToken(p.db, 'Trần Thị B', ['monitor-analyst', 'auditor']);
    const r = await app.inject({ method: 'GET', url: '/api/v1/auth/whoami', headers: auth(token) });
    expect(r.statusCode).toBe(200);
    const me = r.json();
    expect(me).toMatchObject({ name: 'Trần Thị B', kind: 'token', roles: ['monitor-analyst', 'auditor'] });
    expect(me.permissions).toEqual(
      expect.arrayContaining(['monitor.read', 'monitor.manage', 'lab.read', 'audit.read', 'ca.read']),
    );
    expect(me.permissions).not.toContain('lab.manage');
    expect(me.permissions).not.toContain('ca.issue');
    const sender = (await createToken(p.db, 'sender', ['event-sender'])).token;
    expect(
      (await app.inject({ method: 'GET', url: '/api/v1/auth/whoami', headers: auth(sender) })).json()
        .permissions,
    ).toEqual(expect.arrayContaining(['monitor.ingest', 'auth.whoami']));
    const none = await app.inject({ method: 'GET', url: '/api/v1/auth/whoami' });
    expect(none.statusCode).toBe(401);
    const wrong = await app.inject({
      method: 'GET',
      url: '/api/v1/auth/whoami',
      headers: auth(`truc_${'1'.repeat(16)}_${'B'.repeat(43)}`),
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ code: 'unauthenticated' });
  });

  it('a product of the register comes with its versions, their runs and certificates, and its licences', async () => {
    const officer = (await createToken(p.db, 'lab officer', ['lab-officer'])).token;
    const analyst = (await createToken(p.db, 'analyst', ['monitor-analyst'])).token;
    const post = async (url: string, payload: unknown) => {
      const r = await app.inject({ method: 'POST', url, headers: auth(officer), payload: payload as object });
      expect(r.statusCode, r.body).toBe(201);
      return r.json();
    };
    const vendor = await post('/api/v1/lab/vendors', { name: 'Công ty Mật mã Việt', country: 'VN' });
    const product = await post('/api/v1/lab/products', { vendor: vendor.id, name: 'VietHSM', kind: 'hsm' });
    const other = await post('/api/v1/lab/products', { vendor: vendor.id, name: 'VietToken', kind: 'token' });
    const v1 = await post(`/api/v1/lab/products/${product.id}/versions`, {
      version: '1.0',
      algorithms: ['AES-GCM', 'HMACSHA256'],
    });
    await post(`/api/v1/lab/products/${product.id}/versions`, { version: '2.0' });
    const profile = await loadProfile('stored-data-protection');
    const suite = (file: string, algorithm: string) => ({
      kind: 'wycheproof' as const,
      file,
      sha256: 'cd'.repeat(32),
      algorithm,
      schema: 'x',
      numberOfTests: 5,
      counts: { PASS: 5, FAIL: 0, ACCEPTABLE: 0, UNSUPPORTED: 0, SKIPPED: 0, ERROR: 0 },
      results: [],
      durationMs: 1,
    });
    const run: RunResult = {
      product: { name: 'VietHSM', version: '1.0', adapter: 'test' },
      sources: [{ name: 'C2SP/wycheproof', commit: 'c' }],
      startedAt: new Date(Date.now() - 60_000).toISOString(),
      finishedAt: new Date().toISOString(),
      suites: [suite('aes_gcm_test.json', 'AES-GCM'), suite('hmac_sha256_test.json', 'HMACSHA256')],
      counts: { PASS: 10, FAIL: 0, ACCEPTABLE: 0, UNSUPPORTED: 0, SKIPPED: 0, ERROR: 0 },
    };
    const recorded = await recordRun(
      p,
      { report: buildReport({ run, profile }), productVersionId: v1.id, adapter: 'test' },
      'lab officer',
    );
    const cert = await post('/api/v1/lab/certificates', {
      productVersionId: v1.id,
      profile: profile.id,
      validityDays: 365,
    });
    const licence = await post('/api/v1/lab/licences', {
      vendor: vendor.id,
      productId: product.id,
      kind: 'trading',
      validityDays: 730,
    });
    await post('/api/v1/lab/licences', {
      vendor: vendor.id,
      productId: other.id,
      kind: 'production',
      validityDays: 730,
    });

    const r = await app.inject({
      method: 'GET',
      url: `/api/v1/lab/products/${product.id}`,
      headers: auth(officer),
    });
    expect(r.statusCode, r.body).toBe(200);
    const d = r.json();
    expect(d).toMatchObject({
      id: product.id,
      name: 'VietHSM',
      vendorName: 'Công ty Mật mã Việt',
      kind: 'hsm',
    });
    expect(d.versions.map((v: any) => v.version)).toEqual(['1.0', '2.0']);
    expect(d.versions[0]).toMatchObject({ algorithms: ['AES-GCM', 'HMACSHA256'] });
    expect(d.versions[0].runs).toMatchObject([{ id: recorded.run.id, verdict: 'PASS', signed: true }]);
    expect(d.versions[0].certificates).toMatchObject([
      { number: cert.number, status: 'issued', runId: recorded.run.id },
    ]);
    expect(new Date(d.versions[0].certificates[0].validUntil).getTime()).toBeGreaterThan(
      Date.now() + 360 * 86_400_000,
    );
    expect(d.versions[1]).toMatchObject({ runs: [], certificates: [] });
    expect(d.licences.map((l: any) => l.number)).toEqual([licence.number]);

    expect(
      (await app.inject({ method: 'GET', url: '/api/v1/lab/products/prd_nothing', headers: auth(officer) }))
        .statusCode,
    ).toBe(404);
    const denied = await app.inject({
      method: 'GET',
      url: `/api/v1/lab/products/${product.id}`,
      headers: auth(analyst),
    });
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toMatchObject({ code: 'forbidden', permission: 'lab.read' });
  });
});
