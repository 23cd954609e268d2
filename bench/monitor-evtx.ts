/**
 * EVTX reading speed: records per second on one core, from `.evtx` bytes in memory to `{ Event: … }`
 * objects. The SigmaHQ regression recordings in ../shared (Sysmon, Security, Defender, WMI…) hold one chunk
 * each with one or a few live records, so reading them measures the per-chunk work (checksums, template
 * compilation) more than the per-record work; the main figure is taken on a file of full chunks made from
 * them (each chunk filled with copies of its records that refer to its templates, as Windows writes them).
 * Prints JSON; `run()` returns it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readEvtx } from '../src/monitor/intake/evtx/index.js';
import { buildEvtx, fillChunk } from '../test/monitor/evtx-fixtures.js';

export const title = 'EVTX reading (src/monitor/intake/evtx)';

type Measured = { records: number; recordsPerSecond: number; recordsPerCpuSecond: number };

export function describe(r: Record<string, unknown>): string {
  if (r.skipped) return `Skipped: ${String(r.skipped)}.`;
  const row = (what: string, m: Measured) => `| ${what} | ${m.records.toLocaleString('en')} | ${m.recordsPerSecond.toLocaleString('en')} | ${m.recordsPerCpuSecond.toLocaleString('en')} |`;
  const full = r.fullChunks as Measured & { bytes: number };
  const rec = r.recordings as Measured & { files: number };
  return [
    'Records per second from `.evtx` bytes in memory to `{ Event: … }` objects (the evtx_dump layout), on one core, 5 s a row. The SigmaHQ regression recordings (../shared) hold one chunk each with one or a few records, so reading them measures the per-chunk work (checksums, template compilation); the main row is a file of full 64 KiB chunks made from them (each chunk filled with copies of its records, as Windows writes them). Figures per CPU second are steadier on a shared machine.',
    '',
    '| input | records read | records/s (wall) | records per CPU second |',
    '|---|---:|---:|---:|',
    row(`full chunks (${(full.bytes / 1048576).toFixed(1)} MiB)`, full),
    row(`the ${rec.files} recordings as they are`, rec),
    row('the recordings, carving slack space too', r.recordingsWithCarving as Measured),
    '',
    'Issue 17 asks for at least 20,000 events/s per core from `.evtx` to alerts with the SigmaHQ Windows set; reading is a fifth of that work (see `hunt`).',
  ].join('\n');
}

function files(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) files(p, out);
    else if (n.endsWith('.evtx')) out.push(p);
  }
  return out;
}

/** Records a second of wall time, and a second of this process's CPU time (steadier on a shared machine). */
function measure(data: Buffer[], carve: boolean, seconds: number): { records: number; recordsPerSecond: number; recordsPerCpuSecond: number } {
  let records = 0;
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < seconds * 1000) {
    for (const d of data) for (const _ of readEvtx(d, { carve })) records++;
    t = performance.now();
  }
  const used = process.cpuUsage(cpu);
  return {
    records,
    recordsPerSecond: Math.round(records / ((t - t0) / 1000)),
    recordsPerCpuSecond: Math.round(records / ((used.user + used.system) / 1e6)),
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = resolve(process.cwd(), '../shared/sigma/regression_data');
  if (!existsSync(dir)) return { skipped: `${dir} not found` };
  const data = files(dir).map((f) => readFileSync(f));
  const full = [buildEvtx(data.map((d) => fillChunk(d)))];
  measure(full, false, 1); // warm-up
  const fullChunks = measure(full, false, 5);
  const recordings = measure(data, false, 5);
  const carved = measure(data, true, 5);
  return {
    fullChunks: { bytes: full[0]!.length, ...fullChunks },
    recordings: { files: data.length, ...recordings },
    recordingsWithCarving: carved,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(JSON.stringify(await run(), null, 2));
