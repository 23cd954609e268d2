/**
 * Operational records when the database fails under a write, on both databases: rows kept for the next
 * flush, and a write the database committed although its answer was lost is not written twice.
 */
import { afterAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { openDb, migrate, type Db } from '../../../src/store/index.js';
import { OpRecorder, opMigrations, type OpRecord } from '../../../src/exchange/server/oprecords.js';
import { testDatabaseUrls } from '../../helpers/db.js';

const quiet = pino({ level: 'silent' });

const rec = (i: number): OpRecord => ({
  messageId: `m-${i}`,
  side: i % 2 ? 'consumer' : 'provider',
  ...(i % 3 ? { client: 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu', service: 'SERVICE:VN/PROV/000.00.31.H29/vanthu/echo' } : {}),
  startedAt: new Date(Date.UTC(2026, 11, 6, 8, 0, 0, i)),
  finishedAt: new Date(Date.UTC(2026, 11, 6, 8, 0, 1, i)),
  requestBytes: i * 10,
  responseBytes: i * 20,
  ...(i % 4 ? { status: 200 } : { status: 502, error: 'service_failed' }),
});

for (const { name, url } of testDatabaseUrls()) {
  describe(`operational records on ${name}`, () => {
    let db: Db;
    afterAll(async () => {
      await db?.close();
    });

    it('keeps the rows of a failed write, and writes those the database had committed only once', async () => {
      db = await openDb({ url: await url() });
      await migrate(db, opMigrations);
      // the first COPY is committed, then its answer lost (the connection cut after the commit); the second fails outright
      let copies = 0;
      const flaky = new Proxy(db, {
        get(target, k) {
          if (k !== 'copyFrom') return Reflect.get(target, k);
          return async (...args: Parameters<Db['copyFrom']>) => {
            copies++;
            if (copies === 1) {
              await target.copyFrom(...args);
              throw new Error('Connection terminated unexpectedly');
            }
            if (copies === 2) throw new Error('terminating connection due to administrator command');
            return target.copyFrom(...args);
          };
        },
      });
      const ops = new OpRecorder(flaky, quiet);
      for (let i = 0; i < 5; i++) ops.record(rec(i));
      await ops.flush(); // committed, answer lost
      expect(ops.status()).toEqual({ waiting: 5, dropped: 0 });
      for (let i = 5; i < 8; i++) ops.record(rec(i));
      await ops.flush(); // the five again (only where absent: none), then the three new fail
      expect(ops.status()).toEqual({ waiting: 3, dropped: 0 });
      await ops.flush(); // the three, only where absent
      expect(ops.status()).toEqual({ waiting: 0, dropped: 0 });
      // a write that hangs (a database gone silent): its rows are still waiting, and so are those after
      let release!: () => void;
      const hung = new Promise<void>((r) => (release = r));
      const silent = new Proxy(db, {
        get: (target, k) => (k === 'copyFrom' ? async (...args: Parameters<Db['copyFrom']>) => (await hung, target.copyFrom(...args)) : Reflect.get(target, k)),
      });
      const slow = new OpRecorder(silent, quiet);
      for (let i = 8; i < 10; i++) slow.record(rec(i));
      const inFlight = slow.flush();
      slow.record(rec(10));
      expect(slow.status()).toEqual({ waiting: 3, dropped: 0 });
      release();
      await inFlight;
      expect(slow.status()).toEqual({ waiting: 1, dropped: 0 });
      await slow.flush();
      expect(slow.status()).toEqual({ waiting: 0, dropped: 0 });
      const rows = await db.query<{ message_id: string; side: string; client: string | null; status: number | null; error: string | null; request_bytes: string }>(
        'SELECT message_id, side, client, status, error, request_bytes::text AS request_bytes FROM xs_op ORDER BY started_at',
      );
      expect(rows.map((r) => r.message_id)).toEqual(Array.from({ length: 11 }, (_, i) => `m-${i}`));
      // written again field for field as the first time
      expect(rows[3]).toEqual({ message_id: 'm-3', side: 'consumer', client: null, status: 200, error: null, request_bytes: '30' });
      expect(rows[4]).toEqual({ message_id: 'm-4', side: 'provider', client: 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu', status: 502, error: 'service_failed', request_bytes: '40' });
      expect((await ops.search({ messageId: 'm-6' })).map((r) => r.side)).toEqual(['provider']);
    });
  });
}
