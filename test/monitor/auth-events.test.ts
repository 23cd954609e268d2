/**
 * The API guard's authentication events as the monitoring part sees them: successful access (published once
 * per principal, address and minute) outside working hours raises "Access outside permitted hours", inside
 * them nothing; a revoked or held client certificate presented over TLS raises "Authentication with a
 * revoked certificate". The hour is controlled through the platform's clock, which stamps the events.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { toPem } from '../../src/asn1/der.js';
import { buildApp } from '../../src/http/app.js';
import { createToken, registerCertificate } from '../../src/http/auth/store.js';
import { listCas, revoke } from '../../src/pki/index.js';
import { MonitorService, monitorConfig, type Alert } from '../../src/monitor/index.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import { vietnamAt } from './helpers.js';

type Client = { cert: string; key: string; serial: string; der: Buffer };

function get(port: number, path: string, ca: string, auth: { token?: string; cert?: Client }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        ca,
        ...(auth.cert ? { cert: auth.cert.cert, key: auth.cert.key } : {}),
        ...(auth.token ? { headers: { authorization: `Bearer ${auth.token}` } } : {}),
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('authentication events from the API guard reach detection', () => {
  let p: TestPlatform;
  let m: MonitorService;
  let app: FastifyInstance;
  let port: number;
  let chainPem: string;
  const dir = tmp();
  const issued: Client[] = [];

  beforeAll(async () => {
    p = await testPlatform('memory://');
    m = await MonitorService.start({ db: p.db, bus: p.bus, log: pino({ level: 'silent' }), config: monitorConfig({}), listen: false, scanner: null });
    chainPem = (await listCas(p.db)).map((c) => toPem('CERTIFICATE', c.certificate)).join('');
    const issue = async (profile: string, subject: string, altNames?: any): Promise<Client> => {
      const { csr, keyPath } = opensslCsr(dir, subject);
      const r = await p.issuer.issue({ profile, csr, altNames }, 'ra');
      return { cert: toPem('CERTIFICATE', r.der), key: readFileSync(keyPath, 'utf8'), serial: r.serial, der: r.der };
    };
    // localhost is not among tls-server's allowed names unless configured: configured for this test
    p.pki.profiles.get('tls-server')!.names = { dns: ['localhost'], ip: ['127.0.0.1'], wildcards: false };
    const server = await issue('tls-server', '/CN=localhost', { dns: ['localhost'], ip: ['127.0.0.1'] });
    for (const n of ['BTC', 'BYT']) {
      const c = await issue('agency-auth', `/C=VN/O=${n}/CN=Máy chủ an ninh ${n}`);
      await registerCertificate(p.db, `${n.toLowerCase()} security server`, c.der, ['auditor']);
      issued.push(c);
    }
    writeFileSync(join(dir, 'srv.pem'), server.cert + chainPem);
    writeFileSync(join(dir, 'srv.key'), server.key);
    writeFileSync(join(dir, 'ca.pem'), chainPem);
    p.config.http.tls = { cert: join(dir, 'srv.pem'), key: join(dir, 'srv.key'), ca: join(dir, 'ca.pem'), requestClientCert: true };
    app = await buildApp(p, { monitor: m });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as any).port;
  });
  afterAll(async () => {
    await app?.close();
    await m?.stop();
    await p?.close();
  });

  const settle = async () => {
    await new Promise((r) => setTimeout(r, 50)); // the in-process bus hands over asynchronously
    await m.queue.flush();
  };
  const alertsFor = async (title: string): Promise<Alert[]> => (await m.alerts.list({ limit: 1000 })).filter((a) => a.title === title);
  const succeededBy = (user: string) => p.events.filter((e) => e.subject === 'truc.http.auth.succeeded' && e.event.user?.name === user);

  it('access in working hours is published once a minute and raises nothing', async () => {
    const at = vietnamAt(10);
    p.pki.clock = () => at;
    const { token } = await createToken(p.db, 'day-worker', ['auditor']);
    for (let i = 0; i < 5; i++) expect(await get(port, '/api/v1/certificates?limit=1', chainPem, { token })).toBe(200);
    await settle();
    const published = succeededBy('day-worker');
    expect(published).toHaveLength(1);
    expect(published[0]!.event).toMatchObject({
      '@timestamp': at.toISOString(),
      event: { action: 'auth.succeeded', outcome: 'success', category: ['authentication'], dataset: 'truc.http' },
      source: { ip: '127.0.0.1' },
      truc: { via: 'token' },
    });
    const [stored] = await m.events.search({ where: { 'event.action': 'auth.succeeded', 'user.name': 'day-worker' } });
    expect(stored!.event.truc).toMatchObject({ local_hour: 10, intake: 'bus' });
    // a minute later the same principal is published again
    p.pki.clock = () => new Date(at.getTime() + 61_000);
    expect(await get(port, '/api/v1/certificates?limit=1', chainPem, { token })).toBe(200);
    await settle();
    expect(succeededBy('day-worker')).toHaveLength(2);
    expect(await alertsFor('Access outside permitted hours')).toEqual([]);
  });

  it('access at 21:00 by a token and at 05:00 by a client certificate → "Access outside permitted hours"', async () => {
    p.pki.clock = () => vietnamAt(21);
    const { token } = await createToken(p.db, 'night-owl', ['auditor']);
    expect(await get(port, '/api/v1/certificates?limit=1', chainPem, { token })).toBe(200);
    p.pki.clock = () => vietnamAt(5);
    expect(await get(port, '/api/v1/certificates?limit=1', chainPem, { cert: issued[1] })).toBe(200);
    await settle();
    const alerts = await alertsFor('Access outside permitted hours');
    expect(alerts.map((a) => a.group['user.name']).sort()).toEqual(['byt security server', 'night-owl']);
    expect(alerts[0]).toMatchObject({ level: 'medium', kind: 'rule' });
    expect(succeededBy('byt security server')[0]!.event.truc).toMatchObject({ via: 'certificate' });
    // operations by the same users are not reported a second time as "Operation outside permitted hours"
    const ops = await alertsFor('Operation outside permitted hours');
    expect(ops.filter((a) => ['night-owl', 'byt security server'].includes(a.group['user.name'] as string))).toEqual([]);
  });

  it('a revoked and a held client certificate → auth.failed "certificate_revoked" and "Authentication with a revoked certificate"', async () => {
    p.pki.clock = () => vietnamAt(10);
    const [btc, byt] = issued as [Client, Client];
    await revoke(p.pki, { serial: btc.serial, reason: 'keyCompromise' }, 'ra');
    await revoke(p.pki, { serial: byt.serial, reason: 'certificateHold' }, 'ra');
    expect(await get(port, '/api/v1/certificates', chainPem, { cert: btc })).toBe(401);
    expect(await get(port, '/api/v1/certificates', chainPem, { cert: byt })).toBe(401);
    await settle();
    const failed = p.events.filter((e) => e.subject === 'truc.http.auth.failed').map((e) => e.event);
    expect(failed).toHaveLength(2);
    expect(failed.map((e) => [e.event.reason, (e.truc as any).certificate.status])).toEqual([
      ['certificate_revoked', 'revoked'],
      ['certificate_revoked', 'hold'],
    ]);
    const serials = [btc, byt].map((c) => c.serial.toLowerCase().replace(/^(00)+/, ''));
    expect(failed.map((e) => (e.truc as any).certificate.serial)).toEqual(serials);
    // the refused certificate stands in for the user, so analysts see which one was used
    const alerts = await alertsFor('Authentication with a revoked certificate');
    expect(alerts.map((a) => a.group['user.name']).sort()).toEqual(serials.map((s) => `certificate:${s}`).sort());
    expect(alerts[0]).toMatchObject({ level: 'high', kind: 'rule', group: { 'source.ip': '127.0.0.1' } });
  });
});
