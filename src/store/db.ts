/**
 * The database handle. One SQL dialect (PostgreSQL) on two engines: PGlite embedded in a data folder for the
 * default single-process platform, and a PostgreSQL server (via `pg`) chosen by a connection URL. Domain
 * code sees only `Sql` (run a statement) and `Db.tx` (run statements as one transaction).
 */
// each engine's client loads when a database of its kind is opened: a command on the embedded default
// does not read `pg`, one on PostgreSQL does not read PGlite
import type pg from 'pg';
import type { PGlite, PGliteOptions } from '@electric-sql/pglite';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import v8 from 'node:v8';
import { TrucError } from '../errors.js';
import { ProcessLock } from './process-lock.js';
import { blobCopy, copyData, copyStatement, PgCopyIn, type CopyColumn, type CopyRow, type CopyRows } from './copy.js';

export interface Sql {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(text: string): Promise<void>;
  /**
   * Bulk-inserts rows with a binary COPY (no triggers skipped, constraints checked as for INSERT). `rows` may
   * be given already encoded (`CopyRows` for the same columns), so that a caller can encode them before its
   * transaction starts.
   */
  copyFrom(table: string, columns: readonly CopyColumn[], rows: readonly CopyRow[] | CopyRows): Promise<void>;
}

type PgliteQueryable = Pick<PGlite, 'query'>;

async function pgliteCopy(db: PgliteQueryable, table: string, columns: readonly CopyColumn[], rows: readonly CopyRow[] | CopyRows) {
  const copy = blobCopy(table, columns, rows);
  if (!copy) return;
  await db.query(copy.text, [], { blob: new Blob(copy.parts.map((d) => new Uint8Array(d.buffer as ArrayBuffer, d.byteOffset, d.byteLength))) });
}

async function pgCopy(client: pg.PoolClient, table: string, columns: readonly CopyColumn[], rows: readonly CopyRow[] | CopyRows) {
  const data = copyData(columns, rows);
  if (!data) return;
  const q = new PgCopyIn(copyStatement(table, columns, 'STDIN'), data);
  void client.query(q as never);
  await q.promise;
}

export interface Db extends Sql {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction: committed if it resolves, rolled back if it throws. */
  tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// bigint (int8) comes back as a JS string from pg unless told otherwise; we keep strings for int8 so that
// CRL numbers and sequence values never lose precision, and parse numerics explicitly where needed.

/**
 * PGlite is one database engine inside one process: a second process opening the same folder would corrupt
 * it. The folder is claimed by a lock file beside it (`<folder>.lock`, ./process-lock.ts): a second process is
 * refused while the holder lives; a lock whose process is gone is taken over. Returns the release function.
 */
export async function lockDataDir(dir: string, o: { serving?: boolean; heartbeatMs?: number } = {}): Promise<() => void> {
  const lock = await ProcessLock.acquire(`${resolve(dir)}.lock`, {
    what: { vi: `cơ sở dữ liệu nhúng ${dir}`, en: `the embedded database ${dir}` },
    hint: 'dừng tiến trình đó, hoặc dùng HTTP API của nền tảng nó chạy / stop that process, or use the HTTP API of the platform it runs',
    ...(o.heartbeatMs ? { heartbeatMs: o.heartbeatMs } : {}),
    // only a holder elsewhere (another host or container) is judged by the heartbeat: this process stalled a
    // minute and one of those opened the folder, or the file was replaced by hand. Two engines writing one
    // folder corrupt it: a serving process stops at once, as PostgreSQL's postmaster does when its
    // postmaster.pid is no longer its own (nothing more is written, not even a last flush); a one-shot command,
    // about to end, says so
    onLost: (h) => {
      process.stderr.write(
        `LỖI / ERROR: tiến trình ${h?.pid ?? '?'} trên máy ${h?.host ?? '?'} đã lấy khoá ${dir}.lock trong khi tiến trình này đang giữ cơ sở dữ liệu nhúng${o.serving ? ': dừng ngay để không ghi chồng' : ''} / ${dir}.lock was taken by process ${h?.pid ?? '?'} on ${h?.host ?? '?'} while this process held the embedded database${o.serving ? ': stopping at once, so as not to write over it' : ''}\n`,
      );
      if (o.serving) process.exit(LOCK_LOST_EXIT);
    },
  });
  return () => lock.releaseSync();
}

/** the exit code of a serving process that found its embedded database's lock taken by another */
const LOCK_LOST_EXIT = 5;

class PgliteDb implements Db {
  readonly kind = 'pglite' as const;
  constructor(
    private readonly db: PGlite,
    private readonly release: () => void = () => {},
  ) {}

