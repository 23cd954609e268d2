/**
 * Alerts: what a rule or a correlation found, kept for analysts. One alert stands for a rule and a group
 * (the correlation's group-by values, or the source address, user and host of a plain rule's event): a
 * new hit of the same rule and group within the de-duplication window raises the count of the open alert
 * instead of opening another. Each alert carries the rule's author (the Detection Rule License requires it
 * for SigmaHQ rules), its ATT&CK tags and the ids of the stored events behind it. Analysts acknowledge,
 * assign, annotate and close (with a reason).
 */
import { TrucError } from '../../errors.js';
import type { Db, Migration } from '../../store/index.js';
import { storableJson } from '../../store/text.js';
import { boundedLimit } from '../events/store.js';

export const alertMigrations: Migration[] = [
  {
    id: 'monitor/002_alert',
    sql: `
      CREATE TABLE monitor_alert (
        id bigserial PRIMARY KEY,
        rule_id text NOT NULL,
        rule_title text NOT NULL,
        rule_author text,
        kind text NOT NULL CHECK (kind IN ('rule', 'correlation')),
        level text NOT NULL,
        severity int NOT NULL,
        tags text[] NOT NULL DEFAULT '{}',
        attack text[] NOT NULL DEFAULT '{}',
        group_key text NOT NULL,
        group_values jsonb NOT NULL DEFAULT '{}',
        count int NOT NULL DEFAULT 1,
        value double precision,
        event_ids bigint[] NOT NULL DEFAULT '{}',
        sample jsonb,
        first_at timestamptz NOT NULL,
        last_at timestamptz NOT NULL,
        status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'acknowledged', 'closed')),
        close_reason text,
        assignee text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX monitor_alert_open ON monitor_alert (rule_id, group_key, last_at) WHERE status <> 'closed';
      CREATE INDEX monitor_alert_created ON monitor_alert (created_at);
      CREATE TABLE monitor_alert_note (
        id bigserial PRIMARY KEY,
        alert_id bigint NOT NULL REFERENCES monitor_alert (id) ON DELETE CASCADE,
        author text NOT NULL,
        text text NOT NULL,
        at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX monitor_alert_note_alert ON monitor_alert_note (alert_id);
    `,
  },
];

export const LEVELS = ['informational', 'low', 'medium', 'high', 'critical'] as const;
export type Level = (typeof LEVELS)[number];

export function severityOf(level: string | undefined): number {
  const i = LEVELS.indexOf((level ?? 'medium') as Level);
  return i < 0 ? 3 : i + 1;
}

export const MAX_EVENT_IDS = 1000;

export interface AlertHit {
  ruleId: string;
  title: string;
  author: string | undefined;
  level: string | undefined;
  tags: string[];
  attack: string[];
  kind: 'rule' | 'correlation';
  group: Record<string, unknown>;
  eventIds: string[];
  /** event time of the first and last contributing event */
  firstAt: Date;
  lastAt: Date;
  value?: number;
  sample?: unknown;
  /** hits this stands for (several of one rule and group in one batch are raised once); default 1 */
  count?: number;
}

export interface Alert {
  id: string;
  ruleId: string;
  title: string;
  author: string | null;
  kind: 'rule' | 'correlation';
  level: string;
  severity: number;
  tags: string[];
  attack: string[];
  groupKey: string;
  group: Record<string, unknown>;
  count: number;
  value: number | null;
  eventIds: string[];
  sample: unknown;
  firstAt: Date;
  lastAt: Date;
  status: 'new' | 'acknowledged' | 'closed';
  closeReason: string | null;
  assignee: string | null;
  createdAt: Date;
  updatedAt: Date;
  notes?: { author: string; text: string; at: Date }[];
}

export interface AlertFilter {
  status?: string;
  ruleId?: string;
  minSeverity?: number;
  assignee?: string;
  since?: Date;
  limit?: number;
}

