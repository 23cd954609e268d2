/**
 * The exchange under faults: what an honest information system sees — its exchanges' latency and failures —
 * while other clients of the same security server misbehave, and while a server is killed (`kill -9`) and
 * started again; then both message logs verified offline. The axis is the exchange benchmark's
 * (./exchange.ts: the platform in this process, two servers and the echo service as processes).
 *
 * The honest client makes 1 KiB exchanges one after the other through both servers (a body of its own each
 * time, its echo compared byte for byte). Each misbehaviour runs BENCH_FAULTS_SECONDS (default 10) from 8
 * loops at once against the consumer's information-system port:
 * - uploads cut off: headers declaring 4 MiB, 300 KiB sent, the connection dropped;
 * - clients that stop reading: a 4 MiB exchange whose answer is never read, dropped after 0.5 s;
 * - not HTTP: random bytes, and requests with 40 KB of headers;
 * - refusals: an unknown client, a service the provider does not have, a replayed message id.
 * Then the provider's server is stopped (SIGSTOP) for 3 s and let go on: its exchanges wait, none should fail.
 * Then the provider's server, and after it the consumer's, is killed with SIGKILL while the honest client
 * keeps calling, and started again 2 s later: how its exchanges failed meanwhile (X-Road-Error codes), whether
 * any answer came back altered, and how long after the restart the first exchange went through.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startBenchAxis, type BenchAxis } from './exchange.js';
import { verifyLog } from '../src/exchange/log/verify.js';
import { quantile } from './stats.js';

export const title = 'Exchange under faults: honest exchanges while clients misbehave and servers are killed';

const SECONDS = Number(process.env.BENCH_FAULTS_SECONDS ?? 10);
const ATTACKERS = 8;

interface Honest {
  exchanges: number;
  p50ms: number;
  p95ms: number;
  maxMs: number;
  /** failures by X-Road-Error (or the connection error) */
  failures: Record<string, number>;
  /** answers 200 whose body was not the one sent */
  altered: number;
}

/** One honest exchange: ms, or the failure's name. */
async function honestOnce(ax: BenchAxis): Promise<{ ms: number; fail?: string; altered?: boolean }> {
  const body = randomBytes(1024);
  const t0 = performance.now();
  try {
    const r = await fetch(ax.through, { method: 'POST', headers: { ...ax.headers, 'content-type': 'application/octet-stream' }, body, signal: AbortSignal.timeout(30_000) });
    const got = Buffer.from(await r.arrayBuffer());
    const ms = performance.now() - t0;
    if (r.status !== 200) return { ms, fail: r.headers.get('x-road-error') ?? `HTTP ${r.status}` };
    return { ms, ...(got.equals(body) ? {} : { altered: true }) };
  } catch (e) {
    const c = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
    return { ms: performance.now() - t0, fail: c };
  }
}

/** Honest exchanges one after the other until `until()` says stop; calls `each` after every one. */
async function honestLoop(ax: BenchAxis, until: () => boolean, each?: (r: { ms: number; fail?: string }) => void): Promise<Honest> {
  const times: number[] = [];
  const failures: Record<string, number> = {};
  let altered = 0;
  let n = 0;
  while (!until()) {
    const r = await honestOnce(ax);
    n++;
    if (r.fail) {
      failures[r.fail] = (failures[r.fail] ?? 0) + 1;
      await new Promise((res) => setTimeout(res, 20)); // a refused client does not spin
    } else times.push(r.ms);
    if (r.altered) altered++;
    each?.(r);
  }
  return { exchanges: n, p50ms: quantile(times, 0.5), p95ms: quantile(times, 0.95), maxMs: quantile(times, 1), failures, altered };
}

type Attack = (ax: BenchAxis) => Promise<string>;

const isPort = (ax: BenchAxis) => Number(new URL(ax.through).port);

/** raw bytes to the consumer's port; what came back, as its status line's code (or "closed") */
function raw(ax: BenchAxis, chunks: (Buffer | string)[], dropAfterMs?: number): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = connect(isPort(ax), '127.0.0.1', () => {
      for (const c of chunks) s.write(c);
      if (dropAfterMs === undefined) s.end();
      else setTimeout(() => s.destroy(), dropAfterMs);
    });
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      if (got.length < 64) got += d;
    });
    const done = () => resolve(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 'closed');
    s.on('close', done);
    s.on('error', () => {});
    s.setTimeout(10_000, () => s.destroy());
  });
}

const path = (ax: BenchAxis) => new URL(ax.through).pathname;
const client = (ax: BenchAxis) => ax.headers['X-Road-Client']!;

