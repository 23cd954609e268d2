/**
 * The exchange: requests per second and added latency through a consumer and a provider security server,
 * beside the same service called directly, in one run on one machine.
 *
 * Setup (not timed): a platform in this process (CA, OCSP responder, TSA, central server over HTTP), two
 * agencies' security servers provisioned from it (keys, certificates, anchor, registration approved), each
 * then run as its own process (`truc ss serve`, its own PGlite database and message log folder); the
 * provider's information system is a plain Node HTTP echo server in a process of its own. Load: wrk (a C
 * load generator, in its own process) with BENCH_EXCHANGE_CONNECTIONS connections (default 32) for
 * BENCH_EXCHANGE_SECONDS (default 10) per run: POST 1 KiB and POST 1 MiB bodies, directly to the service
 * and through both servers. Every message through the servers is signed, verified, and logged on both
 * sides (message log mode `full`) before it is delivered.
 */
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { openPlatform, type Platform } from '../src/platform.js';
import { initHierarchy } from '../src/pki/index.js';
import { DEFAULT_HIERARCHY } from '../src/cli/bootstrap.js';
import { buildApp } from '../src/http/app.js';
import { OcspResponder } from '../src/pki/ocsp/index.js';
import { TimeStampAuthority } from '../src/pki/tsa/index.js';
import { openCentral } from '../src/exchange/axis.js';
import { anchorBytes } from '../src/exchange/conf/anchor.js';
import { memberId, serverId, serviceId, subsystemId, subsystemText } from '../src/exchange/ids.js';
import { installAnchor, openServer, serverStore } from '../src/exchange/server/standalone.js';
import { provisionIdentity } from '../src/exchange/server/provision.js';
import { openMessageLog } from '../src/exchange/server/log-open.js';
import { freePort, waitPort } from '../test/helpers/ports.js';
import pg from 'pg';
import { randomBytes } from 'node:crypto';

export const title = 'Exchange: requests through two security servers (loopback)';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.BENCH_EXCHANGE_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_EXCHANGE_CONNECTIONS ?? 32);
/** connections for the capacity row: enough requests in flight that the two cores, not waiting, set the rate */
const MANY = Number(process.env.BENCH_EXCHANGE_MANY ?? 256);
const PASS = 'bench passphrase';
/** the servers' storage: their own PGlite (the embedded default), or each its own PostgreSQL database (production) */
const PG_SOCKET = '/var/run/postgresql/.s.PGSQL.5432';
const PG_BASE =
  process.env.BENCH_PG_URL ??
  (existsSync(PG_SOCKET) ? 'postgres://postgres@%2Fvar%2Frun%2Fpostgresql/test' : 'postgres://postgres@127.0.0.1:5432/test');

async function pgAdmin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_BASE });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** The PostgreSQL backends serving the given databases (their CPU belongs to the servers' cost). */
async function backendPids(names: string[]): Promise<number[]> {
  const c = new pg.Client({ connectionString: PG_BASE });
  await c.connect();
  try {
    const r = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = ANY($1)', [names]);
    return r.rows.map((x) => x.pid);
  } finally {
    await c.end();
  }
}



interface Load {
  refused?: string[];
  requestsPerSecond: number;
  /** requests made in the run */
  requests: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  non2xx: number;
}

function ms(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) return NaN;
  const x = Number(m[1]);
  return m[2] === 'us' ? x / 1000 : m[2] === 's' ? x * 1000 : x;
}

// wrk runs while this process keeps answering: the platform's OCSP responder, TSA and central server live
// here, and a security server that could not fetch its OCSP response at start-up (a busy machine) must be able
// to fetch it again during a run — with wrk run synchronously every message was refused ocsp_stale until then
const execFileAsync = promisify(execFile);

