/**
 * The responder in process: statuses, revocation propagating with no stale "good", the pre-signed fast
 * path, nonces, error statuses, events for the monitor, responder certificates kept across restarts,
 * CA-signed mode, and changes made by another process picked up by polling.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicOCSPResponse, OCSPResponse } from '@peculiar/asn1-ocsp';
import { OcspResponder, type OcspOptions } from '../../../src/pki/ocsp/index.js';
import { getCa, release, revoke, type CaRow, type Issued } from '../../../src/pki/index.js';
import { buildOcspRequest, validatePath } from '../../../src/pki/path/index.js';
import { InProcessBus } from '../../../src/bus/index.js';
import { testDatabaseUrls } from '../../helpers/db.js';
import { testPlatform, type TestPlatform } from '../../helpers/platform.js';
import { opensslCsr, tmp } from '../../helpers/openssl.js';

const OPTS: OcspOptions = { validityMinutes: 60, refreshBeforeMinutes: 10, signWith: 'delegated', pollSeconds: 0.2 };

function parse(der: Buffer) {
  const r = AsnConvert.parse(der, OCSPResponse);
  if (r.responseStatus !== 0) return { status: r.responseStatus as number, basic: null };
  return { status: 0, basic: AsnConvert.parse(r.responseBytes!.response.buffer, BasicOCSPResponse) };
}

function certStatus(der: Buffer, i = 0): string {
  const { basic } = parse(der);
  const s = basic!.tbsResponseData.responses[i].certStatus;
  return s.good !== undefined ? 'good' : s.revoked ? `revoked:${s.revoked.revocationReason?.reason ?? '-'}` : 'unknown';
}

for (const { name, url } of testDatabaseUrls()) {
  describe(`OCSP responder on ${name}`, () => {
    let p: TestPlatform;
    let r: OcspResponder;
    let issuing: CaRow;
    let root: CaRow;
    const dir = tmp();
    const issue = async (cn: string): Promise<Issued> =>
      p.issuer.issue({ profile: 'agency-auth', csr: opensslCsr(dir, `/C=VN/O=Sở Y tế/CN=${cn}`).csr }, 'test');

    beforeAll(async () => {
      p = await testPlatform(await url());
      await issue('Before start');
      r = new OcspResponder(p.pki, p.issuer, OPTS);
      await r.start();
      issuing = (await getCa(p.db, 'issuing'))!;
      root = (await getCa(p.db, 'root'))!;
    });
    afterAll(async () => {
      await r?.stop();
      await p?.close();
    });

    it('serves a revocation at once: revoke, then the very next query says revoked — never a stale good', async () => {
      const leaf = await issue('Soon revoked');
      const req = buildOcspRequest(leaf.der, issuing.certificate);
      expect(certStatus((await r.respond(req)).der)).toBe('good');
      await revoke(p.pki, { serial: leaf.serial, reason: 'keyCompromise' }, 'test');
      expect(certStatus((await r.respond(req)).der)).toBe('revoked:1');
      const sha256 = buildOcspRequest(leaf.der, issuing.certificate, { hash: 'sha256' });
      expect(certStatus((await r.respond(sha256)).der)).toBe('revoked:1');
    });

    it('answers hold as revoked/certificateHold, and good again on release', async () => {
      const leaf = await issue('Held');
      const req = buildOcspRequest(leaf.der, issuing.certificate);
      await revoke(p.pki, { serial: leaf.serial, reason: 'certificateHold' }, 'test');
      expect(certStatus((await r.respond(req)).der)).toBe('revoked:6');
      await release(p.pki, leaf.serial, 'test');
      expect(certStatus((await r.respond(req)).der)).toBe('good');
    });

    it('serves pre-signed bytes for RFC 5019 requests, and a fresh signature with the nonce echoed', async () => {
      const leaf = await issue('Cached');
      const req = buildOcspRequest(leaf.der, issuing.certificate);
      const first = await r.respond(req);
      await new Promise((res) => setTimeout(res, 50)); // the background re-sign after a fast-path miss
      const a = r.respond(req);
      const b = r.respond(req);
      expect(a).not.toBeInstanceOf(Promise); // answered from memory, synchronously
      expect((a as { der: Buffer }).der).toBe((b as { der: Buffer }).der);
      expect(certStatus(first.der)).toBe('good');
      const nonce = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
      const withNonce = await r.respond(buildOcspRequest(leaf.der, issuing.certificate, { nonce }));
      expect(withNonce.cache).toBeUndefined();
      const ext = parse(withNonce.der).basic!.tbsResponseData.responseExtensions!;
      expect(ext).toHaveLength(1);
      expect(ext[0].extnID).toBe('1.3.6.1.5.5.7.48.1.2');
      expect(Buffer.from(ext[0].extnValue.buffer).subarray(2)).toEqual(nonce);
    });

    it('produces responses the path validator accepts as evidence (good, and revoked)', async () => {
      const good = await issue('Validated');
      const bad = await issue('Validated revoked');
      await revoke(p.pki, { serial: bad.serial, reason: 'superseded' }, 'test');
      const check = async (leaf: Issued) =>
        validatePath({
          target: leaf.der,
          intermediates: [issuing.certificate],
          trustAnchors: [root.certificate],
          revocation: { mode: 'hard-fail', fetchOcsp: async (_u, der) => (await r.respond(der)).der, targetOnly: true },
        });
      const ok = await check(good);
      expect(ok.valid).toBe(true);
      if (ok.valid) expect(ok.revocationEvidence[0]).toMatchObject({ kind: 'ocsp', status: 'good' });
      const no = await check(bad);
      expect(no.valid).toBe(false);
      if (!no.valid) expect(no.reason).toBe('revoked');
    });

    it('answers the root’s CertIDs for issuing CAs, signed by the root itself', async () => {
      const der = (await r.respond(buildOcspRequest(issuing.certificate, root.certificate))).der;
      expect(certStatus(der)).toBe('good');
      expect(parse(der).basic!.certs ?? []).toHaveLength(0);
    });

    it('answers malformedRequest, unauthorized and reports them; publishes a revoked certificate being queried', async () => {
      p.events.length = 0;
      const bad = await r.respond(Buffer.from('3003020101', 'hex'), { ip: '203.0.113.7' });
      expect(bad.der).toEqual(Buffer.from('30030a0101', 'hex'));
      const malformed = p.events.find((e) => e.subject === 'truc.ocsp.request.malformed');
      expect(malformed?.event.source?.ip).toBe('203.0.113.7');
      const leaf = await issue('Foreign');
      // a CertID naming an issuer we do not run: unauthorized
      const foreign = buildOcspRequest(leaf.der, { name: root.subjectDer, spki: (await issueSpki()) });
      expect((await r.respond(foreign)).der).toEqual(Buffer.from('30030a0106', 'hex'));
      await revoke(p.pki, { serial: leaf.serial, reason: 'keyCompromise' }, 'test');
      await r.respond(buildOcspRequest(leaf.der, issuing.certificate), { ip: '198.51.100.9' });
      const q = p.events.find((e) => e.subject === 'truc.ocsp.revoked.queried');
      expect(q?.event.truc).toMatchObject({ serial: leaf.serial, ca: 'issuing', status: 'revoked' });
      expect(q?.event.source?.ip).toBe('198.51.100.9');
    });

    it('keeps its responder certificate across restarts; signs with the CA in ca mode', async () => {
      const before = r.responders().find((x) => x.caId === 'issuing')!.certificate;
      expect(before).not.toBeNull();
      const again = new OcspResponder(p.pki, p.issuer, { ...OPTS, presign: false });
      await again.start();
      expect(again.responders().find((x) => x.caId === 'issuing')!.certificate).toEqual(before);
      await again.stop();
      const ca = new OcspResponder(p.pki, p.issuer, { ...OPTS, signWith: 'ca', presign: false });
      await ca.start();
      const leaf = await issue('CA signed');
      const der = (await ca.respond(buildOcspRequest(leaf.der, issuing.certificate))).der;
      expect(parse(der).basic!.certs ?? []).toHaveLength(0);
      const v = await validatePath({
        target: leaf.der,
        intermediates: [issuing.certificate],
        trustAnchors: [root.certificate],
        revocation: { mode: 'hard-fail', ocspResponses: [der], targetOnly: true },
      });
      expect(v.valid).toBe(true);
      await ca.stop();
    });

    it('picks up revocations made by another process (no bus event) by polling', async () => {
      const other = new OcspResponder({ ...p.pki, bus: new InProcessBus() }, p.issuer, OPTS);
      await other.start();
      const leaf = await issue('Revoked elsewhere');
      const req = buildOcspRequest(leaf.der, issuing.certificate);
      expect(certStatus((await other.respond(req)).der)).toBe('good');
      await revoke(p.pki, { serial: leaf.serial, reason: 'affiliationChanged' }, 'test');
      await new Promise((res) => setTimeout(res, 1000));
      expect(certStatus((await other.respond(req)).der)).toBe('revoked:3');
      await other.stop();
    });
  });
}

async function issueSpki(): Promise<Buffer> {
  const { generateKeyPairSync } = await import('node:crypto');
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
}
