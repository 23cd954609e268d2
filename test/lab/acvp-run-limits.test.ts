// ACVP runs obey the same limits as Wycheproof runs: the whole-run limit (a partial report, signed, never
// PASS, the product's process group killed) and the per-request limits of the adapter.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acvpSuite, loadProfile, nodeCryptoProduct, openStdioProduct, renderHtml, runAcvpSets, type AcvpSuiteInput, type ProductAdapter } from '../../src/lab/index.js';
import { runAndRecord, verifyReportSignature } from '../../src/lab/register/index.js';
import { listCas } from '../../src/pki/index.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { MISBEHAVING as SCRIPT, alive, until } from './misbehaving.js';

const DIR = resolve(process.cwd(), 'test/lab/fixtures/acvp-nist');
const load = async (set: string): Promise<AcvpSuiteInput> =>
  acvpSuite(`acvp-nist/${set}`, await readFile(join(DIR, set, 'prompt.json')), await readFile(join(DIR, set, 'expectedResults.json')));

describe('ACVP run limits', () => {
  let p: TestPlatform;
  let root: Uint8Array;
  beforeAll(async () => {
    p = await testPlatform('memory://');
    root = (await listCas(p.db)).find((c) => c.parentId === null)!.certificate;
  });
  afterAll(async () => {
    await p?.close();
  });

  it('a product that hangs: the run limit stops it, its process group is killed, the signed report is partial and FAIL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'truc-lab-acvp-'));
    const sets = [await load('HMAC-SHA2-256-2.0'), await load('ACVP-AES-GCM-1.0')];
    // the per-request time-out is far beyond the run limit: only the run limit can end this run
    const adapter = await openStdioProduct({
      command: process.execPath,
      args: [SCRIPT, 'hang', join(dir, 'child.pid'), '--ops=macCompute,aeadEncrypt,aeadDecrypt', '--answer=5', `--self=${join(dir, 'self.pid')}`],
      timeoutMs: 600_000,
    });
    const self = Number(await readFile(join(dir, 'self.pid'), 'utf8'));
    const child = Number(await readFile(join(dir, 'child.pid'), 'utf8'));
    try {
      expect(alive(self) && alive(child)).toBe(true);
      const profile = await loadProfile('stored-data-protection');
      const { run, report, signed } = await runAndRecord(p, { adapter, acvp: sets, profile, runTimeoutMs: 1_000 }, 'tester');

      expect(report.partial).toMatchObject({ reason: 'run-timeout', testsRun: 5, testsNotRun: 145 + 60, suitesNotReached: ['acvp-nist/ACVP-AES-GCM-1.0'] });
      expect(report.partial!.note).toBe('Hết thời gian cho cả lần chạy (1000 ms): lần chạy bị cắt ngang (run time limit of 1000 ms reached: the run was cut short)');
      expect(report.suites.map((s) => [s.file, s.notRun])).toEqual([['acvp-nist/HMAC-SHA2-256-2.0', 145]]);
      expect(report.counts).toMatchObject({ UNSUPPORTED: 5, PASS: 0, FAIL: 0, ERROR: 0 });
      expect(report.verdict!.verdict).toBe('FAIL');
      expect(report.verdict!.reasons[0]).toMatch(/^KẾT QUẢ CHƯA ĐẦY ĐỦ — .*\(PARTIAL — 5 tests ran, 205 not run; suites not reached: acvp-nist\/ACVP-AES-GCM-1.0\)$/);
      expect(run.verdict).toBe('FAIL');
      expect(report.sources.map((s) => s.name)).toEqual(['usnistgov/ACVP-Server', 'usnistgov/ACVP-Server']);

      // the product and the child it started are gone before anyone closed the adapter
      await until(() => !alive(self) && !alive(child));
      expect([alive(self), alive(child)]).toEqual([false, false]);

      await expect(verifyReportSignature(signed.bytes, signed.signature, { trustAnchors: [root] })).resolves.toMatchObject({ canonicalised: false });
      expect(renderHtml(report)).toContain('Lần chạy bị cắt ngang (run cut short)');
    } finally {
      await adapter.close!();
    }
  }, 60_000);

  it('a product speaking ACVP that never answers the set: the run limit ends the one request, nothing is credited', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'truc-lab-acvp-'));
    const adapter = await openStdioProduct({ command: process.execPath, args: [SCRIPT, 'hang', join(dir, 'child.pid'), '--ops=acvp'], timeoutMs: 600_000 });
    const child = Number(await readFile(join(dir, 'child.pid'), 'utf8'));
    try {
      const run = await runAcvpSets(adapter, [await load('ACVP-AES-GCM-1.0')], { runTimeoutMs: 500 });
      expect(run.partial).toMatchObject({ reason: 'run-timeout', testsRun: 0, testsNotRun: 60, suitesNotReached: [] });
      expect(run.suites[0]).toMatchObject({ notRun: 60, results: [] });
      await until(() => !alive(child));
      expect(alive(child)).toBe(false);
    } finally {
      await adapter.close!();
    }
  }, 30_000);

  it('an in-process product streaming a large-data test stops when the run limit is reached, not gigabytes later', async () => {
    const dir = join(DIR, 'SHA2-256-1.0-extract');
    const prompt = JSON.parse(await readFile(join(dir, 'prompt.json'), 'utf8'));
    prompt.testGroups = prompt.testGroups.filter((g: { testType: string }) => g.testType === 'LDT');
    const ldt = acvpSuite('acvp-nist/SHA2-256-1.0-extract (LDT)', Buffer.from(JSON.stringify(prompt)), await readFile(join(dir, 'expectedResults.json')));
    const node = nodeCryptoProduct();
    let streaming: Promise<Uint8Array> | undefined;
    const product: ProductAdapter = {
      ...node,
      hashLarge(p) {
        streaming = node.hashLarge!(p);
        return streaming;
      },
    };
    // the first test (1 GiB) is asked; a few hundred milliseconds are far from enough to hash it
    const run = await runAcvpSets(product, [ldt], { largeDataMaxBytes: 2 ** 30, runTimeoutMs: 200 });
    expect(run.partial).toMatchObject({ reason: 'run-timeout', testsRun: 0, testsNotRun: 4 });
    expect(streaming).toBeDefined();
    await expect(streaming!).rejects.toThrow(/run time limit of 200 ms reached/);
  }, 30_000);

  it('per-request limits: time-outs are ERRORs, the adapter gives up on the product after repeated ones; the run is complete, not PASS', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'truc-lab-acvp-'));
    const adapter = await openStdioProduct({
      command: process.execPath,
      args: [SCRIPT, 'hang', join(dir, 'child.pid'), '--ops=macCompute', '--answer=5'],
      // above the time a loaded machine takes to start node (hello is a request too)
      timeoutMs: 1_000,
      maxTimeouts: 2,
    });
    const child = Number(await readFile(join(dir, 'child.pid'), 'utf8'));
    try {
      const run = await runAcvpSets(adapter, [await load('HMAC-SHA2-256-2.0')]);
      expect(run.partial).toBeUndefined();
      expect(run.counts).toMatchObject({ UNSUPPORTED: 5, ERROR: 145, PASS: 0 });
      const errors = run.suites[0]!.results.filter((r) => r.outcome === 'ERROR');
      expect(errors.slice(0, 2).map((r) => r.note)).toEqual(['macCompute: no answer within 1000 ms', 'macCompute: no answer within 1000 ms']);
      expect(errors[2]!.note).toMatch(/gave up after 2 time-outs in a row/);
      await until(() => !alive(child));
      expect(alive(child)).toBe(false);
    } finally {
      await adapter.close!();
    }
  }, 30_000);
});