async function wrk(url: string, bodyBytes: number, headers: Record<string, string>, dir: string, seconds = SECONDS, connections = CONNECTIONS): Promise<Load> {
  const script = join(dir, `post-${bodyBytes}.lua`);
  writeFileSync(
    script,
    [
      'wrk.method = "POST"',
      `wrk.body = string.rep("x", ${bodyBytes})`,
      'wrk.headers["Content-Type"] = "application/octet-stream"',
      ...Object.entries(headers).map(([k, v]) => `wrk.headers["${k}"] = "${v}"`),
      // the first refusals, to say what they were
      'local shown = 0',
      'response = function(status, headers, body)',
      '  if status ~= 200 and shown < 3 then shown = shown + 1; io.write("REFUSED ", status, " ", tostring(headers["x-road-error"] or headers["X-Road-Error"]), " ", string.sub(string.gsub(tostring(body), "\\n", " "), 1, 300), "\\n") end',
      'end',
    ].join('\n'),
  );
  return runWrk(url, script, seconds, connections);
}

/**
 * X-Road SOAP (message protocol 4.0) at about 1 KiB an envelope, each with an id of its own (the servers refuse
 * a repeated one as a replay), POSTed to `url` — the consumer's server, or the echo service directly. The
 * echo service answers the envelope back, which repeats the request's header as PR-MESS asks of a response.
 */
async function wrkSoap(url: string, dir: string, seconds = SECONDS): Promise<Load> {
  const script = join(dir, `soap-${randomUUID()}.lua`);
  const ident = (tag: string, type: string, parts: [string, string][]) =>
    `<xrd:${tag} id:objectType="${type}">${parts.map(([k, v]) => `<id:${k}>${v}</id:${k}>`).join('')}</xrd:${tag}>`;
  const head =
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xrd="http://x-road.eu/xsd/xroad.xsd" xmlns:id="http://x-road.eu/xsd/identifiers" xmlns:ns1="urn:truc:bench"><SOAP-ENV:Header>' +
    ident('client', 'SUBSYSTEM', [['xRoadInstance', 'VN'], ['memberClass', 'GOV'], ['memberCode', '000.00.00.G22'], ['subsystemCode', 'vanthu']]) +
    ident('service', 'SERVICE', [['xRoadInstance', 'VN'], ['memberClass', 'PROV'], ['memberCode', '000.00.31.H29'], ['subsystemCode', 'vanthu'], ['serviceCode', 'echo']]) +
    '<xrd:protocolVersion>4.0</xrd:protocolVersion><xrd:id>';
  const tail = `</xrd:id></SOAP-ENV:Header><SOAP-ENV:Body><ns1:echo><duLieu>${'x'.repeat(1024 - head.length - 120)}</duLieu></ns1:echo></SOAP-ENV:Body></SOAP-ENV:Envelope>`;
  writeFileSync(
    script,
    [
      'wrk.method = "POST"',
      'wrk.headers["Content-Type"] = "text/xml; charset=utf-8"',
      `local head = [[${head}]]`,
      `local tail = [[${tail}]]`,
      `local run = "${randomUUID()}"`,
      'local n = 0',
      'request = function()',
      '  n = n + 1',
      '  return wrk.format(nil, nil, nil, head .. run .. "-" .. n .. tail)',
      'end',
      'local shown = 0',
      'response = function(status, headers, body)',
      '  if status ~= 200 and shown < 3 then shown = shown + 1; io.write("REFUSED ", status, " ", string.sub(string.gsub(tostring(body), "\\n", " "), 1, 300), "\\n") end',
      'end',
    ].join('\n'),
  );
  return runWrk(url, script, seconds);
}

