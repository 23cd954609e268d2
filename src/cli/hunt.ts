/**
 * `truc hunt PATH…`: forensic hunting over event files (EVTX, Windows XML exports, JSON, NDJSON) with the
 * Sigma rules the platform loads — Trục's pack and `monitor.ruleDirs`, or the folders given with --rules —
 * correlations included, with no database and no server: the data folder is never opened. Exit codes: 0 no
 * detection, 6 detections found (as `truc scan` for an infected file), 3 no detection but a file or a path
 * could not be read, 2 usage, 1 anything else.
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { TrucError } from '../errors.js';
import { fail } from './output.js';
import { loadBefore } from './lazy.js';
import type * as ConfigApi from '../config.js';
import type * as HuntApi from '../monitor/hunt/index.js';
import type * as SigmaApi from '../monitor/sigma/index.js';
import type * as MonitorConfigApi from '../monitor/config.js';
import type * as ProgressApi from './progress.js';

// loaded when the command runs (./lazy.ts): the rules, the intake's readers and the detector — no database,
// no PKI, no HTTP
let loadConfig: typeof ConfigApi.loadConfig;
let hunt: typeof HuntApi;
let sigma: typeof SigmaApi;
let monitorConfig: typeof MonitorConfigApi.monitorConfig;
let BUILTIN_RULES_DIR: string;
let progressBar: typeof ProgressApi.progressBar;

async function load(): Promise<void> {
  [{ loadConfig }, hunt, sigma, { monitorConfig, BUILTIN_RULES_DIR }, { progressBar }] = await Promise.all([
    import('../config.js'),
    import('../monitor/hunt/index.js'),
    import('../monitor/sigma/index.js'),
    import('../monitor/config.js'),
    import('./progress.js'),
  ]);
}

/** Exit code when detections were found. */
export const EXIT_DETECTIONS = 6;
/** Exit code when nothing was found but some input could not be read. */
export const EXIT_UNREADABLE = 3;

const LEVELS = ['informational', 'low', 'medium', 'high', 'critical'];

function dateOption(name: string) {
  return (v: string): Date => {
    const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
    if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(d.getTime()))
      throw new InvalidArgumentError(`${name}: cần ngày giờ ISO 8601 / wants an ISO 8601 date, got "${v}"`);
    return d;
  };
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function huntCommand(program: Command): void {
  const cmd = program
    .command('hunt <paths...>')
    .description(
      'Săn tìm trên tệp nhật ký / Hunt over event files (.evtx, Windows XML exports, JSON, NDJSON; folders recursively) with the Sigma rules and correlations — no database, no server. Exit 0 nothing found, 6 detections, 3 unreadable input.',
    )
    .option('--rules <path>', "Sigma rule folder or file (repeatable; default: monitor.ruleDirs of the configuration)", collect)
    .option('--no-builtin-rules', "leave out Trục's own rule pack")
    .option('--csv', 'CSV on stdout (one row a detection)')
    .option('--jsonl', 'JSON Lines on stdout (one object a detection)')
    .addOption(new Option('--sort <order>', 'time: by event time (default for the table); file: as found (default for --csv/--jsonl, streamed)').choices(['time', 'file']))
    .option('--from <date>', 'only events at or after (ISO 8601)', dateOption('--from'))
    .option('--to <date>', 'only events before (ISO 8601)', dateOption('--to'))
    .addOption(new Option('--min-level <level>', 'only detections of this level or above').choices(LEVELS))
    .option('--no-summary', 'no summary (table: after it; --csv/--jsonl: on stderr)')
    .option('--no-cache', 'parse the rules again instead of reading the cache (TRUC_CACHE_DIR, else the user cache folder)')
    .option('--no-progress', 'no progress bar (shown on stderr when it is a terminal)');
  loadBefore(cmd, load);
  cmd.action(async (paths: string[], o) => {
    try {
      process.exitCode = await run(program, paths, o);
    } catch (e) {
      fail(e);
    }
  });
}

