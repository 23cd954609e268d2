/**
 * The report of one run: which product, which vector files (by SHA-256, with the upstream commit), what
 * each suite came to, every failure with the meaning of its flags, and the verdict against a profile.
 * Built by a pure function from run results so the CLI, HTTP API and register can all produce the same
 * document; `canonicalReportBytes` gives the exact bytes the lab certificate will sign.
 */
import { addCounts, emptyCounts, type FlagNote, type Outcome, type OutcomeCounts } from '../outcome.js';
import type { ProductInfo, UnsupportedBy } from '../product.js';
import { evaluateProfile, type Profile, type ProfileVerdict } from '../profile.js';
import type { RunResult, SuiteResult, VectorSource } from '../runner.js';

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

export interface LabReport {
  format: typeof REPORT_FORMAT;
  product: Pick<ProductInfo, 'name' | 'version' | 'adapter'>;
  run: { startedAt: string; finishedAt: string };
  sources: VectorSource[];
  suites: ReportSuite[];
  counts: OutcomeCounts;
  failures: ReportFailure[];
  verdict?: ProfileVerdict;
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
      ...(bad.length > MAX_FAILURES_PER_SUITE ? { failuresOmitted: bad.length - MAX_FAILURES_PER_SUITE } : {}),
      ...(skipped.size ? { skipped: [...skipped].map(([reason, count]) => ({ reason, count })) } : {}),
      ...(unsup.size ? { unsupported: [...unsup.values()] } : {}),
    };
  });
  const { name, version, adapter } = input.run.product;
  return {
    format: REPORT_FORMAT,
    product: { name, version, adapter },
    run: { startedAt: input.run.startedAt, finishedAt: input.run.finishedAt },
    sources: [input.run.source, ...(input.extraSources ?? [])],
    suites: reportSuites,
    counts: suites.reduce((c, s) => addCounts(c, s.counts), emptyCounts()),
    failures,
    ...(input.profile ? { verdict: evaluateProfile(input.profile, suites) } : {}),
  };
}
