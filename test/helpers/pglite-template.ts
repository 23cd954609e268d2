/**
 * A migrated PGlite database without paying for it each time. A new in-memory PGlite runs initdb and then
 * every migration: measured on the loaded 2-core machine, 14–18 s of wall time (≈4 s of CPU) per database,
 * and the suite opens one in most of its files. Copying a data folder that is already initialised and
 * migrated, and opening that, takes ≈3 s under the same load. The template is made once per set of
 * migrations (their ids and SQL, and the PGlite version, name it) in the system's temporary folder and
 * shared by every test file; it is built beside and renamed into place, so files starting together never
 * see half of one. Each test gets its own copy: nothing written by one test is seen by another.
 *
 * Only the in-memory case is replaced, by the same engine on a data folder — the way `truc start` runs by
 * default. Tests that need a bare database (no migrations) or PostgreSQL are not touched.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, migrate, type Migration } from '../../src/store/index.js';
import { ALL_MIGRATIONS } from '../../src/database.js';

/** the templates of this file's process, by their name */
const templates = new Map<string, Promise<string>>();

function templateName(migrations: Migration[]): string {
  const h = createHash('sha256');
  h.update(readFileSync('node_modules/@electric-sql/pglite/package.json')); // its version
  for (const m of migrations) h.update(`${m.id}\0${m.sql}\0`);
  return join(tmpdir(), `truc-pglite-template-${h.digest('hex').slice(0, 16)}`);
}

async function buildTemplate(dir: string, migrations: Migration[]): Promise<string> {
  if (existsSync(join(dir, 'PG_VERSION'))) return dir;
  const work = mkdtempSync(`${dir}.build-`);
  const db = await openDb({ url: work });
  try {
    await migrate(db, migrations);
  } finally {
    await db.close();
  }
  try {
    renameSync(work, dir);
  } catch {
    rmSync(work, { recursive: true, force: true }); // another file made it first: theirs is the same
  }
  return dir;
}

/**
 * A fresh PGlite data folder of its own, migrated with `migrations` (the platform's, by default; a security
 * server's database takes `serverMigrations` alone, as `truc ss serve` and the axis make it); pass it as
 * `database.url`.
 */
export async function migratedPgliteDir(migrations: Migration[] = ALL_MIGRATIONS): Promise<string> {
  const name = templateName(migrations);
  let template = templates.get(name);
  if (!template) templates.set(name, (template = buildTemplate(name, migrations)));
  const dir = mkdtempSync(join(tmpdir(), 'truc-pgdb-'));
  cpSync(await template, dir, { recursive: true });
  return dir;
}
