/**
 * Registration probed as an attacker and as a buggy security server would use it. Each case asserts what a
 * well-built central server does (X-Road's management service and its request handlers as the reference:
 * MR_EXISTS for a second pending request about the same certificate or client, per-address throttling of
 * the management service); a failing case is a finding. One platform, its OCSP responder over HTTP (the
 * approved CA's OCSP URL points at it, so the central server could ask it itself), one central server.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { buildApp } from '../../../src/http/app.js';
import { createToken } from '../../../src/http/auth/store.js';
import { revoke } from '../../../src/pki/index.js';
import { CentralServer } from '../../../src/exchange/central/index.js';
import { canonicalBytes, sha256Hex, submitRegistration, type RegistrationRequest } from '../../../src/exchange/conf/index.js';
import { openssl, tmp } from '../../helpers/openssl.js';
import { world, INSTANCE, type World, type Agency } from './fixture.js';

/** Vietnamese (a letter only Vietnamese writes) */
const VI = /[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]/i;
/** Vietnamese first, English beside it after " / " */
const viFirst = (s: unknown) => typeof s === 'string' && VI.test(s) && s.indexOf(' / ') > s.search(VI);

type Outcome = { ok: true; value: unknown } | { ok: false; code: string; reason?: unknown; message: string };
async function outcome(p: Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await p };
  } catch (e: any) {
    return { ok: false, code: e.code, reason: e.detail?.reason, message: String(e.message) };
  }
}
const show = (o: Outcome) => (o.ok ? `accepted: ${JSON.stringify(o.value)}` : `${o.code} ${String(o.reason ?? '')}: ${o.message}`);
const idOf = (req: RegistrationRequest) => JSON.parse(Buffer.from(req.payload, 'base64').toString()).id as string;

