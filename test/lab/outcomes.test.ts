/**
 * The six outcomes of a test, each produced the way a run produces it: PASS and FAIL from what the product
 * answered, ACCEPTABLE with what it chose, UNSUPPORTED when it lacks the operation, SKIPPED by a policy
 * (with the reason, counted in the report), ERROR when the adapter broke. A FAIL carries its flags with the
 * bug type, description and effect from the vector file's notes, and the report renders them.
 */
import { describe, expect, it } from 'vitest';
import {
  adapterError,
  buildReport,
  judge,
  loadVectorDir,
  nodeCryptoProduct,
  parseProfile,
  renderHtml,
  runSuite,
  type ProductAdapter,
  type SuiteResult,
} from '../../src/lab/index.js';
import { sharedMissing, VECTORS } from './shared.js';

describe('judging one answer', () => {
  it.each([
    ['valid', true, 'PASS'],
    ['valid', false, 'FAIL'],
    ['invalid', false, 'PASS'],
    ['invalid', true, 'FAIL'],
    ['acceptable', true, 'ACCEPTABLE'],
    ['acceptable', false, 'ACCEPTABLE'],
  ] as const)('expected %s, accepted %s → %s', (expected, accepted, outcome) => {
    const j = judge(expected, { accepted, note: 'why' });
    expect(j.outcome).toBe(outcome);
    if (expected === 'acceptable') expect(j.accepted).toBe(accepted);
    if (outcome === 'FAIL') expect(j.note).toMatch(accepted ? /^accepted an invalid test: why$/ : /^rejected a valid test: why$/);
    if (outcome === 'PASS') expect(j.note).toBeUndefined();
  });
});

