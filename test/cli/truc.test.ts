import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { opensslCsr, opensslStatus, tmp } from '../helpers/openssl.js';
import { trucAsync, trucDataDir, trucSync, type TrucResult } from '../helpers/truc-cli.js';
import { openDb } from '../../src/store/index.js';

// the data folder: its database made beforehand (../helpers/truc-cli.ts), no CA yet
let dataDir: string;
const env: NodeJS.ProcessEnv = { ...process.env, TRUC_KEY_PASSPHRASE: 'cli test passphrase', TRUC_LOG_LEVEL: 'warn' };
delete env.TRUC_DATABASE_URL;

const truc = (...args: string[]): TrucResult => trucSync(env, args, 60_000);

describe('the truc command line', () => {
  const dir = tmp();

  beforeAll(async () => {
    dataDir = env.TRUC_DATA_DIR = await trucDataDir('truc-cli-');
  });

  it('explains itself with --help', async () => {
    // help and a usage error open no database: the three side by side
    const [r, ca, bogus] = await Promise.all([trucAsync(env, ['--help']), trucAsync(env, ['ca', 'issue', '--help']), trucAsync(env, ['ca', 'bogus'])]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/start/);
    expect(r.stdout).toMatch(/ca/);
    expect(ca.stdout).toMatch(/--csr <file>/);
    expect(ca.stdout).toMatch(/--request-id/);
    expect(bogus.status).toBe(2);
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

  it('exits 2 on a usage error and 1, saying why, on a wrong key store passphrase', () => {
    expect(truc('ca', 'issue', '--profile', 'x').status).toBe(2); // missing --csr
    const wrongPass = spawnSync(process.execPath, ['bin/truc.js', 'ca', 'cas'], { env: { ...env, TRUC_KEY_PASSPHRASE: 'wrong' }, encoding: 'utf8' });
    expect(wrongPass.status).toBe(1);
    expect(wrongPass.stderr).toMatch(/^error \[key_store\]: wrong passphrase/m);
  });

  it('refuses every kind of bad input with its code and exit status, changes nothing, and audits each refusal', () => {
    const file = (name: string, data: string | Buffer) => {
      const f = join(dir, name);
      writeFileSync(f, data);
      return f;
    };
    const good = opensslCsr(dir, '/C=VN/O=Bộ Nội vụ/CN=Lê Văn E');
    const der = Buffer.from(readFileSync(good.csrPath, 'utf8').replace(/-----[^-]+-----|\s+/g, ''), 'base64');
    const flipped = Buffer.from(der);
    flipped[flipped.length - 5] ^= 1;
    let deep: Buffer = Buffer.from([0x05, 0x00]);
    for (let i = 0; i < 40; i++) deep = Buffer.concat([Buffer.from([0x30, deep.length]), deep]);
    const issue = (csr: string, ...more: string[]) => ['ca', 'issue', '--csr', csr, '--profile', 'official-signing', ...more];
    const first = truc('--json', ...issue(good.csrPath, '--request-id', 'ho-so-cli'));
    expect(first.status, first.stderr).toBe(0);
    const other = opensslCsr(dir, '/C=VN/O=Bộ Nội vụ/CN=Người khác');

    const lastSeq = () => Math.max(...JSON.parse(truc('--json', 'audit', 'list', '--limit', '1000').stdout).map((r: { seq: number }) => r.seq));
    const certs = () => truc('--json', 'ca', 'list', '--limit', '1000').stdout;
    const crls = () => JSON.parse(truc('--json', 'audit', 'list', '--action', 'ca.crl', '--limit', '1000').stdout).length;
    const before = { certs: certs(), seq: lastSeq(), crls: crls() };

    // [what, arguments, exit status, code in the message, audit action (null: refused before the CA saw it)]
    const cases: [string, string[], number, RegExp, string | null][] = [
      ['malformed PEM', issue(file('bad.pem', '-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----\n')), 3, /\[malformed_pem\]/, 'ca.issue'],
      ['malformed DER', issue(file('bad.der', Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0]))), 3, /\[malformed_der\].*runs past the end/, 'ca.issue'],
      ['DER nested 40 deep', issue(file('deep.der', deep)), 3, /\[malformed_der\].*nesting/, 'ca.issue'],
      ['a bad signature', issue(file('flipped.der', flipped)), 3, /\[bad_csr_signature\]/, 'ca.issue'],
      ['a key too small', issue(opensslCsr(dir, '/C=VN/O=x/CN=weak', ['-newkey', 'rsa:1024']).csrPath), 3, /\[key_not_allowed\].*1024/, 'ca.issue'],
      ['a key of a disallowed type', issue(opensslCsr(dir, '/C=VN/O=x/CN=ed', ['-newkey', 'ed448']).csrPath), 3, /\[key_not_allowed\]/, 'ca.issue'],
      ['a subject the profile forbids', issue(good.csrPath, '--subject', 'C=VN, O=Bộ Nội vụ, CN=x, street=Phố Huế'), 3, /\[subject_not_allowed\].*street/, 'ca.issue'],
      ['an oversized request', issue(file('big.csr', Buffer.alloc(70_000, 0x41))), 3, /\[too_large\]/, 'ca.issue'],
      ['an unknown profile', ['ca', 'issue', '--csr', good.csrPath, '--profile', 'ghost'], 4, /\[unknown_profile\]/, 'ca.issue'],
      ['a duplicate request id', issue(other.csrPath, '--request-id', 'ho-so-cli'), 5, /\[duplicate_request\]/, 'ca.issue'],
      ['a revocation of an unknown serial', ['ca', 'revoke', '0badc0ffee'], 4, /\[unknown_serial\]/, 'ca.revoke'],
      ['an unknown revocation reason', ['ca', 'revoke', JSON.parse(first.stdout).serial, '--reason', 'because'], 3, /\[bad_request\].*reason/, 'ca.revoke'],
      ['a missing CSR file', issue(join(dir, 'no-such.csr')), 3, /\[bad_request\].*no such file/, null],
      ['a CRL to one file for every CA', ['ca', 'crl', '--out', join(dir, 'all.crl')], 3, /\[bad_request\].*--ca/, null],
      ['a date that is not one', ['ca', 'list', '--valid-at', 'yesterday'], 3, /\[bad_request\].*--valid-at/, null],
      ['a count that is not a number', ['ca', 'list', '--limit', 'many'], 2, /whole number/, null],
    ];
    const audited: [string, string][] = [];
    for (const [what, args, status, message, action] of cases) {
      const r = truc(...args);
      expect(r.status, `${what}: ${r.stderr}`).toBe(status);
      expect(r.stderr, what).toMatch(message);
      expect(r.stdout, what).toBe('');
      if (action) audited.push([action, /\[(\w+)\]/.exec(r.stderr)![1]]);
    }
    expect(certs()).toBe(before.certs);
    expect(crls()).toBe(before.crls);
    const records = JSON.parse(truc('--json', 'audit', 'list', '--after', String(before.seq), '--limit', '1000').stdout) as { action: string; outcome: string; detail: { code: string } }[];
    const refusals = records.filter((r) => r.action !== 'audit.verify').map((r) => [r.action, r.detail?.code]);
    expect(refusals).toEqual(expect.arrayContaining(audited));
    expect(records.every((r) => r.outcome === 'failure')).toBe(true);
    expect(truc('audit', 'verify').status).toBe(0);
  }, 300_000);

  it('searches by serial, subject, profile, status and validity, and keeps Vietnamese names intact', () => {
    const a = opensslCsr(dir, '/C=VN/O=Sở Nội vụ Đà Nẵng/CN=Võ Thị Tìm');
    const b = opensslCsr(dir, '/C=VN/O=Sở Nội vụ Đà Nẵng/CN=portal.snv.danang.gov.vn');
    const pemA = join(dir, 'search-a.pem');
    const ia = JSON.parse(truc('--json', 'ca', 'issue', '--csr', a.csrPath, '--profile', 'official-signing', '--out', pemA).stdout);
    const ib = JSON.parse(truc('--json', 'ca', 'issue', '--csr', b.csrPath, '--profile', 'tls-server', '--dns', 'portal.snv.danang.gov.vn', '--days', '20').stdout);
    expect(truc('ca', 'revoke', ib.serial, '--reason', 'certificateHold').status).toBe(0);
    const find = (...args: string[]) => {
      const r = truc('--json', 'ca', 'list', '--subject', 'sở nội vụ đà nẵng', ...args);
      expect(r.status, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { serial: string }[]).map((c) => c.serial).sort();
    };
    expect(find()).toEqual([ia.serial, ib.serial].sort());
    expect(find('--serial', ia.serial.toUpperCase().match(/../g)!.join(':'))).toEqual([ia.serial]);
    expect(find('--profile', 'tls-server')).toEqual([ib.serial]);
    expect(find('--status', 'hold')).toEqual([ib.serial]);
    expect(find('--status', 'good')).toEqual([ia.serial]);
    expect(find('--valid-at', new Date(Date.now() + 60 * 86_400_000).toISOString())).toEqual([ia.serial]);
    expect(find('--expires-before', new Date(Date.now() + 60 * 86_400_000).toISOString())).toEqual([ib.serial]);
    expect(find('--valid-at', '2001-01-01')).toEqual([]);
    expect(truc('ca', 'list', '--status', 'lost').status).toBe(2);
    // the table prints the name as given; openssl reads it back unchanged, as UTF8String
    expect(truc('ca', 'show', ia.serial).stdout).toMatch(/subject\s+C=VN, O=Sở Nội vụ Đà Nẵng, CN=Võ Thị Tìm/);
    const shown = opensslStatus(['x509', '-in', pemA, '-noout', '-subject', '-nameopt', 'utf8,show_type']);
    expect(shown.out.trim()).toBe('subject=C=PRINTABLESTRING:VN, O=UTF8STRING:Sở Nội vụ Đà Nẵng, CN=UTF8STRING:Võ Thị Tìm');
  }, 300_000);

  it('manages API tokens', () => {
    const t = truc('token', 'create', '--name', 'cán bộ RA', '--role', 'ra-officer');
    expect(t.stdout.trim()).toMatch(/^truc_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(truc('token', 'list').stdout).toMatch(/cán bộ RA\s+token\s+ra-officer/);
    expect(truc('token', 'create', '--name', 'x', '--role', 'emperor').status).toBe(3);
    expect(truc('token', 'revoke', 'cán bộ RA').status).toBe(0);
  });

  it('audit verify exits 1 and names the first broken record when a record was altered behind the trigger', async () => {
    const db = await openDb({ url: join(dataDir, 'db') });
    try {
      await db.exec('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update');
      await db.query(`UPDATE audit_log SET actor = 'mallory' WHERE seq = 3`);
      await db.exec('ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update');
    } finally {
      await db.close();
    }
    const r = truc('audit', 'verify');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/AUDIT CHAIN BROKEN at record 3/);
    const j = truc('--json', 'audit', 'verify');
    expect(j.status).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, brokenAt: 3 });
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
      // (`ca list` and `verify` go through the server's API instead: test/cli/beside.test.ts)
      const second = spawnSync(process.execPath, ['bin/truc.js', 'token', 'list'], {
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
