/**
 * The event store: one table partitioned by UTC day on the event's time (declarative range partitioning,
 * which PGlite supports as PostgreSQL does), columns for the fields searches and dashboards use most, and
 * the whole event as jsonb. Day partitions are created ahead of the rows that need them. Events older than
 * the retention window when they arrive go to the default partition (so that a late event is never refused).
 *
 * Retention counts from when an event was taken in (`received_at`), not from its own time: logs of an
 * incident two years ago, ingested today for a case, are kept for the retention window like any other
 * event instead of being deleted at the next run. Searches still go by event time. A day partition whose
 * rows were all taken in before the cutoff is dropped whole, which costs nothing next to deleting rows (in
 * normal operation events arrive on their day, so this is the common case); rows taken in before the cutoff
 * elsewhere — the default partition, a day partition that also holds recently ingested old events — are
 * deleted through the `received_at` index.
 */
import { TrucError } from '../../errors.js';
import type { Db, Migration, Sql } from '../../store/index.js';
import type { SecurityEvent } from '../../bus/index.js';
import { storableJson, storableText } from '../../store/text.js';

export const eventMigrations: Migration[] = [
  {
    id: 'monitor/001_event',
    sql: `
      CREATE SEQUENCE monitor_event_id_seq;
      CREATE TABLE monitor_event (
        id bigint NOT NULL,
        ts timestamptz NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        category text[] NOT NULL DEFAULT '{}',
        action text NOT NULL,
        outcome text,
        host text,
        user_name text,
        source_ip text,
        part text,
        intake text,
        rules text[] NOT NULL DEFAULT '{}',
        doc jsonb NOT NULL,
        PRIMARY KEY (ts, id)
      ) PARTITION BY RANGE (ts);
      CREATE TABLE monitor_event_default PARTITION OF monitor_event DEFAULT;
      CREATE INDEX monitor_event_id ON monitor_event (id);
      CREATE INDEX monitor_event_action ON monitor_event (action, ts);
      CREATE INDEX monitor_event_user ON monitor_event (user_name, ts);
      CREATE INDEX monitor_event_source_ip ON monitor_event (source_ip, ts);
      CREATE INDEX monitor_event_host ON monitor_event (host, ts);
      CREATE INDEX monitor_event_rules ON monitor_event USING gin (rules);
    `,
  },
  {
    id: 'monitor/004_event_rejected',
    sql: `
      CREATE TABLE monitor_event_rejected (
        id bigserial PRIMARY KEY,
        received_at timestamptz NOT NULL DEFAULT now(),
        intake text NOT NULL,
        error text NOT NULL,
        raw bytea NOT NULL
      );
    `,
  },
  {
    // retention follows ingestion time: rows already stored have theirs in received_at (default now())
    id: 'monitor/005_event_received',
    sql: `CREATE INDEX IF NOT EXISTS monitor_event_received ON monitor_event (received_at);`,
  },
];

/** An accepted event the database refused on its own (a data error): kept as it came, with the reason. */
export interface RejectedEvent {
  id: string;
  receivedAt: Date;
  intake: string;
  error: string;
  raw: string;
}

export interface StoredEvent {
  id: string;
  ts: Date;
  /** when the event was taken in; retention counts from it */
  receivedAt: Date;
  action: string;
  outcome: string | null;
  host: string | null;
  user: string | null;
  sourceIp: string | null;
  part: string | null;
  intake: string | null;
  rules: string[];
  event: SecurityEvent;
}

export interface EventInput {
  event: SecurityEvent;
  at: Date;
  rules?: string[];
}

/** Dotted fields that have a column of their own (and an index). */
const COLUMNS: Record<string, string> = {
  'event.action': 'action',
  'event.outcome': 'outcome',
  'host.name': 'host',
  'user.name': 'user_name',
  'source.ip': 'source_ip',
  'truc.part': 'part',
  'truc.intake': 'intake',
};

export interface EventQuery {
  from?: Date;
  to?: Date;
  /** dotted field → value; `event.category` and `rule` test membership */
  where?: Record<string, string>;
  limit?: number;
  /** keyset pagination: events after this (ts, id) in the chosen order */
  after?: { ts: Date; id: string };
  order?: 'asc' | 'desc';
}

const FIELD = /^[A-Za-z0-9_@-]+(\.[A-Za-z0-9_@-]+){0,15}$/;
const DAY = 86_400_000;

