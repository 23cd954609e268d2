import { describe, it, expect, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { openDb, migrate, type Db } from '../../src/store/index.js';
import { freshPostgresUrl, postgresWanted, testDatabaseUrls } from '../helpers/db.js';
import type pg from 'pg';

for (const { name, url } of testDatabaseUrls()) {
  describe(`store on ${name}`, () => {
    let db: Db;
    const table = `t_store_${process.pid}_${name}`;
    afterAll(async () => {
      await db?.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
      await db?.query(`DELETE FROM truc_migration WHERE id LIKE $1`, [`test/${table}%`]).catch(() => {});
      await db?.close();
    });

    it('applies migrations once and is idempotent on a second run', async () => {
      db = await openDb({ url: await url() });
      const m = [
        { id: `test/${table}/1`, sql: `CREATE TABLE ${table} (id int PRIMARY KEY, v text); CREATE INDEX ON ${table}(v);` },
        { id: `test/${table}/2`, sql: `ALTER TABLE ${table} ADD COLUMN w text` },
      ];
      expect(await migrate(db, m)).toEqual(m.map((x) => x.id));
      expect(await migrate(db, m)).toEqual([]);
      // a schema one migration behind the code: only that one is applied, past the one-query check
      const third = { id: `test/${table}/3`, sql: `ALTER TABLE ${table} ADD COLUMN x text` };
      expect(await migrate(db, [...m, third])).toEqual([third.id]);
      expect(await migrate(db, [...m, third])).toEqual([]);
      await db.query(`INSERT INTO ${table} (id, v, w) VALUES ($1, $2, $3)`, [1, 'a', 'b']);
      expect(await db.query(`SELECT v, w FROM ${table} WHERE id = $1`, [1])).toEqual([{ v: 'a', w: 'b' }]);
    });

    it('rolls a failed transaction back whole', async () => {
      await expect(
        db.tx(async (sql) => {
          await sql.query(`INSERT INTO ${table} (id, v) VALUES (2, 'x')`);
          await sql.query(`INSERT INTO ${table} (id, v) VALUES (1, 'dup')`); // primary key violation
        }),
      ).rejects.toThrow();
      expect(await db.query(`SELECT id FROM ${table} ORDER BY id`)).toEqual([{ id: 1 }]);
    });

    it('round-trips Vietnamese text and bytes', async () => {
      await db.query(`INSERT INTO ${table} (id, v) VALUES (3, $1)`, ['Bộ Thông tin và Truyền thông']);
      const [row] = await db.query<{ v: string; b: Uint8Array }>(
        `SELECT v, $1::bytea AS b FROM ${table} WHERE id = 3`,
        [Buffer.from([0, 1, 255])],
      );
      expect(row.v).toBe('Bộ Thông tin và Truyền thông');
      expect(Buffer.from(row.b)).toEqual(Buffer.from([0, 1, 255]));
    });
  });
}

describe.skipIf(!postgresWanted())('PostgreSQL: a connection lost between two users of the pool', () => {
  it('is no uncaught error: the next user is told, and the pool opens a new connection', async () => {
    const db = await openDb({ url: await freshPostgresUrl(), poolSize: 1 });
    try {
      const pool = (db as unknown as { pool: pg.Pool }).pool;
      const a = await pool.connect();
      const waiting = pool.connect();
      // released while another waits: the pool hands the client over at once, and the waiter listens only once
      // its promise continues — a backend terminated in between (its FATAL message parsed from the same read
      // as the previous answer) is an 'error' event then, which with no listener threw and stopped the process
      a.release();
      let thrown: unknown = null;
      try {
        a.emit('error', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }));
      } catch (e) {
        thrown = e;
      }
      const b = await waiting;
      b.release(new Error('lost'));
      expect(thrown).toBeNull();
      expect(b).toBe(a);
      expect(await db.query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
  });
});

describe('the embedded database folder is one process’s', () => {
  it('refuses a second opening while the first is open, and takes over a lock whose process is gone', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'truc-lock-')), 'db');
    const first = await openDb({ url: dir });
    await expect(openDb({ url: dir })).rejects.toMatchObject({ code: 'conflict', detail: { pid: process.pid } });
    await first.close();
    expect(existsSync(`${dir}.lock`)).toBe(false);

    // a lock left by a process that died: taken over
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(`${dir}.lock`, `${dead.stdout}\n`);
    const again = await openDb({ url: dir });
    expect(JSON.parse(readFileSync(`${dir}.lock`, 'utf8')).pid).toBe(process.pid);
    await again.close();

    // a pid given to another process since: the lock of the process that had this very pid before (a
    // restarted container's pid 1, a pid reused after a reboot) — by its start time, or, in an earlier
    // version's lock (the pid alone), because it names this process, which holds nothing
    const ns = readlinkSync('/proc/self/ns/pid');
    for (const left of [JSON.stringify({ pid: process.pid, start: '1', host: hostname(), ns, since: '2026-01-01T00:00:00.000Z' }), `${process.pid}\n`]) {
      writeFileSync(`${dir}.lock`, left);
      const reused = await openDb({ url: dir });
      expect(JSON.parse(readFileSync(`${dir}.lock`, 'utf8')).start).not.toBe('1');
      await reused.close();
    }

    // a lock held by another live process: refused, and the lock is left alone
    const other = spawn('sleep', ['30']);
    try {
      writeFileSync(`${dir}.lock`, `${other.pid}\n`);
      await expect(openDb({ url: dir })).rejects.toThrow(new RegExp(`in use by process ${other.pid}`));
      expect(readFileSync(`${dir}.lock`, 'utf8').trim()).toBe(String(other.pid));
    } finally {
      other.kill();
    }
  });
});

