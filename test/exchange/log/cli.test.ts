import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageLog } from '../../../src/exchange/log/index.js';
import { tmp } from '../../helpers/openssl.js';
import { trucDataDir } from '../../helpers/truc-cli.js';
import { record, logDir, testTsa, type TestTsa } from './fixtures.js';
import { loadConfig } from '../../../src/config.js';
import { openPlatform } from '../../../src/platform.js';
import { Vault } from '../../../src/vault/index.js';
import { logBodyCipher } from '../../../src/vault/envelope/log-cipher.js';
import { searchAudit } from '../../../src/audit/index.js';

describe('truc log', () => {
  let t: TestTsa;
  beforeAll(async () => {
    t = await testTsa();
  }, 60_000);
  afterAll(async () => {
    await t.p.close();
  });

  it('truc log verify, export and evidence work on a log folder offline (exit 0 intact, 1 broken, 3 cannot check fully)', async () => {
    const dir = logDir();
    const log = await MessageLog.open({ dir });
    for (let i = 1; i <= 8; i++) await log.append(record(i));
    await log.timestampNow(t.stamper);
    await log.close();
    const truc = (...args: string[]) =>
      new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, ['bin/truc.js', ...args], { env: { ...process.env, TRUC_LOG_LEVEL: 'warn' } });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (d) => (stdout += d));
        c.stderr.on('data', (d) => (stderr += d));
        c.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
      });
    const out = join(tmp('truc-ev-'), 'e.asice');
    // independent runs side by side
    const [ok, noTrust, exp, ev, missing] = await Promise.all([
      truc('log', 'verify', dir, '--trust', t.rootPath, '--untrusted', t.chainPath),
      truc('log', 'verify', dir),
      truc('log', 'export', dir, '--from', '3', '--to', '4'),
      truc('log', 'evidence', dir, 'msg-5', '--out', out),
      truc('log', 'verify', join(dir, 'nothing-here')),
    ]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/log intact: 8 records/);
    expect(noTrust.status).toBe(3);
    expect(exp.status, exp.stderr).toBe(0);
    expect(exp.stdout.trim().split('\n').map((l) => JSON.parse(l).messageId)).toEqual(['msg-3', 'msg-4']);
    expect(ev.status, ev.stderr).toBe(0);
    expect(spawnSync('unzip', ['-t', out]).status).toBe(0);
    const line = JSON.parse(exp.stdout.trim().split('\n')[0]!);
    expect(line).toMatchObject({ seq: 3, messageId: 'msg-3', segment: 1 });
    expect(line.bodyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(line.chainHash).toMatch(/^[0-9a-f]{64}$/);
    expect(new Date(line.time).toISOString()).toBe(line.time);
    const listing = spawnSync('unzip', ['-Z1', out], { encoding: 'utf8' }).stdout.split('\n').filter((n) => n.endsWith('record.json'));
    expect(listing.length).toBeGreaterThan(0);
    const rec = JSON.parse(spawnSync('unzip', ['-p', out, listing[0]!], { encoding: 'utf8' }).stdout);
    expect(rec.messageId).toBe('msg-5');
    expect(['request', 'response']).toContain(rec.kind);
    expect(rec.log).toMatch(/^[0-9a-f]+$/);
    expect(rec.bodyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(missing.status).toBe(3);
    const seg = join(dir, 'segments', '0000000001.seg');
    const b = readFileSync(seg);
    b[b.length - 100] ^= 1;
    writeFileSync(seg, b);
    const broken = await truc('log', 'verify', dir, '--trust', t.rootPath, '--untrusted', t.chainPath, '--json');
    expect(broken.status).toBe(1);
    expect(JSON.parse(broken.stdout).problem.why).toMatch(/chain hash/);
  }, 120_000);

  it('truc log verify --vault decrypts the bodies with the key from the platform\'s vault: all checked (exit 0); without it or with another platform\'s vault, cannot check (3); an altered body is found (1)', async () => {
    const name = 'SERVER:VN/GOV/000.00.00.G22/ss-vpcp';
    const env = (dataDir: string) => ({ TRUC_DATA_DIR: dataDir, TRUC_KEY_PASSPHRASE: 'log verify vault passphrase', TRUC_LOG_LEVEL: 'warn' });
    // data folders whose databases are made beforehand (../../helpers/truc-cli.ts)
    const home = await trucDataDir('truc-logvault-');
    // the security server's platform: its vault holds the log's data key
    const q = await openPlatform(loadConfig({ env: env(home) }));
    const dir = logDir();
    try {
      const cipher = await logBodyCipher(new Vault({ db: q.db, keys: q.keys, bus: q.bus }), name);
      const log = await MessageLog.open({ dir, cipher });
      for (let i = 1; i <= 6; i++) await log.append(record(i));
      await log.append(record(7, Buffer.alloc(200_000, 'x'))); // a body kept in a file
      await log.timestampNow(t.stamper);
      await log.close();
    } finally {
      await q.close();
    }
    const truc = (e: Record<string, string>, ...args: string[]) => {
      const r = spawnSync(process.execPath, ['bin/truc.js', ...args], { env: { ...process.env, ...e }, encoding: 'utf8', timeout: 120_000 });
      return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    };
    const trust = ['--trust', t.rootPath, '--untrusted', t.chainPath];
    const withKey = truc(env(home), 'log', 'verify', dir, ...trust, '--vault');
    expect(withKey.status, withKey.stdout + withKey.stderr).toBe(0);
    expect(withKey.stdout).toMatch(/log intact: 7 records.* 7 bodies checked/);
    const noKey = truc(env(home), 'log', 'verify', dir, ...trust, '--json');
    expect(noKey.status).toBe(3);
    expect(JSON.parse(noKey.stdout).incomplete.join()).toMatch(/vault:xlog:SERVER:VN\/GOV\/000\.00\.00\.G22\/ss-vpcp were not decrypted \(no key given\)/);
    // another platform's vault has no key for this log, and makes none
    const other = await trucDataDir('truc-logvault-other-');
    const wrongVault = truc(env(other), 'log', 'verify', dir, ...trust, '--vault', '--json');
    expect(wrongVault.status).toBe(3);
    expect(JSON.parse(wrongVault.stdout).incomplete.join()).toMatch(/no data key for object xlog:/);
    // an inline body altered at rest: its tag fails
    const seg = join(dir, 'segments', '0000000001.seg');
    const b = readFileSync(seg);
    const at = b.indexOf(Buffer.from('vault:xlog:')) + 200; // inside the first record's encrypted body (after the cipher id)
    b[at] ^= 1;
    writeFileSync(seg, b);
    const altered = truc(env(home), 'log', 'verify', dir, ...trust, '--vault', '--json');
    expect(altered.status, altered.stdout + altered.stderr).toBe(1);
    // the key fetches were audited in the platform that holds the key
    const again = await openPlatform(loadConfig({ env: env(home) }));
    try {
      const rows = await searchAudit(again.db, { action: 'log.verify.key' });
      expect(rows.length).toBeGreaterThanOrEqual(2);
      expect(rows.every((r: any) => r.target === `xlog:${name}` && r.outcome === 'success')).toBe(true);
    } finally {
      await again.close();
    }
    const otherP = await openPlatform(loadConfig({ env: env(other) }));
    try {
      expect(await new Vault({ db: otherP.db, keys: otherP.keys, bus: otherP.bus }).existingStoreKey(`xlog:${name}`).catch((e) => e.code)).toBe('not_found');
    } finally {
      await otherP.close();
    }
  }, 240_000);
});
