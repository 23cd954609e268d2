/**
 * Sigma detection throughput on one core: events per second through `Detector.match` with 100 rules and with
 * the whole SigmaHQ Windows ruleset, fed with the SigmaHQ regression events (replicated with varied ids,
 * hosts and process ids so that no per-event cache can carry over). Prints JSON; `run()` returns it.
 * Needs ../shared (the SigmaHQ rules and regression data) from the repository root.
 */
import { pathToFileURL } from 'node:url';
import { Detector, loadRules, type SigmaDocument, type SigmaRule } from '../src/monitor/sigma/index.js';
import { regressionCases, RULE_DIRS, sharedAbsent } from '../test/monitor/sigma/regression.js';

function vary(events: Record<string, unknown>[], copies: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let c = 0; c < copies; c++) {
    for (const e of events) {
      const clone = structuredClone(e) as {
        Event?: { System?: Record<string, unknown>; EventData?: Record<string, unknown> };
      };
      const sys = clone.Event?.System;
      const data = clone.Event?.EventData;
      if (sys) {
        sys.EventRecordID = 1_000_000 + out.length;
        sys.Computer = `host-${c % 17}.example.vn`;
      }
      if (data) {
        if ('ProcessId' in data) data.ProcessId = 1000 + ((out.length * 7) % 60_000);
        if (typeof data.ProcessGuid === 'string')
          data.ProcessGuid = `{${c.toString(16).padStart(8, '0')}-0000-0000-0000-${out.length.toString(16).padStart(12, '0')}}`;
        if (typeof data.UtcTime === 'string')
          data.UtcTime = `2026-01-${String(1 + (c % 28)).padStart(2, '0')} 10:00:${String(c % 60).padStart(2, '0')}.000`;
      }
      out.push(clone as Record<string, unknown>);
    }
  }
  return out;
}

/**
 * Events per second of wall time and of CPU time (user + system of this process, which runs on one thread):
 * on a shared machine the second is the steadier figure. Best of several rounds after a warm-up.
 */
function measure(
  d: Detector,
  events: Record<string, unknown>[],
  minMs: number,
): { eventsPerSecond: number; eventsPerCpuSecond: number; matchesPerEvent: number } {
  for (const e of events) d.match(e); // warm-up: JIT and route caches
  let bestWall = 0;
  let bestCpu = 0;
  let matches = 0;
  let n = 0;
  const until = performance.now() + minMs;
  do {
    const w = performance.now();
    const c = process.cpuUsage();
    for (const e of events) matches += d.match(e).length;
    const cu = process.cpuUsage(c);
    const wall = (performance.now() - w) / 1000;
    const cpu = (cu.user + cu.system) / 1e6;
    n += events.length;
    bestWall = Math.max(bestWall, events.length / wall);
    bestCpu = Math.max(bestCpu, events.length / cpu);
  } while (performance.now() < until);
  return {
    eventsPerSecond: Math.round(bestWall),
    eventsPerCpuSecond: Math.round(bestCpu),
    matchesPerEvent: Number((matches / n).toFixed(3)),
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const absent = sharedAbsent();
  if (absent) return { skipped: absent };
  const loaded = await loadRules(RULE_DIRS);
  const cases = await regressionCases();
  const base = cases.flatMap((c) => c.events ?? []);
  const events = vary(base, Math.ceil(5000 / base.length));
  const windows = loaded.documents.filter(
    (d): d is SigmaRule => d.kind === 'rule' && String(d.logsource.product).toLowerCase() === 'windows',
  );
  // 100 rules: those the first regression cases test, so that the events do exercise them.
  const wanted = new Set(cases.slice(0, 100).map((c) => c.ruleId));
  const hundred: SigmaDocument[] = windows
    .filter((r) => r.id !== undefined && wanted.has(r.id))
    .slice(0, 100);
  for (const r of windows) {
    if (hundred.length >= 100) break;
    if (!hundred.includes(r)) hundred.push(r);
  }
  const t0 = performance.now();
  const full = new Detector(windows);
  const compileMs = Math.round(performance.now() - t0);
  const small = new Detector(hundred);
  const minMs = Number(process.env.BENCH_MS ?? 3000);
  const r100 = measure(small, events, minMs);
  const rFull = measure(full, events, minMs);
  const rFullNoIndex = measure(new Detector(windows, { index: false }), events, Math.min(minMs, 1500));
  return {
    benchmark: 'monitor-sigma',
    node: process.version,
    events: events.length,
    distinctEvents: base.length,
    rules100: { rules: small.rules.length, ...r100, target: 100_000 },
    rulesFull: {
      rules: full.rules.length,
      rejected: full.rejected.length,
      compileMs,
      ...rFull,
      target: 20_000,
      index: full.stats(),
    },
    rulesFullWithoutIndex: rFullNoIndex,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await run(), null, 2));
}
