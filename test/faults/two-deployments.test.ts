/**
 * Two deployments on one NATS server of the test's own: the live one ("site-a", with its monitor) and a
 * restored copy ("site-b"). Left on the same stream and subject prefix — the mistake the guide warns of —
 * the copy's events reach the live monitor's consumer, which quarantines them instead of storing them among
 * its own, says so in its status and log, and stores every one of its own deployment's. Given a stream and
 * prefix of its own, the copy's events never reach the live stream at all.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { pino } from 'pino';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config.js';
import { openPlatform, type Platform } from '../../src/platform.js';
import { initHierarchy } from '../../src/pki/index.js';
import { DEFAULT_HIERARCHY } from '../../src/cli/bootstrap.js';
import { MonitorService, monitorConfig } from '../../src/monitor/index.js';
import type { OutboxBus } from '../../src/bus/outbox.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import { OwnNats, NATS_SERVER } from './nats-server.js';

const until = async (what: string, cond: () => Promise<boolean> | boolean, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe.skipIf(!NATS_SERVER && process.env.CI !== 'true')('two deployments on one NATS', () => {
  let nats: OwnNats;
  const open: Platform[] = [];
  let m: MonitorService;
  const stream = `TRUC_D_${randomBytes(3).toString('hex').toUpperCase()}`;
  const prefix = `td${randomBytes(3).toString('hex')}`;
  const warnings: string[] = [];

  const deployment = async (instance: string, bus: { stream: string; subjectPrefix: string }) => {
    const dataDir = tmp('truc-data-');
    const p = await openPlatform(
      loadConfig({
        env: {},
        overrides: {
          dataDir,
          database: { url: 'memory://' },
          keys: { software: { dir: `${dataDir}/keys`, passphrase: 'test passphrase' } },
          log: { level: 'silent' },
          bus: { kind: 'nats', url: nats.url, ...bus },
          instance,
        } as any,
      }),
    );
    open.push(p);
    await initHierarchy(p.pki, DEFAULT_HIERARCHY, 'test');
    return p;
  };

  beforeAll(async () => {
    nats = await OwnNats.start();
  }, 30_000);
  afterAll(async () => {
    await m?.stop();
    for (const p of open.reverse()) await p.close().catch(() => {});
    await nats?.stop();
  });

  it("a copy on the live stream is quarantined at the live monitor; on its own stream it never arrives", async () => {
    const live = await deployment('site-a', { stream, subjectPrefix: prefix });
    const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    m = await MonitorService.start({
      db: live.db,
      bus: live.bus,
      log,
      config: monitorConfig({ bus: { subject: 'truc.pki.>', durable: 'monitor' }, snapshotSeconds: 3600, queue: { flushMs: 5 } }),
      listen: false,
      scanner: null,
    });
    const dir = tmp();
    const issue = (p: Platform, n: number, tag: string) =>
      Promise.all(
        Array.from({ length: n }, (_, i) =>
          p.issuer.issue({ profile: 'agency-signing', csr: opensslCsr(dir, `/C=VN/O=Bộ Nội vụ/CN=${tag} ${i}`).csr, requestId: `${tag}-${i}` }, 'ra'),
        ),
      );
    const stored = async () =>
      live.db.query<{ instance: string; serial: string }>(
        `SELECT doc #>> '{truc,instance}' AS instance, doc #>> '{truc,serial}' AS serial FROM monitor_event WHERE action = 'certificate.issued'`,
      );

    // the restored copy left on the live stream and prefix
    const copy = await deployment('site-b', { stream, subjectPrefix: prefix });
    const ours = await issue(live, 5, 'live');
    const theirs = await issue(copy, 4, 'copy');
    const quarantinedIssued = async () =>
      (await m.events.rejected(1000))
        .map((r) => ({ error: r.error, e: JSON.parse(r.raw) as { event: { action: string }; truc: { instance: string; serial: string } } }))
        .filter((r) => r.e.event.action === 'certificate.issued');
    await until('the copy’s issuances to be quarantined', async () => (await quarantinedIssued()).length >= 4);
    await until('the live events', async () => (await stored()).length >= 5);
    const rows = await stored();
    expect(new Set(rows.map((r) => r.instance))).toEqual(new Set(['site-a']));
    expect(rows.map((r) => r.serial).sort()).toEqual(ours.map((c) => c.serial).sort());
    const q = await quarantinedIssued();
    expect(q.map((r) => r.e.truc.instance)).toEqual(['site-b', 'site-b', 'site-b', 'site-b']);
    expect(q.map((r) => r.e.truc.serial).sort()).toEqual(theirs.map((c) => c.serial).sort());
    expect(q[0]!.error).toMatch(/another deployment \(truc.instance site-b\)/);
    // the operator is told: the status and, once, the log
    const h = await m.busHealth();
    const foreign = m.stats.foreignDropped; // the copy's issuances and its hierarchy's own events
    expect(foreign).toBeGreaterThanOrEqual(4);
    expect(h).toMatchObject({ instances: ['site-a'], foreign: { 'site-b': foreign } });
    expect(warnings.filter((w) => w.includes('another deployment') && w.includes('site-b'))).toHaveLength(1);
    await copy.close();
    open.splice(open.indexOf(copy), 1);

    // the copy given a stream and prefix of its own: nothing of it reaches the live monitor
    const apart = await deployment('site-b', { stream: `${stream}_B`, subjectPrefix: `${prefix}b` });
    await issue(apart, 3, 'apart');
    expect(await (apart.bus as OutboxBus).drained(10_000)).toBe(true);
    const more = await issue(live, 2, 'live-2');
    await until('the later live events', async () => (await stored()).length >= 7);
    await new Promise((r) => setTimeout(r, 300));
    expect((await stored()).map((r) => r.serial).sort()).toEqual([...ours, ...more].map((c) => c.serial).sort());
    expect(m.stats.foreignDropped).toBe(foreign);
  }, 90_000);
});
