import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, migrate, type Db } from '../../src/store/index.js';
import { ThreadedPgliteDb } from '../../src/store/db-thread.js';
import type { CopyColumn } from '../../src/store/copy.js';

// the embedded database on a thread of its own (serving processes): the same Db, the same answers as
// PGlite on the calling thread — parameters, rows, COPY, transactions, errors with their fields
describe('PGlite on its own thread', () => {
  const dir = mkdtempSync(join(tmpdir(), 'truc-db-thread-'));
  let db: Db;
  afterAll(async () => {
    await db?.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  const cols: CopyColumn[] = [
    { name: 'id', type: 'int8' },
    { name: 'name', type: 'text' },
    { name: 'at', type: 'timestamptz' },
    { name: 'data', type: 'bytea' },
  ];

  it('runs migrations, statements with parameters, and returns rows as PGlite does', async () => {
    db = await openDb({ url: join(dir, 'db'), thread: true });
    expect(db).toBeInstanceOf(ThreadedPgliteDb);
    expect(db.kind).toBe('pglite');
    await migrate(db, [{ id: 'test/thread/1', sql: 'CREATE TABLE t (id bigint PRIMARY KEY, name text NOT NULL UNIQUE, at timestamptz, data bytea)' }]);
    const at = new Date('2026-12-05T10:00:00.123Z');
    await db.query('INSERT INTO t (id, name, at, data) VALUES ($1, $2, $3, $4)', [1, 'Bộ Nội vụ', at, Buffer.from([0, 1, 2, 255])]);
    const [row] = await db.query<{ id: string; name: string; at: Date; data: Uint8Array }>('SELECT id::text AS id, name, at, data FROM t WHERE id = $1', [1]);
    expect(row!.id).toBe('1');
    expect(row!.name).toBe('Bộ Nội vụ');
    expect(row!.at).toBeInstanceOf(Date);
    expect(row!.at.getTime()).toBe(at.getTime());
    expect(Buffer.from(row!.data).equals(Buffer.from([0, 1, 2, 255]))).toBe(true);
  });

  it('copies rows in, from Node buffers shared with other data', async () => {
    const rows = Array.from({ length: 500 }, (_, i) => [100 + i, `cơ quan ${i}`, new Date(1_700_000_000_000 + i), Buffer.from(`body ${i}`)]);
    // a small buffer from Node's shared pool stays usable after the copy (its bytes are copied, not moved)
    const pooled = Buffer.from('still here');
    await db.copyFrom('t', cols, rows);
    expect(pooled.toString()).toBe('still here');
    const [n] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM t WHERE id >= 100');
    expect(n!.n).toBe(500);
    const [r] = await db.query<{ data: Uint8Array }>('SELECT data FROM t WHERE id = 599');
    expect(Buffer.from(r!.data).toString()).toBe('body 499');
  });

  it('commits a transaction whole, rolls a failed one back whole, and keeps the error and its fields', async () => {
    const v = await db.tx(async (sql) => {
      await sql.query("INSERT INTO t (id, name) VALUES (2, 'hai')");
      await sql.copyFrom('t', cols, [[3, 'ba', null, null]]);
      return (await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM t WHERE id IN (2, 3)'))[0]!.n;
    });
    expect(v).toBe(2);
    let err: unknown;
    try {
      await db.tx(async (sql) => {
        await sql.query("INSERT INTO t (id, name) VALUES (4, 'bốn')");
        await sql.query("INSERT INTO t (id, name) VALUES (5, 'hai')"); // name is unique
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code).toBe('23505');
    expect((err as { constraint?: string }).constraint).toBe('t_name_key');
    expect(await db.query('SELECT id FROM t WHERE id IN (4, 5)')).toEqual([]);
    // an error thrown by the caller's own code rolls back too, and is the caller's error
    await expect(
      db.tx(async (sql) => {
        await sql.query("INSERT INTO t (id, name) VALUES (6, 'sáu')");
        throw new Error('the caller changed its mind');
      }),
    ).rejects.toThrow('the caller changed its mind');
    expect(await db.query('SELECT id FROM t WHERE id = 6')).toEqual([]);
    // a bad statement outside a transaction: its error, and the database goes on
    await expect(db.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: '42P01' });
    expect((await db.query<{ x: number }>('SELECT 1 AS x'))[0]!.x).toBe(1);
  });

  it('a statement sent while a transaction is open runs after it, and sees what it committed', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const order: string[] = [];
    const tx = db.tx(async (sql) => {
      await sql.query("INSERT INTO t (id, name) VALUES (7, 'bảy')");
      order.push('tx wrote');
      await held;
      order.push('tx ends');
    });
    await new Promise((r) => setTimeout(r, 50));
    const outside = db.query<{ n: number }>('SELECT count(*)::int AS n FROM t WHERE id = 7').then((r) => {
      order.push('outside read');
      return r[0]!.n;
    });
    await new Promise((r) => setTimeout(r, 50));
    release();
    await tx;
    expect(await outside).toBe(1);
    expect(order).toEqual(['tx wrote', 'tx ends', 'outside read']);
  });

  it('keeps its data folder: closed, it opens again (on the calling thread too) with the rows in it', async () => {
    await db.close();
    await expect(db.query('SELECT 1')).rejects.toMatchObject({ code: 'database_unavailable' });
    const again = await openDb({ url: join(dir, 'db') });
    try {
      const [n] = await again.query<{ n: number }>('SELECT count(*)::int AS n FROM t');
      expect(n!.n).toBe(504); // 1, 100–599, 2, 3 and 7
    } finally {
      await again.close();
    }
    db = await openDb({ url: join(dir, 'db'), thread: true });
    // the folder is claimed while it is open here
    await expect(openDb({ url: join(dir, 'db') })).rejects.toMatchObject({ code: 'conflict' });
  });

  it('a thread that dies fails what was waiting on it and everything after, with a clear error', async () => {
    const worker = (db as unknown as { worker: { terminate(): Promise<number> } }).worker;
    const waiting = db.query('SELECT pg_sleep(0.2)');
    await worker.terminate();
    await expect(waiting).rejects.toMatchObject({ code: 'database_unavailable' });
    await expect(db.query('SELECT 1')).rejects.toMatchObject({ code: 'database_unavailable', message: expect.stringContaining('thread') });
    await db.close();
  });
});

describe('which processes put the embedded database on a thread', () => {
  it('a serving platform does unless database.thread is false (default true); a command never does', async () => {
    const { loadConfig } = await import('../../src/config.js');
    const { openPlatform } = await import('../../src/platform.js');
    const dir = mkdtempSync(join(tmpdir(), 'truc-db-thread-platform-'));
    const config = (over: Record<string, unknown> = {}) =>
      loadConfig({ env: {}, overrides: { dataDir: dir, keys: { software: { dir: join(dir, 'keys'), passphrase: 'test passphrase' } }, log: { level: 'silent' }, ...over } as never });
    const threaded = { database: { url: join(dir, 'db'), thread: true } };
    const mainThread = { database: { url: join(dir, 'db'), thread: false } };
    try {
      expect(config().database.thread).toBe(true);
      expect(() => config({ database: { thread: 'yes' } })).toThrow(/invalid configuration/);
      for (const [cfg, opts, expected] of [
        [config(threaded), { serving: true }, true],
        [config(threaded), {}, false],
        [config(), { serving: true }, true],
        [config(mainThread), { serving: true }, false],
        [config(), {}, false],
      ] as const) {
        const p = await openPlatform(cfg, opts);
        try {
          expect(p.db instanceof ThreadedPgliteDb).toBe(expected);
          expect((await p.db.query<{ x: number }>('SELECT 1 AS x'))[0]!.x).toBe(1);
        } finally {
          await p.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
