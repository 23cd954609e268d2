/**
 * Runs vector files against a product. Each file is validated (when a schema set is given), dispatched to
 * the family its schema names, and its tests asked with bounded concurrency; progress streams out through
 * a callback so a CLI bar or an HTTP event stream can follow. The result is plain data for the report.
 */
import type { ProductAdapter, ProductInfo } from './product.js';
import { isUnsupported } from './product.js';
import {
  addCounts,
  emptyCounts,
  type FlagNote,
  judge,
  type Outcome,
  type OutcomeCounts,
  outcomeOfThrow,
  type TestResult,
} from './outcome.js';
import type { VectorFile, WycheproofGroup, WycheproofNote, WycheproofTest } from './wycheproof/file.js';
import type { SchemaSet } from './wycheproof/schema.js';
import { familyFor } from './wycheproof/families.js';
import type { Family } from './wycheproof/family.js';
import { UPSTREAM_COMMIT, UPSTREAM_REPOSITORY, UPSTREAM_SHA256 } from './wycheproof/upstream.js';
import { TrucError } from '../errors.js';
import { dirname } from 'node:path';

export interface VectorSource {
  /** `C2SP/wycheproof` when every file is byte-identical to upstream, else `local`; an ACVP set names itself. */
  name: string;
  /** The upstream commit, present only when every file of this source is byte-identical to it. */
  commit?: string;
  /** The folder the files were actually read from. */
  folder?: string;
  /** Each file with the SHA-256 of its JSON text and whether those bytes are upstream's. */
  files?: { file: string; sha256: string; upstream: boolean }[];
}

/** The upstream the shared vectors come from (shared/README.md). */
export const WYCHEPROOF_SOURCE: VectorSource = { name: UPSTREAM_REPOSITORY, commit: UPSTREAM_COMMIT };

/**
 * The true source of the files run: one entry per folder, naming its files and their hashes, and the
 * upstream commit only when every file there is byte-identical to upstream's (a copied and edited folder
 * must not borrow upstream's name).
 */
export function vectorSources(files: readonly VectorFile[]): VectorSource[] {
  const byFolder = new Map<string, VectorFile[]>();
  for (const f of files) {
    const folder = f.path ? dirname(f.path) : '';
    byFolder.set(folder, [...(byFolder.get(folder) ?? []), f]);
  }
  return [...byFolder].map(([folder, fs]) => {
    const list = fs.map((f) => ({ file: f.name, sha256: f.sha256, upstream: UPSTREAM_SHA256.get(f.name) === f.sha256 }));
    const upstream = list.length > 0 && list.every((f) => f.upstream);
    return {
      name: upstream ? UPSTREAM_REPOSITORY : 'local',
      ...(upstream ? { commit: UPSTREAM_COMMIT } : {}),
      ...(folder ? { folder } : {}),
      files: list,
    };
  });
}

export type PartialReason = 'run-timeout' | 'output-limit';

/** A run cut short: why, how far it got, and what it never reached. */
export interface PartialRun {
  reason: PartialReason;
  /** Vietnamese first, English beside. */
  note: string;
  /** Tests that came to an outcome. */
  testsRun: number;
  /** Tests of the files that were never asked (in the suite cut short and in those not reached). */
  testsNotRun: number;
  /** Files the run never started. */
  suitesNotReached: string[];
}

/** Thrown by an adapter when the product must not be asked again this run (e.g. it flooded its output). */
export function isRunHalt(e: unknown): e is TrucError {
  return e instanceof TrucError && typeof (e.detail as { halt?: unknown } | undefined)?.halt === 'string';
}

export interface SuiteResult {
  kind: 'wycheproof' | 'acvp';
  /** File name (Wycheproof) or vector-set name (ACVP). */
  file: string;
  sha256: string;
  storedSha256?: string;
  algorithm: string;
  schema: string;
  family?: string;
  numberOfTests: number;
  counts: OutcomeCounts;
  results: TestResult[];
  /** File-level problem (schema violation, unknown schema): the suite did not run. */
  error?: string;
  /** Tests never asked because the run was cut short during this suite. */
  notRun?: number;
  /** Each flag of the file with its bug type from the file's notes (for coverage per flag). */
  flagTypes?: Record<string, string>;
  durationMs: number;
}

export interface RunResult {
  product: ProductInfo;
  /** Where the vectors came from: one entry per folder or vector set (vectorSources, nistSource). */
  sources: VectorSource[];
  startedAt: string;
  finishedAt: string;
  suites: SuiteResult[];
  counts: OutcomeCounts;
  /** Present when the run was cut short (time limit, output limit): its verdict is never PASS. */
  partial?: PartialRun;
}

export type ProgressEvent =
  | { type: 'suite-start'; file: string; total: number }
  | { type: 'progress'; file: string; done: number; total: number; counts: OutcomeCounts }
  | { type: 'suite-end'; file: string; counts: OutcomeCounts; error?: string };

