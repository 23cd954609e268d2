/**
 * Crypto lab over the whole shared Wycheproof set (`../shared/vectors/wycheproof/full`, 343 files, 144,886
 * tests), loading and schema validation included: tests per second against node:crypto and against @noble,
 * each on every file, with their outcomes — UNSUPPORTED split into what the product lacks and what the lab
 * cannot ask, with the reasons — and SoftHSM2 through PKCS#11 (a temporary token in a temp folder) on the
 * 55-file core set. Target (issue 16): the whole set against node:crypto in under 2 minutes.
 * Prints JSON when run directly; `run()` returns it. SoftHSM2 is skipped (with the reason) when absent.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  loadSchemaSet,
  loadVectorDir,
  nobleProduct,
  nodeCryptoProduct,
  openPkcs11Product,
  runSuite,
  type ProductAdapter,
  type RunResult,
  type VectorFile,
} from '../src/lab/index.js';

export const title = 'crypto lab over the whole Wycheproof set';

const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';
const REASONS = 12;

interface Summary {
  seconds: number;
  tests: number;
  testsPerSecond: number;
  executed: number;
  executedPerSecond: number;
  counts: RunResult['counts'];
  unsupportedByProduct: number;
  unsupportedByLab: number;
  failing?: string[];
  /** The most frequent reasons for UNSUPPORTED, `by: reason (schema)` → tests. */
  unsupportedReasons?: Record<string, number>;
}

function summary(r: RunResult, seconds: number, reasons = true): Summary {
  const tests = Object.values(r.counts).reduce((a, b) => a + b, 0);
  const executed = tests - r.counts.UNSUPPORTED - r.counts.SKIPPED;
  let byLab = 0;
  const why = new Map<string, number>();
  const failing = new Set<string>();
  for (const s of r.suites) {
    for (const t of s.results) {
      if (t.outcome === 'FAIL' || t.outcome === 'ERROR')
        failing.add(`${s.file}: ${t.note ?? t.outcome}`.slice(0, 200));
      if (t.outcome !== 'UNSUPPORTED') continue;
      if (t.unsupportedBy === 'lab') byLab++;
      const key = `${t.unsupportedBy ?? 'product'}: ${String(t.note).replace(/^unsupported: /, '')} (${s.schema})`;
      why.set(key, (why.get(key) ?? 0) + 1);
    }
  }
  const out: Summary = {
    seconds: Number(seconds.toFixed(2)),
    tests,
    testsPerSecond: Math.round(tests / seconds),
    executed,
    executedPerSecond: Math.round(executed / seconds),
    counts: r.counts,
    unsupportedByProduct: r.counts.UNSUPPORTED - byLab,
    unsupportedByLab: byLab,
  };
  if (failing.size) out.failing = [...failing].slice(0, 20);
  if (reasons)
    out.unsupportedReasons = Object.fromEntries([...why].sort((a, b) => b[1] - a[1]).slice(0, REASONS));
  return out;
}

async function timed(adapter: ProductAdapter, files: VectorFile[]): Promise<[RunResult, number]> {
  const t0 = performance.now();
  const r = await runSuite(adapter, files);
  return [r, (performance.now() - t0) / 1000];
}

