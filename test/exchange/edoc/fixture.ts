/**
 * Desks for the document tests: agencies with signing certificates from the test platform's CA
 * (agency-signing profile), each desk with its own database, folder and provider listener, and a stand-in
 * for the axis. The stand-in is a tiny real HTTP relay that takes what a desk POSTs to its "security
 * server" (`/r1/{instance}/{class}/{member}/{subsystem}/edoc/{x}` with `X-Road-Client`) and forwards it,
 * streamed, to the provider desk's `/edoc/{x}` with `X-Road-Client` and `X-Road-Id` set, answering what
 * the desk answers, or 502 with `X-Road-Error: service_failed` when the desk cannot be reached. It stands
 * in for the security servers only in these unit tests; the integration test runs the same desks through
 * real security servers.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { openDb, type Db } from '../../../src/store/index.js';
import { InProcessBus, type SecurityEvent } from '../../../src/bus/index.js';
import { DocumentDesk, type DeskOptions, type DeskRecipient } from '../../../src/exchange/edoc/desk.js';
import { deskHandler } from '../../../src/exchange/edoc/http.js';
import type { Organ } from '../../../src/exchange/edoc/package.js';
import { createPrivateKey, sign as nodeSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { toPem } from '../../../src/asn1/der.js';
import { listCas } from '../../../src/pki/index.js';
import type { ExternalSigner } from '../../../src/sign/signer.js';
import { testPlatform, type TestPlatform } from '../../helpers/platform.js';
import { freshPostgresUrl, postgresWanted } from '../../helpers/db.js';
import { opensslCsr, tmp, writePem } from '../../helpers/openssl.js';

/** PostgreSQL when it answers (a fresh database each), PGlite in memory otherwise — PGlite is slow to open on a busy machine. */
export const dbUrl = async () => (postgresWanted() ? freshPostgresUrl() : 'memory://');

export type LabSigner = ExternalSigner & { keyPath: string; certPath: string };
export interface Lab {
  p: TestPlatform;
  root: Buffer;
  issuing: Buffer;
  signer(subject: string, opts?: { keyArgs?: string[] }): Promise<LabSigner>;
}

/** The test platform's CA issuing agency-signing certificates to keys made by openssl. */
export async function openCa(): Promise<Lab> {
  const p = await testPlatform(await dbUrl());
  const dir = tmp('truc-edoc-ca-');
  const cas = await listCas(p.db);
  const root = Buffer.from(cas.find((c) => c.id === 'root')!.certificate);
  const issuing = Buffer.from(cas.find((c) => c.id === 'issuing')!.certificate);
  return {
    p,
    root,
    issuing,
    async signer(subject, opts = {}) {
      const { csr, keyPath } = opensslCsr(dir, subject, opts.keyArgs);
      const issued = await p.issuer.issue({ profile: 'agency-signing', csr }, 'ra1');
      const key = createPrivateKey(readFileSync(keyPath));
      const rsa = key.asymmetricKeyType === 'rsa';
      const certPath = writePem(dir, `${issued.serial}.pem`, toPem('CERTIFICATE', issued.der));
      return {
        certificate: issued.der,
        chain: [issuing],
        scheme: rsa ? 'rsa-pkcs1-sha256' : 'ecdsa-sha256',
        keyPath,
        certPath,
        sign: (data: Uint8Array) => nodeSign('sha256', data, rsa ? key : { key, dsaEncoding: 'der' }),
      };
    },
  };
}

export interface AgencySpec {
  organ: Organ;
  memberClass: string;
}

export const AGENCIES: AgencySpec[] = [
  { organ: { organId: '000.00.00.G22', organName: 'Văn phòng Chính phủ', organAdd: '1 Hoàng Hoa Thám, Hà Nội', email: 'vanthu@chinhphu.vn' }, memberClass: 'GOV' },
  { organ: { organId: '000.00.00.G09', organName: 'Bộ Nội vụ', email: 'vanthu@moha.gov.vn' }, memberClass: 'GOV' },
  { organ: { organId: '000.00.31.H29', organName: 'UBND Thành phố Hồ Chí Minh' }, memberClass: 'PROV' },
];

export const clientOf = (a: AgencySpec) => `VN/${a.memberClass}/${a.organ.organId}/vanthu`;

export interface TestDesk {
  spec: AgencySpec;
  desk: DocumentDesk;
  db: Db;
  dir: string;
  events: { subject: string; event: SecurityEvent }[];
  url: string;
  port: number;
  server: http.Server;
  signer: LabSigner;
  options: DeskOptions;
  /** stops the provider listener (the agency is down) */
  down(): Promise<void>;
  /** listens again on the same port */
  up(): Promise<void>;
  reopen(): Promise<void>;
}

export interface Network {
  lab: Lab;
  desks: TestDesk[];
  relay: {
    url: string;
    server: http.Server;
    forwarded: { path: string; client: string }[];
    /** when set, each body is read whole and what it returns is forwarded instead (a wire-tap, or tampering in transit) */
    intercept?: (path: string, body: Buffer) => Buffer | Promise<Buffer>;
  };
  close(): Promise<void>;
}

