/**
 * `truc start --tls` (issue 13, in transit): the platform's HTTPS listener on a certificate from its own CA,
 * TLS 1.3 only, for the names it answers under; kept across restarts, renewed before it expires and when the
 * names change, swapped into the running listener without a restart. Judged by Node's TLS client with only
 * our root trusted and by `openssl s_client` / `openssl verify`.
 */
import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import tls from 'node:tls';
import https from 'node:https';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startServer, assertTransportAllowed, type RunningServer } from '../../src/http/server.js';
import { ensureListenerMaterial, listenerNames } from '../../src/http/listener-tls.js';
import { listCas } from '../../src/pki/index.js';
import { toPem } from '../../src/asn1/der.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { tmp, openssl } from '../helpers/openssl.js';
import { trucDataDir } from '../helpers/truc-cli.js';

/** The listener's certificate as a TLS 1.3 client trusting only `ca` sees it. */
function handshake(port: number, o: { ca?: string; servername?: string; maxVersion?: tls.SecureVersion } = {}): Promise<{ authorized: boolean; error?: string; protocol: string | null; serial: string; san: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: o.servername ?? 'localhost', ...(o.ca ? { ca: o.ca } : { rejectUnauthorized: false }), ...(o.maxVersion ? { maxVersion: o.maxVersion } : {}) }, () => {
      const c = s.getPeerCertificate();
      resolve({ authorized: s.authorized, ...(s.authorizationError ? { error: String(s.authorizationError) } : {}), protocol: s.getProtocol(), serial: c.serialNumber.toLowerCase(), san: c.subjectaltname ?? '' });
      s.end();
    });
    s.once('error', reject);
  });
}

/** openssl s_client against the listener (run without blocking this process, which serves it). */
function sClient(port: number, caFile: string, host: string): Promise<string> {
  return new Promise((resolve) => {
    const c = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', host, '-CAfile', caFile, '-verify_return_error', '-verify_hostname', host, '-brief']);
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('close', () => resolve(out));
    c.stdin.end();
  });
}