export async function run(): Promise<Record<string, unknown>> {
  const shared = resolve(process.cwd(), '../shared/vectors/wycheproof');
  if (!existsSync(join(shared, 'full')))
    return { skipped: `whole Wycheproof set not found at ${join(shared, 'full')}` };
  const out: Record<string, unknown> = { node: process.version, openssl: process.versions.openssl };

  const t0 = performance.now();
  const files = await loadVectorDir(join(shared, 'full'));
  const schemas = await loadSchemaSet(join(shared, 'schemas'));
  for (const f of files) schemas.validate(f);
  const loadSeconds = (performance.now() - t0) / 1000;
  out.load = { files: files.length, seconds: Number(loadSeconds.toFixed(2)) };

  const [nodeRun, nodeSeconds] = await timed(nodeCryptoProduct(), files);
  out.nodeCrypto = {
    ...summary(nodeRun, nodeSeconds),
    wholeSetWithLoadSeconds: Number((nodeSeconds + loadSeconds).toFixed(2)),
  };

  const [nobleRun, nobleSeconds] = await timed(nobleProduct(), files);
  out.noble = summary(nobleRun, nobleSeconds);

  if (!existsSync(SOFTHSM)) {
    out.softhsmCoreSet = { skipped: `${SOFTHSM} not found` };
  } else {
    const core = await loadVectorDir(join(shared, 'testvectors_v1'));
    const dir = mkdtempSync(join(tmpdir(), 'truc-bench-softhsm-'));
    try {
      mkdirSync(join(dir, 'tokens'));
      const conf = join(dir, 'softhsm2.conf');
      writeFileSync(
        conf,
        `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`,
      );
      process.env.SOFTHSM2_CONF = conf;
      execFileSync(
        'softhsm2-util',
        ['--init-token', '--free', '--label', 'bench', '--so-pin', '5678', '--pin', '1234'],
        { stdio: 'ignore' },
      );
      const hsm = await openPkcs11Product({ library: SOFTHSM, tokenLabel: 'bench', pin: '1234' });
      try {
        const [hsmRun, hsmSeconds] = await timed(hsm, core);
        out.softhsmCoreSet = summary(hsmRun, hsmSeconds, false);
      } finally {
        await hsm.close?.();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

export function describe(r: Record<string, unknown>): string {
  if (r.skipped) return `Skipped: ${String(r.skipped)}.`;
  const n = (x: number) => x.toLocaleString('en');
  const load = r.load as { files: number; seconds: number };
  const row = (what: string, s: Summary | { skipped: string }) =>
    'skipped' in s
      ? `| ${what} | skipped: ${s.skipped} |||||||||`
      : `| ${what} | ${n(s.tests)} | ${s.seconds} | ${n(s.testsPerSecond)} | ${n(s.counts.PASS)} | ${n(s.counts.ACCEPTABLE)} | ${n(s.counts.FAIL)} | ${n(s.counts.ERROR)} | ${n(s.unsupportedByProduct)} | ${n(s.unsupportedByLab)} |`;
  const reasons = (name: string, s: Summary) =>
    s.unsupportedReasons
      ? [
          `**${name}** — the ${REASONS} most frequent reasons for UNSUPPORTED (who lacks it: reason (schema) — tests):`,
          '',
          ...Object.entries(s.unsupportedReasons).map(([k, v]) => `- ${k} — ${n(v)}`),
          '',
        ]
      : [];
  const failing = (name: string, s: Summary) =>
    s.failing ? [`**${name}** FAIL/ERROR: ${s.failing.join('; ')}`, ''] : [];
  const node = r.nodeCrypto as Summary & { wholeSetWithLoadSeconds: number };
  const noble = r.noble as Summary;
  return [
    `OpenSSL ${String(r.openssl)} under Node ${String(r.node)}. Loading and validating the ${n(load.files)} files against their schemas: ${load.seconds} s. The whole set against node:crypto, loading included: **${node.wholeSetWithLoadSeconds} s** (target under 120 s). UNSUPPORTED is split into what the product lacks and what the lab cannot ask (no family for the schema).`,
    '',
    '| product | tests | seconds | tests/s | PASS | ACCEPTABLE | FAIL | ERROR | UNSUPPORTED (product lacks) | UNSUPPORTED (lab cannot ask) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    row('node:crypto, whole set', node),
    row('@noble, whole set', noble),
    row('SoftHSM2 (PKCS#11), core set', r.softhsmCoreSet as Summary),
    '',
    ...failing('node:crypto', node),
    ...failing('@noble', noble),
    ...('skipped' in (r.softhsmCoreSet as object) ? [] : failing('SoftHSM2', r.softhsmCoreSet as Summary)),
    ...reasons('node:crypto', node),
    ...reasons('@noble', noble),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().then((r) => console.log(JSON.stringify(r, null, 2)));
}