const COLS = `id::text, rule_id, rule_title, rule_author, kind, level, severity, tags, attack, group_key, group_values, count, value,
  event_ids::text[] AS event_ids, sample, first_at, last_at, status, close_reason, assignee, created_at, updated_at`;

function toAlert(r: any): Alert {
  return {
    id: String(r.id),
    ruleId: r.rule_id,
    title: r.rule_title,
    author: r.rule_author,
    kind: r.kind,
    level: r.level,
    severity: Number(r.severity),
    tags: r.tags,
    attack: r.attack,
    groupKey: r.group_key,
    group: r.group_values,
    count: Number(r.count),
    value: r.value === null ? null : Number(r.value),
    eventIds: r.event_ids ?? [],
    sample: r.sample,
    firstAt: new Date(r.first_at),
    lastAt: new Date(r.last_at),
    status: r.status,
    closeReason: r.close_reason,
    assignee: r.assignee,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

export function groupKey(group: Record<string, unknown>): string {
  return JSON.stringify(Object.keys(group).sort().map((k) => [k, group[k] ?? null])).slice(0, 2000);
}

export class AlertStore {
  constructor(
    private readonly db: Db,
    private readonly dedupMs: number,
  ) {}

  /** Records a hit: a new alert, or one more on the open alert of the same rule and group. */
  async raise(hit: AlertHit): Promise<{ alert: Alert; created: boolean }> {
    const key = groupKey(hit.group);
    return this.db.tx(async (sql) => {
      const [open] = await sql.query<any>(
        `SELECT id FROM monitor_alert WHERE rule_id = $1 AND group_key = $2 AND status <> 'closed' AND last_at >= $3 AND first_at <= $4
         ORDER BY id DESC LIMIT 1 FOR UPDATE`,
        [
          hit.ruleId,
          key,
          new Date(hit.firstAt.getTime() - this.dedupMs).toISOString(),
          new Date(hit.lastAt.getTime() + this.dedupMs).toISOString(),
        ],
      );
      if (open) {
        const [r] = await sql.query(
          `UPDATE monitor_alert SET count = count + $6, last_at = GREATEST(last_at, $2), first_at = LEAST(first_at, $5), updated_at = now(),
             value = COALESCE($4, value),
             event_ids = (event_ids || $3::bigint[])[1:${MAX_EVENT_IDS}]
           WHERE id = $1 RETURNING ${COLS}`,
          [open.id, hit.lastAt.toISOString(), hit.eventIds, hit.value ?? null, hit.firstAt.toISOString(), hit.count ?? 1],
        );
        return { alert: toAlert(r), created: false };
      }
      const [r] = await sql.query(
        `INSERT INTO monitor_alert (rule_id, rule_title, rule_author, kind, level, severity, tags, attack, group_key, group_values,
           value, event_ids, sample, first_at, last_at, count)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::bigint[], $13, $14, $15, $16) RETURNING ${COLS}`,
        [
          hit.ruleId,
          hit.title.slice(0, 500),
          hit.author ?? null,
          hit.kind,
          hit.level ?? 'medium',
          severityOf(hit.level),
          hit.tags,
          hit.attack,
          key,
          storableJson(JSON.stringify(hit.group)),
          hit.value ?? null,
          hit.eventIds.slice(0, MAX_EVENT_IDS),
          hit.sample === undefined ? null : storableJson(JSON.stringify(hit.sample)),
          hit.firstAt.toISOString(),
          hit.lastAt.toISOString(),
          hit.count ?? 1,
        ],
      );
      return { alert: toAlert(r), created: true };
    });
  }

  async list(f: AlertFilter = {}): Promise<Alert[]> {
    const params: unknown[] = [];
    const p = (v: unknown) => (params.push(v), `$${params.length}`);
    const c: string[] = [];
    if (f.status) c.push(`status = ${p(f.status)}`);
    if (f.ruleId) c.push(`rule_id = ${p(f.ruleId)}`);
    if (f.minSeverity) c.push(`severity >= ${p(f.minSeverity)}`);
    if (f.assignee) c.push(`assignee = ${p(f.assignee)}`);
    if (f.since) c.push(`last_at >= ${p(f.since.toISOString())}`);
    const limit = boundedLimit(f.limit, 100, 1000);
    const rows = await this.db.query(
      `SELECT ${COLS} FROM monitor_alert ${c.length ? 'WHERE ' + c.join(' AND ') : ''} ORDER BY id DESC LIMIT ${p(limit)}::int`,
      params,
    );
    return rows.map(toAlert);
  }

  /** Open alerts grouped by rule: how many, how many hits, the latest. */
  async groups(): Promise<{ ruleId: string; title: string; level: string; alerts: number; hits: number; lastAt: Date }[]> {
    const rows = await this.db.query<any>(
      `SELECT rule_id, max(rule_title) AS title, max(level) AS level, count(*)::int AS alerts, sum(count)::int AS hits, max(last_at) AS last_at
       FROM monitor_alert WHERE status <> 'closed' GROUP BY rule_id ORDER BY max(last_at) DESC`,
    );
    return rows.map((r) => ({ ruleId: r.rule_id, title: r.title, level: r.level, alerts: Number(r.alerts), hits: Number(r.hits), lastAt: new Date(r.last_at) }));
  }

  async get(id: string): Promise<Alert> {
    if (!/^\d{1,18}$/.test(id)) throw new TrucError('not_found', `no alert ${id}`);
    const [r] = await this.db.query(`SELECT ${COLS} FROM monitor_alert WHERE id = $1`, [id]);
    if (!r) throw new TrucError('not_found', `no alert ${id}`);
    const a = toAlert(r);
    const notes = await this.db.query<any>(`SELECT author, text, at FROM monitor_alert_note WHERE alert_id = $1 ORDER BY id`, [id]);
    a.notes = notes.map((n) => ({ author: n.author, text: n.text, at: new Date(n.at) }));
    return a;
  }

  private async update(id: string, set: string, params: unknown[], note?: { author: string; text: string }): Promise<Alert> {
    await this.get(id);
    await this.db.tx(async (sql) => {
      await sql.query(`UPDATE monitor_alert SET ${set}, updated_at = now() WHERE id = $1`, [id, ...params]);
      if (note) await sql.query(`INSERT INTO monitor_alert_note (alert_id, author, text) VALUES ($1, $2, $3)`, [id, note.author, note.text]);
    });
    return this.get(id);
  }

  async acknowledge(id: string, actor: string): Promise<Alert> {
    const a = await this.get(id);
    if (a.status === 'closed') throw new TrucError('conflict', `alert ${id} is closed`);
    return this.update(id, `status = 'acknowledged', assignee = COALESCE(assignee, $2)`, [actor], { author: actor, text: 'acknowledged' });
  }

  async assign(id: string, assignee: string, actor: string): Promise<Alert> {
    if (!assignee || assignee.length > 200) throw new TrucError('bad_request', 'assignee must be 1 to 200 characters');
    return this.update(id, `assignee = $2`, [assignee], { author: actor, text: `assigned to ${assignee}` });
  }

  async note(id: string, author: string, text: string): Promise<Alert> {
    if (!text || text.length > 10_000) throw new TrucError('bad_request', 'a note is 1 to 10000 characters');
    return this.update(id, `status = status`, [], { author, text });
  }

  async close(id: string, reason: string, actor: string): Promise<Alert> {
    if (!reason || reason.length > 2000) throw new TrucError('bad_request', 'closing an alert needs a reason (1 to 2000 characters)');
    const a = await this.get(id);
    if (a.status === 'closed') throw new TrucError('conflict', `alert ${id} is already closed`);
    return this.update(id, `status = 'closed', close_reason = $2`, [reason], { author: actor, text: `closed: ${reason}` });
  }
}
