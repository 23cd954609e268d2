import { describe, it, expect } from 'vitest';
import { spawnSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { opensslCsr, opensslStatus, tmp } from '../helpers/openssl.js';

const dataDir = tmp('truc-cli-');
const env = { ...process.env, TRUC_DATA_DIR: dataDir, TRUC_KEY_PASSPHRASE: 'cli test passphrase', TRUC_LOG_LEVEL: 'warn' };
delete (env as any).TRUC_DATABASE_URL;

function truc(...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/truc.js', ...args], { env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('the truc command line', () => {
  const dir = tmp();

  it('explains itself with --help', () => {
    const r = truc('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/start/);
    expect(r.stdout).toMatch(/ca/);
    const ca = truc('ca', 'issue', '--help');
    expect(ca.stdout).toMatch(/--csr <file>/);
    expect(ca.stdout).toMatch(/--request-id/);
    expect(truc('ca', 'bogus').status).toBe(2);
  });

  it('initialises a hierarchy, issues, revokes, makes CRLs openssl verifies, and verifies the audit chain', () => {
    const init = truc('--json', 'ca', 'init', '--root-subject', 'C=VN, O=Ban Cơ yếu Chính phủ, CN=Root CA', '--issuing', 'gov=C=VN, O=Ban Cơ yếu Chính phủ, CN=Gov CA');
    expect(init.status, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout).map((c: any) => c.id)).toEqual(['root', 'gov']);
    expect(truc('ca', 'init').status).toBe(5); // exists: conflict

    const { csrPath } = opensslCsr(dir, '/C=VN/O=Văn phòng Chính phủ/CN=Phạm Văn D');
    const out = join(dir, 'cert.pem');
    const issued = truc('--json', 'ca', 'issue', '--csr', csrPath, '--profile', 'official-signing', '--out', out, '--chain', '--request-id', 'vb-1');
    expect(issued.status, issued.stderr).toBe(0);
    const serial = JSON.parse(issued.stdout).serial;
    const pem = readFileSync(out, 'utf8');
    expect(pem.match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
    const certs = pem.split(/(?<=-----END CERTIFICATE-----\n)/);
    writeFileSync(join(dir, 'leaf.pem'), certs[0]);
    writeFileSync(join(dir, 'gov.pem'), certs[1]);
    writeFileSync(join(dir, 'root.pem'), certs[2]);
    expect(opensslStatus(['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'gov.pem'), join(dir, 'leaf.pem')]).out).toMatch(/OK/);

    const replay = truc('--json', 'ca', 'issue', '--csr', csrPath, '--profile', 'official-signing', '--request-id', 'vb-1');
    expect(JSON.parse(replay.stdout)).toMatchObject({ serial, replayed: true });

    const list = truc('ca', 'list', '--subject', 'phạm văn');
    expect(list.stdout).toContain(serial);
    expect(truc('ca', 'show', serial).stdout).toMatch(/status\s+good/);

    expect(truc('ca', 'revoke', serial, '--reason', 'keyCompromise').status).toBe(0);
    const crl = join(dir, 'gov.crl');
    expect(truc('ca', 'crl', '--ca', 'gov', '--out', crl).status).toBe(0);
    const v = opensslStatus(['crl', '-inform', 'DER', '-in', crl, '-CAfile', join(dir, 'gov.pem'), '-noout', '-text']);
    expect(v.out).toMatch(/verify OK/);
    expect(v.out).toContain(serial.toUpperCase());

    const audit = truc('audit', 'verify');
    expect(audit.status).toBe(0);
    expect(audit.stdout).toMatch(/audit chain intact: \d+ records/);
  });

  it('exits with a clear message and the right code on bad input', () => {
    const garbage = join(dir, 'garbage.csr');
    writeFileSync(garbage, 'definitely not a CSR');
    const r = truc('ca', 'issue', '--csr', garbage, '--profile', 'official-signing');
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/error \[malformed_der\]/);
    const unknown = truc('ca', 'revoke', '0abc');
    expect(unknown.status).toBe(4);
    expect(unknown.stderr).toMatch(/unknown_serial/);
    const reason = truc('ca', 'revoke', '0abc', '--reason', 'because');
    expect(reason.status).toBe(3);
    expect(truc('ca', 'issue', '--profile', 'x').status).toBe(2); // missing --csr
    const wrongPass = spawnSync(process.execPath, ['bin/truc.js', 'ca', 'cas'], { env: { ...env, TRUC_KEY_PASSPHRASE: 'wrong' }, encoding: 'utf8' });
    expect(wrongPass.status).toBe(1);
    expect(wrongPass.stderr).toMatch(/wrong passphrase/);
  });

  it('manages API tokens', () => {
    const t = truc('token', 'create', '--name', 'cán bộ RA', '--role', 'ra-officer');
    expect(t.stdout.trim()).toMatch(/^truc_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(truc('token', 'list').stdout).toMatch(/cán bộ RA\s+token\s+ra-officer/);
    expect(truc('token', 'create', '--name', 'x', '--role', 'emperor').status).toBe(3);
    expect(truc('token', 'revoke', 'cán bộ RA').status).toBe(0);
  });

  it('starts every role in one process on a fresh data folder and serves the API', async () => {
    const fresh = tmp('truc-start-');
    const child = spawn(process.execPath, ['bin/truc.js', 'start', '--port', '0'], {
      env: { ...process.env, TRUC_DATA_DIR: fresh, TRUC_LOG_LEVEL: 'info' },
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let buf = '';
        const t = setTimeout(() => reject(new Error(`no start: ${buf}`)), 60_000);
        child.stdout.on('data', (d) => {
          buf += d;
          const m = /"url":"(http:\/\/[^"]+)".*Trục is running/.exec(buf);
          if (m) {
            clearTimeout(t);
            resolve(m[1]);
          }
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${buf}`)));
      });
      const tokens = readFileSync(join(fresh, 'bootstrap-tokens.txt'), 'utf8');
      const ra = /ra-officer\t(\S+)/.exec(tokens)![1];
      const cas = (await (await fetch(`${url}/pki/ca`)).json()) as { id: string }[];
      expect(cas.map((c) => c.id)).toEqual(['root', 'issuing']);
      const csr = readFileSync(opensslCsr(dir, '/C=VN/O=Bộ Xây dựng/CN=Bộ Xây dựng').csrPath, 'utf8');
      const r = await fetch(`${url}/api/v1/certificates`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ra}`, 'content-type': 'application/json' },
        body: JSON.stringify({ profile: 'agency-signing', csr }),
      });
      expect(r.status).toBe(201);
      const crl = await fetch(`${url}/pki/crl/issuing.crl`);
      expect(crl.headers.get('content-type')).toBe('application/pkix-crl');
      // the embedded database belongs to the running platform: a second process is refused, not let in
      const second = spawnSync(process.execPath, ['bin/truc.js', 'ca', 'list'], {
        env: { ...process.env, TRUC_DATA_DIR: fresh },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(second.status).toBe(5);
      expect(second.stderr).toMatch(new RegExp(`in use by process ${child.pid}`));
    } finally {
      child.kill('SIGTERM');
    }
    // SIGTERM stops the server and closes the platform: a clean exit
    expect(await exited(child)).toBe(0);

    // the OCSP responder as a role of its own, on the same data folder
    const ocsp = spawn(process.execPath, ['bin/truc.js', 'ocsp', 'serve', '--port', '0'], {
      env: { ...process.env, TRUC_DATA_DIR: fresh, TRUC_LOG_LEVEL: 'info' },
    });
    try {
      const url = await waitForLog(ocsp, /"url":"(http:\/\/[^"]+)".*OCSP responder is running/);
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: 'not DER' });
      // an OCSP answer (malformedRequest), not a transport failure
      expect(r.headers.get('content-type')).toBe('application/ocsp-response');
    } finally {
      ocsp.kill('SIGINT');
    }
    expect(await exited(ocsp)).toBe(0);
  });
});

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)));
}

function waitForLog(child: ChildProcess, re: RegExp): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`not started: ${buf}`)), 60_000);
    child.stdout!.on('data', (d) => {
      buf += d;
      const m = re.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${buf}`)));
  });
}
