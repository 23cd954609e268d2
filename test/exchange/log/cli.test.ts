import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageLog } from '../../../src/exchange/log/index.js';
import { tmp } from '../../helpers/openssl.js';
import { record, logDir, testTsa, type TestTsa } from './fixtures.js';

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
    expect(missing.status).toBe(3);
    const seg = join(dir, 'segments', '0000000001.seg');
    const b = readFileSync(seg);
    b[b.length - 100] ^= 1;
    writeFileSync(seg, b);
    const broken = await truc('log', 'verify', dir, '--trust', t.rootPath, '--untrusted', t.chainPath, '--json');
    expect(broken.status).toBe(1);
    expect(JSON.parse(broken.stdout).problem.why).toMatch(/chain hash/);
  }, 120_000);
});
