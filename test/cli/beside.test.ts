/**
 * Commands beside a running server (docs/operations.md): while `truc start` holds the embedded database,
 * `truc verify` and `truc ca list`/`ca show` go through its API with the token it wrote to
 * `<data>/server.json`, and print what they print on the stopped folder, with the same exit codes. A real
 * `truc start` on a folder of its own: the same commands are run while it runs and after it stopped, and
 * their answers compared.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import { TrucLanes, trucAsync, trucDataDir } from '../helpers/truc-cli.js';
import { samplePdf } from '../sign/fixtures.js';

// its database made beforehand (../helpers/truc-cli.ts): `truc start` finds no CA and bootstraps as on a new folder
const dataDir = await trucDataDir('truc-beside-');
const dir = tmp('truc-beside-files-');
const env: NodeJS.ProcessEnv = {
  ...process.env,
  TRUC_DATA_DIR: dataDir,
  TRUC_KEY_PASSPHRASE: 'beside test passphrase',
  TRUC_LOG_LEVEL: 'warn',
};
delete env.TRUC_DATABASE_URL;
delete env.TRUC_CONFIG;

function truc(...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/truc.js', ...args], {
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A validation report's time is the time it was made: the one line two runs may not share. */
const comparable = (out: string) => out.replace(/"validationTime": "[^"]+"/g, '"validationTime": "…"');

const VIA = /truc: qua máy chủ đang chạy \/ via the running server at http:\/\/127\.0\.0\.1:\d+ \(pid \d+\)/;

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((r) => child.once('exit', (code) => r(code)));
}

function running(child: ChildProcess): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`no start: ${buf}`)), 120_000);
    child.stdout!.on('data', (d) => {
      buf += d;
      const m = /"url":"(http:\/\/[^"]+)".*Trục is running/.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${buf}`)));
  });
}

