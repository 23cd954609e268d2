/**
 * Plain HTTP only on loopback unless the operator says otherwise (issue 13, in transit): `truc start` on
 * another address without http.tls is refused before anything is made, with a vi/en message; the operator's
 * override (http.allowPlainHttp, `--insecure-http`) is taken and the listener answers.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertTransportAllowed, isLoopbackHost, startServer, type RunningServer } from '../../src/http/server.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { trucDataDir, trucSync } from '../helpers/truc-cli.js';

describe('plain HTTP off loopback', () => {
  let p: TestPlatform | undefined;
  let server: RunningServer | undefined;
  afterAll(async () => {
    await server?.close();
    await p?.close();
  });

  it('tells loopback addresses from the others', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.1', 'truc.example.vn', '::ffff:10.0.0.1', '128.0.0.1']) expect(isLoopbackHost(h), h).toBe(false);
  });

  it('refuses plain HTTP on 0.0.0.0 unless allowed or TLS is configured', () => {
    const base = { host: '0.0.0.0', port: 0, bodyLimit: 1024 };
    expect(() => assertTransportAllowed(base)).toThrow(/HTTP không mã hoá trên địa chỉ 0\.0\.0\.0.*plain HTTP on 0\.0\.0\.0 \(not loopback\) is refused/);
    expect(() => assertTransportAllowed({ ...base, allowPlainHttp: true })).not.toThrow();
    expect(() => assertTransportAllowed({ ...base, tls: { cert: 'c.pem', key: 'k.pem', requestClientCert: false } })).not.toThrow();
    expect(() => assertTransportAllowed({ ...base, host: '127.0.0.1' })).not.toThrow();
  });

  it('truc start --host 0.0.0.0 is refused before the first start makes a CA; the message names the override', async () => {
    const dir = await trucDataDir('truc-plain-');
    const env = { ...process.env, TRUC_DATA_DIR: dir, TRUC_KEY_PASSPHRASE: 'test passphrase', TRUC_LOG_LEVEL: 'silent' };
    const r = trucSync(env, ['start', '--host', '0.0.0.0', '--port', '0']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error [invalid_config]');
    expect(r.stderr).toContain('HTTP không mã hoá trên địa chỉ 0.0.0.0');
    expect(r.stderr).toContain('--insecure-http');
    expect(existsSync(join(dir, 'bootstrap-tokens.txt'))).toBe(false);
  });

  it('truc central serve follows the same rule, and refuses a self-renewing certificate its servers could not pin', async () => {
    const dir = await trucDataDir('truc-plain-central-');
    const env = { ...process.env, TRUC_DATA_DIR: dir, TRUC_KEY_PASSPHRASE: 'test passphrase', TRUC_LOG_LEVEL: 'silent' };
    const r = trucSync(env, ['central', 'serve', '--host', '0.0.0.0', '--port', '0']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('HTTP không mã hoá trên địa chỉ 0.0.0.0');
    const cfg = join(dir, 'truc.yaml');
    writeFileSync(cfg, 'http:\n  autoTls: {}\n');
    const t = trucSync(env, ['--config', cfg, 'central', 'serve', '--port', '0']);
    expect(t.status).toBe(1);
    expect(t.stderr).toContain('không dùng http.autoTls');
    expect(t.stderr).toContain('use http.tls with certificate files');
  });

  it('with http.allowPlainHttp the server listens on 0.0.0.0 and answers', async () => {
    p = await testPlatform('memory://', { overrides: { http: { host: '0.0.0.0', port: 0, bodyLimit: 1024 * 1024, allowPlainHttp: true } } });
    server = await startServer(p);
    const port = (server.app.server.address() as { port: number }).port;
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: string }).status).toBe('ok');
  });
});
