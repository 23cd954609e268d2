/**
 * `kill -9` of the monitor during ingest, with a hostile flood running: a `truc start --roles monitor` process
 * on PostgreSQL takes honest batches of events from one address while another floods the intake with
 * hostile bodies (JSON a million deep, 30 MB of empty arrays, events naming `__proto__`, NDJSON lines of
 * megabytes, Windows XML 100,000 elements deep). The process is killed (SIGKILL, no chance to tidy up) in
 * the middle of both, then started again on the same database: every event it acknowledged (202) is there,
 * once, and nothing of the hostile bodies was stored. Uses the fault tests' free-port helper and their way of
 * starting `truc` (test/faults/roles.test.ts).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openDb, type Db } from '../../src/store/index.js';
import { createToken } from '../../src/http/auth/store.js';
import { freshPostgresUrl, postgresWanted } from '../helpers/db.js';
import { tmp } from '../helpers/openssl.js';
import { freePort } from '../faults/nats-server.js';
import { call, type Answer } from './helpers.js';

const ATTACKER = '127.0.0.9';

const until = async (what: string, cond: () => Promise<boolean> | boolean, ms = 120_000) => {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe.skipIf(!postgresWanted() && process.env.CI !== 'true')('abuse: kill -9 during ingest with a hostile flood (PostgreSQL)', () => {
  let url: string;
  let port: number;
  let db: Db | undefined;
  let child: ChildProcess | undefined;
  const root = tmp('truc-kill-ingest-');
  const run = randomBytes(4).toString('hex');

  const start = (): ChildProcess => {
    const config = join(root, 'monitor.yaml');
    writeFileSync(
      config,
      [
        `dataDir: ${join(root, 'data')}`,
        `database: { url: "${url}", poolSize: 4 }`,
        `publicUrl: http://127.0.0.1:${port}`,
        `http: { host: 127.0.0.1, port: ${port} }`,
        `keys: { software: { dir: ${join(root, 'keys')} } }`,
        `log: { level: warn }`,
        `exchange: { demo: false }`,
        `monitor: { syslog: {} }`,
      ].join('\n'),
    );
    const c = spawn(process.execPath, ['bin/truc.js', '--config', config, 'start', '--roles', 'monitor'], {
      env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    c.stderr!.on('data', (d) => (err = (err + d.toString()).slice(-4000)));
    c.on('exit', (code, signal) => {
      if (code && code !== 0 && signal !== 'SIGKILL') console.error(`monitor exited ${code}: ${err}`);
    });
    return c;
  };
  const base = () => `http://127.0.0.1:${port}`;
  const healthy = async () => (await call(base(), { path: '/healthz', timeoutMs: 2000 })).status === 200;

  beforeAll(async () => {
    url = await freshPostgresUrl();
    port = await freePort();
  }, 60_000);
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 20_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await db?.close();
  }, 60_000);

  it('loses no acknowledged event and stores nothing hostile', async () => {
    child = start();
    await until('the monitor to listen', healthy);
    db = await openDb({ url });
    const sender = (await createToken(db, 'gui.su.kien', ['event-sender'])).token;
    const ev = (n: number) => ({ '@timestamp': new Date().toISOString(), event: { kind: 'event', action: 'honest' }, message: `honest ${run}`, truc: { run, n } });
    const post = (body: string | Buffer, type = 'application/json', path = '/api/v1/events', from?: string): Promise<Answer> =>
      call(base(), { method: 'POST', path, headers: { authorization: `Bearer ${sender}`, 'content-type': type }, body, timeoutMs: 60_000, ...(from ? { localAddress: from } : {}) });

    // the hostile flood, four at a time from its own address
    const hostile: (string | [string, string, string])[] = [
      '['.repeat(1_000_000),
      '[' + '[],'.repeat(10_000_000) + '[]]',
      `[{"@timestamp":"${new Date().toISOString()}","__proto__":{"admin":true},"message":"hostile ${run}"}]`,
      `[{"@timestamp":"${new Date().toISOString()}","message":"hostile ${run}","\\u005f_proto__":{"admin":true}}]`,
      [`{"message":"hostile ${run}","x":"${'x'.repeat(5_000_000)}"}\n`, 'application/x-ndjson', '/api/v1/events'],
      ['<Events><Event>' + '<a>'.repeat(100_000) + '</a>'.repeat(100_000) + '</Event></Events>', 'application/xml', '/api/v1/events/windows'],
    ];
    let stop = false;
    const floodAnswers = new Map<number, number>();
    const flood = Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = w; !stop; i++) {
          const h = hostile[i % hostile.length]!;
          const [body, type, path] = typeof h === 'string' ? [h, 'application/json', '/api/v1/events'] : h;
          const r = await post(body, type, path, ATTACKER).catch(() => undefined);
          if (r) floodAnswers.set(r.status, (floodAnswers.get(r.status) ?? 0) + 1);
        }
      }),
    );

    // the honest sender: batches of 50, each acknowledged batch remembered
    const acknowledged: number[] = [];
    let next = 0;
    const honest = (async () => {
      while (!stop) {
        const batch = Array.from({ length: 50 }, () => ev(next++));
        const r = await post(JSON.stringify(batch)).catch(() => undefined);
        if (r?.status === 202) {
          const j = JSON.parse(r.body.toString());
          expect(j.accepted).toBe(50);
          acknowledged.push(...batch.map((e) => e.truc.n));
        }
      }
    })();

    await until('twenty batches acknowledged under the flood', () => acknowledged.length >= 1000, 120_000);
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    stop = true;
    await Promise.all([flood, honest]);
    const sentBeforeKill = next;
    // the flood was answered while it ran: refusals (400, 413, 429) and intakes that refused every event by index (202)
    expect([...floodAnswers.entries()].filter(([s]) => s >= 400 && s < 500).length).toBeGreaterThan(0);

    // started again on the same database: every acknowledged event there, once; nothing hostile
    child = start();
    await until('the monitor to listen again', healthy);
    const rows = await db.query<{ n: number; copies: string }>(
      `SELECT (doc #>> '{truc,n}')::int AS n, count(*)::text AS copies FROM monitor_event WHERE doc #>> '{truc,run}' = $1 GROUP BY 1`,
      [run],
    );
    const stored = new Map(rows.map((r) => [Number(r.n), Number(r.copies)]));
    const lost = acknowledged.filter((n) => !stored.has(n));
    expect(lost, `acknowledged but lost: ${lost.slice(0, 20).join(', ')}`).toEqual([]);
    expect([...stored.values()].every((c) => c === 1)).toBe(true);
    expect(stored.size).toBeLessThanOrEqual(sentBeforeKill);
    const bad = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM monitor_event WHERE doc->>'message' = $1 OR doc ? '__proto__'`, [`hostile ${run}`]);
    expect(Number(bad[0]!.n)).toBe(0);
    // and it takes events again
    const after = await post(JSON.stringify([ev(1_000_000)]));
    expect(after.status).toBe(202);
    console.log(
      `kill -9 under a hostile flood: ${acknowledged.length} events acknowledged of ${sentBeforeKill} sent, all found once after the restart; flood answers ${[...floodAnswers.entries()].map(([s, n]) => `${s}×${n}`).join(' ')}`,
    );
  }, 300_000);
});
