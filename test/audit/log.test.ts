import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { openDb, migrate, type Db } from '../../src/store/index.js';
import { auditMigrations, appendAudit, recordAudit, verifyAuditChain, searchAudit } from '../../src/audit/index.js';
import { testDatabaseUrls } from '../helpers/db.js';

for (const { name, url } of testDatabaseUrls()) {
  describe(`audit log on ${name}`, () => {
    let db: Db;
    beforeAll(async () => {
      db = await openDb({ url: await url() });
      await migrate(db, auditMigrations);
    });
    afterAll(async () => db?.close());

    it('chains records and verifies the whole chain', async () => {
      await db.tx((sql) =>
        appendAudit(sql, [
          { actor: 'alice', action: 'ca.issue', target: '01ab', outcome: 'success', detail: { profile: 'tls-server' } },
          { actor: 'alice', action: 'ca.issue', target: '01ac', outcome: 'success' },
        ]),
      );
      await recordAudit(db, { actor: 'mallory', action: 'ca.revoke', outcome: 'denied', detail: { role: 'auditor' } });
      const r = await verifyAuditChain(db);
      expect(r).toEqual({ ok: true, records: 3, headSeq: 3 });
      const found = await searchAudit(db, { actor: 'mallory' });
      expect(found.map((f) => [f.seq, f.action, f.outcome])).toEqual([[3, 'ca.revoke', 'denied']]);
    });

    it('refuses UPDATE and DELETE on the log', async () => {
      await expect(db.query(`UPDATE audit_log SET actor = 'eve' WHERE seq = 1`)).rejects.toThrow(/append-only/);
      await expect(db.query(`DELETE FROM audit_log WHERE seq = 3`)).rejects.toThrow(/append-only/);
    });

    it('a concurrent burst of appends stays one linear chain', async () => {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => recordAudit(db, { actor: `u${i}`, action: 'x', outcome: 'success' })),
      );
      expect(await verifyAuditChain(db)).toMatchObject({ ok: true, records: 23 });
    });

    it('detects a record altered behind the trigger’s back', async () => {
      // an attacker with DDL rights drops the trigger and edits a row: the chain must show it
      await db.exec('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update');
      await db.query(`UPDATE audit_log SET detail = '{"profile":"root"}' WHERE seq = 1`);
      await db.exec('ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update');
      expect(await verifyAuditChain(db)).toMatchObject({ ok: false, brokenAt: 1 });
    });
  });
}
