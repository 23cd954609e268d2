/**
 * The monitoring service, wired: intake (HTTP batches, syslog listeners, files, the platform bus) into one
 * bounded queue; each batch through detection, then stored with its rule hits, then alerts raised and
 * notified. Periodic work: correlation state saved, day partitions prepared and old ones dropped, rule
 * settings re-read (other processes may change them).
 */
import type { Logger } from 'pino';
import { makeEvent, type Bus } from '../bus/index.js';
import { NatsBus } from '../bus/nats.js';
import { OutboxBus } from '../bus/outbox.js';
import type { Db, Sql } from '../store/index.js';
import { BUILTIN_RULES_DIR, type MonitorConfig } from './config.js';
import { EventStore } from './events/store.js';
import { acceptEvent, LocalHour, type Intake } from './events/normalize.js';
import { IntakeQueue, type QueuedEvent } from './intake/queue.js';
import { SyslogServer, type SyslogAddresses } from './intake/syslog-server.js';
import { AlertStore, groupKey, MAX_EVENT_IDS, type Alert, type AlertHit } from './alerts/store.js';
import { Notifier } from './alerts/notify.js';
import type { SecretSource } from './alerts/secrets.js';
import { compileSettings, Detection, ruleKey, type DetectResult } from './detect/detection.js';
import { Scanner } from './scan/index.js';
import type { CorrelationMatch, MatchResult } from './sigma/index.js';

export { monitorMigrations } from './migrations.js';

/** The bus beneath the outbox, where subscriptions are made. */
function busBeneath(bus: Bus): Bus {
  return bus instanceof OutboxBus ? bus.inner : bus;
}

