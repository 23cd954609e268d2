/**
 * The message log's index in the database: where each record is (segment, offset) and what it is about
 * (message id, client, service, time), for search and evidence. The segments are the truth; the index is
 * written in batches after the records are durable, may lag behind them, and is caught up from the
 * segments when the log opens. Several logs may share a database: every row names its log.
 */
import type { Db, Migration, Sql } from '../../store/index.js';
import type { CopyColumn } from '../../store/copy.js';

export const logMigrations: Migration[] = [
  {
    id: 'exchange/log_001_index',
    sql: `
      CREATE TABLE xl_record (
        log_id text NOT NULL,
        seq bigint NOT NULL,
        message_id text NOT NULL,
        kind text NOT NULL,
        side text NOT NULL,
        client text NOT NULL,
        service text NOT NULL,
        time timestamptz NOT NULL,
        segment integer NOT NULL,
        pos bigint NOT NULL,
        body_hash bytea NOT NULL,
        body_length bigint NOT NULL,
        PRIMARY KEY (log_id, seq)
      );
      CREATE INDEX xl_record_message ON xl_record (log_id, message_id);
      CREATE INDEX xl_record_client ON xl_record (log_id, client, time);
      CREATE INDEX xl_record_service ON xl_record (log_id, service, time);
      CREATE INDEX xl_record_time ON xl_record (log_id, time);
      CREATE TABLE xl_batch (
        log_id text NOT NULL,
        batch bigint NOT NULL,
        first_seq bigint NOT NULL,
        last_seq bigint NOT NULL,
        root bytea NOT NULL,
        stamped_at timestamptz NOT NULL,
        PRIMARY KEY (log_id, batch)
      );
      CREATE INDEX xl_batch_range ON xl_batch (log_id, last_seq);
    `,
  },
  {
    // Every index on xl_record is paid per record on the message path (two records per exchange on each
    // server): in PGlite a row cost ~35 µs with five B-trees and ~27 µs with three. Searches by client or
    // service are an operator's, bounded by LIMIT and usually by time; they walk the time or sequence index
    // and filter instead of keeping two more trees current at every message.
    id: 'exchange/log_002_fewer_indexes',
    sql: `
      DROP INDEX IF EXISTS xl_record_client;
      DROP INDEX IF EXISTS xl_record_service;
    `,
  },
  {
    // Message ids are random (UUIDs, or whatever a client sends): a B-tree on them takes each new row at a
    // random leaf, the costliest of the three trees per record (PGlite, 2,000-row COPYs: ~13 µs a row with
    // it, ~9 µs with a hash index instead). A message id is only ever looked up by equality, which is what a
    // hash index answers; the log id is checked on the rows it finds (message ids rarely repeat across logs).
    id: 'exchange/log_003_message_hash',
    sql: `
      DROP INDEX IF EXISTS xl_record_message;
      CREATE INDEX IF NOT EXISTS xl_record_message_hash ON xl_record USING hash (message_id);
    `,
  },
];

export const RECORD_COLUMNS: readonly CopyColumn[] = [
  { name: 'log_id', type: 'text' },
  { name: 'seq', type: 'int8' },
  { name: 'message_id', type: 'text' },
  { name: 'kind', type: 'text' },
  { name: 'side', type: 'text' },
  { name: 'client', type: 'text' },
  { name: 'service', type: 'text' },
  { name: 'time', type: 'timestamptz' },
  { name: 'segment', type: 'int4' },
  { name: 'pos', type: 'int8' },
  { name: 'body_hash', type: 'bytea' },
  { name: 'body_length', type: 'int8' },
];

export type IndexRow = [string, number, string, string, string, string, string, Date, number, number, Buffer, number];

export interface LogSearch {
  messageId?: string;
  client?: string;
  service?: string;
  kind?: 'request' | 'response';
  from?: Date;
  to?: Date;
  /** only records after this seq (paging) */
  afterSeq?: number;
  /** default 100, at most 1,000 */
  limit?: number;
}