async function run(program: Command, paths: string[], o: Record<string, any>): Promise<number> {
  const g = program.opts();
  if (o.csv && o.jsonl) throw new TrucError('bad_request', '--csv hoặc / or --jsonl, không cả hai / not both');
  if (o.from && o.to && !(o.from < o.to)) throw new TrucError('bad_request', '--from phải trước --to / --from must be before --to');
  const cfg = loadConfig({ file: g.config, overrides: g.dataDir ? { dataDir: g.dataDir } : undefined });
  const mc = monitorConfig(cfg.monitor);
  const ruleDirs: string[] = o.rules ?? mc.ruleDirs;
  const dirs = [...(o.builtinRules !== false && mc.builtinRules ? [BUILTIN_RULES_DIR] : []), ...ruleDirs];
  if (!dirs.length) throw new TrucError('bad_request', 'không có quy tắc nào / no rules: give --rules DIR or set monitor.ruleDirs');
  const pipelines = [];
  for (const f of mc.pipelines) {
    try {
      pipelines.push(sigma.parsePipeline(await readFile(f, 'utf8')));
    } catch (e) {
      throw new TrucError('invalid_config', `processing pipeline ${f}: ${(e as Error).message}`, { file: f });
    }
  }
  const t0 = performance.now();
  let loaded: SigmaApi.CachedLoad;
  try {
    loaded = await sigma.loadRulesCached(dirs, o.cache === false ? { dir: null } : {});
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new TrucError('bad_request', `không có thư mục quy tắc / no such rule folder or file: ${err.path ?? ''}`);
    throw e;
  }
  const loadMs = Math.round(performance.now() - t0);
  const stderr = process.stderr;
  const quietProgress = o.progress === false || !stderr.isTTY;
  if (!quietProgress || process.env.TRUC_HUNT_TRACE)
    stderr.write(
      `quy tắc / rules: ${loaded.documents.length} (${loaded.cache === 'hit' ? 'từ bộ đệm / from the cache' : 'đọc YAML / parsed YAML'}, ${loadMs} ms)` +
        `${loaded.rejected.length ? `, ${loaded.rejected.length} bị từ chối / rejected` : ''}\n`,
    );
  if (!o.rules && !mc.ruleDirs.length)
    stderr.write(
      "chỉ có bộ quy tắc của Trục / only Trục's own rule pack is loaded: add SigmaHQ with --rules DIR or monitor.ruleDirs\n",
    );

  const json = !!g.json;
  const format: 'table' | 'csv' | 'jsonl' = o.csv ? 'csv' : o.jsonl ? 'jsonl' : 'table';
  const sort: 'time' | 'file' = o.sort ?? (format === 'table' ? 'time' : 'file');
  const stream = !json && format !== 'table' && sort === 'file';
  const out = process.stdout;
  let written = 0;
  // a reader that stops early (`| head`) ends the hunt quietly, as grep does; the exit code says what was seen
  out.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') fail(e);
    process.exit(written ? EXIT_DETECTIONS : 0);
  });
  if (stream && format === 'csv') out.write(hunt.csvHeader());

  let bar: ProgressApi.ProgressBar | undefined;
  const report = await hunt.huntFiles(paths, loaded.documents, {
    pipelines,
    placeholders: mc.placeholders,
    timezone: mc.timezone,
    ...(o.from ? { from: o.from } : {}),
    ...(o.to ? { to: o.to } : {}),
    ...(o.minLevel ? { minLevel: o.minLevel } : {}),
    ...(stream
      ? {
          onDetection: (d) => {
            written++;
            out.write(format === 'csv' ? hunt.csvRow(d) : hunt.jsonLine(d));
          },
        }
      : {}),
    onProgress: (p) =>
      (bar ??= progressBar(p.files, { enabled: o.progress !== false })).update(
        p.filesDone,
        `${p.events.toLocaleString('en-US')} sự kiện / events, ${p.detections} phát hiện / detections`,
      ),
  });
  bar?.done();

  const detections = sort === 'time' ? hunt.timeline(report.detections) : report.detections;
  written += stream ? 0 : detections.length;
  if (json) {
    out.write(JSON.stringify({ ...report, detections: detections.map(({ ms: _ms, ...d }) => d), rules: { ...report.summary.rules, cache: loaded.cache, rejectedOnLoad: loaded.rejected } }, null, 2) + '\n');
  } else if (format === 'table') {
    if (detections.length) out.write(hunt.detectionTable(detections, out.columns || 200) + '\n\n');
    else out.write('Không có phát hiện nào / No detections.\n');
    if (o.summary !== false) out.write(hunt.summaryText(report.summary) + '\n');
  } else {
    if (!stream) {
      if (format === 'csv') out.write(hunt.csvHeader());
      for (const d of detections) out.write(format === 'csv' ? hunt.csvRow(d) : hunt.jsonLine(d));
    }
    if (o.summary !== false) stderr.write(hunt.summaryText(report.summary) + '\n');
  }
  const problems = hunt.problemsText(report);
  if (problems) stderr.write(problems + '\n');
  if (report.rejected.length && !json)
    stderr.write(`${report.rejected.length} quy tắc không biên dịch được / rules did not compile (--json lists them)\n`);
  const unreadable = report.problems.length + report.files.filter((f) => f.error).length;
  if (report.summary.files === 0 && !report.problems.length)
    stderr.write('không tìm thấy tệp sự kiện nào / no event files found (.evtx .xml .json .ndjson .jsonl)\n');
  if (report.detections.length) return EXIT_DETECTIONS;
  return unreadable || report.summary.files === 0 ? EXIT_UNREADABLE : 0;
}