/** wrk with a Lua script: rate, latency, errors and the number of requests it made */
async function runWrk(url: string, script: string, seconds: number, connections = CONNECTIONS): Promise<Load> {
  const { stdout: out } = await execFileAsync('wrk', ['-t', '1', '-c', String(connections), '-d', `${seconds}s`, '--timeout', '30s', '--latency', '-s', script, url], { encoding: 'utf8', timeout: (seconds + 60) * 1000 });
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p50 = ms(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
  const p99 = ms(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const refused = [...out.matchAll(/^REFUSED (.*)$/gm)].map((m) => m[1]!);
  return { requestsPerSecond: Math.round(rps), requests, p50ms: p50, p99ms: p99, errors, non2xx, ...(refused.length ? { refused } : {}) };
}

/** how serving processes are started (docs/operations.md, Production): BENCH_EXCHANGE_SERVER_FLAGS='' measures without */
const SERVER_NODE_FLAGS = process.env.BENCH_EXCHANGE_SERVER_FLAGS ?? '--initial-old-space-size=128';
const BIG_MIB = Number(process.env.BENCH_EXCHANGE_BIG_MIB ?? 1024);
/** and with jemalloc preloaded when the machine has it (scripts/malloc.sh; TRUC_MALLOC=system measures glibc's malloc) */
const SERVER_MALLOC = execFileSync('bash', [join(ROOT, 'scripts/malloc.sh')], { encoding: 'utf8' }).trim();
const serverEnv = (): NodeJS.ProcessEnv =>
  SERVER_MALLOC ? { ...process.env, LD_PRELOAD: [SERVER_MALLOC, process.env.LD_PRELOAD].filter(Boolean).join(':') } : process.env;

/** POSTs `bytes` generated on the fly and reads the echo back, hashing both sides; seconds and MiB/s. */
async function streamThrough(url: string, headers: Record<string, string>, bytes: number): Promise<{ seconds: number; mibPerSecond: number; intact: boolean }> {
  const { request } = await import('node:http');
  const { createHash } = await import('node:crypto');
  const u = new URL(url);
  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32BE(i, i);
  const sent = createHash('sha256');
  const got = createHash('sha256');
  const t0 = performance.now();
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': bytes } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
      res.on('data', (d: Buffer) => {
        received += d.length;
        got.update(d);
      });
      res.on('end', () => resolve());
      res.on('error', reject);
    });
    req.on('error', reject);
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const c = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= c.length;
        sent.update(c);
        if (!req.write(c)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  const seconds = (performance.now() - t0) / 1000;
  return { seconds: Math.round(seconds * 10) / 10, mibPerSecond: Math.round(bytes / 1024 / 1024 / seconds), intact: received === bytes && sent.digest().equals(got.digest()) };
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (meaningful on a busy machine, unlike req/s). */
function cpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    // fields 14 and 15 (utime, stime) are the 12th and 13th after the command name
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / CLK_TCK;
  } catch {
    return NaN;
  }
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

const loadAvg = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

/**
 * A wrk run through the servers, with the CPU each server spent per request (and, on PostgreSQL, the CPU
 * of the database backends serving them, together) and the machine's load.
 */
async function measured(pids: number[], run: () => Promise<Load>, dbPids: number[] = []): Promise<Load & { cpuMsPerRequest: number[]; dbCpuMsPerRequest?: number; load: number[] }> {
  const l0 = loadAvg();
  const c0 = pids.map(cpuMs);
  const d0 = dbPids.map(cpuMs);
  const r = await run();
  const c1 = pids.map(cpuMs);
  const d1 = dbPids.map(cpuMs);
  const requests = Number.isFinite(r.requests) ? r.requests : r.requestsPerSecond * SECONDS;
  const per = (x: number) => Math.round((x / requests) * 1000) / 1000;
  const db = d1.reduce((a, c, i) => a + (Number.isFinite(c) && Number.isFinite(d0[i]!) ? c - d0[i]! : 0), 0);
  return { ...r, cpuMsPerRequest: c1.map((c, i) => per(c - c0[i]!)), ...(dbPids.length ? { dbCpuMsPerRequest: per(db) } : {}), load: [l0, loadAvg()] };
}

function vmHwmMiB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
}

const AGENCIES = [
  { memberClass: 'GOV', memberCode: '000.00.00.G22', name: 'Văn phòng Chính phủ', serverCode: 'ss-vpcp' },
  { memberClass: 'PROV', memberCode: '000.00.31.H29', name: 'UBND Thành phố Hồ Chí Minh', serverCode: 'ss-hcm' },
];

