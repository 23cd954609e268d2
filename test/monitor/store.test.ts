import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { pino } from 'pino';
import { openDb, migrate, type Db } from '../../src/store/index.js';
import { makeEvent } from '../../src/bus/index.js';
import { InProcessBus } from '../../src/bus/index.js';
import {
  AlertStore,
  Detection,
  EventStore,
  MonitorService,
  BUILTIN_RULES_DIR,
  hunt,
  monitorConfig,
  monitorMigrations,
} from '../../src/monitor/index.js';
import { testDatabaseUrls } from '../helpers/db.js';

const DAY = 86_400_000;
const log = pino({ level: 'silent' });

for (const { name, url } of testDatabaseUrls()) {
  describe(`monitor storage on ${name}`, () => {
    let db: Db;
    beforeAll(async () => {
      db = await openDb({ url: await url() });
      await migrate(db, monitorMigrations);
    });
    afterAll(async () => db?.close());

    it('stores batches in day partitions and searches columns and any dotted field', async () => {
      const store = new EventStore(db, { retentionDays: 30 });
      const t0 = Date.now() - 2 * DAY;
      const batch = Array.from({ length: 300 }, (_, i) => {
        const at = new Date(t0 + i * 600_000); // spans ~2 days
        return {
          at,
          rules: i % 100 === 0 ? ['r-x'] : [],
          event: makeEvent('http', i % 2 ? 'auth.failed' : 'access.denied', 'failure', {
            category: ['authentication'],
            source: { ip: `10.0.0.${i % 5}` },
            user: { name: `u${i % 3}` },
            truc: { tenant: i % 2 ? 'bo-noi-vu' : 'bo-tai-chinh' },
            at,
          }),
        };
      });
      const ids = await store.insert(batch);
      expect(ids).toHaveLength(300);
      expect(new Set(ids).size).toBe(300);
      const parts = await db.query<{ n: string }>(
        `SELECT c.relname AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'monitor_event'::regclass`,
      );
      expect(parts.filter((p) => p.n.startsWith('monitor_event_p')).length).toBeGreaterThanOrEqual(3);

      const a = await store.search({ where: { 'event.action': 'auth.failed', 'source.ip': '10.0.0.1' }, limit: 1000 });
      expect(a.length).toBe(batch.filter((b, i) => i % 2 && i % 5 === 1).length);
      const j = await store.search({ where: { 'truc.tenant': 'bo-noi-vu', 'user.name': 'u0' }, limit: 1000 });
      expect(j.length).toBe(batch.filter((_, i) => i % 2 && i % 3 === 0).length);
      expect(j[0]!.event.truc!.tenant).toBe('bo-noi-vu');
      const r = await store.search({ where: { rule: 'r-x' } });
      expect(r.map((x) => x.id).sort()).toEqual([ids[0], ids[100], ids[200]].sort());
      const range = await store.search({ from: new Date(t0), to: new Date(t0 + 3_600_000), order: 'asc' });
      expect(range.map((x) => x.id)).toEqual(ids.slice(0, 6));
      // keyset pagination through everything
      let n = 0;
      for await (const _ of store.scan(new Date(t0 - 1), new Date(t0 + 3 * DAY), {}, 64)) n++;
      expect(n).toBe(300);
      await expect(store.search({ where: { "x'); DROP TABLE y; --": '1' } })).rejects.toThrow(/dotted field/);
    });

    it('an event carrying NUL or unpaired surrogates is stored (as U+FFFD), not refused again and again with its batch', async () => {
      const store = new EventStore(db, { retentionDays: 30 });
      const at = new Date();
      const poison = makeEvent('syslog', 'ssh.login', 'failure', { host: { name: 'srv\u0000-01' }, message: 'Failed password for \u0000root', at } as any);
      (poison as any)['weird\u0000key'] = 'x';
      (poison as any).escaped = 'a backslash then u0000: \\u0000';
      (poison as any).lone = 'high \ud800, low \udfff, a pair \ud83d\ude00';
      const ids = await store.insert([{ at, event: poison }, { at, event: makeEvent('syslog', 'ssh.login', 'success', { at }) }]);
      expect(ids).toHaveLength(2);
      const [stored] = await store.search({ where: { id: ids[0] } });
      expect(stored.event.host?.name).toBe('srv\ufffd-01');
      expect((stored.event as any).message).toBe('Failed password for \ufffdroot');
      expect((stored.event as any)['weird\ufffdkey']).toBe('x');
      expect((stored.event as any).escaped).toBe('a backslash then u0000: \\u0000');
      expect((stored.event as any).lone).toBe('high \ufffd, low \ufffd, a pair 😀');
    });

    it('retention counts from ingestion: old events ingested now for a case survive, events ingested long ago go', async () => {
      const start = Date.now();
      let now = start - 10 * DAY; // the store's clock: first ten days ago, when the early events came in
      const store = new EventStore(db, { retentionDays: 3, now: () => now });
      const ev = (action: string, at: Date) => ({ at, event: makeEvent('x', action, 'success', { at }) });
      // taken in ten days ago: one of that day (its own day partition), one of long before (default partition)
      const tenDaysAgo = new Date(start - 10 * DAY);
      await store.insert([ev('ingested.long.ago', tenDaysAgo), ev('ingested.long.ago.old', new Date(start - 400 * DAY))]);
      // taken in now: a case's evidence two years old (default partition), and an event of ten days ago that
      // lands in the partition of the events ingested then
      now = start;
      const twoYearsAgo = new Date(start - 730 * DAY);
      await store.insert([ev('case.evidence', twoYearsAgo), ev('case.evidence', new Date(twoYearsAgo.getTime() + 60_000)), ev('case.late', tenDaysAgo)]);
      const fresh = new Date(start - DAY);
      await store.insert([ev('fresh.one', fresh)]);
      const [evidence] = await store.search({ where: { 'event.action': 'case.evidence' }, limit: 1 });
      expect(evidence!.receivedAt.getTime()).toBe(start);
      expect(evidence!.ts.getTime()).toBe(twoYearsAgo.getTime() + 60_000);

      now = start + DAY;
      const r = await store.applyRetention();
      expect(r.deleted).toBeGreaterThanOrEqual(2);
      const mine = new Set(['ingested.long.ago', 'ingested.long.ago.old', 'case.evidence', 'case.late', 'fresh.one']);
      const actions = async (q = {}) =>
        (await store.search({ ...q, limit: 10_000 }))
          .map((e) => e.event.event.action)
          .filter((a) => mine.has(a))
          .sort();
      const left = await actions();
      expect(left).toEqual(expect.arrayContaining(['case.evidence', 'case.evidence', 'case.late', 'fresh.one']));
      expect(left).not.toContain('ingested.long.ago');
      expect(left).not.toContain('ingested.long.ago.old');
      // search by event time still finds the case's evidence, two years back
      expect(await actions({ from: new Date(twoYearsAgo.getTime() - 3_600_000), to: new Date(twoYearsAgo.getTime() + 3_600_000) })).toEqual(['case.evidence', 'case.evidence']);
      expect(await actions({ from: new Date(tenDaysAgo.getTime() - 1), to: new Date(tenDaysAgo.getTime() + 1) })).toEqual(['case.late']);

      // once the evidence itself was taken in longer ago than the retention, it goes too, and the day partitions it kept with it
      now = start + 5 * DAY;
      const r2 = await store.applyRetention();
      expect(r2.dropped.length).toBeGreaterThan(0);
      expect(r2.dropped.every((name) => /\d{8}$/.test(name))).toBe(true);
      expect(await actions()).toEqual([]);
    });

    it('alerts: de-duplicated by rule and group within the window, then acknowledged, assigned, annotated, closed', async () => {
      const alerts = new AlertStore(db, 600_000);
      const hit = (ip: string, t: number, ids: string[]) => ({
        ruleId: 'rule-1',
        title: 'Test rule',
        author: 'Trục',
        level: 'high',
        tags: ['attack.t1110'],
        attack: ['attack.t1110'],
        kind: 'correlation' as const,
        group: { 'source.ip': ip },
        eventIds: ids,
        firstAt: new Date(t),
        lastAt: new Date(t),
      });
      const t = Date.parse('2026-03-02T03:00:00Z');
      const a = await alerts.raise(hit('1.2.3.4', t, ['1']));
      const b = await alerts.raise(hit('1.2.3.4', t + 60_000, ['2']));
      const c = await alerts.raise(hit('5.6.7.8', t + 60_000, ['3']));
      const d = await alerts.raise(hit('1.2.3.4', t + 3_600_000, ['4']));
      expect([a.created, b.created, c.created, d.created]).toEqual([true, false, true, true]);
      expect(b.alert.id).toBe(a.alert.id);
      expect(b.alert.count).toBe(2);
      expect(b.alert.eventIds).toEqual(['1', '2']);
      expect(a.alert).toMatchObject({ severity: 4, author: 'Trục', attack: ['attack.t1110'], status: 'new' });
      const id = a.alert.id;
      expect((await alerts.acknowledge(id, 'analyst1')).status).toBe('acknowledged');
      expect((await alerts.assign(id, 'analyst2', 'analyst1')).assignee).toBe('analyst2');
      await alerts.note(id, 'analyst2', 'IP thuộc mạng nội bộ');
      await expect(alerts.close(id, '', 'analyst2')).rejects.toThrow(/reason/);
      const closed = await alerts.close(id, 'false positive: scanner', 'analyst2');
      expect(closed).toMatchObject({ status: 'closed', closeReason: 'false positive: scanner' });
      expect(closed.notes!.map((n) => n.text)).toEqual(['acknowledged', 'assigned to analyst2', 'IP thuộc mạng nội bộ', 'closed: false positive: scanner']);
      // a closed alert is not counted into: a new one opens
      const e = await alerts.raise(hit('1.2.3.4', t + 90_000, ['5']));
      expect(e.created).toBe(true);
      expect((await alerts.list({ status: 'closed' })).map((x) => x.id)).toEqual([id]);
      expect((await alerts.groups())[0]).toMatchObject({ ruleId: 'rule-1', alerts: 3 });
      await expect(alerts.get('999999')).rejects.toThrow(/no alert/);
      // a group value with NUL or an unpaired surrogate (taken from an attacker's event) still makes an alert
      const odd = await alerts.raise({ ...hit('9.9.9.9', t, ['6']), ruleId: 'rule-2', group: { 'user.name': 'root\u0000\ud800' } });
      expect(odd.created).toBe(true);
      expect(odd.alert.group).toEqual({ 'user.name': 'root\ufffd\ufffd' });
    });

    it('the service puts an event the database refuses in quarantine and stores the rest of its batch', async () => {
      // a trigger stands in for any value the database cannot take (a data exception, SQLSTATE 22023)
      await db.exec(`
        CREATE OR REPLACE FUNCTION t_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.action = 'poison' THEN RAISE EXCEPTION 'value refused' USING ERRCODE = '22023'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER t_refuse BEFORE INSERT ON monitor_event FOR EACH ROW EXECUTE FUNCTION t_refuse();`);
      const m = await MonitorService.start({ db, bus: new InProcessBus(), log, config: monitorConfig({ queue: { flushMs: 0 } }), listen: false, scanner: null });
      try {
        const r = await m.submit([makeEvent('http', 'good.one', 'success', {}), makeEvent('http', 'poison', 'failure', { user: { name: 'Nguyễn' } }), makeEvent('http', 'good.two', 'success', {})], 'http')!;
        expect(r.ids[1]).toMatch(/^rejected:\d+$/);
        expect(r.ids.filter((id) => !id.startsWith('rejected:'))).toHaveLength(2);
        expect((await m.events.byIds([r.ids[0]!, r.ids[2]!])).map((e) => e.action).sort()).toEqual(['good.one', 'good.two']);
        const [q] = await m.events.rejected();
        expect(q).toMatchObject({ id: r.ids[1]!.slice('rejected:'.length), intake: 'http', error: expect.stringMatching(/value refused/) });
        expect(JSON.parse(q!.raw)).toMatchObject({ event: { action: 'poison' }, user: { name: 'Nguyễn' } });
        expect(m.queue.stats.quarantined).toBe(1);
        // the intake goes on
        expect((await m.submit([makeEvent('http', 'after', 'success', {})], 'http')!).ids[0]).toMatch(/^\d+$/);
        // newest first by number, past ten as well (not by the id's text: "9" after "10")
        for (let i = 0; i < 11; i++) await m.events.reject(makeEvent('http', `refused.${i}`, 'failure', {}), 'http', new Error('refused'));
        const listed = (await m.events.rejected(12)).map((x) => Number(x.id));
        expect(listed).toEqual([...listed].sort((a, b) => b - a));
      } finally {
        await m.stop();
        await db.exec('DROP TRIGGER t_refuse ON monitor_event');
      }
    });

    it('the service: detection, storage, alerts, rule settings, state across restarts, hunting', async () => {
      const bus = new InProcessBus();
      const config = monitorConfig({ queue: { flushMs: 0 } });
      const start = () => MonitorService.start({ db, bus, log, config, listen: false, scanner: null });
      let m = await start();
      const base = Date.now() - 60_000;
      const fail = (ip: string, i: number) =>
        makeEvent('http', 'auth.failed', 'failure', { category: ['authentication'], source: { ip }, user: { name: 'anonymous' }, reason: 'unauthenticated', at: new Date(base + i * 1000) });
      // 6 now, restart, 6 more: the correlation state survives the restart
      const r1 = await m.submit([...Array.from({ length: 6 }, (_, i) => fail('192.0.2.50', i)), { bad: true }, { '@timestamp': 'yesterday', event: { action: 'x' } }], 'http')!;
      expect(r1.ids).toHaveLength(6);
      expect(r1.rejected.map((x) => x.index)).toEqual([6, 7]);
      await m.stop();
      m = await start();
      await m.submit(Array.from({ length: 6 }, (_, i) => fail('192.0.2.50', 6 + i)), 'http');
      const list = await m.alerts.list({ ruleId: m.detection.rules().find((r) => r.title === 'API token guessing')!.id });
      expect(list).toHaveLength(1);
      expect(list[0]!.group).toEqual({ 'source.ip': '192.0.2.50' });
      expect(list[0]!.value).toBe(10);
      const behind = await m.alertEvents(list[0]!);
      expect(behind.length).toBe(10);
      expect(behind.every((e) => e.sourceIp === '192.0.2.50' && e.rules.length === 1)).toBe(true);

      // bus events are taken in
      await bus.publish('truc.audit.chain.broken', makeEvent('audit', 'audit.chain.broken', 'failure', {}));
      await m.queue.flush();
      const audit = await m.alerts.list({ ruleId: m.detection.rules().find((r) => r.title === 'Audit chain tampering')!.id });
      expect(audit).toHaveLength(1);
      const stored = await m.events.byIds(audit[0]!.eventIds);
      expect(stored[0]!.event.truc).toMatchObject({ subject: 'truc.audit.chain.broken', intake: 'bus', part: 'audit' });

      // disable, then tune with an exception
      const malware = m.detection.rules().find((r) => r.title === 'Malware in a file received by the platform')!.id;
      await m.detection.configure(malware, { enabled: false }, 'analyst');
      const hit = (file: string) => makeEvent('scan', 'malware.detected', 'failure', { category: ['malware'], file: { name: file } });
      await m.submit([hit('a.exe')], 'http');
      expect(await m.alerts.list({ ruleId: malware })).toHaveLength(0);
      await m.detection.configure(malware, { enabled: true, filter: { lab: { 'file.name|endswith': '.lab' }, condition: 'not lab' } }, 'analyst');
      await m.submit([hit('sample.lab')], 'http');
      expect(await m.alerts.list({ ruleId: malware })).toHaveLength(0);
      await m.submit([hit('b.exe')], 'http');
      expect(await m.alerts.list({ ruleId: malware })).toHaveLength(1);
      await expect(m.detection.configure(malware, { filter: { condition: 'not nothing' } }, 'analyst')).rejects.toThrow(/filter rejected/);
      // settings are read by a fresh process
      const d2 = await Detection.load(db, [BUILTIN_RULES_DIR]);
      expect(d2.rules().find((r) => r.id === malware)).toMatchObject({ enabled: true, filter: { condition: 'not lab' } });

      // hunting: a loaded correlation, and a posted rule
      const from = new Date(base - 1000);
      const to = new Date();
      const h1 = await hunt(m.events, m.detection, { ruleId: list[0]!.ruleId, from, to });
      expect(h1.correlations).toHaveLength(1);
      expect(h1.correlations[0]!.group).toEqual({ 'source.ip': '192.0.2.50' });
      const h2 = await hunt(m.events, m.detection, {
        from,
        to,
        yaml: `title: hunt for one address
logsource: {product: truc}
detection:
  sel: {source.ip: 192.0.2.50}
  condition: sel
`,
      });
      expect(h2.matches).toHaveLength(12);
      await expect(hunt(m.events, m.detection, { from, to, yaml: 'title: x' })).rejects.toThrow(/rejected/);
      await m.stop();
    });
  });
}
