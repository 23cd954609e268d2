/**
 * The monitoring part end to end, on a listening platform server: attacks and benign traffic go in by the
 * real paths (HTTP API, syslog over UDP and TCP, the bus, the scanning API) and the alerts come out.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { makeEvent } from '../../src/bus/index.js';
import { MonitorService, monitorConfig, type Alert } from '../../src/monitor/index.js';
import { testDatabaseUrls } from '../helpers/db.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { eicar, workingHoursShift } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const { name, url } of testDatabaseUrls()) {
  describe(`monitoring end to end on ${name}`, () => {
    let p: TestPlatform;
    let m: MonitorService;
    let app: FastifyInstance;
    let base: string;
    const tokens: Record<string, string> = {};

    beforeAll(async () => {
      p = await testPlatform(await url());
      // the API's own authentication events are stamped by the platform's clock: working hours, whenever this runs
      const shift = workingHoursShift();
      p.pki.clock = () => new Date(Date.now() + shift);
      m = await MonitorService.start({
        db: p.db,
        bus: p.bus,
        log: pino({ level: 'silent' }),
        config: monitorConfig({ syslog: { udp: { host: '127.0.0.1', port: 0 }, tcp: { host: '127.0.0.1', port: 0 } } }),
      });
      app = await buildApp(p, { monitor: m });
      base = await app.listen({ host: '127.0.0.1', port: 0 });
      for (const role of ['ca-admin', 'monitor-analyst', 'event-sender']) tokens[role] = (await createToken(p.db, role, [role])).token;
    });
    afterAll(async () => {
      await app?.close();
      await m?.stop();
      await p?.close();
    });

    const api = (path: string, token: string, init: RequestInit = {}) =>
      fetch(base + path, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });

    async function alerts(): Promise<Alert[]> {
      const r = await api('/api/v1/alerts?limit=1000', tokens['monitor-analyst']!);
      expect(r.status).toBe(200);
      return ((await r.json()) as { alerts: Alert[] }).alerts;
    }

    async function waitFor(title: string, ms = 10_000): Promise<Alert> {
      const end = Date.now() + ms;
      for (;;) {
        const a = (await alerts()).find((x) => x.title === title);
        if (a) return a;
        if (Date.now() > end) throw new Error(`no alert "${title}" within ${ms} ms; have: ${(await alerts()).map((x) => x.title).join(', ')}`);
        await sleep(50);
      }
    }

    it('benign traffic raises nothing: valid token requests, SSH logins in working hours', async () => {
      for (let i = 0; i < 20; i++) expect((await api('/api/v1/certificates', tokens['ca-admin']!)).status).toBe(200);
      const today = new Date().toISOString().slice(0, 10);
      const sock = net.connect(m.addresses.tcp!.port, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      for (let i = 0; i < 20; i++)
        sock.write(`<38>1 ${today}T09:${String(10 + i).padStart(2, '0')}:00+07:00 web02 sshd 900 - - Accepted publickey for ops${i % 3} from 10.20.0.${i} port 5${i} ssh2\n`);
      sock.end();
      const before = m.queue.stats.stored;
      const end = Date.now() + 5000;
      while (m.queue.stats.stored < before + 20 && Date.now() < end) await sleep(20);
      await m.queue.flush();
      const ssh = await api('/api/v1/events?event.action=ssh_login&limit=100', tokens['monitor-analyst']!);
      expect(((await ssh.json()) as any).events).toHaveLength(20);
      expect(await alerts()).toEqual([]);
    });

    it('token guessing against the CA API → "API token guessing"', async () => {
      const t0 = Date.now();
      for (let i = 0; i < 15; i++) {
        const r = await fetch(base + '/api/v1/certificates', { headers: { authorization: `Bearer truc_${i.toString(16).padStart(16, '0')}_${'A'.repeat(43)}` } });
        expect(r.status).toBe(401);
      }
      const a = await waitFor('API token guessing');
      expect(a).toMatchObject({ level: 'high', author: 'Trục', group: { 'source.ip': '127.0.0.1' }, kind: 'correlation' });
      expect(a.attack).toContain('attack.t1110.001');
      const behind = await api(`/api/v1/alerts/${a.id}/events`, tokens['monitor-analyst']!);
      expect(((await behind.json()) as any).events).toHaveLength(10);
      console.log(`token guessing alert after ${Date.now() - t0} ms`);
    });

    it('a revoked certificate presented → "Revoked certificate presented"', async () => {
      // what the OCSP responder publishes when someone asks for the status of a revoked certificate
      await p.bus.publish(
        'truc.ocsp.revoked.queried',
        makeEvent('ocsp', 'revoked.queried', 'unknown', { category: ['iam'], source: { ip: '10.30.0.4' }, truc: { serial: '7f01', ca: 'issuing', status: 'revoked', reason: 1 } }),
      );
      const a = await waitFor('Revoked certificate presented');
      expect(a.group).toEqual({ 'source.ip': '10.30.0.4' });
    });

    it('SSH brute force over syslog UDP and TCP → "SSH brute force from one address"', async () => {
      const udp = dgram.createSocket('udp4');
      // RFC 3164 stamps are wall time in the configured zone (Asia/Ho_Chi_Minh)
      const f = Object.fromEntries(
        new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Ho_Chi_Minh', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
          .formatToParts(new Date())
          .map((x) => [x.type, x.value]),
      );
      const stamp = `${f.month} ${f.day!.padStart(2, ' ')} ${f.hour}:${f.minute}:${f.second}`;
      const line = (i: number) => `<38>${stamp} web01 sshd[77${i}]: Failed password for invalid user admin${i} from 198.51.100.77 port ${40000 + i} ssh2`;
      for (let i = 0; i < 10; i++) await new Promise((r) => udp.send(line(i), m.addresses.udp!.port, '127.0.0.1', r));
      udp.close();
      const tcp = net.connect(m.addresses.tcp!.port, '127.0.0.1');
      await new Promise((r) => tcp.once('connect', r));
      for (let i = 10; i < 20; i++) {
        const l = `<38>1 ${new Date().toISOString()} web01 sshd 77${i} - - Failed password for root from 198.51.100.77 port ${40000 + i} ssh2`;
        tcp.write(`${Buffer.byteLength(l)} ${l}`);
      }
      tcp.end();
      const a = await waitFor('SSH brute force from one address');
      expect(a.group).toEqual({ 'source.ip': '198.51.100.77' });
      // UDP and TCP events fall in one window: one alert, counted again at the 20th failure
      // the alert can come at the 10th (UDP) failure, before the TCP stream is read: wait for all 20
      const stored = async () => ((await (await api('/api/v1/events?source.ip=198.51.100.77&limit=100', tokens['monitor-analyst']!)).json()) as any).events;
      let events = await stored();
      for (const end = Date.now() + 5000; events.length < 20 && Date.now() < end; events = await stored()) await sleep(50);
      expect(events).toHaveLength(20);
      const spread = Math.max(...events.map((e: any) => Date.parse(e.ts))) - Math.min(...events.map((e: any) => Date.parse(e.ts)));
      expect(spread).toBeLessThan(60_000);
    });

    it('an EICAR upload to /api/v1/scan → infected, and an alert', async () => {
      const r = await api('/api/v1/scan?name=bao-cao.com', tokens['event-sender']!, { method: 'POST', body: new Uint8Array(eicar()), headers: { 'content-type': 'application/octet-stream' } });
      expect(r.status).toBe(200);
      const j = (await r.json()) as any;
      expect(j).toMatchObject({ verdict: 'infected', name: 'bao-cao.com', matches: [{ engine: 'yara', name: 'EICAR_Test_File' }] });
      const clean = await api('/api/v1/scan?name=ok.txt', tokens['event-sender']!, { method: 'POST', body: Buffer.from('Công văn số 1'), headers: { 'content-type': 'application/octet-stream' } });
      expect(((await clean.json()) as any).verdict).toBe('clean');
      const a = await waitFor('Malware in a file received by the platform');
      expect(a.sample).toMatchObject({ file: { name: 'bao-cao.com' }, user: { name: 'event-sender' } });
    });

    it('HTTP intake: per-index rejections, stored before 202; alerts worked through the API', async () => {
      const now = new Date().toISOString();
      const r = await api('/api/v1/events', tokens['event-sender']!, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([
          { '@timestamp': now, event: { action: 'audit.chain.broken', category: ['configuration'], outcome: 'failure', dataset: 'truc.audit' } },
          { '@timestamp': 'not a date', event: { action: 'x' } },
          { '@timestamp': now },
        ]),
      });
      expect(r.status).toBe(202);
      const j = (await r.json()) as any;
      expect(j.accepted).toBe(1);
      expect(j.rejected.map((x: any) => x.index)).toEqual([1, 2]);
      const stored = await api(`/api/v1/events?id=${j.ids[0]}`, tokens['monitor-analyst']!);
      expect(((await stored.json()) as any).events).toHaveLength(1);
      expect((await api('/api/v1/events', tokens['monitor-analyst']!, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' })).status).toBe(403);
      // the quarantine is readable by analysts (empty here: nothing was refused), not by senders
      const quarantine = await api('/api/v1/events/rejected', tokens['monitor-analyst']!);
      expect(quarantine.status).toBe(200);
      expect(((await quarantine.json()) as any).rejected).toEqual([]);
      expect((await api('/api/v1/events/rejected', tokens['event-sender']!)).status).toBe(403);

      const a = await waitFor('Audit chain tampering');
      const an = tokens['monitor-analyst']!;
      const post = (path: string, body: unknown) => api(path, an, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect((await post(`/api/v1/alerts/${a.id}/ack`, {})).status).toBe(200);
      expect((await post(`/api/v1/alerts/${a.id}/assign`, { assignee: 'tran.b' })).status).toBe(200);
      expect((await post(`/api/v1/alerts/${a.id}/notes`, { text: 'kiểm tra bản sao lưu' })).status).toBe(200);
      expect((await post(`/api/v1/alerts/${a.id}/close`, {})).status).toBe(400);
      const closed = (await (await post(`/api/v1/alerts/${a.id}/close`, { reason: 'test event' })).json()) as any;
      expect(closed).toMatchObject({ status: 'closed', assignee: 'tran.b', closeReason: 'test event' });
      expect(closed.notes).toHaveLength(4);

      const rules = (await (await api('/api/v1/rules', an)).json()) as any;
      const malware = rules.rules.find((x: any) => x.title === 'Malware in a file received by the platform');
      const patched = await api(`/api/v1/rules/${malware.id}`, an, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ enabled: false }) });
      expect(((await patched.json()) as any).enabled).toBe(false);
      const hunted = (await (await post('/api/v1/hunt', { ruleId: malware.id, from: new Date(Date.now() - 3_600_000).toISOString() })).json()) as any;
      expect(hunted.matches).toHaveLength(1);

      const titles = new Set((await alerts()).map((x) => x.title));
      expect([...titles].sort()).toEqual(
        ['API token guessing', 'Audit chain tampering', 'Malware in a file received by the platform', 'Revoked certificate presented', 'SSH brute force from one address'].sort(),
      );
    });

    it('a full queue answers 503 with Retry-After', async () => {
      const small = await MonitorService.start({
        db: p.db,
        bus: p.bus,
        log: pino({ level: 'silent' }),
        config: monitorConfig({ queue: { capacity: 3 } }),
        listen: false,
        subscribe: false,
        scanner: null,
      });
      const app2 = await buildApp(p, { monitor: small });
      try {
        const ev = Array.from({ length: 4 }, () => ({ '@timestamp': new Date().toISOString(), event: { action: 'x.y' } }));
        const r = await app2.inject({ method: 'POST', url: '/api/v1/events', headers: { authorization: `Bearer ${tokens['event-sender']}` }, payload: ev });
        expect(r.statusCode).toBe(503);
        expect(r.headers['retry-after']).toBe('1');
        expect(r.json().code).toBe('busy');
      } finally {
        await app2.close();
        await small.stop();
      }
    });
  });
}
