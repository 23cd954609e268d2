/**
 * `truc audit verify` as an auditor runs it: a role that may only SELECT the audit tables, no key store
 * passphrase, a bus configured at an address where nothing answers. Intact → 0, altered → 1, database
 * unreachable → 3 (not 1: "cannot check" is not "broken").
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freshPostgresUrl, postgresWanted } from '../helpers/db.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { tmp } from '../helpers/openssl.js';

const truc = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['bin/truc.js', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', TRUC_DATA_DIR: tmp('truc-auditor-'), TRUC_BUS_URL: 'nats://127.0.0.1:1', ...env },
  });

describe.skipIf(!postgresWanted())('truc audit verify with read access alone (PostgreSQL)', () => {
  let url: string;
  let p: TestPlatform | undefined;
  const role = `auditor_${randomBytes(4).toString('hex')}`;
  let auditorUrl: string;

  beforeAll(async () => {
    url = await freshPostgresUrl();
    p = await testPlatform(url); // creates the hierarchy: audit records
    await p.close();
    p = undefined;
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const dbName = new URL(url).pathname.slice(1);
    await c.query(`CREATE ROLE ${role} LOGIN`);
    await c.query(`GRANT CONNECT ON DATABASE ${dbName} TO ${role}`);
    await c.query(`GRANT SELECT ON audit_log, audit_head TO ${role}`);
    await c.end();
    const u = new URL(url);
    u.username = role;
    auditorUrl = u.toString();
  }, 60_000);
  afterAll(async () => {
    await p?.close();
  });

  it('0 when intact, 1 when a record was altered, 3 when the database cannot be reached', async () => {
    const ok = truc(['audit', 'verify', '--database-url', auditorUrl]);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/nguyên vẹn.*intact: \d+ records/);

    const json = truc(['--json', 'audit', 'verify', '--database-url', auditorUrl]);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, checked: true });

    // someone with more rights than the auditor alters a record behind the trigger's back
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update');
    await c.query(`UPDATE audit_log SET actor = 'someone else' WHERE seq = 2`);
    await c.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update');
    await c.end();
    const broken = truc(['audit', 'verify', '--database-url', auditorUrl]);
    expect(broken.status).toBe(1);
    expect(broken.stdout).toMatch(/BROKEN at record 2/);

    const down = truc(['audit', 'verify', '--database-url', 'postgres://postgres@127.0.0.1:1/none']);
    expect(down.status).toBe(3);
    expect(down.stderr).toMatch(/cannot check/);

    // a role that may not read the audit tables cannot check either: 3, not "broken"
    const u = new URL(url);
    u.username = 'nobody_' + randomBytes(3).toString('hex');
    const denied = truc(['audit', 'verify', '--database-url', u.toString()]);
    expect(denied.status).toBe(3);
  }, 90_000);
});
