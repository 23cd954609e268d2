/**
 * `truc hunt` speed: events per second on one core from files on disk to alerts (read, parse, normalise as
 * the intake does, detect with the whole SigmaHQ set, correlate, say which fields matched), over the SigmaHQ
 * regression recordings in ../shared — the 202 `.evtx` files when the intake reads EVTX, their JSON twins, and
 * one large NDJSON file of the same events replicated with varied ids, hosts and times. Peers measured in the
 * same run: reading and JSON.parse of the same bytes alone (the floor any JSON hunt pays), and detection
 * alone over events already in memory. Start-up: `truc hunt` over one small file as a new process, cold
 * (no rule cache: every YAML file parsed) and warm (the cache read back). Prints JSON; `run()` returns it.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HuntRules, huntFiles, readHuntFile } from '../src/monitor/hunt/index.js';
import { formatOf } from '../src/monitor/intake/file.js';
import { acceptEvent, LocalHour } from '../src/monitor/events/normalize.js';
import { deriveLogsource } from '../src/monitor/sigma/logsource.js';
import { loadRulesCached } from '../src/monitor/sigma/cache.js';
import { REGRESSION, RULE_DIRS, sharedAbsent } from '../test/monitor/sigma/regression.js';
import { buildEvtx, fillChunk } from '../test/monitor/evtx-fixtures.js';
import { readEvtxFile } from '../src/monitor/intake/evtx/index.js';

export const title = 'forensic hunting over files (truc hunt)';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TARGET = 20_000;
/** Hayabusa's published figures for the same kind of work (its own rules), quoted, not measured here. */
const HAYABUSA = '12,800–18,300 events/s (published)';

function walk(dir: string, ext: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) walk(p, ext, out);
    else if (n.endsWith(ext)) out.push(p);
  }
  return out;
}

interface Rate {
  events: number;
  passes: number;
  eventsPerSecond: number;
  eventsPerCpuSecond: number;
}

/** Best pass of `f` (returns the events it handled) by wall time and by CPU time, for at least `ms`. */
async function measure(f: () => Promise<number>, ms: number): Promise<Rate> {
  await f(); // warm-up: JIT, detectors compiled for the kinds of event met, the file cache
  let wall = 0;
  let cpu = 0;
  let events = 0;
  let passes = 0;
  const until = performance.now() + ms;
  do {
    const c = process.cpuUsage();
    const t = performance.now();
    events = await f();
    const w = (performance.now() - t) / 1000;
    const u = process.cpuUsage(c);
    wall = Math.max(wall, events / w);
    cpu = Math.max(cpu, events / ((u.user + u.system) / 1e6));
    passes++;
  } while (performance.now() < until || passes < 3);
  return { events, passes, eventsPerSecond: Math.round(wall), eventsPerCpuSecond: Math.round(cpu) };
}

/** Copies of the regression events with distinct record ids, hosts, process ids and times. */
function vary(events: Record<string, unknown>[], copies: number): string[] {
  const out: string[] = [];
  for (let c = 0; c < copies; c++) {
    for (const e of events) {
      const clone = structuredClone(e) as { Event?: { System?: Record<string, unknown>; EventData?: Record<string, unknown> } };
      const sys = clone.Event?.System;
      const data = clone.Event?.EventData;
      if (sys) {
        sys.EventRecordID = 1_000_000 + out.length;
        sys.Computer = `host-${c % 17}.example.vn`;
        const tc = sys.TimeCreated as { '#attributes'?: { SystemTime?: string } } | undefined;
        if (tc?.['#attributes']) tc['#attributes'].SystemTime = new Date(Date.UTC(2026, 0, 1) + out.length * 1000).toISOString();
      }
      if (data && 'ProcessId' in data) data.ProcessId = 1000 + ((out.length * 7) % 60_000);
      out.push(JSON.stringify(clone));
    }
  }
  return out;
}

function chunksOf(f: string): number {
  return Math.round((statSync(f).size - 4096) / 65536);
}

function cli(args: string[], env: NodeJS.ProcessEnv, entry = join(ROOT, 'bin/truc.js')): Promise<number> {
  return new Promise((done, fail) => {
    const t = performance.now();
    execFile(process.execPath, [entry, 'hunt', ...args], { env, cwd: ROOT, maxBuffer: 64 << 20 }, (err) => {
      const code = (err as { code?: unknown } | null)?.code;
      if (err && code !== 6) fail(err);
      else done(Math.round(performance.now() - t));
    });
  });
}

