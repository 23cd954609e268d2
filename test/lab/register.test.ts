import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAudit, verifyAuditChain } from '../../src/audit/index.js';
import { buildReport, loadProfile, type RunResult } from '../../src/lab/index.js';
import {
  addProduct,
  addVendor,
  addVersion,
  changeCertificateStatus,
  changeLicenceStatus,
  issueCertificate,
  issueLicence,
  listVendors,
  recordRun,
  searchCertificates,
  searchLicences,
  searchProducts,
  searchVersions,
} from '../../src/lab/register/index.js';
import { testDatabaseUrls } from '../helpers/db.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';

const counts = (PASS: number, FAIL = 0) => ({ PASS, FAIL, ACCEPTABLE: 0, UNSUPPORTED: 0, SKIPPED: 0, ERROR: 0 });

/** A run result as the runner gives it, without asking a product: the register only stores and judges. */
function result(product: string, version: string, fail: number): RunResult {
  const suite = (file: string, algorithm: string) => ({
    kind: 'wycheproof' as const,
    file,
    sha256: 'ab'.repeat(32),
    algorithm,
    schema: 'x',
    numberOfTests: 10,
    counts: counts(10 - (algorithm === 'AES-GCM' ? fail : 0), algorithm === 'AES-GCM' ? fail : 0),
    results: [],
    durationMs: 1,
  });
  return {
    product: { name: product, version, adapter: 'test' },
    sources: [{ name: 'C2SP/wycheproof', commit: 'c' }],
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:00:01.000Z',
    suites: [suite('aes_gcm_test.json', 'AES-GCM'), suite('hmac_sha256_test.json', 'HMACSHA256')],
    counts: counts(20 - fail, fail),
  };
}

