/**
 * Runs ACVP vector sets (AES-GCM, SHA-1/SHA-2/SHA3-256, HMAC) as known-answer tests. A product that speaks
 * ACVP (`adapter.acvp`) gets the whole prompt at once; any other product is asked test by test through its
 * ordinary operations. Either way each answer is compared with the expected results.
 *
 * Test types, asked through operations: AFT for all; SHA-1/SHA-2 Monte Carlo (MCT, "standard" and
 * "alternate", the lab chaining 100 × 1,000 hashes each asked of the product) and SHA-3's (each digest the
 * next message); large-data tests (LDT, the product streams gigabytes through `hashLarge`) up to the run's
 * `largeDataMaxBytes`, SKIPPED beyond it. What the lab cannot put through operations (an IV the product
 * chooses, bit-oriented lengths, other test types) is UNSUPPORTED with the reason, never a PASS.
 */
import { fromHex } from '../hex.js';
import { attempt, emptyCounts, judge, type Expected, type Observation, type TestResult, outcomeOfThrow } from '../outcome.js';
import { type HashName, type MacAlg, type ProductAdapter, labCannotAsk, unsupported } from '../product.js';
import { RunStop, type PartialReason, type ProgressEvent, type RunResult, type SuiteResult, type VectorSource, isRunHalt } from '../runner.js';
import type { AcvpGroup, AcvpSuiteInput, AcvpTest } from './vector-set.js';
import { nistSource } from './nist.js';

const SHA: Record<string, HashName> = {
  'SHA-1': 'SHA-1',
  'SHA2-224': 'SHA-224',
  'SHA2-256': 'SHA-256',
  'SHA2-384': 'SHA-384',
  'SHA2-512': 'SHA-512',
  'SHA3-256': 'SHA3-256',
};
const HMAC: Record<string, MacAlg> = {
  'HMAC-SHA-1': 'HMAC-SHA-1',
  'HMAC-SHA2-224': 'HMAC-SHA-224',
  'HMAC-SHA2-256': 'HMAC-SHA-256',
  'HMAC-SHA2-384': 'HMAC-SHA-384',
  'HMAC-SHA2-512': 'HMAC-SHA-512',
};

/** The algorithms the lab can ask through operations (a product speaking ACVP may answer others). */
export const ACVP_ALGORITHMS: readonly string[] = ['ACVP-AES-GCM', ...Object.keys(SHA), ...Object.keys(HMAC)];

const hex = (t: Record<string, unknown>, f: string): Uint8Array => (typeof t[f] === 'string' ? fromHex(t[f] as string, f) : new Uint8Array(0));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

type Answer = Record<string, unknown>;

export interface AcvpRunOptions {
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
  /** Injected clock for reproducible reports. */
  now?: () => Date;
  /**
   * Limit on the whole run, as for Wycheproof runs: reached, no further test is asked, the product is halted
   * (a process product's group killed), tests in flight are left out and the result is partial.
   */
  runTimeoutMs?: number;
  /**
   * Largest message a large-data test (LDT) may ask the product to hash, in bytes; default 0. NIST's SHA-2
   * sets ask 1 to 8 GiB per test: beyond the limit the test is SKIPPED with the reason.
   */
  largeDataMaxBytes?: number;
  /** Where the sets came from; default: NIST's repository for sets byte-identical to the ones the lab knows, else `local`. */
  source?: VectorSource;
}

/** Thrown inside a long test (MCT, LDT) when the run has stopped: the test is left out. */
class Stopped extends Error {}

interface Ctx {
  adapter: ProductAdapter;
  stop: RunStop;
  /** Aborted when the run stops: a product streaming a large message stops too. */
  aborted: AbortSignal;
  largeDataMaxBytes: number;
}