  async query<T>(text: string, params: unknown[] = []): Promise<T[]> {
    const r = await this.db.query<T>(text, params);
    return r.rows;
  }

  async exec(text: string): Promise<void> {
    await this.db.exec(text);
  }

  copyFrom(table: string, columns: readonly CopyColumn[], rows: readonly CopyRow[] | CopyRows): Promise<void> {
    return pgliteCopy(this.db, table, columns, rows);
  }

  async tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return this.db.transaction(async (t) =>
      fn({
        query: async <R>(text: string, params: unknown[] = []) => (await t.query<R>(text, params)).rows,
        exec: async (text: string) => {
          await t.exec(text);
        },
        copyFrom: (table, columns, rows) => pgliteCopy(t, table, columns, rows),
      }),
    );
  }

  async close(): Promise<void> {
    try {
      await this.db.close();
    } finally {
      this.release();
    }
  }
}

/**
 * A client lent from the pool has no error listener of its own: a backend terminated under it (a failover,
 * `pg_terminate_backend`, a network cut) would be an uncaught 'error' event and stop the process. The
 * error is kept (the statement in flight rejects with it anyway) and the broken client is destroyed, not
 * returned to the pool.
 */
function watch(client: pg.PoolClient): { readonly error: Error | null; done(): void } {
  let error: Error | null = null;
  const onError = (e: Error) => (error = e);
  client.on('error', onError);
  return {
    get error() {
      return error;
    },
    done() {
      client.off('error', onError);
      client.release(error ?? undefined);
    },
  };
}

class PostgresDb implements Db {
  readonly kind = 'postgres' as const;
  constructor(private readonly pool: pg.Pool) {}

  async query<T>(text: string, params: unknown[] = []): Promise<T[]> {
    const r = await this.pool.query(text, params as unknown[]);
    return r.rows as T[];
  }

  async exec(text: string): Promise<void> {
    await this.pool.query(text);
  }

  async copyFrom(table: string, columns: readonly CopyColumn[], rows: readonly CopyRow[] | CopyRows): Promise<void> {
    const client = await this.pool.connect();
    const lost = watch(client);
    try {
      await pgCopy(client, table, columns, rows);
    } finally {
      lost.done();
    }
  }

