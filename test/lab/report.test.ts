import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PDFDocument } from 'pdf-lib';
import { describe, expect, it } from 'vitest';
import {
  acvpSuite,
  asciiFold,
  buildReport,
  canonicalJson,
  canonicalReportBytes,
  evaluateProfile,
  listProfiles,
  loadProfile,
  loadVectorDir,
  nodeCryptoProduct,
  parseProfile,
  renderHtml,
  renderJson,
  renderPdf,
  runAcvp,
  runSuite,
  type ProductAdapter,
} from '../../src/lab/index.js';
import { sharedMissing, VECTORS } from './shared.js';

describe('profiles', () => {
  it('bundled profiles load and validate', async () => {
    const ids = await listProfiles();
    expect(ids).toEqual(expect.arrayContaining(['stored-data-protection', 'signature-verification']));
    for (const id of ids) expect((await loadProfile(id)).id).toBe(id);
  });

  it('a malformed profile is refused with the reason', () => {
    expect(() => parseProfile({ id: 'x', title: 't', standard: 's', suites: [{ id: 'a' }] })).toThrow(/must have required property/);
    return expect(loadProfile('../etc/passwd')).rejects.toThrow(/no profile/);
  });
});

describe.skipIf(sharedMissing)('report of a run', () => {
  it('carries hashes, commit, counts, failures with meanings and the verdict; renders JSON, HTML, PDF', async () => {
    const files = await loadVectorDir(VECTORS, (n) => /^(aes_gcm|aes_ccm|aes_cbc_pkcs5|hmac_sha256|aes_wrap)_test/.test(n));
    // A product that skips the GCM tag check, wrapping node:crypto.
    const node = nodeCryptoProduct();
    const sloppy: ProductAdapter = {
      ...node,
      info: { name: 'Sloppy Vault — Kho lưu trữ Đà Nẵng', version: '0.9', adapter: 'test' },
      async aeadDecrypt(p) {
        const { createDecipheriv } = await import('node:crypto');
        if (p.alg !== 'AES-GCM' || p.iv.length !== 12) return node.aeadDecrypt!(p);
        const d = createDecipheriv(`aes-${p.key.length * 8}-ctr`, p.key, Buffer.concat([p.iv, Buffer.from([0, 0, 0, 2])]));
        return new Uint8Array(Buffer.concat([d.update(p.ct), d.final()]));
      },
    };
    const now = () => new Date('2025-01-01T00:00:00Z');
    const run = await runSuite(sloppy, files, { now });
    const dir = resolve(process.cwd(), 'test/lab/fixtures/acvp');
    const acvp = await runAcvp(sloppy, acvpSuite('acvp/aes-gcm', await readFile(join(dir, 'aes-gcm.prompt.json')), await readFile(join(dir, 'aes-gcm.expected.json'))));
    const profile = await loadProfile('stored-data-protection');
    const report = buildReport({ run, extraSuites: [acvp], profile });

    // the shared folder is upstream's bytes: the commit is named, with the folder and each file's hash
    expect(report.sources[0]).toMatchObject({ name: 'C2SP/wycheproof', commit: 'dac1dd4729fd1f8dd9e1e9f3dce51d783da6c166', folder: VECTORS });
    expect(report.sources[0]!.files!.map((f) => f.file)).toEqual(files.map((f) => f.name));
    expect(report.sources[0]!.files!.every((f) => f.upstream && f.sha256 === files.find((x) => x.name === f.file)!.sha256)).toBe(true);
    const gcm = report.suites.find((s) => s.file === 'aes_gcm_test.json')!;
    expect(gcm.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(gcm.counts.FAIL).toBeGreaterThan(0);
    const f = report.failures.find((x) => x.file === 'aes_gcm_test.json' && x.flags.includes('ModifiedTag'))!;
    expect(f.meaning[0]).toMatchObject({ flag: 'ModifiedTag', bugType: 'AUTH_BYPASS' });
    expect(f.meaning[0].description).toMatch(/modified tag/);

    expect(report.verdict!.verdict).toBe('FAIL');
    expect(report.verdict!.reasons.join('\n')).toMatch(/AES-GCM: \d+ test\(s\) failed/);
    expect(report.verdict!.suites.find((s) => s.id === 'aes-xts')!.status).toBe('MISSING');
    expect(report.verdict!.suites.find((s) => s.id === 'hmac-sha2')!.status).toBe('PASS');

    // Honest node:crypto passes the same profile.
    const good = buildReport({ run: await runSuite(node, files, { now }), profile });
    expect(good.verdict).toMatchObject({ verdict: 'PASS', reasons: [] });

    const bytes = canonicalReportBytes(report);
    expect(Buffer.from(bytes).toString('utf8')).toBe(canonicalJson(JSON.parse(renderJson(report))));
    expect(canonicalJson({ b: 1, a: [true, null, 'x'] })).toBe('{"a":[true,null,"x"],"b":1}');

    const html = renderHtml(report);
    expect(html).toContain('Sloppy Vault — Kho lưu trữ Đà Nẵng');
    expect(html).toContain('ModifiedTag');

    const pdf = await renderPdf(report);
    expect(Buffer.from(pdf.subarray(0, 5)).toString()).toBe('%PDF-');
    const parsed = await PDFDocument.load(pdf);
    expect(parsed.getPageCount()).toBeGreaterThan(1);
    expect(parsed.getTitle()).toBe('Lab report - Sloppy Vault - Kho luu tru Da Nang');
  }, 60_000);

  it('folds Vietnamese to ASCII for the PDF', () => {
    expect(asciiFold('Cộng hòa Xã hội Chủ nghĩa Việt Nam — Đồng')).toBe('Cong hoa Xa hoi Chu nghia Viet Nam - Dong');
  });

  it('the verdict needs evidence: a required suite with no results fails', async () => {
    const v = evaluateProfile(await loadProfile('signature-verification'), []);
    expect(v.verdict).toBe('FAIL');
    expect(v.reasons).toContain('ECDSA verify (DER or P1363): no test results (required)');
  });
});