describe('HTTPS on the platform\'s own certificate (truc start --tls)', () => {
  let p: TestPlatform;
  let server: RunningServer;
  let port: number;
  let root: string;
  const dir = tmp('truc-autotls-');

  beforeAll(async () => {
    p = await testPlatform('memory://', { overrides: { http: { host: '127.0.0.1', port: 0, bodyLimit: 1024 * 1024, autoTls: {} } } });
    server = await startServer(p);
    port = (server.app.server.address() as { port: number }).port;
    const r = (await listCas(p.db)).find((c) => c.parentId === null)!;
    root = toPem('CERTIFICATE', r.certificate);
    writeFileSync(join(dir, 'root.pem'), root);
  });
  afterAll(async () => {
    await server?.close();
    await p?.close();
  });

  it('names this machine by default and is accepted by the transport rule on any address', () => {
    expect(listenerNames(p)).toEqual(['localhost', '127.0.0.1', '::1']);
    expect(() => assertTransportAllowed({ host: '0.0.0.0', port: 0, bodyLimit: 1024, autoTls: {} })).not.toThrow();
    expect(() => assertTransportAllowed({ host: '0.0.0.0', port: 0, bodyLimit: 1024, autoTls: {}, tls: { cert: 'c', key: 'k', requestClientCert: false } })).toThrow(/loại trừ nhau.*exclude each other/);
  });

  it('serves TLS 1.3 with a chain a client trusting only our root accepts, for each name', async () => {
    expect(server.url).toMatch(/^https:\/\//);
    for (const servername of ['localhost', '127.0.0.1']) {
      const h = await handshake(port, { ca: root, servername });
      expect(h.authorized, h.error).toBe(true);
      expect(h.protocol).toBe('TLSv1.3');
      expect(h.san).toContain('DNS:localhost');
      expect(h.san).toContain('IP Address:127.0.0.1');
    }
    // a TLS 1.2 client is refused
    await expect(handshake(port, { maxVersion: 'TLSv1.2' })).rejects.toThrow();
    // the API answers over it
    const status = await new Promise<number>((resolve, reject) =>
      https.get({ host: '127.0.0.1', port, path: '/healthz', ca: root, servername: 'localhost' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).once('error', reject),
    );
    expect(status).toBe(200);
  });

  it('is verified by openssl: s_client with our root checks chain and host name; verify with the sslserver purpose', async () => {
    const out = await sClient(port, join(dir, 'root.pem'), 'localhost');
    expect(out).toMatch(/Verification: OK/);
    expect(out).toMatch(/Protocol version: TLSv1\.3/);
    const m = server.listener!.material;
    const pems = m.cert.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g)!;
    expect(pems.length).toBeGreaterThanOrEqual(2);
    writeFileSync(join(dir, 'leaf.pem'), pems[0]!);
    writeFileSync(join(dir, 'chain.pem'), pems.slice(1).join(''));
    expect(openssl(['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'chain.pem'), '-purpose', 'sslserver', '-verify_hostname', 'localhost', join(dir, 'leaf.pem')])).toMatch(/OK/);
    const x = new X509Certificate(pems[0]!);
    const days = (Date.parse(x.validTo) - Date.parse(x.validFrom)) / 86_400_000;
    expect(days).toBeLessThanOrEqual(61);
    expect(x.keyUsage ?? []).toContain('1.3.6.1.5.5.7.3.1');
  });

  it('keeps its certificate across starts; renews before expiry and swaps it into the running listener', async () => {
    const first = server.listener!.material;
    const again = await ensureListenerMaterial(p);
    expect(again.issued).toBe(false);
    expect(again.material.serial).toBe(first.serial);
    // not due yet: nothing happens
    expect(await server.listener!.check()).toBe(false);
    // a day before it expires: renewed, and new connections get the new certificate
    expect(await server.listener!.check(new Date(first.notAfter.getTime() - 86_400_000))).toBe(true);
    const renewed = server.listener!.material;
    expect(renewed.serial).not.toBe(first.serial);
    const h = await handshake(port, { ca: root });
    expect(h.authorized, h.error).toBe(true);
    expect(h.serial.replace(/^0+/, '')).toBe(renewed.serial.toLowerCase().replace(/^0+/, ''));
    // the renewal went through the CA's issuance: the event is on the bus
    await vi.waitFor(() => expect(p.events.some((e) => e.event.event.action === 'certificate.issued' && JSON.stringify(e.event).includes(renewed.serial))).toBe(true), { timeout: 10_000 });
  });

  it('issues a new certificate when the names change, and refuses names its profile does not allow', async () => {
    p.config.http.autoTls = { names: ['localhost', 'cong.bonoivu.gov.vn', '127.0.0.1'] };
    expect(await server.listener!.check()).toBe(true);
    const h = await handshake(port, { ca: root, servername: 'cong.bonoivu.gov.vn' });
    expect(h.san).toContain('DNS:cong.bonoivu.gov.vn');
    expect(h.san).not.toContain('::1');
    p.config.http.autoTls = { names: ['login.example.com'] };
    await expect(ensureListenerMaterial(p)).rejects.toThrow(/allowed names|not allowed/);
    // a failed renewal leaves the listener on the certificate it had
    const before = server.listener!.material.serial;
    expect(await server.listener!.check()).toBe(false);
    expect((await handshake(port, { ca: root, servername: 'cong.bonoivu.gov.vn' })).authorized).toBe(true);
    expect(server.listener!.material.serial).toBe(before);
    p.config.http.autoTls = {};
  });
});

describe('truc start --tls', () => {
  let child: ChildProcess | undefined;
  afterAll(async () => {
    // stopped and gone before the data folder is removed
    if (child && child.exitCode === null) await new Promise((r) => (child!.once('exit', r), child!.kill('SIGTERM')));
  });

  it('listens on HTTPS with a certificate from the CA it made on its first start', async () => {
    const dataDir = await trucDataDir('truc-start-tls-');
    child = spawn(process.execPath, ['bin/truc.js', 'start', '--tls', '--port', '0'], {
      env: { ...process.env, TRUC_DATA_DIR: dataDir, TRUC_KEY_PASSPHRASE: 'test passphrase', TRUC_LOG_LEVEL: 'info' },
    });
    const url = await new Promise<string>((resolve, reject) => {
      let buf = '';
      const t = setTimeout(() => reject(new Error(`no start: ${buf}`)), 120_000);
      child!.stdout!.on('data', (d) => {
        buf += d;
        const m = /"url":"(https?:\/\/[^"]+)".*Trục is running/.exec(buf);
        if (m) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
      child!.once('exit', (code) => reject(new Error(`exited ${code}: ${buf}`)));
    });
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const h = await handshake(Number(new URL(url).port));
    expect(h.protocol).toBe('TLSv1.3');
    expect(h.san).toContain('DNS:localhost');
  });
});