/** The test types the lab puts through operations, per algorithm; what it cannot ask throws before the product is asked. */
function precheck(algorithm: string, g: AcvpGroup): void {
  const type = g.testType ?? 'AFT';
  if (SHA[algorithm]) {
    if (type === 'MCT') {
      const v = (g as { mctVersion?: unknown }).mctVersion ?? 'standard';
      if (v !== 'standard' && v !== 'alternate') throw labCannotAsk(`phiên bản MCT "${String(v)}" (MCT version "${String(v)}")`);
      return;
    }
    if (type !== 'AFT' && type !== 'LDT') throw labCannotAsk(`loại kiểm thử ${type} của ${algorithm} (test type ${type} of ${algorithm})`);
    return;
  }
  if (type !== 'AFT') throw labCannotAsk(`loại kiểm thử ${type} của ${algorithm} (test type ${type} of ${algorithm})`);
  if (algorithm === 'ACVP-AES-GCM' && g.direction === 'encrypt' && g.ivGen === 'internal')
    throw labCannotAsk(
      'IV do sản phẩm tự sinh (ivGen internal): kết quả mong đợi cố định không kiểm được IV sản phẩm chọn (an IV the product generates cannot be checked against fixed expected results)',
    );
}

function bytesOf(bits: unknown, what: string): number {
  const n = Number(bits);
  if (!Number.isSafeInteger(n) || n < 0) throw labCannotAsk(`${what}: độ dài ${String(bits)} (length ${String(bits)})`);
  if (n % 8 !== 0) throw labCannotAsk(`${what} lẻ bit (${n} bit): thao tác chỉ mang byte nguyên (bit-oriented ${what} of ${n} bits: the operation carries whole bytes)`);
  return n / 8;
}

/** Asks the product one ACVP test through its operations and returns an ACVP-shaped answer. */
async function askByOperation(ctx: Ctx, algorithm: string, g: AcvpGroup, t: AcvpTest): Promise<Answer> {
  const { adapter } = ctx;
  if (algorithm === 'ACVP-AES-GCM') {
    const tagBytes = bytesOf(g.tagLen, 'thẻ (tag)');
    const base = { alg: 'AES-GCM' as const, key: hex(t, 'key'), iv: hex(t, 'iv'), aad: hex(t, 'aad'), tagSize: tagBytes };
    if (g.direction === 'encrypt') {
      if (!adapter.aeadEncrypt) throw unsupported('operation aeadEncrypt');
      const r = await adapter.aeadEncrypt({ ...base, msg: hex(t, 'pt') });
      return { ct: toHex(r.ct), tag: toHex(r.tag) };
    }
    if (!adapter.aeadDecrypt) throw unsupported('operation aeadDecrypt');
    const r = await attempt(() => adapter.aeadDecrypt!({ ...base, ct: hex(t, 'ct'), tag: hex(t, 'tag') }));
    return r.ok ? { pt: toHex(r.value) } : { testPassed: false };
  }
  const sha = SHA[algorithm];
  if (sha) {
    const type = g.testType ?? 'AFT';
    if (type === 'LDT') return { md: toHex(await largeData(ctx, sha, t)) };
    if (!adapter.hash) throw unsupported('operation hash');
    if (type === 'MCT')
      return {
        resultsArray: algorithm.startsWith('SHA3')
          ? await monteCarloSha3(ctx, sha, t)
          : await monteCarlo(ctx, sha, (g as { mctVersion?: string }).mctVersion === 'alternate', t),
      };
    const len = bytesOf(t.len, 'thông điệp (message)');
    const md = await adapter.hash({ alg: sha, msg: hex(t, 'msg').subarray(0, len) });
    return { md: toHex(md) };
  }
  const mac = HMAC[algorithm];
  if (mac) {
    if (!adapter.macCompute) throw unsupported('operation macCompute');
    // revision 1.0 gives macLen per group, 2.0 per test (truncated MACs of 80 to 256 bits)
    const size = bytesOf(t.macLen ?? g.macLen, 'MAC');
    if (t.keyLen !== undefined) bytesOf(t.keyLen, 'khoá (key)');
    const msg = t.msgLen !== undefined ? hex(t, 'msg').subarray(0, bytesOf(t.msgLen, 'thông điệp (message)')) : hex(t, 'msg');
    const tag = await adapter.macCompute({ alg: mac, key: hex(t, 'key'), msg, tagSize: size });
    return { mac: toHex(tag.subarray(0, size)) };
  }
  throw labCannotAsk(`thuật toán ACVP ${algorithm} (ACVP algorithm ${algorithm})`);
}

/**
 * SHA-1/SHA-2 Monte Carlo test (ACVP SHA specification): 100 rounds of 1,000 chained hashes, each asked
 * of the product. "alternate" keeps every message at the seed's length (cut, or padded with zero bytes).
 */
