/**
 * Syslog over TLS (RFC 5425): the listener presents a server certificate from our own CA, takes RFC 5424
 * messages with octet-counting framing, and stores them parsed. With a CA configured it requires client
 * certificates (mutual TLS) and refuses senders that present none.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import tls from 'node:tls';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { toPem } from '../../src/asn1/der.js';
import { listCas } from '../../src/pki/index.js';
import { MonitorService, monitorConfig } from '../../src/monitor/index.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';

const octets = (msg: string) => `${Buffer.byteLength(msg)} ${msg}`;

/** Connects, writes `frames` (each frame split in two writes), ends; resolves with the error the sender saw, if any. */
function send(port: number, opts: tls.ConnectionOptions, frames: string[]): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let failure: Error | undefined;
    const sock = tls.connect({ host: '127.0.0.1', port, ...opts }, () => {
      for (const f of frames) {
        const b = Buffer.from(f);
        sock.write(b.subarray(0, 7));
        sock.write(b.subarray(7));
      }
      sock.end();
    });
    sock.on('error', (e) => (failure ??= e));
    sock.on('data', () => {});
    sock.on('close', () => resolve(failure));
  });
}

describe('syslog over TLS', () => {
  let p: TestPlatform;
  let chainPem: string;
  const dir = tmp();
  const monitors: MonitorService[] = [];
  let client: { cert: string; key: string };

  beforeAll(async () => {
    p = await testPlatform('memory://');
    chainPem = (await listCas(p.db)).map((c) => toPem('CERTIFICATE', c.certificate)).join('');
    const issue = async (profile: string, subject: string, altNames?: any) => {
      const { csr, keyPath } = opensslCsr(dir, subject);
      const r = await p.issuer.issue({ profile, csr, altNames }, 'ra');
      return { cert: toPem('CERTIFICATE', r.der), key: readFileSync(keyPath, 'utf8') };
    };
    // localhost is not among tls-server's allowed names unless configured: configured for this test
    p.pki.profiles.get('tls-server')!.names = { dns: ['localhost'], ip: ['127.0.0.1'], wildcards: false };
    const server = await issue('tls-server', '/CN=localhost', { dns: ['localhost'], ip: ['127.0.0.1'] });
    client = await issue('agency-auth', '/C=VN/O=Bộ Tài chính/CN=log forwarder');
    writeFileSync(join(dir, 'syslog.pem'), server.cert + chainPem);
    writeFileSync(join(dir, 'syslog.key'), server.key);
    writeFileSync(join(dir, 'ca.pem'), chainPem);
  });
  afterAll(async () => {
    for (const m of monitors) await m.stop();
    await p?.close();
  });

  async function listener(mutual: boolean): Promise<{ m: MonitorService; port: number }> {
    const tlsCfg = { host: '127.0.0.1', port: 0, cert: join(dir, 'syslog.pem'), key: join(dir, 'syslog.key'), ...(mutual ? { ca: join(dir, 'ca.pem') } : {}) };
    const m = await MonitorService.start({
      db: p.db,
      bus: p.bus,
      log: pino({ level: 'silent' }),
      config: monitorConfig({ syslog: { tls: tlsCfg } }),
      subscribe: false,
      scanner: null,
    });
    monitors.push(m);
    return { m, port: m.addresses.tls!.port };
  }

  const byHost = async (m: MonitorService, host: string) => {
    await m.queue.flush();
    return m.events.search({ where: { 'host.name': host }, order: 'asc' });
  };

  it('server authentication by our CA: RFC 5424 messages, octet-counted, stored and parsed', async () => {
    const { m, port } = await listener(false);
    const now = new Date().toISOString();
    const frames = [
      octets(`<165>1 ${now} tls-host-a evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] Nhật ký ứng dụng`),
      octets(`<38>1 ${now} tls-host-a sshd 812 - - Failed password for invalid user oracle from 198.51.100.7 port 51234 ssh2`),
      octets(`<38>1 ${now} tls-host-a sshd 813 - - Accepted publickey for deploy from 10.0.0.5 port 40022 ssh2`),
    ];
    expect(await send(port, { ca: chainPem }, frames)).toBeUndefined();
    const end = Date.now() + 5000;
    while ((await byHost(m, 'tls-host-a')).length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
    const [app, failed, ok] = (await byHost(m, 'tls-host-a')).sort((a, b) => Number(a.id) - Number(b.id)).map((e) => e.event as any);
    expect(app.message).toBe('Nhật ký ứng dụng');
    expect(app.log.syslog).toMatchObject({ facility: { name: 'local4' }, severity: { name: 'notice' }, msgid: 'ID47' });
    expect(app.truc).toMatchObject({ intake: 'syslog' });
    expect(failed.event).toMatchObject({ action: 'ssh_login', outcome: 'failure', category: ['authentication'] });
    expect(failed.source).toMatchObject({ ip: '198.51.100.7', port: 51234 });
    expect(ok.event).toMatchObject({ action: 'ssh_login', outcome: 'success' });
    expect(ok.user.name).toBe('deploy');
  });

  it('a sender that does not trust the listener\'s certificate sends nothing', async () => {
    const { m, port } = await listener(false);
    const err = await send(port, {}, [octets(`<13>1 ${new Date().toISOString()} tls-host-b app - - - hello`)]);
    expect(err?.message).toMatch(/self[- ]signed certificate|unable to get local issuer/);
    expect(await byHost(m, 'tls-host-b')).toEqual([]);
  });

  it('mutual TLS: a sender with a certificate from our CA is heard, one without is refused', async () => {
    const { m, port } = await listener(true);
    const now = new Date().toISOString();
    expect(await send(port, { ca: chainPem, ...client }, [octets(`<13>1 ${now} tls-host-c app - - - with a client certificate`)])).toBeUndefined();
    const refused = await send(port, { ca: chainPem }, [octets(`<13>1 ${now} tls-host-d app - - - without one`)]);
    expect(refused?.message).toMatch(/certificate required|alert|ECONNRESET|socket hang up/i);
    await new Promise((r) => setTimeout(r, 200));
    expect((await byHost(m, 'tls-host-c')).map((e) => e.event.message)).toEqual(['with a client certificate']);
    expect(await byHost(m, 'tls-host-d')).toEqual([]);
  });
});
