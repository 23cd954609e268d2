/**
 * `truc verify`'s default trust anchors — the platform's root CAs — kept beside the embedded database in
 * `<data>/trust-anchors.json` (0600, in the 0700 data folder) with the state of the database's files when
 * they were read. A script that verifies file after file then opens PGlite once rather than once a file
 * (opening it is most of a verification's second and its memory).
 *
 * The copy answers only while the database is closed — no lock file — and its files are exactly as they
 * were: PGlite rewrites `global/pg_control` at every shutdown and writes every change to the WAL first, so
 * any process that opened the database since, to read or to change it (a crashed one included), moved one
 * of them, and the roots are read from the database again. With the server running (the lock held) or on
 * PostgreSQL (shared by other machines; fast to open anyway) there is no copy.
 *
 * Every command that opens the embedded database keeps the copy current as it closes it (`closeKeeping`,
 * src/cli/main.ts and serve.ts): `truc verify` after `truc ca init`, `truc ca issue` or a stopped `truc
 * start` then opens no database at all. Only a command that died with the database open, or a folder
 * written by an older release, leaves it to `truc verify` to read the roots once.
 */
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Config } from '../config.js';
import type { Db } from '../store/index.js';

const FILE = 'trust-anchors.json';
const VERSION = 1;

/** The embedded database's folder, or undefined for PostgreSQL and an in-memory database. */
function embeddedDb(cfg: Config): string | undefined {
  const url = cfg.database.url;
  if (/^[a-z]+:\/\//i.test(url) && !url.startsWith('file://')) return undefined;
  return resolve(url.replace(/^file:\/\//, ''));
}

/** The state of the files any opening of the database changes; undefined when there is no database yet or it is open. */
function dbState(dir: string): string | undefined {
  if (existsSync(`${dir}.lock`)) return undefined; // open now (or left by a process that died): read the database
  try {
    const at = (p: string) => {
      const s = statSync(p, { bigint: true });
      return `${s.size}:${s.mtimeNs}:${s.ino}`;
    };
    const parts = [`pg_control=${at(join(dir, 'global', 'pg_control'))}`];
    for (const e of readdirSync(join(dir, 'pg_wal'), { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    ))
      if (e.isFile()) parts.push(`${e.name}=${at(join(dir, 'pg_wal', e.name))}`);
    return parts.join(' ');
  } catch {
    return undefined;
  }
}

const fileOf = (cfg: Config) => join(cfg.dataDir, FILE);

/** The roots read earlier, when the database has not been opened since; undefined otherwise. */
export function cachedRoots(cfg: Config): Buffer[] | undefined {
  const dir = embeddedDb(cfg);
  if (!dir) return undefined;
  const state = dbState(dir);
  if (!state) return undefined;
  try {
    const saved = JSON.parse(readFileSync(fileOf(cfg), 'utf8')) as {
      version?: number;
      db?: string;
      state?: string;
      roots?: unknown;
    };
    if (saved.version !== VERSION || saved.db !== dir || saved.state !== state || !Array.isArray(saved.roots))
      return undefined;
    if (!saved.roots.every((r) => typeof r === 'string' && /^[A-Za-z0-9+/=]+$/.test(r))) return undefined;
    return saved.roots.map((r: string) => Buffer.from(r, 'base64'));
  } catch {
    return undefined; // none yet, or unreadable: the database answers
  }
}

/** Keeps `roots`, just read from the database now closed, for the next `truc verify`. Never fails the command. */
export function saveRoots(cfg: Config, roots: readonly Buffer[]): void {
  const dir = embeddedDb(cfg);
  if (!dir) return;
  const state = dbState(dir);
  if (!state) return;
  const file = fileOf(cfg);
  const tmp = join(dirname(file), `.${FILE}.${process.pid}.tmp`);
  try {
    writeFileSync(
      tmp,
      JSON.stringify({ version: VERSION, db: dir, state, roots: roots.map((r) => r.toString('base64')) }) +
        '\n',
      { mode: 0o600 },
    );
    renameSync(tmp, file); // whole or not at all, for a `truc verify` reading it at the same time
  } catch {
    // a read-only data folder: the next verification reads the database again
  }
}

/** The platform's root CAs, as `truc verify` trusts them by default. */
export async function readRoots(db: Db): Promise<Buffer[]> {
  const { listCas } = await import('../pki/store.js');
  return (await listCas(db)).filter((ca) => !ca.parentId).map((ca) => Buffer.from(ca.certificate));
}

/**
 * Closes the database of a command that succeeded, first reading the roots when it is the embedded one,
 * then keeping them for the next `truc verify` once the files are as the close left them. Reading them
 * cannot fail the command: without them the next verification reads the database.
 */
export async function closeKeeping(cfg: Config, db: Db, close: () => Promise<void>): Promise<void> {
  const roots = embeddedDb(cfg) ? await readRoots(db).catch(() => undefined) : undefined;
  await close();
  if (roots) saveRoots(cfg, roots);
}
