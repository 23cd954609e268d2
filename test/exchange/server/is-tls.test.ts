/**
 * The information systems' side over TLS, as X-Road's connection types make it: a client whose connection is
 * `https` reaches its security server only over TLS with a certificate registered for it, `https-noauth`
 * only over TLS; toward an https service the provider's server presents its internal certificate and, when
 * the information system's certificate is registered, accepts that one only (whatever the host name).
 * Certificates are made by openssl, as an agency's operator would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import https from 'node:https';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { startTestAxis, type TestAxis } from './setup.js';
import { openssl, tmp } from '../../helpers/openssl.js';
import { parseService, parseSubsystem } from '../../../src/exchange/ids.js';

const dir = tmp('is-tls-');
function selfSigned(name: string): { key: string; cert: string; der: Buffer } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-days', '2', '-keyout', key, '-out', cert]);
  const pem = readFileSync(cert, 'utf8');
  return { key: readFileSync(key, 'utf8'), cert: pem, der: Buffer.from(new X509Certificate(pem).raw) };
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const internal = selfSigned('ss-internal');
const clientA = selfSigned('he-thong-van-thu-a');
const clientB = selfSigned('he-thong-la');
const providerIs = selfSigned('is-hcm-noi-bo');
const otherIs = selfSigned('is-khac');

let t: TestAxis;
let providerServer: https.Server;
let presented: string[] = [];
const VPCP = 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu';

beforeAll(async () => {
  t = await startTestAxis({ isTls: { key: internal.key, cert: internal.cert } });
  providerServer = https.createServer({ key: providerIs.key, cert: providerIs.cert, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const der = (req.socket as TLSSocket).getPeerCertificate()?.raw;
    presented.push(der ? sha(der) : 'none');
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: 'bảo mật' }));
    });
  });
  await new Promise<void>((r) => providerServer.listen(0, '127.0.0.1', r));
  const hcm = t.axis.members[2]!;
  await hcm.server.store.putService(parseService('SERVICE:VN/PROV/000.00.31.H29/vanthu/bao-mat'), `https://127.0.0.1:${(providerServer.address() as AddressInfo).port}/api`);
  await hcm.server.store.grant({ service: 'SERVICE:VN/PROV/000.00.31.H29/vanthu/bao-mat', subject: VPCP, method: '*', path: '*' });
}, 180_000);

afterAll(async () => {
  await t?.close();
  await new Promise((r) => providerServer?.close(r));
});

function call(url: string, service = 'thong-tin', cert?: { key: string; cert: string }): Promise<{ status: number; error: string | undefined; body: string }> {
  const u = new URL(`${url}/r1/VN/PROV/000.00.31.H29/vanthu/${service}`);
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const r = lib.request(u, { headers: { 'x-road-client': 'VN/GOV/000.00.00.G22/vanthu' }, ...(u.protocol === 'https:' ? { ca: internal.cert, checkServerIdentity: () => undefined, agent: false, ...(cert ?? {}) } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, error: res.headers['x-road-error'] as string | undefined, body: Buffer.concat(chunks).toString() }));
    });
    r.on('error', reject);
    r.end();
  });
}

describe('information systems over TLS (X-Road connection types)', () => {
  it('https: only over TLS with a certificate registered for the client', async () => {
    const vpcp = t.axis.members[0]!;
    expect(vpcp.isTlsUrl).toMatch(/^https:/);
    // the default (http): both ports serve
    expect((await call(vpcp.isUrl)).status).toBe(200);
    expect((await call(vpcp.isTlsUrl!)).status).toBe(200);
    await vpcp.server.store.setConnection(parseSubsystem(VPCP), 'https');
    expect(await vpcp.server.store.addIsCert(parseSubsystem(VPCP), clientA.der)).toBe(sha(clientA.der));
    const refusals = [await call(vpcp.isUrl), await call(vpcp.isTlsUrl!), await call(vpcp.isTlsUrl!, 'thong-tin', clientB)];
    for (const r of refusals) expect([r.status, r.error], r.body).toEqual([500, 'Server.ClientProxy.SslAuthenticationFailed']);
    expect(JSON.parse(refusals[0]!.body).message).toMatch(/HTTPS only/);
    expect(JSON.parse(refusals[1]!.body).message).toMatch(/none was presented/);
    expect(JSON.parse(refusals[2]!.body).message).toMatch(/not one registered/);
    const ok = await call(vpcp.isTlsUrl!, 'thong-tin', clientA);
    expect(ok.status, ok.body).toBe(200);
    expect(JSON.parse(ok.body).co_quan).toBe('UBND Thành phố Hồ Chí Minh');
    // https-noauth: TLS, no certificate needed; plain HTTP still refused
    await vpcp.server.store.setConnection(parseSubsystem(VPCP), 'https-noauth');
    expect((await call(vpcp.isTlsUrl!)).status).toBe(200);
    expect((await call(vpcp.isUrl)).error).toBe('Server.ClientProxy.SslAuthenticationFailed');
    await vpcp.server.store.setConnection(parseSubsystem(VPCP), 'http');
    expect((await call(vpcp.isUrl)).status).toBe(200);
    await expect(vpcp.server.store.setConnection(parseSubsystem('SUBSYSTEM:VN/GOV/000.00.00.G22/khac'), 'https')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('toward an https service: the internal certificate presented, the service’s registered certificate pinned', async () => {
    const vpcp = t.axis.members[0]!;
    const hcm = t.axis.members[2]!;
    const sub = parseSubsystem('SUBSYSTEM:VN/PROV/000.00.31.H29/vanthu');
    presented = [];
    // nothing registered: the system's CAs decide, and a self-signed service certificate is refused
    const unknown = await call(vpcp.isUrl, 'bao-mat');
    expect([unknown.status, unknown.error], unknown.body).toEqual([500, 'Server.ServerProxy.SslAuthenticationFailed']);
    expect(JSON.parse(unknown.body).message).toMatch(/self-signed/);
    // another certificate registered: still refused, by the pin
    const other = await hcm.server.store.addIsCert(sub, otherIs.der);
    const pinnedOther = await call(vpcp.isUrl, 'bao-mat');
    expect([pinnedOther.status, pinnedOther.error], pinnedOther.body).toEqual([500, 'Server.ServerProxy.SslAuthenticationFailed']);
    expect(presented).toEqual([]);
    // the service's own certificate registered: accepted though its name is not the host's
    await hcm.server.store.removeIsCert(sub, other);
    await hcm.server.store.addIsCert(sub, providerIs.der);
    const ok = await call(vpcp.isUrl, 'bao-mat');
    expect(ok.status, ok.body).toBe(200);
    expect(JSON.parse(ok.body).ok).toBe('bảo mật');
    // the service saw the security server's internal certificate as the client's
    expect(presented).toEqual([sha(internal.der)]);
    await expect(hcm.server.store.addIsCert(sub, Buffer.from('not a certificate'))).rejects.toMatchObject({ code: 'bad_request' });
  });
});
