import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { toPem } from '../../src/asn1/der.js';
import { buildApp } from '../../src/http/app.js';
import { registerCertificate } from '../../src/http/auth/store.js';
import { listCas, revoke } from '../../src/pki/index.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';

function get(port: number, path: string, ca: string, cert?: { cert: string; key: string }): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path, ca, ...(cert ?? {}), method: 'GET', servername: undefined },
      (res) => {
        let data = '';
        res.on('data', (c) => (data += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data || '{}') }));
      },
    );
    req.on('error', reject);
    req.end();
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

  beforeAll(async () => {
    p = await testPlatform('memory://');
    const cas = await listCas(p.db);
    chainPem = cas.map((c) => toPem('CERTIFICATE', c.certificate)).join('');
    const issue = async (profile: string, subject: string, altNames?: any) => {
      const { csr, keyPath } = opensslCsr(dir, subject);
      const r = await p.issuer.issue({ profile, csr, altNames }, 'ra');
      return { cert: toPem('CERTIFICATE', r.der), key: readFileSync(keyPath, 'utf8'), serial: r.serial, der: r.der };
    };
    const server = await issue('tls-server', '/CN=localhost', { dns: ['localhost'], ip: ['127.0.0.1'] });
    const c = await issue('agency-auth', '/C=VN/O=Bộ Tài chính/CN=Máy chủ an ninh BTC');
    await registerCertificate(p.db, 'btc security server', c.der, ['auditor']);
    client = c;
    stranger = await issue('agency-auth', '/C=VN/O=Bộ Y tế/CN=Unregistered');
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

  it('refuses no certificate, an unregistered one, and a revoked one', async () => {
    expect((await get(port, '/api/v1/certificates', chainPem)).status).toBe(401);
    expect((await get(port, '/api/v1/certificates', chainPem, stranger)).status).toBe(401);
    await revoke(p.pki, { serial: client.serial, reason: 'keyCompromise' }, 'ra');
    expect((await get(port, '/api/v1/certificates', chainPem, client)).status).toBe(401);
  });

  it('still serves the public CRL and CA certificates to anyone', async () => {
    const r = await get(port, '/pki/ca', chainPem);
    expect(r.status).toBe(200);
    expect(r.body.map((c: any) => c.id)).toEqual(['root', 'issuing']);
  });
});
