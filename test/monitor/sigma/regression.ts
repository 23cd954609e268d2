/**
 * The SigmaHQ regression data as test input: each case directory has an `info.yml` (the rule id and the
 * expected match count) and the events of the original EVTX as concatenated JSON documents.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

export const SHARED = resolve(process.cwd(), '../shared');
export const SIGMA = join(SHARED, 'sigma');
export const REGRESSION = join(SIGMA, 'regression_data');
export const RULE_DIRS = ['rules', 'rules-emerging-threats', 'rules-threat-hunting', 'rules-placeholder'].map(
  (d) => join(SIGMA, d),
);

export function sharedAbsent(): string | undefined {
  return existsSync(REGRESSION)
    ? undefined
    : `../shared/sigma/regression_data not found from ${process.cwd()}`;
}

export interface RegressionCase {
  dir: string;
  ruleId: string;
  title: string;
  /** Undefined when info.yml gives no count: then at least one match is expected. */
  expected: number | undefined;
  /** Undefined when the case has no JSON events (e.g. a raw syslog case with its test commented out). */
  events: Record<string, unknown>[] | undefined;
  /** Name of the event file. */
  file: string | undefined;
}

/** Splits concatenated JSON documents (`{...}{...}` or one per line) without a full streaming parser. */
export function splitJson(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}') {
      if (--depth === 0) out.push(JSON.parse(text.slice(start, i + 1)) as Record<string, unknown>);
    }
  }
  return out;
}

async function walk(dir: string, out: string[]): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (e.name === 'info.yml') out.push(dir);
  }
}

export async function regressionCases(): Promise<RegressionCase[]> {
  const dirs: string[] = [];
  await walk(REGRESSION, dirs);
  dirs.sort();
  const cases: RegressionCase[] = [];
  for (const dir of dirs) {
    const info = parse(await readFile(join(dir, 'info.yml'), 'utf8')) as {
      rule_metadata: { id: string; title: string }[];
      regression_tests_info?: { match_count?: number; path?: string }[];
    };
    const meta = info.rule_metadata[0]!;
    const test = info.regression_tests_info?.[0];
    const json = (await readdir(dir)).find((f) => f.endsWith('.json'));
    cases.push({
      dir,
      ruleId: meta.id,
      title: meta.title,
      expected: test?.match_count,
      events: json ? splitJson(await readFile(join(dir, json), 'utf8')) : undefined,
      file: json,
    });
  }
  return cases;
}
