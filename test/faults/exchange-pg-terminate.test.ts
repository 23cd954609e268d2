/**
 * The security servers on PostgreSQL, their database backends terminated (pg_terminate_backend) while
 * exchanges go through: every exchange answered 200 carries the service's answer and is found, on both
 * sides, in the message log's index and the operational records once the database is back; every one that
 * failed got a clear X-Road-Error; the servers go on without a restart; both logs verify.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { startTestAxis, CLIENT_VPCP, type TestAxis } from '../exchange/server/setup.js';
import { freshPostgresUrl, postgresWanted } from '../helpers/db.js';
import { verifyLog, type MessageLog } from '../../src/exchange/log/index.js';

const enabled = postgresWanted();
if (!enabled) console.warn('SKIP exchange under PostgreSQL termination: it needs PostgreSQL (no server answers)');

const HCM = '/r1/VN/PROV/000.00.31.H29/vanthu';

describe.skipIf(!enabled)('security servers on PostgreSQL, backends terminated mid-traffic', () => {
  let t: TestAxis;
  const urls: string[] = [];

  beforeAll(async () => {
    t = await startTestAxis({
      storage: async () => {
        const u = await freshPostgresUrl();
        urls.push(u);
        return u;
      },
    });
  }, 180_000);

  afterAll(async () => {
    await t?.close();
  });

  it('answered exchanges are indexed and recorded on both sides, failures are clear, and the servers go on', async () => {
    const consumer = t.axis.members[0]!;
    const provider = t.axis.members[2]!;
    const base = consumer.isUrl;
    const send = async (i: number) => {
      const id = randomUUID();
      const body = `thu ${i} ${id}`;
      try {
        const r = await fetch(`${base}${HCM}/echo`, { method: 'POST', headers: { 'x-road-client': CLIENT_VPCP, 'x-road-id': id }, body });
        const text = await r.text();
        return { id, status: r.status, error: r.headers.get('x-road-error'), intact: text === body, text };
      } catch (e) {
        return { id, status: 0, error: null, intact: false, text: String(e) };
      }
    };
    expect((await send(-1)).status).toBe(200);
    const admin = new pg.Client({ connectionString: urls[0]!.replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    const names = urls.map((u) => new URL(u).pathname.slice(1));
    let terminated = 0;
    const kill = async () => {
      const r = await admin.query(`SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()`, [names]);
      terminated += r.rows.filter((x) => x.t).length;
    };
    const results: Awaited<ReturnType<typeof send>>[] = [];
    let kills = 0;
    try {
      for (let round = 0; round < 4; round++) {
        let done = false;
        const batch = Promise.all(Array.from({ length: 40 }, (_, i) => send(round * 100 + i))).finally(() => (done = true));
        for (let k = 0; k < 3 && !done; k++) {
          await new Promise((r) => setTimeout(r, 5 + round * 10));
          await kill();
          kills++;
        }
        results.push(...(await batch));
      }
      // an outage: the databases refuse connections for 3 s while exchanges go on
      let done = false;
      const out: Awaited<ReturnType<typeof send>>[] = [];
      const batch = (async () => {
        for (let i = 0; !done || i < 20; i++) out.push(...(await Promise.all(Array.from({ length: 4 }, (_, j) => send(2000 + i * 4 + j)))));
        return out;
      })();
      for (const n of names) await admin.query(`ALTER DATABASE ${n} ALLOW_CONNECTIONS false`);
      const from = out.length;
      // at least 3 s, and until exchanges were answered in the outage (a busy machine may be slow to); the
      // backends are terminated again and again meanwhile: a connection that was starting up when the
      // databases stopped allowing them (past that check, not yet in pg_stat_activity) survives one kill
      const outageStart = Date.now();
      while (Date.now() - outageStart < 3000 || (out.slice(from).filter((r) => r.status === 200).length < 8 && Date.now() - outageStart < 60_000)) {
        await kill();
        await new Promise((r) => setTimeout(r, 250));
      }
      await kill();
      // what waits for the database shows in the diagnosis
      const status = [consumer, provider].map((m) => m.server.ctx.ops.status());
      expect(status.map((x) => x.waiting > 0), `${out.length - from} exchanges in the outage, ${JSON.stringify(status)}`).toEqual([true, true]);
      for (const n of names) await admin.query(`ALTER DATABASE ${n} ALLOW_CONNECTIONS true`);
      done = true;
      results.push(...(await batch));
    } finally {
      for (const n of names) await admin.query(`ALTER DATABASE ${n} ALLOW_CONNECTIONS true`).catch(() => {});
      await admin.end();
    }
    const ok = results.filter((r) => r.status === 200);
    const failed = results.filter((r) => r.status !== 200);
    console.log(`terminated backends ${kills} times (${terminated} backends): ${ok.length} answered, ${failed.length} refused (${[...new Set(failed.map((f) => `${f.status} ${f.error}`))].join(', ')})`);
    // an answer is the service's answer; a failure is an X-Road error, never a dropped connection
    for (const r of ok) expect(r.intact, r.text).toBe(true);
    for (const r of failed) expect([r.status, r.error], r.text).toEqual([500, expect.stringMatching(/^Server\./)]);
    expect(ok.length).toBeGreaterThan(0);
    // the servers go on without a restart
    let after = null;
    for (let i = 0; i < 30 && after?.status !== 200; i++) {
      after = await send(1000 + i);
      if (after.status !== 200) await new Promise((r) => setTimeout(r, 500));
    }
    expect(after?.status, after?.text).toBe(200);
    // what was answered is indexed on both sides (the index is written behind the log) and has its
    // operational record on each side
    const end = Date.now() + 60_000;
    for (const [m, side] of [
      [consumer, 'consumer'],
      [provider, 'provider'],
    ] as const) {
      for (const r of [...ok, after!]) {
        for (;;) {
          const logged = await (m.log as MessageLog).search({ messageId: r.id }).catch(() => []);
          const ops = await m.server.ctx.ops.search({ messageId: r.id }).catch(() => []);
          if (logged.length === 2 && ops.length === 1) {
            expect(logged.map((x) => x.kind).sort()).toEqual(['request', 'response']);
            expect(ops[0]!.side).toBe(side);
            break;
          }
          if (Date.now() > end) throw new Error(`${side}: ${r.id} has ${logged.length} log records and ${ops.length} operational records`);
          await new Promise((res) => setTimeout(res, 200));
        }
      }
    }
    for (const m of [consumer, provider]) expect(m.server.ctx.ops.status()).toEqual({ waiting: 0, dropped: 0 });
    // the log itself (not the database) is the record: no break in either
    for (const m of [consumer, provider]) {
      const v = await verifyLog({ dir: (m.log as MessageLog).dir, trustedTsaCerts: [t.tsa.certificate()], checkBodies: false });
      expect(v.problem, JSON.stringify(v).slice(0, 500)).toBeUndefined();
      expect(v.records).toBeGreaterThanOrEqual(2 * (ok.length + 1));
    }
  }, 240_000);
});