export interface SkipPolicy {
  /** Tests carrying any of these flags are SKIPPED (e.g. slow or out-of-scope behaviour). */
  flags?: string[];
  /** Explicit tests to skip, with the reason recorded in the report. */
  tests?: { file: string; tcIds: number[]; reason: string }[];
  /** Anything else; returns a reason to skip or undefined. */
  predicate?: (file: VectorFile, test: WycheproofTest) => string | undefined;
}

export interface RunOptions {
  onProgress?: (e: ProgressEvent) => void;
  /** Tests in flight at once; defaults to the adapter's own hint, else 1. */
  concurrency?: number;
  /** Validate each file against the schema it names before running it. */
  schemas?: SchemaSet;
  skip?: SkipPolicy;
  source?: VectorSource;
  /** Injected clock for reproducible reports. */
  now?: () => Date;
  signal?: AbortSignal;
  /**
   * Limit on the whole run. When reached, no further test is asked, the product is halted (a process
   * product's group killed), tests in flight are left out, and the result is marked partial.
   */
  runTimeoutMs?: number;
}

const PROGRESS_EVERY = 64;

/** Why and when a run stops early; shared by the workers of every suite (and by ACVP runs, acvp/run.ts). */
export class RunStop {
  reason?: PartialReason;
  note = '';
  readonly stopped: Promise<void>;
  private fire!: () => void;
  constructor() {
    this.stopped = new Promise<void>((r) => (this.fire = r));
  }
  stop(reason: PartialReason, note: string): void {
    if (this.reason) return;
    this.reason = reason;
    this.note = note;
    this.fire();
  }
  /** Stops the run when `ms` have passed (no limit when undefined), halting the product; returns what clears the limit. */
  limit(ms: number | undefined, adapter: ProductAdapter): () => void {
    if (ms === undefined) return () => {};
    const timer = setTimeout(() => {
      this.stop('run-timeout', `Hết thời gian cho cả lần chạy (${ms} ms): lần chạy bị cắt ngang (run time limit of ${ms} ms reached: the run was cut short)`);
      void adapter.halt?.(this.note);
    }, ms);
    return () => clearTimeout(timer);
  }
}

const testsIn = (f: VectorFile): number => (Array.isArray(f.doc.testGroups) ? f.doc.testGroups.reduce((n, g) => n + (g.tests?.length ?? 0), 0) : 0);

/** Runs Wycheproof vector files against one product. */
export async function runSuite(adapter: ProductAdapter, files: readonly VectorFile[], options: RunOptions = {}): Promise<RunResult> {
  const now = options.now ?? (() => new Date());
  const startedAt = now().toISOString();
  const suites: SuiteResult[] = [];
  const stop = new RunStop();
  const clearLimit = stop.limit(options.runTimeoutMs, adapter);
  const notReached: string[] = [];
  try {
    for (const file of files) {
      options.signal?.throwIfAborted();
      if (stop.reason) {
        notReached.push(file.name);
        continue;
      }
      suites.push(await runFile(adapter, file, options, stop));
    }
  } finally {
    clearLimit();
  }
  const counts = suites.reduce((c, s) => addCounts(c, s.counts), emptyCounts());
  const result: RunResult = {
    product: adapter.info,
    sources: options.source ? [options.source] : vectorSources(files),
    startedAt,
    finishedAt: now().toISOString(),
    suites,
    counts,
  };
  if (stop.reason) {
    const testsRun = suites.reduce((n, s) => n + s.results.length, 0);
    result.partial = {
      reason: stop.reason,
      note: stop.note,
      testsRun,
      testsNotRun: suites.reduce((n, s) => n + (s.notRun ?? 0), 0) + files.filter((f) => notReached.includes(f.name)).reduce((n, f) => n + testsIn(f), 0),
      suitesNotReached: notReached,
    };
  }
  return result;
}

interface Job {
  group: unknown;
  groupError?: unknown;
  test: WycheproofTest;
}

