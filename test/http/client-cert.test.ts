import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { toPem } from '../../src/asn1/der.js';
import { buildApp } from '../../src/http/app.js';
import { createToken, registerCertificate } from '../../src/http/auth/store.js';
import { assertTransportAllowed } from '../../src/http/server.js';
import { listCas, release, revoke } from '../../src/pki/index.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';

function get(port: number, path: string, ca: string, cert?: { cert: string; key: string }, method = 'GET', body?: object, token?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const headers = { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) };
    const req = https.request(
      { host: '127.0.0.1', port, path, ca, ...(cert ?? {}), method, servername: undefined, headers },
      (res) => {
        let data = '';
        res.on('data', (c) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data || '{}') }));
      },
    );
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

describe('client certificates from our CA authenticate API callers over TLS', () => {
  let p: TestPlatform;
  let app: FastifyInstance;
  let port: number;
  let chainPem: string;
  const dir = tmp();
  let client: { cert: string; key: string; serial: string };
  let stranger: { cert: string; key: string };
  let officer: { cert: string; key: string; serial: string; der: Buffer };

  beforeAll(async () => {
    p = await testPlatform('memory://');
    const cas = await listCas(p.db);
    chainPem = cas.map((c) => toPem('CERTIFICATE', c.certificate)).join('');
    const issue = async (profile: string, subject: string, altNames?: any) => {
      const { csr, keyPath } = opensslCsr(dir, subject);
      const r = await p.issuer.issue({ profile, csr, altNames }, 'ra');
      return { cert: toPem('CERTIFICATE', r.der), key: readFileSync(keyPath, 'utf8'), serial: r.serial, der: r.der };
    };
    // localhost is not among tls-server's allowed names unless configured: configured for this test
    p.pki.profiles.get('tls-server')!.names = { dns: ['localhost'], ip: ['127.0.0.1'], wildcards: false };
    const server = await issue('tls-server', '/CN=localhost', { dns: ['localhost'], ip: ['127.0.0.1'] });
    const c = await issue('agency-auth', '/C=VN/O=Bộ Tài chính/CN=Máy chủ an ninh BTC');
    await registerCertificate(p.db, 'btc security server', c.der, ['auditor']);
    client = c;
    stranger = await issue('agency-auth', '/C=VN/O=Bộ Y tế/CN=Unregistered');
    officer = await issue('agency-auth', '/C=VN/O=Bộ Nội vụ/CN=Cán bộ RA');
    await registerCertificate(p.db, 'ra officer cert', officer.der, ['ra-officer']);
    writeFileSync(join(dir, 'srv.pem'), server.cert + chainPem);
    writeFileSync(join(dir, 'srv.key'), server.key);
    writeFileSync(join(dir, 'ca.pem'), chainPem);
    p.config.http.tls = { cert: join(dir, 'srv.pem'), key: join(dir, 'srv.key'), ca: join(dir, 'ca.pem'), requestClientCert: true };
    app = await buildApp(p);
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as any).port;
  });
  afterAll(async () => {
    await app?.close();
    await p?.close();
  });

  it('admits a registered certificate with its roles', async () => {
    const r = await get(port, '/api/v1/certificates?limit=1', chainPem, client);
    expect(r.status).toBe(200);
    expect(r.body.items).toHaveLength(1);
  });

  it('gives a certificate principal its roles and nothing more; a hold suspends it until released', async () => {
    const csr = readFileSync(opensslCsr(dir, '/C=VN/O=Bộ Nội vụ/CN=Qua chứng thư').csrPath, 'utf8');
    // the auditor's certificate reads but may not issue; the RA officer's issues
    const denied = await get(port, '/api/v1/certificates', chainPem, client, 'POST', { profile: 'official-signing', csr });
    expect([denied.status, denied.body.code]).toEqual([403, 'forbidden']);
    const issued = await get(port, '/api/v1/certificates', chainPem, officer, 'POST', { profile: 'official-signing', csr });
    expect(issued.status).toBe(201);
    expect(issued.body.subject).toBe('C=VN, O=Bộ Nội vụ, CN=Qua chứng thư');
    // held: refused at once; released: admitted again
    await revoke(p.pki, { serial: officer.serial, reason: 'certificateHold' }, 'ra');
    expect((await get(port, '/api/v1/auth/whoami', chainPem, officer)).status).toBe(401);
    await release(p.pki, officer.serial, 'ra');
    const me = await get(port, '/api/v1/auth/whoami', chainPem, officer);
    expect([me.status, me.body.name, me.body.roles]).toEqual([200, 'ra officer cert', ['ra-officer']]);
  });

  it('refuses no certificate, an unregistered one, and a revoked one', async () => {
    expect((await get(port, '/api/v1/certificates', chainPem)).status).toBe(401);
    expect((await get(port, '/api/v1/certificates', chainPem, stranger)).status).toBe(401);
    await revoke(p.pki, { serial: client.serial, reason: 'keyCompromise' }, 'ra');
    expect((await get(port, '/api/v1/certificates', chainPem, client)).status).toBe(401);
  });

  it('on routes kept for client certificates (http.clientCertRoutes) a token is refused, a certificate admitted; elsewhere tokens work', async () => {
    const { token } = await createToken(p.db, 'auditor token', ['auditor']);
    p.config.http.clientCertRoutes = ['/api/v1/certificates'];
    try {
      const byToken = await get(port, '/api/v1/certificates?limit=1', chainPem, undefined, 'GET', undefined, token);
      expect([byToken.status, byToken.body.code]).toEqual([401, 'unauthenticated']);
      expect(byToken.body.detail).toMatch(/chỉ nhận chứng thư máy khách.*accepts only a client certificate/);
      const byCert = await get(port, '/api/v1/certificates?limit=1', chainPem, officer);
      expect(byCert.status).toBe(200);
      // a route outside the list still takes the token
      expect((await get(port, '/api/v1/auth/whoami', chainPem, undefined, 'GET', undefined, token)).status).toBe(200);
      // the refusal is audited with its reason
      const rows = await p.db.query<{ detail: any }>(`SELECT detail FROM audit_log WHERE outcome = 'denied' ORDER BY seq DESC LIMIT 5`);
      expect(rows.some((r) => r.detail?.reason === 'client_certificate_required')).toBe(true);
    } finally {
      p.config.http.clientCertRoutes = undefined;
    }
  });

  it('clientCertRoutes without a listener asking for client certificates is refused at start', () => {
    expect(() => assertTransportAllowed({ host: '127.0.0.1', port: 0, bodyLimit: 1024, clientCertRoutes: ['/api/v1/ca'] })).toThrow(/clientCertRoutes.*requestClientCert/);
    expect(() => assertTransportAllowed({ host: '127.0.0.1', port: 0, bodyLimit: 1024, clientCertRoutes: ['/api/v1/ca'], autoTls: { requestClientCert: true } })).not.toThrow();
  });

  it('still serves the public CRL and CA certificates to anyone', async () => {
    const r = await get(port, '/pki/ca', chainPem);
    expect(r.status).toBe(200);
    expect(r.body.map((c: any) => c.id)).toEqual(['root', 'issuing']);
  });
});
