/**
 * The central server's HTTP face end to end: a security server's request posted to /central/register,
 * listed and approved through the management API, published in the configuration the public routes
 * serve; hostile bodies answered with problem documents; generation on the schedule of `start()`.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../src/http/app.js';
import { createToken } from '../../../src/http/auth/store.js';
import { CentralServer } from '../../../src/exchange/central/index.js';
import { GlobalConf, sha256Hex, verifySignedDirectory, type SharedParameters } from '../../../src/exchange/conf/index.js';
import { X509Certificate } from 'node:crypto';
import { world, issueKey, INSTANCE, type World, type Agency } from './fixture.js';

describe('central server over HTTP', () => {
  let w: World;
  let app: FastifyInstance;
  let admin: { authorization: string };
  let vpcp: Agency;

  async function servedConf(): Promise<GlobalConf> {
    const signed = (await app.inject({ method: 'GET', url: `/conf/${INSTANCE}/directory` })).json();
    const { directory } = verifySignedDirectory(signed, [w.central.signingCertificate()]);
    const shared = (await app.inject({ method: 'GET', url: `/conf/${INSTANCE}/${directory.parts.find((p) => p.name === 'shared-params')!.path}` })).json() as SharedParameters;
    return new GlobalConf(shared, directory);
  }

  beforeAll(async () => {
    w = await world('memory://');
    app = await buildApp(w.p, { central: w.central });
    admin = { authorization: `Bearer ${(await createToken(w.p.db, 'central-op', ['central-admin'])).token}` };
    vpcp = await w.agency('GOV', '000.00.00.G22', 'Văn phòng Chính phủ');
  });
  afterAll(async () => {
    await app?.close();
    await w?.close();
  });

  it('registers through /central/register, approves through the API, serves the result', async () => {
    const posted = await app.inject({ method: 'POST', url: '/central/register', payload: await w.request(vpcp, { type: 'auth-cert' }) });
    expect(posted.statusCode).toBe(202);
    const { id, status } = posted.json();
    expect(status).toBe('pending');
    const pending = (await app.inject({ method: 'GET', url: '/api/v1/central/requests?status=pending', headers: admin })).json();
    expect(pending.map((r: any) => r.id)).toEqual([id]);
    expect(pending[0].payload).toMatchObject({ type: 'auth-cert', server: { memberClass: 'GOV', memberCode: '000.00.00.G22', serverCode: 'ss1' } });
    const approved = await app.inject({ method: 'POST', url: `/api/v1/central/requests/${id}/approve`, headers: admin });
    expect(approved.json()).toMatchObject({ id, status: 'approved', decidedBy: 'central-op' });
    await app.inject({ method: 'POST', url: '/api/v1/central/configuration/generate', headers: admin });
    expect((await servedConf()).serverByAuthCert(sha256Hex(vpcp.auth.certificate))?.serverCode).toBe('ss1');
    const servers = (await app.inject({ method: 'GET', url: '/api/v1/central/servers', headers: admin })).json();
    expect(servers[0]).toMatchObject({ ownerCode: '000.00.00.G22', serverCode: 'ss1', authCertHashes: [sha256Hex(vpcp.auth.certificate)] });
    // reject needs a pending request
    const again = await app.inject({ method: 'POST', url: `/api/v1/central/requests/${id}/reject`, headers: admin, payload: { reason: 'late' } });
    expect(again.json().code).toBe('conflict');
    expect((await app.inject({ method: 'POST', url: `/api/v1/central/requests/nope/approve`, headers: admin })).statusCode).toBe(404);
  });

  it('lists members’ encryption certificates to central.read roles only, each listing audited; requests show the certificate', async () => {
    const bnv = await w.agency('GOV', '000.00.00.G09', 'Bộ Nội vụ');
    const server = await w.central.registration.submit(await w.request(bnv, { type: 'auth-cert' }));
    await w.central.registration.approve(server.id, 'test');
    const enc = await issueKey(w.p, 'agency-encryption', [
      { type: 'C', value: 'VN' },
      { type: 'O', value: 'Bộ Nội vụ' },
      { type: 'CN', value: 'Bộ Nội vụ (mã hoá)' },
      { type: 'serialNumber', value: 'VN/GOV/000.00.00.G09' },
    ]);
    const hash = sha256Hex(enc.certificate);
    const posted = await app.inject({ method: 'POST', url: '/central/register', payload: await w.request(bnv, { type: 'encryption-cert', encryption: { certificate: enc.certificate, ocsp: await w.ocspFor(enc.certificate) } }) });
    expect(posted.statusCode, posted.body).toBe(202);
    // the pending request shows the certificate it carries, decoded
    const pending = (await app.inject({ method: 'GET', url: '/api/v1/central/requests?status=pending', headers: admin })).json();
    const asked = pending.find((r: any) => r.id === posted.json().id);
    expect(asked.encryptionCertificate).toMatchObject({ hash, subject: expect.stringContaining('serialNumber=VN/GOV/000.00.00.G09'), keyType: 'ec prime256v1', status: 'valid' });
    const url = '/api/v1/central/encryption-certs?memberClass=GOV&memberCode=000.00.00.G09';
    expect((await app.inject({ method: 'GET', url, headers: admin })).json()).toEqual([]);
    await app.inject({ method: 'POST', url: `/api/v1/central/requests/${posted.json().id}/approve`, headers: admin });

    // refused: no token, and a role without central.read
    expect((await app.inject({ method: 'GET', url })).statusCode).toBe(401);
    const analyst = { authorization: `Bearer ${(await createToken(w.p.db, 'analyst-x', ['monitor-analyst'])).token}` };
    const refused = await app.inject({ method: 'GET', url, headers: analyst });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('forbidden');
    // allowed: the central admin and the auditor
    const auditor = { authorization: `Bearer ${(await createToken(w.p.db, 'auditor-x', ['auditor'])).token}` };
    for (const h of [admin, auditor]) {
      const r = await app.inject({ method: 'GET', url, headers: h });
      expect(r.statusCode, r.body).toBe(200);
      const [c, ...rest] = r.json();
      expect(rest).toEqual([]);
      expect(c).toMatchObject({ memberClass: 'GOV', memberCode: '000.00.00.G09', memberName: 'Bộ Nội vụ', hash, keyType: 'ec prime256v1', status: 'valid', requestId: posted.json().id });
      expect(c.subject).toContain('CN=Bộ Nội vụ (mã hoá)');
      expect(c.serial).toBe(new X509Certificate(enc.certificate).serialNumber.toLowerCase());
      expect(new Date(c.notAfter).getTime()).toBeGreaterThan(new Date(c.notBefore).getTime());
      expect(Number.isNaN(new Date(c.registeredAt).getTime())).toBe(false);
    }
    // every member's when no member is named; one of the pair alone is refused
    expect((await app.inject({ method: 'GET', url: '/api/v1/central/encryption-certs', headers: admin })).json().map((c: any) => c.hash)).toContain(hash);
    expect((await app.inject({ method: 'GET', url: '/api/v1/central/encryption-certs?memberClass=GOV', headers: admin })).statusCode).toBe(400);
    // a deletion request names the registered certificate, decoded
    const del = await app.inject({ method: 'POST', url: '/central/register', payload: await w.request(bnv, { type: 'encryption-cert-deletion', encryption: { certificate: enc.certificate } }) });
    expect(del.statusCode, del.body).toBe(202);
    const delView = (await app.inject({ method: 'GET', url: `/api/v1/central/requests/${del.json().id}`, headers: admin })).json();
    expect(delView).toMatchObject({ type: 'encryption-cert-deletion', encryptionCertificate: { hash, serial: expect.any(String) } });

    // the audit log: the listings (the central admin's and the auditor's), and the refusal
    const records = await w.p.db.query<any>("SELECT actor, action, target, outcome FROM audit_log WHERE action IN ('central.encryption-cert.list') ORDER BY seq");
    expect(records.filter((r) => r.target === 'GOV/000.00.00.G09' && r.outcome === 'success').map((r) => r.actor)).toEqual(['central-op', 'central-op', 'auditor-x']);
    const denied = await w.p.db.query<any>("SELECT actor, outcome FROM audit_log WHERE actor = 'analyst-x'");
    expect(denied.map((r) => r.outcome)).toEqual(['denied']);
  });

  it('documents its routes in the OpenAPI document', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/central/register', '/api/v1/central/requests/{id}/approve', '/api/v1/central/encryption-certs', '/conf/{instance}/directory']));
  });

  it('answers hostile registration bodies with problem documents', async () => {
    const cases: [string, string | object][] = [
      ['application/json', '{'],
      ['application/json', '[]'],
      ['application/json', { payload: 'AAAA', signature: 1 }],
      ['application/json', { payload: 'x'.repeat(90_000) }],
    ];
    for (const [type, payload] of cases) {
      const r = await app.inject({ method: 'POST', url: '/central/register', headers: { 'content-type': type }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });
      expect(r.statusCode, r.body).toBeGreaterThanOrEqual(400);
      expect(r.statusCode).toBeLessThan(500);
      expect(r.headers['content-type']).toContain('application/problem+json');
    }
    const huge = await app.inject({ method: 'POST', url: '/central/register', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ payload: 'A'.repeat(200_000) }) });
    expect(huge.statusCode).toBe(413);
    const forged = await w.request(vpcp, { type: 'maintenance', maintenance: true });
    const r = await app.inject({ method: 'POST', url: '/central/register', payload: { ...forged, signature: forged.signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) } });
    expect(r.statusCode).toBe(422);
    expect(r.json()).toMatchObject({ code: 'registration_invalid', reason: 'bad_signature' });
  });

  it('generates on the schedule: at start, then when the registry changed', async () => {
    await w.central.registry.setSettings({ generateIntervalSeconds: 1 }, 'test');
    const scheduled = await CentralServer.open({ db: w.p.db, keys: w.p.keys, bus: w.p.bus, instance: INSTANCE });
    const before = (await w.central.generator.latest())?.version ?? 0;
    await w.central.registry.addMember({ memberClass: 'PROV', memberCode: '000.00.31.H29', name: 'UBND Thành phố Hồ Chí Minh' }, 'test');
    await scheduled.start();
    try {
      const atStart = (await scheduled.generator.latest())!.version;
      expect(atStart).toBe(before + 1);
      await w.central.registry.addSubsystem({ memberClass: 'PROV', memberCode: '000.00.31.H29', subsystemCode: 'dvc' }, 'test');
      const end = Date.now() + 15_000;
      while ((await scheduled.generator.latest())!.version === atStart && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      expect((await scheduled.generator.latest())!.version).toBe(atStart + 1);
      expect((await servedConf()).hasSubsystem({ instance: INSTANCE, memberClass: 'PROV', memberCode: '000.00.31.H29', subsystemCode: 'dvc' })).toBe(true);
    } finally {
      await scheduled.stop();
    }
  });
});
