/**
 * Registration on a real platform: certificates from our CA (agency-signing, agency-auth) and OCSP
 * responses from our responder. A valid request waits pending, is approved and shows in the next
 * configuration; each refusal carries its code, is audited and published.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { OcspResponder } from '../../../src/pki/ocsp/index.js';
import { revoke } from '../../../src/pki/index.js';
import { GlobalConf, sha256Hex, verifySignedDirectory, type SharedParameters } from '../../../src/exchange/conf/index.js';
import { searchAudit } from '../../../src/audit/index.js';
import { CentralServer } from '../../../src/exchange/central/index.js';
import { testDatabaseUrls } from '../../helpers/db.js';
import { createPrivateKey, sign as nodeSign, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildRegistrationRequest } from '../../../src/exchange/conf/index.js';
import { openssl, tmp } from '../../helpers/openssl.js';
import { world, issueKey, OCSP_OPTS, INSTANCE, type World, type Agency } from './fixture.js';

async function latestConf(w: World): Promise<GlobalConf> {
  const v = await w.central.generator.generate();
  expect(v).not.toBeNull();
  const { directory } = verifySignedDirectory(await w.central.generator.signedDirectory(), [w.central.signingCertificate()]);
  const shared = JSON.parse((await w.central.generator.part(directory.parts.find((x) => x.name === 'shared-params')!.hash))!.toString()) as SharedParameters;
  return new GlobalConf(shared, directory);
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; reason?: unknown }> {
  try {
    await p;
  } catch (e: any) {
    return { code: e.code, reason: e.detail?.reason };
  }
  throw new Error('expected a refusal');
}

for (const { name, url } of testDatabaseUrls()) {
  describe(`registration on ${name}`, () => {
    let w: World;
    let vpcp: Agency;
    let bnv: Agency;

    beforeAll(async () => {
      w = await world(await url());
      vpcp = await w.agency('GOV', '000.00.00.G22', 'Văn phòng Chính phủ');
      bnv = await w.agency('GOV', '000.00.00.G09', 'Bộ Nội vụ');
      await w.central.registry.addSubsystem({ memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: 'vanthu' }, 'test');
    });
    afterAll(async () => {
      await w?.close();
    });

    it('accepts a valid auth-cert request as pending, approves it, and the next configuration names the server and its certificate hash', async () => {
      const req = await w.request(vpcp, { type: 'auth-cert' });
      const r = await w.central.registration.submit(req, { ip: '192.0.2.1' });
      expect(r.status).toBe('pending');
      expect((await w.central.registration.list('pending')).map((x) => x.id)).toContain(r.id);
      // pending changes nothing in the configuration
      const before = await latestConf(w);
      expect(before.serverByAuthCert(sha256Hex(vpcp.auth.certificate))).toBeUndefined();

      const approved = await w.central.registration.approve(r.id, 'operator');
      expect(approved).toMatchObject({ status: 'approved', decidedBy: 'operator' });
      const conf = await latestConf(w);
      expect(conf.version).toBeGreaterThan(before.version);
      const server = conf.serverByAuthCert(sha256Hex(vpcp.auth.certificate));
      expect(server?.id).toEqual({ instance: INSTANCE, memberClass: 'GOV', memberCode: '000.00.00.G22', serverCode: 'ss1' });
      expect(server?.address).toBe('ss1.000.00.00.g22.example:5500');

      const audit = await searchAudit(w.p.db, { action: 'central.registration.approve', limit: 1000 });
      expect(audit.some((a: any) => a.target === r.id && a.outcome === 'success')).toBe(true);
      expect(w.p.events.some((e) => e.subject === 'truc.exchange.central.registration.received')).toBe(true);
      expect(w.p.events.some((e) => e.subject === 'truc.exchange.central.registration.approve')).toBe(true);
      // approving twice is refused
      expect((await refusal(w.central.registration.approve(r.id, 'operator'))).code).toBe('conflict');
    });

    it('registers a client, puts the server in maintenance, changes its address; each shows in the configuration', async () => {
      const client = await w.central.registration.submit(await w.request(vpcp, { type: 'client', client: { memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: 'vanthu' } }));
      await w.central.registration.approve(client.id, 'operator');
      const m = await w.central.registration.submit(await w.request(vpcp, { type: 'maintenance', maintenance: true }));
      await w.central.registration.approve(m.id, 'operator');
      const a = await w.central.registration.submit(await w.request(vpcp, { type: 'address-change', address: 'ss1-new.vpcp.example:5500' }));
      await w.central.registration.approve(a.id, 'operator');
      const conf = await latestConf(w);
      const sub = { instance: INSTANCE, memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: 'vanthu' };
      const sid = { instance: INSTANCE, memberClass: 'GOV', memberCode: '000.00.00.G22', serverCode: 'ss1' };
      expect(conf.isClientOf(sid, sub)).toBe(true);
      expect(conf.server(sid)).toMatchObject({ maintenance: true, address: 'ss1-new.vpcp.example:5500' });
      expect(conf.server(sid)?.maintenanceMessage).toBeUndefined();

      // with a message for the clients: trimmed, in the configuration while in maintenance, gone once out of it
      const say = async (extra: Record<string, unknown>) => w.central.registration.submit(await w.request(vpcp, { type: 'maintenance', ...extra }));
      const withMessage = await say({ maintenance: true, maintenanceMessage: '  Nâng cấp hệ thống đến 22:00 / upgrade until 22:00 ' });
      await w.central.registration.approve(withMessage.id, 'operator');
      expect((await latestConf(w)).server(sid)?.maintenanceMessage).toBe('Nâng cấp hệ thống đến 22:00 / upgrade until 22:00');
      // refused before it is stored: too long, several lines, empty, with maintenance off, on another request type
      for (const extra of [
        { maintenance: true, maintenanceMessage: 'x'.repeat(256) },
        { maintenance: true, maintenanceMessage: 'dòng một\ndòng hai' },
        { maintenance: true, maintenanceMessage: '   ' },
        { maintenance: true, maintenanceMessage: 42 },
        { maintenance: false, maintenanceMessage: 'xong' },
      ])
        expect(await refusal(say(extra)), JSON.stringify(extra)).toMatchObject({ code: 'registration_invalid', reason: 'malformed' });
      expect(await refusal(w.central.registration.submit(await w.request(vpcp, { type: 'address-change', address: 'x.example:1', maintenanceMessage: 'x' })))).toMatchObject({ code: 'registration_invalid', reason: 'malformed' });
      expect((await say({ maintenance: true, maintenanceMessage: 'ơ'.repeat(255) })).status).toBe('pending');
      const off = await say({ maintenance: false });
      await w.central.registration.approve(off.id, 'operator');
      const afterOff = (await latestConf(w)).server(sid);
      expect([afterOff?.maintenance, afterOff?.maintenanceMessage]).toEqual([undefined, undefined]);

      // a subsystem not registered yet is created when its client registration is approved
      const fresh = await w.central.registration.submit(await w.request(vpcp, { type: 'client', client: { memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: 'hoso' } }));
      await w.central.registration.approve(fresh.id, 'operator');
      const withNew = await latestConf(w);
      expect(withNew.hasSubsystem({ ...sub, subsystemCode: 'hoso' })).toBe(true);
      expect(withNew.isClientOf(sid, { ...sub, subsystemCode: 'hoso' })).toBe(true);
      // the same client twice is refused before it waits for an operator
      expect(await refusal(w.central.registration.submit(await w.request(vpcp, { type: 'client', client: { memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: 'hoso' } })))).toEqual({
        code: 'registration_invalid',
        reason: 'duplicate',
      });

      const del = await w.central.registration.submit(await w.request(vpcp, { type: 'client-deletion', client: { memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: 'vanthu' } }));
      await w.central.registration.approve(del.id, 'operator');
      expect((await latestConf(w)).isClientOf(sid, sub)).toBe(false);
    });

    it('makes a subsystem of another member a client only with that member’s signature', async () => {
      const hoso = { memberClass: 'GOV', memberCode: '000.00.00.G09', subsystemCode: 'hoso' };
      expect(await refusal(w.central.registration.submit(await w.request(vpcp, { type: 'client', client: hoso })))).toEqual({ code: 'registration_invalid', reason: 'client_signature_missing' });
      // signed by a third member instead of the client's
      const third = await w.agency('GOV', '000.00.00.G07', 'Bộ Xây dựng');
      expect(await refusal(w.central.registration.submit(await w.request(vpcp, { type: 'client', client: hoso, clientSigning: await w.signer(third.signing) })))).toEqual({
        code: 'registration_invalid',
        reason: 'wrong_owner',
      });
      // a consent over other bytes does not count
      const consented = await w.request(vpcp, { type: 'client', client: hoso, clientSigning: await w.signer(bnv.signing) });
      const otherBytes = await w.request(vpcp, { type: 'client', client: hoso, clientSigning: await w.signer(bnv.signing) });
      expect(await refusal(w.central.registration.submit({ ...consented, clientSignature: otherBytes.clientSignature }))).toEqual({ code: 'registration_invalid', reason: 'bad_signature' });
      const r = await w.central.registration.submit(consented);
      expect(r.status).toBe('pending');
      await w.central.registration.approve(r.id, 'operator');
      expect((await latestConf(w)).isClientOf({ instance: INSTANCE, memberClass: 'GOV', memberCode: '000.00.00.G22', serverCode: 'ss1' }, { instance: INSTANCE, ...hoso })).toBe(true);
      // the owner's own subsystem needs no second signature, and carrying one is refused as malformed
      const own = await w.request(vpcp, { type: 'client', client: { memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: 'ketoan' }, clientSigning: await w.signer(vpcp.signing) });
      expect(await refusal(w.central.registration.submit(own))).toEqual({ code: 'registration_invalid', reason: 'malformed' });
    });

    it('rejects with a reason on the operator’s word, and the request stays rejected', async () => {
      const r = await w.central.registration.submit(await w.request(bnv, { type: 'auth-cert' }));
      const rej = await w.central.registration.reject(r.id, 'operator', 'không đúng máy chủ (wrong server)');
      expect(rej).toMatchObject({ status: 'rejected', reason: 'không đúng máy chủ (wrong server)' });
      expect((await refusal(w.central.registration.approve(r.id, 'operator'))).code).toBe('conflict');
      expect((await w.central.registration.get(r.id))?.status).toBe('rejected');
    });

    it('refuses a proof of possession not made with the authentication key', async () => {
      const req = await w.request(bnv, { type: 'auth-cert' });
      // signed by the signing key instead of the authentication key
      const forged = { ...req, proofOfPossession: (await bnv.signing.sign(Buffer.from(req.payload, 'base64'))).toString('base64') };
      expect(await refusal(w.central.registration.submit(forged))).toEqual({ code: 'registration_invalid', reason: 'bad_proof_of_possession' });
    });

    it('refuses a payload altered after signing', async () => {
      const req = await w.request(bnv, { type: 'auth-cert' });
      const payload = JSON.parse(Buffer.from(req.payload, 'base64').toString());
      payload.address = 'evil.example:5500';
      const keys = Object.keys(payload).sort();
      const canonical = `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(payload[k])}`).join(',')}}`;
      const altered = { ...req, payload: Buffer.from(canonical).toString('base64') };
      expect(await refusal(w.central.registration.submit(altered))).toEqual({ code: 'registration_invalid', reason: 'bad_signature' });
    });

    it('refuses a signing certificate that names another member (wrong owner), and one naming none', async () => {
      const other = await w.agency('GOV', '000.00.00.G01', 'Bộ Ngoại giao');
      const mixed = { ...bnv, signing: other.signing };
      expect(await refusal(w.central.registration.submit(await w.request(mixed, { type: 'auth-cert' })))).toEqual({ code: 'registration_invalid', reason: 'wrong_owner' });
      const nameless = await w.agency('GOV', '000.00.00.G02', 'Bộ Quốc phòng', { serialNumber: null });
      expect(await refusal(w.central.registration.submit(await w.request(nameless, { type: 'auth-cert' })))).toEqual({ code: 'registration_invalid', reason: 'wrong_owner' });
    });

    it('refuses a revoked signing certificate and a revoked authentication certificate', async () => {
      const a = await w.agency('PROV', '000.00.31.H29', 'UBND Thành phố Hồ Chí Minh');
      await revoke(w.p.pki, { serial: a.auth.serial, reason: 'keyCompromise' }, 'test');
      expect(await refusal(w.central.registration.submit(await w.request(a, { type: 'auth-cert' })))).toMatchObject({ code: 'cert_revoked' });
      await revoke(w.p.pki, { serial: a.signing.serial, reason: 'keyCompromise' }, 'test');
      expect(await refusal(w.central.registration.submit(await w.request(a, { type: 'maintenance', maintenance: true })))).toMatchObject({ code: 'cert_revoked' });
    });

    it('refuses an OCSP response older than the freshness limit, and one about another certificate', async () => {
      // a central process whose clock is two hours ahead sees the responder's answers (valid four hours) as
      // two hours old: still before their nextUpdate, so only the freshness limit (3,600 s) refuses them
      const ahead = () => new Date(Date.now() + 2 * 3600_000);
      const slow = new OcspResponder(w.p.pki, w.p.issuer, { ...OCSP_OPTS, validityMinutes: 240 });
      await slow.start();
      const later = await CentralServer.open({ db: w.p.db, keys: w.p.keys, bus: w.p.bus, instance: INSTANCE, clock: ahead });
      try {
        const a = await w.agency('GOV', '000.00.00.G03', 'Bộ Công an');
        const req = await w.request(a, { type: 'auth-cert', signing: await w.signer(a.signing, slow), auth: await w.signer(a.auth, slow), now: ahead() });
        expect(await refusal(later.registration.submit(req))).toMatchObject({ code: 'ocsp_stale' });
        // the same request is fresh for the central server on time
        const onTime = await w.request(a, { type: 'auth-cert', signing: await w.signer(a.signing, slow), auth: await w.signer(a.auth, slow) });
        expect((await w.central.registration.submit(onTime)).status).toBe('pending');
        // an OCSP response for another certificate is no evidence
        const wrong = { ...(await w.request(a, { type: 'auth-cert' })), signingOcsp: (await w.ocspFor(a.auth.certificate)).toString('base64') };
        expect(await refusal(w.central.registration.submit(wrong))).toMatchObject({ code: 'ocsp_stale' });
      } finally {
        await slow.stop();
      }
    });

    it('refuses a certificate used for what it is not for, one from a CA not approved, and a forged OCSP response', async () => {
      const a = await w.agency('GOV', '000.00.00.G06', 'Bộ Y tế');
      // an authentication certificate naming the member, presented as the signing certificate: no nonRepudiation
      const authAsSigning = await issueKey(w.p, 'agency-auth', [
        { type: 'C', value: 'VN' },
        { type: 'O', value: 'Bộ Y tế' },
        { type: 'CN', value: 'ss.bo-y-te.example' },
        { type: 'serialNumber', value: `${INSTANCE}/GOV/000.00.00.G06` },
      ]);
      expect(await refusal(w.central.registration.submit(await w.request({ ...a, signing: authAsSigning }, { type: 'auth-cert' })))).toEqual({ code: 'cert_invalid', reason: 'key_usage' });
      // the signing certificate as authentication certificate: no TLS usages
      expect(await refusal(w.central.registration.submit(await w.request({ ...a, auth: a.signing }, { type: 'auth-cert' })))).toMatchObject({ code: 'cert_invalid' });
      // self-signed, naming the member: no path to an approved CA
      const dir = tmp();
      const keyPath = join(dir, 'k.pem');
      const certPath = join(dir, 'c.pem');
      openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '30', '-subj', `/C=VN/O=Bộ Y tế/CN=giả mạo/serialNumber=${INSTANCE}\\/GOV\\/000.00.00.G06`, '-utf8', '-addext', 'keyUsage=critical,digitalSignature,nonRepudiation']);
      const key = createPrivateKey(readFileSync(keyPath));
      const self = { sign: async (d: Buffer) => nodeSign('sha256', d, key), scheme: 'ecdsa-sha256' as const, certificate: new X509Certificate(readFileSync(certPath)).raw, serial: '', ref: { store: 'none', id: '' } };
      const forged = await buildRegistrationRequest({
        type: 'maintenance',
        instance: INSTANCE,
        server: { memberClass: 'GOV', memberCode: '000.00.00.G06', serverCode: 'ss1' },
        maintenance: true,
        signing: { ...self, ocsp: await w.ocspFor(a.signing.certificate) },
      });
      expect(await refusal(w.central.registration.submit(forged))).toEqual({ code: 'cert_invalid', reason: 'no_path' });
      // an OCSP response whose signature was altered is no evidence
      const req = await w.request(a, { type: 'auth-cert' });
      const ocsp = Buffer.from(req.signingOcsp, 'base64');
      ocsp[ocsp.length - 1] ^= 0x01;
      expect(await refusal(w.central.registration.submit({ ...req, signingOcsp: ocsp.toString('base64') }))).toMatchObject({ code: 'ocsp_stale' });
    });

    it('refuses an unknown member', async () => {
      const stranger = await w.agency('GOV', '000.00.00.G99', 'Cơ quan chưa đăng ký', { register: false });
      expect(await refusal(w.central.registration.submit(await w.request(stranger, { type: 'auth-cert' })))).toMatchObject({ code: 'unknown_member' });
    });

    it('refuses a replayed request id, and a request made too long ago or in the future', async () => {
      const a = await w.agency('GOV', '000.00.00.G04', 'Bộ Tài chính');
      const req = await w.request(a, { type: 'auth-cert' });
      expect((await w.central.registration.submit(req)).status).toBe('pending');
      expect(await refusal(w.central.registration.submit(req))).toEqual({ code: 'registration_invalid', reason: 'replay' });
      const old = await w.request(a, { type: 'address-change', address: 'x.example:1', now: new Date(Date.now() - 10 * 60_000) });
      expect(await refusal(w.central.registration.submit(old))).toEqual({ code: 'registration_invalid', reason: 'bad_time' });
      const future = await w.request(a, { type: 'address-change', address: 'x.example:1', now: new Date(Date.now() + 10 * 60_000) });
      expect(await refusal(w.central.registration.submit(future))).toEqual({ code: 'registration_invalid', reason: 'bad_time' });
    });

    it('audits and publishes refusals with their code', async () => {
      const stranger = await w.agency('GOV', '000.00.00.G98', 'Không đăng ký', { register: false });
      w.p.events.length = 0;
      await refusal(w.central.registration.submit(await w.request(stranger, { type: 'auth-cert' })));
      const ev = w.p.events.find((e) => e.subject === 'truc.exchange.central.registration.submit.refused');
      expect(ev?.event.event.outcome).toBe('failure');
      expect(ev?.event.truc).toMatchObject({ code: 'unknown_member' });
      const audit = await searchAudit(w.p.db, { action: 'central.registration.submit', limit: 1000 });
      expect(audit.some((a: any) => a.outcome === 'failure' && a.detail?.code === 'unknown_member')).toBe(true);
    });

    it('refuses hostile envelopes with registration_invalid, never a crash', async () => {
      for (const body of [null, [], 'x', { payload: 'not base64!' }, { payload: Buffer.from('{"a":1}').toString('base64') }, { payload: 'e30=', extra: 1 }, { payload: Buffer.from('x'.repeat(20000)).toString('base64') }])
        expect((await refusal(w.central.registration.submit(body))).code).toBe('registration_invalid');
      const req = await w.request(bnv, { type: 'auth-cert' });
      const spaced = { ...req, payload: Buffer.from(JSON.stringify(JSON.parse(Buffer.from(req.payload, 'base64').toString()), null, 1)).toString('base64') };
      expect(await refusal(w.central.registration.submit(spaced))).toEqual({ code: 'registration_invalid', reason: 'malformed' });
    });

    it('approves valid requests at once when autoApprove is set', async () => {
      await w.central.registry.setSettings({ autoApprove: true }, 'test');
      try {
        const a = await w.agency('GOV', '000.00.00.G05', 'Bộ Tư pháp');
        const r = await w.central.registration.submit(await w.request(a, { type: 'auth-cert' }));
        expect(r.status).toBe('approved');
        expect((await latestConf(w)).serverByAuthCert(sha256Hex(a.auth.certificate))?.serverCode).toBe('ss1');
        // and deletes the authentication certificate the same way
        const d = await w.central.registration.submit(await w.request(a, { type: 'auth-cert-deletion' }));
        expect(d.status).toBe('approved');
        expect((await latestConf(w)).serverByAuthCert(sha256Hex(a.auth.certificate))).toBeUndefined();
      } finally {
        await w.central.registry.setSettings({ autoApprove: false }, 'test');
      }
    });
  });
}