describe.skipIf(sharedMissing)('outcomes in a run', () => {
  const node = nodeCryptoProduct();
  const suite = (r: { suites: SuiteResult[] }, file: string) => r.suites.find((s) => s.file === file)!;
  const total = (s: SuiteResult) => Object.values(s.counts).reduce((a, b) => a + b, 0);

  it('SKIPPED by flag, by listed test and by predicate, each with its reason; the rest still runs', async () => {
    const files = await loadVectorDir(VECTORS, (n) => n === 'aes_gcm_test.json');
    const gcm = files[0]!;
    const tests = gcm.doc.testGroups.flatMap((g) => g.tests);
    const flagged = tests.filter((t) => t.flags?.includes('ModifiedTag')).length;
    expect(flagged).toBeGreaterThan(0);
    const run = await runSuite(node, files, {
      skip: {
        flags: ['ModifiedTag'],
        tests: [{ file: 'aes_gcm_test.json', tcIds: [1, 2], reason: 'vendor documents 2 known deviations' }],
        predicate: (_f, t) => (t.tcId === 3 ? 'not in the accredited scope' : undefined),
      },
    });
    const s = suite(run, 'aes_gcm_test.json');
    const skipped = s.results.filter((r) => r.outcome === 'SKIPPED');
    expect(skipped).toHaveLength(flagged + 3);
    expect(s.counts.SKIPPED).toBe(flagged + 3);
    expect(s.results.find((r) => r.tcId === 1)!.note).toBe('skipped by policy: vendor documents 2 known deviations');
    expect(s.results.find((r) => r.tcId === 3)!.note).toBe('not in the accredited scope');
    expect(skipped.filter((r) => r.flags.includes('ModifiedTag')).every((r) => r.note === 'skipped by policy: flag ModifiedTag')).toBe(true);
    expect(s.counts.PASS).toBe(tests.length - flagged - 3 - s.counts.UNSUPPORTED);
    expect(s.counts.FAIL).toBe(0);

    const report = buildReport({ run });
    const rs = report.suites[0]!;
    expect(rs.counts.SKIPPED).toBe(flagged + 3);
    expect(rs.skipped).toEqual(
      expect.arrayContaining([
        { reason: 'skipped by policy: flag ModifiedTag', count: flagged },
        { reason: 'skipped by policy: vendor documents 2 known deviations', count: 2 },
        { reason: 'not in the accredited scope', count: 1 },
      ]),
    );
    expect(renderHtml(report)).toContain(`${flagged} skipped: skipped by policy: flag ModifiedTag`);
  });

  it('ACCEPTABLE records whether the product accepted, and never counts as a failure', async () => {
    const run = await runSuite(node, await loadVectorDir(VECTORS, (n) => n === 'aes_wrap_test.json'));
    const s = suite(run, 'aes_wrap_test.json');
    const acceptable = s.results.filter((r) => r.outcome === 'ACCEPTABLE');
    expect(acceptable.length).toBe(s.results.filter((r) => r.expected === 'acceptable').length);
    expect(acceptable.length).toBeGreaterThan(0);
    for (const r of acceptable) expect(typeof r.accepted).toBe('boolean');
    expect(s.counts.FAIL).toBe(0);
  });

  it('UNSUPPORTED when the product lacks the operation; ERROR when the adapter breaks — neither is a FAIL', async () => {
    const files = await loadVectorDir(VECTORS, (n) => n === 'aes_gcm_test.json');
    const lacking: ProductAdapter = { info: { name: 'MAC-only token', version: '1', adapter: 'test' }, macCompute: node.macCompute!.bind(node) };
    const u = suite(await runSuite(lacking, files), 'aes_gcm_test.json');
    expect(u.counts.UNSUPPORTED).toBe(total(u));
    expect(u.results[0]!.note).toMatch(/unsupported: operation aeadDecrypt|unsupported: operation aeadEncrypt/);

    let calls = 0;
    const crashing: ProductAdapter = {
      info: { name: 'Crashing module', version: '1', adapter: 'test' },
      async aeadDecrypt(p) {
        if (++calls % 2 === 0) throw adapterError('the module process exited (signal SIGSEGV)');
        return node.aeadDecrypt!(p);
      },
    };
    const e = suite(await runSuite(crashing, files), 'aes_gcm_test.json');
    expect(e.counts.ERROR).toBeGreaterThan(0);
    expect(e.counts.FAIL).toBe(0);
    const err = e.results.find((r) => r.outcome === 'ERROR')!;
    expect(err.note).toBe('the module process exited (signal SIGSEGV)');
    expect(Array.isArray(err.meaning)).toBe(true);
  });

  it('a FAIL carries each flag with its bug type, description and effect; the report and its HTML show them', async () => {
    const files = await loadVectorDir(VECTORS, (n) => n === 'aes_gcm_test.json');
    // a product that ignores the tag: decrypts with CTR from counter 2, as GCM does, and never checks
    const tagBlind: ProductAdapter = {
      info: { name: 'Tag-blind vault', version: '0.1', adapter: 'test' },
      async aeadDecrypt(p) {
        if (p.iv.length !== 12) return node.aeadDecrypt!(p);
        const { createDecipheriv } = await import('node:crypto');
        const d = createDecipheriv(`aes-${p.key.length * 8}-ctr`, p.key, Buffer.concat([p.iv, Buffer.from([0, 0, 0, 2])]));
        return new Uint8Array(Buffer.concat([d.update(p.ct), d.final()]));
      },
    };
    const run = await runSuite(tagBlind, files);
    const s = suite(run, 'aes_gcm_test.json');
    const f = s.results.find((r) => r.outcome === 'FAIL' && r.flags.includes('ModifiedTag'))!;
    expect(f.expected).toBe('invalid');
    expect(f.note).toMatch(/^accepted an invalid test/);
    const notes = files[0]!.doc.notes!.ModifiedTag!;
    expect(f.meaning).toContainEqual({ flag: 'ModifiedTag', bugType: notes.bugType, description: notes.description, effect: notes.effect });
    expect(notes.bugType).toBe('AUTH_BYPASS');
    expect(notes.effect).toMatch(/security level/);

    const profile = parseProfile({
      id: 'gcm-only',
      title: 'GCM',
      standard: 'AES-GCM for stored data',
      suites: [{ id: 'gcm', title: 'AES-GCM', evidences: 'authenticated encryption', match: { algorithms: ['AES-GCM'] }, required: true }],
    });
    const report = buildReport({ run, profile });
    expect(report.verdict!.verdict).toBe('FAIL');
    expect(report.verdict!.reasons).toEqual([`AES-GCM: ${s.counts.FAIL} test(s) failed`]);
    const listed = report.failures.find((x) => x.tcId === f.tcId)!;
    expect(listed).toMatchObject({ outcome: 'FAIL', flags: f.flags, meaning: f.meaning });
    const html = renderHtml(report);
    expect(html).toContain('[AUTH_BYPASS]');
    expect(html).toContain(`<i>Effect:</i> ${notes.effect}`);
  });
});
