/**
 * NATS (a server of the test's own) goes down under a platform whose monitor runs beside it: the bus
 * cannot tell the monitor that it is down, so the monitor, which shares the database, sees security events
 * held in the outbox and raises the built-in alert itself; when NATS returns the held events arrive and the
 * monitor records that they flow again.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { pino } from 'pino';
import { randomBytes } from 'node:crypto';
import type { Platform } from '../../src/platform.js';
import { MonitorService, monitorConfig } from '../../src/monitor/index.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import { OwnNats, NATS_SERVER } from './nats-server.js';
import { testPlatform } from '../helpers/platform.js';

const until = async (what: string, cond: () => Promise<boolean>, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe.skipIf(!NATS_SERVER && process.env.CI !== 'true')('events held in the outbox', () => {
  let nats: OwnNats;
  let p: Platform;
  let m: MonitorService;

  beforeAll(async () => {
    nats = await OwnNats.start();
    p = await testPlatform('memory://', {
      record: false,
      overrides: {
        bus: { kind: 'nats', url: nats.url, stream: `TRUC_S_${randomBytes(3).toString('hex').toUpperCase()}`, subjectPrefix: `ts${randomBytes(3).toString('hex')}` },
        instance: 'site-s',
      },
    });
    m = await MonitorService.start({
      db: p.db,
      bus: p.bus,
      log: pino({ level: 'silent' }),
      config: monitorConfig({ bus: { subject: 'truc.>', durable: 'monitor', stalledSeconds: 1 }, snapshotSeconds: 3600, queue: { flushMs: 5 } }),
      listen: false,
      scanner: null,
    });
  }, 60_000);
  afterAll(async () => {
    await m?.stop();
    await p?.close();
    await nats?.stop();
  });

  const stored = async (action: string) =>
    Number((await p.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM monitor_event WHERE action = $1`, [action]))[0]!.n);

  it('the monitor raises an alert while NATS is down and records that events flow again', async () => {
    await nats.stop();
    const c = await p.issuer.issue({ profile: 'agency-signing', csr: opensslCsr(tmp(), '/C=VN/O=Bộ Nội vụ/CN=Held').csr }, 'ra');
    const titles = async () => (await m.alerts.list({ limit: 50 })).map((a) => a.title);
    await until('the alert', async () => (await titles()).includes('Security events held in the outbox'));
    const [stalled] = await m.events.search({ where: { 'event.action': 'outbox.stalled' }, limit: 1 });
    expect(stalled!.event.truc).toMatchObject({ pending: expect.any(Number), part: 'bus' });
    expect((stalled!.event.truc as { pending: number }).pending).toBeGreaterThanOrEqual(1);

    await nats.resume();
    await until('the held issuance', async () =>
      (await p.db.query(`SELECT 1 FROM monitor_event WHERE action = 'certificate.issued' AND doc #>> '{truc,serial}' = $1`, [c.serial])).length === 1,
    );
    await until('the recovery', async () => (await stored('outbox.recovered')) === 1);
    expect(await stored('outbox.stalled')).toBe(1); // said once, not at every check
  }, 90_000);
});
