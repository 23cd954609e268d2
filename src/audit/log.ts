/**
 * The audit log's storage: an append-only table (UPDATE and DELETE are refused by a trigger) with a
 * one-row head holding the last sequence number and hash. Appends lock the head, so concurrent writers
 * serialise and the chain stays linear; appends run inside the caller's transaction, so an audit record
 * exists exactly when the operation it records was committed.
 */
import type { Db, Migration, Sql } from '../store/index.js';
import { CopyRows, type CopyColumn } from '../store/copy.js';
import { storableText, storableValue } from '../store/text.js';
import { byteaArray, textArray } from '../store/array-params.js';
import { TrucError } from '../errors.js';
import { GENESIS, canonicalJson, recordHash, recordHashWith, type AuditEntry, type AuditRecord } from './chain.js';

export const auditMigrations: Migration[] = [
  {
    id: 'audit/001_log',
    sql: `
      CREATE TABLE audit_log (
        seq bigint PRIMARY KEY,
        at timestamptz NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        target text,
        outcome text NOT NULL,
        detail jsonb NOT NULL,
        prev_hash bytea NOT NULL,
        hash bytea NOT NULL
      );
      CREATE INDEX audit_log_at ON audit_log (at);
      CREATE INDEX audit_log_actor ON audit_log (actor, at);
      CREATE TABLE audit_head (
        id int PRIMARY KEY CHECK (id = 1),
        seq bigint NOT NULL,
        hash bytea NOT NULL
      );
      INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '\\x${GENESIS.toString('hex')}');
      CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_log is append-only';
      END $$;
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
      CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
    `,
  },
];

/** From this many records on, an append is a binary COPY rather than an INSERT of arrays. */
export const AUDIT_COPY_FROM = 16;
const COPY_FROM = AUDIT_COPY_FROM;
const AUDIT_COLUMNS: CopyColumn[] = [
  { name: 'seq', type: 'int8' },
  { name: 'at', type: 'timestamptz' },
  { name: 'actor', type: 'text' },
  { name: 'action', type: 'text' },
  { name: 'target', type: 'text' },
  { name: 'outcome', type: 'text' },
  { name: 'detail', type: 'jsonb' },
  { name: 'prev_hash', type: 'bytea' },
  { name: 'hash', type: 'bytea' },
];

/**
 * PostgreSQL text cannot hold U+0000, and an unpaired surrogate would be stored as U+FFFD while the hash saw
 * it escaped: such characters become U+FFFD before the record is hashed, so the record stored is the record
 * hashed, and a request carrying them is still audited.
 */
function storable(e: AuditEntry): AuditEntry {
  const target = e.target == null ? e.target : storableText(e.target);
  const detail = e.detail === undefined ? undefined : storableValue(e.detail);
  const actor = storableText(e.actor);
  const action = storableText(e.action);
  if (actor === e.actor && action === e.action && target === e.target && detail === e.detail) return e;
  return { ...e, actor, action, target, detail };
}

/** Where the chain ends: the last record's sequence number and hash (0 and GENESIS when empty). */
export interface AuditHead {
  seq: number;
  hash: Buffer;
}

/**
 * Records made ready to be appended, and — when the caller knew where the chain would end — already hashed
 * into it. A bulk writer chains a batch before its transaction starts, from where its previous batch ended;
 * `appendChained` moves the head only if it is still there, and otherwise chains the records again from the
 * real head. So the hashing stays off the transaction's critical path and the chain never forks.
 */
export interface ChainedAudit {
  /** the head the records were chained from; null when not chained yet */
  from: AuditHead | null;
  /** where they end */
  to: AuditHead | null;
  now: Date;
  /** the entries made storable, and their details in canonical JSON (kept for a re-chain) */
  entries: AuditEntry[];
  details: string[];
  records: AuditRecord[];
  /** the records in the binary copy format, for a batch large enough to be copied */
  encoded: CopyRows | null;
}

/**
 * Prepares `entries` to be appended at `now`, chained after `from` when it is given; `copy` asks for the
 * records to be encoded for a binary COPY as well. Nothing is written.
 */
export function chainAudit(entries: AuditEntry[], from: AuditHead | null, now = new Date(), copy = entries.length >= COPY_FROM): ChainedAudit {
  const c: ChainedAudit = { from, to: from, now, entries: [], details: [], records: [], encoded: copy ? new CopyRows(AUDIT_COLUMNS) : null };
  return extendAudit(c, entries);
}

