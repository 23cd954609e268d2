/**
 * What one test case came to. Richer than pass/fail because a conformance verdict needs the difference
 * between "wrong" (FAIL), "either answer is defensible" (ACCEPTABLE), "the product does not claim this"
 * (UNSUPPORTED), "we chose not to run it" (SKIPPED) and "the harness could not ask" (ERROR).
 */
import { isAdapterError, isUnsupported, type UnsupportedBy, unsupportedBy } from './product.js';

export const OUTCOMES = ['PASS', 'FAIL', 'ACCEPTABLE', 'UNSUPPORTED', 'SKIPPED', 'ERROR'] as const;
export type Outcome = (typeof OUTCOMES)[number];
export type Expected = 'valid' | 'invalid' | 'acceptable';
export type OutcomeCounts = Record<Outcome, number>;

/** What the product did with a test: accepted it (and produced the expected output) or not. */
export interface Observation {
  accepted: boolean;
  /** Why, in words: the product's error, or what differed. */
  note?: string;
}

/** The meaning of a flag, from the vector file's `notes`. */
export interface FlagNote {
  flag: string;
  bugType?: string;
  description?: string;
  effect?: string;
  cves?: string[];
}

export interface TestResult {
  tcId: number;
  outcome: Outcome;
  expected: Expected;
  comment?: string;
  flags: string[];
  /** For ACCEPTABLE: whether the product accepted. */
  accepted?: boolean;
  note?: string;
  /** For UNSUPPORTED: whether the product lacks it or the lab cannot ask it. */
  unsupportedBy?: UnsupportedBy;
  /** Filled for FAIL (and ERROR): each flag with its bugType and description from the file's notes. */
  meaning?: FlagNote[];
}

export function emptyCounts(): OutcomeCounts {
  return { PASS: 0, FAIL: 0, ACCEPTABLE: 0, UNSUPPORTED: 0, SKIPPED: 0, ERROR: 0 };
}

export function addCounts(into: OutcomeCounts, from: OutcomeCounts): OutcomeCounts {
  for (const o of OUTCOMES) into[o] += from[o];
  return into;
}

/** The outcome of a test from what was expected and what the product did. */
export function judge(expected: Expected, obs: Observation): { outcome: Outcome; accepted?: boolean; note?: string } {
  if (expected === 'acceptable') return { outcome: 'ACCEPTABLE', accepted: obs.accepted, note: obs.note };
  if (expected === 'valid') {
    return obs.accepted
      ? { outcome: 'PASS' }
      : { outcome: 'FAIL', note: `rejected a valid test${obs.note ? `: ${obs.note}` : ''}` };
  }
  return obs.accepted
    ? { outcome: 'FAIL', note: `accepted an invalid test${obs.note ? `: ${obs.note}` : ''}` }
    : { outcome: 'PASS' };
}

/** The outcome of a test whose adapter call threw something the family did not read as a rejection. */
export function outcomeOfThrow(e: unknown): { outcome: Outcome; note: string; unsupportedBy?: UnsupportedBy } {
  const message = e instanceof Error ? e.message : String(e);
  if (isUnsupported(e)) return { outcome: 'UNSUPPORTED', note: message, unsupportedBy: unsupportedBy(e) };
  if (isAdapterError(e)) return { outcome: 'ERROR', note: message };
  return { outcome: 'ERROR', note: `harness: ${message}` };
}

/** Runs a product call; a plain throw is the product refusing, harness-level throws pass through. */
export async function attempt<T>(call: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; note: string }> {
  try {
    return { ok: true, value: await call() };
  } catch (e) {
    if (isUnsupported(e) || isAdapterError(e)) throw e;
    return { ok: false, note: shortMessage(e) };
  }
}

function shortMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.length > 200 ? `${m.slice(0, 200)}…` : m;
}
