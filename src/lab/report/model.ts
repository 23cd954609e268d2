/**
 * The report of one run: which product, which vector files (the folder read and each file's SHA-256; the
 * upstream commit only for byte-identical files), what each suite and each Wycheproof flag came to, every
 * failure with the meaning of its flags, whether the run was cut short, and the verdict against a profile.
 * Built by a pure function from run results so the CLI, HTTP API and register can all produce the same
 * document; `canonicalReportBytes` gives the exact bytes the lab certificate will sign.
 */
import { addCounts, emptyCounts, type FlagNote, type Outcome, type OutcomeCounts } from '../outcome.js';
import type { ProductInfo, UnsupportedBy } from '../product.js';
import { evaluateProfile, type Profile, type ProfileVerdict } from '../profile.js';
import type { PartialRun, RunResult, SuiteResult, VectorSource } from '../runner.js';

export const REPORT_FORMAT = 'truc-lab-report/1';
/** Failures listed per suite at most; the counts always cover all of them. */
export const MAX_FAILURES_PER_SUITE = 500;
/** Distinct UNSUPPORTED reasons listed per suite at most; the rest are counted under one line. */
export const MAX_UNSUPPORTED_REASONS = 20;

export interface ReportSuite {
  kind: 'wycheproof' | 'acvp';
  file: string;
  algorithm: string;
  schema: string;
  family?: string;
  sha256: string;
  storedSha256?: string;
  counts: OutcomeCounts;
  durationMs: number;
  error?: string;
  /** Tests never asked: the run was cut short during this suite. */
  notRun?: number;
  failuresOmitted?: number;
  /** Tests not run by policy, counted per reason (present only when some were skipped). */
  skipped?: { reason: string; count: number }[];
  /**
   * UNSUPPORTED tests per reason and per who lacks it: `product` (the product does not do this) or `lab`
   * (the lab cannot put the question to this product), so a reader can tell the two apart.
   */
  unsupported?: { by: UnsupportedBy; reason: string; count: number }[];
}

export interface ReportFailure {
  file: string;
  tcId: number;
  outcome: Extract<Outcome, 'FAIL' | 'ERROR'>;
  expected: string;
  comment?: string;
  flags: string[];
  meaning: FlagNote[];
  note?: string;
}

/** Outcomes of every test carrying one Wycheproof flag, over all suites (a test with two flags counts under both). */
export interface FlagCoverage {
  flag: string;
  /** The flag's bug type from the files' notes (the first file that gives one). */
  bugType?: string;
  counts: OutcomeCounts;
}

export interface LabReport {
  format: typeof REPORT_FORMAT;
  product: Pick<ProductInfo, 'name' | 'version' | 'adapter'>;
  run: { startedAt: string; finishedAt: string };
  /** Present when the run was cut short: why, how many tests ran, which suites were never reached. */
  partial?: PartialRun;
  sources: VectorSource[];
  suites: ReportSuite[];
  counts: OutcomeCounts;
  /** Coverage per flag (bug type), sorted by flag. */
  flags: FlagCoverage[];
  failures: ReportFailure[];
  verdict?: ProfileVerdict;
}

/** What a reader is told of a partial run, Vietnamese first with English beside. */
export function partialSummary(p: PartialRun): string {
  return (
    `KẾT QUẢ CHƯA ĐẦY ĐỦ — ${p.note}. Đã chạy ${p.testsRun} phép thử, ${p.testsNotRun} chưa chạy; bộ chưa tới: ${p.suitesNotReached.join(', ') || 'không có'} ` +
    `(PARTIAL — ${p.testsRun} tests ran, ${p.testsNotRun} not run; suites not reached: ${p.suitesNotReached.join(', ') || 'none'})`
  );
}

export interface ReportInput {
  run: RunResult;
  /** Further suites run against the same product (e.g. ACVP sets). */
  extraSuites?: SuiteResult[];
  extraSources?: VectorSource[];
  profile?: Profile;
}