/** Adds entries to records being prepared (a slice at a time), chained on from where they end. */
export function extendAudit(c: ChainedAudit, entries: AuditEntry[]): ChainedAudit {
  const start = c.entries.length;
  for (const entry of entries) {
    const e = storable(entry);
    c.entries.push(e);
    c.details.push(canonicalJson(e.detail ?? {}));
  }
  if (c.to) hashFrom(c, start);
  return c;
}

/** Hashes the entries from `start` on into the chain after `c.to`, and encodes them when `c` is copied. */
function hashFrom(c: ChainedAudit, start: number): void {
  const { entries, details } = c;
  const at = c.now.toISOString();
  let seq = c.to!.seq;
  let prev = c.to!.hash;
  for (let i = start; i < entries.length; i++) {
    const e = entries[i];
    seq += 1;
    const hash = recordHashWith(prev, seq, at, e, details[i]);
    c.records.push({ actor: e.actor, action: e.action, target: e.target, outcome: e.outcome, detail: e.detail, seq, at, prevHash: prev, hash });
    prev = hash;
  }
  c.to = { seq, hash: prev };
  if (c.encoded) {
    const rows = new Array<unknown[]>(entries.length - start);
    for (let i = start; i < entries.length; i++) {
      const r = c.records[i];
      rows[i - start] = [r.seq, c.now, r.actor, r.action, r.target ?? null, r.outcome, details[i], r.prevHash, r.hash];
    }
    c.encoded.add(rows);
  }
}

/** The same entries chained from `from`. */
function rechain(c: ChainedAudit, from: AuditHead): ChainedAudit {
  const copy = c.encoded !== null || c.entries.length >= COPY_FROM;
  const r: ChainedAudit = { ...c, from, to: from, records: [], encoded: copy ? new CopyRows(AUDIT_COLUMNS) : null };
  hashFrom(r, 0);
  return r;
}

/** Locks the head (until the caller's transaction ends) and reads it. */
async function lockHead(sql: Sql): Promise<AuditHead> {
  const [head] = await sql.query<{ seq: string; hash: Buffer }>('SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE');
  return { seq: Number(head.seq), hash: Buffer.from(head.hash) };
}

/** Appends entries in order, inside the caller's transaction. */
export async function appendAudit(sql: Sql, entries: AuditEntry[], now = new Date()): Promise<AuditRecord[]> {
  if (entries.length === 0) return [];
  return (await appendChained(sql, chainAudit(entries, null, now))).records;
}

/**
 * Appends records prepared by `chainAudit`, inside the caller's transaction: as they were chained when the
 * head is still where they were chained from, else chained (again) from the head. The head stays locked
 * until the transaction ends; `onChained` hears where the chain will end as soon as that is settled, before
 * the records are written. Returns the records as written.
 */
export async function appendChained(sql: Sql, c: ChainedAudit, onChained?: (to: AuditHead) => void): Promise<ChainedAudit> {
  if (c.entries.length === 0) return c;
  if (c.from && c.to) {
    // move the head only from where the records were chained: one statement that locks, checks and moves
    const moved = await sql.query('UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3 AND hash = $4 RETURNING seq', [
      c.to.seq,
      c.to.hash,
      c.from.seq,
      c.from.hash,
    ]);
    if (moved.length === 1) {
      onChained?.(c.to);
      await write(sql, c, false);
      return c;
    }
  }
  const chained = rechain(c, await lockHead(sql));
  onChained?.(chained.to!);
  await write(sql, chained, true);
  return chained;
}

/** Inserts the records; moves the head to their end when `moveHead` (the caller has locked it). */
async function write(sql: Sql, c: ChainedAudit, moveHead: boolean): Promise<void> {
  const { records, details } = c;
  const to = c.to!;
  if (c.encoded) {
    // bulk issuance appends hundreds of records per transaction: a binary COPY, then the head
    await sql.copyFrom('audit_log', AUDIT_COLUMNS, c.encoded);
    if (moveHead) await sql.query('UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1', [to.seq, to.hash]);
    return;
  }
  const at = c.now.toISOString();
  // a few records: one insert, a column an array
  const n = records.length;
  const seqs = new Array<number>(n);
  const actors = new Array<string>(n);
  const actions = new Array<string>(n);
  const targets = new Array<string | null>(n);
  const outcomes = new Array<string>(n);
  const prevs = new Array<Buffer>(n);
  const hashes = new Array<Buffer>(n);
  for (let i = 0; i < n; i++) {
    const r = records[i];
    seqs[i] = r.seq;
    actors[i] = r.actor;
    actions[i] = r.action;
    targets[i] = r.target ?? null;
    outcomes[i] = r.outcome;
    prevs[i] = r.prevHash;
    hashes[i] = r.hash;
  }
  const insert = `INSERT INTO audit_log (seq, at, actor, action, target, outcome, detail, prev_hash, hash)
       SELECT s, $2::timestamptz, a, ac, t, o, d, p, h
       FROM unnest($1::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::bytea[], $9::bytea[])
         AS x(s, a, ac, t, o, d, p, h)`;
  const params = [
    `{${seqs.join(',')}}`,
    at,
    textArray(actors),
    textArray(actions),
    textArray(targets),
    textArray(outcomes),
    textArray(details),
    byteaArray(prevs),
    byteaArray(hashes),
  ];
  if (!moveHead) await sql.query(insert, params);
  // the head moved in the same statement
  else await sql.query(`WITH appended AS (${insert}) UPDATE audit_head SET seq = $10, hash = $11 WHERE id = 1`, [...params, to.seq, to.hash]);
}

