import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { openDb, migrate, type Db } from '../../src/store/index.js';
import { auditMigrations, appendAudit, appendChained, chainAudit, recordAudit, verifyAuditChain, searchAudit, type AuditHead } from '../../src/audit/index.js';
import { testDatabaseUrls } from '../helpers/db.js';
import { createHash } from 'node:crypto';
import { canonicalJson, recordHash } from '../../src/audit/chain.js';

describe('audit record hash', () => {
  it('is SHA-256 over the previous hash and the canonical JSON of the record', () => {
    const prev = createHash('sha256').update('prev').digest();
    const e = { actor: 'a"b', action: 'ca.issue', target: null, outcome: 'success' as const, detail: { z: 1, a: { y: [2, 'ư'], b: null } } };
    const at = '2026-11-25T00:00:00.000Z';
    const expected = createHash('sha256')
      .update(prev)
      .update(canonicalJson({ seq: 7, at, actor: e.actor, action: e.action, target: null, outcome: e.outcome, detail: e.detail }))
      .digest();
    expect(recordHash(prev, 7, at, e).equals(expected)).toBe(true);
    expect(recordHash(prev, 7, at, { ...e, detail: undefined }).equals(recordHash(prev, 7, at, { ...e, detail: {} }))).toBe(true);
    expect(recordHash(prev, 8, at, e).equals(expected)).toBe(false);
  });
});

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

    it('a bulk append (binary COPY) chains like single appends, and a later single append continues it', async () => {
      const before = (await verifyAuditChain(db)).records;
      const out = await db.tx((sql) =>
        appendAudit(
          sql,
          Array.from({ length: 40 }, (_, i) => ({
            actor: 'Nguyễn Văn A',
            action: 'ca.issue',
            target: `serial-${i}`,
            outcome: 'success' as const,
            detail: { i, subject: 'CN=Sở "Nội vụ"', nested: { z: [1, null], a: 'é' } },
          })),
        ),
      );
      expect(out).toHaveLength(40);
      await recordAudit(db, { actor: 'bob', action: 'ca.revoke', outcome: 'success' });
      expect(await verifyAuditChain(db)).toEqual({ ok: true, records: before + 41, headSeq: before + 41 });
      const found = await searchAudit(db, { actor: 'Nguyễn Văn A' });
      expect(found).toHaveLength(40);
      expect(found.find((f) => f.target === 'serial-7')?.detail).toEqual({ i: 7, subject: 'CN=Sở "Nội vụ"', nested: { z: [1, null], a: 'é' } });
    });

    it('records NUL and unpaired surrogates from a request as U+FFFD, one by one and in bulk, and the chain still verifies', async () => {
      const before = (await verifyAuditChain(db)).records;
      const odd = { actor: 'eve\u0000', action: 'ca.issue', target: 'x\ud800', outcome: 'failure' as const, detail: { profile: 'p\udc00q', nested: { ['k\u0000']: ['\ud83d\ude00', 'a\ud800'] } } };
      const [one] = await db.tx((sql) => appendAudit(sql, [odd]));
      expect(one).toMatchObject({ actor: 'eve\ufffd', target: 'x\ufffd', detail: { profile: 'p\ufffdq', nested: { ['k\ufffd']: ['😀', 'a\ufffd'] } } });
      await db.tx((sql) => appendAudit(sql, Array.from({ length: 20 }, () => odd)));
      expect(await verifyAuditChain(db)).toEqual({ ok: true, records: before + 21, headSeq: before + 21 });
      const found = await searchAudit(db, { actor: 'eve\ufffd' });
      expect(found).toHaveLength(21);
      expect(found[0].detail).toEqual({ profile: 'p\ufffdq', nested: { ['k\ufffd']: ['😀', 'a\ufffd'] } });
    });

    it('records chained before their transaction are written as chained when the head is still there, and chained again when it moved', async () => {
      const head = async (): Promise<AuditHead> => {
        const [h] = await db.query<{ seq: string; hash: Buffer }>('SELECT seq, hash FROM audit_head');
        return { seq: Number(h.seq), hash: Buffer.from(h.hash) };
      };
      const batch = (tag: string, n: number) =>
        Array.from({ length: n }, (_, i) => ({ actor: 'bulk', action: 'ca.issue', target: `${tag}-${i}`, outcome: 'success' as const, detail: { i } }));
      for (const n of [3, 30]) {
        // the head is where the records were chained from: written as they are, the head moved to their end
        const h0 = await head();
        const a = chainAudit(batch(`a${n}`, n), h0);
        const heard: AuditHead[] = [];
        const written = await db.tx((sql) => appendChained(sql, a, (to) => heard.push(to)));
        expect(written).toBe(a);
        expect(heard).toEqual([a.to]);
        expect(await head()).toEqual(a.to);
        // chained from a head that another writer has since moved: chained again after that writer's record
        const stale = chainAudit(batch(`b${n}`, n), a.to);
        await recordAudit(db, { actor: 'other', action: 'x', outcome: 'success' });
        const moved = await head();
        const again = await db.tx((sql) => appendChained(sql, stale, (to) => heard.push(to)));
        expect(again).not.toBe(stale);
        expect(again.from).toEqual(moved);
        expect(again.records[0].seq).toBe(moved.seq + 1);
        expect(again.records[0].prevHash.equals(moved.hash)).toBe(true);
        expect(heard[1]).toEqual(again.to);
        expect(await head()).toEqual(again.to);
        // not chained at all: chained from the head inside the transaction
        const loose = await db.tx((sql) => appendChained(sql, chainAudit(batch(`c${n}`, n), null)));
        expect(loose.from).toEqual(again.to);
      }
      expect((await verifyAuditChain(db)).ok).toBe(true);
    });

    it('a pre-chained append whose transaction rolls back leaves neither records nor a moved head', async () => {
      const before = await verifyAuditChain(db);
      const [h] = await db.query<{ seq: string; hash: Buffer }>('SELECT seq, hash FROM audit_head');
      const c = chainAudit(
        Array.from({ length: 20 }, (_, i) => ({ actor: 'bulk', action: 'ca.issue', target: `r-${i}`, outcome: 'success' as const })),
        { seq: Number(h.seq), hash: Buffer.from(h.hash) },
      );
      await expect(
        db.tx(async (sql) => {
          await appendChained(sql, c);
          throw new Error('the business write failed');
        }),
      ).rejects.toThrow('the business write failed');
      expect(await verifyAuditChain(db)).toEqual(before);
    });

    it('refuses UPDATE and DELETE on the log', async () => {
      await expect(db.query(`UPDATE audit_log SET actor = 'eve' WHERE seq = 1`)).rejects.toThrow(/append-only/);
      await expect(db.query(`DELETE FROM audit_log WHERE seq = 3`)).rejects.toThrow(/append-only/);
    });

    it('a concurrent burst of appends stays one linear chain', async () => {
      const before = (await verifyAuditChain(db)).records;
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => recordAudit(db, { actor: `u${i}`, action: 'x', outcome: 'success' })),
      );
      expect(await verifyAuditChain(db)).toMatchObject({ ok: true, records: before + 20 });
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
