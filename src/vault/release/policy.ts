/**
 * Release policy as data: who may release which level, which recipients are cleared for which level,
 * which channel may carry which level, and from which level the content must be encrypted end to end.
 * Stored in versions (never edited in place); each change is audited and announced on the bus.
 */
import { createHash } from 'node:crypto';
import { TrucError } from '../../errors.js';
import type { Db, Migration } from '../../store/index.js';
import { appendAudit, canonicalJson } from '../../audit/index.js';
import { makeEvent, type Bus } from '../../bus/index.js';
import { parseLevel, type Level } from '../labels/levels.js';

export interface ReleasePolicy {
  /** highest level each sender may release, by sender id; `*` for everyone else */
  senders: Record<string, Level>;
  /** clearance of each recipient (agency, member or person id); `*` for everyone else */
  recipients: Record<string, Level>;
  /** highest level each channel may carry (`axis-e2e`: the exchange with CMS to the recipient) */
  channels: Record<string, Level>;
  /** from this level on, the content must travel encrypted to the recipient (not only inside TLS) */
  encryptFrom: Level;
}

export interface StoredPolicy {
  version: number;
  policy: ReleasePolicy;
  author: string;
  createdAt: Date;
  sha256: string;
}

/** Nothing classified leaves until a security officer writes a policy. */
export const DEFAULT_POLICY: ReleasePolicy = {
  senders: { '*': 'unclassified' },
  recipients: { '*': 'unclassified' },
  channels: { 'axis-e2e': 'tuyet-mat', axis: 'unclassified', email: 'unclassified' },
  encryptFrom: 'mat',
};

export const releasePolicyMigrations: Migration[] = [
  {
    id: 'vault/002_release_policy',
    sql: `
      CREATE TABLE xv_release_policy (
        version int PRIMARY KEY,
        document jsonb NOT NULL,
        sha256 text NOT NULL,
        author text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];

const MAX_ENTRIES = 10_000;

function levels(v: unknown, what: string): Record<string, Level> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new TrucError('bad_request', `policy.${what} must be an object of levels`);
  const e = Object.entries(v as Record<string, unknown>);
  if (e.length > MAX_ENTRIES) throw new TrucError('too_large', `policy.${what} has more than ${MAX_ENTRIES} entries`);
  const out: Record<string, Level> = {};
  for (const [k, l] of e) {
    if (k.length === 0 || k.length > 256) throw new TrucError('bad_request', `policy.${what}: keys are 1..256 characters`);
    out[k] = parseLevel(l);
  }
  return out;
}

/** Validates a policy document (from JSON or YAML); unknown fields are refused so typos do not pass. */
export function parsePolicy(doc: unknown): ReleasePolicy {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new TrucError('bad_request', 'a release policy is an object');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!['senders', 'recipients', 'channels', 'encryptFrom', 'version'].includes(k)) throw new TrucError('bad_request', `unknown policy field "${k}"`);
  return { senders: levels(d.senders, 'senders'), recipients: levels(d.recipients, 'recipients'), channels: levels(d.channels, 'channels'), encryptFrom: parseLevel(d.encryptFrom) };
}

export class PolicyStore {
  constructor(private readonly deps: { db: Db; bus?: Bus; clock?: () => Date }) {}

  async current(): Promise<StoredPolicy> {
    const [row] = await this.deps.db.query<{ version: number; document: ReleasePolicy | string; author: string; created_at: string; sha256: string }>(
      'SELECT * FROM xv_release_policy ORDER BY version DESC LIMIT 1',
    );
    if (!row) return { version: 0, policy: DEFAULT_POLICY, author: 'built-in', createdAt: new Date(0), sha256: createHash('sha256').update(canonicalJson(DEFAULT_POLICY)).digest('hex') };
    const policy = typeof row.document === 'string' ? (JSON.parse(row.document) as ReleasePolicy) : row.document;
    return { version: Number(row.version), policy, author: row.author, createdAt: new Date(row.created_at), sha256: row.sha256 };
  }

  async history(limit = 50): Promise<Omit<StoredPolicy, 'policy'>[]> {
    const rows = await this.deps.db.query<{ version: number; author: string; created_at: string; sha256: string }>(
      'SELECT version, author, created_at, sha256 FROM xv_release_policy ORDER BY version DESC LIMIT $1',
      [Math.min(Math.max(1, limit), 1000)],
    );
    return rows.map((r) => ({ version: Number(r.version), author: r.author, createdAt: new Date(r.created_at), sha256: r.sha256 }));
  }

  /** Stores a new version; `expectVersion` (optimistic concurrency) refuses a change based on a stale read. */
  async put(doc: unknown, author: string, expectVersion?: number): Promise<StoredPolicy> {
    const policy = parsePolicy(doc);
    const text = canonicalJson(policy);
    const sha256 = createHash('sha256').update(text).digest('hex');
    const now = (this.deps.clock ?? (() => new Date()))();
    const version = await this.deps.db.tx(async (sql) => {
      await sql.query("SELECT pg_advisory_xact_lock(hashtext('xv_release_policy'))");
      const [{ v }] = await sql.query<{ v: number }>('SELECT coalesce(max(version), 0) AS v FROM xv_release_policy');
      if (expectVersion !== undefined && Number(v) !== expectVersion)
        throw new TrucError('conflict', `the policy is at version ${v}, not ${expectVersion}: read it again`);
      const next = Number(v) + 1;
      await sql.query('INSERT INTO xv_release_policy (version, document, sha256, author, created_at) VALUES ($1, $2, $3, $4, $5)', [next, text, sha256, author, now]);
      await appendAudit(sql, [{ actor: author, action: 'vault.policy.change', target: `release-policy:${next}`, outcome: 'success', detail: { sha256, previous: Number(v) } }]);
      return next;
    });
    const bus = this.deps.bus;
    if (bus?.listening('truc.vault.policy.changed'))
      bus.publish('truc.vault.policy.changed', makeEvent('vault', 'vault.policy.changed', 'success', { category: ['configuration'], user: { name: author }, truc: { policy: { version, sha256 } }, at: now })).catch(() => {});
    return { version, policy, author, createdAt: now, sha256 };
  }
}