/** Appends in a transaction of its own (for failures and denials, whose business transaction rolled back). */
export async function recordAudit(db: Db, entry: AuditEntry): Promise<AuditRecord> {
  const [r] = await db.tx((sql) => appendAudit(sql, [entry]));
  return r;
}

export interface ChainReport {
  ok: boolean;
  records: number;
  headSeq: number;
  /** first sequence number whose record does not chain */
  brokenAt?: number;
  reason?: string;
}

/** Recomputes the whole chain, page by page, and checks it ends at the head. */
export async function verifyAuditChain(db: Sql, pageSize = 5000): Promise<ChainReport> {
  const [head] = await db.query<{ seq: string; hash: Buffer }>('SELECT seq, hash FROM audit_head WHERE id = 1');
  const headSeq = Number(head.seq);
  let prev: Buffer = GENESIS;
  let expected = 1;
  for (;;) {
    const rows = await db.query<{
      seq: string;
      at: Date;
      actor: string;
      action: string;
      target: string | null;
      outcome: AuditEntry['outcome'];
      detail: Record<string, unknown>;
      prev_hash: Buffer;
      hash: Buffer;
    }>('SELECT * FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2', [expected, pageSize]);
    for (const r of rows) {
      const seq = Number(r.seq);
      if (seq !== expected)
        return { ok: false, records: expected - 1, headSeq, brokenAt: expected, reason: `record ${expected} is missing` };
      const at = new Date(r.at).toISOString();
      const h = recordHash(prev, seq, at, { ...r, detail: r.detail });
      if (!Buffer.from(r.prev_hash).equals(prev) || !h.equals(Buffer.from(r.hash)))
        return { ok: false, records: seq - 1, headSeq, brokenAt: seq, reason: `record ${seq} does not match its hash` };
      prev = h;
      expected++;
    }
    if (rows.length < pageSize) break;
  }
  const count = expected - 1;
  if (count !== headSeq || !prev.equals(Buffer.from(head.hash)))
    return {
      ok: false,
      records: count,
      headSeq,
      brokenAt: count + 1,
      reason: `chain ends at ${count} but the head says ${headSeq}`,
    };
  return { ok: true, records: count, headSeq };
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  from?: Date;
  to?: Date;
  limit?: number;
  afterSeq?: number;
}

export async function searchAudit(db: Sql, q: AuditQuery): Promise<AuditRecord[]> {
  const where: string[] = [];
  const p: unknown[] = [];
  if (q.actor) where.push(`actor = $${p.push(q.actor)}`);
  if (q.action) where.push(`action = $${p.push(q.action)}`);
  if (q.from) where.push(`at >= $${p.push(q.from)}`);
  if (q.to) where.push(`at < $${p.push(q.to)}`);
  if (q.afterSeq) where.push(`seq > $${p.push(q.afterSeq)}`);
  const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
  const rows = await db.query<any>(
    `SELECT * FROM audit_log ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq LIMIT ${limit}`,
    p,
  );
  return rows.map((r) => ({
    seq: Number(r.seq),
    at: new Date(r.at).toISOString(),
    actor: r.actor,
    action: r.action,
    target: r.target,
    outcome: r.outcome,
    detail: r.detail,
    prevHash: Buffer.from(r.prev_hash),
    hash: Buffer.from(r.hash),
  }));
}

export function assertChainOk(r: ChainReport): void {
  if (!r.ok) throw new TrucError('audit_chain_broken', `audit chain broken at record ${r.brokenAt}: ${r.reason}`, { ...r });
}
