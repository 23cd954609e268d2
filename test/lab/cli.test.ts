import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { opensslStatus } from '../helpers/openssl.js';
import { trucDataDir } from '../helpers/truc-cli.js';
import { sharedMissing, VECTORS } from './shared.js';

// its database made beforehand, with no CA (../helpers/truc-cli.ts)
const dataDir = await trucDataDir('truc-lab-cli-');
const env = { ...process.env, TRUC_DATA_DIR: dataDir, TRUC_KEY_PASSPHRASE: 'lab cli passphrase', TRUC_LOG_LEVEL: 'warn', TRUC_LAB_VECTORS: VECTORS };
delete (env as any).TRUC_DATABASE_URL;

function truc(...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/truc.js', ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(sharedMissing)('truc lab on the command line', () => {
  const out = join(dataDir, 'report');

  it('runs node:crypto on aes_gcm_test.json end to end: progress, table, verdict, signed reports openssl verifies, the run in the register', () => {
    expect(truc('ca', 'init').status).toBe(0);
    const vendor = JSON.parse(truc('--json', 'lab', 'vendor', 'add', '--name', 'OpenSSL Foundation', '--country', 'CH').stdout);
    const product = JSON.parse(truc('--json', 'lab', 'product', 'add', '--vendor', 'OpenSSL Foundation', '--name', 'OpenSSL').stdout);
    expect(product.vendorId).toBe(vendor.id);
    const version = JSON.parse(truc('--json', 'lab', 'version', 'add', '--product', product.id, '--version', '3.0', '--algorithm', 'AES-GCM,HMACSHA256').stdout);
    expect(version.algorithms).toEqual(['AES-GCM', 'HMACSHA256']);

    const r = truc('lab', 'run', '--product', 'node', '--suite', 'aes_gcm_test.json', '--suite', 'hmac_sha256_test.json', '--profile', 'stored-data-protection', '--product-version', version.id, '--out', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/aes_gcm_test\.json: pass \d+/);
    expect(r.stdout).toMatch(/suite\s+pass\s+fail\s+acceptable\s+unsupported\s+skipped\s+error/);
    expect(r.stdout).toMatch(/aes_gcm_test\.json\s+\d+\s+0\s+/);
    expect(r.stdout).toMatch(/verdict: PASS — Cryptography for protecting stored data/);
    const runId = /run (run_[0-9a-f]+)/.exec(r.stdout)![1];

    writeFileSync(join(dataDir, 'root.pem'), JSON.parse(truc('--json', 'ca', 'cas').stdout).find((c: any) => c.parent === null).certificate);
    for (const [content, sig] of [['report.json', 'report.p7s'], ['report.pdf', 'report.pdf.p7s']]) {
      const v = opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-in', join(out, sig), '-content', join(out, content), '-CAfile', join(dataDir, 'root.pem'), '-purpose', 'any', '-out', '/dev/null']);
      expect(v.status, v.out).toBe(0);
    }
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('aes_gcm_test.json');

    const ok = truc('lab', 'verify-report', join(out, 'report.json'), join(out, 'report.p7s'));
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/signature valid: .*Trục Crypto Lab/);
    expect(ok.stdout).toMatch(/path to a trusted root: yes/);
    const changed = readFileSync(join(out, 'report.json'), 'utf8').replace('"verdict":"PASS"', '"verdict":"FAIL"');
    writeFileSync(join(dataDir, 'changed.json'), changed);
    const bad = truc('lab', 'verify-report', join(dataDir, 'changed.json'), join(out, 'report.p7s'));
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/SIGNATURE INVALID: .*message digest/);

    // the register from the CLI (the HTTP and register tests cover the rest of it)
    const cert = JSON.parse(truc('--json', 'lab', 'certificate', 'issue', '--product-version', version.id, '--profile', 'stored-data-protection').stdout);
    expect(cert).toMatchObject({ runId, status: 'issued' });
    expect(truc('lab', 'certificate', 'revoke', cert.number, '--reason', 'test').stdout).toMatch(/revoked/);
    const again = truc('lab', 'certificate', 'revoke', cert.number, '--reason', 'test');
    expect(again.status).toBe(5); // conflict
    expect(again.stderr).toMatch(/error \[conflict\]: .* is revoked: cannot revoke/);
  }, 180_000);

  it('--run-timeout on a product that hangs: a partial report, signed, verdict FAIL, exit 1, the suites not reached named', () => {
    const partial = join(dataDir, 'partial');
    const script = resolve(process.cwd(), 'test/lab/fixtures/product-misbehaving.mjs');
    const product = `stdio:${process.execPath} ${script} hang ${join(dataDir, 'hang-child.pid')} --ops=macCompute --answer=3`;
    const r = truc('lab', 'run', '--product', product, '--suite', 'aes_cmac_test.json', '--suite', 'hmac_sha256_test.json', '--profile', 'stored-data-protection', '--run-timeout', '1s', '--no-progress', '--out', partial);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/KẾT QUẢ CHƯA ĐẦY ĐỦ — Hết thời gian cho cả lần chạy \(1000 ms\).*\(PARTIAL — 3 tests ran, \d+ not run; suites not reached: hmac_sha256_test.json\)/);
    expect(r.stdout).toMatch(/verdict: FAIL/);
    const report = JSON.parse(readFileSync(join(partial, 'report.json'), 'utf8'));
    expect(report.partial).toMatchObject({ reason: 'run-timeout', testsRun: 3, suitesNotReached: ['hmac_sha256_test.json'] });
    for (const [content, sig] of [['report.json', 'report.p7s'], ['report.pdf', 'report.pdf.p7s']]) {
      const v = opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-in', join(partial, sig), '-content', join(partial, content), '-CAfile', join(dataDir, 'root.pem'), '-purpose', 'any', '-out', '/dev/null']);
      expect(v.status, v.out).toBe(0);
    }
    expect(readFileSync(join(partial, 'report.html'), 'utf8')).toContain('Lần chạy bị cắt ngang (run cut short)');

    const bad = truc('lab', 'run', '--product', 'node', '--suite', 'aes_gcm_test.json', '--run-timeout', 'soon', '--out', partial);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--run-timeout: không phải khoảng thời gian \(not a duration: soon/);
  }, 120_000);

  it('--acvp runs NIST ACVP sets from their folders, under the same run limit: a signed report naming NIST, or a partial one', () => {
    const nist = resolve(process.cwd(), 'test/lab/fixtures/acvp-nist');
    const acvpOut = join(dataDir, 'acvp');
    const r = truc('lab', 'run', '--product', 'node', '--acvp', join(nist, 'ACVP-AES-GCM-1.0'), '--acvp', join(nist, 'HMAC-SHA2-256-2.0'), '--no-progress', '--out', acvpOut);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/acvp\/ACVP-AES-GCM-1\.0\s+60\s+0\s+0\s+0\s+0\s+0/);
    expect(r.stdout).toMatch(/acvp\/HMAC-SHA2-256-2\.0\s+150\s+0\s+0\s+0\s+0\s+0/);
    const report = JSON.parse(readFileSync(join(acvpOut, 'report.json'), 'utf8'));
    expect(report.sources.map((x: { name: string; commit?: string }) => `${x.name} ${x.commit}`)).toEqual([
      'usnistgov/ACVP-Server 8e6f5ee70a96fc634b4751386d3733e29f4bf5c6',
      'usnistgov/ACVP-Server 15c0f3deeefbfa8cb6cd32a99e1ca3b738c66bf0',
    ]);

    const script = resolve(process.cwd(), 'test/lab/fixtures/product-misbehaving.mjs');
    const hung = `stdio:${process.execPath} ${script} hang ${join(dataDir, 'acvp-child.pid')} --ops=macCompute --answer=3`;
    const cut = truc('lab', 'run', '--product', hung, '--acvp', join(nist, 'HMAC-SHA2-256-2.0'), '--acvp', join(nist, 'ACVP-AES-GCM-1.0'), '--run-timeout', '1s', '--no-progress', '--out', acvpOut);
    expect(cut.status, cut.stderr).toBe(1);
    expect(cut.stdout).toMatch(/\(PARTIAL — 3 tests ran, 207 not run; suites not reached: acvp\/ACVP-AES-GCM-1\.0\)/);
    expect(JSON.parse(readFileSync(join(acvpOut, 'report.json'), 'utf8')).partial).toMatchObject({ reason: 'run-timeout', testsRun: 3 });

    const both = truc('lab', 'run', '--product', 'node', '--acvp', join(nist, 'HMAC-SHA2-256-2.0'), '--suite', 'aes_gcm_test.json', '--out', acvpOut);
    expect(both.status).not.toBe(0);
    expect(both.stderr).toMatch(/--acvp và --suite không dùng cùng nhau.*\(--acvp and --suite cannot be given together/);
  }, 120_000);
});