async function monteCarlo(ctx: Ctx, alg: HashName, alternate: boolean, t: AcvpTest): Promise<{ md: string }[]> {
  const len = bytesOf(t.len, 'hạt giống MCT (MCT seed)');
  let seed = hex(t, 'msg').subarray(0, len);
  const out: { md: string }[] = [];
  const fit = (m: Uint8Array): Uint8Array => {
    if (!alternate || m.length === len) return m;
    if (m.length > len) return m.subarray(0, len);
    const padded = new Uint8Array(len);
    padded.set(m);
    return padded;
  };
  for (let j = 0; j < 100; j++) {
    if (ctx.stop.reason) throw new Stopped();
    let [a, b, c] = [seed, seed, seed];
    let md = seed;
    for (let i = 0; i < 1000; i++) {
      const msg = new Uint8Array(a.length + b.length + c.length);
      msg.set(a, 0);
      msg.set(b, a.length);
      msg.set(c, a.length + b.length);
      md = await ctx.adapter.hash!({ alg, msg: fit(msg) });
      [a, b, c] = [b, c, md];
    }
    out.push({ md: toHex(md) });
    seed = md;
  }
  return out;
}

/**
 * SHA-3 Monte Carlo test (ACVP SHA-3 specification): 100 rounds of 1,000 hashes, each digest the next
 * message, the seed hashed first. NIST's SHA3-256-2.0 set marks its group `mctVersion: "alternate"` and
 * expects this same chain (no message kept at the seed's length, unlike SHA-2's alternate): the 100
 * digests of test/lab/fixtures/acvp-nist/SHA3-256-2.0-extract are NIST's.
 */
async function monteCarloSha3(ctx: Ctx, alg: HashName, t: AcvpTest): Promise<{ md: string }[]> {
  let md = hex(t, 'msg').subarray(0, bytesOf(t.len, 'hạt giống MCT (MCT seed)'));
  const out: { md: string }[] = [];
  for (let j = 0; j < 100; j++) {
    if (ctx.stop.reason) throw new Stopped();
    for (let i = 0; i < 1000; i++) md = await ctx.adapter.hash!({ alg, msg: md });
    out.push({ md: toHex(md) });
  }
  return out;
}

async function largeData(ctx: Ctx, alg: HashName, t: AcvpTest): Promise<Uint8Array> {
  const m = (t.largeMsg ?? {}) as { content?: unknown; contentLength?: unknown; fullLength?: unknown; expansionTechnique?: unknown };
  if (m.expansionTechnique !== 'repeating')
    throw labCannotAsk(`cách mở rộng thông điệp lớn "${String(m.expansionTechnique)}" (large-message expansion "${String(m.expansionTechnique)}")`);
  const contentBytes = bytesOf(m.contentLength, 'nội dung thông điệp lớn (large-message content)');
  const fullBytes = bytesOf(m.fullLength, 'thông điệp lớn (large message)');
  const content = fromHex(String(m.content ?? ''), 'content').subarray(0, contentBytes);
  if (!ctx.adapter.hashLarge) throw unsupported('operation hashLarge (kiểm thử dữ liệu lớn / large-data test)');
  return ctx.adapter.hashLarge({ alg, content, fullBytes, signal: ctx.aborted });
}

/** Equal as ACVP compares: hex strings whatever their case, numbers and booleans as they are, arrays and objects field by field. */
function same(want: unknown, got: unknown): boolean {
  if (typeof want === 'string') return typeof got === 'string' && want.toLowerCase() === got.toLowerCase();
  if (Array.isArray(want)) return Array.isArray(got) && got.length === want.length && want.every((w, i) => same(w, got[i]));
  if (want && typeof want === 'object') {
    if (!got || typeof got !== 'object') return false;
    return Object.entries(want).every(([k, v]) => same(v, (got as Record<string, unknown>)[k]));
  }
  return want === got;
}