export async function run(): Promise<Record<string, unknown>> {
  return runExchange({ storage: process.env.BENCH_EXCHANGE_DB === 'postgres' ? 'postgres' : 'pglite', bigMiB: BIG_MIB });
}

/** A running bench axis: the platform (CA, OCSP, TSA, central server) in this process, two servers and the echo service as processes. */
export interface BenchAxis {
  dir: string;
  /** the echo service through both servers */
  through: string;
  headers: Record<string, string>;
  svcPort: number;
  /** the consumer's and the provider's ports and configuration files */
  ports: { is: number; peer: number; config: string }[];
  /** the echo service, then the consumer's and the provider's server */
  children: ChildProcess[];
  databases: string[];
  central: Awaited<ReturnType<typeof openCentral>>;
  /** the TSA's certificate (DER): what verifies the logs' time-stamps */
  tsaCert: Buffer;
  actor: string;
  /** starts a server's process (index into `ports`) as the bench starts it, and adds it to `children` */
  spawnServer(i: number): ChildProcess;
  close(): Promise<void>;
}

export async function startBenchAxis(o: { storage: 'pglite' | 'postgres' }): Promise<BenchAxis> {
  const dir = mkdtempSync(join(tmpdir(), 'truc-bench-exchange-'));
  const children: ChildProcess[] = [];
  const databases: string[] = [];
  let p: Platform | undefined;
  let app: Awaited<ReturnType<typeof buildApp>> | undefined;
  let ocsp: OcspResponder | undefined;
  const close = async () => {
    for (const c of children) c.kill('SIGTERM');
    await app?.close();
    await ocsp?.stop();
    await p?.close();
    await new Promise((r) => setTimeout(r, 500));
    for (const name of databases) await pgAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    p = await openPlatform(loadConfig({ env: {}, overrides: { dataDir: join(dir, 'platform'), keys: { software: { passphrase: PASS } } as any, log: { level: 'warn' }, publicUrl: baseUrl, http: { port } } as any }));
    await initHierarchy(p.pki, DEFAULT_HIERARCHY, 'bench');
    ocsp = new OcspResponder(p.pki, p.issuer, p.config.ocsp, p.log);
    await ocsp.start();
    const tsa = new TimeStampAuthority(p.pki, p.issuer, p.config.tsa, p.log);
    await tsa.start();
    const central = await openCentral(p, baseUrl);
    app = await buildApp(p, { ocsp, tsa, central });
    await app.listen({ host: '127.0.0.1', port });
    const actor = 'bench';
    await central.registry.approvePlatformCas(p.pki, actor, `${baseUrl}/ocsp`);
    await central.registry.approveTsa({ name: 'TSA', url: `${baseUrl}/tsa`, certificate: tsa.certificate() }, actor);
    for (const a of AGENCIES) {
      await central.registry.addMember({ memberClass: a.memberClass, memberCode: a.memberCode, name: a.name }, actor);
      await central.registry.addSubsystem({ memberClass: a.memberClass, memberCode: a.memberCode, subsystemCode: 'vanthu' }, actor);
    }
    await central.generator.generate({ force: true, actor });
    const anchor = anchorBytes(await central.exportAnchor(baseUrl));

    // the provider's information system: an echo server of its own
    const svcPort = await freePort();
    const svc = spawn(process.execPath, ['-e', `require('http').createServer((q,s)=>{const h={'content-type':q.headers['content-type']||'application/octet-stream'};if(q.headers['content-length'])h['content-length']=q.headers['content-length'];s.writeHead(200,h);q.pipe(s)}).listen(${svcPort},'127.0.0.1')`], { stdio: 'inherit' });
    children.push(svc);

    const ports: { is: number; peer: number; config: string }[] = [];
    for (const a of AGENCIES) {
      const is = await freePort();
      const peer = await freePort();
      const ssDir = join(dir, a.serverCode);
      const config = join(dir, `${a.serverCode}.yaml`);
      const id = `SERVER:VN/${a.memberClass}/${a.memberCode}/${a.serverCode}`;
      // BENCH_EXCHANGE_DB_THREAD=0 or 1: the servers' PGlite on their main thread or a thread of its own
      // (database.thread, default true, docs/operations.md)
      const thread = process.env.BENCH_EXCHANGE_DB_THREAD;
      let database: { url?: string; thread?: boolean } | undefined = thread === '0' || thread === '1' ? { thread: thread === '1' } : undefined;
      if (o.storage === 'postgres') {
        const name = `truc_bench_xs_${randomBytes(5).toString('hex')}`;
        await pgAdmin(`CREATE DATABASE ${name}`);
        databases.push(name);
        const u = new URL(PG_BASE);
        u.pathname = `/${name}`;
        database = { url: u.toString() };
      }
      writeFileSync(
        config,
        JSON.stringify({
          dataDir: ssDir,
          ...(database ? { database } : {}),
          keys: { software: { passphrase: PASS } },
          log: { level: 'warn' },
          http: { port: 0 },
          exchange: { server: { id, memberName: a.name, host: '127.0.0.1', isHost: '127.0.0.1', isPort: is, peerPort: peer, publicAddress: `127.0.0.1:${peer}` } },
        }),
      );
      const q = await openPlatform(loadConfig({ env: {}, file: config }));
      try {
        const store = await serverStore(q);
        const sid = serverId(memberId('VN', a.memberClass, a.memberCode), a.serverCode);
        const sub = subsystemId(memberId('VN', a.memberClass, a.memberCode), 'vanthu');
        await provisionIdentity(store, q.keys, sid, a.name, async (csr, profile, subject) => (await p!.issuer.issue({ profile, csr, subject }, actor)).der);
        installAnchor(join(ssDir, 'exchange'), anchor);
        await store.addClient(sub);
        const { server, log } = await openServer(q, (d, o) => openMessageLog(q.db, d, o));
        for (const [type, extra] of [
          ['auth-cert', { address: `127.0.0.1:${peer}` }],
          ['client', { client: { memberClass: a.memberClass, memberCode: a.memberCode, subsystemCode: 'vanthu' } }],
        ] as const) {
          const r = await central.registration.submit(await server.registrationRequest(type, extra as never));
          if (r.status === 'pending') await central.registration.approve(r.id, actor);
        }
        if (a.serverCode === 'ss-hcm') {
          const service = serviceId(sub, 'echo');
          await store.putService(service, `http://127.0.0.1:${svcPort}`);
          await store.grant({ service: `SERVICE:VN/${a.memberClass}/${a.memberCode}/vanthu/echo`, subject: subsystemText(subsystemId(memberId('VN', 'GOV', '000.00.00.G22'), 'vanthu')), method: '*', path: '*' });
        }
        await log.close();
      } finally {
        await q.close();
      }
      ports.push({ is, peer, config });
    }
    await central.generator.generate({ force: true, actor });
    const spawnServer = (i: number) => {
      // started as docs/operations.md says serving processes are (the old space's limit at 128 MB);
      // BENCH_EXCHANGE_NODE_ARGS: extra node flags for the servers (e.g. --cpu-prof when looking for where time goes)
      const nodeArgs = `${SERVER_NODE_FLAGS} ${process.env.BENCH_EXCHANGE_NODE_ARGS ?? ''}`.split(' ').filter(Boolean);
      const child = spawn(process.execPath, [...nodeArgs, join(ROOT, 'bin/truc.js'), '--config', ports[i]!.config, 'ss', 'serve'], {
        env: serverEnv(),
        stdio: ['ignore', process.env.BENCH_EXCHANGE_STDOUT ? 'inherit' : 'ignore', 'inherit'],
      });
      children.push(child);
      return child;
    };
    for (let i = 0; i < ports.length; i++) spawnServer(i);
    await waitPort(svcPort);
    for (const s of ports) await waitPort(s.is);
    await waitPort(ports[1]!.peer);
    const through = `http://127.0.0.1:${ports[0]!.is}/r1/VN/PROV/000.00.31.H29/vanthu/echo`;
    const headers = { 'X-Road-Client': 'VN/GOV/000.00.00.G22/vanthu' };
    return { dir, through, headers, svcPort, ports, children, databases, central, tsaCert: tsa.certificate(), actor, spawnServer, close };
  } catch (e) {
    await close();
    throw e;
  }
}

