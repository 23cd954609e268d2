// NIST's published ACVP vector sets (test/lab/fixtures/acvp-nist/README.md: repository, path, commit)
// against the reference products: every test the lab can ask passes, the counts are exact, a lying
// product fails, and what the lab cannot ask is UNSUPPORTED with its reason, never a PASS.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  acvpSuite,
  nobleProduct,
  nodeCryptoProduct,
  runAcvp,
  runAcvpSets,
  type AcvpSuiteInput,
  type ProductAdapter,
} from '../../src/lab/index.js';

const DIR = resolve(process.cwd(), 'test/lab/fixtures/acvp-nist');
const bytes = (set: string, f: string) => readFile(join(DIR, set, f));
const load = async (set: string): Promise<AcvpSuiteInput> => acvpSuite(`acvp-nist/${set}`, await bytes(set, 'prompt.json'), await bytes(set, 'expectedResults.json'));
/** The set with its prompt edited (as a product vendor's registration might ask), expected results as NIST's. */
const edited = async (set: string, edit: (prompt: { testGroups: Record<string, unknown>[] }) => void): Promise<AcvpSuiteInput> => {
  const prompt = JSON.parse((await bytes(set, 'prompt.json')).toString('utf8'));
  edit(prompt);
  return acvpSuite(`acvp-nist/${set} (edited)`, Buffer.from(JSON.stringify(prompt)), await bytes(set, 'expectedResults.json'));
};
const only = (counts: Record<string, number>) => Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
/** NIST's HMAC-SHA2-224/384/512 revision 2.0 sets, byte for byte (150 AFT tests each, MACs truncated to 80–160 bits). */
const MORE_HMAC = ['HMAC-SHA2-224-2.0', 'HMAC-SHA2-384-2.0', 'HMAC-SHA2-512-2.0'];
const MORE_HMAC_ALGS = ['HMAC-SHA2-224', 'HMAC-SHA2-384', 'HMAC-SHA2-512'];

