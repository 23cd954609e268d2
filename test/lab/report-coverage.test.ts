import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  buildReport,
  nodeCryptoProduct,
  type ProductAdapter,
  renderHtml,
  resolveSuites,
  runSuite,
  unsupported,
  type WycheproofDocument,
} from '../../src/lab/index.js';
import { sharedMissing, VECTORS } from './shared.js';

const UPSTREAM_COMMIT = 'dac1dd4729fd1f8dd9e1e9f3dce51d783da6c166';
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const upstreamJson = async (name: string): Promise<Buffer> => gunzipSync(await readFile(join(VECTORS, `${name}.gz`)));

/** node:crypto, but AES-GCM decryption with a 12-byte IV skips the tag check, and other IV sizes are UNSUPPORTED. */
function sloppyGcm(): ProductAdapter {
  const node = nodeCryptoProduct();
  return {
    ...node,
    info: { name: 'Sloppy GCM', version: '1', adapter: 'test' },
    async aeadEncrypt(p) {
      if (p.iv.length !== 12) throw unsupported(`IV of ${p.iv.length} bytes`);
      return node.aeadEncrypt!(p);
    },
    async aeadDecrypt(p) {
      if (p.iv.length !== 12) throw unsupported(`IV of ${p.iv.length} bytes`);
      const { createDecipheriv } = await import('node:crypto');
      const d = createDecipheriv(`aes-${p.key.length * 8}-ctr`, p.key, Buffer.concat([p.iv, Buffer.from([0, 0, 0, 2])]));
      return new Uint8Array(Buffer.concat([d.update(p.ct), d.final()]));
    },
  };
}

describe.skipIf(sharedMissing)('report: the vectors’ true source and coverage per flag', () => {
  it('a copied folder of upstream files keeps the upstream commit; a modified copy loses it and is named by folder and hashes', async () => {
    const same = await mkdtemp(join(tmpdir(), 'truc-lab-src-'));
    for (const n of ['aes_gcm_test.json.gz', 'hmac_sha256_test.json.gz']) await copyFile(join(VECTORS, n), join(same, n));
    const sameRun = await runSuite(nodeCryptoProduct(), await resolveSuites(['hmac_sha256_test.json', 'aes_gcm_test.json'], { dir: same }));
    expect(buildReport({ run: sameRun }).sources).toEqual([
      {
        name: 'C2SP/wycheproof',
        commit: UPSTREAM_COMMIT,
        folder: same,
        files: [
          { file: 'aes_gcm_test.json', sha256: sha256(await upstreamJson('aes_gcm_test.json')), upstream: true },
          { file: 'hmac_sha256_test.json', sha256: sha256(await upstreamJson('hmac_sha256_test.json')), upstream: true },
        ],
      },
    ]);

    // the same folder with one test's comment changed: same file names, other bytes
    const edited = await mkdtemp(join(tmpdir(), 'truc-lab-src-'));
    await copyFile(join(VECTORS, 'hmac_sha256_test.json.gz'), join(edited, 'hmac_sha256_test.json.gz'));
    const doc = JSON.parse((await upstreamJson('aes_gcm_test.json')).toString('utf8')) as WycheproofDocument;
    doc.testGroups[0]!.tests[0]!.comment = 'sửa tay / edited by hand';
    const bytes = Buffer.from(JSON.stringify(doc));
    await writeFile(join(edited, 'aes_gcm_test.json'), bytes);
    const editedRun = await runSuite(nodeCryptoProduct(), await resolveSuites(['hmac_sha256_test.json', 'aes_gcm_test.json'], { dir: edited }));
    const sources = buildReport({ run: editedRun }).sources;
    expect(sources).toEqual([
      {
        name: 'local',
        folder: edited,
        files: [
          { file: 'aes_gcm_test.json', sha256: sha256(bytes), upstream: false },
          { file: 'hmac_sha256_test.json', sha256: sha256(await upstreamJson('hmac_sha256_test.json')), upstream: true },
        ],
      },
    ]);
    expect(sources[0]).not.toHaveProperty('commit');
    expect(renderHtml(buildReport({ run: editedRun }))).toContain('(không trùng bản gốc / not identical to upstream)');
  }, 60_000);

  it('counts PASS, FAIL and UNSUPPORTED per Wycheproof flag, with bug types, and lists each failure’s comment and flags', async () => {
    // a small set: the first AES-GCM group (12-byte IV) and the first group with another IV size
    const doc = JSON.parse((await upstreamJson('aes_gcm_test.json')).toString('utf8')) as WycheproofDocument;
    const twelve = doc.testGroups.find((g) => g.ivSize === 96)!;
    const other = doc.testGroups.find((g) => g.ivSize !== 96)!;
    const small = { ...doc, numberOfTests: twelve.tests.length + other.tests.length, testGroups: [twelve, other] };
    const dir = await mkdtemp(join(tmpdir(), 'truc-lab-flags-'));
    await writeFile(join(dir, 'aes_gcm_test.json'), JSON.stringify(small));
    const run = await runSuite(sloppyGcm(), await resolveSuites(['aes_gcm_test.json'], { dir }));
    const report = buildReport({ run });

    // what each flag should come to, from the file alone: with a 12-byte IV every invalid test (a modified
    // tag) is accepted (FAIL) and every valid one passes; the other IV size is not asked
    const want = new Map<string, Record<string, number>>();
    const add = (flag: string, outcome: string) => {
      const row = want.get(flag) ?? { PASS: 0, FAIL: 0, ACCEPTABLE: 0, UNSUPPORTED: 0, SKIPPED: 0, ERROR: 0 };
      row[outcome]++;
      want.set(flag, row);
    };
    for (const t of twelve.tests) for (const f of t.flags ?? []) add(f, t.result === 'invalid' ? 'FAIL' : 'PASS');
    for (const t of other.tests) for (const f of t.flags ?? []) add(f, 'UNSUPPORTED');
    expect(report.flags.map((f) => f.flag)).toEqual([...want.keys()].sort());
    for (const f of report.flags) expect(f.counts, f.flag).toEqual(want.get(f.flag));
    expect(report.flags.find((f) => f.flag === 'ModifiedTag')).toMatchObject({ bugType: doc.notes!.ModifiedTag!.bugType });
    expect(report.flags.find((f) => f.flag === 'ModifiedTag')!.counts.FAIL).toBeGreaterThan(0);

    // each failure names its test's comment and flags, in the JSON and the HTML
    const failed = twelve.tests.filter((t) => t.result === 'invalid');
    expect(report.failures.map((f) => f.tcId)).toEqual(failed.map((t) => t.tcId));
    const withComment = failed.find((t) => t.comment)!;
    expect(report.failures.find((f) => f.tcId === withComment.tcId)).toMatchObject({ comment: withComment.comment, flags: withComment.flags });
    const html = renderHtml(report);
    expect(html).toContain('Theo loại lỗi (coverage per flag)');
    const mt = report.flags.find((f) => f.flag === 'ModifiedTag')!;
    expect(html).toContain(`<tr><td>ModifiedTag</td><td>${mt.bugType}</td><td class="n">${mt.counts.PASS}</td><td class="n">${mt.counts.FAIL}</td>`);
    expect(html).toContain(`flags: ${withComment.flags!.join(', ')}`);
  }, 60_000);
});
