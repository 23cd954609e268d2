/**
 * A relay killed in the middle of its work (SIGKILL, no chance to tidy up) on PostgreSQL, with a NATS
 * server of the test's own whose duplicate window is one second — so that JetStream cannot hide repeats
 * and the monitor's own intake, keyed by event id, has to. Events a dead relay published but never removed
 * from the outbox are simulated too, deterministically: they are published once more by hand before the
 * next relay takes over. The monitor must hold every event exactly once, in the order they were written.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { openDb, migrate, type Db } from '../../src/store/index.js';
import { makeEvent } from '../../src/bus/index.js';
import { NatsBus } from '../../src/bus/nats.js';
import { OutboxBus, busMigrations } from '../../src/bus/outbox.js';
import { MonitorService, monitorConfig, monitorMigrations } from '../../src/monitor/index.js';
import { freshPostgresUrl, postgresWanted } from '../helpers/db.js';
import { OwnNats, NATS_SERVER } from './nats-server.js';

const until = async (what: string, cond: () => Promise<boolean> | boolean, ms = 40_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};
const N = 3000;

describe.skipIf((!NATS_SERVER || !postgresWanted()) && process.env.CI !== 'true')('a relay killed mid-relay (PostgreSQL)', () => {
  let nats: OwnNats;
  let db: Db;
  let url: string;
  const open: { close(): Promise<void> }[] = [];
  let m: MonitorService | undefined;
  const stream = `TRUC_K_${randomBytes(3).toString('hex').toUpperCase()}`;
  const prefix = `tk${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    nats = await OwnNats.start();
    url = await freshPostgresUrl();
    db = await openDb({ url });
    await migrate(db, [...busMigrations, ...monitorMigrations]);
  }, 60_000);
  afterAll(async () => {
    await m?.stop();
    for (const o of open.reverse()) await o.close().catch(() => {});
    await db?.close();
    await nats?.stop();
  });

  it('no event lost, none stored twice, all in order at the monitor', async () => {
    // the stream remembers message ids for one second only
    const admin = await NatsBus.connect({ servers: nats.url, stream, subjectPrefix: prefix, duplicateWindowSeconds: 1 });
    open.push(admin);
    const monBus = await NatsBus.connect({ servers: nats.url, stream, subjectPrefix: prefix });
    open.push(monBus);
    m = await MonitorService.start({
      db,
      bus: monBus,
      log: pino({ level: 'silent' }),
      config: monitorConfig({ bus: { subject: 'truc.>', durable: 'monitor' }, snapshotSeconds: 3600, queue: { flushMs: 5 } }),
      listen: false,
      scanner: null,
    });

    // N events written (as operations would, in their transactions) by a process that does not relay
    const writer = new OutboxBus(db, admin, { instance: 'site-k', durable: true, relay: false });
    for (let i = 0; i < N; i += 500)
      await db.tx((sql) =>
        writer.enqueue(
          sql,
          Array.from({ length: Math.min(500, N - i) }, (_, k) => ({
            subject: 'truc.pki.certificate.issued',
            event: makeEvent('pki', 'certificate.issued', 'success', { truc: { n: i + k } }),
          })),
        ),
      );
    expect(await writer.pending()).toBe(N);

    // a relay in its own process, killed once it has relayed part of the outbox
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/faults/relay-child.ts', url, nats.url, stream, prefix], { stdio: ['ignore', 'pipe', 'inherit'] });
    let relayed = 0;
    child.stdout!.on('data', (d: Buffer) => {
      const last = /relayed (\d+)\s*$/.exec(d.toString());
      if (last) relayed = Number(last[1]);
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    await until('the child relay to start', () => relayed >= 200);
    child.kill('SIGKILL');
    await exited;
    const left = await writer.pending();
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(N);

    // what a relay that died between the acknowledgement and the deletion leaves: events in the stream AND
    // still in the outbox. After the duplicate window, only the monitor can tell they are repeats.
    const again = await db.query<{ subject: string; event: any }>(`SELECT subject, event FROM bus_outbox ORDER BY id LIMIT 50`);
    for (const r of again) await admin.publish(r.subject, r.event);
    await new Promise((r) => setTimeout(r, 1500));

    // a new relay takes over once the dead one's lease (1 s) ran out
    const relay = new OutboxBus(db, admin, { instance: 'site-k', durable: true, pipeline: true, leaseSeconds: 1 });
    open.push({ close: () => relay.close(0) });
    expect(await relay.drained(40_000)).toBe(true);

    const count = async () =>
      Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM monitor_event WHERE action = 'certificate.issued'`))[0]!.n);
    await until('the monitor to store every event', async () => (await count()) >= N);
    await until('the consumer to catch up', async () => ((await m!.busHealth()).bus as any).consumers[0].pending === 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(await count()).toBe(N);
    const distinct = await db.query<{ ids: string; ns: string }>(
      `SELECT count(DISTINCT doc #>> '{event,id}')::text AS ids, count(DISTINCT doc #>> '{truc,n}')::text AS ns FROM monitor_event`,
    );
    expect(distinct[0]).toEqual({ ids: String(N), ns: String(N) });
    // and in the order they were written: the monitor stored them (its ids) as the outbox numbered them
    const order = await db.query<{ n: number }>(`SELECT (doc #>> '{truc,n}')::int AS n FROM monitor_event WHERE action = 'certificate.issued' ORDER BY id`);
    expect(order.map((r) => r.n)).toEqual(Array.from({ length: N }, (_, i) => i));
    // the stream did carry repeats (the 50 published by hand at least): the monitor dropped them
    expect(m.stats.duplicatesDropped).toBeGreaterThanOrEqual(again.length);
  }, 120_000);
});
