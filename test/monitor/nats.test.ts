/**
 * The monitor on a platform whose bus is NATS JetStream: events published by another machine (a second
 * connection) are stored and matched; the durable consumer resumes after the monitor restarts, so events
 * published while it was down are neither lost nor, with the correlation state it saved, counted twice.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { makeEvent } from '../../src/bus/index.js';
import { NatsBus } from '../../src/bus/nats.js';
import { MonitorService, monitorConfig } from '../../src/monitor/index.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';

const NATS = process.env.TRUC_TEST_NATS_URL ?? '127.0.0.1:4222';
const natsUp = (() => {
  const [host, port] = NATS.split(':');
  const r = spawnSync(process.execPath, ['-e', `require('net').connect(${port},'${host}').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))`], { timeout: 5000 });
  return r.status === 0;
})();
if (!natsUp && process.env.CI !== 'true') console.warn(`SKIP monitor over NATS JetStream: no server at ${NATS}`);

const until = async (cond: () => Promise<boolean> | boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe.skipIf(!natsUp && process.env.CI !== 'true')('monitoring over NATS JetStream', () => {
  const stream = `TRUC_TEST_${randomBytes(4).toString('hex').toUpperCase()}`;
  const prefix = stream.toLowerCase();
  let p: TestPlatform | undefined;
  const open: NatsBus[] = [];
  afterAll(async () => {
    await open[0]?.destroy();
    for (const b of open) await b.close();
    await p?.close();
  });

  it('stores and detects events from another machine, and resumes after a restart without loss or double counting', async () => {
    p = await testPlatform('memory://', { init: false });
    const attacker = '203.0.113.9';
    // the publishing machine creates the stream for this test's subjects; the monitor joins it as it is
    const pub = await NatsBus.connect({ servers: NATS, stream, subjects: [`${prefix}.>`] });
    open.push(pub);
    const config = monitorConfig({ bus: { subject: `${prefix}.>`, durable: 'monitor' }, snapshotSeconds: 3600 });
    const start = async () => {
      const bus = await NatsBus.connect({ servers: NATS, stream });
      open.push(bus);
      const m = await MonitorService.start({ db: p!.db, bus, log: pino({ level: 'silent' }), config, listen: false, scanner: null });
      return { bus, m };
    };
    const failure = (n: number) =>
      pub.publish(
        `${prefix}.http.auth.failed`,
        makeEvent('http', 'auth.failed', 'failure', { category: ['authentication'], user: { name: 'anonymous' }, source: { ip: attacker }, reason: 'unauthenticated', truc: { n } }),
      );
    const stored = async () =>
      (await p!.db.query<{ n: number }>(`SELECT (doc #>> '{truc,n}')::int AS n FROM monitor_event WHERE source_ip = $1 ORDER BY 1`, [attacker])).map((r) => Number(r.n));
    const guessing = async (m: MonitorService) => (await m.alerts.list({ limit: 100 })).filter((a) => a.title === 'API token guessing');

    // 1. six failures, seen live: stored, below the correlation's threshold
    let { bus, m } = await start();
    for (let n = 0; n < 6; n++) await failure(n);
    await until(async () => (await stored()).length === 6);
    const [one] = await m.events.search({ where: { 'source.ip': attacker }, limit: 1 });
    expect(one!.event.truc).toMatchObject({ intake: 'bus', subject: `${prefix}.http.auth.failed`, part: 'http' });
    expect(one!.rules.length).toBeGreaterThan(0); // "Failed authentication against the platform APIs"
    expect(await guessing(m)).toEqual([]);

    // 2. the monitor stops (saving its correlation state); six more failures arrive meanwhile
    await m.stop();
    await bus.close();
    for (let n = 6; n < 12; n++) await failure(n);

    // 3. it restarts: the durable consumer 'monitor' delivers exactly what it missed
    ({ bus, m } = await start());
    try {
      await until(async () => (await stored()).length >= 12);
      await new Promise((r) => setTimeout(r, 1000)); // anything redelivered would show up by now
      await m.queue.flush();
      expect(await stored()).toEqual([...Array(12).keys()]);
      const alerts = await guessing(m);
      expect(alerts).toHaveLength(1);
      // the 10th failure crossed the threshold: four before the restart counted once, not again
      expect(alerts[0]).toMatchObject({ kind: 'correlation', level: 'high', group: { 'source.ip': attacker } });
      expect(alerts[0]!.value).toBeLessThanOrEqual(12);
      console.log(`token guessing over NATS: alert value ${alerts[0]!.value}, counted ${alerts[0]!.count} time(s)`);
    } finally {
      await m.stop();
    }
  }, 60_000);
});
