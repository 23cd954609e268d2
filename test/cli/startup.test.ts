/**
 * How `truc` starts: the compiled build (scripts/build-cli.mjs) runs only while it is newer than every
 * source, the sources through tsx otherwise; `--help` lists every command without loading their parts.
 *
 * The build-or-sources choice is proven on a copy of bin/ and the build script in a folder of its own, with
 * a source tree of one file: touching the real src/ would send the other tests (and the other people
 * working in this checkout) back to the sources.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmp } from '../helpers/openssl.js';

const ROOT = resolve(import.meta.dirname, '../..');

function run(cwd: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('truc: the build runs only when it is fresh', () => {
  const root = tmp('truc-fresh-');
  const main = join(root, 'src/cli/main.ts');
  const truc = () => run(root, ['bin/truc.js'], { TRUC_CLI_TRACE: '1' });
  const build = () => run(root, ['scripts/build-cli.mjs']);

  beforeAll(() => {
    for (const f of ['bin/truc.js', 'bin/fresh.js', 'scripts/build-cli.mjs']) cpSync(join(ROOT, f), join(root, f));
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
    writeFileSync(join(root, 'package.json'), JSON.stringify({ type: 'module' }));
    mkdirSync(join(root, 'src/cli'), { recursive: true });
    writeFileSync(main, "const answer: string = 'first';\nconsole.log(answer);\n");
    // sources saved a while ago, as after a checkout, so that the build is not within the stamp's margin
    const past = new Date(Date.now() - 60_000);
    for (const f of ['src/cli/main.ts', 'bin/truc.js', 'bin/fresh.js', 'scripts/build-cli.mjs']) utimesSync(join(root, f), past, past);
  });

  it('runs the sources when nothing is built (a fresh clone)', () => {
    const r = truc();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('first');
    expect(r.stderr).toContain('truc: sources (not built');
  });

  it('runs the build when it is newer than every source', () => {
    expect(build().status).toBe(0);
    const r = truc();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('first');
    expect(r.stderr).toMatch(/truc: build dist\/cli\/[^/]+\/main\.js/);
  });

  it('runs the sources, not the older build, once a source changed — and the build again once rebuilt', () => {
    writeFileSync(main, "const answer: string = 'second';\nconsole.log(answer);\n");
    const r = truc();
    expect(r.stdout.trim()).toBe('second');
    expect(r.stderr).toContain('truc: sources (src/ changed since the build)');

    // a new file anywhere under src/ counts too, even one nothing imports yet
    const past = new Date(Date.now() - 60_000);
    utimesSync(main, past, past);
    expect(build().status).toBe(0);
    expect(truc().stderr).toContain('truc: build');
    mkdirSync(join(root, 'src/deep/er'), { recursive: true });
    writeFileSync(join(root, 'src/deep/er/new.ts'), 'export {};\n');
    expect(truc().stderr).toContain('truc: sources (src/ changed since the build)');
  });

  it('does not trust a file saved while the build ran, nor a build whose folder is gone', () => {
    rmSync(join(root, 'src/deep'), { recursive: true });
    expect(build().status).toBe(0);
    const stamp = JSON.parse(readFileSync(join(root, 'dist/cli/current.json'), 'utf8'));
    // saved just after the build started: its time is later than the stamp's start
    const during = new Date(stamp.startedAt + 1);
    utimesSync(main, during, during);
    expect(truc().stderr).toContain('truc: sources (src/ changed since the build)');

    const past = new Date(Date.now() - 60_000);
    utimesSync(main, past, past);
    expect(build().status).toBe(0);
    expect(truc().stderr).toContain('truc: build');
    const id = JSON.parse(readFileSync(join(root, 'dist/cli/current.json'), 'utf8')).id;
    rmSync(join(root, 'dist/cli', id), { recursive: true });
    expect(truc().stderr).toContain('is missing');
    expect(truc().stdout.trim()).toBe('second');
  });

  it('runs the sources when asked to (TRUC_CLI_FROM=source)', () => {
    expect(build().status).toBe(0);
    const r = run(root, ['bin/truc.js'], { TRUC_CLI_TRACE: '1', TRUC_CLI_FROM: 'source' });
    expect(r.stderr).toContain('truc: sources (TRUC_CLI_FROM=source)');
  });
});

describe('truc from another working folder', () => {
  it("compiles the sources with the project's tsconfig (decorators), not the working folder's", () => {
    // the vault's CMS schemas use decorators: without the project's tsconfig they fail as the module loads
    const r = run(tmp('truc-elsewhere-'), [join(ROOT, 'bin/truc.js'), 'decrypt', '/nonexistent.p7m', '--key', '/nonexistent.key', '--out', '/nonexistent.out'], { TRUC_CLI_FROM: 'source' });
    expect(r.stderr).not.toMatch(/TypeError/);
    expect(r.stderr).toMatch(/nonexistent\.key/);
  });
});

describe('truc --help', () => {
  it('lists every command, as the commands themselves are defined', () => {
    const r = run(ROOT, ['bin/truc.js', '--help']);
    expect(r.status).toBe(0);
    const commands = r.stdout
      .slice(r.stdout.indexOf('Commands:'))
      .split('\n')
      .slice(1)
      .filter((l) => /^ {2}\S/.test(l))
      .map((l) => l.trim().split(/\s+/)[0]);
    expect(commands).toEqual([
      'start', 'ca', 'audit', 'token', 'lab', 'monitor', 'scan', 'hunt', 'ocsp', 'verify-cert', 'sign', 'augment', 'verify',
      'encrypt', 'decrypt', 'vault', 'central', 'doc', 'ss', 'log', 'agent', 'help',
    ]);
  });

  it("shows a command's own options without running it", () => {
    const r = run(ROOT, ['bin/truc.js', 'ca', 'list', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--expires-before <iso>');
    const v = run(ROOT, ['bin/truc.js', 'verify', '--help']);
    expect(v.status).toBe(0);
    expect(v.stdout).toContain('--anchor <pem...>');
  });
});

describe("serving processes' allocator (scripts/malloc.sh)", () => {
  const malloc = (env: Record<string, string> = {}) => spawnSync('bash', [join(ROOT, 'scripts/malloc.sh')], { env: { ...process.env, ...env }, encoding: 'utf8' });
  const ldconfig = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' }).stdout ?? '';

  it('names jemalloc where the machine has it, nothing where it does not or when told to keep glibc’s', () => {
    const r = malloc({ TRUC_MALLOC: '' });
    expect(r.status).toBe(0);
    if (/libjemalloc\.so\.2/.test(ldconfig)) expect(r.stdout.trim()).toMatch(/\/libjemalloc\.so\.2$/);
    else expect(r.stdout).toBe('');
    const system = malloc({ TRUC_MALLOC: 'system' });
    expect([system.status, system.stdout]).toEqual([0, '']);
  });

  const lib = malloc({ TRUC_MALLOC: '' }).stdout.trim();
  if (!lib) console.warn('SKIP the jemalloc preload check: this machine has no jemalloc (scripts/install-deps.sh installs it)');

  it.skipIf(!lib)('what it names preloads into node and leaves it working', () => {
    const r = spawnSync(process.execPath, ['-e', "const m=require('fs').readFileSync('/proc/self/maps','utf8');console.log(/libjemalloc/.test(m), require('crypto').createHash('sha256').update(Buffer.alloc(1<<20)).digest('hex').slice(0,8))"], {
      env: { ...process.env, LD_PRELOAD: lib },
      encoding: 'utf8',
    });
    expect([r.status, r.stdout.trim()]).toEqual([0, 'true 30e14955']);
  });
});
