/**
 * The embedded database (PGlite) on a thread of its own: the `Db` of a serving process whose event loop must
 * not stop while PostgreSQL runs a statement. PGlite executes in WebAssembly, synchronously, on the thread
 * that calls it — on a security server under load the message log's index and the operational records (one
 * COPY of a few thousand rows every second) held the event loop for tens of milliseconds at a time, every
 * exchange in flight waiting behind them. Here the engine runs in `./pglite-worker.mjs`; statements,
 * parameters and rows cross by structured clone (Buffers arrive as Uint8Array, as PGlite returns bytea
 * anyway), COPY data as transferred bytes, and a database error keeps its fields (code, constraint, …).
 */
import { Worker } from 'node:worker_threads';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { PGliteOptions } from '@electric-sql/pglite';
import { TrucError } from '../errors.js';
import { blobCopy, type CopyColumn, type CopyRow, type CopyRows } from './copy.js';
import type { Db, Sql } from './db.js';

interface Pending {
  resolve: (r: { rows?: unknown[]; tx?: number }) => void;
  reject: (e: Error) => void;
}

type Request = { op: 'query'; text: string; params: unknown[]; tx?: number } | { op: 'exec'; text: string; tx?: number } | { op: 'copy'; text: string; parts: Uint8Array[]; tx?: number } | { op: 'begin' } | { op: 'end'; tx: number; commit: boolean } | { op: 'close' };

function rebuildError(f: Record<string, unknown>): Error {
  const e = new Error(String(f.message ?? 'database error'));
  for (const [k, v] of Object.entries(f)) if (k !== 'message' && k !== 'stack') (e as unknown as Record<string, unknown>)[k] = v;
  return e;
}

let modules: Promise<Pick<PGliteOptions, 'pgliteWasmModule' | 'initdbWasmModule'>> | undefined;

/**
 * PGlite's WebAssembly compiled once per process and handed to every database thread: a module sent to a
 * worker shares its compiled code, where each thread compiling the 9 MB of PostgreSQL for itself cost
 * ~600 MB of memory a database (measured: two databases on threads 1.5 GB resident, on the main thread 1.05).
 */
function compiledModules(): Promise<Pick<PGliteOptions, 'pgliteWasmModule' | 'initdbWasmModule'>> {
  modules ??= (async () => {
    const dir = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
    const [pglite, initdb] = await Promise.all(['pglite.wasm', 'initdb.wasm'].map(async (f) => WebAssembly.compile(await readFile(join(dir, f)))));
    return { pgliteWasmModule: pglite, initdbWasmModule: initdb };
  })();
  return modules;
}

export class ThreadedPgliteDb implements Db {
  readonly kind = 'pglite' as const;
  private readonly pending = new Map<number, Pending>();
  private seq = 1;
  private failed: Error | null = null;
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    private readonly release: () => void,
  ) {
    worker.on('message', (m: { id: number; rows?: unknown[]; tx?: number; error?: Record<string, unknown> }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (!this.pending.size) worker.unref();
      if (m.error) p.reject(rebuildError(m.error));
      else p.resolve(m);
    });
    const lost = (why: string) => {
      this.failed ??= new TrucError('database_unavailable', `luồng của cơ sở dữ liệu nhúng đã dừng (the embedded database's thread stopped): ${why}`);
      for (const p of this.pending.values()) p.reject(this.failed);
      this.pending.clear();
    };
    worker.on('error', (e) => lost(e.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
  }

  /** Starts the engine on its thread; resolves once PGlite is ready (or rejects with why it could not start). `release` runs at close. */
  static async open(dataDir: string | undefined, options: PGliteOptions, release: () => void): Promise<ThreadedPgliteDb> {
    const worker = new Worker(new URL('./pglite-worker.mjs', import.meta.url), { workerData: { dataDir, options: { ...options, ...(await compiledModules()) } } });
    const db = new ThreadedPgliteDb(worker, release);
    try {
      await new Promise<void>((resolve, reject) => {
        db.pending.set(0, { resolve: () => resolve(), reject });
      });
    } catch (e) {
      await worker.terminate().catch(() => {});
      throw e;
    }
    worker.unref();
    return db;
  }

  private call(req: Request): Promise<{ rows?: unknown[]; tx?: number }> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed && req.op !== 'close') return Promise.reject(new TrucError('database_unavailable', 'cơ sở dữ liệu đã đóng (the database is closed)'));
    const id = this.seq++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // a request in flight keeps the process alive, as a statement on the main thread would
      if (this.pending.size === 1) this.worker.ref();
      const transfer = req.op === 'copy' ? req.parts.map((p) => p.buffer as ArrayBuffer) : [];
      this.worker.postMessage({ id, ...req }, transfer);
    });
  }

  private sql(tx?: number): Sql {
    const t = tx === undefined ? {} : { tx };
    return {
      query: async <T>(text: string, params: unknown[] = []) => ((await this.call({ op: 'query', text, params, ...t })).rows ?? []) as T[],
      exec: async (text: string) => {
        await this.call({ op: 'exec', text, ...t });
      },
      copyFrom: async (table: string, columns: readonly CopyColumn[], rows: readonly CopyRow[] | CopyRows) => {
        const copy = blobCopy(table, columns, rows);
        // copied out of Node's shared pool into buffers of their own, which are then moved, not cloned
        if (copy) await this.call({ op: 'copy', text: copy.text, parts: copy.parts.map((d) => new Uint8Array(d)), ...t });
      },
    };
  }

  /** statements outside any transaction */
  private readonly outside: Sql = this.sql();

  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]> {
    return this.outside.query<T>(text, params);
  }

  exec(text: string): Promise<void> {
    return this.outside.exec(text);
  }

  copyFrom(table: string, columns: readonly CopyColumn[], rows: readonly CopyRow[] | CopyRows): Promise<void> {
    return this.outside.copyFrom(table, columns, rows);
  }

  async tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    const { tx } = await this.call({ op: 'begin' });
    let result: T;
    try {
      result = await fn(this.sql(tx));
    } catch (e) {
      await this.call({ op: 'end', tx: tx!, commit: false }).catch(() => {});
      throw e;
    }
    await this.call({ op: 'end', tx: tx!, commit: true });
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (!this.failed) await this.call({ op: 'close' });
    } finally {
      await this.worker.terminate().catch(() => {});
      this.release();
    }
  }
}
