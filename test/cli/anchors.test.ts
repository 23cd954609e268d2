/**
 * `truc verify`'s copy of the platform's roots (src/cli/anchors.ts): answered only while the embedded
 * database has not been opened since it was made, and never while it is open or on PostgreSQL. The files
 * PGlite changes at every opening are stood in for in the first tests; the last runs `truc` on a real one,
 * where every command closing the database keeps the roots it holds (`closeKeeping`).
 */
import { describe, it, expect } from 'vitest';
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cachedRoots, saveRoots } from '../../src/cli/anchors.js';
import type { Config } from '../../src/config.js';
import { spawnSync } from 'node:child_process';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import { trucDataDir } from '../helpers/truc-cli.js';
import { samplePdf } from '../sign/fixtures.js';

function folder(): { cfg: Config; db: string } {
  const dataDir = tmp('truc-anchors-');
  const db = join(dataDir, 'db');
  mkdirSync(join(db, 'global'), { recursive: true });
  mkdirSync(join(db, 'pg_wal', 'archive_status'), { recursive: true });
  writeFileSync(join(db, 'global', 'pg_control'), Buffer.alloc(8192));
  writeFileSync(join(db, 'pg_wal', '000000010000000000000001'), Buffer.alloc(1024));
  return { cfg: { dataDir, database: { url: db, poolSize: 1 } } as Config, db };
}

const roots = [Buffer.from('3003020101', 'hex'), Buffer.from('3003020102', 'hex')];
const later = (path: string) => {
  const t = new Date(statSync(path).mtimeMs + 5000);
  utimesSync(path, t, t);
};

describe("truc verify's copy of the platform roots", () => {
  it('answers the roots kept while the database files are as they were', () => {
    const { cfg } = folder();
    expect(cachedRoots(cfg)).toBeUndefined(); // nothing kept yet
    saveRoots(cfg, roots);
    expect(statSync(join(cfg.dataDir, 'trust-anchors.json')).mode & 0o777).toBe(0o600);
    expect(cachedRoots(cfg)).toEqual(roots);
    saveRoots(cfg, []);
    expect(cachedRoots(cfg)).toEqual([]); // a platform without a CA yet is an answer too
  });

  it('reads the database again once it was opened since: pg_control or the WAL moved', () => {
    const { cfg, db } = folder();
    saveRoots(cfg, roots);
    later(join(db, 'global', 'pg_control'));
    expect(cachedRoots(cfg)).toBeUndefined();

    saveRoots(cfg, roots);
    later(join(db, 'pg_wal', '000000010000000000000001'));
    expect(cachedRoots(cfg)).toBeUndefined();

    saveRoots(cfg, roots);
    writeFileSync(join(db, 'pg_wal', '000000010000000000000002'), Buffer.alloc(1024)); // a new segment
    expect(cachedRoots(cfg)).toBeUndefined();
  });

  it('neither answers nor keeps while the database is open (its lock file), nor on PostgreSQL', () => {
    const { cfg, db } = folder();
    saveRoots(cfg, roots);
    writeFileSync(`${db}.lock`, `${process.pid}\n`);
    expect(cachedRoots(cfg)).toBeUndefined();
    rmSync(join(cfg.dataDir, 'trust-anchors.json'));
    saveRoots(cfg, roots);
    rmSync(`${db}.lock`);
    expect(cachedRoots(cfg)).toBeUndefined(); // nothing was kept while it was open

    const pg = { ...cfg, database: { url: 'postgres://truc@127.0.0.1/truc', poolSize: 1 } } as Config;
    saveRoots(pg, roots);
    expect(cachedRoots(pg)).toBeUndefined();
  });

  it('refuses a damaged copy, or one made for another database folder', () => {
    const { cfg } = folder();
    writeFileSync(join(cfg.dataDir, 'trust-anchors.json'), '{"version":1,');
    expect(cachedRoots(cfg)).toBeUndefined();
    const other = folder();
    saveRoots(other.cfg, roots);
    writeFileSync(
      join(cfg.dataDir, 'trust-anchors.json'),
      readFileSync(join(other.cfg.dataDir, 'trust-anchors.json'), 'utf8'),
    );
    expect(cachedRoots(cfg)).toBeUndefined();
  });
});

describe('truc verify with the platform roots, one command after another', () => {
  it('trusts a root made after the last verification, kept by the command that made it', async () => {
    // its database made beforehand, with no CA (../helpers/truc-cli.ts)
    const dataDir = await trucDataDir('truc-anchors-cli-');
    const dir = tmp();
    const env = {
      ...process.env,
      TRUC_DATA_DIR: dataDir,
      TRUC_KEY_PASSPHRASE: 'anchors passphrase',
      TRUC_LOG_LEVEL: 'warn',
    };
    delete (env as Record<string, string | undefined>).TRUC_DATABASE_URL;
    const truc = (...args: string[]) =>
      spawnSync(process.execPath, ['bin/truc.js', ...args], { env, encoding: 'utf8', timeout: 120_000 });
    const pdf = join(dir, 'doc.pdf');
    writeFileSync(pdf, await samplePdf(true));

    // a platform without a CA yet: nothing to trust, and that answer is kept
    expect(truc('verify', pdf).status).toBe(1); // no signature
    expect(JSON.parse(readFileSync(join(dataDir, 'trust-anchors.json'), 'utf8')).roots).toEqual([]);

    expect(truc('ca', 'init').status).toBe(0);
    // every command closing the embedded database keeps the roots it holds then: ca init's new root
    expect(JSON.parse(readFileSync(join(dataDir, 'trust-anchors.json'), 'utf8')).roots).toHaveLength(1);
    const { csrPath, keyPath } = opensslCsr(dir, '/C=VN/O=Bộ Tư pháp/CN=Trần Văn Bình');
    const cert = join(dir, 'cert.pem');
    expect(
      truc('ca', 'issue', '--csr', csrPath, '--profile', 'official-signing', '--out', cert, '--chain').status,
    ).toBe(0);
    const signed = join(dir, 'signed.pdf');
    expect(truc('sign', 'pdf', pdf, '--out', signed, '--key-pem', keyPath, '--cert-pem', cert).status).toBe(
      0,
    );

    // the roots ca issue kept answer: the database is not opened (PGlite rewrites pg_control at every close)
    const control = join(dataDir, 'db', 'global', 'pg_control');
    const before = statSync(control, { bigint: true });
    const first = truc('--json', 'verify', signed);
    expect(first.status, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).signatures[0].indication).toBe('TOTAL-PASSED');
    const after = statSync(control, { bigint: true });
    expect([after.mtimeNs, after.ino]).toEqual([before.mtimeNs, before.ino]);

    // without the copy (a command that died with the database open leaves none that answers): the
    // database is read, the root trusted, and the copy made again
    rmSync(join(dataDir, 'trust-anchors.json'));
    const again = truc('--json', 'verify', signed);
    expect(again.status).toBe(0);
    expect(JSON.parse(again.stdout).signatures[0].indication).toBe('TOTAL-PASSED');
    expect(statSync(control, { bigint: true }).mtimeNs).not.toEqual(before.mtimeNs);
    expect(JSON.parse(readFileSync(join(dataDir, 'trust-anchors.json'), 'utf8')).roots).toHaveLength(1);
  }, 300_000);
});