export interface LogSearchHit {
  seq: number;
  messageId: string;
  kind: 'request' | 'response';
  side: 'consumer' | 'provider';
  client: string;
  service: string;
  time: Date;
  segment: number;
  offset: number;
  bodyHash: Buffer;
  bodyLength: number;
  /** the time-stamp batch covering it, when stamped */
  batch: number | null;
}

export async function indexedThrough(db: Sql, logId: string): Promise<number> {
  const r = await db.query<{ m: string | null }>('SELECT max(seq)::text AS m FROM xl_record WHERE log_id = $1', [logId]);
  return r[0]?.m ? Number(r[0].m) : 0;
}

export async function dropIndexAfter(db: Sql, logId: string, seq: number): Promise<void> {
  await db.query('DELETE FROM xl_record WHERE log_id = $1 AND seq > $2', [logId, seq]);
  await db.query('DELETE FROM xl_batch WHERE log_id = $1 AND last_seq > $2', [logId, seq]);
}

export async function insertRows(db: Db, rows: IndexRow[]): Promise<void> {
  if (rows.length) await db.copyFrom('xl_record', RECORD_COLUMNS, rows);
}

export async function lastIndexedBatch(db: Sql, logId: string): Promise<number> {
  const r = await db.query<{ m: string | null }>('SELECT max(batch)::text AS m FROM xl_batch WHERE log_id = $1', [logId]);
  return r[0]?.m ? Number(r[0].m) : 0;
}

export async function insertBatch(db: Sql, logId: string, b: { batch: number; firstSeq: number; lastSeq: number; root: Buffer; stampedAt: Date }): Promise<void> {
  await db.query(
    'INSERT INTO xl_batch (log_id, batch, first_seq, last_seq, root, stamped_at) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING',
    [logId, b.batch, b.firstSeq, b.lastSeq, b.root, b.stampedAt],
  );
}

export async function searchIndex(db: Sql, logId: string, q: LogSearch): Promise<LogSearchHit[]> {
  const where = ['r.log_id = $1'];
  const params: unknown[] = [logId];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (q.messageId !== undefined) add('r.message_id = ?', q.messageId);
  if (q.client !== undefined) add('r.client = ?', q.client);
  if (q.service !== undefined) add('r.service = ?', q.service);
  if (q.kind !== undefined) add('r.kind = ?', q.kind);
  if (q.from) add('r.time >= ?', q.from);
  if (q.to) add('r.time < ?', q.to);
  if (q.afterSeq !== undefined) add('r.seq > ?', q.afterSeq);
  const limit = Math.max(1, Math.min(1000, Math.floor(q.limit ?? 100)));
  const rows = await db.query<Record<string, unknown>>(
    `SELECT r.seq::text AS seq, r.message_id, r.kind, r.side, r.client, r.service, r.time, r.segment, r.pos::text AS off,
            r.body_hash, r.body_length::text AS body_length,
            (SELECT b.batch::text FROM xl_batch b WHERE b.log_id = r.log_id AND b.last_seq >= r.seq AND b.first_seq <= r.seq ORDER BY b.last_seq LIMIT 1) AS batch
       FROM xl_record r WHERE ${where.join(' AND ')} ORDER BY r.seq LIMIT ${limit}`,
    params,
  );
  return rows.map((r) => ({
    seq: Number(r.seq),
    messageId: String(r.message_id),
    kind: r.kind as 'request' | 'response',
    side: r.side as 'consumer' | 'provider',
    client: String(r.client),
    service: String(r.service),
    time: new Date(r.time as string | Date),
    segment: Number(r.segment),
    offset: Number(r.off),
    bodyHash: Buffer.from(r.body_hash as Uint8Array),
    bodyLength: Number(r.body_length),
    batch: r.batch == null ? null : Number(r.batch),
  }));
}
