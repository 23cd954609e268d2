/**
 * The whole SigmaHQ set (../shared) over a sample of events, detections compared exactly: with the detections
 * recorded in whole-set-detections.json before the detection engine was reworked for speed (issue 17), between
 * the literal index and plain evaluation of every routed rule, and between the one detector over every rule and
 * the per-kind detectors `truc hunt` builds. The sample: the regression events as recorded, as the intake
 * normalises them and upper-cased, and events made from every rule's own searches (sample-events.ts) so that
 * thousands of rules meet events that satisfy or nearly satisfy them.
 *
 * The recording holds, for each event that any rule matches, the ids of the rules it matches; it is tied to the
 * rule files it was made from (a SHA-256 over their paths and bytes), and when ../shared holds other rules the
 * comparison with it is skipped with the reason printed — the other two comparisons still run. To record anew
 * (only for a change of rule set, never to make a change of the engine pass):
 * `SIGMA_RECORD=1 npx vitest run test/monitor/sigma/whole-set.test.ts`.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { acceptEvent, LocalHour } from '../../../src/monitor/events/normalize.js';
import { Detectors } from '../../../src/monitor/hunt/hunt.js';
import { Detector, loadRuleFiles, ruleFiles, type SigmaDocument } from '../../../src/monitor/sigma/index.js';
import { deriveLogsource } from '../../../src/monitor/sigma/logsource.js';
import { regressionCases, RULE_DIRS, sharedAbsent, SIGMA } from './regression.js';
import { sampleEvents } from './sample-events.js';

const RECORDING = join(import.meta.dirname, 'whole-set-detections.json');
const absent = sharedAbsent();
if (absent) console.log(`whole-set detections skipped: ${absent}`);

interface Recording {
  /** SHA-256 over the rule files' paths (relative to ../shared/sigma) and bytes */
  rules: string;
  events: number;
  detections: number;
  /** event index → the ids of the rules it matches (first 8 characters, unless shared), sorted, space-separated */
  matches: Record<string, string>;
}

type Obj = Record<string, unknown>;

describe.skipIf(absent !== undefined)('the whole SigmaHQ set over a sample of events', () => {
  let documents: SigmaDocument[];
  let detector: Detector;
  let events: Obj[];
  let fingerprint: string;

  beforeAll(async () => {
    const files = await ruleFiles(RULE_DIRS);
    const h = createHash('sha256');
    for (const f of files) h.update(relative(SIGMA, f.path)).update('\u0000').update(readFileSync(f.path)).update('\u0000');
    fingerprint = h.digest('hex');
    documents = (await loadRuleFiles(files)).documents;
    detector = new Detector(documents);
    const recorded = (await regressionCases()).flatMap((c) => c.events ?? []);
    const hour = new LocalHour('Asia/Ho_Chi_Minh');
    const normalised = recorded.flatMap((e) => {
      const a = acceptEvent(structuredClone(e), 'file', hour, Date.UTC(2030, 0, 1));
      return a.ok ? [a.event as unknown as Obj] : [];
    });
    const shouted = recorded.map(
      (e) => JSON.parse(JSON.stringify(e), (_k, v: unknown) => (typeof v === 'string' ? v.toUpperCase() : v)) as Obj,
    );
    events = [...recorded, ...normalised, ...shouted, ...sampleEvents(documents)];
    const full = detector.rules.map((r) => r.rule.id ?? r.rule.name ?? r.rule.title);
    const prefixes = new Map<string, number>();
    for (const id of full) prefixes.set(id.slice(0, 8), (prefixes.get(id.slice(0, 8)) ?? 0) + 1);
    keys = full.map((id) => (prefixes.get(id.slice(0, 8)) === 1 ? id.slice(0, 8) : id));
  }, 300_000);

  /** A rule's id shortened to its first 8 characters, whole where two rules share those. */
  let keys: string[];
  const idsOf = (indices: number[]): string =>
    indices
      .map((i) => keys[i]!)
      .sort()
      .join(' ');

  it('gives the detections recorded before the engine was reworked', () => {
    const matches: Record<string, string> = {};
    let detections = 0;
    events.forEach((e, n) => {
      const m = detector.matchIndices(e);
      detections += m.length;
      if (m.length) matches[n] = idsOf(m);
    });
    const now: Recording = { rules: fingerprint, events: events.length, detections, matches };
    if (process.env.SIGMA_RECORD === '1') {
      writeFileSync(RECORDING, `${JSON.stringify(now, null, 0)}\n`);
      console.log(`recorded ${detections} detections over ${events.length} events in ${RECORDING}`);
      return;
    }
    const before = JSON.parse(readFileSync(RECORDING, 'utf8')) as Recording;
    if (before.rules !== fingerprint) {
      console.log('whole-set recording not compared: ../shared/sigma holds other rule files than those it was made from');
      return;
    }
    console.log(`${events.length} events, ${detections} detections by ${detector.rules.length} rules`);
    expect(now.events).toBe(before.events);
    const differ = Object.keys({ ...before.matches, ...matches })
      .filter((k) => before.matches[k] !== matches[k])
      .slice(0, 20)
      .map((k) => ({ event: Number(k), before: before.matches[k] ?? '', now: matches[k] ?? '' }));
    expect(differ).toEqual([]);
    expect(detections).toBe(before.detections);
  });

  it('gives the same detections with the literal index as without it', () => {
    let compared = 0;
    for (const e of events) {
      const a = detector.matchIndices(e);
      const b = detector.matchIndices(e, undefined, false);
      if (a.length !== b.length || a.some((x, i) => x !== b[i])) expect({ event: e, indexed: idsOf(a), plain: idsOf(b) }).toBeUndefined();
      compared++;
    }
    expect(compared).toBe(events.length);
  });

  it("gives the same detections through the hunt's per-kind detectors", () => {
    const kinds = new Detectors(documents, {});
    for (const e of events) {
      const ls = deriveLogsource(e);
      const whole = detector.match(e, ls).map((m) => m.rule.id ?? m.title);
      const hunt = kinds.for(ls).match(e, ls).map((m) => m.rule.id ?? m.title);
      expect(hunt).toEqual(whole);
    }
  });
});
