/**
 * Which databases the tests run against. PGlite (in memory) always; PostgreSQL when TRUC_TEST_PG_URL is
 * set or a server answers on 127.0.0.1:5432. Each PostgreSQL test file gets a fresh database of its own,
 * so that files running in parallel never see each other's rows.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';

const PG_BASE = process.env.TRUC_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: boolean | undefined;

/**
 * PostgreSQL variants run unless TRUC_TEST_PG=0. Where no server answers they are skipped with a printed
 * reason — except in CI, where a missing server must fail the run rather than shrink it.
 */
export function postgresWanted(): boolean {
  if (process.env.TRUC_TEST_PG === '0') return false;
  if (reachable === undefined) {
    const u = new URL(PG_BASE);
    const r = spawnSync('pg_isready', ['-q', '-h', u.hostname, '-p', u.port || '5432'], { timeout: 5000 });
    reachable = r.status === 0 || !!r.error; // without pg_isready, try for real
    if (!reachable && process.env.CI !== 'true')
      console.warn(`SKIP PostgreSQL test variants: no server answers at ${u.host} (TRUC_TEST_PG_URL)`);
  }
  return reachable || process.env.CI === 'true';
}

/** Creates a throwaway database on the PostgreSQL server and returns its URL. */
export async function freshPostgresUrl(): Promise<string> {
  const name = `truc_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_BASE });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(PG_BASE);
  u.pathname = `/${name}`;
  return u.toString();
}

export function testDatabaseUrls(): { name: 'pglite' | 'postgres'; url: () => Promise<string> }[] {
  const out: { name: 'pglite' | 'postgres'; url: () => Promise<string> }[] = [
    { name: 'pglite', url: async () => 'memory://' },
  ];
  if (postgresWanted()) out.push({ name: 'postgres', url: freshPostgresUrl });
  return out;
}
