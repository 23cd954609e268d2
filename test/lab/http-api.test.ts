import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPem } from '../../src/asn1/der.js';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { listCas } from '../../src/pki/index.js';
import { opensslStatus, tmp } from '../helpers/openssl.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { startHttpProduct } from './fixtures/product-http.js';
import { sharedMissing, VECTORS } from './shared.js';

describe.skipIf(sharedMissing)('crypto lab HTTP API', () => {
  let p: TestPlatform;
  let app: FastifyInstance;
  let officer: string;
  let ra: string;
  let auditor: string;
  let product: { url: string; close(): Promise<void> };
  const dir = tmp('truc-lab-api-');
  const auth = (t: string) => ({ authorization: `Bearer ${t}` });

  beforeAll(async () => {
    process.env.TRUC_LAB_VECTORS = VECTORS;
    p = await testPlatform('memory://');
    app = await buildApp(p);
    officer = (await createToken(p.db, 'lab officer', ['lab-officer'])).token;
    ra = (await createToken(p.db, 'ra officer', ['ra-officer'])).token;
    auditor = (await createToken(p.db, 'auditor', ['auditor'])).token;
    product = await startHttpProduct();
  });
  afterAll(async () => {
    await product?.close();
    await app?.close();
    await p?.close();
  });

  it('keeps the register for lab officers only; auditors read; an RA officer is refused', async () => {
    const body = { name: 'Công ty An toàn Thông tin', country: 'VN' };
    const denied = await app.inject({ method: 'POST', url: '/api/v1/lab/vendors', headers: auth(ra), payload: body });
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toMatchObject({ code: 'forbidden', permission: 'lab.manage' });
    expect((await app.inject({ method: 'POST', url: '/api/v1/lab/vendors', headers: auth(auditor), payload: body })).statusCode).toBe(403);
    const v = await app.inject({ method: 'POST', url: '/api/v1/lab/vendors', headers: auth(officer), payload: body });
    expect(v.statusCode).toBe(201);
    const pr = await app.inject({ method: 'POST', url: '/api/v1/lab/products', headers: auth(officer), payload: { vendor: v.json().id, name: 'SafeBox HSM', kind: 'hsm' } });
    expect(pr.statusCode).toBe(201);
    const ver = await app.inject({ method: 'POST', url: `/api/v1/lab/products/${pr.json().id}/versions`, headers: auth(officer), payload: { version: '3.0', algorithms: ['AES-GCM', 'HMACSHA256'] } });
    expect(ver.statusCode).toBe(201);
    const found = await app.inject({ method: 'GET', url: '/api/v1/lab/products?name=safebox&algorithm=AES-GCM', headers: auth(auditor) });
    expect(found.statusCode).toBe(200);
    expect(found.json().map((x: any) => x.id)).toEqual([pr.json().id]);
    expect((await app.inject({ method: 'GET', url: '/api/v1/lab/vendors', headers: auth(ra) })).statusCode).toBe(403);
    // a value the database cannot hold (NUL) is the caller's error, said as such, and stores nothing
    const nul = await app.inject({ method: 'POST', url: '/api/v1/lab/vendors', headers: auth(officer), payload: { name: 'Công ty\u0000X', country: 'VN' } });
    expect(nul.statusCode).toBe(400);
    expect(nul.json()).toMatchObject({ code: 'bad_request' });
    const all = (await app.inject({ method: 'GET', url: '/api/v1/lab/vendors', headers: auth(officer) })).json();
    expect(all.some((x: any) => String(x.name).startsWith('Công ty') && x.name !== body.name)).toBe(false);
  });

  it('runs an HTTP product and a reference adapter, serves the report and a signature openssl verifies, and issues a certificate on the PASS', async () => {
    const [ver] = (await app.inject({ method: 'GET', url: '/api/v1/lab/versions?name=safebox', headers: auth(officer) })).json();
    expect((await app.inject({ method: 'POST', url: '/api/v1/lab/runs', headers: auth(ra), payload: { product: 'node' } })).statusCode).toBe(403);
    const refused = await app.inject({ method: 'POST', url: '/api/v1/lab/runs', headers: auth(officer), payload: { product: 'stdio:/bin/sh -c id' } });
    expect(refused.statusCode).toBe(400);
    const path = await app.inject({ method: 'POST', url: '/api/v1/lab/runs', headers: auth(officer), payload: { product: 'node', suites: ['../../etc/passwd'] } });
    expect(path.statusCode).toBe(400);

    const run = await app.inject({
      method: 'POST',
      url: '/api/v1/lab/runs',
      headers: auth(officer),
      payload: { product: `http:${product.url}`, suites: ['aes_gcm_test.json', 'hmac_sha256_test.json'], profile: 'stored-data-protection', productVersionId: ver.id, wait: true },
    });
    expect(run.statusCode, run.body).toBe(201);
    const r = run.json();
    expect(r).toMatchObject({ adapter: 'http', verdict: 'PASS', productVersionId: ver.id, operator: 'lab officer', signed: true });

    const report = await app.inject({ method: 'GET', url: `/api/v1/lab/runs/${r.id}/report`, headers: auth(auditor) });
    expect(report.statusCode).toBe(200);
    const sig = await app.inject({ method: 'GET', url: `/api/v1/lab/runs/${r.id}/signature`, headers: auth(auditor) });
    expect(sig.headers['content-type']).toBe('application/pkcs7-signature');
    writeFileSync(join(dir, 'report.json'), report.rawPayload);
    writeFileSync(join(dir, 'report.p7s'), sig.rawPayload);
    writeFileSync(join(dir, 'root.pem'), toPem('CERTIFICATE', (await listCas(p.db)).find((c) => c.parentId === null)!.certificate));
    const v = opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-in', join(dir, 'report.p7s'), '-content', join(dir, 'report.json'), '-CAfile', join(dir, 'root.pem'), '-out', '/dev/null']);
    expect(v.status, v.out).toBe(0);
    const pdf = await app.inject({ method: 'GET', url: `/api/v1/lab/runs/${r.id}/report?format=pdf`, headers: auth(officer) });
    expect(pdf.rawPayload.subarray(0, 5).toString()).toBe('%PDF-');

    // started without waiting: 202, followed to the record
    const bg = await app.inject({ method: 'POST', url: '/api/v1/lab/runs', headers: auth(officer), payload: { product: 'noble', suites: ['hmac_sha256_test.json'] } });
    expect(bg.statusCode).toBe(202);
    expect(bg.json()).toMatchObject({ status: 'running', progress: { suites: 1 } });
    let state: any;
    for (let i = 0; i < 100; i++) {
      state = (await app.inject({ method: 'GET', url: bg.headers.location as string, headers: auth(auditor) })).json();
      if (state.status !== 'running') break;
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(state).toMatchObject({ status: 'recorded', adapter: 'noble', verdict: null });

    const cert = await app.inject({ method: 'POST', url: '/api/v1/lab/certificates', headers: auth(officer), payload: { productVersionId: ver.id, profile: 'stored-data-protection', validityDays: 365 } });
    expect(cert.statusCode, cert.body).toBe(201);
    const number = cert.json().number;
    expect(cert.json()).toMatchObject({ runId: r.id, status: 'issued' });
    expect((await app.inject({ method: 'POST', url: `/api/v1/lab/certificates/${number}/revoke`, headers: auth(ra), payload: { reason: 'x' } })).statusCode).toBe(403);
    const revoked = await app.inject({ method: 'POST', url: `/api/v1/lab/certificates/${number}/revoke`, headers: auth(officer), payload: { reason: 'firmware recalled' } });
    expect(revoked.json()).toMatchObject({ status: 'revoked', statusReason: 'firmware recalled' });
    const again = await app.inject({ method: 'POST', url: `/api/v1/lab/certificates/${number}/revoke`, headers: auth(officer), payload: { reason: 'again' } });
    expect(again.statusCode).toBe(409);
    expect(again.headers['content-type']).toMatch(/problem\+json/);
    const list = await app.inject({ method: 'GET', url: '/api/v1/lab/certificates?status=revoked&vendor=an%20to%C3%A0n', headers: auth(auditor) });
    expect(list.json().map((c: any) => c.number)).toEqual([number]);

    const lic = await app.inject({ method: 'POST', url: '/api/v1/lab/licences', headers: auth(officer), payload: { vendor: 'Công ty An toàn Thông tin', kind: 'trading', validityDays: 1000 } });
    expect(lic.statusCode).toBe(201);
    const susp = await app.inject({ method: 'POST', url: `/api/v1/lab/licences/${lic.json().number}/suspend`, headers: auth(officer), payload: { reason: 'inspection' } });
    expect(susp.json().status).toBe('suspended');
    expect((await app.inject({ method: 'GET', url: `/api/v1/lab/licences?validAt=${new Date().toISOString()}`, headers: auth(auditor) })).json()).toEqual([]);
  }, 60_000);

  it('runs four at once: a fifth is refused with 409 while they run; a running one reports its progress', async () => {
    const settled = async (location: string): Promise<any> => {
      let state: any;
      for (let i = 0; i < 200; i++) {
        state = (await app.inject({ method: 'GET', url: location, headers: auth(auditor) })).json();
        if (state.status !== 'running') break;
        await new Promise((res) => setTimeout(res, 50));
      }
      return state;
    };
    // a product that names itself, then holds every question until released; released, it lacks everything
    const held: http.ServerResponse[] = [];
    let released = false;
    const slow = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/info') return res.end(JSON.stringify({ name: 'slow product', version: '1' }));
        if (released) return res.writeHead(501).end('not offered');
        held.push(res);
      });
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
    const url = `http:http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
    try {
      const start = () => app.inject({ method: 'POST', url: '/api/v1/lab/runs', headers: auth(officer), payload: { product: url, suites: ['hmac_sha256_test.json'] } });
      const started = [];
      for (let i = 0; i < 4; i++) started.push(await start());
      expect(started.map((r) => r.statusCode)).toEqual([202, 202, 202, 202]);
      const fifth = await start();
      expect(fifth.statusCode).toBe(409);
      expect(fifth.json()).toMatchObject({ code: 'conflict', detail: expect.stringMatching(/4 runs are in progress/) });
      const progress = (await app.inject({ method: 'GET', url: started[0]!.headers.location as string, headers: auth(auditor) })).json();
      expect(progress).toMatchObject({ status: 'running', progress: { suites: 1 } });

      released = true;
      for (const res of held.splice(0)) res.writeHead(501).end('not offered');
      // room again once they are done
      const sixth = await (async () => {
        for (const r of started) await settled(r.headers.location as string);
        return start();
      })();
      expect(sixth.statusCode).toBe(202);
      started.push(sixth);
      for (const r of started) {
        const state = await settled(r.headers.location as string);
        expect(state).toMatchObject({ status: 'recorded', adapter: 'http' });
        expect(state.counts.UNSUPPORTED).toBeGreaterThan(0);
        expect(state.counts.FAIL).toBe(0);
      }
    } finally {
      released = true;
      for (const res of held.splice(0)) res.writeHead(501).end('not offered');
      slow.closeAllConnections();
      await new Promise((r) => slow.close(r));
    }
  }, 60_000);
});
