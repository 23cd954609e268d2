/**
 * openssl ocsp against our responder over HTTP, both in the main app (POST /ocsp, GET /ocsp/{base64}) and
 * in the standalone role's lean server: good, revoked with reason, unknown, several CertIDs, SHA-256
 * CertIDs, with and without a nonce, and "Response verify OK" against the CA chain.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { buildApp } from '../../src/http/app.js';
import { ocspServer } from '../../src/http/ocsp/serve.js';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { getCa, revoke, type Issued } from '../../src/pki/index.js';
import { buildOcspRequest } from '../../src/pki/path/index.js';
import { toPem } from '../../src/asn1/der.js';
import { testDatabaseUrls } from '../helpers/db.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { opensslAsync, opensslCsr, tmp } from '../helpers/openssl.js';

const OPTS = { validityMinutes: 60, refreshBeforeMinutes: 10, signWith: 'delegated' as const, pollSeconds: 1 };

for (const { name, url } of testDatabaseUrls()) {
  describe(`OCSP responder over HTTP, openssl as the client, on ${name}`, () => {
    let p: TestPlatform;
    let app: FastifyInstance;
    let lean: Server;
    let responder: OcspResponder;
    let base: string;
    let leanBase: string;
    const dir = tmp();
    const f = (n: string) => join(dir, n);
    const leaves: Issued[] = [];

    beforeAll(async () => {
      p = await testPlatform(await url());
      for (const cn of ['Good One', 'Revoked One', 'Good Two', 'Held One']) {
        const { csr } = opensslCsr(dir, `/C=VN/O=Bộ Tài chính/CN=${cn}`);
        leaves.push(await p.issuer.issue({ profile: 'agency-auth', csr }, 'test'));
      }
      leaves.forEach((l, i) => writeFileSync(f(`leaf${i}.pem`), toPem('CERTIFICATE', l.der)));
      const issuing = (await getCa(p.db, 'issuing'))!;
      const root = (await getCa(p.db, 'root'))!;
      writeFileSync(f('issuing.pem'), toPem('CERTIFICATE', issuing.certificate));
      writeFileSync(f('chain.pem'), toPem('CERTIFICATE', root.certificate) + toPem('CERTIFICATE', issuing.certificate));
      responder = new OcspResponder(p.pki, p.issuer, OPTS);
      await responder.start();
      app = await buildApp(p, { ocsp: responder });
      base = await app.listen({ host: '127.0.0.1', port: 0 });
      lean = ocspServer(responder);
      await new Promise<void>((r) => lean.listen(0, '127.0.0.1', r));
      leanBase = `http://127.0.0.1:${(lean.address() as AddressInfo).port}`;
      await revoke(p.pki, { serial: leaves[1].serial, reason: 'keyCompromise' }, 'test');
      await revoke(p.pki, { serial: leaves[3].serial, reason: 'certificateHold' }, 'test');
    });
    afterAll(async () => {
      await app?.close();
      await new Promise((r) => lean?.close(r));
      await responder?.stop();
      await p?.close();
    });

    const ocsp = (args: string[], u = `${base}/ocsp`) =>
      opensslAsync(['ocsp', '-issuer', f('issuing.pem'), '-url', u, '-CAfile', f('chain.pem'), ...args]);

    it('answers good and revoked (with the reason) to openssl, with a nonce, and the response verifies', async () => {
      const r = await ocsp(['-cert', f('leaf0.pem'), '-cert', f('leaf1.pem')]);
      expect(r.status, r.out).toBe(0);
      expect(r.out).toMatch(/Response verify OK/);
      expect(r.out).toMatch(/leaf0\.pem: good/);
      expect(r.out).toMatch(/leaf1\.pem: revoked[\s\S]*?Reason: keyCompromise/);
      expect(r.out).not.toMatch(/WARNING: no nonce/);
    });

    it('answers without a nonce (the cached RFC 5019 form), also from the lean standalone server', async () => {
      for (const u of [`${base}/ocsp`, `${leanBase}/ocsp`, leanBase]) {
        const r = await ocsp(['-no_nonce', '-cert', f('leaf2.pem'), '-resp_text'], u);
        expect(r.status, r.out).toBe(0);
        expect(r.out).toMatch(/Response verify OK/);
        expect(r.out).toMatch(/leaf2\.pem: good/);
        expect(r.out).toMatch(/Responder Id: [0-9A-F]{40}/); // byKey
        expect(r.out).toMatch(/OCSP Responder issuing/); // the delegated responder's certificate is enclosed
      }
    });

    it('answers SHA-256 CertIDs and several certificates in one request, hold as revoked/certificateHold', async () => {
      const r = await ocsp(['-sha256', '-cert', f('leaf0.pem'), '-cert', f('leaf1.pem'), '-cert', f('leaf3.pem'), '-resp_text']);
      expect(r.status, r.out).toBe(0);
      expect(r.out).toMatch(/Response verify OK/);
      expect(r.out).toMatch(/Hash Algorithm: sha256/);
      expect(r.out).not.toMatch(/Hash Algorithm: sha1/);
      expect(r.out).toMatch(/leaf0\.pem: good/);
      expect(r.out).toMatch(/leaf1\.pem: revoked/);
      expect(r.out).toMatch(/leaf3\.pem: revoked[\s\S]*?Reason: certificateHold/);
    });

    it('answers unknown for a serial the CA never issued', async () => {
      const r = await ocsp(['-serial', '0x0123456789abcdef0123456789abcdef']);
      expect(r.status, r.out).toBe(0);
      expect(r.out).toMatch(/Response verify OK/);
      expect(r.out).toMatch(/0x0123456789ABCDEF0123456789ABCDEF: unknown/i);
    });

    it('answers the GET form with caching headers, and 304 on the lean server for a matching ETag', async () => {
      const issuing = (await getCa(p.db, 'issuing'))!;
      const req = buildOcspRequest(leaves[0].der, issuing.certificate);
      for (const b of [base, leanBase]) {
        const res = await fetch(`${b}/ocsp/${encodeURIComponent(req.toString('base64'))}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('application/ocsp-response');
        const maxAge = Number(/max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '')?.[1]);
        expect(maxAge).toBeGreaterThan(59 * 60 - 5);
        expect(maxAge).toBeLessThanOrEqual(60 * 60);
        expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]{40}"$/);
        expect(new Date(res.headers.get('last-modified')!).getTime()).toBeLessThanOrEqual(Date.now());
        const der = Buffer.from(await res.arrayBuffer());
        writeFileSync(f('get.der'), der);
        const v = await opensslAsync(['ocsp', '-respin', f('get.der'), '-issuer', f('issuing.pem'), '-cert', f('leaf0.pem'), '-CAfile', f('chain.pem')]);
        expect(v.out).toMatch(/Response verify OK/);
        expect(v.out).toMatch(/leaf0\.pem: good/);
      }
      const first = await fetch(`${leanBase}/ocsp/${encodeURIComponent(req.toString('base64'))}`);
      const again = await fetch(`${leanBase}/ocsp/${encodeURIComponent(req.toString('base64'))}`, {
        headers: { 'if-none-match': first.headers.get('etag')! },
      });
      expect(again.status).toBe(304);
    });
  });
}