async function runFile(adapter: ProductAdapter, file: VectorFile, options: RunOptions, stop: RunStop): Promise<SuiteResult> {
  const t0 = performance.now();
  const doc = file.doc;
  const family = familyFor(doc.schema);
  const base = {
    kind: 'wycheproof' as const,
    file: file.name,
    sha256: file.sha256,
    storedSha256: file.storedSha256,
    algorithm: String(doc.algorithm),
    schema: String(doc.schema),
    family: family?.name,
    numberOfTests: Number(doc.numberOfTests) || 0,
    ...flagTypesOf(doc.notes),
  };
  const fail = (error: string): SuiteResult => {
    options.onProgress?.({ type: 'suite-end', file: file.name, counts: emptyCounts(), error });
    return { ...base, counts: emptyCounts(), results: [], error, durationMs: performance.now() - t0 };
  };
  try {
    options.schemas?.validate(file);
  } catch (e) {
    return fail((e as Error).message);
  }
  if (!Array.isArray(doc.testGroups)) return fail('no testGroups');

  const jobs: Job[] = [];
  for (const g of doc.testGroups as WycheproofGroup[]) {
    let group: unknown;
    let groupError: unknown;
    if (family) {
      try {
        group = family.group(g, file);
      } catch (e) {
        groupError = e;
      }
    }
    for (const test of g.tests ?? []) jobs.push({ group, groupError, test });
  }
  const total = jobs.length;
  options.onProgress?.({ type: 'suite-start', file: file.name, total });

  const counts = emptyCounts();
  const results: TestResult[] = new Array(total);
  let next = 0;
  let done = 0;
  const notes = doc.notes ?? {};
  const concurrency = Math.max(1, Math.min(options.concurrency ?? adapter.info.concurrency ?? 1, 256));

  const worker = async (): Promise<void> => {
    while (next < total && !stop.reason) {
      options.signal?.throwIfAborted();
      const i = next++;
      // a test still in flight when the run is stopped is left out: it never came to an outcome
      const asked = await Promise.race([runTest(adapter, family, file, jobs[i], notes, options.skip), stop.stopped.then(() => undefined)]);
      if (!asked || (stop.reason && !asked.halt)) return;
      const r = asked.result;
      results[i] = r;
      counts[r.outcome]++;
      done++;
      // the product cannot be asked again (it flooded its output…): this test is its ERROR, the run stops here
      if (asked.halt) stop.stop(asked.halt.reason, asked.halt.note);
      if (done % PROGRESS_EVERY === 0 || done === total) {
        options.onProgress?.({ type: 'progress', file: file.name, done, total, counts: { ...counts } });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(total, 1)) }, worker));
  const asked = results.filter((r): r is TestResult => r !== undefined).sort((a, b) => a.tcId - b.tcId);
  options.onProgress?.({ type: 'suite-end', file: file.name, counts: { ...counts } });
  return { ...base, counts, results: asked, ...(asked.length < total ? { notRun: total - asked.length } : {}), durationMs: performance.now() - t0 };
}

async function runTest(
  adapter: ProductAdapter,
  family: Family<unknown> | undefined,
  file: VectorFile,
  job: Job,
  notes: Record<string, WycheproofNote>,
  skip: SkipPolicy | undefined,
): Promise<{ result: TestResult; halt?: { reason: PartialReason; note: string } }> {
  const t = job.test;
  const flags = Array.isArray(t.flags) ? t.flags.map(String) : [];
  const base = { tcId: Number(t.tcId), expected: t.result, comment: t.comment || undefined, flags };
  const reason = skipReason(skip, file, t, flags);
  if (reason) return { result: { ...base, outcome: 'SKIPPED', note: reason } };
  let halt: { reason: PartialReason; note: string } | undefined;
  let outcome: Outcome;
  let note: string | undefined;
  let accepted: boolean | undefined;
  let by: TestResult['unsupportedBy'];
  if (!family) {
    outcome = 'UNSUPPORTED';
    note = `lab cannot ask: no family for schema ${file.doc.schema}`;
    by = 'lab';
  } else if (job.groupError !== undefined) {
    ({ outcome, note, unsupportedBy: by } = isUnsupported(job.groupError)
      ? outcomeOfThrow(job.groupError)
      : { outcome: 'ERROR' as const, note: `group: ${String((job.groupError as Error)?.message ?? job.groupError)}`, unsupportedBy: undefined });
  } else {
    try {
      const obs = await family.test(adapter, job.group, t);
      ({ outcome, note, accepted } = judge(t.result, obs));
    } catch (e) {
      ({ outcome, note, unsupportedBy: by } = outcomeOfThrow(e));
      if (isRunHalt(e)) halt = { reason: (e.detail as { halt: PartialReason }).halt, note: e.message };
    }
  }
  const r: TestResult = { ...base, outcome };
  if (note !== undefined) r.note = note;
  if (accepted !== undefined) r.accepted = accepted;
  if (by !== undefined) r.unsupportedBy = by;
  if (outcome === 'FAIL' || outcome === 'ERROR') r.meaning = meaningOf(flags, notes);
  return halt ? { result: r, halt } : { result: r };
}

function skipReason(skip: SkipPolicy | undefined, file: VectorFile, t: WycheproofTest, flags: string[]): string | undefined {
  if (!skip) return undefined;
  const f = skip.flags?.find((x) => flags.includes(x));
  if (f) return `skipped by policy: flag ${f}`;
  const listed = skip.tests?.find((x) => x.file === file.name && x.tcIds.includes(Number(t.tcId)));
  if (listed) return `skipped by policy: ${listed.reason}`;
  return skip.predicate?.(file, t);
}

function flagTypesOf(notes: Record<string, WycheproofNote> | undefined): { flagTypes?: Record<string, string> } {
  const out: Record<string, string> = {};
  for (const [flag, n] of Object.entries(notes ?? {})) if (typeof n?.bugType === 'string') out[flag] = n.bugType;
  return Object.keys(out).length ? { flagTypes: out } : {};
}

export function meaningOf(flags: string[], notes: Record<string, WycheproofNote>): FlagNote[] {
  return flags.map((flag) => {
    const n = notes[flag];
    const m: FlagNote = { flag };
    if (n?.bugType) m.bugType = n.bugType;
    if (n?.description) m.description = n.description;
    if (n?.effect) m.effect = n.effect;
    if (n?.cves?.length) m.cves = n.cves;
    return m;
  });
}
