/**
 * Faults on the bus, with a NATS server of the test's own: the event stream deleted under a running
 * platform, then NATS stopped and restarted. Certificates keep being issued and revoked throughout; the
 * monitor (its own connection, a durable consumer) must end up with every security event exactly once,
 * reattach by itself, and say what happened in its status. Events carry the deployment's identity.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { pino } from 'pino';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config.js';
import { openPlatform, type Platform } from '../../src/platform.js';
import { initHierarchy, revoke } from '../../src/pki/index.js';
import { DEFAULT_HIERARCHY } from '../../src/cli/bootstrap.js';
import { NatsBus } from '../../src/bus/nats.js';
import { OutboxBus } from '../../src/bus/outbox.js';
import { MonitorService, monitorConfig } from '../../src/monitor/index.js';
import { testDatabaseUrls } from '../helpers/db.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import { OwnNats, NATS_SERVER } from './nats-server.js';

const until = async (what: string, cond: () => Promise<boolean> | boolean, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

if (!NATS_SERVER && process.env.CI !== 'true') console.warn('SKIP bus fault tests: nats-server is not installed');

for (const { name, url } of testDatabaseUrls()) {
  describe.skipIf(!NATS_SERVER && process.env.CI !== 'true')(`security events survive bus faults (${name})`, () => {
    let nats: OwnNats;
    let p: Platform;
    let monBus: NatsBus;
    let m: MonitorService;
    const dir = tmp();
    const stream = `TRUC_F_${randomBytes(3).toString('hex').toUpperCase()}`;
    const prefix = `tf${randomBytes(3).toString('hex')}`;

    beforeAll(async () => {
      nats = await OwnNats.start();
      const dataDir = tmp('truc-data-');
      const config = loadConfig({
        env: {},
        overrides: {
          dataDir,
          database: { url: await url() },
          keys: { software: { dir: `${dataDir}/keys`, passphrase: 'test passphrase' } },
          log: { level: 'silent' },
          bus: { kind: 'nats', url: nats.url, stream, subjectPrefix: prefix },
          instance: 'site-a',
        } as any,
      });
      p = await openPlatform(config);
      await initHierarchy(p.pki, DEFAULT_HIERARCHY, 'test');
      monBus = await NatsBus.connect({ servers: nats.url, stream, subjectPrefix: prefix });
      m = await MonitorService.start({
        db: p.db,
        bus: monBus,
        log: pino({ level: 'silent' }),
        config: monitorConfig({ bus: { subject: 'truc.pki.>', durable: 'monitor' }, snapshotSeconds: 3600, queue: { flushMs: 5 } }),
        listen: false,
        scanner: null,
      });
    }, 60_000);

    afterAll(async () => {
      await m?.stop();
      await monBus?.close();
      await p?.close();
      await nats?.stop();
    });

    const csr = () => opensslCsr(dir, `/C=VN/O=Bộ Nội vụ/CN=Outbox ${randomBytes(3).toString('hex')}`).csr;
    const issueMany = (n: number, tag: string) =>
      Promise.all(Array.from({ length: n }, (_, i) => p.issuer.issue({ profile: 'agency-signing', csr: csrs[i % csrs.length]!, requestId: `${tag}-${i}` }, 'ra')));
    let csrs: string[] = [];
    const seen = async (action: string) =>
      p.db.query<{ id: string; serial: string; instance: string }>(
        `SELECT doc #>> '{event,id}' AS id, doc #>> '{truc,serial}' AS serial, doc #>> '{truc,instance}' AS instance
         FROM monitor_event WHERE action = $1`,
        [action],
      );

    it('the stream deleted, then NATS stopped and restarted: every issuance and revocation reaches the monitor once', async () => {
      csrs = Array.from({ length: 4 }, () => csr() as unknown as string);
      const serials = new Set<string>();

      // 1. a healthy bus
      for (const c of await issueMany(20, 'a')) serials.add(c.serial);
      await until('the first 20 events', async () => (await seen('certificate.issued')).length >= 20);

      // 2. the stream is deleted under the running platform and monitor: issuance does not notice
      await monBus.destroy();
      for (const c of await issueMany(20, 'b')) serials.add(c.serial);
      await until('events after the stream was deleted', async () => (await seen('certificate.issued')).length >= 40);
      const afterDelete = await m.busHealth();
      const consumer = (afterDelete.bus as any).consumers[0];
      expect(consumer.attaches).toBeGreaterThan(1); // it reattached by itself
      expect(consumer.lastError).toBeTruthy(); // and says why

      // 3. NATS goes down: operations carry on, their events wait in the outbox
      await nats.stop();
      for (const c of await issueMany(20, 'c')) serials.add(c.serial);
      const revoked = [...serials].slice(0, 5);
      for (const s of revoked) await revoke(p.pki, { serial: s, reason: 'keyCompromise' }, 'ra');
      const outbox = p.bus as OutboxBus;
      expect(await outbox.pending()).toBeGreaterThanOrEqual(25);
      await until('the relay to notice', () => outbox.stats.failures > 0);
      const down = await outbox.health();
      expect((down.outbox as any).lastError).toBeTruthy();

      // 4. NATS returns (same store): everything flows, nothing twice
      await nats.resume();
      await until('all issued events', async () => (await seen('certificate.issued')).length >= 60, 45_000);
      await until('all revocation events', async () => (await seen('certificate.revoked')).length >= 5);
      expect(await outbox.drained(10_000)).toBe(true);

      const issued = await seen('certificate.issued');
      expect(issued).toHaveLength(60);
      expect(new Set(issued.map((e) => e.id)).size).toBe(60);
      expect(new Set(issued.map((e) => e.serial))).toEqual(serials);
      expect(new Set(issued.map((e) => e.instance))).toEqual(new Set(['site-a']));
      const rv = await seen('certificate.revoked');
      expect(rv.map((e) => e.serial).sort()).toEqual([...revoked].sort());
      // in order: each certificate's issuance reached the monitor before its revocation, and the
      // revocations, one after the other while NATS was down, arrived in the order they were made
      const order = await p.db.query<{ action: string; serial: string }>(
        `SELECT action, doc #>> '{truc,serial}' AS serial FROM monitor_event
         WHERE action IN ('certificate.issued', 'certificate.revoked') ORDER BY id`,
      );
      for (const s of revoked) {
        const at = (action: string) => order.findIndex((e) => e.action === action && e.serial === s);
        expect(at('certificate.issued')).toBeLessThan(at('certificate.revoked'));
      }
      expect(order.filter((e) => e.action === 'certificate.revoked').map((e) => e.serial)).toEqual(revoked);

      // the monitor's status shows the bus, the stream and its consumer caught up
      await until('the consumer to catch up', async () => ((await m.busHealth()).bus as any).consumers[0].pending === 0);
      const h = await m.busHealth();
      expect(h.bus).toMatchObject({ kind: 'nats', connected: true, stream, subjectPrefix: prefix, streamPresent: true });
      expect((h.bus as any).consumers[0]).toMatchObject({ durable: 'monitor', state: 'consuming', pending: 0 });
      expect((h.bus as any).consumers[0].lastEventAt).toBeTruthy();
    }, 120_000);
  });
}