/** The id an event from the bus is keyed by, when it has a usable one. */
function busEventId(q: QueuedEvent): string | null {
  if (q.intake !== 'bus') return null;
  const id = (q.event.event as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : null;
}

export interface MonitorDeps {
  db: Db;
  bus: Bus;
  log: Logger;
  config: MonitorConfig;
  /** replaces the notifier built from the configuration (tests) */
  notifier?: Notifier;
  /** the sealed notification secrets the channels name (`secretHeaders`, `passwordSecret`) */
  secrets?: SecretSource;
  /** null: no scanner even if configured */
  scanner?: Scanner | null;
  /** listen for syslog (default true; the CLI's ingest does not) */
  listen?: boolean;
  /** subscribe to the bus (default config.bus.subscribe) */
  subscribe?: boolean;
}

export interface Rejected {
  index: number;
  reason: string;
}

function plainGroup(e: Record<string, any>): Record<string, unknown> {
  const g: Record<string, unknown> = {};
  if (typeof e.source?.ip === 'string') g['source.ip'] = e.source.ip;
  if (typeof e.user?.name === 'string') g['user.name'] = e.user.name;
  if (typeof e.host?.name === 'string') g['host.name'] = e.host.name;
  return g;
}

export class MonitorService {
  readonly events: EventStore;
  readonly alerts: AlertStore;
  readonly queue: IntakeQueue;
  readonly notifier: Notifier;
  readonly hour: LocalHour;
  syslog: SyslogServer | undefined;
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void) | undefined;
  private listeners: ((a: Alert, created: boolean) => void)[] = [];
  readonly stats = { alertsRaised: 0, alertErrors: 0, duplicatesDropped: 0, foreignDropped: 0 };
  /** whether the outbox was last seen holding events longer than `bus.stalledSeconds` */
  private outboxStalled = false;
  /** events from other deployments, by their `truc.instance`, quarantined instead of stored */
  private readonly foreign = new Map<string, number>();
  private readonly detected = new WeakMap<QueuedEvent, DetectResult>();

  private constructor(
    readonly deps: MonitorDeps,
    readonly detection: Detection,
    readonly scanner: Scanner | undefined,
  ) {
    const c = deps.config;
    this.events = new EventStore(deps.db, { retentionDays: c.retentionDays });
    this.alerts = new AlertStore(deps.db, c.alerts.dedupSeconds * 1000);
    this.notifier = deps.notifier ?? Notifier.fromConfig(c.notify, deps.log, deps.secrets);
    if (c.notify.email?.password) deps.log.warn('mật khẩu SMTP để rõ trong tệp cấu hình (the SMTP password is clear text in the configuration file): seal it with `truc monitor notify-secret set` and use monitor.notify.email.passwordSecret');
    for (const w of c.notify.webhooks)
      for (const h of Object.keys(w.headers ?? {}))
        if (/^(authorization|.*token.*|.*key.*|.*secret.*)$/i.test(h))
          deps.log.warn({ header: h }, 'tiêu đề webhook có vẻ là bí mật để rõ (a webhook header looks like a clear-text secret): use monitor.notify.webhooks[].secretHeaders');
    this.hour = new LocalHour(c.timezone);
    this.queue = new IntakeQueue((b) => this.sink(b), {
      ...c.queue,
      onError: (err) => deps.log.error({ err }, 'storing events failed; retrying'),
      quarantine: async (e, err) => {
        const id = await this.events.reject(e.event, e.intake, err);
        deps.log.warn({ err, rejected: id, intake: e.intake }, 'an event the database refused was put in quarantine');
        return id;
      },
    });
  }

  static async start(deps: MonitorDeps): Promise<MonitorService> {
    const c = deps.config;
    const dirs = [...(c.builtinRules ? [BUILTIN_RULES_DIR] : []), ...c.ruleDirs];
    const detection = await Detection.load(deps.db, dirs, deps.log, await compileSettings(c));
    for (const r of detection.rejected.slice(0, 20)) deps.log.warn({ rule: r.rule, file: r.file, reason: r.reason }, 'rule not loaded');
    let scanner: Scanner | undefined;
    if (deps.scanner !== null) {
      try {
        scanner = deps.scanner ?? (await Scanner.fromConfig(c.scan, deps.bus));
      } catch (err) {
        deps.log.error({ err }, 'malware scanning not available');
      }
    }
    const s = new MonitorService(deps, detection, scanner);
    await s.events.prepare();
    if (deps.listen !== false) {
      s.syslog = new SyslogServer(c, s.queue, s.hour, deps.log);
      await s.syslog.start();
    }
    if (deps.subscribe ?? c.bus.subscribe) s.subscribe();
    const every = (ms: number, f: () => Promise<unknown>) => {
      const t = setInterval(() => f().catch((err) => deps.log.error({ err }, 'monitor maintenance failed')), ms);
      t.unref();
      s.timers.push(t);
    };
    every(c.snapshotSeconds * 1000, async () => {
      for (const m of detection.advance()) await s.raise(s.correlationHit(m, []));
      await detection.saveState();
    });
    every(30_000, () => detection.reload());
    const stalled = c.bus.stalledSeconds ?? 60;
    every(Math.min(30, stalled / 2) * 1000, () => s.checkOutbox(stalled));
    every(3_600_000, async () => {
      await s.events.prepare();
      const r = await s.events.applyRetention();
      await deps.db.query(`DELETE FROM monitor_bus_seen WHERE at < now() - make_interval(days => $1)`, [c.retentionDays + 1]);
      if (r.dropped.length || r.deleted) deps.log.info(r, 'old events removed');
    });
    return s;
  }

  get addresses(): SyslogAddresses {
    return this.syslog?.addresses ?? {};
  }

  /** Called for every alert raised (new or counted again); for tests and live consoles. */
  onAlert(f: (a: Alert, created: boolean) => void): () => void {
    this.listeners.push(f);
    return () => (this.listeners = this.listeners.filter((x) => x !== f));
  }

  private subscribe(): void {
    const bus = busBeneath(this.deps.bus);
    const handler = async (subject: string, ev: unknown) => {
      const q = this.normalize(ev, 'bus');
      if (!q.ok) {
        this.deps.log.warn({ subject, reason: q.reason }, 'bus event not accepted');
        return;
      }
      const from = (q.value.event.truc as { instance?: unknown } | undefined)?.instance;
      if (typeof from === 'string' && !this.takesInstance(from)) return this.quarantineForeign(from, q.value, subject);
      ((q.value.event.truc ??= {}) as Record<string, unknown>).subject = subject;
      // acknowledged (by returning) only once stored: JetStream redelivers otherwise. `put` keeps the
      // delivery order while the queue is full, and rejects once the monitor stops (the event stays
      // unacknowledged, for the next consumer) — never a retry without waiting for the queue to move.
      if (bus instanceof NatsBus) return void (await this.queue.put([q.value]));
      while (!this.queue.hasRoom()) await this.queue.room();
      this.queue.push(q.value);
    };
    const { subject: pattern, durable } = this.deps.config.bus;
    // many events in flight at once, stored in the queue's batches: one at a time, each would wait for its
    // own flush and transaction (under 50 events a second)
    const inflight = Math.min(256, this.deps.config.queue.capacity);
    this.unsubscribe = bus instanceof NatsBus ? bus.subscribe(pattern, handler, { durable, inflight }) : bus.subscribe(pattern, handler);
  }

  /**
   * The deployments whose bus events this monitor stores: `monitor.bus.instances` (`*` for any), by default
   * its own (the instance of the platform it runs in). Null: any.
   */
  private instances(): Set<string> | null {
    const list = this.deps.config.bus.instances;
    if (list?.includes('*')) return null;
    if (list?.length) return new Set(list);
    const bus = this.deps.bus;
    return bus instanceof OutboxBus ? new Set([bus.stats.instance]) : null;
  }

  private takesInstance(instance: string): boolean {
    const set = this.instances();
    return !set || set.has(instance);
  }

  /**
   * An event another deployment put on this monitor's stream (a restored copy, a second platform left on
   * the default stream names): kept in quarantine, counted, and said in the log once per deployment —
   * never mixed into this deployment's events and alerts.
   */
  private async quarantineForeign(instance: string, q: QueuedEvent, subject: string): Promise<void> {
    const seen = this.foreign.get(instance) ?? 0;
    if (this.foreign.size < 100 || seen) this.foreign.set(instance, seen + 1);
    this.stats.foreignDropped++;
    if (!seen)
      this.deps.log.warn(
        { instance, subject, takes: [...(this.instances() ?? [])] },
        'sự kiện từ một triển khai khác trên bus này: cách ly, không lưu / bus event from another deployment: quarantined, not stored (give each deployment its own bus.stream and bus.subjectPrefix)',
      );
    await this.events.reject(q.event, 'bus', new Error(`event from another deployment (truc.instance ${instance.slice(0, 64)}) on ${subject.slice(0, 200)}`));
  }

  /**
   * Security events held in the outbox longer than `seconds` mean the bus is not taking them (NATS down,
   * the stream refusing): the bus cannot carry that news, so the monitor, which shares the database, tells
   * itself — `bus.outbox.stalled` (built-in rule *Security events held in the outbox*), and
   * `bus.outbox.recovered` once they flow again.
   */
  private async checkOutbox(seconds: number): Promise<void> {
    const bus = this.deps.bus;
    if (!(bus instanceof OutboxBus) || !bus.stats.durable) return;
    const [r] = await this.deps.db.query<{ n: string; age: number | null }>(
      `SELECT count(*)::text AS n, extract(epoch FROM now() - min(created))::float8 AS age FROM bus_outbox`,
    );
    const pending = Number(r?.n ?? 0);
    const age = Math.floor(Number(r?.age ?? 0));
    const now = pending > 0 && age >= seconds;
    if (now === this.outboxStalled) return;
    this.outboxStalled = now;
    const truc = { pending, oldestSeconds: age, lastError: bus.stats.lastError };
    if (now) this.deps.log.error(truc, 'sự kiện an ninh bị giữ trong hộp thư đi: bus không nhận / security events held in the outbox: the bus is not taking them');
    else this.deps.log.info(truc, 'security events flow from the outbox again');
    await this.submit(
      [makeEvent('bus', now ? 'outbox.stalled' : 'outbox.recovered', now ? 'failure' : 'success', { truc, ...(now && bus.stats.lastError ? { reason: bus.stats.lastError } : {}) })],
      'bus',
    );
  }

  /**
   * The bus as this monitor sees it: connection, stream, its consumer (state, reattachments, pending
   * events, last event, last error), the outbox of this process, and events from other deployments.
   */
  async busHealth(): Promise<Record<string, unknown>> {
    const bus = this.deps.bus;
    const own = {
      subscribed: !!this.unsubscribe,
      duplicatesDropped: this.stats.duplicatesDropped,
      instances: this.instances() ? [...this.instances()!] : ['*'],
      foreign: Object.fromEntries(this.foreign),
    };
    if (bus instanceof OutboxBus) return { ...own, ...(await bus.health()) };
    if (bus instanceof NatsBus) return { ...own, bus: await bus.health() };
    return { ...own, bus: { kind: 'in-process', connected: true } };
  }

  /** Validates and derives one untrusted value. */
  normalize(value: unknown, intake: Intake): { ok: true; value: QueuedEvent } | { ok: false; reason: string } {
    const r = acceptEvent(value, intake, this.hour);
    return r.ok ? { ok: true, value: { event: r.event, at: r.at, intake: r.intake } } : r;
  }

  /**
   * Accepts a batch: the valid events are stored (resolves once they are) and the invalid reported by index.
   * Null when the queue has no room for the batch: nothing was accepted, the caller should retry later.
   * `refused`: events an intake refused before parsing them (too large or deep to build), by index.
   */
  submit(values: unknown[], intake: Intake, refused?: ReadonlyMap<number, string>): Promise<{ ids: string[]; rejected: Rejected[] }> | null {
    const ok: QueuedEvent[] = [];
    const rejected: Rejected[] = [];
    values.forEach((v, index) => {
      const reason = refused?.get(index);
      if (reason !== undefined) return void rejected.push({ index, reason });
      const r = this.normalize(v, intake);
      if (r.ok) ok.push(r.value);
      else rejected.push({ index, reason: r.reason });
    });
    const p = this.queue.offer(ok);
    if (!p) return null;
    return p.then((ids) => ({ ids, rejected }));
  }

  /** Bus events whose id was stored before are dropped (answered `duplicate`); the rest are stored with their ids remembered. */
  private async sink(batch: QueuedEvent[]): Promise<string[]> {
    const keys = batch.map(busEventId);
    if (!keys.some((k) => k !== null)) {
      const r = await this.store(batch);
      await this.raiseAll(r.hits);
      return r.ids;
    }
    // partitions made outside the transaction (their statements run on the handle, not on the transaction)
    await this.events.ensurePartitions(new Set(batch.map((b) => Math.floor(b.at.getTime() / 86_400_000))));
    let hits: AlertHit[] = [];
    const out = await this.deps.db.tx(async (sql) => {
      const fresh = new Set(
        (
          await sql.query<{ event_id: string }>(
            `INSERT INTO monitor_bus_seen (event_id) SELECT DISTINCT unnest($1::text[]) ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
            [`{${keys.filter((k): k is string => k !== null).map((k) => `"${k.replace(/["\\]/g, '')}"`).join(',')}}`],
          )
        ).map((r) => r.event_id),
      );
      const keep: number[] = [];
      batch.forEach((_, i) => {
        const k = keys[i];
        if (k === null) return void keep.push(i);
        const key = k.replace(/["\\]/g, '');
        // the first of two copies within one batch keeps the id; the second is a duplicate
        if (fresh.delete(key)) keep.push(i);
      });
      this.stats.duplicatesDropped += batch.length - keep.length;
      const r = await this.store(keep.map((i) => batch[i]!), sql);
      hits = r.hits;
      const ids: string[] = batch.map(() => 'duplicate');
      keep.forEach((i, j) => (ids[i] = r.ids[j]!));
      return ids;
    });
    // alerts after the commit: raising one writes through the database handle
    await this.raiseAll(hits);
    return out;
  }

  private async raiseAll(hits: AlertHit[]): Promise<void> {
    for (const h of hits) await this.raise(h);
  }

  /** Detection, then the batch stored; returns the ids and the hits to raise once stored. */
  private async store(batch: QueuedEvent[], sql?: Sql): Promise<{ ids: string[]; hits: AlertHit[] }> {
    // detection runs once per event even when a failed write is retried: the correlator must not count twice
    const results = batch.map((b) => {
      let r = this.detected.get(b);
      if (!r) this.detected.set(b, (r = this.detection.process(b.event as unknown as Record<string, unknown>)));
      return r;
    });
    const ids = await this.events.insert(
      batch.map((b, i) => ({ event: b.event, at: b.at, rules: results[i]!.rules })),
      sql,
    );
    // hits of one rule and group within a batch are raised as one (a storm costs one statement, not thousands)
    const hits = new Map<string, AlertHit>();
    const add = (h: AlertHit) => {
      const k = `${h.ruleId}\u0000${groupKey(h.group)}`;
      const prev = hits.get(k);
      if (!prev) return void hits.set(k, { ...h, count: 1 });
      prev.count = (prev.count ?? 1) + 1;
      if (prev.eventIds.length < MAX_EVENT_IDS) prev.eventIds.push(...h.eventIds);
      if (h.firstAt < prev.firstAt) prev.firstAt = h.firstAt;
      if (h.lastAt > prev.lastAt) prev.lastAt = h.lastAt;
      if (h.value !== undefined) prev.value = h.value;
    };
    for (let i = 0; i < batch.length; i++) {
      const r = results[i]!;
      for (const m of r.alerts) add(this.ruleHit(m, ids[i]!, batch[i]!.at));
      for (const c of r.correlations) add(this.correlationHit(c, [ids[i]!]));
    }
    return { ids, hits: [...hits.values()] };
  }

  private ruleHit(m: MatchResult, eventId: string, at: Date): AlertHit {
    return {
      ruleId: m.ruleId ?? m.ruleName ?? m.title,
      title: m.title,
      author: m.author,
      level: m.level,
      tags: m.tags,
      attack: m.attack,
      kind: 'rule',
      group: plainGroup(m.event),
      eventIds: [eventId],
      firstAt: at,
      lastAt: at,
      sample: m.event,
    };
  }

  private correlationHit(c: CorrelationMatch, eventIds: string[]): AlertHit {
    return {
      ruleId: ruleKey({ id: c.correlationId, name: c.correlationName, title: c.title }),
      title: c.title,
      author: c.author,
      level: c.level,
      tags: c.tags,
      attack: c.attack,
      kind: 'correlation',
      group: c.group,
      eventIds,
      firstAt: new Date(c.firstAt),
      lastAt: new Date(c.lastAt),
      value: c.value,
      sample: c.event,
    };
  }

  private async raise(hit: AlertHit): Promise<void> {
    try {
      const { alert, created } = await this.alerts.raise(hit);
      this.stats.alertsRaised++;
      if (created) this.notifier.notify(alert);
      for (const f of this.listeners) f(alert, created);
    } catch (err) {
      // the events are stored (with their rule hits); the alert can be recovered by hunting
      this.stats.alertErrors++;
      this.deps.log.error({ err, rule: hit.ruleId, events: hit.eventIds }, 'raising an alert failed');
    }
  }

  /** The events behind an alert: for a correlation, those of its rules and group in its time span. */
  async alertEvents(a: Alert, limit = 500) {
    if (a.kind === 'rule') return this.events.byIds(a.eventIds);
    const doc = this.detection.find(a.ruleId);
    const rules = doc?.kind === 'correlation' ? doc.rules : [];
    const out = [];
    for (const r of rules) {
      const base = this.detection.find(r);
      const where: Record<string, string> = { rule: base ? ruleKey(base) : r };
      for (const [k, v] of Object.entries(a.group)) if (typeof v === 'string') where[k] = v;
      out.push(...(await this.events.search({ from: a.firstAt, to: new Date(a.lastAt.getTime() + 1), where, limit, order: 'asc' })));
    }
    return out;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.unsubscribe?.();
    await this.syslog?.stop();
    await this.queue.close();
    await this.detection.saveState().catch((err) => this.deps.log.error({ err }, 'saving correlation state failed'));
    await this.notifier.close();
  }
}
