/**
 * Roles apart, as production runs them: three `truc start` processes on one PostgreSQL database and a NATS
 * server of the test's own — CA (with the key passphrase), OCSP (with the passphrase; the software keys
 * live in one folder both share) and monitor (no passphrase at all). An issuance through the CA's API is
 * answered good by the OCSP process, revoked once revoked, and its events reach the monitor process, whose
 * status shows the bus consumer.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freshPostgresUrl, postgresWanted } from '../helpers/db.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import { OwnNats, NATS_SERVER, freePort } from './nats-server.js';

const until = async (what: string, cond: () => Promise<boolean> | boolean, ms = 120_000) => {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

describe.skipIf((!NATS_SERVER || !postgresWanted()) && process.env.CI !== 'true')('roles in their own processes (PostgreSQL, NATS)', () => {
  let nats: OwnNats;
  let url: string;
  const procs: ChildProcess[] = [];
  const root = tmp('truc-roles-');
  const keysDir = join(root, 'shared-keys');
  const ports = { ca: 0, ocsp: 0, monitor: 0 };
  const dataDir = (role: string) => join(root, `data-${role}`);
  const passphrase = randomBytes(12).toString('hex');

  const start = (role: 'ca' | 'ocsp' | 'monitor', env: Record<string, string>) => {
    const config = join(root, `${role}.yaml`);
    writeFileSync(
      config,
      [
        `dataDir: ${dataDir(role)}`,
        `database: { url: "${url}", poolSize: 4 }`,
        `publicUrl: http://127.0.0.1:${ports.ca}`,
        `http: { host: 127.0.0.1, port: ${ports[role]} }`,
        `keys: { software: { dir: ${keysDir} } }`,
        `bus: { kind: nats, url: "${nats.url}", stream: TRUC_ROLES_T, subjectPrefix: troles }`,
        `instance: roles-test`,
        `ocsp: { pollSeconds: 1 }`,
        `log: { level: warn }`,
        `exchange: { demo: false }`,
        `monitor: { syslog: {} }`,
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['bin/truc.js', '--config', config, 'start', '--roles', role], {
      env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d) => (err += d.toString()));
    child.on('exit', (code) => {
      if (code && code !== 0) console.error(`${role} exited ${code}: ${err.slice(-2000)}`);
    });
    procs.push(child);
    return child;
  };

  beforeAll(async () => {
    nats = await OwnNats.start();
    url = await freshPostgresUrl();
    ports.ca = await freePort();
    ports.ocsp = await freePort();
    ports.monitor = await freePort();
  }, 60_000);
  afterAll(async () => {
    for (const p of procs) p.kill('SIGTERM');
    // a process that has not ended 30 s after SIGTERM is killed (and named): once, inside a loaded
    // whole-suite run, one did not end within two minutes
    await Promise.all(
      procs.map((p) =>
        p.exitCode !== null || p.signalCode !== null
          ? null
          : new Promise<void>((r) => {
              const t = setTimeout(() => {
                console.warn(`roles test: ${p.spawnargs.slice(-3).join(' ')} ignored SIGTERM for 30 s; killed`);
                p.kill('SIGKILL');
              }, 30_000);
              p.once('exit', () => {
                clearTimeout(t);
                r();
              });
            }),
      ),
    );
    await nats?.stop();
  }, 120_000);

  it('CA, OCSP and monitor apart: issued, answered, revoked, seen; the monitor needs no secret', async () => {
    start('ca', { TRUC_KEY_PASSPHRASE: passphrase });
    const tokensFile = join(dataDir('ca'), 'bootstrap-tokens.txt');
    await until('the CA to bootstrap', () => existsSync(tokensFile) && fetch(`http://127.0.0.1:${ports.ca}/pki/ca/issuing.cer`).then((r) => r.ok));
    const tokens = Object.fromEntries(
      readFileSync(tokensFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split('\t') as [string, string]),
    );
    start('ocsp', { TRUC_KEY_PASSPHRASE: passphrase });
    start('monitor', {}); // no passphrase, no PIN
    await until('the monitor to listen', () => fetch(`http://127.0.0.1:${ports.monitor}/api/v1/monitor/status`, { headers: { authorization: `Bearer ${tokens['monitor-analyst']}` } }).then((r) => r.ok));
    expect(existsSync(join(dataDir('monitor'), 'kek.bin'))).toBe(false);

    const dir = tmp();
    const { csr } = opensslCsr(dir, '/C=VN/O=Bộ Nội vụ/CN=Roles apart');
    const issued = await fetch(`http://127.0.0.1:${ports.ca}/api/v1/certificates`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens['ra-officer']}`, 'content-type': 'application/json' },
      body: JSON.stringify({ profile: 'agency-signing', csr: typeof csr === 'string' ? csr : String(csr) }),
    });
    expect(issued.status).toBe(201);
    const cert = (await issued.json()) as { serial: string; certificate: string };
    writeFileSync(join(dir, 'leaf.pem'), cert.certificate);
    const issuer = Buffer.from(await (await fetch(`http://127.0.0.1:${ports.ca}/pki/ca/issuing.cer`)).arrayBuffer());
    writeFileSync(join(dir, 'issuer.der'), issuer);
    execFileSync('openssl', ['x509', '-inform', 'DER', '-in', join(dir, 'issuer.der'), '-out', join(dir, 'issuer.pem')]);
    const ocsp = () =>
      execFileSync('openssl', ['ocsp', '-issuer', join(dir, 'issuer.pem'), '-cert', join(dir, 'leaf.pem'), '-url', `http://127.0.0.1:${ports.ocsp}/ocsp`, '-noverify'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    await until('the OCSP process to answer good', () => /: good/.test(ocsp()));

    const revoked = await fetch(`http://127.0.0.1:${ports.ca}/api/v1/certificates/${cert.serial}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens['ra-officer']}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'keyCompromise' }),
    });
    expect(revoked.status).toBe(200);
    await until('the OCSP process to answer revoked', () => /: revoked/.test(ocsp()));

    // the events of the CA process reach the monitor process through the outbox and NATS
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      await until('the monitor to store both events', async () => {
        const r = await db.query(`SELECT action FROM monitor_event WHERE doc #>> '{truc,serial}' = $1`, [cert.serial]);
        const actions = r.rows.map((x) => x.action);
        return actions.includes('certificate.issued') && actions.includes('certificate.revoked');
      });
      const inst = await db.query(`SELECT DISTINCT doc #>> '{truc,instance}' AS i FROM monitor_event WHERE doc #>> '{truc,serial}' = $1`, [cert.serial]);
      expect(inst.rows).toEqual([{ i: 'roles-test' }]);
    } finally {
      await db.end();
    }
    const status = (await (
      await fetch(`http://127.0.0.1:${ports.monitor}/api/v1/monitor/status`, { headers: { authorization: `Bearer ${tokens['monitor-analyst']}` } })
    ).json()) as any;
    expect(status.bus.bus).toMatchObject({ kind: 'nats', connected: true, stream: 'TRUC_ROLES_T', subjectPrefix: 'troles' });
    expect(status.bus.bus.consumers[0]).toMatchObject({ durable: 'monitor', state: 'consuming' });
    expect(status.bus.bus.consumers[0].delivered).toBeGreaterThan(0);

    // the monitor-only process signs nothing: asked to issue, it says why (503), it does not ask for secrets
    const refused = await fetch(`http://127.0.0.1:${ports.monitor}/api/v1/certificates`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens['ra-officer']}`, 'content-type': 'application/json' },
      body: JSON.stringify({ profile: 'agency-signing', csr: String(csr) }),
    });
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as any).code).toBe('key_store_unavailable');
  }, 400_000);
});
