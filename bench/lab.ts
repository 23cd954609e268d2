/**
 * Crypto lab throughput: tests per second over the whole shared Wycheproof set (55 files, 14,872 tests),
 * loading and schema validation included, against node:crypto and against SoftHSM2 through PKCS#11 (a
 * temporary token in a temp folder), plus @noble for the suites node:crypto lacks. Target: the whole set
 * against node:crypto in under 30 s. Prints JSON when run directly; `run()` returns it.
 * Needs ../shared from the repository root; SoftHSM2 is skipped (with the reason) when absent.
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

const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';

function summary(r: RunResult, seconds: number): Record<string, unknown> {
  const tests = Object.values(r.counts).reduce((a, b) => a + b, 0);
  const executed = tests - r.counts.UNSUPPORTED - r.counts.SKIPPED;
  return {
    seconds: Number(seconds.toFixed(2)),
    tests,
    testsPerSecond: Math.round(tests / seconds),
    executed,
    executedPerSecond: Math.round(executed / seconds),
    counts: r.counts,
  };
}

async function timed(adapter: ProductAdapter, files: VectorFile[]): Promise<[RunResult, number]> {
  const t0 = performance.now();
  const r = await runSuite(adapter, files);
  return [r, (performance.now() - t0) / 1000];
}

export async function run(): Promise<Record<string, unknown>> {
  const shared = resolve(process.cwd(), '../shared/vectors/wycheproof');
  if (!existsSync(shared)) return { skipped: `shared vectors not found at ${shared}` };
  const out: Record<string, unknown> = { node: process.version, openssl: process.versions.openssl };

  const t0 = performance.now();
  const files = await loadVectorDir(join(shared, 'testvectors_v1'));
  const schemas = await loadSchemaSet(join(shared, 'schemas'));
  for (const f of files) schemas.validate(f);
  const loadSeconds = (performance.now() - t0) / 1000;
  out.load = { files: files.length, seconds: Number(loadSeconds.toFixed(2)) };

  const [nodeRun, nodeSeconds] = await timed(nodeCryptoProduct(), files);
  out.nodeCrypto = { ...summary(nodeRun, nodeSeconds), wholeSetWithLoadSeconds: Number((nodeSeconds + loadSeconds).toFixed(2)) };

  const lacking = new Set(nodeRun.suites.filter((s) => s.counts.PASS === 0).map((s) => s.file));
  const [nobleRun, nobleSeconds] = await timed(nobleProduct(), files.filter((f) => lacking.has(f.name)));
  out.nobleForWhatNodeLacks = summary(nobleRun, nobleSeconds);

  if (!existsSync(SOFTHSM)) {
    out.softhsm = { skipped: `${SOFTHSM} not found` };
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'truc-bench-softhsm-'));
    try {
      mkdirSync(join(dir, 'tokens'));
      const conf = join(dir, 'softhsm2.conf');
      writeFileSync(conf, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
      process.env.SOFTHSM2_CONF = conf;
      execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'bench', '--so-pin', '5678', '--pin', '1234'], { stdio: 'ignore' });
      const hsm = await openPkcs11Product({ library: SOFTHSM, tokenLabel: 'bench', pin: '1234' });
      try {
        const [hsmRun, hsmSeconds] = await timed(hsm, files);
        out.softhsm = summary(hsmRun, hsmSeconds);
      } finally {
        await hsm.close?.();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().then((r) => console.log(JSON.stringify(r, null, 2)));
}