  async tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const lost = watch(client);
    try {
      await client.query('BEGIN');
      const result = await fn({
        query: async <R>(text: string, params: unknown[] = []) =>
          (await client.query(text, params as unknown[])).rows as R[],
        exec: async (text: string) => {
          await client.query(text);
        },
        copyFrom: (table, columns, rows) => pgCopy(client, table, columns, rows),
      });
      await client.query('COMMIT');
      return result;
    } catch (e) {
      if (!lost.error) await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      lost.done();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

export interface OpenOptions {
  /** `postgres://…` for a server; otherwise a PGlite data folder, or `memory://` for a throwaway database. */
  url: string;
  poolSize?: number;
  /**
   * PostgreSQL: how long a new connection may take (default 30 s). A server gone silent (a network cut that
   * drops packets, a host that died) would otherwise hold a connection attempt — and every statement waiting
   * for the pool behind it — for the kernel's TCP time-out, minutes. pg-pool applies the same limit to a
   * statement waiting for a client while all are busy: past it, an error rather than an unbounded wait.
   */
  connectTimeoutMs?: number;
  /**
   * A process that runs a few statements and exits (a `truc` command, not `truc start`): PGlite is started
   * for that, see `ONE_SHOT_PGLITE`; `'read'`, a command that reads a few rows (`truc ca list`, `truc
   * verify`'s roots), with fewer shared buffers still. No effect on PostgreSQL.
   */
  oneShot?: boolean | 'read';
  /** PGlite on a thread of its own (`./db-thread.ts`): for serving processes. No effect on PostgreSQL. */
  thread?: boolean;
  /**
   * A process that keeps running on what it opened (`truc start`, `ss serve`, …): an embedded database it
   * makes anew is made on a throwaway thread first, which takes what PGlite's initdb leaves behind (~350 MB)
   * with it when it ends; then the database is opened as asked. Such a process stops at once if it finds the
   * embedded database's lock taken by another (exit code 5).
   */
  serving?: boolean;
  /** how often the embedded database's lock is touched and checked (default 10 s) */
  lockHeartbeatMs?: number;
}

/**
 * PGlite is PostgreSQL compiled to 9 MB of WebAssembly, compiled again by V8 at every start. By default V8
 * compiles it with its baseline compiler and then, in background threads, recompiles the hot functions with
 * its optimising one — which pays off in a server, not in a command that runs three queries: measured on
 * a CA's data folder, 1.4 s of CPU and 340 MB at start, 0.6 s and 130 MB with the baseline compiler alone
 * and PostgreSQL's shared buffers at 16 MB instead of 128 MB (a few queries touch a few pages; the setting
 * is the server's memory, not the data's format). The flag is process-wide, hence one-shot processes only.
 */
const ONE_SHOT_PGLITE = { v8Flags: '--liftoff-only', startParams: ['-c', 'shared_buffers=16MB'] };
/**
 * A command that only reads a few rows: 1 MB of shared buffers (128 pages, what the catalogs and a search
 * touch) — PostgreSQL initialises the whole pool at start, and 16 MB of it cost ~70 ms of CPU a command
 * (measured alternately, 2 cores: ~0.71 s → ~0.63 s to open PGlite, read the CAs and close). Not for
 * commands that write much (an ingest, a bulk issuance): a smaller pool writes dirty pages out sooner.
 */
const READ_PGLITE_BUFFERS = ['-c', 'shared_buffers=1MB'];

export async function openDb(opts: OpenOptions): Promise<Db> {
  const url = opts.url;
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { default: pgClient } = await import('pg');
    // TCP keep-alive from 10 s idle: an idle connection to a server that died is found broken (after the
    // kernel's probes) rather than when a statement sent on it waits for the TCP time-out
    const pool = new pgClient.Pool({
      connectionString: url,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 30_000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    pool.on('error', () => {}); // an idle client's error is reported on its next use
    // and every client listens for its errors for its whole life: the pool hands a released client straight to
    // a waiting `connect()` without a listener until the waiter's promise continuation runs, and a backend
    // terminated in that gap (the FATAL message parsed from the same socket read as the previous answer) was
    // an uncaught 'error' event that stopped the process. A broken client is not queryable: the pool drops it
    // when it comes back, and its next statement fails (and `watch` below destroys it).
    pool.on('connect', (client) => client.on('error', () => {}));
    try {
      await pool.query('SELECT 1');
    } catch (e) {
      await pool.end().catch(() => {});
      throw new TrucError('database_unavailable', `cannot connect to PostgreSQL: ${(e as Error).message}`, {}, { cause: e });
    }
    return new PostgresDb(pool);
  }
  const dataDir = url.startsWith('memory://') ? undefined : url.replace(/^file:\/\//, '');
  const release = dataDir ? await lockDataDir(dataDir, { serving: opts.serving === true, ...(opts.lockHeartbeatMs ? { heartbeatMs: opts.lockHeartbeatMs } : {}) }) : () => {};
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    let pgOpts: PGliteOptions = {};
    if (opts.oneShot) {
      v8.setFlagsFromString(ONE_SHOT_PGLITE.v8Flags);
      // startParams replaces PGlite's own parameters: they are kept, ours added after them
      const ours = opts.oneShot === 'read' ? READ_PGLITE_BUFFERS : ONE_SHOT_PGLITE.startParams;
      pgOpts = { startParams: [...PGlite.defaultStartParams, ...ours] };
    }
    // A folder PGlite has not made yet is made by its initdb, which leaves ~350 MB of WebAssembly memory and
    // heap behind that a database opened from an existing folder never holds (a fresh one 750 MB resident,
    // the same folder opened by a new process 280 MB). A serving process keeps running on what it opened:
    // it makes the database on a thread of its own, which goes with all it holds when the thread ends, and
    // then opens it — once, at the first start, ~1 s. A command, a test or a library caller that did not say
    // it serves does not.
    const makeFirst = dataDir !== undefined && opts.serving === true && !existsSync(join(dataDir, 'PG_VERSION'));
    if (makeFirst || opts.thread) {
      const { ThreadedPgliteDb } = await import('./db-thread.js');
      if (makeFirst) await (await ThreadedPgliteDb.open(dataDir, pgOpts, () => {})).close();
      if (opts.thread) return await ThreadedPgliteDb.open(dataDir, pgOpts, release);
    }
    const db = dataDir ? new PGlite(dataDir, pgOpts) : new PGlite(pgOpts);
    await db.waitReady;
    return new PgliteDb(db, release);
  } catch (e) {
    release();
    throw e;
  }
}