/** Compares an answer with the expected result; `invalid` when the expected result says the test must fail. */
function compare(expected: AcvpTest, answer: Answer | undefined): { expected: Expected; obs: Observation } {
  if (expected.testPassed === false) {
    const refused = !answer || answer.testPassed === false;
    return { expected: 'invalid', obs: refused ? { accepted: false } : { accepted: true, note: 'product reported success' } };
  }
  if (!answer) return { expected: 'valid', obs: { accepted: false, note: 'no answer' } };
  if (answer.testPassed === false) return { expected: 'valid', obs: { accepted: false, note: 'product reported failure' } };
  for (const [k, v] of Object.entries(expected)) {
    if (k === 'tcId' || k === 'testPassed') continue;
    if (!same(v, answer[k])) {
      const where = Array.isArray(v) && Array.isArray(answer[k]) ? ` (first at [${v.findIndex((w, i) => !same(w, (answer[k] as unknown[])[i]))}])` : '';
      return { expected: 'valid', obs: { accepted: false, note: `${k} differs${where}` } };
    }
  }
  return { expected: 'valid', obs: { accepted: true } };
}

const testsOf = (s: AcvpSuiteInput): number => s.prompt.testGroups.reduce((n, g) => n + g.tests.length, 0);

/** Runs one ACVP vector set. With `runTimeoutMs` the set may be cut short: the tests never asked are `notRun`. */
export async function runAcvp(adapter: ProductAdapter, suite: AcvpSuiteInput, options: AcvpRunOptions = {}): Promise<SuiteResult> {
  const run = await runAcvpSets(adapter, [suite], options);
  return run.suites[0] ?? emptySuite(suite);
}

function emptySuite(suite: AcvpSuiteInput): SuiteResult {
  return { ...suiteBase(suite), numberOfTests: testsOf(suite), counts: emptyCounts(), results: [], notRun: testsOf(suite), durationMs: 0 };
}

function suiteBase(suite: AcvpSuiteInput): Pick<SuiteResult, 'kind' | 'file' | 'sha256' | 'algorithm' | 'schema'> {
  const { prompt } = suite;
  return { kind: 'acvp', file: suite.name, sha256: suite.sha256, algorithm: prompt.algorithm, schema: `ACVP ${prompt.algorithm}${prompt.revision ? ` ${prompt.revision}` : ''}` };
}

/** Runs ACVP vector sets against one product, under the same whole-run limit as Wycheproof runs. */
export async function runAcvpSets(adapter: ProductAdapter, suites: readonly AcvpSuiteInput[], options: AcvpRunOptions = {}): Promise<RunResult> {
  const now = options.now ?? (() => new Date());
  const startedAt = now().toISOString();
  const stop = new RunStop();
  const clearLimit = stop.limit(options.runTimeoutMs, adapter);
  const abort = new AbortController();
  void stop.stopped.then(() => abort.abort(new Error(stop.note)));
  const ctx: Ctx = { adapter, stop, aborted: abort.signal, largeDataMaxBytes: options.largeDataMaxBytes ?? 0 };
  const results: SuiteResult[] = [];
  const notReached: AcvpSuiteInput[] = [];
  try {
    for (const suite of suites) {
      options.signal?.throwIfAborted();
      if (stop.reason) {
        notReached.push(suite);
        continue;
      }
      results.push(await runSet(ctx, suite, options));
    }
  } finally {
    clearLimit();
  }
  const counts = emptyCounts();
  for (const s of results) for (const o of Object.keys(counts) as (keyof typeof counts)[]) counts[o] += s.counts[o];
  const result: RunResult = {
    product: adapter.info,
    sources: options.source ? [options.source] : suites.map((s) => nistSource(s)),
    startedAt,
    finishedAt: now().toISOString(),
    suites: results,
    counts,
  };
  if (stop.reason) {
    result.partial = {
      reason: stop.reason,
      note: stop.note,
      testsRun: results.reduce((n, s) => n + s.results.length, 0),
      testsNotRun: results.reduce((n, s) => n + (s.notRun ?? 0), 0) + notReached.reduce((n, s) => n + testsOf(s), 0),
      suitesNotReached: notReached.map((s) => s.name),
    };
  }
  return result;
}