export function buildReport(input: ReportInput): LabReport {
  const suites = [...input.run.suites, ...(input.extraSuites ?? [])];
  const failures: ReportFailure[] = [];
  const reportSuites: ReportSuite[] = suites.map((s) => {
    const bad = s.results.filter((r) => r.outcome === 'FAIL' || r.outcome === 'ERROR');
    for (const r of bad.slice(0, MAX_FAILURES_PER_SUITE)) {
      failures.push({
        file: s.file,
        tcId: r.tcId,
        outcome: r.outcome as 'FAIL' | 'ERROR',
        expected: r.expected,
        ...(r.comment ? { comment: r.comment } : {}),
        flags: r.flags,
        meaning: r.meaning ?? [],
        ...(r.note ? { note: r.note } : {}),
      });
    }
    const skipped = new Map<string, number>();
    for (const r of s.results) if (r.outcome === 'SKIPPED') skipped.set(r.note ?? 'skipped by policy', (skipped.get(r.note ?? 'skipped by policy') ?? 0) + 1);
    const unsup = new Map<string, { by: UnsupportedBy; reason: string; count: number }>();
    for (const r of s.results) {
      if (r.outcome !== 'UNSUPPORTED') continue;
      const by = r.unsupportedBy ?? 'product';
      let reason = r.note ?? 'unsupported';
      if (!unsup.has(`${by}\0${reason}`) && unsup.size >= MAX_UNSUPPORTED_REASONS) reason = 'other reasons / lý do khác';
      const row = unsup.get(`${by}\0${reason}`) ?? { by, reason, count: 0 };
      row.count++;
      unsup.set(`${by}\0${reason}`, row);
    }
    return {
      kind: s.kind,
      file: s.file,
      algorithm: s.algorithm,
      schema: s.schema,
      ...(s.family ? { family: s.family } : {}),
      sha256: s.sha256,
      ...(s.storedSha256 ? { storedSha256: s.storedSha256 } : {}),
      counts: s.counts,
      durationMs: Math.round(s.durationMs),
      ...(s.error ? { error: s.error } : {}),
      ...(s.notRun ? { notRun: s.notRun } : {}),
      ...(bad.length > MAX_FAILURES_PER_SUITE ? { failuresOmitted: bad.length - MAX_FAILURES_PER_SUITE } : {}),
      ...(skipped.size ? { skipped: [...skipped].map(([reason, count]) => ({ reason, count })) } : {}),
      ...(unsup.size ? { unsupported: [...unsup.values()] } : {}),
    };
  });
  const { name, version, adapter } = input.run.product;
  const partial = input.run.partial;
  let verdict = input.profile ? evaluateProfile(input.profile, suites) : undefined;
  // a run cut short evidences nothing about what it did not reach: never PASS
  if (verdict && partial) verdict = { ...verdict, verdict: 'FAIL', reasons: [partialSummary(partial), ...verdict.reasons] };
  return {
    format: REPORT_FORMAT,
    product: { name, version, adapter },
    run: { startedAt: input.run.startedAt, finishedAt: input.run.finishedAt },
    ...(partial ? { partial } : {}),
    sources: [...input.run.sources, ...(input.extraSources ?? [])],
    suites: reportSuites,
    counts: suites.reduce((c, s) => addCounts(c, s.counts), emptyCounts()),
    flags: flagCoverage(suites),
    failures,
    ...(verdict ? { verdict } : {}),
  };
}

function flagCoverage(suites: readonly SuiteResult[]): FlagCoverage[] {
  const rows = new Map<string, FlagCoverage>();
  for (const s of suites) {
    for (const r of s.results) {
      for (const flag of new Set(r.flags)) {
        let row = rows.get(flag);
        if (!row) rows.set(flag, (row = { flag, counts: emptyCounts() }));
        row.counts[r.outcome]++;
        const bugType = s.flagTypes?.[flag] ?? r.meaning?.find((m) => m.flag === flag)?.bugType;
        if (!row.bugType && bugType) row.bugType = bugType;
      }
    }
  }
  return [...rows.values()].sort((a, b) => (a.flag < b.flag ? -1 : a.flag > b.flag ? 1 : 0));
}
