import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  acvpSuite,
  loadVectorDir,
  openHttpProduct,
  openStdioProduct,
  runAcvp,
  runSuite,
  type ProductAdapter,
  type RunResult,
  type VectorFile,
} from '../../src/lab/index.js';
import { startHttpProduct } from './fixtures/product-http.js';
import { sharedMissing, VECTORS } from './shared.js';

const FIXTURES = resolve(process.cwd(), 'test/lab/fixtures');
const stdio = (broken?: string) =>
  openStdioProduct({ command: process.execPath, args: ['--import', 'tsx', join(FIXTURES, 'product-stdio.ts'), ...(broken ? [`--broken=${broken}`] : [])] });
const fails = (r: RunResult) => r.suites.flatMap((s) => s.results.filter((t) => t.outcome === 'FAIL').map((t) => ({ file: s.file, ...t })));

async function acvpSets() {
  const set = async (n: string) => acvpSuite(`acvp/${n}`, await readFile(join(FIXTURES, 'acvp', `${n}.prompt.json`)), await readFile(join(FIXTURES, 'acvp', `${n}.expected.json`)));
  return Promise.all(['aes-gcm', 'sha2-256', 'hmac-sha2-256'].map(set));
}

describe.skipIf(sharedMissing)('external product over stdio (length-prefixed JSON)', () => {
  let files: VectorFile[];
  beforeAll(async () => {
    files = await loadVectorDir(VECTORS, (n) => /^(aes_gcm|hmac_sha256|ecdsa_secp256r1_sha256(_p1363)?)_test/.test(n));
  });

  it('the good product passes: zero FAIL, progress streamed', async () => {
    const p = await stdio();
    try {
      expect(p.info).toMatchObject({ adapter: 'stdio', name: 'test product (stdio)' });
      const events: string[] = [];
      const r = await runSuite(p, files, { onProgress: (e) => events.push(e.type) });
      expect(fails(r)).toEqual([]);
      expect(r.counts.ERROR).toBe(0);
      expect(r.counts.PASS).toBeGreaterThan(1000);
      expect(events.filter((e) => e === 'suite-end')).toHaveLength(files.length);
      expect(events).toContain('progress');
    } finally {
      await p.close!();
    }
  }, 120_000);

  it('the broken product (BER-tolerant ECDSA) is caught with the BerEncodedSignature flag', async () => {
    const p = await stdio('ecdsa-ber');
    try {
      const r = await runSuite(p, files);
      const f = fails(r);
      expect(f.length).toBeGreaterThan(0);
      expect(new Set(f.map((x) => x.file))).toEqual(new Set(['ecdsa_secp256r1_sha256_test.json']));
      const ber = f.filter((x) => x.flags.includes('BerEncodedSignature'));
      // The file's BER cases: long-form and zero-padded lengths of the sequence, r and s, and indefinite length.
      expect(ber.map((x) => x.tcId).sort((a, b) => a - b)).toEqual([8, 9, 48, 67, 68, 114, 115]);
      expect(ber[0].meaning).toContainEqual(expect.objectContaining({ flag: 'BerEncodedSignature', bugType: 'BER_ENCODING' }));
      expect(ber[0].note).toMatch(/accepted an invalid test/);
    } finally {
      await p.close!();
    }
  }, 120_000);

  it('a product that dies is an ERROR, not a verdict', async () => {
    const p = await stdio('crash');
    try {
      const r = await runSuite(p, files.filter((f) => f.name.startsWith('hmac')));
      expect(r.counts.ERROR).toBe(r.suites[0].results.length);
      expect(r.counts.FAIL).toBe(0);
    } finally {
      await p.close!();
    }
  }, 60_000);
});

describe.skipIf(sharedMissing)('external product over HTTP (ACVP-shaped prompts)', () => {
  let good: { url: string; close(): Promise<void> };
  let broken: { url: string; close(): Promise<void> };
  let files: VectorFile[];
  beforeAll(async () => {
    good = await startHttpProduct();
    broken = await startHttpProduct({ broken: 'gcm-tag' });
    files = await loadVectorDir(VECTORS, (n) => /^(aes_gcm|hmac_sha256|aes_ccm)_test/.test(n));
  });
  afterAll(async () => {
    await good?.close();
    await broken?.close();
  });

  it('the good product passes the Wycheproof suites it can express and the ACVP sets', async () => {
    const p: ProductAdapter = await openHttpProduct({ url: good.url });
    expect(p.info.name).toBe('test product (http)');
    const r = await runSuite(p, files);
    expect(fails(r)).toEqual([]);
    expect(r.counts.ERROR).toBe(0);
    expect(r.suites.find((s) => s.file === 'aes_ccm_test.json')!.counts.UNSUPPORTED).toBe(552);
    for (const set of await acvpSets()) {
      const s = await runAcvp(p, set);
      expect(s.counts.FAIL, set.name).toBe(0);
      expect(s.counts.PASS, set.name).toBe(s.results.length);
    }
  }, 120_000);

  it('the broken product (skips the GCM tag check) is caught with the ModifiedTag flag', async () => {
    const p = await openHttpProduct({ url: broken.url });
    const r = await runSuite(p, files);
    const f = fails(r);
    expect(f.length).toBeGreaterThan(0);
    expect(f.every((x) => x.file === 'aes_gcm_test.json')).toBe(true);
    const tag = f.filter((x) => x.flags.includes('ModifiedTag'));
    expect(tag.length).toBeGreaterThanOrEqual(10);
    expect(tag[0].meaning).toContainEqual(expect.objectContaining({ flag: 'ModifiedTag', bugType: 'AUTH_BYPASS' }));
    const gcm = (await acvpSets())[0];
    const s = await runAcvp(p, gcm);
    expect(s.results.find((t) => t.tcId === 6)).toMatchObject({ outcome: 'FAIL', expected: 'invalid' });
  }, 120_000);
});
