import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfile, openStdioProduct, renderHtml, renderPdf, resolveSuites } from '../../src/lab/index.js';
import { listCas } from '../../src/pki/index.js';
import { runAndRecord, verifyReportSignature } from '../../src/lab/register/index.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { sharedMissing, VECTORS } from './shared.js';
import { MISBEHAVING as SCRIPT, alive, until } from './misbehaving.js';

describe.skipIf(sharedMissing)('whole-run limits: a partial report, signed, never PASS', () => {
  let p: TestPlatform;
  let root: Uint8Array;
  const verifies = async (bytes: Uint8Array, signature: Uint8Array) =>
    expect(verifyReportSignature(bytes, signature, { trustAnchors: [root] })).resolves.toMatchObject({ canonicalised: false });
  beforeAll(async () => {
    p = await testPlatform('memory://');
    root = (await listCas(p.db)).find((c) => c.parentId === null)!.certificate;
  });
  afterAll(async () => {
    await p?.close();
  });

  it('a product that hangs forever: the run limit stops it, its process group is killed, the partial report says how far it got', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'truc-lab-run-'));
    const files = await resolveSuites(['hmac_sha256_test.json', 'hmac_sha384_test.json', 'aes_cmac_test.json'], { dir: VECTORS });
    // the per-request time-out is far beyond the run limit: only the run limit can end this run
    const adapter = await openStdioProduct({
      command: process.execPath,
      args: [SCRIPT, 'hang', join(dir, 'child.pid'), '--ops=macCompute', '--answer=5', `--self=${join(dir, 'self.pid')}`],
      timeoutMs: 600_000,
      concurrency: 4,
    });
    const self = Number(await readFile(join(dir, 'self.pid'), 'utf8'));
    const child = Number(await readFile(join(dir, 'child.pid'), 'utf8'));
    try {
      expect(alive(self) && alive(child)).toBe(true);
      const profile = await loadProfile('stored-data-protection');
      const { run, report, signed } = await runAndRecord(p, { adapter, files, profile, runTimeoutMs: 1_000 }, 'tester');

      expect(report.partial).toMatchObject({ reason: 'run-timeout', testsRun: 5, suitesNotReached: ['hmac_sha256_test.json', 'hmac_sha384_test.json'] });
      expect(report.partial!.note).toMatch(/^Hết thời gian cho cả lần chạy \(1000 ms\).*\(run time limit of 1000 ms reached: the run was cut short\)$/);
      const total = files.reduce((n, f) => n + f.doc.testGroups.reduce((m, g) => m + g.tests.length, 0), 0);
      expect(report.partial!.testsRun + report.partial!.testsNotRun).toBe(total);
      // the suite cut short is there with the tests it ran; the suites after it are not
      expect(report.suites.map((s) => s.file)).toEqual(['aes_cmac_test.json']);
      expect(report.counts).toMatchObject({ UNSUPPORTED: 5, PASS: 0, FAIL: 0, ERROR: 0 });
      expect(report.suites[0]!.notRun).toBe(files[0]!.doc.testGroups.reduce((m, g) => m + g.tests.length, 0) - 5);

      expect(report.verdict!.verdict).toBe('FAIL');
      expect(report.verdict!.reasons[0]).toMatch(/^KẾT QUẢ CHƯA ĐẦY ĐỦ — .*\(PARTIAL — 5 tests ran, \d+ not run; suites not reached: hmac_sha256_test.json, hmac_sha384_test.json\)$/);
      expect(run.verdict).toBe('FAIL');

      // the product and the child it started are gone, before anyone closed the adapter
      await until(() => !alive(self) && !alive(child));
      expect(alive(self)).toBe(false);
      expect(alive(child)).toBe(false);

      // signed as any report; the renderings say the run was cut short
      await verifies(signed.bytes, signed.signature);
      expect(JSON.parse(Buffer.from(signed.bytes).toString('utf8')).partial.reason).toBe('run-timeout');
      expect(renderHtml(report)).toContain('Lần chạy bị cắt ngang (run cut short)');
      expect((await renderPdf(report)).length).toBeGreaterThan(1000);
    } finally {
      await adapter.close!();
    }
  }, 60_000);

  it('a product flooding its output with well-formed frames is stopped at the whole-run byte limit, with an ERROR saying so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'truc-lab-run-'));
    const files = await resolveSuites(['hmac_sha256_test.json', 'aes_cmac_test.json'], { dir: VECTORS });
    const adapter = await openStdioProduct({
      command: process.execPath,
      args: [SCRIPT, 'flood-frames', '--ops=macCompute', `--self=${join(dir, 'self.pid')}`],
      maxOutputBytes: 4 * 1024 * 1024,
      concurrency: 1,
    });
    const self = Number(await readFile(join(dir, 'self.pid'), 'utf8'));
    try {
      const profile = await loadProfile('stored-data-protection');
      const { report, signed } = await runAndRecord(p, { adapter, files, profile }, 'tester');
      expect(report.partial).toMatchObject({ reason: 'output-limit', testsRun: 1, suitesNotReached: ['hmac_sha256_test.json'] });
      expect(report.partial!.note).toMatch(/^macCompute: sản phẩm ghi ra quá/);
      expect(report.counts.ERROR).toBe(1);
      const e = report.failures.find((f) => f.outcome === 'ERROR')!;
      expect(e.file).toBe('aes_cmac_test.json');
      expect(e.note).toMatch(/sản phẩm ghi ra quá 4194304 byte trong lần chạy, đã bị dừng \(product wrote more than 4194304 bytes this run and was stopped\)/);
      expect(report.verdict!.verdict).toBe('FAIL');
      await verifies(signed.bytes, signed.signature);
      await until(() => !alive(self));
      expect(alive(self)).toBe(false);
    } finally {
      await adapter.close!();
    }
  }, 60_000);
});