function listen(s: http.Server, port = 0): Promise<number> {
  return new Promise((r, j) => {
    s.once('error', j);
    s.listen(port, '127.0.0.1', () => r((s.address() as AddressInfo).port));
  });
}

function startRelay(targets: () => Map<string, string>): Promise<Network['relay']> {
  const forwarded: { path: string; client: string }[] = [];
  const relay = { forwarded } as Network['relay'];
  const server = http.createServer((req, res) => {
    const m = /^\/r1\/([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)\/edoc\/(packages|statuses)$/.exec(req.url ?? '');
    const client = String(req.headers['x-road-client'] ?? '');
    const target = m ? targets().get(decodeURIComponent(m[3]!)) : undefined;
    if (!m || !target || !client) {
      res.writeHead(404, { 'x-road-error': 'unknown_service', 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ status: 404, code: 'unknown_service', detail: 'no such service' }));
      req.resume();
      return;
    }
    forwarded.push({ path: req.url!, client });
    const out = http.request(`${target}/edoc/${m[5]}`, { method: 'POST', headers: { 'content-type': req.headers['content-type'] ?? 'application/octet-stream', 'x-road-client': client, 'x-road-id': randomUUID(), 'transfer-encoding': 'chunked' } }, (pres) => {
      res.writeHead(pres.statusCode ?? 502, { 'content-type': pres.headers['content-type'] ?? 'application/json' });
      pres.pipe(res);
    });
    out.on('error', (e) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'x-road-error': 'service_failed', 'content-type': 'application/problem+json' });
        res.end(JSON.stringify({ status: 502, code: 'service_failed', detail: e.message }));
      } else res.destroy();
      req.resume();
    });
    const tap = relay.intercept;
    if (!tap) {
      req.pipe(out);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void Promise.resolve(tap(req.url!, Buffer.concat(chunks))).then(
        (b) => out.end(b),
        (e: Error) => out.destroy(e),
      );
    });
  });
  return listen(server).then((port) => Object.assign(relay, { url: `http://127.0.0.1:${port}`, server }));
}

export async function openNetwork(specs: AgencySpec[] = AGENCIES, over: Partial<DeskOptions> = {}): Promise<Network> {
  const lab = await openCa();
  const desks: TestDesk[] = [];
  const targets = new Map<string, string>();
  const relay = await startRelay(() => targets);
  const directory: DeskRecipient[] = specs.map((s) => ({ id: s.organ.organId, name: s.organ.organName, client: clientOf(s) }));
  for (const spec of specs) {
    // the exchange's convention: the signing certificate names its member in the subject serialNumber
    const signer = await lab.signer(`/CN=${spec.organ.organName}/O=${spec.organ.organName}/C=VN/serialNumber=VN\\/${spec.memberClass}\\/${spec.organ.organId}`);
    const db = await openDb({ url: await dbUrl() });
    const dir = tmp('truc-desk-');
    const events: TestDesk['events'] = [];
    const bus = new InProcessBus();
    bus.subscribe('>', (subject, event) => {
      events.push({ subject, event });
    });
    const options: DeskOptions = {
      db,
      bus,
      dir: join(dir, 'desk'),
      organ: spec.organ,
      client: clientOf(spec),
      ssUrl: relay.url,
      signer,
      validation: { trustAnchors: [lab.root], intermediates: [lab.issuing] },
      recipients: () => directory,
      retry: { firstMs: 100, maxMs: 400 },
      timeoutMs: 60_000,
      ...over,
    };
    const t: TestDesk = {
      spec,
      desk: await DocumentDesk.open(options),
      db,
      dir,
      events,
      url: '',
      port: 0,
      server: http.createServer(),
      signer,
      options,
      async down() {
        await new Promise<void>((r) => {
          t.server.close(() => r());
          t.server.closeAllConnections();
        });
      },
      async up() {
        t.server = http.createServer(deskHandler(t.desk));
        await listen(t.server, t.port);
      },
      async reopen() {
        await t.desk.close();
        t.desk = await DocumentDesk.open(t.options);
        t.server.removeAllListeners('request');
        t.server.on('request', deskHandler(t.desk));
      },
    };
    t.server = http.createServer(deskHandler(t.desk));
    t.port = await listen(t.server);
    t.url = `http://127.0.0.1:${t.port}`;
    targets.set(spec.organ.organId, t.url);
    desks.push(t);
  }
  return {
    lab,
    desks,
    relay,
    async close() {
      for (const d of desks) {
        await d.desk.close();
        await new Promise<void>((r) => {
          d.server.close(() => r());
          d.server.closeAllConnections();
        });
        await d.db.close();
      }
      await new Promise<void>((r) => {
        relay.server.close(() => r());
        relay.server.closeAllConnections();
      });
      await lab.p.close();
    },
  };
}

/** Polls `f` until it returns something truthy (the exchange is asynchronous), failing after `ms`. */
export async function until<T>(f: () => Promise<T | undefined | null | false>, ms = 20_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 40));
  }
}
