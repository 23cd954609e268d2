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

export interface VectorSource {
  name: string;
  commit: string;
}

/** The upstream the shared vectors come from (shared/README.md). */
export const WYCHEPROOF_SOURCE: VectorSource = { name: 'C2SP/wycheproof', commit: 'dac1dd4729fd1f8dd9e1e9f3dce51d783da6c166' };

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
  durationMs: number;
}

export interface RunResult {
  product: ProductInfo;
  source: VectorSource;
  startedAt: string;
  finishedAt: string;
  suites: SuiteResult[];
  counts: OutcomeCounts;
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
}

const PROGRESS_EVERY = 64;

/** Runs Wycheproof vector files against one product. */
export async function runSuite(adapter: ProductAdapter, files: readonly VectorFile[], options: RunOptions = {}): Promise<RunResult> {
  const now = options.now ?? (() => new Date());
  const startedAt = now().toISOString();
  const suites: SuiteResult[] = [];
  for (const file of files) {
    options.signal?.throwIfAborted();
    suites.push(await runFile(adapter, file, options));
  }
  return {
    product: adapter.info,
    source: options.source ?? WYCHEPROOF_SOURCE,
    startedAt,
    finishedAt: now().toISOString(),
    suites,
    counts: suites.reduce((c, s) => addCounts(c, s.counts), emptyCounts()),
  };
}

interface Job {
  group: unknown;
  groupError?: unknown;
  test: WycheproofTest;
}

async function runFile(adapter: ProductAdapter, file: VectorFile, options: RunOptions): Promise<SuiteResult> {
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
    while (next < total) {
      options.signal?.throwIfAborted();
      const i = next++;
      const r = await runTest(adapter, family, file, jobs[i], notes, options.skip);
      results[i] = r;
      counts[r.outcome]++;
      done++;
      if (done % PROGRESS_EVERY === 0 || done === total) {
        options.onProgress?.({ type: 'progress', file: file.name, done, total, counts: { ...counts } });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(total, 1)) }, worker));
  results.sort((a, b) => a.tcId - b.tcId);
  options.onProgress?.({ type: 'suite-end', file: file.name, counts: { ...counts } });
  return { ...base, counts, results, durationMs: performance.now() - t0 };
}

async function runTest(
  adapter: ProductAdapter,
  family: Family<unknown> | undefined,
  file: VectorFile,
  job: Job,
  notes: Record<string, WycheproofNote>,
  skip: SkipPolicy | undefined,
): Promise<TestResult> {
  const t = job.test;
  const flags = Array.isArray(t.flags) ? t.flags.map(String) : [];
  const base = { tcId: Number(t.tcId), expected: t.result, comment: t.comment || undefined, flags };
  const reason = skipReason(skip, file, t, flags);
  if (reason) return { ...base, outcome: 'SKIPPED', note: reason };
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
    }
  }
  const r: TestResult = { ...base, outcome };
  if (note !== undefined) r.note = note;
  if (accepted !== undefined) r.accepted = accepted;
  if (by !== undefined) r.unsupportedBy = by;
  if (outcome === 'FAIL' || outcome === 'ERROR') r.meaning = meaningOf(flags, notes);
  return r;
}

function skipReason(skip: SkipPolicy | undefined, file: VectorFile, t: WycheproofTest, flags: string[]): string | undefined {
  if (!skip) return undefined;
  const f = skip.flags?.find((x) => flags.includes(x));
  if (f) return `skipped by policy: flag ${f}`;
  const listed = skip.tests?.find((x) => x.file === file.name && x.tcIds.includes(Number(t.tcId)));
  if (listed) return `skipped by policy: ${listed.reason}`;
  return skip.predicate?.(file, t);
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
