/**
 * POST /api/v1/certificates/validate: the peer name, the profile and the maximum depth through the HTTP
 * API, with the caller's chain or this platform's CAs as default anchors and intermediates.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { toPem } from '../../src/asn1/der.js';
import { listCas } from '../../src/pki/index.js';
import { testDatabaseUrls } from '../helpers/db.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { issueCert, newKey, type Party } from '../pki/path/fixtures.js';

const now = Date.now();
const span = { notBefore: new Date(now - 86_400_000), notAfter: new Date(now + 30 * 86_400_000) };
const rootKey = newKey();
const intKey = newKey();
const rootP: Party = { name: 'C=VN, O=Truc, CN=API Root', key: rootKey };
const intP: Party = { name: 'C=VN, O=Truc, CN=API Issuing', key: intKey };
const pem = (d: Buffer) => toPem('CERTIFICATE', d);
const root = pem(issueCert({ subject: rootP.name, key: rootKey, ca: true, keyUsage: ['keyCertSign', 'cRLSign'], ...span }));
const int = pem(issueCert({ subject: intP.name, key: intKey, issuer: rootP, ca: true, keyUsage: ['keyCertSign', 'cRLSign'], ...span }));
const leaf = pem(issueCert({ subject: 'C=VN, O=Truc', key: newKey(), issuer: intP, keyUsage: ['digitalSignature'], eku: ['1.3.6.1.5.5.7.3.1'], san: [{ dns: 'cong.example.vn' }], ...span }));

const { url } = testDatabaseUrls()[0];
describe('certificate validation API', () => {
  let p: TestPlatform;
  let app: FastifyInstance;
  let token: string;
  beforeAll(async () => {
    p = await testPlatform(await url());
    app = await buildApp(p);
    token = (await createToken(p.db, 'auditor', ['auditor'])).token;
  });
  afterAll(async () => {
    await app?.close();
    await p?.close();
  });
  const post = (payload: object, auth = true) =>
    app.inject({ method: 'POST', url: '/api/v1/certificates/validate', payload, headers: auth ? { authorization: `Bearer ${token}` } : {} });

  it('validates for a name under a profile and a depth, with the caller’s chain', async () => {
    const chain = { certificate: leaf, intermediates: [int], trustAnchors: [root] };
    const ok = await post({ ...chain, name: 'CONG.example.vn', profile: 'strict', maxDepth: 1, purpose: 'serverAuth' });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ valid: true, profile: 'strict', name: { type: 'dns', value: 'CONG.example.vn' }, path: [{ subject: 'C=VN, O=Truc' }, {}, { subject: rootP.name }] });
    expect(ok.json().work.signatureChecks).toBeGreaterThan(0);
    const other = await post({ ...chain, name: 'a@example.vn' });
    expect(other.json()).toMatchObject({ valid: false, reason: 'peer_name_mismatch', name: { type: 'email' } });
    expect((await post({ ...chain, maxDepth: 0 })).json()).toMatchObject({ valid: false, reason: 'depth_exceeded' });
  });

  it('defaults to this platform’s CAs', async () => {
    const issuing = (await listCas(p.db)).find((c) => c.parentId)!;
    const r = await post({ certificate: pem(Buffer.from(issuing.certificate)) });
    expect(r.json(), r.body).toMatchObject({ valid: true, profile: 'rfc5280' });
    expect(r.json().path).toHaveLength(2);
  });

  it('refuses what it cannot take: no credentials, an unknown profile, a bad name, not a certificate', async () => {
    expect((await post({ certificate: leaf }, false)).statusCode).toBe(401);
    expect((await post({ certificate: leaf, profile: 'web' })).statusCode).toBe(400);
    expect((await post({ certificate: leaf, maxDepth: 12 })).statusCode).toBe(400);
    const badName = await post({ certificate: leaf, intermediates: [int], trustAnchors: [root], name: '*.example.vn' });
    expect(badName.statusCode).toBe(400);
    expect(badName.json()).toMatchObject({ code: 'bad_request' });
    expect((await post({ certificate: 'not base64!' })).statusCode).toBe(400);
    expect((await post({ certificate: 'AAAA', trustAnchors: [root] })).json()).toMatchObject({ valid: false, reason: 'malformed' });
  });
});