describe('commands beside a running truc start', () => {
  let server: ChildProcess;
  let url: string;
  let info: { pid: number; url: string; token: string; startedAt: string };
  const files = {
    signed: join(dir, 'folder', 'signed.pdf'),
    folder: join(dir, 'folder'),
    doc: join(dir, 'doc.pdf'),
    p7s: join(dir, 'doc.p7s'),
  };
  let serial: string;
  const validAt = new Date(Date.now() + 86_400_000).toISOString();

  /** Each command with the number of API calls it makes through the server. */
  const commands: { args: string[]; calls: number; permission: 'ca.read' | 'sign.validate' }[] = [];
  const whileRunning = new Map<string, { status: number; stdout: string; stderr: string }>();

  beforeAll(async () => {
    server = spawn(process.execPath, ['bin/truc.js', 'start', '--port', '0'], {
      env: { ...env, TRUC_LOG_LEVEL: 'info' },
    });
    url = await running(server);
    // an official's certificate from the running CA, through its API as an RA officer would
    const ra = /ra-officer\t(\S+)/.exec(readFileSync(join(dataDir, 'bootstrap-tokens.txt'), 'utf8'))![1];
    const { csrPath, keyPath } = opensslCsr(dir, '/C=VN/O=Bộ Nội vụ/CN=Trần Thị Bên');
    const issued = await fetch(`${url}/api/v1/certificates`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ra}`, 'content-type': 'application/json' },
      body: JSON.stringify({ profile: 'official-signing', csr: readFileSync(csrPath, 'utf8') }),
    });
    expect(issued.status).toBe(201);
    const body = (await issued.json()) as { serial: string; certificate: string; chain: string[] };
    serial = body.serial;
    const cert = join(dir, 'cert.pem');
    writeFileSync(cert, [body.certificate, ...body.chain].join(''));
    // signed files: B-B needs no database, so these run beside the server anyway
    mkdirSync(files.folder);
    writeFileSync(files.doc, await samplePdf(true));
    writeFileSync(join(files.folder, 'unsigned.pdf'), await samplePdf(false));
    writeFileSync(join(files.folder, 'note.txt'), 'không phải tệp ký / not a signed file\n');
    const signed = await Promise.all(
      [
        ['pdf', files.doc, files.signed],
        ['cades', files.doc, files.p7s],
      ].map(([format, input, out]) => trucAsync(env, ['sign', format!, input!, '--out', out!, '--key-pem', keyPath, '--cert-pem', cert])),
    );
    for (const r of signed) expect(r.status, r.stderr).toBe(0);
    commands.push(
      { args: ['ca', 'list'], calls: 1, permission: 'ca.read' },
      {
        args: ['--json', 'ca', 'list', '--profile', 'official-signing', '--valid-at', validAt],
        calls: 1,
        permission: 'ca.read',
      },
      { args: ['ca', 'show', serial], calls: 1, permission: 'ca.read' },
      { args: ['--json', 'ca', 'show', serial], calls: 1, permission: 'ca.read' },
      { args: ['ca', 'show', '0badc0ffee'], calls: 1, permission: 'ca.read' }, // unknown: exit 4
      { args: ['verify', files.signed], calls: 1, permission: 'sign.validate' },
      {
        args: ['verify', '--report', 'json', '--lang', 'en', files.signed],
        calls: 1,
        permission: 'sign.validate',
      },
      { args: ['verify', '--hard-fail', files.signed], calls: 1, permission: 'sign.validate' }, // no revocation status: INDETERMINATE, exit 2
      { args: ['verify', '--content', files.doc, files.p7s], calls: 1, permission: 'sign.validate' },
      { args: ['verify', files.folder], calls: 2, permission: 'sign.validate' }, // the note is not sent: not a signed file
      { args: ['--json', 'verify', files.folder], calls: 2, permission: 'sign.validate' },
    );
  }, 300_000);

  afterAll(async () => {
    if (server.exitCode === null) {
      server.kill('SIGTERM');
      await exited(server);
    }
  });

  it('writes <data>/server.json, private to its user, naming the server', () => {
    const path = join(dataDir, 'server.json');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    info = JSON.parse(readFileSync(path, 'utf8'));
    expect(info.pid).toBe(server.pid);
    expect(info.url).toBe(url);
    expect(info.token).toMatch(/^truc_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(Number.isNaN(Date.parse(info.startedAt))).toBe(false);
  });

  it('goes through the server for verify, ca list and ca show, saying so on stderr', async () => {
    // they hold no lock on the folder, the server answers them: all at once
    const results = await Promise.all(commands.map((c) => trucAsync(env, c.args)));
    commands.forEach((c, i) => {
      const r = results[i]!;
      expect(r.stderr, c.args.join(' ')).toMatch(VIA);
      whileRunning.set(c.args.join(' '), r);
    });
    const status = (args: string) => whileRunning.get(args)!.status;
    expect(status('ca list')).toBe(0);
    expect(whileRunning.get('ca list')!.stdout).toContain(serial);
    expect(status('ca show 0badc0ffee')).toBe(4);
    expect(status(`verify ${files.signed}`)).toBe(0);
    expect(status(`verify --hard-fail ${files.signed}`)).toBe(2);
    expect(status(`verify --content ${files.doc} ${files.p7s}`)).toBe(0);
    expect(status(`verify ${files.folder}`)).toBe(2); // the worst of OK, FAIL (no signature) and not a signed file
  });

  it('keeps the refusal of a command without the way through, naming the API that does the same', () => {
    const issue = truc('ca', 'issue', '--csr', join(dir, 'x.csr'), '--profile', 'official-signing');
    expect(issue.status).toBe(5);
    expect(issue.stderr).toMatch(new RegExp(`in use by process ${server.pid}.*POST /api/v1/certificates`));
    const tokens = truc('token', 'list');
    expect(tokens.status).toBe(5);
    expect(tokens.stderr).toMatch(/this command has no API/);
  });

  it('refuses the token for anything but reading certificates and validating: issuing, the audit log', async () => {
    const csr = readFileSync(opensslCsr(dir, '/C=VN/O=Bộ Nội vụ/CN=Kẻ mạo danh').csrPath, 'utf8');
    const as = { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' };
    const issue = await fetch(`${url}/api/v1/certificates`, {
      method: 'POST',
      headers: as,
      body: JSON.stringify({ profile: 'official-signing', csr }),
    });
    expect(issue.status).toBe(403);
    expect(((await issue.json()) as { code: string }).code).toBe('forbidden');
    const audit = await fetch(`${url}/api/v1/audit?limit=1`, {
      headers: { authorization: as.authorization },
    });
    expect(audit.status).toBe(403);
  });

  it('removes server.json and revokes the token when the server stops', async () => {
    server.kill('SIGTERM');
    expect(await exited(server)).toBe(0);
    expect(existsSync(join(dataDir, 'server.json'))).toBe(false);
    const principals = JSON.parse(truc('--json', 'token', 'list').stdout) as {
      name: string;
      roles: string[];
      revokedAt: string | null;
    }[];
    expect(principals.find((p) => p.name === 'cli:local')).toMatchObject({ roles: ['cli-local'] });
    expect(principals.find((p) => p.name === 'cli:local')!.revokedAt).not.toBeNull();
  });

  it('printed what the same commands print on the stopped folder, with the same exit codes', async () => {
    // each on a copy of the stopped folder, side by side
    const lanes = new TrucLanes(env);
    const results = await Promise.all(commands.map((c) => lanes.run(...c.args)));
    for (const [i, c] of commands.entries()) {
      const key = c.args.join(' ');
      const r = results[i]!;
      expect(r.stderr, key).not.toMatch(VIA);
      const before = whileRunning.get(key)!;
      expect(before.status, key).toBe(r.status);
      expect(comparable(before.stdout), key).toBe(comparable(r.stdout));
    }
  });

  it('audited each call through the server as cli:local, with the operating-system user', () => {
    const records = JSON.parse(
      truc('--json', 'audit', 'list', '--actor', 'cli:local', '--limit', '1000').stdout,
    ) as {
      action: string;
      target: string;
      outcome: string;
      detail: { operator?: string; status?: number; reason?: string };
    }[];
    for (const permission of ['ca.read', 'sign.validate'] as const) {
      const calls = records.filter((r) => r.action === permission);
      expect(calls).toHaveLength(
        commands.filter((c) => c.permission === permission).reduce((n, c) => n + c.calls, 0),
      );
      for (const r of calls) expect(r.detail.operator).toBe(`cli:${userInfo().username}`);
    }
    expect(
      records
        .filter((r) => r.action === 'ca.read' && r.outcome === 'failure')
        .map((r) => [r.target, r.detail.status]),
    ).toEqual([['/api/v1/certificates/0badc0ffee', 404]]);
    // the refusals of the token are audited by the guard, as every denial is
    expect(
      records
        .filter((r) => r.outcome === 'denied')
        .map((r) => r.action)
        .sort(),
    ).toEqual(['audit.read', 'ca.issue']);
  });

  it('ignores a server.json left by a server that died, and refuses when another process holds the lock', () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    const stale = { pid: dead, url: 'http://127.0.0.1:9', token: info.token, startedAt: info.startedAt };
    writeFileSync(join(dataDir, 'server.json'), JSON.stringify(stale), { mode: 0o600 });
    // the lock the dead server left is taken over: the command runs on the folder itself
    writeFileSync(join(dataDir, 'db.lock'), `${dead}\n`);
    const list = truc('ca', 'list');
    expect(list.status, list.stderr).toBe(0);
    expect(list.stderr).not.toMatch(VIA);
    expect(list.stdout).toBe(whileRunning.get('ca list')!.stdout);

    // a live process holds the lock but is not the one the file names: refused, saying why and which API
    writeFileSync(join(dataDir, 'db.lock'), `${process.pid}\n`);
    try {
      const refused = truc('ca', 'list');
      expect(refused.status).toBe(5);
      expect(refused.stderr).toMatch(/server\.json .*is another process's.*GET \/api\/v1\/certificates/);
      // named by the file, but not on loopback: not gone through either
      writeFileSync(
        join(dataDir, 'server.json'),
        JSON.stringify({ ...stale, pid: process.pid, url: 'http://192.0.2.1:8080' }),
        { mode: 0o600 },
      );
      const remote = truc('verify', files.signed);
      expect(remote.status).toBe(5);
      expect(remote.stderr).toMatch(
        /192\.0\.2\.1:8080 .*is not a loopback address.*POST \/api\/v1\/validate/,
      );
    } finally {
      rmSync(join(dataDir, 'db.lock'), { force: true });
      rmSync(join(dataDir, 'server.json'), { force: true });
    }
  });
});
