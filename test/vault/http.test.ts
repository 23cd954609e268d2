import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { openssl, tmp } from '../helpers/openssl.js';

describe('vault HTTP API', () => {
  let p: TestPlatform;
  let app: FastifyInstance;
  const tokens: Record<string, string> = {};
  const dir = tmp('truc-vault-http-');
  let certPem = '';
  let keyId = '';
  beforeAll(async () => {
    p = await testPlatform('memory://', { init: false });
    app = await buildApp(p);
    for (const role of ['doc-clerk', 'security-officer', 'auditor']) tokens[role] = (await createToken(p.db, role, [role])).token;
    // a recipient key in the platform's software store, certified by a throwaway CA
    const info = await p.keys.default.generate('EC-P256', 'recipient', { usage: 'decrypt' });
    keyId = info.ref.id;
    const pub = join(dir, 'r.pub');
    writeFileSync(pub, createPublicKey({ key: info.spki, format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }) as string);
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-subj', '/CN=CA', '-days', '1']);
    openssl(['req', '-new', '-key', join(dir, 'ca.key'), '-subj', '/CN=So TTTT', '-out', join(dir, 'r.csr')]);
    openssl(['x509', '-req', '-in', join(dir, 'r.csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-force_pubkey', pub, '-days', '1', '-out', join(dir, 'r.crt')]);
    certPem = readFileSync(join(dir, 'r.crt'), 'utf8');
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await p?.close();
  });
  const call = (method: 'GET' | 'POST' | 'PUT', url: string, role: string, payload?: unknown) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${tokens[role]}` }, ...(payload ? { payload: payload as object } : {}) });

  it('encrypts and decrypts with a key of the platform; roles and problem documents', async () => {
    const content = Buffer.from('Báo cáo tuần').toString('base64');
    const enc = await call('POST', '/api/v1/vault/encrypt', 'doc-clerk', { content, recipients: [certPem] });
    expect(enc.statusCode, enc.body).toBe(200);
    const dec = await call('POST', '/api/v1/vault/decrypt', 'doc-clerk', { cms: enc.json().cms, keyRef: `software:${keyId}` });
    expect(dec.statusCode, dec.body).toBe(200);
    expect(Buffer.from(dec.json().content, 'base64').toString()).toBe('Báo cáo tuần');
    expect((await call('POST', '/api/v1/vault/encrypt', 'auditor', { content, recipients: [certPem] })).statusCode).toBe(403);
    const tampered = Buffer.from(enc.json().cms, 'base64');
    tampered[tampered.length - 20] ^= 1;
    const bad = await call('POST', '/api/v1/vault/decrypt', 'doc-clerk', { cms: tampered.toString('base64'), keyRef: `software:${keyId}` });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().code).toBe('decrypt_failed');
    expect(bad.headers['content-type']).toMatch(/problem\+json/);
  });

  it('release checks under the stored policy; policy changes need vault.policy', async () => {
    const content = Buffer.from('kế hoạch').toString('base64');
    const release = { documentId: 'kh-1', label: 'mat', recipient: 'so-tttt', channel: 'axis-e2e' };
    const denied = await call('POST', '/api/v1/vault/encrypt', 'doc-clerk', { content, recipients: [certPem], release });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().code).toBe('release_denied');
    expect(p.events.some((e) => e.subject === 'truc.vault.release.denied')).toBe(true);
    const policy = { senders: { 'doc-clerk': 'toi-mat' }, recipients: { 'so-tttt': 'mat' }, channels: { 'axis-e2e': 'tuyet-mat' }, encryptFrom: 'mat' };
    expect((await call('PUT', '/api/v1/vault/policy', 'doc-clerk', { policy })).statusCode).toBe(403);
    const put = await call('PUT', '/api/v1/vault/policy', 'security-officer', { policy, expectVersion: 0 });
    expect(put.statusCode, put.body).toBe(200);
    expect((await call('GET', '/api/v1/vault/policy', 'auditor')).json().version).toBe(1);
    const ok = await call('POST', '/api/v1/vault/encrypt', 'doc-clerk', { content, recipients: [certPem], release });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().level).toBe('mat');
    const missing = await call('POST', '/api/v1/vault/encrypt', 'doc-clerk', { content, recipients: [certPem], release: { ...release, label: null } });
    expect(missing.json().code).toBe('label_missing');
  });
});
