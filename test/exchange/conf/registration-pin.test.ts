/**
 * Registration over HTTPS pinned to the central server's TLS certificate: accepted with the right pin;
 * refused before the request leaves when the server presents another certificate; the central server's
 * refusals come back with their codes.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { buildApp } from '../../../src/http/app.js';
import { sha256Hex, submitRegistration } from '../../../src/exchange/conf/index.js';
import { openssl, tmp } from '../../helpers/openssl.js';
import { world, type World, type Agency } from '../central/fixture.js';

function selfSigned(dir: string, cn: string): { cert: string; key: string; sha256: string } {
  const key = join(dir, `${cn}.key`);
  const cert = join(dir, `${cn}.pem`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=IP:127.0.0.1']);
  return { cert, key, sha256: sha256Hex(new X509Certificate(readFileSync(cert)).raw) };
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; reason?: unknown }> {
  try {
    await p;
  } catch (e: any) {
    return { code: e.code, reason: e.detail?.reason };
  }
  throw new Error('expected a refusal');
}

describe('registration over pinned HTTPS', () => {
  let w: World;
  let app: FastifyInstance;
  let url: string;
  let good: ReturnType<typeof selfSigned>;
  let other: ReturnType<typeof selfSigned>;
  let vpcp: Agency;

  beforeAll(async () => {
    w = await world('memory://');
    const dir = tmp('truc-tls-');
    good = selfSigned(dir, 'central');
    other = selfSigned(dir, 'impostor');
    (w.p.config.http as any).tls = { cert: good.cert, key: good.key, requestClientCert: false };
    app = await buildApp(w.p, { central: w.central });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `https://127.0.0.1:${(app.server.address() as { port: number }).port}/central/register`;
    vpcp = await w.agency('GOV', '000.00.00.G22', 'Văn phòng Chính phủ');
  });
  afterAll(async () => {
    await app?.close();
    await w?.close();
  });

  it('submits to the server whose certificate hashes to the pin', async () => {
    const r = await submitRegistration(url, good.sha256, await w.request(vpcp, { type: 'auth-cert' }));
    expect(r.status).toBe('pending');
    expect((await w.central.registration.get(r.id))?.status).toBe('pending');
  });

  it('refuses a server presenting another certificate, and sends it nothing', async () => {
    const req = await w.request(vpcp, { type: 'auth-cert' });
    const id = JSON.parse(Buffer.from(req.payload, 'base64').toString()).id;
    expect(await refusal(submitRegistration(url, other.sha256, req))).toEqual({ code: 'cert_invalid', reason: 'pin_mismatch' });
    expect(await w.central.registration.get(id)).toBeNull();
  });

  it('brings back the central server’s refusal with its code', async () => {
    const stranger = await w.agency('GOV', '000.00.00.G99', 'Chưa đăng ký', { register: false });
    expect((await refusal(submitRegistration(url, good.sha256, await w.request(stranger, { type: 'auth-cert' })))).code).toBe('unknown_member');
    // Văn phòng Chính phủ's certificate waits in the first test's request: another for it is a duplicate
    expect(await refusal(submitRegistration(url, good.sha256, await w.request(vpcp, { type: 'auth-cert' })))).toEqual({ code: 'registration_invalid', reason: 'duplicate' });
    // a request of its own (another server's certificate), sent twice: the second is a replay
    const vpcp2 = await w.agency('GOV', '000.00.00.G22', 'Văn phòng Chính phủ', { register: false });
    const replay = await w.request(vpcp2, { type: 'auth-cert' });
    expect((await submitRegistration(url, good.sha256, replay)).status).toBe('pending');
    expect(await refusal(submitRegistration(url, good.sha256, replay))).toEqual({ code: 'registration_invalid', reason: 'replay' });
  });

  it('refuses plain http and a malformed pin without connecting', async () => {
    const req = await w.request(vpcp, { type: 'auth-cert' });
    expect((await refusal(submitRegistration(url.replace('https:', 'http:'), good.sha256, req))).code).toBe('bad_request');
    expect((await refusal(submitRegistration(url, 'abc', req))).code).toBe('bad_request');
    expect((await refusal(submitRegistration('https://127.0.0.1:1/central/register', good.sha256, req))).code).toBe('peer_unreachable');
  });
});
