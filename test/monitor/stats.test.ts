/**
 * The dashboard's figures (src/monitor/stats.ts) on PGlite and PostgreSQL: events and alerts stored at
 * known times come back in the right buckets, alerts by level, the top rules, hosts, addresses and actions
 * in order; a range is bounded and a wrong one refused.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { openDb, migrate, type Db } from '../../src/store/index.js';
import { makeEvent } from '../../src/bus/index.js';
import { AlertStore, EventStore, monitorMigrations } from '../../src/monitor/index.js';
import { bucketFor, monitorStats } from '../../src/monitor/stats.js';
import { TrucError } from '../../src/errors.js';
import { testDatabaseUrls } from '../helpers/db.js';

const HOUR = 3_600_000;

for (const { name, url } of testDatabaseUrls()) {
  describe(`monitoring dashboard figures on ${name}`, () => {
    let db: Db;
    beforeAll(async () => {
      db = await openDb({ url: await url() });
      await migrate(db, monitorMigrations);
    });
    afterAll(async () => db?.close());

    it('counts events and alerts per bucket, alerts by level, and the tops in order', async () => {
      const store = new EventStore(db, { retentionDays: 30 });
      const alerts = new AlertStore(db, 0);
      // a day cut in hours, starting on an hour: 3 events in the first hour, 1 in the fifth, 5 in the last
      const to = new Date(Math.floor(Date.now() / HOUR) * HOUR);
      const from = new Date(to.getTime() - 24 * HOUR);
      const at = (h: number, m: number) => new Date(from.getTime() + h * HOUR + m * 60_000);
      const times = [at(0, 1), at(0, 20), at(0, 59), at(4, 30), ...[1, 2, 3, 4, 5].map((m) => at(23, m))];
      await store.insert(
        times.map((t, i) => ({
          at: t,
          rules: [],
          event: makeEvent('http', i < 6 ? 'auth.failed' : 'access.denied', 'failure', {
            category: ['authentication'],
            host: { name: i < 5 ? 'may-chu-1' : 'may-chu-2' },
            source: { ip: i % 3 === 0 ? '10.0.0.9' : '10.0.0.8' },
            at: t,
          }),
        })),
      );
      // outside the range: counted nowhere
      await store.insert([{ at: new Date(from.getTime() - HOUR), rules: [], event: makeEvent('http', 'auth.failed', 'failure', { at: new Date(from.getTime() - HOUR) }) }]);
      const hit = (ruleId: string, level: string, n: number) =>
        alerts.raise({ ruleId, title: `Luật ${ruleId}`, author: undefined, level, tags: [], attack: [], kind: 'rule', group: { n: Math.random() }, eventIds: [], firstAt: new Date(), lastAt: new Date(), count: n });
      await hit('r-brute', 'high', 7);
      await hit('r-brute', 'high', 2);
      await hit('r-hours', 'medium', 1);

      const s = await monitorStats(db, { from, to });
      expect(s.bucketSeconds).toBe(900); // 96 quarter-hours fit in 240 points, 5-minute buckets would not
      expect(s.totals.events).toBe(9);
      const byTime = Object.fromEntries(s.events.map((e) => [e.t, e.count]));
      expect(byTime[at(0, 0).toISOString()]).toBe(1);
      expect(byTime[at(0, 15).toISOString()]).toBe(1);
      expect(byTime[at(0, 45).toISOString()]).toBe(1);
      expect(byTime[at(4, 30).toISOString()]).toBe(1);
      expect(byTime[at(23, 0).toISOString()]).toBe(5);
      expect(s.topHosts).toEqual([
        { value: 'may-chu-1', count: 5 },
        { value: 'may-chu-2', count: 4 },
      ]);
      expect(s.topSources).toEqual([
        { value: '10.0.0.8', count: 6 },
        { value: '10.0.0.9', count: 3 },
      ]);
      expect(s.topActions).toEqual([
        { value: 'auth.failed', count: 6 },
        { value: 'access.denied', count: 3 },
      ]);
      // the alerts were created now, after `to` (an hour boundary): a range up to now holds them
      const now = await monitorStats(db, { from, to: new Date(Date.now() + 60_000) });
      expect(now.totals).toMatchObject({ alerts: 3, openAlerts: 3 });
      expect(now.alerts.reduce((n, a) => n + a.byLevel.high!, 0)).toBe(2);
      expect(now.alerts.reduce((n, a) => n + a.byLevel.medium!, 0)).toBe(1);
      expect(now.topRules).toEqual([
        { ruleId: 'r-brute', title: 'Luật r-brute', level: 'high', alerts: 2, hits: 9 },
        { ruleId: 'r-hours', title: 'Luật r-hours', level: 'medium', alerts: 1, hits: 1 },
      ]);
    });

    it('refuses a reversed range or one longer than a year', async () => {
      const t = new Date();
      await expect(monitorStats(db, { from: t, to: new Date(t.getTime() - 1) })).rejects.toThrow(TrucError);
      await expect(monitorStats(db, { from: new Date(t.getTime() - 400 * 86_400_000), to: t })).rejects.toThrow(/a year/);
    });
  });
}

describe('dashboard buckets', () => {
  it('keeps a chart under 240 points', () => {
    expect(bucketFor(HOUR)).toBe(60);
    expect(bucketFor(7 * 24 * HOUR)).toBe(3600);
    expect(bucketFor(30 * 24 * HOUR)).toBe(3 * 3600);
    expect(bucketFor(366 * 24 * HOUR)).toBe(7 * 86_400);
  });
});
