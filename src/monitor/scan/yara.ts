/**
 * YARA through its command-line tool: the rule files are compiled once with `yarac` (when it is installed)
 * into a cache file and each scan spawns `yara -s -w` on a private temporary copy of the bytes, with YARA's
 * own timeout and a kill as the backstop. The output (`RULE FILE` lines, then `0xOFFSET:$id: data` lines
 * with -s) becomes the matches.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrucError } from '../../errors.js';

export interface YaraMatch {
  rule: string;
  strings: { offset: number; id: string }[];
}

async function ruleFiles(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const st = await stat(p);
    if (st.isDirectory()) {
      for (const f of (await readdir(p)).sort()) if (/\.(yar|yara)$/i.test(f)) out.push(join(p, f));
    } else out.push(p);
  }
  return out;
}

export function parseYaraOutput(out: string): YaraMatch[] {
  const matches: YaraMatch[] = [];
  let cur: YaraMatch | undefined;
  for (const line of out.split('\n')) {
    if (!line) continue;
    const s = /^0x([0-9a-f]+):(\$[\w]*):/i.exec(line);
    if (s && cur) {
      if (cur.strings.length < 100) cur.strings.push({ offset: parseInt(s[1]!, 16), id: s[2]! });
      continue;
    }
    const r = /^(\S+) /.exec(line);
    if (r) matches.push((cur = { rule: r[1]!, strings: [] }));
  }
  return matches;
}

export class YaraScanner {
  private constructor(
    private readonly args: string[],
    readonly rules: string[],
    readonly compiled: boolean,
    private readonly binary: string,
  ) {}

  /** Prepares the rules; `yarac` compiles them into a cache when available. */
  static async create(paths: readonly string[], opts: { binary?: string; compiler?: string } = {}): Promise<YaraScanner> {
    const files = await ruleFiles(paths);
    if (files.length === 0) throw new TrucError('invalid_config', 'no YARA rule files');
    const binary = opts.binary ?? 'yara';
    const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) throw new TrucError('invalid_config', `the YARA tool (${binary}) is not available`);
    const compiler = opts.compiler ?? 'yarac';
    const dir = mkdtempSync(join(tmpdir(), 'truc-yara-'));
    const out = join(dir, 'rules.yarc');
    const c = spawnSync(compiler, ['-w', ...files, out], { encoding: 'utf8' });
    if (!c.error && c.status === 0) return new YaraScanner(['-C', out], files, true, binary);
    if (!c.error) throw new TrucError('invalid_config', `YARA rules do not compile: ${(c.stderr || c.stdout).trim().slice(0, 500)}`);
    return new YaraScanner(files, files, false, binary);
  }

  async scan(bytes: Uint8Array, timeoutMs: number): Promise<YaraMatch[]> {
    const dir = await mkdtemp(join(tmpdir(), 'truc-scan-'));
    const file = join(dir, 'sample');
    try {
      await writeFile(file, bytes, { mode: 0o600 });
      const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
      const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const p = spawn(this.binary, ['-s', '-w', '-a', String(secs), ...this.args, file], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        p.stdout.setEncoding('utf8').on('data', (d: string) => {
          if (stdout.length < 4 << 20) stdout += d;
        });
        p.stderr.setEncoding('utf8').on('data', (d: string) => {
          if (stderr.length < 64 << 10) stderr += d;
        });
        const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs + 2000);
        p.on('error', (e) => (clearTimeout(t), reject(e)));
        p.on('close', (code) => (clearTimeout(t), resolve({ code, stdout, stderr })));
      });
      if (code !== 0) throw new TrucError('internal', `YARA scan failed: ${stderr.trim().slice(0, 300) || `exit ${code}`}`);
      return parseYaraOutput(stdout);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
