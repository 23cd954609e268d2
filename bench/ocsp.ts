/**
 * OCSP responses per second over HTTP on loopback, and time-stamp tokens per second.
 *
 * Setup: a fresh data folder (PGlite), the default CA hierarchy, BENCH_OCSP_CERTS certificates (default
 * 2000) of which a tenth revoked. Then, each in a process of its own so that the load generator
 * (autocannon, in this process) and the server do not share a thread:
 *
 * - ours: `truc ocsp serve` (lean node:http server, responses pre-signed and served from memory), RFC 5019
 *   GET and POST of single-CertID SHA-1 requests without nonce over 200 distinct certificates, and POST
 *   with a fresh nonce (signed on demand);
 * - peer: `openssl ocsp -index index.txt -port N -rsigner … -CA …` answering for the same certificates
 *   (an index.txt built from the database, a delegated responder certificate we issued for its key), POST;
 * - `truc start`: OCSP POST through the main Fastify app, and POST /tsa (SHA-256 query, certReq).
 *
 * Environment: BENCH_OCSP_SECONDS (per run, default 10), BENCH_OCSP_CONNECTIONS (default 16),
 * BENCH_OCSP_CERTS.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
// @ts-expect-error autocannon ships no types
import autocannon from 'autocannon';
import { loadConfig } from '../src/config.js';
import { openPlatform } from '../src/platform.js';
import { getCa, initHierarchy, revoke, searchCerts } from '../src/pki/index.js';
import { buildOcspRequest } from '../src/pki/path/index.js';
import { DEFAULT_HIERARCHY } from '../src/cli/bootstrap.js';
import { toPem } from '../src/asn1/der.js';
import { freePort, waitPort } from '../test/helpers/ports.js';

export const title = 'OCSP responder and time-stamping authority over HTTP (loopback)';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.BENCH_OCSP_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_OCSP_CONNECTIONS ?? 16);
const CERTS = Number(process.env.BENCH_OCSP_CERTS ?? 2000);
const PASS = 'bench passphrase';

interface Load {
  requestsPerSecond: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  non2xx: number;
  connections: number;
}



async function load(
  url: string,
  requests: { method: 'GET' | 'POST'; path: string; body?: Buffer; headers?: Record<string, string> }[],
  connections = CONNECTIONS,
): Promise<Load> {
  const r: any = await autocannon({
    url,
    connections,
    duration: SECONDS,
    requests: requests.map((q) => ({ method: q.method, path: q.path, ...(q.body ? { body: q.body as any } : {}), ...(q.headers ? { headers: q.headers } : {}) })),
  });
  return {
    requestsPerSecond: Math.round(r.requests.average),
    p50ms: r.latency.p50,
    p99ms: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    connections,
  };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    child.once('exit', () => res());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

const ocspHeaders = { 'content-type': 'application/ocsp-request' };

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'truc-bench-ocsp-'));
  const dataDir = join(dir, 'data');
  const env = { ...process.env, TRUC_DATA_DIR: dataDir, TRUC_KEY_PASSPHRASE: PASS, TRUC_LOG_LEVEL: 'warn' };
  delete (env as Record<string, unknown>).TRUC_DATABASE_URL;
  const children: ChildProcess[] = [];
  try {
    // ---- setup: CA, certificates, revocations, an openssl responder key with our certificate
    const cfg = loadConfig({ env: {}, overrides: { dataDir, keys: { software: { dir: join(dataDir, 'keys'), passphrase: PASS } }, log: { level: 'warn' } } as any });
    const p = await openPlatform(cfg);
    await initHierarchy(p.pki, DEFAULT_HIERARCHY, 'bench');
    const csrPath = join(dir, 'leaf.csr');
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'leaf.key'), '-out', csrPath, '-subj', '/C=VN/O=Bench/CN=Leaf']);
    const csr = execFileSync('openssl', ['req', '-in', csrPath, '-outform', 'DER']);
    const issued = await Promise.all(Array.from({ length: CERTS }, () => p.issuer.issue({ profile: 'agency-auth', csr }, 'bench')));
    for (const c of issued.slice(0, Math.floor(CERTS / 10))) await revoke(p.pki, { serial: c.serial, reason: 'keyCompromise' }, 'bench');
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'rsigner.key'), '-out', join(dir, 'rsigner.csr'), '-subj', '/O=Bench/CN=openssl responder']);
    const rsigner = await p.issuer.issue({ profile: 'ocsp-signing', csr: execFileSync('openssl', ['req', '-in', join(dir, 'rsigner.csr'), '-outform', 'DER']) }, 'bench');
    writeFileSync(join(dir, 'rsigner.pem'), toPem('CERTIFICATE', rsigner.der));
    const issuing = (await getCa(p.db, 'issuing'))!;
    writeFileSync(join(dir, 'issuing.pem'), toPem('CERTIFICATE', issuing.certificate));
    // openssl's CA database: V/R, expiry, revocation time and reason, serial, file, subject
    const yymmdd = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
    const rows = await searchCerts(p.db, { caId: 'issuing', limit: 1000, offset: 0 });
    const all = [...rows];
    for (let off = 1000; all.length < CERTS + 1; off += 1000) {
      const more = await searchCerts(p.db, { caId: 'issuing', limit: 1000, offset: off });
      if (!more.length) break;
      all.push(...more);
    }
    writeFileSync(
      join(dir, 'index.txt'),
      all
        .map((c) =>
          [c.status === 'good' ? 'V' : 'R', yymmdd(c.notAfter), c.status === 'good' ? '' : `${yymmdd(c.revokedAt!)},keyCompromise`, c.serial.toUpperCase(), 'unknown', '/CN=x'].join('\t'),
        )
        .join('\n') + '\n',
    );
    writeFileSync(join(dir, 'index.txt.attr'), 'unique_subject = no\n');
    const sample = issued.slice(CERTS - 200);
    const sha1Requests = sample.map((c) => buildOcspRequest(c.der, issuing.certificate));
    const nonceRequests = sample.slice(0, 50).map((c) => buildOcspRequest(c.der, issuing.certificate, { nonce: true }));
    await p.close();

    const results: Record<string, unknown> = { certificates: CERTS, revoked: Math.floor(CERTS / 10), seconds: SECONDS };

    // ---- ours, standalone role
    const port = await freePort();
    const serve = spawn(process.execPath, [join(ROOT, 'bin/truc.js'), 'ocsp', 'serve', '--port', String(port)], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    children.push(serve);
    const base = `http://127.0.0.1:${port}`;
    await waitPort(port);
    const post = sha1Requests.map((body) => ({ method: 'POST' as const, path: '/ocsp', body, headers: ocspHeaders }));
    const get = sha1Requests.map((body) => ({ method: 'GET' as const, path: `/ocsp/${encodeURIComponent(body.toString('base64'))}` }));
    await load(base, post, CONNECTIONS); // warm-up
    results.oursGet = await load(base, get);
    results.oursPost = await load(base, post);
    results.oursPost100 = await load(base, post, 100);
    results.oursPostNonce = await load(base, nonceRequests.map((body) => ({ method: 'POST' as const, path: '/ocsp', body, headers: ocspHeaders })));
    await stop(serve);
    console.log('  ours', JSON.stringify({ get: results.oursGet, post: results.oursPost, post100: results.oursPost100, nonce: results.oursPostNonce }));

    // ---- openssl ocsp on the same certificates
    const oport = await freePort();
    const ossl = spawn('openssl', ['ocsp', '-index', join(dir, 'index.txt'), '-port', String(oport), '-rsigner', join(dir, 'rsigner.pem'), '-rkey', join(dir, 'rsigner.key'), '-CA', join(dir, 'issuing.pem'), '-nmin', '60', '-ignore_err'], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(ossl);
    // no probe connection here: one that closes without a request stalls openssl's single-threaded loop
    await new Promise<void>((res, rej) => {
      let seen = '';
      ossl.stderr!.on('data', (d: Buffer) => {
        seen += d.toString();
        if (seen.includes('waiting for OCSP client connections')) res();
      });
      ossl.once('exit', () => rej(new Error('openssl ocsp exited')));
    });
    ossl.stderr!.resume();
    results.opensslPost = await load(`http://127.0.0.1:${oport}`, sha1Requests.map((body) => ({ method: 'POST' as const, path: '/', body, headers: ocspHeaders })));
    await stop(ossl);
    console.log('  openssl', JSON.stringify(results.opensslPost));

    // ---- truc start: OCSP through the main app, and the TSA
    const sport = await freePort();
    const start = spawn(process.execPath, [join(ROOT, 'bin/truc.js'), 'start', '--port', String(sport)], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(start);
    const sbase = `http://127.0.0.1:${sport}`;
    await waitPort(sport);
    results.appPost = await load(sbase, post);
    console.log('  truc start, OCSP', JSON.stringify(results.appPost));
    const imprint = createHash('sha256').update(randomBytes(64)).digest();
    const query = Buffer.concat([Buffer.from('3039020101303130' + '0d060960864801650304020105000420', 'hex'), imprint, Buffer.from('0101ff', 'hex')]);
    console.log('  TSA check');
    const check = await fetch(`${sbase}/tsa`, { method: 'POST', body: new Uint8Array(query), headers: { 'content-type': 'application/timestamp-query' } });
    const reply = Buffer.from(await check.arrayBuffer());
    // TimeStampResp 30 82 LL LL, PKIStatusInfo 30 03 02 01 <status>
    if (reply[4] !== 0x30 || reply[8] !== 0x00) throw new Error(`TSA did not grant the bench query: ${reply.subarray(0, 16).toString('hex')}`);
    results.tsa = await load(sbase, [{ method: 'POST', path: '/tsa', body: query, headers: { 'content-type': 'application/timestamp-query' } }]);
    console.log('  TSA', JSON.stringify(results.tsa));
    await stop(start);
    return results;
  } finally {
    for (const c of children) await stop(c);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function describe(r: Record<string, any>): string {
  const row = (name: string, l: Load) => `| ${name} | ${l.connections} | ${l.requestsPerSecond.toLocaleString('en')} | ${l.p50ms} | ${l.p99ms} | ${l.errors + l.non2xx} |`;
  const ratio = (r.oursPost.requestsPerSecond / r.opensslPost.requestsPerSecond).toFixed(1);
  return [
    `${r.certificates} certificates (${r.revoked} revoked), ${r.seconds} s per run, autocannon in the bench process, each server in its own process.`,
    '',
    '| server, request | connections | responses/s | p50 ms | p99 ms | errors |',
    '|---|---:|---:|---:|---:|---:|',
    row('`truc ocsp serve`, GET (RFC 5019, cached)', r.oursGet),
    row('`truc ocsp serve`, POST (cached)', r.oursPost),
    row('`truc ocsp serve`, POST (cached)', r.oursPost100),
    row('`truc ocsp serve`, POST with nonce (signed per request)', r.oursPostNonce),
    row('`openssl ocsp -index` responder, POST', r.opensslPost),
    row('`truc start` (Fastify app), OCSP POST', r.appPost),
    row('`truc start`, TSA POST /tsa (token signed and logged)', r.tsa),
    '',
    `Cached POST answers are ${ratio}× openssl's responder on the same certificates.`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
