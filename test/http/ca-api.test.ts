import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { X509Certificate } from 'node:crypto';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { platformLimits } from '../../src/http/auth/guard.js';
import { verifyAuditChain, searchAudit } from '../../src/audit/index.js';
import { testDatabaseUrls } from '../helpers/db.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { openssl, opensslCsr, tmp } from '../helpers/openssl.js';
import { searchCerts } from '../../src/pki/index.js';
import { ROLES } from '../../src/http/auth/roles.js';
import { seq } from '../../src/asn1/der.js';

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
      // the refusal is audited like any other
      const refusals = (await searchAudit(p.db, { action: 'ca.issue', limit: 1000 })).filter((a) => a.outcome === 'failure' && (a.detail as any)?.code === 'duplicate_request');
      expect(refusals.map((a) => a.target)).toContain('ho-so-001');
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
      // each principal's refusal is on record at once under its name; a stranger's repeated ones in the
      // window are counted and written as one aggregated record when the window closes (drained here)
      const deniedNow = (await searchAudit(p.db, { limit: 1000 })).filter((a) => a.outcome === 'denied');
      for (const who of ['auditor', 'admin', 'ra']) expect(deniedNow.some((d) => d.actor.includes(who)), who).toBe(true);
      expect(deniedNow.some((d) => d.actor === 'anonymous')).toBe(true);
      platformLimits(p).denials.drain();
      let denied = deniedNow;
      for (let i = 0; i < 50 && !denied.some((d) => d.actor === `token:${'0'.repeat(16)}`); i++) {
        await new Promise((r) => setTimeout(r, 20));
        denied = (await searchAudit(p.db, { limit: 1000 })).filter((a) => a.outcome === 'denied');
      }
      const aggregated = denied.find((d) => d.actor === `token:${'0'.repeat(16)}`);
      expect(aggregated?.detail).toMatchObject({ aggregated: true, count: 1, reason: 'unauthenticated' });
      expect(denied.length).toBeGreaterThanOrEqual(5);
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

    it('lets each role do only its own operations: every CA route against every role', async () => {
      // who may do what, as docs/operations.md and the README promise it (not read from the code under test)
      const OPS: { name: string; method: 'GET' | 'POST'; url: string; payload?: object; allowed: string[]; ok: number }[] = [
        { name: 'issue', method: 'POST', url: '/api/v1/certificates', payload: { profile: 'official-signing', csr: csrPem }, allowed: ['ra-officer'], ok: 201 },
        { name: 'search', method: 'GET', url: '/api/v1/certificates?limit=1', allowed: ['ra-officer', 'ca-admin', 'auditor'], ok: 200 },
        { name: 'show', method: 'GET', url: '/api/v1/certificates/00deadbeef', allowed: ['ra-officer', 'ca-admin', 'auditor'], ok: 404 },
        { name: 'revoke', method: 'POST', url: '/api/v1/certificates/00deadbeef/revoke', payload: {}, allowed: ['ra-officer', 'ca-admin'], ok: 404 },
        { name: 'release', method: 'POST', url: '/api/v1/certificates/00deadbeef/release', allowed: ['ra-officer', 'ca-admin'], ok: 404 },
        { name: 'crl', method: 'POST', url: '/api/v1/cas/issuing/crl', payload: {}, allowed: ['ca-admin'], ok: 201 },
        { name: 'audit', method: 'GET', url: '/api/v1/audit?limit=1', allowed: ['auditor'], ok: 200 },
        { name: 'audit verify', method: 'POST', url: '/api/v1/audit/verify', allowed: ['auditor', 'ca-admin'], ok: 200 },
        { name: 'whoami', method: 'GET', url: '/api/v1/auth/whoami', allowed: [...ROLES], ok: 200 },
      ];
      const tokens: Record<string, string> = {};
      for (const role of ROLES) tokens[role] = (await createToken(p.db, `matrix ${role}`, [role])).token;
      const certsBefore = (await searchCerts(p.db, { limit: 1000 })).length;
      const [{ n: crlsBefore }] = await p.db.query<{ n: string }>('SELECT count(*) AS n FROM pki_crl');
      const seen: string[] = [];
      for (const op of OPS) {
        const anon = await app.inject({ method: op.method, url: op.url, ...(op.payload ? { payload: op.payload } : {}) });
        seen.push(`${op.name} anonymous ${anon.statusCode} ${anon.json().code}`);
        for (const role of ROLES) {
          const r = await app.inject({ method: op.method, url: op.url, headers: auth(tokens[role]), ...(op.payload ? { payload: op.payload } : {}) });
          seen.push(`${op.name} ${role} ${r.statusCode}${r.statusCode >= 400 ? ` ${r.json().code}` : ''}`);
        }
      }
      const expected: string[] = [];
      for (const op of OPS) {
        expected.push(`${op.name} anonymous 401 unauthenticated`);
        for (const role of ROLES)
          expected.push(`${op.name} ${role} ${op.allowed.includes(role) ? `${op.ok}${op.ok >= 400 ? ' unknown_serial' : ''}` : '403 forbidden'}`);
      }
      expect(seen).toEqual(expected);
      // the denied calls changed nothing: one certificate (the RA officer's), one CRL (the administrator's)
      expect((await searchCerts(p.db, { limit: 1000 })).length).toBe(certsBefore + 1);
      const [{ n: crlsAfter }] = await p.db.query<{ n: string }>('SELECT count(*) AS n FROM pki_crl');
      expect(Number(crlsAfter)).toBe(Number(crlsBefore) + 1);
      // public routes need no credentials
      for (const url of ['/pki/ca', '/pki/ca/issuing.cer', '/pki/ca/root.pem', '/pki/crl/issuing.crl', '/pki/crl/root-delta.crl'])
        expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    });

    it('refuses every kind of bad input with a stable problem code, stores nothing, and audits the refusal', async () => {
      const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s+/g, ''), 'base64');
      const flipped = Buffer.from(der);
      flipped[flipped.length - 5] ^= 1;
      let deep: Buffer = Buffer.from([0x05, 0x00]);
      for (let i = 0; i < 40; i++) deep = seq(deep);
      const csrOf = (subject: string, keyArgs?: string[]) => opensslCsr(dir, subject, keyArgs).csr.toString();
      const issue = (payload: object) => ({ method: 'POST' as const, url: '/api/v1/certificates', payload });
      const cases: { what: string; req: { method: 'POST'; url: string; payload: object | string; headers?: Record<string, string> }; status: number; code: string; action: string }[] = [
        { what: 'malformed PEM', req: issue({ profile: 'official-signing', csr: '-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n' }), status: 400, code: 'malformed_pem', action: 'ca.issue' },
        { what: 'malformed DER', req: issue({ profile: 'official-signing', csr: Buffer.from('not DER at all').toString('base64') }), status: 400, code: 'malformed_der', action: 'ca.issue' },
        { what: 'truncated DER', req: issue({ profile: 'official-signing', csr: der.subarray(0, 60).toString('base64') }), status: 400, code: 'malformed_der', action: 'ca.issue' },
        { what: 'DER nested 40 deep', req: issue({ profile: 'official-signing', csr: deep.toString('base64') }), status: 400, code: 'malformed_der', action: 'ca.issue' },
        { what: 'a 4 GiB length field', req: issue({ profile: 'official-signing', csr: Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0]).toString('base64') }), status: 400, code: 'malformed_der', action: 'ca.issue' },
        { what: 'a bad CSR signature', req: issue({ profile: 'official-signing', csr: flipped.toString('base64') }), status: 400, code: 'bad_csr_signature', action: 'ca.issue' },
        { what: 'an RSA-1024 key', req: issue({ profile: 'official-signing', csr: csrOf('/C=VN/O=x/CN=weak', ['-newkey', 'rsa:1024']) }), status: 400, code: 'key_not_allowed', action: 'ca.issue' },
        { what: 'a secp256k1 key', req: issue({ profile: 'official-signing', csr: csrOf('/C=VN/O=x/CN=k1', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1']) }), status: 400, code: 'key_not_allowed', action: 'ca.issue' },
        { what: 'an Ed25519 key the profile does not allow', req: issue({ profile: 'official-signing', csr: csrOf('/C=VN/O=x/CN=ed', ['-newkey', 'ed25519']) }), status: 400, code: 'key_not_allowed', action: 'ca.issue' },
        { what: 'a subject attribute the profile forbids', req: issue({ profile: 'official-signing', csr: csrOf('/C=VN/O=Bộ Nội vụ/CN=x/street=Phố Huế') }), status: 400, code: 'subject_not_allowed', action: 'ca.issue' },
        { what: 'a subject missing a required attribute', req: issue({ profile: 'official-signing', csr: csrPem, subject: 'CN=Chỉ có tên' }), status: 400, code: 'subject_not_allowed', action: 'ca.issue' },
        { what: 'an unknown profile', req: issue({ profile: 'ghost', csr: csrPem }), status: 404, code: 'unknown_profile', action: 'ca.issue' },
        { what: 'an unknown CA', req: issue({ profile: 'official-signing', csr: csrPem, ca: 'ghost' }), status: 404, code: 'unknown_ca', action: 'ca.issue' },
        { what: 'an oversized body', req: { ...issue({}), payload: JSON.stringify({ profile: 'x', csr: 'A'.repeat(2_000_000) }), headers: { 'content-type': 'application/json' } }, status: 413, code: 'too_large', action: 'ca.issue' },
        { what: 'a body that is not JSON', req: { ...issue({}), payload: '{"profile": ', headers: { 'content-type': 'application/json' } }, status: 400, code: 'bad_request', action: 'ca.issue' },
        { what: 'a body outside the schema', req: issue({ profile: 'official-signing', csr: csrPem, validityDays: 0 }), status: 400, code: 'bad_request', action: 'ca.issue' },
        { what: 'a misspelt field (requestID)', req: issue({ profile: 'official-signing', csr: csrPem, requestID: 'hs-77' }), status: 400, code: 'bad_request', action: 'ca.issue' },
        { what: 'a revocation of an unknown serial', req: { method: 'POST', url: '/api/v1/certificates/0badc0ffee/revoke', payload: {} }, status: 404, code: 'unknown_serial', action: 'ca.revoke' },
        { what: 'a revocation with an unknown reason', req: { method: 'POST', url: '/api/v1/certificates/0badc0ffee/revoke', payload: { reason: 'because' } }, status: 400, code: 'bad_request', action: 'ca.revoke' },
        { what: 'a release of an unknown serial', req: { method: 'POST', url: '/api/v1/certificates/0badc0ffee/release', payload: {} }, status: 404, code: 'unknown_serial', action: 'ca.release' },
        { what: 'a CRL for an unknown CA', req: { method: 'POST', url: '/api/v1/cas/ghost/crl', payload: {} }, status: 404, code: 'unknown_ca', action: 'ca.crl' },
      ];
      const who = (c: (typeof cases)[number]) => (c.action === 'ca.crl' ? admin : ra);
      for (const c of cases) {
        const certs = (await searchCerts(p.db, { limit: 1000 })).map((x) => `${x.serial}:${x.status}`).sort();
        const [{ s: seqBefore }] = await p.db.query<{ s: string }>('SELECT max(seq) AS s FROM audit_log');
        const r = await app.inject({ ...c.req, headers: { ...auth(who(c)), ...(c.req.headers ?? {}) } } as any);
        expect(r.statusCode, c.what).toBe(c.status);
        expect(r.headers['content-type'], c.what).toMatch(/^application\/problem\+json/);
        const problem = r.json();
        expect(problem, c.what).toMatchObject({ type: `urn:truc:error:${c.code}`, status: c.status, code: c.code, title: expect.any(String), detail: expect.any(String) });
        expect((await searchCerts(p.db, { limit: 1000 })).map((x) => `${x.serial}:${x.status}`).sort(), c.what).toEqual(certs);
        const records = await searchAudit(p.db, { afterSeq: Number(seqBefore), limit: 100 });
        expect(records.map((a) => [a.action, a.outcome, a.detail?.code]), c.what).toEqual([[c.action, 'failure', c.code]]);
      }
      // a stranger's bad body is not even read: 401, not a validation or size error
      const stranger = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ csr: 'A'.repeat(2_000_000) }) });
      expect(stranger.statusCode).toBe(401);
      expect((await app.inject({ method: 'POST', url: '/api/v1/certificates', payload: { nonsense: true } })).json().code).toBe('unauthenticated');
      expect((await verifyAuditChain(p.db)).ok).toBe(true);
    });

    it('searches certificates by serial, subject, profile, CA, status and validity', async () => {
      const mk = async (subject: string, profile = 'official-signing', extra: object = {}) => {
        const r = await app.inject({ method: 'POST', url: '/api/v1/certificates', headers: auth(ra), payload: { profile, csr: opensslCsr(dir, subject).csr.toString(), ...extra } });
        expect(r.statusCode, r.body).toBe(201);
        return r.json() as { serial: string; notBefore: string; notAfter: string };
      };
      const a = await mk('/C=VN/O=Sở Tư pháp Hà Nội/CN=Đặng Thị Tìm Kiếm');
      const b = await mk('/C=VN/O=Sở Tư pháp Hà Nội/CN=ketqua.sotuphap.gov.vn', 'tls-server', { altNames: { dns: ['ketqua.sotuphap.gov.vn'] }, validityDays: 30 });
      await app.inject({ method: 'POST', url: `/api/v1/certificates/${b.serial}/revoke`, headers: auth(ra), payload: { reason: 'certificateHold' } });
      const find = async (q: string) => {
        const r = await app.inject({ method: 'GET', url: `/api/v1/certificates?${q}`, headers: auth(auditor) });
        expect(r.statusCode, `${q}: ${r.body}`).toBe(200);
        return (r.json().items as { serial: string }[]).map((i) => i.serial);
      };
      // by serial, in any of the forms people paste: upper case, colons
      expect(await find(`serial=${a.serial}`)).toEqual([a.serial]);
      expect(await find(`serial=${encodeURIComponent(a.serial.toUpperCase().match(/../g)!.join(':'))}`)).toEqual([a.serial]);
      expect(await find('serial=0badc0ffee')).toEqual([]);
      // by subject, case-insensitive, with diacritics
      expect(await find(`subject=${encodeURIComponent('đặng thị tìm')}`)).toEqual([a.serial]);
      expect(await find(`subject=${encodeURIComponent('sở tư pháp hà nội')}`).then((s) => s.sort())).toEqual([a.serial, b.serial].sort());
      // by profile, status and CA
      expect(await find(`profile=tls-server&subject=sotuphap`)).toEqual([b.serial]);
      expect(await find(`status=hold&subject=${encodeURIComponent('sở tư pháp')}`)).toEqual([b.serial]);
      expect(await find(`status=good&subject=${encodeURIComponent('sở tư pháp')}`)).toEqual([a.serial]);
      expect(await find(`ca=issuing&serial=${a.serial}`)).toEqual([a.serial]);
      expect(await find(`ca=root&serial=${a.serial}`)).toEqual([]);
      // by validity: valid at an instant, expiring before one
      const in60 = new Date(Date.now() + 60 * 86_400_000).toISOString();
      expect(await find(`validAt=${encodeURIComponent(new Date().toISOString())}&subject=${encodeURIComponent('sở tư pháp')}`).then((s) => s.sort())).toEqual([a.serial, b.serial].sort());
      expect(await find(`validAt=${encodeURIComponent(in60)}&subject=${encodeURIComponent('sở tư pháp')}`)).toEqual([a.serial]);
      expect(await find(`validAt=2001-01-01T00:00:00Z&subject=${encodeURIComponent('sở tư pháp')}`)).toEqual([]);
      expect(await find(`expiresBefore=${encodeURIComponent(in60)}&subject=${encodeURIComponent('sở tư pháp')}`)).toEqual([b.serial]);
      // paging
      expect(await find(`subject=${encodeURIComponent('sở tư pháp')}&limit=1`)).toHaveLength(1);
      expect(await find(`subject=${encodeURIComponent('sở tư pháp')}&limit=1&offset=2`)).toEqual([]);
      // malformed queries are problems, not empty answers
      for (const q of ['status=lost', 'validAt=yesterday', 'serial=xyz', 'limit=0', 'limit=5000', 'colour=blue']) {
        const r = await app.inject({ method: 'GET', url: `/api/v1/certificates?${q}`, headers: auth(auditor) });
        expect([r.statusCode, r.json().code], q).toEqual([400, 'bad_request']);
      }
    });

    it('serves its OpenAPI document and an auditor can verify the audit chain', async () => {
      const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
      expect(doc.openapi).toBe('3.1.0');
      const caPaths = [
        '/pki/ca',
        '/pki/ca/{file}',
        '/pki/crl/{file}',
        '/api/v1/certificates',
        '/api/v1/certificates/{serial}',
        '/api/v1/certificates/{serial}/revoke',
        '/api/v1/certificates/{serial}/release',
        '/api/v1/cas/{ca}/crl',
        '/api/v1/audit',
        '/api/v1/audit/verify',
        '/api/v1/profiles',
        '/api/v1/auth/whoami',
      ];
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(caPaths));
      expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
      for (const path of caPaths)
        for (const [method, op] of Object.entries<any>(doc.paths[path])) {
          const where = `${method.toUpperCase()} ${path}`;
          expect(op.summary, where).toMatch(/\w{3}/);
          // public routes say so by having no security requirement; the rest need a bearer token
          if (path.startsWith('/pki/')) expect(op.security, where).toBeUndefined();
          else expect(op.security, where).toEqual([{ bearer: [] }]);
          if (path !== '/api/v1/auth/whoami') {
            const errors = op.responses['4XX'] ?? op.responses['4xx'];
            expect(errors?.content?.['application/problem+json']?.schema?.required, where).toEqual(['type', 'title', 'status', 'code']);
          }
        }
      // issuing documents its request body with its limits
      const body = doc.paths['/api/v1/certificates'].post.requestBody.content['application/json'].schema;
      expect(body).toMatchObject({ required: ['profile', 'csr'], additionalProperties: false, properties: { csr: { maxLength: 65536 } } });
      const v = await app.inject({ method: 'POST', url: '/api/v1/audit/verify', headers: auth(auditor) });
      expect(v.json()).toMatchObject({ ok: true });
      expect((await verifyAuditChain(p.db)).ok).toBe(true);
      // the verification is itself on the record: who checked, and how many records were found intact
      const checked = await app.inject({ method: 'GET', url: '/api/v1/audit?action=audit.verify', headers: auth(auditor) });
      expect(checked.json().items.at(-1)).toMatchObject({ outcome: 'success', target: 'audit_log', detail: { records: v.json().records } });
      const log = await app.inject({ method: 'GET', url: '/api/v1/audit?action=ca.revoke', headers: auth(auditor) });
      expect(log.json().items.map((i: any) => i.outcome)).toEqual(expect.arrayContaining(['success', 'failure']));
    });
  });
}
