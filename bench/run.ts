/**
 * `npm run bench [-- name …]`: runs the benchmarks of bench/ (every module here but this one that exports
 * `run(): Promise<Record<string, unknown>>`), in name order or in the order given, one after the other in
 * this process, and rewrites their sections of docs/PERFORMANCE.md. Sections of benchmarks not run this
 * time are kept as they were, so each section says on which machine and when its own figures were taken.
 *
 * A module may also export `title` (the section heading) and `describe(results)` (the section's markdown,
 * headings at level 3 or below); without them the section is a table of the flattened results.
 */
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import os from 'node:os';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const DOC = resolve(BENCH_DIR, '..', 'docs', 'PERFORMANCE.md');

export interface BenchModule {
  run(): Promise<Record<string, unknown>>;
  title?: string;
  describe?(results: Record<string, unknown>): string;
}

const PREAMBLE = `# Performance

Figures measured by \`npm run bench\` (bench/run.ts), one section per benchmark in bench/. Run one or a
few with \`npm run bench -- <name> …\`; only their sections are rewritten, the others keep the figures
(and the machine) of the run that produced them. A benchmark always measures its peer — the raw primitive
or reference implementation it should be compared with — in the same run, on the same machine, so that
ratios stay meaningful across machines.
What is written by hand in a section (analyses, side-by-side runs, earlier figures) goes between the lines
\`<!-- notes: kept when the benchmark rewrites this section -->\` and \`<!-- /notes -->\`, which a
rewrite keeps; the rest of a section is the benchmark's own and is replaced.
`;

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
}

export function machine(): Machine {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1].trim();
  } catch {
    // not Linux: os.cpus() is as good as it gets
  }
  let system = `${os.type()} ${os.release()} ${os.arch()}`;
  try {
    const m = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m) system = `${m[1]} (${os.type()} ${os.release()}, ${os.arch()})`;
  } catch {
    // no os-release: the kernel line above
  }
  return {
    cpu,
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: system,
  };
}

/** Benchmarks in bench/: file name without .ts → file path. */
async function discover(): Promise<Map<string, string>> {
  const files = (await readdir(BENCH_DIR)).filter(
    (f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== 'run.ts',
  );
  return new Map(files.sort().map((f) => [basename(f, '.ts'), join(BENCH_DIR, f)]));
}

// ---- the document: a preamble, then `## <name> — <title>` sections ----

interface Doc {
  preamble: string;
  sections: { name: string; text: string }[];
}

export function parseDoc(text: string): Doc {
  const lines = text.split('\n');
  const doc: Doc = { preamble: '', sections: [] };
  let cur: string[] = [];
  let name: string | null = null;
  let fenced = false;
  const close = () => {
    const t = cur.join('\n').replace(/\s+$/, '') + '\n';
    if (name === null) doc.preamble = t;
    else doc.sections.push({ name, text: t });
  };
  for (const line of lines) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const m = !fenced && /^## +(\S+)/.exec(line);
    if (m) {
      close();
      name = m[1];
      cur = [line];
    } else cur.push(line);
  }
  close();
  return doc;
}

export function renderDoc(doc: Doc): string {
  return [doc.preamble.trimEnd(), ...doc.sections.map((s) => s.text.trimEnd())].join('\n\n') + '\n';
}

function fmt(v: unknown): string {
  if (typeof v === 'number')
    return Number.isInteger(v) ? v.toLocaleString('en-US') : String(Number(v.toFixed(3)));
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return JSON.stringify(v).replace(/\|/g, '\\|');
}

function flatten(
  o: Record<string, unknown>,
  prefix = '',
  out: [string, unknown][] = [],
): [string, unknown][] {
  for (const [k, v] of Object.entries(o)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date))
      flatten(v as Record<string, unknown>, key, out);
    else out.push([key, v]);
  }
  return out;
}

export function defaultDescribe(results: Record<string, unknown>): string {
  const rows = flatten(results).map(([k, v]) => `| ${k} | ${fmt(v)} |`);
  return ['| figure | value |', '|---|---|', ...rows].join('\n');
}

/**
 * What people wrote by hand in a section — analyses, side-by-side runs, earlier sessions' figures — between
 * these two lines, kept when the benchmark rewrites the section's figures.
 */
export const NOTES_START = '<!-- notes: kept when the benchmark rewrites this section -->';
export const NOTES_END = '<!-- /notes -->';

/** The hand-written notes of a section's text, markers included, or '' when it has none. */
export function sectionNotes(text: string): string {
  const a = text.indexOf(NOTES_START);
  const b = a < 0 ? -1 : text.indexOf(NOTES_END, a);
  return b < 0 ? '' : text.slice(a, b + NOTES_END.length);
}

export function section(
  name: string,
  mod: BenchModule,
  results: Record<string, unknown>,
  m: Machine,
  at: Date,
  notes = '',
): string {
  const heading = `## ${name}${mod.title ? ` — ${mod.title}` : ''}`;
  const d = mod.describe as unknown;
  const described =
    typeof d === 'function'
      ? (d as (r: Record<string, unknown>) => string)(results)
      : typeof d === 'string'
        ? `${d}\n\n${defaultDescribe(results)}` // a module may give a sentence instead of a function
        : defaultDescribe(results);
  const body = described
    .trim()
    // a describe() heading at level 1 or 2 would split this section when the file is read back
    .replace(/^(#{1,2}) /gm, '### ');
  return [
    heading,
    '',
    `_Run ${at.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), ` +
      `Node ${m.node}, ${m.os}; \`npm run bench -- ${name}\`._`,
    '',
    body,
    '',
    ...(notes ? [notes, ''] : []),
    '<details><summary>raw results</summary>',
    '',
    '```json',
    JSON.stringify(results, null, 2),
    '```',
    '',
    '</details>',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const all = await discover();
  const wanted = argv.length ? argv : [...all.keys()];
  const unknown = wanted.filter((n) => !all.has(n));
  if (unknown.length) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${[...all.keys()].join(', ')}`);
    return 2;
  }
  const m = machine();
  console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}`);
  const doc = parseDoc(existsSync(DOC) ? await readFile(DOC, 'utf8') : PREAMBLE);
  if (!doc.preamble.trim()) doc.preamble = PREAMBLE;
  let failed = 0;
  for (const name of wanted) {
    const mod = (await import(pathToFileURL(all.get(name)!).href)) as Partial<BenchModule>;
    if (typeof mod.run !== 'function') {
      if (argv.length) {
        console.error(`${name}: exports no run()`);
        failed++;
      }
      continue; // a helper module, not a benchmark
    }
    console.log(`\n== ${name}${mod.title ? ` — ${mod.title}` : ''}`);
    const at = new Date();
    const t0 = performance.now();
    let results: Record<string, unknown>;
    try {
      results = await mod.run();
    } catch (e) {
      // keep the section of the last good run rather than replace figures with an error
      console.error(`${name} failed:`, e);
      failed++;
      continue;
    }
    console.log(`${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    console.log(JSON.stringify(results, null, 2));
    const i = doc.sections.findIndex((s) => s.name === name);
    const text = section(name, mod as BenchModule, results, m, at, i >= 0 ? sectionNotes(doc.sections[i]!.text) : '');
    if (i >= 0) doc.sections[i] = { name, text };
    else doc.sections.push({ name, text });
    // written after each benchmark: a later failure or interruption keeps what was measured
    await mkdir(dirname(DOC), { recursive: true });
    await writeFile(DOC, renderDoc(doc));
  }
  console.log(`\nwrote ${DOC}`);
  return failed ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href)
  main(process.argv.slice(2).filter((a) => a !== '--')).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