describe('the embedded database lock, while a serving process holds it', () => {
  const serve = (dir: string) => {
    const c = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'lock-lost-child.ts'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const opened = new Promise<void>((resolve, reject) => {
      c.stdout.on('data', () => out.includes('open') && resolve());
      c.once('exit', (code) => reject(new Error(`the child ended (${code}) before it opened: ${err}`)));
    });
    const exited = new Promise<number | null>((resolve) => c.once('exit', (code) => resolve(code)));
    return { c, opened, exited, err: () => err };
  };

  it('is written again when deleted by hand; taken by another process, the server stops at once (exit 5), saying so', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'truc-lock-lost-')), 'db');
    const s = serve(dir);
    try {
      await s.opened;
      const mine = readFileSync(`${dir}.lock`, 'utf8');
      expect(JSON.parse(mine).pid).toBe(s.c.pid);
      // deleted: nobody else holds it, so the holder writes it again at its next beat and goes on
      rmSync(`${dir}.lock`);
      for (let i = 0; i < 200 && !existsSync(`${dir}.lock`); i++) await new Promise((r) => setTimeout(r, 20));
      expect(readFileSync(`${dir}.lock`, 'utf8')).toBe(mine);
      expect(s.c.exitCode).toBeNull();
      // replaced by another host's process (as one that took over a lock it judged stale would write it)
      writeFileSync(`${dir}.lock`, `${JSON.stringify({ pid: 4242, start: '7', host: 'may-khac', ns: null, since: new Date().toISOString() })}\n`);
      expect(await s.exited).toBe(5);
      expect(s.err()).toContain('may-khac');
      expect(s.err()).toMatch(/dừng ngay.*stopping at once/s);
      // the lock is the other's still: the stopped process did not remove it
      expect(JSON.parse(readFileSync(`${dir}.lock`, 'utf8')).host).toBe('may-khac');
    } finally {
      s.c.kill('SIGKILL');
    }
  });
});

describe('PostgreSQL: a server that accepts and then says nothing', () => {
  it('is a clear error after the connection time-out, not a wait for the kernel', async () => {
    const held: Socket[] = [];
    const silent = createServer((s) => held.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const err = await openDb({ url: `postgres://trucx@127.0.0.1:${port}/none`, connectTimeoutMs: 300 }).then(
        () => null,
        (e: Error & { code?: string }) => e,
      );
      expect(err?.code).toBe('database_unavailable');
      expect(err?.message).toMatch(/timeout/i);
      expect(held.length).toBeGreaterThan(0);
    } finally {
      for (const s of held) s.destroy();
      silent.close();
    }
  });
});
