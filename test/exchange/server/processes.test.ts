/**
 * Three agencies' security servers, each a separate `truc ss serve` process with its own PostgreSQL
 * database and message log, around a central server, CA, OCSP responder and TSA (this process, on the
 * platform's PostgreSQL database; the TSA on a listener of its own so it can be taken away): registration
 * and approval, exchanges, access denied, revocation of a server's authentication certificate and its
 * traffic refused, a TSA outage past the grace period and the recovery, configuration expiry and the
 * recovery, `kill -9` of a provider mid-exchange, and every message log verified offline after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { testPlatform, type TestPlatform } from '../../helpers/platform.js';
import { freshPostgresUrl, postgresWanted } from '../../helpers/db.js';
import { tmp } from '../../helpers/openssl.js';
import { buildApp } from '../../../src/http/app.js';
import { OcspResponder } from '../../../src/pki/ocsp/index.js';
import { TimeStampAuthority } from '../../../src/pki/tsa/index.js';
import { tsaRoutes } from '../../../src/http/tsa/routes.js';
import { BINARY_TYPES } from '../../../src/http/app.js';
import { openCentral } from '../../../src/exchange/axis.js';
import type { CentralServer } from '../../../src/exchange/central/index.js';
import { anchorBytes } from '../../../src/exchange/conf/anchor.js';
import { loadConfig } from '../../../src/config.js';
import { openPlatform } from '../../../src/platform.js';
import { memberId, serverId, serviceId, subsystemId } from '../../../src/exchange/ids.js';
import { installAnchor, openServer, serverLogCipher, serverStore } from '../../../src/exchange/server/standalone.js';
import { provisionIdentity } from '../../../src/exchange/server/provision.js';
import { openMessageLog } from '../../../src/exchange/server/log-open.js';
import { listCas, revoke } from '../../../src/pki/index.js';
import { parseCertificate } from '../../../src/pki/path/index.js';
import { checkEvidence, verifyLog } from '../../../src/exchange/log/index.js';
import { freePort, waitPort } from '../../helpers/ports.js';
import { runsJemalloc, serverMalloc, withServerMalloc } from '../../helpers/malloc.js';

const ROOT = resolve(__dirname, '../../..');
const PASS = 'process test passphrase';
const enabled = postgresWanted();
if (!enabled) console.warn('SKIP exchange process test: it needs PostgreSQL (no server answers)');



async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

interface Agency {
  memberClass: string;
  memberCode: string;
  name: string;
  serverCode: string;
  config: string;
  dir: string;
  isPort: number;
  peerPort: number;
  child?: ChildProcess;
}

const AGENCIES = [
  { memberClass: 'GOV', memberCode: '000.00.00.G22', name: 'Văn phòng Chính phủ', serverCode: 'ss-vpcp' },
  { memberClass: 'GOV', memberCode: '000.00.00.G09', name: 'Bộ Nội vụ', serverCode: 'ss-bnv' },
  { memberClass: 'PROV', memberCode: '000.00.31.H29', name: 'UBND Thành phố Hồ Chí Minh', serverCode: 'ss-hcm' },
];

let p: TestPlatform;
let app: FastifyInstance;
let tsaApp: FastifyInstance | undefined;
let tsa: TimeStampAuthority;
let tsaPort: number;
let central: CentralServer;
const agencies: Agency[] = [];
let svc: ChildProcess;
let svcPort: number;

function startServe(a: Agency): void {
  a.child = spawn(process.execPath, [join(ROOT, 'bin/truc.js'), '--config', a.config, 'ss', 'serve'], { stdio: ['ignore', 'ignore', 'pipe'], env: withServerMalloc({ ...process.env, TRUC_LOG_LEVEL: 'warn' }) });
  a.child.stderr!.on('data', () => {});
}

async function startTsa(): Promise<void> {
  tsaApp = Fastify();
  tsaApp.addContentTypeParser(BINARY_TYPES, { parseAs: 'buffer' }, (_r, b, d) => d(null, b));
  await tsaApp.register(async (s) => tsaRoutes(s, tsa));
  await tsaApp.listen({ host: '127.0.0.1', port: tsaPort });
}

async function call(from: number, path: string, init: { client?: string; body?: Buffer | string; id?: string } = {}) {
  const a = agencies[from]!;
  const res = await fetch(`http://127.0.0.1:${a.isPort}${path}`, {
    method: init.body !== undefined ? 'POST' : 'GET',
    headers: { 'x-road-client': init.client ?? `VN/${a.memberClass}/${a.memberCode}/vanthu`, ...(init.id ? { 'x-road-id': init.id } : {}) },
    ...(init.body !== undefined ? { body: typeof init.body === 'string' ? init.body : new Uint8Array(init.body) } : {}),
    signal: AbortSignal.timeout(60_000),
  });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, error: res.headers.get('x-road-error'), body };
}

const HCM_ECHO = '/r1/VN/PROV/000.00.31.H29/vanthu/echo';
const HCM_INFO = '/r1/VN/PROV/000.00.31.H29/vanthu/thong-tin';

describe.skipIf(!enabled)('security servers as separate processes on PostgreSQL', () => {
  beforeAll(async () => {
    p = await testPlatform(await freshPostgresUrl());
    const ocsp = new OcspResponder(p.pki, p.issuer, p.config.ocsp, p.log);
    await ocsp.start();
    tsa = new TimeStampAuthority(p.pki, p.issuer, p.config.tsa, p.log);
    await tsa.start();
    tsaPort = await freePort();
    await startTsa();
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    // short freshness and validity, so that revocation and expiry show within the test
    central = await openCentral(p, baseUrl, 'VN', { ocspFreshnessSeconds: 20, validitySeconds: 60, refreshSeconds: 2, generateIntervalSeconds: 2 });
    app = await buildApp(p, { ocsp, central });
    await app.listen({ host: '127.0.0.1', port });
    const actor = 'test';
    await central.registry.approvePlatformCas(p.pki, actor, `${baseUrl}/ocsp`);
    await central.registry.approveTsa({ name: 'TSA', url: `http://127.0.0.1:${tsaPort}/tsa`, certificate: tsa.certificate() }, actor);
    for (const a of AGENCIES) {
      await central.registry.addMember({ memberClass: a.memberClass, memberCode: a.memberCode, name: a.name }, actor);
      await central.registry.addSubsystem({ memberClass: a.memberClass, memberCode: a.memberCode, subsystemCode: 'vanthu' }, actor);
    }
    await central.generator.generate({ force: true, actor });
    const anchor = anchorBytes(await central.exportAnchor(baseUrl));

    svcPort = await freePort();
    svc = spawn(process.execPath, ['-e', `require('http').createServer((q,s)=>{if(q.url.startsWith('/echo')){s.writeHead(200,{'content-type':'application/octet-stream'});q.pipe(s)}else{q.resume();q.on('end',()=>{s.writeHead(200,{'content-type':'application/json'});s.end(JSON.stringify({caller:q.headers['x-road-client'],id:q.headers['x-road-id']}))})}}).listen(${svcPort},'127.0.0.1')`], { stdio: 'ignore' });

    for (const a of AGENCIES) {
      const dir = tmp(`ss-${a.serverCode}-`);
      const ag: Agency = { ...a, dir, config: join(dir, 'config.json'), isPort: await freePort(), peerPort: await freePort() };
      writeFileSync(
        ag.config,
        JSON.stringify({
          dataDir: dir,
          database: { url: await freshPostgresUrl() },
          keys: { software: { passphrase: PASS } },
          log: { level: 'warn' },
          exchange: {
            server: {
              id: `SERVER:VN/${a.memberClass}/${a.memberCode}/${a.serverCode}`,
              memberName: a.name,
              host: '127.0.0.1',
              isPort: ag.isPort,
              peerPort: ag.peerPort,
              publicAddress: `127.0.0.1:${ag.peerPort}`,
              timestampIntervalSeconds: 1,
              timestampGraceSeconds: 4,
            },
          },
        }),
      );
      const q = await openPlatform(loadConfig({ env: {}, file: ag.config }));
      try {
        const store = await serverStore(q);
        const sid = serverId(memberId('VN', a.memberClass, a.memberCode), a.serverCode);
        const sub = subsystemId(memberId('VN', a.memberClass, a.memberCode), 'vanthu');
        await provisionIdentity(store, q.keys, sid, a.name, async (csr, profile, subject) => (await p.issuer.issue({ profile, csr, subject }, actor)).der);
        installAnchor(join(dir, 'exchange'), anchor);
        await store.addClient(sub);
        const { server, log } = await openServer(q, (d, o) => openMessageLog(q.db, d, o));
        const reg = await central.registration.submit(await server.registrationRequest('auth-cert', { address: `127.0.0.1:${ag.peerPort}` }));
        expect(reg.status).toBe('pending');
        await central.registration.approve(reg.id, actor);
        const cli = await central.registration.submit(await server.registrationRequest('client', { client: { memberClass: a.memberClass, memberCode: a.memberCode, subsystemCode: 'vanthu' } }));
        // Bộ Nội vụ's client waits for approval until the first test
        if (a.serverCode !== 'ss-bnv') await central.registration.approve(cli.id, actor);
        if (a.serverCode === 'ss-hcm') {
          await store.putService(serviceId(sub, 'echo'), `http://127.0.0.1:${svcPort}/echo`);
          await store.putService(serviceId(sub, 'thong-tin'), `http://127.0.0.1:${svcPort}`);
          for (const c of ['SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu', 'SUBSYSTEM:VN/GOV/000.00.00.G09/vanthu'])
            await store.grant({ service: 'SERVICE:VN/PROV/000.00.31.H29/vanthu/thong-tin', subject: c, method: '*', path: '*' });
          await store.grant({ service: 'SERVICE:VN/PROV/000.00.31.H29/vanthu/echo', subject: 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu', method: '*', path: '*' });
        }
        await log.close();
      } finally {
        await q.close();
      }
      agencies.push(ag);
    }
    await central.generator.generate({ force: true, actor });
    await central.start();
    for (const a of agencies) startServe(a);
    await waitPort(svcPort);
    for (const a of agencies) {
      await waitPort(a.isPort);
      await waitPort(a.peerPort);
    }
  }, 240_000);

  afterAll(async () => {
    for (const a of agencies) a.child?.kill('SIGKILL');
    svc?.kill('SIGKILL');
    await central?.stop();
    await tsaApp?.close();
    await app?.close();
    await p?.close();
  });

  it('exchanges between processes; a client waits for approval; access is denied by default', async () => {
    // the servers run as operators start them: jemalloc preloaded where the machine has it
    for (const a of agencies) expect(runsJemalloc(a.child!.pid!)).toBe(serverMalloc !== '');
    const r = await call(0, HCM_INFO);
    expect(r.status, r.body.toString()).toBe(200);
    expect(JSON.parse(r.body.toString()).caller).toBe('VN/GOV/000.00.00.G22/vanthu');
    // Bộ Nội vụ's client registration is still pending
    const pending = await call(1, HCM_INFO);
    expect(pending.error).toBe('Server.ClientProxy.UnknownMember');
    const [req] = (await central.registration.list('pending' as never)) as { id: string }[];
    await central.registration.approve(req!.id, 'test');
    await central.generator.generate({ force: true, actor: 'test' });
    await until('approved client to be served', async () => (await call(1, HCM_INFO)).status === 200);
    // echo is granted to Văn phòng Chính phủ only
    const denied = await call(1, HCM_ECHO, { body: 'x' });
    expect(denied.status).toBe(500);
    expect(denied.error).toBe('Server.ServerProxy.AccessDenied');
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const echoed = await call(0, HCM_ECHO, { body: big });
    expect(echoed.status).toBe(200);
    expect(echoed.body.equals(big)).toBe(true);
  }, 300_000);

  it('beside a serving process: `truc ss diagnose` only reads its message log, and a second `ss serve` is refused by the log’s lock', async () => {
    const hcm = agencies[2]!;
    const truc = (...args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((res) => {
        execFile(process.execPath, [join(ROOT, 'bin/truc.js'), '--config', hcm.config, ...args], { timeout: 120_000, env: { ...process.env, TRUC_LOG_LEVEL: 'warn' } }, (err, stdout, stderr) =>
          res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    // one message's evidence, exported from the command line beside the serving process: sealed with
    // the member's signing key, bodies decrypted with the vault's log key, as the API gives it
    const evidenceId = `bang-chung-${Date.now()}`;
    expect((await call(0, HCM_INFO, { id: evidenceId })).status).toBe(200);
    const file = join(tmp(), 'bang-chung.asice');
    const ev = await truc('ss', 'evidence', evidenceId, '--out', file);
    expect(ev.code, ev.stderr).toBe(0);
    const root = Buffer.from((await listCas(p.db)).find((c) => c.id === 'root')!.certificate);
    const report = await checkEvidence(file, { trust: [root] });
    expect(report.problems).toEqual([]);
    expect(report.messageId).toBe(evidenceId);
    expect(report.records.map((r) => `${r.side} ${r.kind} ${r.body}`)).toEqual(['provider request checked', 'provider response checked']);
    expect(report.seal?.signer).toMatch(/000\.00\.31\.H29/);
    // a body streaming through the provider's server while the commands run: its spool is the server's
    const big = Buffer.alloc(24 * 1024 * 1024, 5);
    const streaming = call(0, HCM_ECHO, { body: big });
    const d = await truc('--json', 'ss', 'diagnose');
    expect(d.code, d.stderr).toBe(0);
    const diagnosis = JSON.parse(d.stdout) as { messageLog: { unstamped: number; refusing: boolean } };
    expect(diagnosis.messageLog.refusing).toBe(false);
    expect(typeof diagnosis.messageLog.unstamped).toBe('number');
    const second = await truc('ss', 'serve');
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain(`process ${hcm.child!.pid}`);
    expect(second.stderr).toMatch(/đang được tiến trình \d+ dùng/);
    const echoed = await streaming;
    expect(echoed.status).toBe(200);
    expect(echoed.body.equals(big)).toBe(true);
    expect((await call(0, HCM_INFO)).status).toBe(200);
  }, 300_000);

  it('a TSA outage past the grace period stops new messages, and they flow again when it answers', async () => {
    await tsaApp!.close();
    tsaApp = undefined;
    const refused = await until('timestamp_unavailable', async () => {
      const r = await call(0, HCM_INFO);
      return r.status === 500 && r.error?.endsWith('TimestampingFailed') ? r : undefined;
    }, 120_000);
    expect(refused.error).toMatch(/^Server\.(ClientProxy|ServerProxy)\.TimestampingFailed$/);
    expect(JSON.parse(refused.body.toString()).code).toBe('timestamp_unavailable');
    await startTsa();
    await until('recovery after the TSA returned', async () => (await call(0, HCM_INFO)).status === 200, 120_000);
  }, 300_000);

  it('kill -9 of the provider mid-exchange: the consumer reports a failure, nothing half-delivered, the provider restarts and still refuses a replay of what it took before', async () => {
    const hcm = agencies[2]!;
    // a message the provider took before it died: sent again after the restart (the same id, within the
    // clock-skew window), it is a replay — the restarted server remembers it from its log
    const replayId = `truoc-khi-chet-${Date.now()}`;
    expect((await call(0, HCM_INFO, { id: replayId })).status).toBe(200);
    const body = Buffer.alloc(64 * 1024 * 1024, 1);
    // the consumer answers as soon as the provider is gone and closes the connection without reading the
    // rest of the body: a client still uploading may see its write fail (EPIPE) instead of the answer
    const pending = call(0, HCM_ECHO, { body }).catch((e: Error & { cause?: { code?: string } }) => ({ status: 0, error: `connection ${e.cause?.code ?? e.message}`, body: Buffer.alloc(0) }));
    await new Promise((r) => setTimeout(r, 300));
    hcm.child!.kill('SIGKILL');
    const r = await pending;
    if (r.status === 0) expect(r.error).toMatch(/^connection (EPIPE|ECONNRESET|UND_ERR_SOCKET)/);
    else {
      expect(r.status).toBeGreaterThanOrEqual(500);
      expect(r.error).toMatch(/^Server\.(ClientProxy|ServerProxy)\.(NetworkError|ServiceFailed)$/);
    }
    await new Promise((res) => (hcm.child!.exitCode !== null || hcm.child!.signalCode !== null ? res(null) : hcm.child!.once('exit', res)));
    startServe(hcm);
    await waitPort(hcm.isPort);
    await until('the restarted provider to answer', async () => (await call(0, HCM_INFO)).status === 200, 120_000);
    const replayed = await call(0, HCM_INFO, { id: replayId });
    expect(replayed.status).toBe(500);
    expect(replayed.error).toBe('Server.ServerProxy.InvalidMessage');
    expect(JSON.parse(replayed.body.toString()).code).toBe('replayed_message');
  }, 300_000);

  it('a revoked authentication certificate: its server is refused once its status is fresh', async () => {
    const q = await openPlatform(loadConfig({ env: {}, file: agencies[1]!.config }));
    let authCert: Buffer;
    try {
      authCert = (await (await serverStore(q)).identity('auth'))!.cert;
    } finally {
      await q.close();
    }
    await revoke(p.pki, { serial: parseCertificate(authCert).serialHex, reason: 'keyCompromise' }, 'test');
    const r = await until('revoked server refused', async () => {
      const x = await call(1, HCM_INFO);
      return x.error === 'Server.ServerProxy.CertValidation' && JSON.parse(x.body.toString()).code === 'cert_revoked' ? x : undefined;
    }, 120_000);
    expect(JSON.parse(r.body.toString()).status).toBe(422);
    expect((await call(0, HCM_INFO)).status).toBe(200);
  }, 300_000);

  it('an expired configuration stops traffic, and a fresh one restores it', async () => {
    await central.stop();
    // the central server still serves its last version, which expires (validity 60 s)
    const r = await until('conf_expired', async () => {
      const x = await call(0, HCM_INFO);
      return x.error === 'Server.ClientProxy.OutdatedGlobalConf' && JSON.parse(x.body.toString()).code === 'conf_expired' ? x : undefined;
    }, 100_000);
    expect(r.status).toBe(500);
    await central.start();
    await until('traffic after a fresh configuration', async () => (await call(0, HCM_INFO)).status === 200, 120_000);
  }, 360_000);

  it('every message log verifies offline after all of it', async () => {
    for (const a of agencies) a.child?.kill('SIGTERM');
    await Promise.all(agencies.map((a) => new Promise((r) => (!a.child || a.child.exitCode !== null || a.child.signalCode !== null ? r(null) : a.child.once('exit', r)))));
    for (const a of agencies) {
      const dir = join(a.dir, 'exchange', 'log');
      // bodies are encrypted at rest: without the key the verifier says it could not check them
      const keyless = await verifyLog({ dir, trustedTsaCerts: [tsa.certificate()] });
      expect(keyless.ok).toBe(false);
      expect(keyless.problem).toBeUndefined();
      expect(keyless.incomplete.join(' ')).toMatch(/not decrypted/);
      // with the server's log key from its vault, everything checks
      const q = await openPlatform(loadConfig({ env: {}, file: a.config }));
      try {
        const cipher = await serverLogCipher(q, `SERVER:VN/${a.memberClass}/${a.memberCode}/${a.serverCode}`);
        const report = await verifyLog({ dir, trustedTsaCerts: [tsa.certificate()], ...(cipher ? { cipher } : {}) });
        expect(report.ok, JSON.stringify(report).slice(0, 500)).toBe(true);
      } finally {
        await q.close();
      }
    }
  }, 300_000);
});
