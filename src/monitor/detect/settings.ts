/**
 * Analysts' changes to rules, kept in the database so they survive restarts and apply to every process:
 * a rule switched off, or tuned with an exception — a Sigma filter's detection (search identifiers and a
 * condition, e.g. `{allowed: {source.ip: [10.0.0.5]}, condition: "not allowed"}`) that is AND-ed with the
 * rule's own condition. Also the correlation state saved between runs.
 */
import { TrucError } from '../../errors.js';
import type { Db, Migration } from '../../store/index.js';

export const detectMigrations: Migration[] = [
  {
    id: 'monitor/003_rule_setting',
    sql: `
      CREATE TABLE monitor_rule_setting (
        rule_id text PRIMARY KEY,
        enabled boolean NOT NULL DEFAULT true,
        filter jsonb,
        updated_by text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE monitor_state (
        key text PRIMARY KEY,
        value jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];

export interface RuleSetting {
  ruleId: string;
  enabled: boolean;
  /** detection of a Sigma filter for this rule (search identifiers and `condition`) */
  filter: Record<string, unknown> | null;
  updatedBy: string;
  updatedAt: Date;
}

export async function listSettings(db: Db): Promise<RuleSetting[]> {
  const rows = await db.query<any>(`SELECT rule_id, enabled, filter, updated_by, updated_at FROM monitor_rule_setting`);
  return rows.map((r) => ({ ruleId: r.rule_id, enabled: r.enabled, filter: r.filter, updatedBy: r.updated_by, updatedAt: new Date(r.updated_at) }));
}

export async function saveSetting(
  db: Db,
  ruleId: string,
  change: { enabled?: boolean; filter?: Record<string, unknown> | null },
  actor: string,
): Promise<void> {
  if (change.filter) {
    if (typeof change.filter !== 'object' || Array.isArray(change.filter) || typeof change.filter.condition !== 'string')
      throw new TrucError('bad_request', 'a rule filter is an object of search identifiers with a condition string');
    if (JSON.stringify(change.filter).length > 64 * 1024) throw new TrucError('too_large', 'a rule filter is at most 64 KiB');
  }
  await db.query(
    `INSERT INTO monitor_rule_setting (rule_id, enabled, filter, updated_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (rule_id) DO UPDATE SET
       enabled = COALESCE($5, monitor_rule_setting.enabled),
       filter = CASE WHEN $6 THEN $3 ELSE monitor_rule_setting.filter END,
       updated_by = $4, updated_at = now()`,
    [
      ruleId,
      change.enabled ?? true,
      change.filter === undefined || change.filter === null ? null : JSON.stringify(change.filter),
      actor,
      change.enabled ?? null,
      change.filter !== undefined,
    ],
  );
}

export async function loadState(db: Db, key: string): Promise<unknown> {
  const [r] = await db.query<{ value: unknown }>(`SELECT value FROM monitor_state WHERE key = $1`, [key]);
  return r?.value;
}

export async function saveState(db: Db, key: string, value: unknown): Promise<void> {
  await db.query(
    `INSERT INTO monitor_state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2, updated_at = now()`,
    [key, JSON.stringify(value)],
  );
}