function dayName(day: number): string {
  return `monitor_event_p${new Date(day * DAY).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v.slice(0, 1000) : typeof v === 'number' ? String(v) : null;
}

function rowToEvent(r: any): StoredEvent {
  return {
    id: String(r.id),
    ts: new Date(r.ts),
    receivedAt: new Date(r.received_at),
    action: r.action,
    outcome: r.outcome,
    host: r.host,
    user: r.user_name,
    sourceIp: r.source_ip,
    part: r.part,
    intake: r.intake,
    rules: r.rules ?? [],
    event: typeof r.doc === 'string' ? JSON.parse(r.doc) : r.doc,
  };
}

export class EventStore {
  private readonly days = new Set<number>();

  constructor(
    private readonly db: Db,
    private readonly opts: { retentionDays: number; now?: () => number },
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Creates the day partitions for `days` (UTC day numbers) that are within retention and not made yet. */
  async ensurePartitions(days: Iterable<number>): Promise<void> {
    const oldest = Math.floor(this.now() / DAY) - this.opts.retentionDays;
    for (const d of days) {
      if (this.days.has(d) || d < oldest) continue;
      const from = new Date(d * DAY).toISOString();
      const to = new Date((d + 1) * DAY).toISOString();
      try {
        await this.db.exec(
          `CREATE TABLE IF NOT EXISTS ${dayName(d)} PARTITION OF monitor_event FOR VALUES FROM ('${from}') TO ('${to}')`,
        );
      } catch (e) {
        // another process made it between our check and our statement
        const exists = await this.db.query(`SELECT 1 FROM pg_class WHERE relname = $1`, [dayName(d)]);
        if (!exists.length) throw e;
      }
      this.days.add(d);
    }
  }

  /** Today and the next two days: called on a schedule so that inserts rarely create partitions. */
  async prepare(): Promise<void> {
    const today = Math.floor(this.now() / DAY);
    await this.ensurePartitions([today, today + 1, today + 2]);
  }

  /** Stores a batch in one statement; returns the ids in input order. */
  async insert(batch: readonly EventInput[], sql: Sql = this.db): Promise<string[]> {
    if (batch.length === 0) return [];
    await this.ensurePartitions(new Set(batch.map((b) => Math.floor(b.at.getTime() / DAY))));
    const ids = (
      await sql.query<{ id: string }>(`SELECT nextval('monitor_event_id_seq')::text AS id FROM generate_series(1, $1)`, [batch.length])
    ).map((r) => r.id);
    // the store's clock, not the database's, so that retention and its tests agree on when a row came in
    const receivedAt = new Date(this.now()).toISOString();
    const rows = batch.map((b, i) => {
      const e = b.event as any;
      const cat = e.event?.category;
      return {
        id: ids[i],
        ts: b.at.toISOString(),
        received_at: receivedAt,
        category: Array.isArray(cat) ? cat.filter((c: unknown) => typeof c === 'string') : typeof cat === 'string' ? [cat] : [],
        action: String(e.event.action),
        outcome: str(e.event?.outcome),
        host: str(e.host?.name),
        user_name: str(e.user?.name),
        source_ip: str(e.source?.ip),
        part: str(e.truc?.part),
        intake: str(e.truc?.intake),
        rules: b.rules ?? [],
        doc: e,
      };
    });
    await sql.query(
      `INSERT INTO monitor_event (id, ts, received_at, category, action, outcome, host, user_name, source_ip, part, intake, rules, doc)
       SELECT id, ts, received_at, category, action, outcome, host, user_name, source_ip, part, intake, rules, doc
       FROM jsonb_to_recordset($1::jsonb) AS r(id bigint, ts timestamptz, received_at timestamptz, category text[], action text, outcome text, host text,
         user_name text, source_ip text, part text, intake text, rules text[], doc jsonb)`,
      [storableJson(JSON.stringify(rows))],
    );
    return ids;
  }

  async search(q: EventQuery = {}): Promise<StoredEvent[]> {
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    const conds: string[] = [];
    if (q.from) conds.push(`ts >= ${p(q.from.toISOString())}`);
    if (q.to) conds.push(`ts < ${p(q.to.toISOString())}`);
    for (const [field, value] of Object.entries(q.where ?? {})) {
      if (typeof value !== 'string') throw new TrucError('bad_request', `filter ${field} needs a string value`);
      if (field === 'event.category') conds.push(`category @> ARRAY[${p(value)}]::text[]`);
      else if (field === 'rule') conds.push(`rules @> ARRAY[${p(value)}]::text[]`);
      else if (field === 'id') conds.push(`id = ${p(value)}::bigint`);
      else if (COLUMNS[field]) conds.push(`${COLUMNS[field]} = ${p(value)}`);
      else if (FIELD.test(field)) conds.push(`doc #>> ${p(field.split('.'))}::text[] = ${p(value)}`);
      else throw new TrucError('bad_request', `"${field}" is not a dotted field name`);
    }
    const desc = q.order !== 'asc';
    if (q.after) conds.push(`(ts, id) ${desc ? '<' : '>'} (${p(q.after.ts.toISOString())}::timestamptz, ${p(q.after.id)}::bigint)`);
    const limit = boundedLimit(q.limit, 100, 10_000);
    const lim = p(limit);
    const rows = await this.db.query(
      `SELECT id::text, ts, received_at, action, outcome, host, user_name, source_ip, part, intake, rules, doc FROM monitor_event
       ${conds.length ? 'WHERE ' + conds.join(' AND ') : ''}
       ORDER BY ts ${desc ? 'DESC' : 'ASC'}, id ${desc ? 'DESC' : 'ASC'} LIMIT ${lim}::int`,
      params,
    );
    return rows.map(rowToEvent);
  }

  async byIds(ids: readonly string[]): Promise<StoredEvent[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.query(
      `SELECT id::text, ts, received_at, action, outcome, host, user_name, source_ip, part, intake, rules, doc FROM monitor_event
       WHERE id = ANY($1::bigint[]) ORDER BY ts, id`,
      [ids.slice(0, 10_000)],
    );
    return rows.map(rowToEvent);
  }

  /** Every event of a time range in time order, a page at a time (for hunting). */
  async *scan(from: Date, to: Date, where: Record<string, string> = {}, page = 1000): AsyncGenerator<StoredEvent> {
    let after: { ts: Date; id: string } | undefined;
    for (;;) {
      const rows = await this.search({ from, to, where, limit: page, order: 'asc', ...(after ? { after } : {}) });
      for (const r of rows) yield r;
      if (rows.length < page) return;
      const last = rows[rows.length - 1]!;
      after = { ts: last.ts, id: last.id };
    }
  }

  /**
   * Removes the events taken in more than `retentionDays` ago (by ingestion time, whatever their own time):
   * drops the past day partitions none of whose rows came in since the cutoff, then deletes such rows
   * wherever they remain.
   */
  async applyRetention(): Promise<{ dropped: string[]; deleted: number }> {
    const cutoffDay = Math.floor(this.now() / DAY) - this.opts.retentionDays;
    const cutoff = new Date(cutoffDay * DAY).toISOString();
    const parts = await this.db.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'monitor_event'::regclass AND c.relname LIKE 'monitor_event_p%'`,
    );
    const dropped: string[] = [];
    for (const { name } of parts) {
      const m = /^monitor_event_p(\d{4})(\d{2})(\d{2})$/.exec(name);
      if (!m) continue;
      const day = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / DAY;
      // only past days: a partition made ahead for today or later is empty and must stay
      if (day >= cutoffDay) continue;
      const kept = await this.db.query(`SELECT 1 FROM ${name} WHERE received_at >= $1 LIMIT 1`, [cutoff]);
      if (kept.length) continue;
      await this.db.exec(`DROP TABLE IF EXISTS ${name}`);
      this.days.delete(day);
      dropped.push(name);
    }
    const [del] = await this.db.query<{ n: string }>(
      `WITH gone AS (DELETE FROM monitor_event WHERE received_at < $1 RETURNING 1) SELECT count(*)::text AS n FROM gone`,
      [cutoff],
    );
    return { dropped, deleted: Number(del!.n) };
  }

  /** Keeps an event the database refused (quarantine): its JSON as bytes, and why. Returns its id. */
  async reject(event: SecurityEvent, intake: string, error: unknown): Promise<string> {
    const reason = storableText((error as Error)?.message ?? String(error)).slice(0, 2000);
    const [r] = await this.db.query<{ id: string }>(
      'INSERT INTO monitor_event_rejected (intake, error, raw) VALUES ($1, $2, $3) RETURNING id::text AS id',
      [intake, reason, Buffer.from(JSON.stringify(event), 'utf8')],
    );
    return r.id;
  }

  async rejected(limit = 100): Promise<RejectedEvent[]> {
    const rows = await this.db.query<any>(
      'SELECT id::text AS id, received_at, intake, error, raw FROM monitor_event_rejected ORDER BY monitor_event_rejected.id DESC LIMIT $1',
      [Math.min(Math.max(limit, 1), 1000)],
    );
    return rows.map((r) => ({ id: r.id, receivedAt: new Date(r.received_at), intake: r.intake, error: r.error, raw: Buffer.from(r.raw).toString('utf8') }));
  }

  async count(): Promise<number> {
    const [r] = await this.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM monitor_event`);
    return Number(r!.n);
  }
}

/** A row limit from a caller: an integer from 1 to `max` (absent: `dflt`); anything else is a bad request, never SQL text. */
export function boundedLimit(v: unknown, dflt: number, max: number): number {
  if (v === undefined || v === null || v === '') return dflt;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1) throw new TrucError('bad_request', `limit must be a positive integer, not ${JSON.stringify(String(v).slice(0, 40))}`);
  return Math.min(n, max);
}