async function runSet(ctx: Ctx, suite: AcvpSuiteInput, options: AcvpRunOptions): Promise<SuiteResult> {
  const t0 = performance.now();
  const { adapter, stop } = ctx;
  const { prompt, expected } = suite;
  const want = new Map<number, AcvpTest>();
  for (const g of expected.testGroups) for (const t of g.tests) want.set(t.tcId, t);
  const total = testsOf(suite);
  const results: TestResult[] = [];
  const counts = emptyCounts();
  const push = (r: TestResult): void => {
    results.push(r);
    counts[r.outcome]++;
    if (results.length % 64 === 0 || results.length === total)
      options.onProgress?.({ type: 'progress', file: suite.name, done: results.length, total, counts: { ...counts } });
  };
  options.onProgress?.({ type: 'suite-start', file: suite.name, total });
  /** The call, or undefined when the run stops first (the test is then left out). */
  const unlessStopped = async <T>(call: () => Promise<T>): Promise<T | undefined> => {
    const p = call();
    p.catch(() => undefined);
    return Promise.race([p, stop.stopped.then(() => undefined)]);
  };

  let bulk: Map<number, Answer> | undefined;
  let bulkError: unknown;
  if (adapter.acvp) {
    try {
      const resp = (await unlessStopped(() => adapter.acvp!(prompt as unknown as Record<string, unknown>))) as { testGroups?: { tests?: Answer[] }[] } | undefined;
      if (resp) {
        bulk = new Map();
        for (const g of resp.testGroups ?? []) for (const t of g.tests ?? []) bulk.set(Number(t.tcId), t);
      }
    } catch (e) {
      bulkError = e;
    }
  }

  outer: for (const g of prompt.testGroups) {
    for (const t of g.tests) {
      if (stop.reason) break outer;
      options.signal?.throwIfAborted();
      const exp = want.get(t.tcId);
      const base = { tcId: t.tcId, flags: [] as string[], comment: `tgId ${g.tgId} ${g.testType ?? 'AFT'}${g.direction ? ` ${g.direction}` : ''}` };
      if (!exp) {
        push({ ...base, expected: 'valid', outcome: 'ERROR', note: 'no expected result for this test' });
        continue;
      }
      const expectation: Expected = exp.testPassed === false ? 'invalid' : 'valid';
      try {
        if (bulkError) throw bulkError;
        let answer = bulk?.get(t.tcId);
        if (!bulk) {
          precheck(prompt.algorithm, g);
          const skip = largeDataSkip(ctx, prompt.algorithm, g, t);
          if (skip) {
            push({ ...base, expected: expectation, outcome: 'SKIPPED', note: skip });
            continue;
          }
          const r = await unlessStopped(() => attempt(() => askByOperation(ctx, prompt.algorithm, g, t)));
          if (!r || stop.reason) break outer;
          answer = r.ok ? r.value : { testPassed: false };
        }
        const c = compare(exp, answer);
        const j = judge(c.expected, c.obs);
        push({ ...base, expected: c.expected, outcome: j.outcome, ...(j.note ? { note: j.note } : {}) });
      } catch (e) {
        if (e instanceof Stopped || stop.reason) break outer;
        const o = outcomeOfThrow(e);
        push({ ...base, expected: expectation, ...o });
        if (isRunHalt(e)) stop.stop((e.detail as { halt: PartialReason }).halt, e.message);
      }
    }
  }
  options.onProgress?.({ type: 'suite-end', file: suite.name, counts: { ...counts } });
  return {
    ...suiteBase(suite),
    numberOfTests: total,
    counts,
    results,
    ...(results.length < total ? { notRun: total - results.length } : {}),
    durationMs: performance.now() - t0,
  };
}

/** The reason a large-data test is not asked this run (over `largeDataMaxBytes`), if it is not. */
function largeDataSkip(ctx: Ctx, algorithm: string, g: AcvpGroup, t: AcvpTest): string | undefined {
  if (!SHA[algorithm] || g.testType !== 'LDT') return undefined;
  const full = Number((t.largeMsg as { fullLength?: unknown } | undefined)?.fullLength) / 8;
  if (!(full > ctx.largeDataMaxBytes)) return undefined;
  const gib = (full / 2 ** 30).toLocaleString('en-US', { maximumFractionDigits: 2 });
  return `Kiểm thử dữ liệu lớn ${gib} GiB vượt giới hạn ${ctx.largeDataMaxBytes} byte của lần chạy (largeDataMaxBytes): không hỏi (large-data test of ${gib} GiB over the run's limit of ${ctx.largeDataMaxBytes} bytes: not asked)`;
}