export async function run(): Promise<Record<string, unknown>> {
  const absent = sharedAbsent();
  if (absent) return { skipped: absent };
  const ms = Number(process.env.BENCH_MS ?? 4000);
  const loadBefore = loadavg()[0]!;
  const work = mkdtempSync(join(tmpdir(), 'truc-bench-hunt-'));
  try {
    const cacheDir = join(work, 'cache');
    const loaded = await loadRulesCached(RULE_DIRS, { dir: cacheDir });
    const jsonFiles = walk(REGRESSION, '.json');
    const small = join(work, 'small');
    mkdirSync(small);
    copyFileSync(jsonFiles[0]!, join(small, 'one.json'));
    // the start of a hunt over one small file, timed inside the process before the large inputs take memory:
    // the cache read back, then reading the file, compiling the rules its events meet and hunting
    const t1 = performance.now();
    const again = await loadRulesCached(RULE_DIRS, { dir: cacheDir });
    const cacheReadMs = Math.round(performance.now() - t1);
    const t2 = performance.now();
    await huntFiles([join(small, 'one.json')], again.documents);
    const firstHuntMs = Math.round(performance.now() - t2);
    const rules = new HuntRules(loaded.documents);
    const evtxFiles = walk(REGRESSION, '.evtx');
    const evtx = formatOf('x.evtx') === ('evtx' as string);

    // the regression events, and a large NDJSON file of them varied
    const base: Record<string, unknown>[] = [];
    for (const f of jsonFiles) for await (const r of readHuntFile(f)) if (r.value) base.push(r.value as Record<string, unknown>);
    const lines = vary(base, Math.ceil(10_000 / base.length));
    const big = join(work, 'events.ndjson');
    writeFileSync(big, lines.join('\n') + '\n');
    const bigBytes = statSync(big).size;

    // a large .evtx: the regression recordings' chunks, each filled with copies of its records as Windows
    // fills chunks (their own hold one or two records, which measures per-chunk work), three times over
    const bigEvtx = join(work, 'events.evtx');
    if (evtx) {
      const chunks = evtxFiles.map((f, i) => fillChunk(readFileSync(f), 1 + i * 1000));
      writeFileSync(bigEvtx, buildEvtx([...chunks, ...chunks, ...chunks]));
    }

    const hunt = (paths: string[]) => async () => (await huntFiles(paths, rules)).summary.events;
    const largeEvtx = evtx ? await measure(hunt([bigEvtx]), ms) : undefined;
    const evtxDetections = evtx ? (await huntFiles([bigEvtx], rules)).summary.detections : 0;
    const large = await measure(hunt([big]), ms);
    const regressionJson = await measure(hunt(jsonFiles), ms);
    const regressionEvtx = evtx ? await measure(hunt(evtxFiles), ms) : undefined;
    const detections = (await huntFiles([big], rules)).summary.detections;

    // peers on the same bytes: reading and JSON.parse alone; detection alone over events in memory
    const parseOnly = await measure(async () => {
      const text = readFileSync(big, 'utf8');
      let n = 0;
      for (let at = 0; at < text.length; ) {
        const nl = text.indexOf('\n', at);
        const end = nl < 0 ? text.length : nl;
        if (end > at) {
          JSON.parse(text.slice(at, end));
          n++;
        }
        at = end + 1;
      }
      return n;
    }, ms);
    const evtxOnly = evtx
      ? await measure(async () => {
          let n = 0;
          for await (const r of readEvtxFile(bigEvtx)) if (r) n++;
          return n;
        }, ms)
      : undefined;
    const hour = new LocalHour('Asia/Ho_Chi_Minh');
    const prepared = lines.map((l) => {
      const a = acceptEvent(JSON.parse(l), 'file', hour);
      if (!a.ok) throw new Error(a.reason);
      const e = a.event as unknown as Record<string, unknown>;
      return { e, ls: deriveLogsource(e) };
    });
    const detectOnly = await measure(async () => {
      for (const p of prepared) rules.detectors.for(p.ls).match(p.e, p.ls);
      return prepared.length;
    }, ms);

    // start-up of a hunt over one small file, as a new process: cold (no cache) and warm (cache read back)
    const args = [...RULE_DIRS.flatMap((d) => ['--rules', d]), join(small, 'one.json')];
    const env: NodeJS.ProcessEnv = { ...process.env, TRUC_CACHE_DIR: join(work, 'cli-cache') };
    delete env.TRUC_CONFIG;
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < 2; i++) {
      rmSync(env.TRUC_CACHE_DIR!, { recursive: true, force: true });
      cold.push(await cli(args, env));
      warm.push(await cli(args, env));
      warm.push(await cli(args, env));
    }
    // the same with the compiled command (what an installation runs): built now from the sources as they are
    let built: { coldMs: number; warmMs: number } | string;
    try {
      await new Promise<void>((done, fail) =>
        execFile(process.execPath, [join(ROOT, 'scripts/build-cli.mjs')], { cwd: ROOT }, (err) => (err ? fail(err) : done())),
      );
      const id = (JSON.parse(readFileSync(join(ROOT, 'dist/cli/current.json'), 'utf8')) as { id: string }).id;
      const entry = join(ROOT, 'dist/cli', id, 'main.js');
      const c: number[] = [];
      const w: number[] = [];
      for (let i = 0; i < 2; i++) {
        rmSync(env.TRUC_CACHE_DIR!, { recursive: true, force: true });
        c.push(await cli(args, env, entry));
        w.push(await cli(args, env, entry));
        w.push(await cli(args, env, entry));
      }
      built = { coldMs: Math.min(...c), warmMs: Math.min(...w) };
    } catch (e) {
      built = `not measured: ${(e as Error).message.split('\n')[0]}`;
    }
    return {
      benchmark: 'hunt',
      node: process.version,
      loadAverage: { before: Number(loadBefore.toFixed(1)), after: Number(loadavg()[0]!.toFixed(1)) },
      rules: { loaded: loaded.documents.length, compiledForTheseEvents: rules.detectors.compiled },
      target: TARGET,
      largeEvtx: largeEvtx
        ? { file: `${largeEvtx.events} events in ${chunksOf(bigEvtx)} chunks, ${(statSync(bigEvtx).size / 2 ** 20).toFixed(1)} MiB`, detections: evtxDetections, ...largeEvtx }
        : 'not measured: the intake does not read .evtx yet',
      largeNdjson: { file: `${lines.length} events, ${(bigBytes / 2 ** 20).toFixed(1)} MiB`, detections, ...large },
      regressionJson: { files: jsonFiles.length, ...regressionJson },
      regressionEvtx: regressionEvtx ? { files: evtxFiles.length, ...regressionEvtx } : 'not measured: the intake does not read .evtx yet',
      peers: {
        evtxReaderOnly: evtxOnly ?? 'not measured',
        readAndJsonParse: parseOnly,
        detectionOnly: detectOnly,
        hayabusa: HAYABUSA,
      },
      startup: {
        sources: { coldMs: Math.min(...cold), warmMs: Math.min(...warm) },
        built,
        inProcess: { cacheReadMs, firstHuntOfOneFileMs: firstHuntMs },
      },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function describe(r: Record<string, any>): string {
  if (r.skipped) return `Skipped: ${r.skipped}`;
  const n = (x: number) => x.toLocaleString('en-US');
  const row = (name: string, x: any, what: string) =>
    typeof x === 'string' ? `| ${name} | ${x} | | | |` : `| ${name} | ${what} | ${n(x.eventsPerCpuSecond)} | ${n(x.eventsPerSecond)} | ${x.passes} |`;
  return [
    `From files on disk to alerts with the whole SigmaHQ set loaded (${n(r.rules.loaded)} documents; the events here meet ${n(r.rules.compiledForTheseEvents)} of its rules), one process, one thread. Target: ${n(r.target)} events/s per core. Best pass after a warm-up; the CPU-time figure is the steadier one on a shared machine (load average ${r.loadAverage.before} before the run, ${r.loadAverage.after} after: other work ran beside it).`,
    '',
    '| input | what | events per CPU second | events per second (wall) | passes |',
    '|---|---|---|---|---|',
    row('one large `.evtx`', r.largeEvtx, typeof r.largeEvtx === 'string' ? '' : `${r.largeEvtx.file}, ${n(r.largeEvtx.detections)} detections a pass`),
    row('one NDJSON file', r.largeNdjson, `${r.largeNdjson.file}, ${n(r.largeNdjson.detections)} detections a pass`),
    row('202 regression `.evtx`', r.regressionEvtx, `${r.regressionEvtx?.events ?? ''} events a pass, one file each`),
    row('202 regression `.json`', r.regressionJson, `${r.regressionJson.events} events a pass, one file each`),
    row('peer: EVTX reader only', r.peers.evtxReaderOnly, 'the large `.evtx`, records to objects, no detection'),
    row('peer: read + JSON.parse only', r.peers.readAndJsonParse, 'the NDJSON file, no detection'),
    row('peer: detection only', r.peers.detectionOnly, 'the same events in memory, normalised'),
    `| Hayabusa | ${r.peers.hayabusa}, its own rules; quoted, not measured | | | |`,
    '',
    '',
    'Start-up of `truc hunt` over one small file with the whole set, as a new process, best of two (cold) or four (warm):',
    '',
    '| command | cold: no rule cache (3,777 YAML files parsed and validated, the cache written) | warm: the cache read back |',
    '|---|---|---|',
    `| compiled (\`npm run build\`, what an installation runs) | ${typeof r.startup.built === 'string' ? r.startup.built : `${n(r.startup.built.coldMs)} ms`} | ${typeof r.startup.built === 'string' ? '' : `${n(r.startup.built.warmMs)} ms`} |`,
    `| sources through tsx (a development checkout) | ${n(r.startup.sources.coldMs)} ms | ${n(r.startup.sources.warmMs)} ms |`,
    '',
    `Inside the process: cache read ${r.startup.inProcess.cacheReadMs} ms, then reading the file, compiling the rules its events meet and hunting ${r.startup.inProcess.firstHuntOfOneFileMs} ms.`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await run(), null, 2));
}