for (const { name, url } of testDatabaseUrls()) {
  describe(`lab register on ${name}`, () => {
    let p: TestPlatform;
    beforeAll(async () => {
      p = await testPlatform(await url());
    });
    afterAll(async () => {
      await p?.close();
    });

    it('registers vendors, products and versions, refuses duplicates, and finds them by vendor, name and algorithm', async () => {
      const bkav = await addVendor(p, { name: 'Công ty Cổ phần Bkav', country: 'VN', taxId: '0101360697' }, 'officer');
      const viettel = await addVendor(p, { name: 'Viettel Cyber Security', country: 'VN' }, 'officer');
      await expect(addVendor(p, { name: 'Viettel Cyber Security' }, 'officer')).rejects.toMatchObject({ code: 'conflict' });
      const hsm = await addProduct(p, { vendor: bkav.id, name: 'BkavCA HSM', kind: 'hsm' }, 'officer');
      const lib = await addProduct(p, { vendor: 'Viettel Cyber Security', name: 'VCS Crypto Library' }, 'officer');
      await expect(addProduct(p, { vendor: 'nobody', name: 'x' }, 'officer')).rejects.toMatchObject({ code: 'not_found' });
      await addVersion(p, { productId: hsm.id, version: '2.1', algorithms: ['AES-GCM', 'ECDSA', 'HMACSHA256'] }, 'officer');
      await addVersion(p, { productId: lib.id, version: '1.0', algorithms: ['AES-GCM'] }, 'officer');
      await expect(addVersion(p, { productId: hsm.id, version: '2.1' }, 'officer')).rejects.toMatchObject({ code: 'conflict' });

      expect((await listVendors(p.db, { name: 'bkav' })).map((v) => v.id)).toEqual([bkav.id]);
      expect((await searchProducts(p.db, { name: 'hsm' })).map((x) => x.id)).toEqual([hsm.id]);
      expect((await searchProducts(p.db, { vendor: viettel.id })).map((x) => x.id)).toEqual([lib.id]);
      expect((await searchProducts(p.db, { vendor: 'cổ phần' })).map((x) => x.id)).toEqual([hsm.id]);
      expect((await searchProducts(p.db, { algorithm: 'ECDSA' })).map((x) => x.id)).toEqual([hsm.id]);
      expect((await searchProducts(p.db, { algorithm: 'AES-GCM' })).length).toBe(2);
      expect((await searchProducts(p.db, { name: '%' })).length).toBe(0); // LIKE characters are literal
      const v = await searchVersions(p.db, { vendor: 'bkav' });
      expect(v).toHaveLength(1);
      expect(v[0]).toMatchObject({ productName: 'BkavCA HSM', vendorName: 'Công ty Cổ phần Bkav', version: '2.1', algorithms: ['AES-GCM', 'ECDSA', 'HMACSHA256'] });
    });

    it('issues certificates of conformity only on a PASS run; suspends, reinstates and revokes; refuses what the status forbids', async () => {
      const [ver] = await searchVersions(p.db, { name: 'BkavCA HSM' });
      const profile = await loadProfile('stored-data-protection');
      await expect(issueCertificate(p, { productVersionId: ver.id, profile: profile.id }, 'officer')).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/no PASS run/) });

      const failing = await recordRun(p, { report: buildReport({ run: result('BkavCA HSM', '2.1', 3), profile }), productVersionId: ver.id, adapter: 'test' }, 'officer');
      expect(failing.run.verdict).toBe('FAIL');
      await expect(issueCertificate(p, { productVersionId: ver.id, profile: profile.id, runId: failing.run.id }, 'officer')).rejects.toMatchObject({ code: 'conflict' });
      const passing = await recordRun(p, { report: buildReport({ run: result('BkavCA HSM', '2.1', 0), profile }), productVersionId: ver.id, adapter: 'test' }, 'officer');
      expect(passing.run.verdict).toBe('PASS');

      const c = await issueCertificate(p, { productVersionId: ver.id, profile: profile.id, validityDays: 365 }, 'officer');
      expect(c).toMatchObject({ status: 'issued', runId: passing.run.id, profile: 'stored-data-protection', productName: 'BkavCA HSM' });
      expect(c.number).toMatch(/^LAB-C-\d{4}-\d{6}$/);
      expect(c.standard).toMatch(/AES/);

      const now = new Date();
      expect((await searchCertificates(p.db, { validAt: now, algorithm: 'ECDSA' })).map((x) => x.number)).toEqual([c.number]);
      expect((await searchCertificates(p.db, { vendor: 'viettel' })).length).toBe(0);
      // validity: in force from issuance until validUntil, not before nor after
      expect(c.validUntil.getTime() - c.issuedAt.getTime()).toBe(365 * 86_400_000);
      expect(await searchCertificates(p.db, { validAt: new Date(c.validUntil.getTime() + 1000) })).toEqual([]);
      expect(await searchCertificates(p.db, { validAt: new Date(c.issuedAt.getTime() - 1000) })).toEqual([]);
      expect((await searchCertificates(p.db, { expiresBefore: new Date(c.validUntil.getTime() + 1000) })).map((x) => x.number)).toEqual([c.number]);

      await expect(changeCertificateStatus(p, c.number, 'suspend', undefined, 'officer')).rejects.toMatchObject({ code: 'bad_request' });
      const s = await changeCertificateStatus(p, c.number, 'suspend', 'tái đánh giá sau lỗi GCM', 'officer');
      expect(s).toMatchObject({ status: 'suspended', statusReason: 'tái đánh giá sau lỗi GCM' });
      expect(s.suspendedAt).toBeInstanceOf(Date);
      expect(await searchCertificates(p.db, { validAt: now })).toEqual([]);
      await expect(changeCertificateStatus(p, c.number, 'suspend', 'again', 'officer')).rejects.toMatchObject({ code: 'conflict' });
      const back = await changeCertificateStatus(p, c.number, 'reinstate', undefined, 'officer');
      expect(back).toMatchObject({ status: 'issued', statusReason: null, suspendedAt: null });
      expect((await searchCertificates(p.db, { validAt: now })).map((x) => x.number)).toEqual([c.number]);
      const r = await changeCertificateStatus(p, c.number, 'revoke', 'key compromise in firmware 2.1', 'officer');
      expect(r).toMatchObject({ status: 'revoked', statusReason: 'key compromise in firmware 2.1' });
      expect(r.revokedAt).toBeInstanceOf(Date);
      await expect(changeCertificateStatus(p, c.number, 'revoke', 'again', 'officer')).rejects.toMatchObject({ code: 'conflict', status: 409 });
      await expect(changeCertificateStatus(p, c.number, 'reinstate', undefined, 'officer')).rejects.toMatchObject({ code: 'conflict' });
      await expect(changeCertificateStatus(p, 'LAB-C-0000-000000', 'revoke', 'x', 'officer')).rejects.toMatchObject({ code: 'not_found' });
      expect((await searchCertificates(p.db, { status: 'revoked' })).map((x) => x.number)).toEqual([c.number]);

      const audit = await searchAudit(p.db, { limit: 1000 });
      const actions = audit.filter((a) => a.action.startsWith('lab.')).map((a) => `${a.action}:${a.outcome}`);
      expect(actions).toEqual(expect.arrayContaining(['lab.vendor.add:success', 'lab.certificate.issue:failure', 'lab.certificate.issue:success', 'lab.certificate.revoke:success', 'lab.certificate.revoke:failure']));
      expect((await verifyAuditChain(p.db)).ok).toBe(true);
      expect(p.events.filter((e) => e.subject === 'truc.lab.certificate.revoke').map((e) => e.event.event.outcome)).toEqual(['success', 'failure', 'failure']);
    });

    it('issues licences, searches them by vendor, product, status and validity, and moves them through their statuses', async () => {
      const [hsm] = await searchProducts(p.db, { name: 'BkavCA HSM' });
      const a = await issueLicence(p, { vendor: hsm.vendorId, productId: hsm.id, kind: 'trading', number: '123/GP-BCY', validityDays: 5 * 365 }, 'officer');
      expect(a).toMatchObject({ number: '123/GP-BCY', status: 'issued', productName: 'BkavCA HSM', vendorName: 'Công ty Cổ phần Bkav' });
      const b = await issueLicence(p, { vendor: 'Viettel Cyber Security', kind: 'production', validUntil: new Date(Date.now() + 86_400_000) }, 'officer');
      expect(b.number).toMatch(/^LAB-L-\d{4}-\d{6}$/);
      await expect(issueLicence(p, { vendor: 'Viettel Cyber Security', kind: 'trading', number: '123/GP-BCY' }, 'officer')).rejects.toMatchObject({ code: 'conflict' });
      await expect(issueLicence(p, { vendor: 'Viettel Cyber Security', productId: hsm.id, kind: 'trading' }, 'officer')).rejects.toMatchObject({ code: 'bad_request' });
      await expect(issueLicence(p, { vendor: 'Viettel Cyber Security', kind: 'trading', validityDays: -1 }, 'officer')).rejects.toMatchObject({ code: 'bad_request' });

      expect((await searchLicences(p.db, { product: 'hsm' })).map((l) => l.number)).toEqual(['123/GP-BCY']);
      expect((await searchLicences(p.db, { expiresBefore: new Date(Date.now() + 2 * 86_400_000) })).map((l) => l.number)).toEqual([b.number]);
      expect((await searchLicences(p.db, { kind: 'production' })).map((l) => l.number)).toEqual([b.number]);
      await expect(changeLicenceStatus(p, a.number, 'reinstate', undefined, 'officer')).rejects.toMatchObject({ code: 'conflict' });
      const suspended = await changeLicenceStatus(p, a.number, 'suspend', 'unpaid fee', 'officer');
      expect(suspended).toMatchObject({ status: 'suspended', statusReason: 'unpaid fee' });
      expect(suspended.suspendedAt).toBeInstanceOf(Date);
      expect((await searchLicences(p.db, { validAt: new Date() })).map((l) => l.number)).toEqual([b.number]);
      await expect(changeLicenceStatus(p, a.number, 'suspend', 'again', 'officer')).rejects.toMatchObject({ code: 'conflict' });
      expect(await changeLicenceStatus(p, a.number, 'reinstate', 'fee paid', 'officer')).toMatchObject({ status: 'issued', statusReason: 'fee paid', suspendedAt: null });
      expect((await searchLicences(p.db, { validAt: new Date() })).map((l) => l.number).sort()).toEqual([a.number, b.number].sort());
      await changeLicenceStatus(p, a.number, 'suspend', 'unpaid fee', 'officer');
      expect((await changeLicenceStatus(p, a.number, 'revoke', 'withdrawn', 'officer')).status).toBe('revoked');
      await expect(changeLicenceStatus(p, a.number, 'revoke', 'again', 'officer')).rejects.toMatchObject({ code: 'conflict' });
      expect((await searchLicences(p.db, { status: 'revoked' })).map((l) => l.number)).toEqual([a.number]);
      await expect(changeLicenceStatus(p, a.number, 'reinstate', undefined, 'officer')).rejects.toMatchObject({ code: 'conflict' });
      await expect(changeLicenceStatus(p, a.number, 'suspend', 'x', 'officer')).rejects.toMatchObject({ code: 'conflict' });
      // an expired licence is not in force, though its status stays issued
      expect((await searchLicences(p.db, { validAt: new Date(Date.now() + 2 * 86_400_000) })).map((l) => l.number)).toEqual([]);
    });
  });
}
