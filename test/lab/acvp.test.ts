import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acvpSuite, nobleProduct, nodeCryptoProduct, runAcvp, type ProductAdapter } from '../../src/lab/index.js';

const DIR = resolve(process.cwd(), 'test/lab/fixtures/acvp');
const load = async (n: string) => acvpSuite(`acvp/${n}`, await readFile(join(DIR, `${n}.prompt.json`)), await readFile(join(DIR, `${n}.expected.json`)));

describe('ACVP-shaped known-answer sets', () => {
  for (const [name, product] of [
    ['node:crypto', nodeCryptoProduct()],
    ['noble', nobleProduct()],
  ] as [string, ProductAdapter][]) {
    it(`${name} passes AES-GCM (GCM spec cases), SHA2-256 (FIPS 180 "abc") and HMAC-SHA2-256 (RFC 4231)`, async () => {
      for (const n of ['aes-gcm', 'sha2-256', 'hmac-sha2-256']) {
        const s = await runAcvp(product, await load(n));
        expect(s.counts, n).toMatchObject({ FAIL: 0, ERROR: 0 });
        expect(s.counts.PASS, n).toBe(s.results.length);
        expect(s.sha256).toMatch(/^[0-9a-f]{64}$/);
      }
    });
  }

  it('a wrong answer fails, and a refused valid test fails', async () => {
    const liar: ProductAdapter = {
      info: { name: 'liar', version: '0', adapter: 'test' },
      async hash() {
        return new Uint8Array(32);
      },
      async aeadDecrypt() {
        throw new Error('refuse everything');
      },
      async aeadEncrypt() {
        throw new Error('refuse everything');
      },
    };
    const sha = await runAcvp(liar, await load('sha2-256'));
    expect(sha.counts.FAIL).toBe(3);
    expect(sha.results[1].note).toMatch(/md differs/);
    const gcm = await runAcvp(liar, await load('aes-gcm'));
    expect(gcm.results.find((t) => t.tcId === 6)!.outcome).toBe('PASS');
    expect(gcm.results.find((t) => t.tcId === 5)!.outcome).toBe('FAIL');
  });

  it('refuses prompt and expected results from different vector sets', async () => {
    const a = await readFile(join(DIR, 'sha2-256.prompt.json'));
    const b = await readFile(join(DIR, 'hmac-sha2-256.expected.json'));
    expect(() => acvpSuite('mix', a, b)).toThrow(/different vector sets/);
  });
});
