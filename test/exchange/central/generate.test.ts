/**
 * Generation of the global configuration: signed, versioned, regenerated only when due; served over HTTP
 * with immutable parts; the management API behind its roles; and two central processes on one PostgreSQL
 * never publishing the same version twice.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../src/http/app.js';
import { createToken } from '../../../src/http/auth/store.js';
import { openDb } from '../../../src/store/index.js';
import { CentralServer } from '../../../src/exchange/central/index.js';
import { anchorBytes, parseAnchor, parseDirectory, sha512Hex, verifySignedDirectory, type SharedParameters, type PrivateParameters } from '../../../src/exchange/conf/index.js';
import { testDatabaseUrls, freshPostgresUrl, postgresWanted } from '../../helpers/db.js';
import { toPem } from '../../../src/asn1/der.js';
import { world, issueKey, INSTANCE, type World } from './fixture.js';

for (const { name, url } of testDatabaseUrls()) {
  describe(`configuration generation on ${name}`, () => {
    let w: World;
    let app: FastifyInstance;
    let admin: string;
    let auditor: string;

    beforeAll(async () => {
      w = await world(await url(), { registrationUrl: 'https://central.truc.example/central/register', centralTlsCertHash: 'ab'.repeat(32) });
      await w.central.registry.addMember({ memberClass: 'GOV', memberCode: '000.00.00.G22', name: 'Văn phòng Chính phủ' }, 'test');
      app = await buildApp(w.p, { central: w.central });
      admin = (await createToken(w.p.db, 'central-op', ['central-admin'])).token;
      auditor = (await createToken(w.p.db, 'auditor', ['auditor'])).token;
    });
    afterAll(async () => {
      await app?.close();
      await w?.close();
    });

    it('signs the directory with the configuration-signing key; the parts hash to what it says', async () => {
      const v = (await w.central.generator.generate())!;
      expect(v.version).toBe(1);
      const signed = await w.central.generator.signedDirectory();
      const { directory } = verifySignedDirectory(signed, [w.central.signingCertificate()]);
      expect(directory).toMatchObject({ instance: INSTANCE, version: 1 });
      expect(Date.parse(directory.expiresAt) - Date.parse(directory.generatedAt)).toBe(600_000);
      const shared = directory.parts.find((p) => p.name === 'shared-params')!;
      const bytes = (await w.central.generator.part(shared.hash))!;
      expect(sha512Hex(bytes)).toBe(shared.hash);
      const sp = JSON.parse(bytes.toString()) as SharedParameters;
      expect(sp.members.map((m) => m.memberCode)).toContain('000.00.00.G22');
      expect(sp.approvedCAs[0]).toMatchObject({ name: 'root', memberFromCert: 'subject-serialNumber' });
      expect(sp.approvedCAs[0].intermediates.length).toBeGreaterThan(0);
      expect(sp.settings).toEqual({ ocspFreshnessSeconds: 3600, refreshSeconds: 60 });
      const priv = JSON.parse((await w.central.generator.part(directory.parts.find((p) => p.name === 'private-params')!.hash))!.toString()) as PrivateParameters;
      expect(priv).toMatchObject({ registrationUrl: 'https://central.truc.example/central/register', centralTlsCertHash: 'ab'.repeat(32) });
      // an anchor naming another certificate does not accept it
      expect(() => verifySignedDirectory(signed, [w.issuing.certificate])).toThrow(/anchor does not name/);
    });

    it('generates only when something changed or half the validity is used', async () => {
      const first = (await w.central.generator.latest())!;
      expect(await w.central.generator.generate()).toBeNull();
      await w.central.registry.addSubsystem({ memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: 'vanthu' }, 'test');
      const changed = (await w.central.generator.generate())!;
      expect(changed.version).toBe(first.version + 1);
      expect(await w.central.generator.generate()).toBeNull();
      // a process whose clock is past half the validity regenerates with nothing changed
      const later = await CentralServer.open({ db: w.p.db, keys: w.p.keys, bus: w.p.bus, instance: INSTANCE, clock: () => new Date(changed.generatedAt.getTime() + 301_000) });
      expect((await later.generator.generate())!.version).toBe(changed.version + 1);
      expect(w.p.events.some((e) => e.subject === 'truc.exchange.central.conf.generated')).toBe(true);
    });

    it('serves the directory and immutable parts over HTTP, publicly', async () => {
      const d = await app.inject({ method: 'GET', url: `/conf/${INSTANCE}/directory` });
      expect(d.statusCode).toBe(200);
      const signed = d.json();
      const { directory } = verifySignedDirectory(signed, [w.central.signingCertificate()]);
      const part = await app.inject({ method: 'GET', url: `/conf/${INSTANCE}/${directory.parts[0].path}` });
      expect(part.statusCode).toBe(200);
      expect(part.headers['cache-control']).toContain('immutable');
      expect(sha512Hex(part.rawPayload)).toBe(directory.parts[0].hash);
      expect((await app.inject({ method: 'GET', url: `/conf/XX/directory` })).statusCode).toBe(404);
      expect((await app.inject({ method: 'GET', url: `/conf/${INSTANCE}/parts/${'0'.repeat(128)}` })).json().code).toBe('not_found');
      expect((await app.inject({ method: 'GET', url: `/conf/${INSTANCE}/parts/..%2f..%2fetc` })).statusCode).toBe(404);
    });

    it('exports an anchor that parses back, and refuses malformed anchors', async () => {
      const anchor = await w.central.exportAnchor('http://127.0.0.1:9999/');
      const back = parseAnchor(anchorBytes(anchor));
      expect(back.sources[0].url).toBe(`http://127.0.0.1:9999/conf/${INSTANCE}`);
      expect(Buffer.from(back.sources[0].verificationCerts[0], 'base64')).toEqual(w.central.signingCertificate());
      for (const bad of ['', '[]', '{"instance":"VN"}', JSON.stringify({ ...anchor, sources: [{ url: 'ftp://x', verificationCerts: anchor.sources[0].verificationCerts }] }), JSON.stringify({ ...anchor, sources: [{ url: 'http://x', verificationCerts: ['AAAA'] }] }), 'x'.repeat(300_000)])
        expect(() => parseAnchor(bad)).toThrow(/configuration anchor/);
    });

    it('management API: central-admin manages, auditor reads only, strangers are refused', async () => {
      const as = (token: string) => ({ authorization: `Bearer ${token}` });
      const add = await app.inject({ method: 'POST', url: '/api/v1/central/members', headers: as(admin), payload: { memberClass: 'GOV', memberCode: '000.00.00.G09', name: 'Bộ Nội vụ' } });
      expect(add.statusCode).toBe(201);
      const dup = await app.inject({ method: 'POST', url: '/api/v1/central/members', headers: as(admin), payload: { memberClass: 'GOV', memberCode: '000.00.00.G09', name: 'Bộ Nội vụ' } });
      expect(dup.json().code).toBe('conflict');
      const badClass = await app.inject({ method: 'POST', url: '/api/v1/central/members', headers: as(admin), payload: { memberClass: 'XYZ', memberCode: '1', name: 'x' } });
      expect(badClass.json().code).toBe('bad_identifier');
      const badCode = await app.inject({ method: 'POST', url: '/api/v1/central/members', headers: as(admin), payload: { memberClass: 'GOV', memberCode: 'a/b', name: 'x' } });
      expect(badCode.json().code).toBe('bad_identifier');
      expect((await app.inject({ method: 'GET', url: '/api/v1/central/members', headers: as(auditor) })).json().map((m: any) => m.memberCode)).toContain('000.00.00.G09');
      expect((await app.inject({ method: 'POST', url: '/api/v1/central/members', headers: as(auditor), payload: { memberClass: 'GOV', memberCode: 'X1', name: 'x' } })).statusCode).toBe(403);
      expect((await app.inject({ method: 'GET', url: '/api/v1/central/requests' })).statusCode).toBe(401);
      const sub = await app.inject({ method: 'POST', url: '/api/v1/central/subsystems', headers: as(admin), payload: { memberClass: 'GOV', memberCode: '000.00.00.G09', subsystemCode: 'hoso' } });
      expect(sub.statusCode).toBe(201);
      expect((await app.inject({ method: 'POST', url: '/api/v1/central/groups', headers: as(admin), payload: { code: 'bo-nganh', description: 'Bộ, ngành' } })).statusCode).toBe(201);
      expect(
        (await app.inject({ method: 'POST', url: '/api/v1/central/groups/bo-nganh/members', headers: as(admin), payload: { memberClass: 'GOV', memberCode: '000.00.00.G09', subsystemCode: 'hoso' } })).statusCode,
      ).toBe(201);
      // a CA approved from PEM, a TSA from its certificate; bad input refused
      const pem = toPem('CERTIFICATE', w.issuing.certificate);
      const ca = await app.inject({ method: 'POST', url: '/api/v1/central/cas', headers: as(admin), payload: { name: 'issuing-direct', certificate: pem, ocspUrls: ['http://ocsp.truc.example/ocsp'] } });
      expect(ca.statusCode, ca.body).toBe(201);
      expect((await app.inject({ method: 'POST', url: '/api/v1/central/cas', headers: as(admin), payload: { name: 'x', certificate: pem, ocspUrls: ['ftp://x'] } })).json().code).toBe('bad_request');
      const tsaKey = await issueKey(w.p, 'time-stamping', [
        { type: 'C', value: 'VN' },
        { type: 'O', value: 'Trục' },
        { type: 'CN', value: 'TSA' },
      ]);
      const leafAsCa = await app.inject({ method: 'POST', url: '/api/v1/central/cas', headers: as(admin), payload: { name: 'leaf', certificate: tsaKey.certificate.toString('base64'), ocspUrls: ['http://o.example'] } });
      expect(leafAsCa.json().code).toBe('cert_invalid');
      const tsa = await app.inject({ method: 'POST', url: '/api/v1/central/tsas', headers: as(admin), payload: { name: 'TSA Trục', url: 'http://tsa.truc.example/tsa', certificate: toPem('CERTIFICATE', tsaKey.certificate) } });
      expect(tsa.statusCode, tsa.body).toBe(201);
      expect((await app.inject({ method: 'POST', url: '/api/v1/central/tsas', headers: as(admin), payload: { name: 'bad', url: 'http://t.example', certificate: 'bm90IGEgY2VydA==' } })).json().code).toBe('malformed_der');
      const monitoringClient = { memberClass: 'GOV', memberCode: '000.00.00.G09', subsystemCode: 'giamsat' };
      const settings = await app.inject({ method: 'PATCH', url: '/api/v1/central/settings', headers: as(admin), payload: { ocspFreshnessSeconds: 1800, monitoringClient } });
      expect(settings.json()).toMatchObject({ ocspFreshnessSeconds: 1800, monitoringClient });
      // the central monitoring client is a subsystem's identifier, each part checked
      const badClient = await app.inject({ method: 'PATCH', url: '/api/v1/central/settings', headers: as(admin), payload: { monitoringClient: { memberClass: 'GOV', memberCode: '000.00.00.G09' } } });
      expect(badClient.json().code).toBe('bad_identifier');
      expect((await app.inject({ method: 'PATCH', url: '/api/v1/central/settings', headers: as(admin), payload: { bogus: 1 } })).json().code).toBe('bad_request');
      const gen = await app.inject({ method: 'POST', url: '/api/v1/central/configuration/generate', headers: as(admin) });
      expect(gen.statusCode).toBe(200);
      const status = (await app.inject({ method: 'GET', url: '/api/v1/central/configuration', headers: as(auditor) })).json();
      expect(status.version).toBe(gen.json().version);
      const { directory } = verifySignedDirectory((await app.inject({ method: 'GET', url: `/conf/${INSTANCE}/directory` })).json(), [w.central.signingCertificate()]);
      const shared = JSON.parse((await w.central.generator.part(directory.parts[0].hash))!.toString()) as SharedParameters;
      expect(shared.globalGroups).toEqual([{ code: 'bo-nganh', description: 'Bộ, ngành', members: [{ memberClass: 'GOV', memberCode: '000.00.00.G09', subsystemCode: 'hoso' }] }]);
      expect(shared.settings).toMatchObject({ ocspFreshnessSeconds: 1800, monitoringClient });
      expect(shared.approvedCAs.map((c) => c.name)).toEqual(['issuing-direct', 'root']);
      expect(shared.approvedTSAs).toEqual([{ name: 'TSA Trục', url: 'http://tsa.truc.example/tsa', certificate: tsaKey.certificate.toString('base64') }]);
      const anchor = await app.inject({ method: 'GET', url: '/api/v1/central/anchor', headers: as(auditor) });
      expect(parseAnchor(anchor.body).instance).toBe(INSTANCE);

      // removals: a directly registered server, a group member, the extra CA, the TSA
      const srv = await app.inject({ method: 'POST', url: '/api/v1/central/servers', headers: as(admin), payload: { memberClass: 'GOV', memberCode: '000.00.00.G09', serverCode: 'ss9', address: 'ss9.bnv.example:5500' } });
      expect(srv.statusCode, srv.body).toBe(201);
      expect((await app.inject({ method: 'POST', url: '/api/v1/central/servers', headers: as(admin), payload: { memberClass: 'GOV', memberCode: '000.00.00.G09', serverCode: 'ss9', address: 'bad address' } })).json().code).toBe('bad_request');
      const del = (url: string) => app.inject({ method: 'DELETE', url, headers: as(admin) });
      expect((await del('/api/v1/central/servers/GOV/000.00.00.G09/ss9')).statusCode).toBe(204);
      expect((await del('/api/v1/central/servers/GOV/000.00.00.G09/ss9')).json().code).toBe('not_found');
      expect((await del('/api/v1/central/groups/bo-nganh/members/GOV/000.00.00.G09/hoso')).statusCode).toBe(204);
      expect((await del('/api/v1/central/cas/issuing-direct')).statusCode).toBe(204);
      expect((await del(`/api/v1/central/tsas/${encodeURIComponent('TSA Trục')}`)).statusCode).toBe(204);
      expect((await app.inject({ method: 'DELETE', url: '/api/v1/central/cas/root', headers: as(auditor) })).statusCode).toBe(403);
      await w.central.generator.generate();
      const { directory: d2 } = verifySignedDirectory(await w.central.generator.signedDirectory(), [w.central.signingCertificate()]);
      const after = JSON.parse((await w.central.generator.part(d2.parts[0].hash))!.toString()) as SharedParameters;
      expect(after.securityServers.map((x) => x.serverCode)).not.toContain('ss9');
      expect(after.globalGroups[0].members).toEqual([]);
      expect(after.approvedCAs.map((c) => c.name)).toEqual(['root']);
      expect(after.approvedTSAs).toEqual([]);
    });
  });
}

describe.runIf(postgresWanted())('two central processes on one PostgreSQL', () => {
  it('generate concurrently without a duplicate or a skipped version, only what is due; approve a request once', async () => {
    const w = await world(await freshPostgresUrl());
    const url2 = (w.p.config.database as { url: string }).url;
    const db2 = await openDb({ url: url2 });
    try {
      const second = await CentralServer.open({ db: db2, keys: w.p.keys, bus: w.p.bus, instance: INSTANCE });
      // both use the signing key the first stored
      expect(second.signingCertificate()).toEqual(w.central.signingCertificate());
      const versions: number[] = [];
      for (let round = 0; round < 5; round++) {
        await w.central.registry.addMember({ memberClass: 'GOV', memberCode: `000.00.00.G${10 + round}`, name: `Bộ ${round}` }, 'test');
        const out = await Promise.all([w.central.generator.generate(), second.generator.generate(), w.central.generator.generate(), second.generator.generate()]);
        const made = out.filter((v) => v !== null);
        expect(made).toHaveLength(1); // one change, one version, whoever got the lock
        versions.push(made[0]!.version);
      }
      expect(versions).toEqual([1, 2, 3, 4, 5]);
      const forced = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? second : w.central).generator.generate({ force: true })));
      expect(forced.map((v) => v!.version).sort((a, b) => a - b)).toEqual([6, 7, 8, 9, 10, 11]);
      const rows = await w.p.db.query<{ n: string }>('SELECT count(DISTINCT version) AS n FROM xc_conf_version');
      expect(Number(rows[0].n)).toBe(11);
      // one pending request approved by both processes at once: exactly one approval applies it
      const vpcp = await w.agency('GOV', '000.00.00.G22', 'Văn phòng Chính phủ');
      const { id } = await w.central.registration.submit(await w.request(vpcp, { type: 'auth-cert' }));
      const both = await Promise.allSettled([w.central.registration.approve(id, 'op-a'), second.registration.approve(id, 'op-b')]);
      expect(both.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(both.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(['conflict']);
      expect(await w.p.db.query('SELECT hash FROM xc_server_auth_cert')).toHaveLength(1);
      // every version's directory parses and says its own number
      for (const r of await w.p.db.query<{ version: string; directory: Buffer }>('SELECT version, directory FROM xc_conf_version'))
        expect(parseDirectory(Buffer.from(r.directory)).version).toBe(Number(r.version));
    } finally {
      await db2.close();
      await w.close();
    }
  });
});
