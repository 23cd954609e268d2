/** Small builders for rule tests: a rule from a detection written in YAML, and match checks with and without the index. */
import { stringify } from 'yaml';
import { expect } from 'vitest';
import {
  Detector,
  parseRules,
  type DetectorOptions,
  type SigmaRule,
} from '../../../src/monitor/sigma/index.js';

export function ruleText(detection: string, extra = ''): string {
  const body = detection
    .trim()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  return `title: test rule\nid: 11111111-2222-4333-8444-555555555555\nlogsource:\n    product: test\n${extra}detection:\n${body}\n`;
}

export function rule(detection: string, extra = ''): SigmaRule {
  const r = parseRules(ruleText(detection, extra), 'test.yml');
  if (r.rejected.length) throw new Error(r.rejected.map((x) => x.reason).join('; '));
  return r.documents[0] as SigmaRule;
}

/** A detector over one rule, for events of product `test`. */
export function detector(detection: string, opts: DetectorOptions = {}): Detector {
  const d = new Detector([rule(detection)], opts);
  if (d.rejected.length) throw new Error(d.rejected.map((x) => x.reason).join('; '));
  return d;
}

/** Whether the rule matches the event; asserts that the indexed and unindexed paths agree. */
export function hits(d: Detector, event: Record<string, unknown>): boolean {
  const ls = { product: 'test', categories: [], services: [] };
  const a = d.match(event, ls).length > 0;
  const b = d.matchUnindexed(event, ls).length > 0;
  expect(a, `index and plain evaluation disagree on ${JSON.stringify(event)}`).toBe(b);
  return a;
}

/** Asserts which events match a detection and which do not. */
export function expectMatches(
  detection: string,
  yes: Record<string, unknown>[],
  no: Record<string, unknown>[],
  opts: DetectorOptions = {},
): void {
  const d = detector(detection, opts);
  for (const e of yes) expect(hits(d, e), `should match ${JSON.stringify(e)}`).toBe(true);
  for (const e of no) expect(hits(d, e), `should not match ${JSON.stringify(e)}`).toBe(false);
}

export { stringify };