const ATTACKS: [string, Attack][] = [
  ['uploads cut off mid-body (4 MiB declared, 300 KiB sent)', (ax) => raw(ax, [`POST ${path(ax)} HTTP/1.1\r\nHost: x\r\nX-Road-Client: ${client(ax)}\r\nContent-Length: ${4 << 20}\r\n\r\n`, randomBytes(300 * 1024)], 20)],
  [
    'clients that stop reading a 4 MiB answer',
    (ax) =>
      new Promise((resolve) => {
        const u = new URL(ax.through);
        const r = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { ...ax.headers, 'content-length': 4 << 20 }, agent: false }, (res) => {
          res.pause();
          setTimeout(() => {
            res.destroy();
            resolve(String(res.statusCode));
          }, 500);
        });
        r.on('error', () => resolve('closed'));
        r.end(randomBytes(4 << 20));
      }),
  ],
  ['bytes that are not HTTP, and 40 KB of headers', (ax) => (Math.random() < 0.5 ? raw(ax, [randomBytes(2000)]) : raw(ax, [`GET ${path(ax)} HTTP/1.1\r\nHost: x\r\nX-Road-Client: ${client(ax)}\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`]))],
  [
    'refusals: unknown client, unknown service, replayed message id',
    async (ax) => {
      const pick = Math.floor(Math.random() * 3);
      const url = pick === 1 ? ax.through.replace(/\/echo$/, '/khong-ton-tai') : ax.through;
      const headers: Record<string, string> = pick === 0 ? { 'X-Road-Client': 'VN/GOV/000.00.00.G99/vanthu' } : { ...ax.headers, ...(pick === 2 ? { 'X-Road-Id': 'bench-faults-replay' } : {}) };
      const r = await fetch(url, { method: 'POST', headers, body: 'x' }).catch(() => null);
      await r?.arrayBuffer().catch(() => {});
      return r ? (r.headers.get('x-road-error') ?? String(r.status)) : 'closed';
    },
  ],
];

async function underAttack(ax: BenchAxis, attack: Attack | null): Promise<{ honest: Honest; attacker: Record<string, number> }> {
  const end = Date.now() + SECONDS * 1000;
  const attacker: Record<string, number> = {};
  const loops = attack
    ? Array.from({ length: ATTACKERS }, async () => {
        while (Date.now() < end) {
          const outcome = await attack(ax).catch((e: Error) => `threw ${e.message}`);
          attacker[outcome] = (attacker[outcome] ?? 0) + 1;
        }
      })
    : [];
  const honest = await honestLoop(ax, () => Date.now() >= end);
  await Promise.all(loops);
  return { honest, attacker };
}

/** Kills server `i` (1 consumer, 2 provider in `children`) with SIGKILL, starts it again 2 s later. */
async function killed(ax: BenchAxis, i: 0 | 1): Promise<{ honest: Honest; firstAfterRestartMs: number | null }> {
  const idx = ax.children.length - 2 + i;
  const victim: ChildProcess = ax.children[idx]!;
  const t0 = Date.now();
  let restartedAt = 0;
  let firstAfterRestartMs: number | null = null;
  const timer = setTimeout(() => victim.kill('SIGKILL'), 1500);
  const respawn = setTimeout(() => {
    // the new process (spawnServer appends it) takes the killed one's place
    ax.spawnServer(i);
    ax.children[idx] = ax.children.pop()!;
    restartedAt = Date.now();
  }, 3500);
  const honest = await honestLoop(
    ax,
    () => Date.now() - t0 > SECONDS * 1000 + 5000 && firstAfterRestartMs !== null,
    (r) => {
      if (restartedAt && !r.fail && firstAfterRestartMs === null) firstAfterRestartMs = Date.now() - restartedAt;
      if (Date.now() - t0 > 60_000 && firstAfterRestartMs === null) firstAfterRestartMs = -1;
    },
  );
  clearTimeout(timer);
  clearTimeout(respawn);
  return { honest, firstAfterRestartMs: firstAfterRestartMs === -1 ? null : firstAfterRestartMs };
}