describe('registration probed as an attacker and a buggy security server', () => {
  let w: World;
  let app: FastifyInstance;
  let base: string;
  let admin: { authorization: string };
  let vpcp: Agency;
  let bnv: Agency;
  let ipN = 10;
  /** a fresh source address per call group: the per-source limit (if any) must not mix the cases */
  const nextIp = () => `192.0.2.${ipN++}`;

  const post = (payload: unknown, ip: string, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<LightMyRequestResponse> =>
    app.inject({ method: 'POST', url: '/central/register', remoteAddress: ip, headers, payload: typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload) });
  const pendingCount = async () => (await w.central.registration.list('pending', 1000)).length;
  const server = async (a: Agency, serverCode = 'ss1') => (await w.central.registry.listServers()).find((s: any) => s.ownerCode === a.memberCode && s.serverCode === serverCode) as any;
  const auditFor = (ip: string) =>
    w.p.db.query<{ actor: string; action: string; outcome: string; detail: any }>("SELECT actor, action, outcome, detail FROM audit_log WHERE detail->>'ip' = $1 ORDER BY seq", [ip]);
  async function registered(a: Agency): Promise<void> {
    const r = await w.central.registration.submit(await w.request(a, { type: 'auth-cert' }));
    await w.central.registration.approve(r.id, 'test');
  }

  beforeAll(async () => {
    w = await world('memory://');
    // a low per-source limit: only the flooding case sends enough from one address to meet it
    (w.p.config.http as { rateLimit?: unknown }).rateLimit = { burst: 30, perSecond: 1 };
    app = await buildApp(w.p, { central: w.central, ocsp: w.ocsp });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    // the approved CA's OCSP responder is reachable: a central server re-checking at approval can ask it
    await w.central.registry.approvePlatformCas(w.p.pki, 'test', `${base}/ocsp`);
    admin = { authorization: `Bearer ${(await createToken(w.p.db, 'central-op', ['central-admin'])).token}` };
    vpcp = await w.agency('GOV', '000.00.00.G22', 'Văn phòng Chính phủ');
    bnv = await w.agency('GOV', '000.00.00.G09', 'Bộ Nội vụ');
    await registered(vpcp);
    await registered(bnv);
    await w.central.registry.addSubsystem({ memberClass: 'GOV', memberCode: '000.00.00.G09', subsystemCode: 'hoso' }, 'test');
  });
  afterAll(async () => {
    await app?.close();
    await w?.close();
  });

  // ---- replays and duplicates

  it('refuses an approved request and a rejected one replayed verbatim', async () => {
    const approved = await w.request(vpcp, { type: 'maintenance', maintenance: false });
    await w.central.registration.approve((await w.central.registration.submit(approved)).id, 'test');
    const rejected = await w.request(vpcp, { type: 'maintenance', maintenance: true });
    await w.central.registration.reject((await w.central.registration.submit(rejected)).id, 'test', 'không / no');
    for (const req of [approved, rejected]) {
      const o = await outcome(w.central.registration.submit(req));
      expect(o, show(o)).toMatchObject({ ok: false, code: 'registration_invalid', reason: 'replay' });
    }
    expect((await w.central.registration.get(idOf(rejected)))?.status).toBe('rejected');
  });

  it('stores one of two identical submissions arriving together, refusing the other as a replay', async () => {
    const req = await w.request(vpcp, { type: 'maintenance', maintenance: false });
    const before = await pendingCount();
    const both = await Promise.all([outcome(w.central.registration.submit(req)), outcome(w.central.registration.submit(req))]);
    expect(both.filter((o) => o.ok).length, both.map(show).join(' | ')).toBe(1);
    expect(both.find((o) => !o.ok)).toMatchObject({ code: 'registration_invalid', reason: 'replay' });
    expect(await pendingCount()).toBe(before + 1);
  });

  it('refuses a second pending auth-cert request for the same certificate (X-Road: MR_EXISTS)', async () => {
    const a = await w.agency('GOV', '000.00.00.G30', 'Bộ Giáo dục và Đào tạo');
    const first = await w.central.registration.submit(await w.request(a, { type: 'auth-cert' }));
    expect(first.status).toBe('pending');
    const before = await pendingCount();
    // the same certificate again (a new id), for the same server and for another server code of the owner
    const again = await outcome(w.central.registration.submit(await w.request(a, { type: 'auth-cert' })));
    const elsewhere = await outcome(w.central.registration.submit(await w.request(a, { type: 'auth-cert' }, 'ss2')));
    expect(again.ok, show(again)).toBe(false);
    expect(elsewhere.ok, show(elsewhere)).toBe(false);
    expect(await pendingCount()).toBe(before);
  });

  it('refuses a second pending client request for the same server and subsystem (X-Road: MR_EXISTS)', async () => {
    const client = { memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: 'hai-lan' };
    expect((await w.central.registration.submit(await w.request(vpcp, { type: 'client', client }))).status).toBe('pending');
    const before = await pendingCount();
    const again = await outcome(w.central.registration.submit(await w.request(vpcp, { type: 'client', client })));
    expect(again.ok, show(again)).toBe(false);
    expect(await pendingCount()).toBe(before);
  });

  // ---- approval

  it('lets one of two central processes on one database approve a request, the other gets conflict', async () => {
    const client = { memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: 'dua' };
    const r = await w.central.registration.submit(await w.request(vpcp, { type: 'client', client }));
    const other = await CentralServer.open({ db: w.p.db, keys: w.p.keys, bus: w.p.bus, instance: INSTANCE });
    try {
      const both = await Promise.all([outcome(w.central.registration.approve(r.id, 'op-1')), outcome(other.registration.approve(r.id, 'op-2'))]);
      expect(both.filter((o) => o.ok).length, both.map(show).join(' | ')).toBe(1);
      expect(both.find((o) => !o.ok)).toMatchObject({ code: 'conflict' });
      expect((await server(vpcp)).clients.filter((c: any) => c.subsystemCode === 'dua')).toHaveLength(1);
    } finally {
      await other.stop();
    }
  });

  it('does not approve an address change whose signing certificate was revoked (key compromise) while it waited', async () => {
    const a = await w.agency('GOV', '000.00.00.G31', 'Bộ Khoa học và Công nghệ');
    await registered(a);
    const before = (await server(a)).address;
    // the stolen signing key asks to move the server; the owner revokes the key; the operator approves later
    const moved = await w.central.registration.submit(await w.request(a, { type: 'address-change', address: 'ke-gian.example:5500' }));
    await revoke(w.p.pki, { serial: a.signing.serial, reason: 'keyCompromise' }, 'test');
    const o = await outcome(w.central.registration.approve(moved.id, 'operator'));
    expect(o, show(o)).toMatchObject({ ok: false, code: 'cert_revoked' });
    expect((await server(a)).address).toBe(before);
  });

  it('does not approve an auth-cert request whose authentication certificate was revoked while it waited', async () => {
    const a = await w.agency('GOV', '000.00.00.G32', 'Bộ Tài nguyên và Môi trường');
    const r = await w.central.registration.submit(await w.request(a, { type: 'auth-cert' }));
    await revoke(w.p.pki, { serial: a.auth.serial, reason: 'keyCompromise' }, 'test');
    const o = await outcome(w.central.registration.approve(r.id, 'operator'));
    expect(o, show(o)).toMatchObject({ ok: false, code: 'cert_revoked' });
    expect(await server(a)).toBeUndefined();
  });

  it('does not approve a client request for a server removed while it waited', async () => {
    const a = await w.agency('GOV', '000.00.00.G33', 'Bộ Văn hoá, Thể thao và Du lịch');
    await registered(a);
    const r = await w.central.registration.submit(await w.request(a, { type: 'client', client: { memberClass: 'GOV', memberCode: '000.00.00.G33', subsystemCode: 'vanthu' } }));
    await w.central.registry.removeServer({ memberClass: 'GOV', memberCode: '000.00.00.G33', serverCode: 'ss1' }, 'test');
    const o = await outcome(w.central.registration.approve(r.id, 'operator'));
    expect(o, show(o)).toMatchObject({ ok: false, code: 'registration_invalid', reason: 'unknown_server' });
    expect(await server(a)).toBeUndefined();
  });

  // ---- signatures, owners

  it('refuses a proof of possession made by another server’s authentication key', async () => {
    const a = await w.agency('GOV', '000.00.00.G34', 'Bộ Lao động');
    const req = await w.request(a, { type: 'auth-cert' });
    const forged = { ...req, proofOfPossession: (await bnv.auth.sign(Buffer.from(req.payload, 'base64'))).toString('base64') };
    const o = await outcome(w.central.registration.submit(forged));
    expect(o, show(o)).toMatchObject({ ok: false, code: 'registration_invalid', reason: 'bad_proof_of_possession' });
  });

  it('refuses maintenance, client deletion and auth-cert deletion on another member’s server, nothing left pending', async () => {
    const before = await pendingCount();
    const target = { memberClass: bnv.memberClass, memberCode: bnv.memberCode, serverCode: 'ss1' };
    // Văn phòng Chính phủ's key, Bộ Nội vụ's server
    const asVpcp = { ...bnv, signing: vpcp.signing };
    for (const b of [
      { type: 'maintenance' as const, maintenance: true },
      { type: 'client-deletion' as const, client: { memberClass: 'GOV', memberCode: '000.00.00.G09', subsystemCode: 'hoso' } },
      { type: 'auth-cert-deletion' as const, auth: { certificate: bnv.auth.certificate } },
    ]) {
      const req = await w.request(asVpcp, { ...b, server: target });
      const o = await outcome(w.central.registration.submit(req));
      expect(o, `${b.type}: ${show(o)}`).toMatchObject({ ok: false, code: 'registration_invalid', reason: 'wrong_owner' });
    }
    expect(await pendingCount()).toBe(before);
  });

  // ---- what the payload says

  it('refuses server addresses that are no host name nor IP address (address-change)', async () => {
    const bad = ['..', '-', '.example', 'a..b.example', '-evil-.example', 'ss1.example-', `${'x'.repeat(64)}.example`, '999.999.999.999', '1.2.3', '2130706433', '0', '0.0.0.0', '[::]', '[:::::]', '[1.2.3.4]'];
    const accepted: string[] = [];
    for (const address of bad) {
      const o = await outcome(w.central.registration.submit(await w.request(vpcp, { type: 'address-change', address })));
      if (o.ok || o.code !== 'registration_invalid') accepted.push(`${address} → ${show(o)}`);
    }
    expect(accepted, 'accepted or refused for another reason').toEqual([]);
  });

  // ---- HTTP: hostile bodies, floods

  it('audits hostile bodies refused before the central server reads them (bad JSON, XML, too large), with the source address', async () => {
    const bodies: [string, string | Buffer, Record<string, string>][] = [
      ['bad JSON', '{"payload":', { 'content-type': 'application/json' }],
      ['SOAP, as an X-Road security server would send', '<?xml version="1.0"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body/></SOAP-ENV:Envelope>', { 'content-type': 'text/xml; charset=UTF-8' }],
      ['200 KB', JSON.stringify({ payload: 'A'.repeat(200_000) }), { 'content-type': 'application/json' }],
      ['JSON nested too deep', `${'['.repeat(5000)}${']'.repeat(5000)}`, { 'content-type': 'application/json' }],
    ];
    const before = await pendingCount();
    const missing: string[] = [];
    for (const [name, body, headers] of bodies) {
      const ip = nextIp();
      const r = await post(body, ip, headers);
      expect(r.statusCode, `${name}: ${r.body.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
      expect(r.statusCode, `${name}: ${r.body.slice(0, 200)}`).toBeLessThan(500);
      expect(r.headers['content-type'], name).toContain('application/problem+json');
      const rows = await auditFor(ip);
      if (!rows.some((x) => x.action === 'central.registration.submit' && x.outcome === 'failure')) missing.push(`${name} (${r.statusCode} ${r.json().code})`);
    }
    expect(missing, 'refused without an audit record').toEqual([]);
    expect(await pendingCount()).toBe(before);
  });

  it('answers a 50 MB body 413 without reading it all, over real HTTP', async () => {
    const u = new URL(`${base}/central/register`);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': 50 * 1024 * 1024 } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (e) => reject(e));
      const chunk = Buffer.alloc(1024 * 1024, 0x41);
      let sent = 0;
      const pump = () => {
        while (sent < 50) {
          sent++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      req.write('{"payload":"');
      pump();
    }).catch((e) => (String(e.code).startsWith('EPIPE') || e.code === 'ECONNRESET' ? -1 : Promise.reject(e)));
    expect(status).toBe(413);
  });

  it('answers a flood of refused requests from one address 429 with Retry-After (X-Road: IpThrottlingFilter)', async () => {
    const ip = '198.51.100.7';
    const statuses: number[] = [];
    let retryAfter: unknown;
    for (let i = 0; i < 80; i++) {
      const r = await post({ payload: 'e30=' }, ip);
      statuses.push(r.statusCode);
      if (r.statusCode === 429) retryAfter ??= r.headers['retry-after'];
    }
    const counts = statuses.reduce<Record<number, number>>((m, s) => ({ ...m, [s]: (m[s] ?? 0) + 1 }), {});
    expect(counts[429] ?? 0, JSON.stringify(counts)).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeGreaterThan(0);
  });

  // ---- audit, monitoring, messages

  it('does not audit or publish an unverified request under the server it claims to be', async () => {
    const ip = nextIp();
    const req = await w.request(vpcp, { type: 'maintenance', maintenance: true });
    const sig = Buffer.from(req.signature, 'base64');
    sig[sig.length - 1] ^= 1;
    const r = await post({ ...req, signature: sig.toString('base64') }, ip);
    expect(r.json()).toMatchObject({ code: 'registration_invalid', reason: 'bad_signature' });
    const rows = (await auditFor(ip)).filter((x) => x.action === 'central.registration.submit');
    expect(rows).toHaveLength(1);
    // anybody can write Văn phòng Chính phủ's server into a payload: the record must not say it asked
    expect(rows[0]!.actor).not.toContain('000.00.00.G22');
    const ev = w.p.events.find((e) => e.subject === 'truc.exchange.central.registration.submit.refused' && (e.event as any).source?.ip === ip);
    expect((ev?.event as any)?.user?.name).not.toContain('000.00.00.G22');
  });

  it('publishes security-relevant refusals with their code and the source address', async () => {
    const a = await w.agency('GOV', '000.00.00.G35', 'Bộ Y tế');
    const req = await w.request(a, { type: 'auth-cert' });
    const pop = { ...req, proofOfPossession: (await a.signing.sign(Buffer.from(req.payload, 'base64'))).toString('base64') };
    const cases: [string, unknown][] = [
      ['bad_proof_of_possession', pop],
      ['wrong_owner', await w.request({ ...a, signing: bnv.signing }, { type: 'maintenance', maintenance: true })],
    ];
    for (const [why, body] of cases) {
      const ip = nextIp();
      const r = await post(body, ip);
      expect(r.statusCode, r.body).toBe(422);
      const ev = w.p.events.find((e) => e.subject === 'truc.exchange.central.registration.submit.refused' && (e.event as any).source?.ip === ip);
      expect(ev, why).toBeDefined();
      expect((ev!.event as any).truc).toMatchObject({ code: 'registration_invalid', why });
      expect((ev!.event as any).event.outcome).toBe('failure');
    }
  });

  it('words every refusal a security server or operator meets in Vietnamese first, English beside', async () => {
    const stranger = await w.agency('GOV', '000.00.00.G98', 'Cơ quan chưa đăng ký', { register: false });
    const auth = await w.request(bnv, { type: 'auth-cert' });
    const replayed = await w.request(vpcp, { type: 'maintenance', maintenance: false });
    await w.central.registration.submit(replayed);
    const signed = async (payload: Record<string, unknown>) => {
      const bytes = canonicalBytes(payload);
      const s = await w.signer(vpcp.signing);
      return { payload: bytes.toString('base64'), signingCert: s.certificate.toString('base64'), signingOcsp: s.ocsp.toString('base64'), signatureAlgorithm: s.scheme, signature: (await s.sign(bytes)).toString('base64') };
    };
    const basePayload = { id: 'probe-unknown-field-1', type: 'maintenance', instance: INSTANCE, server: { memberClass: 'GOV', memberCode: '000.00.00.G22', serverCode: 'ss1' }, createdAt: new Date().toISOString(), maintenance: true };
    const scenarios: [string, unknown][] = [
      ['wrong_instance', await w.request(vpcp, { type: 'maintenance', maintenance: false, instance: 'EE' })],
      ['bad_time', await w.request(vpcp, { type: 'maintenance', maintenance: false, now: new Date(Date.now() - 3600_000) })],
      ['replay', replayed],
      ['unknown_member', await w.request(stranger, { type: 'maintenance', maintenance: false })],
      ['wrong_owner', await w.request({ ...vpcp, signing: bnv.signing }, { type: 'maintenance', maintenance: false })],
      ['bad_proof_of_possession', { ...auth, proofOfPossession: (await bnv.signing.sign(Buffer.from(auth.payload, 'base64'))).toString('base64') }],
      ['malformed (authCertHash of another certificate)', { ...auth, authCert: vpcp.auth.certificate.toString('base64') }],
      ['malformed (unknown payload field)', await signed({ ...basePayload, colour: 'đỏ' })],
      ['malformed (not base64)', { ...replayed, payload: 'không phải base64' }],
      ['cert_invalid (signing certificate not DER)', { ...(await w.request(vpcp, { type: 'maintenance', maintenance: false })), signingCert: 'AAAA' }],
      ['duplicate (auth cert already registered)', await w.request(vpcp, { type: 'auth-cert' })],
      ['unknown_server', await w.request(vpcp, { type: 'maintenance', maintenance: true }, 'khong-co')],
      ['unknown_client', await w.request(vpcp, { type: 'client-deletion', client: { memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: 'khong-co' } })],
      ['client_signature_missing', await w.request(vpcp, { type: 'client', client: { memberClass: 'GOV', memberCode: '000.00.00.G09', subsystemCode: 'hoso' } })],
    ];
    const english: string[] = [];
    for (const [name, body] of scenarios) {
      const r = await post(body, nextIp());
      expect(r.statusCode, `${name}: ${r.body.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
      expect(r.statusCode, `${name}: ${r.body.slice(0, 300)}`).toBeLessThan(500);
      const { code, reason, detail } = r.json();
      // the scenario met the refusal it is named after (its first word: the code or the reason)
      expect([code, reason], `${name}: ${r.body.slice(0, 300)}`).toContain(name.split(' ')[0]);
      if (!viFirst(detail)) english.push(`${name}: ${String(detail).slice(0, 120)}`);
    }
    // the operator's side: approving a request decided already
    const decided = await w.central.registration.submit(await w.request(vpcp, { type: 'maintenance', maintenance: false }));
    await w.central.registration.approve(decided.id, 'test');
    const twice = await app.inject({ method: 'POST', url: `/api/v1/central/requests/${decided.id}/approve`, headers: admin });
    expect(twice.statusCode).toBe(409);
    if (!viFirst(twice.json().detail)) english.push(`approve twice: ${String(twice.json().detail).slice(0, 120)}`);
    expect(english, 'refusals without Vietnamese first').toEqual([]);
  });

  // ---- the security server's side

  describe('the security server’s client meeting a buggy or hostile central server', () => {
    let https: HttpsServer;
    let url: string;
    let pin: string;
    let answer: { status: number; body: string } = { status: 200, body: '{}' };

    beforeAll(async () => {
      const dir = tmp('truc-probe-tls-');
      const key = join(dir, 'c.key');
      const cert = join(dir, 'c.pem');
      openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=central', '-addext', 'subjectAltName=IP:127.0.0.1']);
      pin = sha256Hex(new X509Certificate(readFileSync(cert)).raw);
      https = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(answer.status, { 'content-type': 'application/json' });
          res.end(answer.body);
        });
      });
      await new Promise<void>((r) => https.listen(0, '127.0.0.1', () => r()));
      url = `https://127.0.0.1:${(https.address() as { port: number }).port}/central/register`;
    });
    afterAll(async () => {
      await new Promise<void>((r) => (https ? https.close(() => r()) : r()));
    });

    it('refuses a 2xx answer that is not the request’s id with pending or approved', async () => {
      const req = await w.request(vpcp, { type: 'maintenance', maintenance: false });
      const answers = [
        { status: 200, body: '{"ok":true}' },
        { status: 202, body: JSON.stringify({ id: 'some-other-request', status: 'pending' }) },
        { status: 202, body: JSON.stringify({ id: idOf(req), status: 'rejected' }) },
      ];
      const believed: string[] = [];
      for (const a of answers) {
        answer = a;
        const o = await outcome(submitRegistration(url, pin, req));
        if (o.ok) believed.push(`${a.status} ${a.body} → ${JSON.stringify(o.value)}`);
      }
      expect(believed, 'answers taken as success').toEqual([]);
    });
  });
});
