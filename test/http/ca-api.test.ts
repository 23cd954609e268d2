import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { X509Certificate } from 'node:crypto';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { verifyAuditChain, searchAudit } from '../../src/audit/index.js';
import { testDatabaseUrls } from '../helpers/db.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { openssl, opensslCsr, tmp } from '../helpers/openssl.js';

for (const { name, url } of testDatabaseUrls()) {
  describe(`CA HTTP API on ${name}`, () => {
    let p: TestPlatform;
    let app: FastifyInstance;
    let ra: string;
    let admin: string;
    let auditor: string;
    let csrPem: string;
    const dir = tmp();

    beforeAll(async () => {
      p = await testPlatform(await url());
      app = await buildApp(p);
      ra = (await createToken(p.db, 'ra officer', ['ra-officer'])).token;
      admin = (await createToken(p.db, 'ca admin', ['ca-admin'])).token;
      auditor = (await createToken(p.db, 'auditor', ['auditor'])).token;
      csrPem = opensslCsr(dir, '/C=VN/O=Bộ Nội vụ/CN=Nguyễn Văn A').csr.toString();
    });
    afterAll(async () => {
      await app?.close();
      await p?.close();
    });

    const auth = (t: string) => ({ authorization: `Bearer ${t}` });

    it('issues for an RA officer, returns the chain, and replays on the same request id', async () => {
      const body = { profile: 'official-signing', csr: csrPem, requestId: 'ho-so-001' };
      const r = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: auth(ra), payload: body });
      expect(r.statusCode).toBe(201);
      const j = r.json();
      expect(j.subject).toBe('C=VN, O=Bộ Nội vụ, CN=Nguyễn Văn A');
      expect(j.chain).toHaveLength(2);
      const leaf = new X509Certificate(j.certificate);
      expect(leaf.verify(new X509Certificate(j.chain[0]).publicKey)).toBe(true);
      const again = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: auth(ra), payload: body });
      expect(again.statusCode).toBe(200);
      expect(again.json()).toMatchObject({ serial: j.serial, replayed: true });
      const other = opensslCsr(dir, '/C=VN/O=Bộ Nội vụ/CN=Khác').csr.toString();
      const dup = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: auth(ra), payload: { ...body, csr: other } });
      expect(dup.statusCode).toBe(409);
      expect(dup.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(dup.json()).toMatchObject({ status: 409, code: 'duplicate_request', type: 'urn:truc:error:duplicate_request' });
    });

    it('answers 401 without credentials and with a guessed token, 403 for the wrong role — audited and published', async () => {
      const none = await app.inject({ method: 'POST', url: '/api/v1/certificates', payload: { profile: 'x', csr: 'x' } });
      expect(none.statusCode).toBe(401);
      expect(none.json().code).toBe('unauthenticated');
      const guessed = `truc_${'0'.repeat(16)}_${'A'.repeat(43)}`;
      const bad = await app.inject({ method: 'GET', url: '/api/v1/certificates', headers: auth(guessed) });
      expect(bad.statusCode).toBe(401);
      const wrongRole = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: auth(auditor), payload: { profile: 'official-signing', csr: csrPem } });
      expect(wrongRole.statusCode).toBe(403);
      expect(wrongRole.json()).toMatchObject({ code: 'forbidden', permission: 'ca.issue' });
      const adminIssue = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: auth(admin), payload: { profile: 'official-signing', csr: csrPem } });
      expect(adminIssue.statusCode).toBe(403); // separation of duties: administrators do not issue
      const raAudit = await app.inject({ method: 'GET', url: '/api/v1/audit', headers: auth(ra) });
      expect(raAudit.statusCode).toBe(403);
      const denied = (await searchAudit(p.db, { limit: 1000 })).filter((a) => a.outcome === 'denied');
      expect(denied.length).toBeGreaterThanOrEqual(5);
      expect(denied.some((d) => d.actor === `token:${'0'.repeat(16)}`)).toBe(true);
      const failed = p.events.filter((e) => e.subject === 'truc.http.auth.failed');
      expect(failed.length).toBeGreaterThanOrEqual(2);
      expect(failed[0].event.event.category).toEqual(['authentication']);
      expect(failed[0].event.source?.ip).toBeTruthy();
      expect(p.events.some((e) => e.subject === 'truc.http.access.denied' && e.event.user?.name === 'auditor')).toBe(true);
    });

    it('searches, shows JSON and DER, revokes, releases, and serves CRLs publicly', async () => {
      const list = await app.inject({ method: 'GET', url: '/api/v1/certificates?subject=nguyễn&limit=10', headers: auth(auditor) });
      expect(list.statusCode).toBe(200);
      const [item] = list.json().items;
      expect(item.status).toBe('good');
      const der = await app.inject({ method: 'GET', url: `/api/v1/certificates/${item.serial}`, headers: { ...auth(auditor), accept: 'application/pkix-cert' } });
      expect(der.headers['content-type']).toBe('application/pkix-cert');
      expect(new X509Certificate(der.rawPayload).serialNumber.toLowerCase()).toBe(item.serial);

      const hold = await app.inject({ method: 'POST', url: `/api/v1/certificates/${item.serial}/revoke`, headers: auth(ra), payload: { reason: 'certificateHold' } });
      expect(hold.json()).toMatchObject({ status: 'hold', reason: 'certificateHold' });
      const rel = await app.inject({ method: 'POST', url: `/api/v1/certificates/${item.serial}/release`, headers: auth(ra) });
      expect(rel.json()).toMatchObject({ status: 'good' });
      const rev = await app.inject({ method: 'POST', url: `/api/v1/certificates/${item.serial}/revoke`, headers: auth(admin), payload: { reason: 1 } });
      expect(rev.json()).toMatchObject({ status: 'revoked', reason: 'keyCompromise' });
      const again = await app.inject({ method: 'POST', url: `/api/v1/certificates/${item.serial}/revoke`, headers: auth(admin), payload: {} });
      expect(again.statusCode).toBe(409);
      const unknown = await app.inject({ method: 'POST', url: `/api/v1/certificates/00deadbeef/revoke`, headers: auth(admin), payload: {} });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().code).toBe('unknown_serial');

      const gen = await app.inject({ method: 'POST', url: '/api/v1/cas/issuing/crl', headers: auth(admin), payload: {} });
      expect(gen.statusCode).toBe(201);
      const crl = await app.inject({ method: 'GET', url: '/pki/crl/issuing.crl' });
      expect(crl.statusCode).toBe(200);
      expect(crl.headers['content-type']).toBe('application/pkix-crl');
      expect(crl.headers['cache-control']).toMatch(/max-age=\d+/);
      const text = openssl(['crl', '-inform', 'DER', '-noout', '-text'], crl.rawPayload);
      expect(text).toContain(item.serial.toUpperCase());
      const delta = await app.inject({ method: 'GET', url: '/pki/crl/issuing-delta.crl' });
      expect(openssl(['crl', '-inform', 'DER', '-noout', '-text'], delta.rawPayload)).toMatch(/Delta CRL Indicator/);
      const cer = await app.inject({ method: 'GET', url: '/pki/ca/issuing.cer' });
      expect(cer.headers['content-type']).toBe('application/pkix-cert');
      expect(new X509Certificate(cer.rawPayload).subject).toContain('Trục Issuing CA 1');
      expect((await app.inject({ method: 'GET', url: '/pki/crl/ghost.crl' })).statusCode).toBe(404);
    });

    it('answers malformed, oversized and unknown input with problem documents', async () => {
      const garbage = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: auth(ra), payload: { profile: 'official-signing', csr: 'AAAA' } });
      expect(garbage.statusCode).toBe(400);
      expect(garbage.json().code).toBe('malformed_der');
      const schema = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: auth(ra), payload: { profile: 'official-signing' } });
      expect(schema.statusCode).toBe(400);
      expect(schema.json().code).toBe('bad_request');
      const json = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: { ...auth(ra), 'content-type': 'application/json' }, payload: '{"profile": ' });
      expect(json.statusCode).toBe(400);
      const big = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: { ...auth(ra), 'content-type': 'application/json' }, payload: JSON.stringify({ profile: 'x', csr: 'A'.repeat(2_000_000) }) });
      expect(big.statusCode).toBe(413);
      expect(big.json().code).toBe('too_large');
      const route = await app.inject({ method: 'GET', url: '/nope' });
      expect(route.statusCode).toBe(404);
      expect(route.headers['content-type']).toMatch(/problem\+json/);
      const profile = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: auth(ra), payload: { profile: 'ghost', csr: csrPem } });
      expect(profile.json()).toMatchObject({ status: 404, code: 'unknown_profile' });
    });

    it('serves its OpenAPI document and an auditor can verify the audit chain', async () => {
      const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
      expect(doc.openapi).toBe('3.1.0');
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/certificates', '/api/v1/certificates/{serial}/revoke', '/pki/crl/{file}']));
      const v = await app.inject({ method: 'POST', url: '/api/v1/audit/verify', headers: auth(auditor) });
      expect(v.json()).toMatchObject({ ok: true });
      expect((await verifyAuditChain(p.db)).ok).toBe(true);
      const log = await app.inject({ method: 'GET', url: '/api/v1/audit?action=ca.revoke', headers: auth(auditor) });
      expect(log.json().items.map((i: any) => i.outcome)).toEqual(expect.arrayContaining(['success', 'failure']));
    });
  });
}