/** Stops the provider's server (SIGSTOP) for 3 s while the honest client calls, then lets it go on (SIGCONT). */
async function stalled(ax: BenchAxis): Promise<{ honest: Honest }> {
  const provider = ax.children[ax.children.length - 1]!;
  const t0 = Date.now();
  const stop = setTimeout(() => provider.kill('SIGSTOP'), 1500);
  const cont = setTimeout(() => provider.kill('SIGCONT'), 4500);
  try {
    return { honest: await honestLoop(ax, () => Date.now() - t0 > SECONDS * 1000) };
  } finally {
    clearTimeout(stop);
    clearTimeout(cont);
    provider.kill('SIGCONT');
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const ax = await startBenchAxis({ storage: 'pglite' });
  try {
    // ready once one exchange goes through; then some to warm up
    for (let i = 0; i < 60; i++) {
      if (!(await honestOnce(ax)).fail) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    for (let i = 0; i < 200; i++) await honestOnce(ax);
    const scenarios: Record<string, unknown>[] = [];
    scenarios.push({ scenario: 'none', ...(await underAttack(ax, null)) });
    for (const [name, attack] of ATTACKS) scenarios.push({ scenario: name, ...(await underAttack(ax, attack)) });
    const stall = { scenario: "the provider's server stalled (SIGSTOP) for 3 s, then going on (SIGCONT)", ...(await stalled(ax)) };
    const kills = [
      { scenario: "the provider's server killed (SIGKILL) and started again 2 s later", ...(await killed(ax, 1)) },
      { scenario: "the consumer's server killed (SIGKILL) and started again 2 s later", ...(await killed(ax, 0)) },
    ];
    // both servers stopped as an operator stops them (SIGTERM), then their logs verified offline
    const servers = ax.children.slice(-2);
    await Promise.all(servers.map((c) => new Promise<void>((res) => (c.exitCode !== null || c.signalCode !== null ? res() : (c.once('exit', () => res()), c.kill('SIGTERM'))))));
    const logs = [];
    for (const [i, code] of ['ss-vpcp', 'ss-hcm'].entries()) {
      const dir = join(ax.dir, code, 'exchange', 'log');
      const r = await verifyLog({ dir, trustedTsaCerts: [ax.tsaCert] });
      logs.push({
        server: i === 0 ? 'consumer' : 'provider',
        intact: !r.problem,
        ...(r.problem ? { problem: r.problem } : {}),
        records: r.records,
        batches: r.batches,
        unstamped: r.unstamped,
        bodies: r.bodies,
        warnings: r.warnings,
        incomplete: r.incomplete,
        spoolFilesLeft: readdirSync(join(dir, 'spool')).length,
      });
    }
    return { seconds: SECONDS, attackers: ATTACKERS, scenarios, stall, kills, logs };
  } finally {
    await ax.close();
  }
}

const list = (o: Record<string, number>) =>
  Object.entries(o)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ×${v}`)
    .join(', ') || '—';

export function describe(r: Record<string, any>): string {
  const h = (x: Honest) => `${x.exchanges} | ${x.p50ms} / ${x.p95ms} / ${x.maxMs} | ${list(x.failures)} | ${x.altered}`;
  return [
    `An honest information system makes 1 KiB exchanges one after the other through both servers (its own body each time, the echo compared byte for byte) while ${r.attackers} loops misbehave against the same consumer server, ${r.seconds} s each; then each server in turn is killed with SIGKILL and started again 2 s later while the honest exchanges go on. ` +
      'Servers, echo service and this process on the same 2-core machine (the exchange benchmark’s axis, PGlite). "altered" counts answers 200 whose body differs from what was sent.',
    '',
    '| while | honest exchanges | p50 / p95 / max ms | honest failures | altered | the misbehaving side’s outcomes |',
    '|---|---:|---:|---|---:|---|',
    ...r.scenarios.map((s: any) => `| ${s.scenario} | ${h(s.honest)} | ${list(s.attacker)} |`),
    ...(r.stall ? [`| ${r.stall.scenario} | ${h(r.stall.honest)} | — |`] : []),
    ...r.kills.map((k: any) => `| ${k.scenario} | ${h(k.honest)} | first exchange through ${k.firstAfterRestartMs ?? 'never'} ms after the restart |`),
    '',
    'Message logs after both servers were stopped (SIGTERM), verified offline (records, hash chain, hash trees, time-stamps with the TSA’s certificate, stored bodies against their hashes): ' +
      r.logs
        .map((l: any) => `${l.server} ${l.intact ? 'intact' : `BROKEN (${l.problem?.why})`}, ${l.records} records, ${l.batches} time-stamp batches, ${l.unstamped} not yet stamped, ${l.bodies} bodies, ${l.spoolFilesLeft} spool files left` + (l.warnings.length ? `, warnings: ${l.warnings.join('; ')}` : ''))
        .join('; ') +
      '.',
  ].join('\n');
}