describe("ACVP against NIST's published expected results", () => {
  it('node:crypto: AES-GCM 60/60 (truncated tags, 120-bit IVs, failing tags refused), HMAC-SHA-1 and HMAC-SHA2-224/256/384/512 150/150 each (MACs truncated to 80–160 bits), SHA2-224/256/512 and SHA3-256 Monte Carlo; the report names NIST as the source', async () => {
    const sets = ['ACVP-AES-GCM-1.0', 'HMAC-SHA2-256-2.0', 'SHA2-256-1.0-extract', 'HMAC-SHA-1-2.0', 'SHA2-512-1.0-extract', 'SHA2-224-1.0-extract', ...MORE_HMAC];
    const run = await runAcvpSets(nodeCryptoProduct(), await Promise.all(sets.map(load)), { largeDataMaxBytes: 1 << 20 });
    const [gcm, hmac, sha, hmac1, sha512, sha224, ...more] = run.suites;
    expect(only(hmac1!.counts)).toEqual({ PASS: 150 });
    expect(more.map((s) => [s.algorithm, only(s.counts)])).toEqual(MORE_HMAC_ALGS.map((a) => [a, { PASS: 150 }]));
    // SHA2-256 and SHA2-512 ask the "alternate" Monte Carlo, SHA2-224 the "standard" one
    expect(only(sha512!.counts)).toEqual({ PASS: 1, SKIPPED: 4 });
    expect(only(sha224!.counts)).toEqual({ PASS: 1, SKIPPED: 4 });
    expect(only(gcm!.counts)).toEqual({ PASS: 60 });
    // NIST's six decryptions that must fail are refused, and counted as passes for it
    expect(gcm!.results.filter((r) => r.expected === 'invalid').map((r) => r.tcId)).toEqual([32, 34, 46, 52, 54, 57]);
    expect(only(hmac!.counts)).toEqual({ PASS: 150 });
    expect(only(sha!.counts)).toEqual({ PASS: 1, SKIPPED: 4 });
    expect(sha!.results.find((r) => r.tcId === 513)).toMatchObject({ outcome: 'PASS', comment: 'tgId 2 MCT' });
    expect(run.partial).toBeUndefined();

    // large-data tests (1 to 8 GiB) over the run's limit are SKIPPED with the reason, in Vietnamese and English
    const ldt = sha!.results.filter((r) => r.comment === 'tgId 3 LDT');
    expect(ldt.map((r) => r.outcome)).toEqual(['SKIPPED', 'SKIPPED', 'SKIPPED', 'SKIPPED']);
    expect(ldt[0]!.note).toBe(
      "Kiểm thử dữ liệu lớn 1 GiB vượt giới hạn 1048576 byte của lần chạy (largeDataMaxBytes): không hỏi (large-data test of 1 GiB over the run's limit of 1048576 bytes: not asked)",
    );

    // the byte-exact NIST files are named with repository, path and commit; the extract is local
    expect(run.sources).toMatchObject([
      { name: 'usnistgov/ACVP-Server', commit: '8e6f5ee70a96fc634b4751386d3733e29f4bf5c6', folder: 'gen-val/json-files/ACVP-AES-GCM-1.0', files: [{ upstream: true }] },
      { name: 'usnistgov/ACVP-Server', commit: '15c0f3deeefbfa8cb6cd32a99e1ca3b738c66bf0', folder: 'gen-val/json-files/HMAC-SHA2-256-2.0', files: [{ upstream: true }] },
      { name: 'local', files: [{ upstream: false }] },
      { name: 'usnistgov/ACVP-Server', commit: '15c0f3deeefbfa8cb6cd32a99e1ca3b738c66bf0', folder: 'gen-val/json-files/HMAC-SHA-1-2.0', files: [{ upstream: true }] },
      { name: 'local', files: [{ upstream: false }] },
      { name: 'local', files: [{ upstream: false }] },
      ...MORE_HMAC.map((folder) => ({
        name: 'usnistgov/ACVP-Server',
        commit: '15c0f3deeefbfa8cb6cd32a99e1ca3b738c66bf0',
        folder: `gen-val/json-files/${folder}`,
        files: [{ upstream: true }],
      })),
    ]);
    expect(run.sources![2]).not.toHaveProperty('commit');

    // SHA-3's Monte Carlo (each digest the next message): NIST's 100 digests of SHA3-256-2.0 tcId 121
    const sha3 = await runAcvp(nodeCryptoProduct(), await load('SHA3-256-2.0-extract'));
    expect(only(sha3.counts)).toEqual({ PASS: 1, SKIPPED: 4 });
    expect(sha3.results.find((r) => r.tcId === 121)).toMatchObject({ outcome: 'PASS', comment: 'tgId 2 MCT' });
  });

  it('@noble: the same, except the 4-byte GCM tags its API does not offer (UNSUPPORTED, the product lacks them)', async () => {
    const noble = nobleProduct();
    const gcm = await runAcvp(noble, await load('ACVP-AES-GCM-1.0'));
    expect(only(gcm.counts)).toEqual({ PASS: 30, UNSUPPORTED: 30 });
    expect(new Set(gcm.results.filter((r) => r.outcome === 'UNSUPPORTED').map((r) => `${r.unsupportedBy} ${r.note}`))).toEqual(new Set(['product unsupported: AES-GCM with a 4-byte tag']));
    expect(only((await runAcvp(noble, await load('HMAC-SHA2-256-2.0'))).counts)).toEqual({ PASS: 150 });
    expect(only((await runAcvp(noble, await load('SHA2-256-1.0-extract'))).counts)).toEqual({ PASS: 1, SKIPPED: 4 });
    expect(only((await runAcvp(noble, await load('HMAC-SHA-1-2.0'))).counts)).toEqual({ PASS: 150 });
    expect(only((await runAcvp(noble, await load('SHA2-512-1.0-extract'))).counts)).toEqual({ PASS: 1, SKIPPED: 4 });
    expect(only((await runAcvp(noble, await load('SHA2-224-1.0-extract'))).counts)).toEqual({ PASS: 1, SKIPPED: 4 });
    for (const set of MORE_HMAC) expect(only((await runAcvp(noble, await load(set))).counts), set).toEqual({ PASS: 150 });
    expect(only((await runAcvp(noble, await load('SHA3-256-2.0-extract'))).counts)).toEqual({ PASS: 1, SKIPPED: 4 });
  });

  it('hashLarge streams the repeated content: node:crypto and @noble agree with the one-shot hash of the whole message', async () => {
    const content = Uint8Array.from([0x12, 0x73, 0x5c, 0x60, 0x5f, 0x3d, 0x27]);
    const fullBytes = 3 * (1 << 20) + 5;
    const whole = new Uint8Array(fullBytes).map((_, i) => content[i % content.length]!);
    for (const p of [nodeCryptoProduct(), nobleProduct()]) {
      for (const alg of ['SHA-256', 'SHA-512'] as const) {
        expect(Buffer.from(await p.hashLarge!({ alg, content, fullBytes })).toString('hex'), `${p.info.name} ${alg}`).toBe(
          Buffer.from(await p.hash!({ alg, msg: whole })).toString('hex'),
        );
      }
    }
  });

  it('a lying product fails: decryptions that must fail accepted, MACs truncated from the wrong end, one wrong hash in 100,000', async () => {
    const node = nodeCryptoProduct();
    let hashes = 0;
    const liar: ProductAdapter = {
      info: { name: 'liar', version: '0', adapter: 'test' },
      aeadEncrypt: (p) => node.aeadEncrypt!(p),
      // never refuses: a failing tag yields zeros instead of an error
      aeadDecrypt: (p) => node.aeadDecrypt!(p).catch(() => new Uint8Array(p.ct.length)),
      async macCompute(p) {
        const full = await node.macCompute!({ ...p, tagSize: 32 });
        return full.subarray(full.length - p.tagSize);
      },
      async hash(p) {
        const md = await node.hash!(p);
        if (++hashes === 100_000) md[0]! ^= 1;
        return md;
      },
    };
    const gcm = await runAcvp(liar, await load('ACVP-AES-GCM-1.0'));
    expect(only(gcm.counts)).toEqual({ PASS: 54, FAIL: 6 });
    expect(gcm.results.filter((r) => r.outcome === 'FAIL').map((r) => r.tcId)).toEqual([32, 34, 46, 52, 54, 57]);
    expect(gcm.results.find((r) => r.tcId === 32)!.note).toBe('accepted an invalid test: product reported success');
    const hmac = await runAcvp(liar, await load('HMAC-SHA2-256-2.0'));
    expect(only(hmac.counts)).toEqual({ FAIL: 150 });
    expect(hmac.results[0]!.note).toBe('rejected a valid test: mac differs');
    const sha = await runAcvp(liar, await load('SHA2-256-1.0-extract'));
    expect(sha.results.find((r) => r.tcId === 513)).toMatchObject({ outcome: 'FAIL', note: 'rejected a valid test: resultsArray differs (first at [99])' });
  });

  it('what the lab cannot ask through operations is UNSUPPORTED by the lab, with its reason — never a PASS', async () => {
    const node = nodeCryptoProduct();
    const internal = await edited('ACVP-AES-GCM-1.0', (p) => (p.testGroups[0]!.ivGen = 'internal'));
    const gcm = await runAcvp(node, internal);
    expect(only(gcm.counts)).toEqual({ PASS: 45, UNSUPPORTED: 15 });
    expect(gcm.results[0]).toMatchObject({ outcome: 'UNSUPPORTED', unsupportedBy: 'lab' });
    expect(gcm.results[0]!.note).toMatch(/^lab cannot ask: IV do sản phẩm tự sinh \(ivGen internal\).*\(an IV the product generates cannot be checked against fixed expected results\)$/);

    const counter = await edited('ACVP-AES-GCM-1.0', (p) => (p.testGroups[1]!.testType = 'CTR'));
    expect(only((await runAcvp(node, counter)).counts)).toEqual({ PASS: 45, UNSUPPORTED: 15 });

    const bits = await edited('HMAC-SHA2-256-2.0', (p) => (((p.testGroups[0]!.tests as Record<string, unknown>[])[0]!.msgLen as number) -= 3));
    const hmac = await runAcvp(node, bits);
    expect(only(hmac.counts)).toEqual({ PASS: 149, UNSUPPORTED: 1 });
    expect(hmac.results[0]!.note).toMatch(/\(bit-oriented thông điệp \(message\) of 469 bits: the operation carries whole bytes\)$/);
  });

  it('a product speaking ACVP answers the whole set at once; its Monte Carlo results array is compared entry by entry', async () => {
    const set = await load('SHA2-256-1.0-extract');
    const expected = JSON.parse((await bytes('SHA2-256-1.0-extract', 'expectedResults.json')).toString('utf8'));
    const bulk: ProductAdapter = {
      info: { name: 'acvp-speaker', version: '0', adapter: 'test' },
      async acvp(prompt) {
        expect(prompt.algorithm).toBe('SHA2-256');
        // answers NIST's results, but one LDT digest wrong
        expected.testGroups[1].tests[3].md = '00'.repeat(32);
        return expected;
      },
    };
    const r = await runAcvp(bulk, set);
    expect(only(r.counts)).toEqual({ PASS: 4, FAIL: 1 });
    expect(r.results.find((x) => x.tcId === 517)!.note).toBe('rejected a valid test: md differs');
  });
});