export async function runExchange(o: { storage: 'pglite' | 'postgres'; bigMiB: number }): Promise<Record<string, unknown>> {
  const ax = await startBenchAxis(o);
  const { dir, through, headers, svcPort, ports, children, databases, central, actor } = ax;
  try {
    if (process.env.BENCH_EXCHANGE_HOLD) {
      // for profiling by hand: the axis stays up until this file disappears (BENCH_EXCHANGE_HOLD: its path,
      // or 1 for the default), its configuration generated anew every minute so that it does not expire
      const hold = process.env.BENCH_EXCHANGE_HOLD === '1' ? join(tmpdir(), 'truc-bench-exchange.hold') : process.env.BENCH_EXCHANGE_HOLD;
      writeFileSync(hold, JSON.stringify({ through, direct: `http://127.0.0.1:${svcPort}/`, pids: children.map((c) => c.pid) }));
      console.log(`holding: ${hold}`);
      let generated = Date.now();
      while (existsSync(hold)) {
        await new Promise((r) => setTimeout(r, 500));
        if (Date.now() - generated > 60_000) {
          generated = Date.now();
          await central.generator.generate({ force: true, actor });
        }
      }
    }
    // X-Road's users report 2-8 s to set up a channel between servers: once both servers say they can carry
    // messages (/healthcheck: configuration and own OCSP responses held), the first exchange sets up the
    // mutually authenticated TLS channel between them (handshake, the peer's chain and OCSP checked, its
    // signature verified with a certificate not seen before) on code not yet warm; the second reuses it
    const first = await firstExchanges(through, headers, ports.map((s) => s.is));
    // ready once one exchange goes through (both servers hold their configuration and OCSP responses)
    for (let i = 0; i < 60; i++) {
      const r = await fetch(through, { method: 'POST', headers, body: 'x' }).catch(() => null);
      await r?.arrayBuffer().catch(() => {});
      if (r?.status === 200) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
    // warm up: connections, caches, JIT — two rounds: a held axis shows the first 6 s at about twice the CPU
    // per exchange of the rounds after it (1.35-1.5 against 0.6-0.7 ms), and one 3 s round left the measured
    // run partly cold (0.83-0.88 ms in the runs of 2026-12-05 against 0.62-0.67 on a held axis of the same build)
    await wrk(through, 1024, headers, dir, 5);
    await wrk(through, 1024, headers, dir, 5);
    const direct1k = await wrk(`http://127.0.0.1:${svcPort}/`, 1024, {}, dir);
    const servers = children.slice(-2).map((c) => c.pid!);
    const dbPids = databases.length ? await backendPids(databases) : [];
    const through1k = await measured(servers, () => wrk(through, 1024, headers, dir), dbPids);
    // one request at a time: the latency the servers add when nothing queues (the issue's added p50); and
    // many connections: what the pair carries when the machine is kept busy (its capacity)
    const direct1kOne = await wrk(`http://127.0.0.1:${svcPort}/`, 1024, {}, dir, Math.min(SECONDS, 6), 1);
    const through1kOne = await measured(servers, () => wrk(through, 1024, headers, dir, Math.min(SECONDS, 6), 1), dbPids);
    const through1kMany = await measured(servers, () => wrk(through, 1024, headers, dir, SECONDS, MANY), dbPids);
    // X-Road's SOAP protocol, the same echo service (the envelope answered back)
    const soapThrough = `http://127.0.0.1:${ports[0]!.is}/`;
    const soapDirect = await wrkSoap(`http://127.0.0.1:${svcPort}/`, dir);
    await wrkSoap(soapThrough, dir, 2);
    const soap1k = await measured(servers, () => wrkSoap(soapThrough, dir), dbPids);
    // refused by the provider's server (a service it does not have): what a flood of bad requests costs
    const refused1k = await measured(servers, () => wrk(through.replace(/\/echo$/, '/khong-ton-tai'), 1024, headers, dir, Math.min(SECONDS, 6)), dbPids);
    const direct1m = await wrk(`http://127.0.0.1:${svcPort}/`, 1024 * 1024, {}, dir);
    const through1m = await measured(servers, () => wrk(through, 1024 * 1024, headers, dir), dbPids);
    // one 1 GiB body through both servers and back, streamed (never whole in memory): time and the
    // servers' peak resident memory (VmHWM) after it
    const bigCpu0 = servers.map(cpuMs);
    const big = o.bigMiB > 0 ? await streamThrough(through, headers, o.bigMiB * 1024 * 1024) : null;
    const bigCpuMsPerMiB = servers.map((p, i) => Math.round(((cpuMs(p) - bigCpu0[i]!) / o.bigMiB) * 10) / 10);
    const peakMiB = children.slice(-2).map((c) => vmHwmMiB(c.pid!));
    return { storage: o.storage, ...(first ? { first } : {}), connections: CONNECTIONS, seconds: SECONDS, direct1k, through1k, direct1kOne, through1kOne, many: MANY, through1kMany, soapDirect, soap1k, refused1k, direct1m, through1m, ...(big ? { big: { mib: o.bigMiB, ...big, serverPeakRssMiB: peakMiB, cpuMsPerMiB: bigCpuMsPerMiB } } : {}) };
  } finally {
    await ax.close();
  }
}

/**
 * Waits (≤ 60 s) until every server's /healthcheck answers 200, then times the first three exchanges, one
 * after the other: ms each, or null when the servers did not get ready or the first exchange failed.
 */
async function firstExchanges(url: string, headers: Record<string, string>, isPorts: number[]): Promise<number[] | null> {
  const end = Date.now() + 60_000;
  for (const port of isPorts) {
    for (;;) {
      const r = await fetch(`http://127.0.0.1:${port}/healthcheck`).catch(() => null);
      await r?.arrayBuffer().catch(() => {});
      if (r?.status === 200) break;
      if (Date.now() > end) return null;
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const r = await fetch(url, { method: 'POST', headers, body: 'x' }).catch(() => null);
    await r?.arrayBuffer().catch(() => {});
    if (r?.status !== 200) return null;
    times.push(Math.round((performance.now() - t0) * 10) / 10);
  }
  return times;
}

const n = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');
const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—');

export function describe(r: Record<string, any>): string {
  const rows = [
    ['1 KiB', r.direct1k, r.through1k],
    ['1 MiB', r.direct1m, r.through1m],
    ...(r.soap1k ? ([['1 KiB SOAP', r.soapDirect, r.soap1k]] as const) : []),
  ] as const;
  return [
    `wrk, ${r.connections} connections, ${r.seconds} s a run, POST with a body of the given size to an echo service. ` +
      'Through the servers every message is signed (hash-tree batches, ECDSA P-256, software key), its peer certificates and OCSP checked, ' +
      'logged on both sides before delivery (mode full), each way. Consumer server, provider server, echo service and wrk each in its own process ' +
      `(the servers started as docs/operations.md says: node ${SERVER_NODE_FLAGS || '(no flags)'}, ${SERVER_MALLOC ? 'jemalloc preloaded' : "glibc's malloc"}) ` +
      'on the same 2-core machine; added latency is the difference of medians. ' +
      (r.storage === 'postgres'
        ? 'Each server on its own PostgreSQL database (the production set-up: the message-log index and operational records are written by PostgreSQL backends, whose CPU is counted below).'
        : 'Each server on its own PGlite database (the embedded default: the message-log index and operational records are written inside the server process).'),
    '',
    '| body | direct req/s | through req/s | ratio | direct p50 / p99 ms | through p50 / p99 ms | added p50 ms | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      ([label, d, t]) =>
        `| ${label} | ${n(d.requestsPerSecond)} | ${n(t.requestsPerSecond)} | ${Math.round((t.requestsPerSecond / d.requestsPerSecond) * 100)} % | ${f(d.p50ms)} / ${f(d.p99ms)} | ${f(t.p50ms)} / ${f(t.p99ms)} | ${f(t.p50ms - d.p50ms)} | ${t.errors + t.non2xx} |`,
    ),
    '',
    `CPU per exchange (user + system, from /proc, consumer / provider server): 1 KiB ${r.through1k.cpuMsPerRequest?.join(' / ')} ms, ` +
      `1 MiB ${r.through1m.cpuMsPerRequest?.join(' / ')} ms` +
      (r.soap1k ? `, 1 KiB SOAP envelope ${r.soap1k.cpuMsPerRequest?.join(' / ')} ms (parsed, checked against the signed header, requestHash written into the response by the provider's server and checked by the consumer's)` : '') +
      (r.through1k.dbCpuMsPerRequest !== undefined ? `; PostgreSQL backends of both servers together: 1 KiB ${r.through1k.dbCpuMsPerRequest} ms, 1 MiB ${r.through1m.dbCpuMsPerRequest} ms` : '') +
      `; machine load average (1 min) around these runs ${r.through1k.load?.[0]}–${r.through1m.load?.[1]}.`,
    ...(r.through1kOne
      ? [
          '',
          `One request at a time (1 connection, ${Math.min(r.seconds, 6)} s): direct ${n(r.direct1kOne.requestsPerSecond)} req/s, p50 ${f(r.direct1kOne.p50ms)} ms; ` +
            `through both servers ${n(r.through1kOne.requestsPerSecond)} req/s, p50 ${f(r.through1kOne.p50ms)} ms / p99 ${f(r.through1kOne.p99ms)} ms — ` +
            `**added p50 ${f(r.through1kOne.p50ms - r.direct1kOne.p50ms)} ms** (four durable log writes in a row, each side's request and response), CPU ${r.through1kOne.cpuMsPerRequest?.join(' / ')} ms per exchange. ` +
            `With ${r.many} connections (capacity: the machine kept busy): **${n(r.through1kMany.requestsPerSecond)} req/s** through both servers, p50 ${f(r.through1kMany.p50ms)} ms, ` +
            `CPU ${r.through1kMany.cpuMsPerRequest?.join(' / ')} ms per exchange (more messages share each signature, verification and log write), errors ${r.through1kMany.errors + r.through1kMany.non2xx}.`,
        ]
      : []),
    ...(r.first
      ? [
          '',
          `First exchanges after both servers report ready (/healthcheck), one at a time: ${r.first.join(' / ')} ms — the first sets up the channel between the servers ` +
            "(mutually authenticated TLS 1.3, the peer's certificate chain, OCSP response and signature checked for the first time) on code not yet warm; X-Road's users report 2–8 s for a channel.",
        ]
      : []),
    ...(r.refused1k
      ? [
          '',
          `Refused by the provider's server (a service it does not have; X-Road-Error \`Server.ServerProxy.UnknownService\`, 1 KiB, ${Math.min(r.seconds, 6)} s): ` +
            `${n(r.refused1k.requestsPerSecond)} refusals/s (${n(r.refused1k.non2xx)} answers, each a refusal), CPU per refusal ${r.refused1k.cpuMsPerRequest?.join(' / ')} ms (consumer / provider): ` +
            'the consumer logs the request before sending it, the provider refuses it at its header, both publish a security event, and the connection between them carries the next message.',
        ]
      : []),
    ...(r.big
      ? [
          '',
          `One ${r.big.mib} MiB body through both servers and back (streamed, logged on both sides each way): ${r.big.seconds} s, ${r.big.mibPerSecond} MiB/s, ` +
            `${r.big.intact ? 'echoed intact' : 'NOT intact'}; peak resident memory of the consumer and provider servers over the whole run: ${r.big.serverPeakRssMiB.join(' and ')} MiB` +
            (r.big.cpuMsPerMiB ? `; CPU per MiB (each way through both): ${r.big.cpuMsPerMiB.join(' / ')} ms.` : '.'),
        ]
      : []),
  ].join('\n');
}
