/**
 * Migrations. Each part owns its tables and hands its ordered list of migrations to `migrate`; ids are
 * global (`pki/001_ca`), applied once, in order, under an advisory lock so that two processes starting
 * against one PostgreSQL never race. Running it again is a no-op.
 */
import type { Db } from './db.js';

export interface Migration {
  id: string;
  sql: string;
}

const LOCK_KEY = 0x7472_7563; // "truc"

export async function migrate(db: Db, migrations: Migration[]): Promise<string[]> {
  // the usual case, a schema already current, is one query and takes no lock: every command opens the
  // database, and the transaction below (lock, CREATE TABLE IF NOT EXISTS, the list) cost each one more
  if (await current(db, migrations)) return [];
  return db.tx(async (sql) => {
    await sql.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await sql.query(
      `CREATE TABLE IF NOT EXISTS truc_migration (
         id text PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const done = new Set((await sql.query<{ id: string }>('SELECT id FROM truc_migration')).map((r) => r.id));
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.id)) continue;
      await sql.exec(m.sql);
      await sql.query('INSERT INTO truc_migration (id) VALUES ($1)', [m.id]);
      applied.push(m.id);
    }
    return applied;
  });
}

/** Whether every migration is applied already; false too when the table of migrations does not exist yet. */
async function current(db: Db, migrations: Migration[]): Promise<boolean> {
  let rows: { id: string }[];
  try {
    rows = await db.query<{ id: string }>('SELECT id FROM truc_migration');
  } catch (e) {
    if ((e as { code?: string }).code === '42P01') return false; // undefined_table: a new database
    throw e;
  }
  const done = new Set(rows.map((r) => r.id));
  return migrations.every((m) => done.has(m.id));
}
