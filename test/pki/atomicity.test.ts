import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { X509Certificate } from 'node:crypto';
import { getCa, getCert, refreshCrls, revoke, searchCerts, latestCrl, Issuer } from '../../src/pki/index.js';
import { recordAudit, verifyAuditChain } from '../../src/audit/index.js';
import { testDatabaseUrls } from '../helpers/db.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';

for (const { name, url } of testDatabaseUrls()) {
  describe(`a failure between steps leaves no half state (${name})`, () => {
    let p: TestPlatform;
    const dir = tmp();
    beforeAll(async () => {
      p = await testPlatform(await url());
    });
    afterAll(async () => p?.close());

    // A trigger that fails the audit insert stands in for a crash after the certificate row was written.
    const breakAudit = () =>
      p.db.exec(`
        CREATE OR REPLACE FUNCTION t_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk gone'; END $$;
        CREATE TRIGGER t_fail BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION t_fail();`);
    const mendAudit = () => p.db.exec('DROP TRIGGER t_fail ON audit_log');

    it('an issuance whose audit record cannot be written is not issued', async () => {
      const { csr } = opensslCsr(dir, '/C=VN/O=Bộ Nội vụ/CN=Half');
      await breakAudit();
      try {
        await expect(p.issuer.issue({ profile: 'agency-signing', csr, requestId: 'half-1' }, 'ra')).rejects.toThrow(/disk gone/);
      } finally {
        await mendAudit();
      }
      expect(await searchCerts(p.db, { subject: 'CN=Half' })).toEqual([]);
      // the same request goes through once the fault is gone, under the same request id
      const ok = await p.issuer.issue({ profile: 'agency-signing', csr, requestId: 'half-1' }, 'ra');
      expect(ok.replayed).toBe(false);
      expect((await verifyAuditChain(p.db)).ok).toBe(true);
    });

    it('a bulk batch (signed in chunks by the worker, stored by COPY) is all or nothing', async () => {
      const { csr } = opensslCsr(dir, '/C=VN/O=Sở Nội vụ/CN=Bulk');
      const many = (tag: string) =>
        Array.from({ length: 300 }, (_, i) => p.issuer.issue({ profile: 'agency-signing', csr, requestId: `${tag}-${i}` }, 'ra'));
      await breakAudit();
      try {
        const results = await Promise.allSettled(many('bulk'));
        expect(results.every((r) => r.status === 'rejected')).toBe(true);
      } finally {
        await mendAudit();
      }
      expect(await searchCerts(p.db, { subject: 'CN=Bulk', limit: 1000 })).toEqual([]);
      const issued = await Promise.all(many('bulk'));
      expect(new Set(issued.map((c) => c.serial)).size).toBe(300);
      const caKey = new X509Certificate((await getCa(p.db, 'issuing'))!.certificate).publicKey;
      for (const c of issued) expect(new X509Certificate(c.der).verify(caKey)).toBe(true);
      expect(await searchCerts(p.db, { subject: 'CN=Bulk', limit: 1000 })).toHaveLength(300);
      expect((await verifyAuditChain(p.db)).ok).toBe(true);
    });

    it('batches whose audit records were chained ahead stay one chain while other writers append between them', async () => {
      const { csr } = opensslCsr(dir, '/C=VN/O=Sở Nội vụ/CN=Chained');
      const issuer = new Issuer(p.pki, 50); // many batches, each chained while the one before it is stored
      const before = (await verifyAuditChain(p.db)).records;
      let others = 0;
      let stop = false;
      const interloper = (async () => {
        while (!stop) {
          await recordAudit(p.db, { actor: 'other', action: 'test.interleave', outcome: 'success' });
          others++;
          // PGlite answers within microtasks: give the issuer's turns of the event loop their chance
          await new Promise((r) => setImmediate(r));
        }
      })();
      const issued = await Promise.all(
        Array.from({ length: 600 }, (_, i) => issuer.issue({ profile: 'agency-signing', csr, requestId: `chained-${i}` }, 'ra')),
      );
      stop = true;
      await interloper;
      expect(others).toBeGreaterThan(0);
      const chain = await verifyAuditChain(p.db);
      expect(chain.ok).toBe(true);
      expect(chain.records).toBe(before + 600 + others);
      const audited = await p.db.query<{ target: string }>(
        `SELECT target FROM audit_log WHERE action = 'ca.issue' AND target = ANY($1::text[])`,
        [issued.map((c) => c.serial)],
      );
      expect(new Set(audited.map((a) => a.target)).size).toBe(600);
      expect(audited).toHaveLength(600);
    });

    it('a request id committed first by another issuer (another process) is answered as a replay or a conflict', async () => {
      const { csr } = opensslCsr(dir, '/C=VN/O=Sở Nội vụ/CN=Race');
      const other = opensslCsr(dir, '/C=VN/O=Sở Nội vụ/CN=Race Other').csr;
      for (let round = 0; round < 5; round++) {
        // two issuers share nothing but the database, as two processes would
        const a = new Issuer(p.pki);
        const b = new Issuer(p.pki);
        const same = await Promise.all([
          a.issue({ profile: 'agency-signing', csr, requestId: `race-${round}` }, 'ra'),
          b.issue({ profile: 'agency-signing', csr, requestId: `race-${round}` }, 'ra'),
        ]);
        expect(same[0].serial).toBe(same[1].serial);
        expect(same.filter((c) => c.replayed)).toHaveLength(1);
        const differ = await Promise.allSettled([
          a.issue({ profile: 'agency-signing', csr, requestId: `race-x-${round}` }, 'ra'),
          b.issue({ profile: 'agency-signing', csr: other, requestId: `race-x-${round}` }, 'ra'),
        ]);
        expect(differ.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const refused = differ.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
        expect(refused.reason.code).toBe('duplicate_request');
      }
      const rows = await p.db.query<{ n: string }>(`SELECT count(*) AS n FROM pki_certificate WHERE request_id LIKE 'race-%'`);
      expect(Number(rows[0].n)).toBe(10);
      expect((await verifyAuditChain(p.db)).ok).toBe(true);
    });

    it('a request id repeated across pipelined batches is issued once and answered to every request', async () => {
      const { csr } = opensslCsr(dir, '/C=VN/O=Sở Nội vụ/CN=Repeat');
      const issuer = new Issuer(p.pki, 7); // small batches: repeats land in batches admitted while earlier ones are in flight
      const results = await Promise.all(
        Array.from({ length: 120 }, (_, i) => issuer.issue({ profile: 'agency-signing', csr, requestId: `repeat-${i % 10}` }, 'ra')),
      );
      const byId = new Map<string, Set<string>>();
      results.forEach((c, i) => {
        const id = `repeat-${i % 10}`;
        if (!byId.has(id)) byId.set(id, new Set());
        byId.get(id)!.add(c.serial);
      });
      for (const serials of byId.values()) expect(serials.size).toBe(1);
      expect(results.filter((c) => !c.replayed)).toHaveLength(10);
      const rows = await p.db.query<{ n: string }>(`SELECT count(*) AS n FROM pki_certificate WHERE request_id LIKE 'repeat-%'`);
      expect(Number(rows[0].n)).toBe(10);
    });

    it('a row the database refuses fails its own request only, not the others of its batch', async () => {
      // a trigger stands in for any row-level refusal (a constraint, a value the database cannot hold)
      await p.db.exec(`
        CREATE OR REPLACE FUNCTION t_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.subject LIKE '%Poison%' THEN RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER t_poison BEFORE INSERT ON pki_certificate FOR EACH ROW EXECUTE FUNCTION t_poison();`);
      try {
        const csr = (cn: string) => opensslCsr(dir, `/C=VN/O=Sở Tài chính/CN=${cn}`).csr;
        const [a, bad, b] = [csr('Batch A'), csr('Poison'), csr('Batch B')];
        const results = await Promise.allSettled([
          ...Array.from({ length: 20 }, (_, i) => p.issuer.issue({ profile: 'agency-signing', csr: a, requestId: `iso-a-${i}` }, 'ra')),
          p.issuer.issue({ profile: 'agency-signing', csr: bad, requestId: 'iso-bad' }, 'ra'),
          p.issuer.issue({ profile: 'agency-signing', csr: bad, requestId: 'iso-bad' }, 'ra'), // its follower
          ...Array.from({ length: 20 }, (_, i) => p.issuer.issue({ profile: 'agency-signing', csr: b, requestId: `iso-b-${i}` }, 'ra')),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(40);
        const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(refused).toHaveLength(2);
        for (const r of refused) expect(String(r.reason?.message)).toMatch(/poisoned row/);
      } finally {
        await p.db.exec('DROP TRIGGER t_poison ON pki_certificate');
      }
      expect(await searchCerts(p.db, { subject: 'CN=Poison' })).toEqual([]);
      expect(await searchCerts(p.db, { subject: 'CN=Batch A', limit: 100 })).toHaveLength(20);
      expect((await verifyAuditChain(p.db)).ok).toBe(true);
    });

    it('a revocation whose audit record cannot be written leaves the certificate good', async () => {
      const c = await p.issuer.issue({ profile: 'agency-signing', csr: opensslCsr(dir, '/C=VN/O=x/CN=Keep').csr }, 'ra');
      await breakAudit();
      try {
        await expect(revoke(p.pki, { serial: c.serial, reason: 'keyCompromise' }, 'ra')).rejects.toThrow(/disk gone/);
      } finally {
        await mendAudit();
      }
      expect((await getCert(p.db, c.serial))!.status).toBe('good');
      expect((await verifyAuditChain(p.db)).ok).toBe(true);
    });

    it('regenerates CRLs that are missing or close to nextUpdate, and only those', async () => {
      const made = await refreshCrls(p.pki, ['root', 'issuing'], 60_000);
      expect(made.map((c) => `${c.caId}:${c.delta ? 'delta' : 'full'}`).sort()).toEqual(['issuing:delta', 'issuing:full', 'root:delta', 'root:full']);
      expect(await refreshCrls(p.pki, ['root', 'issuing'], 60_000)).toEqual([]);
      // an hour of margin catches the two-hour deltas only after time passes: move the clock
      const real = p.pki.clock;
      p.pki.clock = () => new Date(real().getTime() + 3 * 3_600_000);
      try {
        const later = await refreshCrls(p.pki, ['issuing'], 60_000);
        expect(later.map((c) => (c.delta ? 'delta' : 'full'))).toEqual(['delta']);
        expect((await latestCrl(p.db, 'issuing', true))!.number).toBe(later[0].number);
      } finally {
        p.pki.clock = real;
      }
    });
  });
}
