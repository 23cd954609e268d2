/**
 * The exchange's management APIs probed as their users expect them to behave (X-Road's security server
 * admin API, EJBCA, step-ca): the security server's (/api/v1/exchange), the central server's
 * (/api/v1/central) and the document desk's (/api/v1/doc). For every route: no credentials → 401 and a
 * role without the permission → 403, as problem documents, nothing changed; every change, and every
 * change refused to an authenticated caller, audited under the principal's name; bad input (wrong JSON
 * types, unknown members, invalid identifiers, bad certificates, duplicates, deleting what is not there,
 * bad limits and dates, wrong content types, oversized bodies) answered 4xx with a problem document in
 * Vietnamese with English beside it, never a 500, never half done; the same kind of error the same status
 * on every route. One axis (Văn phòng Chính phủ's security server, the central server) and one desk.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { createPrivateKey, randomUUID, sign as nodeSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp, routeTable } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { DEMO_AGENCIES } from '../../src/exchange/axis.js';
import { DocumentDesk } from '../../src/exchange/edoc/desk.js';
import { listCas } from '../../src/pki/index.js';
import { toPem } from '../../src/asn1/der.js';
import type { Db } from '../../src/store/index.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import { startTestAxis, type TestAxis } from './server/setup.js';

const SS = 'ss-vpcp';
const SSURL = `/api/v1/exchange/servers/${SS}`;
const OWN = 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu';
const TEST_CLIENT = 'SUBSYSTEM:VN/GOV/000.00.00.G22/thu-nghiem';
const TEST_SERVICE = 'SERVICE:VN/GOV/000.00.00.G22/thu-nghiem/bao-cao';
const NOT_A_CLIENT = 'SUBSYSTEM:VN/GOV/000.00.00.G22/khong-phai-khach';
const YAML = 'openapi: 3.0.3\ninfo: { title: Báo cáo, version: "1" }\npaths:\n  /:\n    get: { responses: { "200": { description: ok } } }\n';

let t: TestAxis;
let app: FastifyInstance;
let desk: DocumentDesk;
let deskDb: Db;
let rootPem: string;
const tok: Record<'ss' | 'central' | 'auditor' | 'clerk' | 'signer', string> = {} as never;
const NAMES = { ss: 'Quản trị máy chủ', central: 'Quản trị trung tâm', auditor: 'Kiểm toán viên', clerk: 'Văn thư', signer: 'Người ký' } as const;

type Res = LightMyRequestResponse;
async function call(method: string, url: string, who?: keyof typeof tok | null, payload?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  return app.inject({
    method: method as never,
    url,
    headers: { ...(who ? { authorization: `Bearer ${tok[who]}` } : {}), ...headers },
    ...(payload !== undefined ? { payload: payload as never } : {}),
  });
}
const isProblem = (r: Res) => String(r.headers['content-type']).includes('application/problem+json') && r.json().status === r.statusCode;
/** Vietnamese (a letter only Vietnamese writes) with English beside it */
const VI = /[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]/i;
const bilingual = (s: unknown) => typeof s === 'string' && VI.test(s) && /\b(the|is|not|no|a|an|of|must|cannot|only|at)\b/i.test(s);
const what = (r: Res) => `${r.statusCode} ${r.body.slice(0, 300)}`;

async function auditHead(db: Db): Promise<number> {
  return Number((await db.query<{ s: string }>('SELECT coalesce(max(seq), 0) AS s FROM audit_log'))[0]!.s);
}
async function auditSince(db: Db, seq: number) {
  return db.query<{ actor: string; action: string; target: string; outcome: string; detail: Record<string, unknown> }>('SELECT actor, action, target, outcome, detail FROM audit_log WHERE seq > $1 ORDER BY seq', [seq]);
}

/** What the management APIs show: compared before and after refused calls (nothing may change). */
async function everything(): Promise<string> {
  const parts: unknown[] = [];
  for (const url of [`${SSURL}/services`, '/api/v1/central/members', '/api/v1/central/subsystems', '/api/v1/central/servers', '/api/v1/central/groups', '/api/v1/central/cas', '/api/v1/central/tsas', '/api/v1/central/settings', '/api/v1/doc/outbox'])
    parts.push((await call('GET', url, url.startsWith('/api/v1/central') ? 'central' : url.startsWith('/api/v1/doc') ? 'clerk' : 'ss')).json());
  return JSON.stringify(parts);
}

beforeAll(async () => {
  t = await startTestAxis({ agencies: [DEMO_AGENCIES[0]!] });
  // many refusals from one address in a few seconds: the per-source limit is not what is probed here
  (t.p.config.http as { rateLimit?: unknown }).rateLimit = { burst: 1e6, perSecond: 1e6 };
  const cas = await listCas(t.p.db);
  const root = Buffer.from(cas.find((c) => c.id === 'root')!.certificate);
  const issuing = Buffer.from(cas.find((c) => c.id === 'issuing')!.certificate);
  rootPem = toPem('CERTIFICATE', root);
  // Văn phòng Chính phủ's desk, on its security server's database, sending through its security server
  const dir = tmp('truc-mgmt-');
  const { csr, keyPath } = opensslCsr(dir, '/CN=Văn phòng Chính phủ/O=Văn phòng Chính phủ/C=VN/serialNumber=VN\\/GOV\\/000.00.00.G22');
  const issued = await t.p.issuer.issue({ profile: 'agency-signing', csr }, 'ra1');
  const key = createPrivateKey(readFileSync(keyPath));
  deskDb = t.axis.members[0]!.db;
  desk = await DocumentDesk.open({
    db: deskDb,
    bus: t.p.bus,
    dir: join(dir, 'desk'),
    organ: { organId: '000.00.00.G22', organName: 'Văn phòng Chính phủ' },
    client: 'VN/GOV/000.00.00.G22/vanthu',
    ssUrl: t.axis.members[0]!.isUrl,
    signer: { certificate: issued.der, chain: [issuing], scheme: 'ecdsa-sha256', sign: (d: Uint8Array) => nodeSign('sha256', d, { key, dsaEncoding: 'der' }) },
    validation: { trustAnchors: [root], intermediates: [issuing] },
    recipients: () => [{ id: '000.00.00.G09', name: 'Bộ Nội vụ', client: 'VN/GOV/000.00.00.G09/vanthu' }],
    start: false,
  });
  app = await buildApp(t.p, { central: t.axis.central, securityServers: () => t.axis.members.map((m) => m.server), docDesk: desk });
  for (const [k, roles] of [
    ['ss', ['ss-admin']],
    ['central', ['central-admin']],
    ['auditor', ['auditor']],
    ['clerk', ['doc-clerk']],
    ['signer', ['signer']],
  ] as const)
    tok[k] = (await createToken(t.p.db, NAMES[k], [...roles])).token;
}, 120_000);

afterAll(async () => {
  await app?.close();
  await desk?.close();
  await t?.close();
});

// ---------------------------------------------------------------------------------------------------------
describe('authentication and roles on every management route', () => {
  const READ_POSTS = new Set(['POST /api/v1/exchange/servers/:code/diagnose', 'POST /api/v1/exchange/servers/:code/log/verify']);
  const routes = () =>
    routeTable(app)
      .filter((r) => /^\/api\/v1\/(exchange|central|doc)\//.test(r.url) && r.method !== 'HEAD')
      .map((r) => ({ method: r.method, url: r.url, path: r.url.replace(':code', SS).replace(/:[A-Za-z]+/g, 'x'), read: r.method === 'GET' || READ_POSTS.has(`${r.method} ${r.url}`) }));

  it('finds the management routes in the router', () => {
    const all = routes();
    expect(all.filter((r) => r.url.startsWith('/api/v1/exchange')).length).toBeGreaterThanOrEqual(18);
    expect(all.filter((r) => r.url.startsWith('/api/v1/central')).length).toBeGreaterThanOrEqual(25);
    expect(all.filter((r) => r.url.startsWith('/api/v1/doc')).length).toBeGreaterThanOrEqual(14);
  });

  it('no credentials, or an unknown token: 401 problem on every route, nothing changed', async () => {
    const before = await everything();
    const wrong: string[] = [];
    for (const r of routes())
      for (const headers of [{}, { authorization: 'Bearer truc_0123456789abcdef_nothing' }, { authorization: 'Basic YWRtaW46YWRtaW4=' }]) {
        const a = await app.inject({ method: r.method as never, url: r.path, headers: { ...headers, 'content-type': 'application/json' }, payload: '{}' });
        if (a.statusCode !== 401 || !isProblem(a)) wrong.push(`${r.method} ${r.path} ${JSON.stringify(headers)}: ${what(a)}`);
      }
    expect(wrong).toEqual([]);
    expect(await everything()).toBe(before);
  });

  it('a role without the permission: 403 problem on every route (auditor on changes, signer on reads), nothing changed', async () => {
    const before = await everything();
    const wrong: string[] = [];
    for (const r of routes()) {
      const a = await call(r.method, r.path, r.read ? 'signer' : 'auditor', '{}', { 'content-type': 'application/json' });
      if (a.statusCode !== 403 || !isProblem(a) || a.json().code !== 'forbidden') wrong.push(`${r.method} ${r.path}: ${what(a)}`);
    }
    // one administrator's role does not reach another part
    for (const [who, method, path] of [
      ['central', 'POST', `${SSURL}/clients`],
      ['ss', 'POST', '/api/v1/central/members'],
      ['ss', 'POST', '/api/v1/doc/documents'],
      ['clerk', 'PUT', `${SSURL}/services`],
    ] as const) {
      const a = await call(method, path, who, '{}', { 'content-type': 'application/json' });
      if (a.statusCode !== 403) wrong.push(`${who} ${method} ${path}: ${what(a)}`);
    }
    expect(wrong).toEqual([]);
    expect(await everything()).toBe(before);
  });

  it('401 and 403 are worded in Vietnamese with English beside', async () => {
    const none = await call('GET', '/api/v1/central/members', null);
    const role = await call('POST', '/api/v1/central/members', 'auditor', {});
    expect([none.statusCode, bilingual(none.json().detail), role.statusCode, bilingual(role.json().detail)], `${what(none)} / ${what(role)}`).toEqual([401, true, 403, true]);
  });

  it('a refused role is audited under the principal’s name with the permission it lacked', async () => {
    const mark = await auditHead(t.p.db);
    expect((await call('DELETE', '/api/v1/central/cas/root', 'clerk')).statusCode).toBe(403);
    const rows = await auditSince(t.p.db, mark);
    expect(rows).toEqual(expect.arrayContaining([expect.objectContaining({ actor: NAMES.clerk, action: 'central.manage', outcome: 'denied' })]));
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('security server: changes and their audit', () => {
  let sha256 = '';

  it('each change answers as documented and is audited under the principal’s name', async () => {
    const mark = await auditHead(t.p.db);
    const steps: [string, string, unknown, number][] = [
      ['POST', `${SSURL}/clients`, { subsystem: TEST_CLIENT }, 201],
      ['PUT', `${SSURL}/services`, { service: TEST_SERVICE, url: 'http://127.0.0.1:9/bao-cao' }, 200],
      ['POST', `${SSURL}/access`, { service: TEST_SERVICE, subject: OWN, method: 'GET' }, 201],
      ['DELETE', `${SSURL}/access`, { service: TEST_SERVICE, subject: OWN, method: 'GET' }, 200],
      ['PUT', `${SSURL}/clients/connection`, { subsystem: TEST_CLIENT, connection: 'https-noauth' }, 200],
      ['POST', `${SSURL}/is-certs`, { subsystem: TEST_CLIENT, certificate: rootPem }, 201],
    ];
    for (const [method, url, body, status] of steps) {
      const r = await call(method, url, 'ss', body);
      expect(r.statusCode, `${method} ${url}: ${what(r)}`).toBe(status);
      if (url.endsWith('is-certs')) sha256 = r.json().sha256;
    }
    expect((await call('DELETE', `${SSURL}/is-certs`, 'ss', { subsystem: TEST_CLIENT, sha256 })).statusCode).toBe(200);
    expect((await call('PUT', `${SSURL}/services/openapi?service=${encodeURIComponent(TEST_SERVICE)}`, 'ss', YAML, { 'content-type': 'application/yaml' })).statusCode).toBe(200);
    expect((await call('DELETE', `${SSURL}/services/openapi?service=${encodeURIComponent(TEST_SERVICE)}`, 'ss')).statusCode).toBe(200);
    const rows = await auditSince(t.p.db, mark);
    expect(rows.map((r) => [r.actor, r.action, r.outcome])).toEqual(
      ['ss.client.add', 'ss.service.put', 'ss.access.grant', 'ss.access.revoke', 'ss.client.connection', 'ss.is-cert.add', 'ss.is-cert.remove', 'ss.service.describe', 'ss.service.describe'].map((a) => [NAMES.ss, a, 'success']),
    );
  });

  it('a change refused to an authenticated administrator is audited (as the central server and the CA audit theirs)', async () => {
    const mark = await auditHead(t.p.db);
    const r = await call('POST', `${SSURL}/access`, 'ss', { service: 'SERVICE:VN/GOV/000.00.00.G22/vanthu/khong-co', subject: OWN });
    expect(r.statusCode).toBe(404);
    const rows = await auditSince(t.p.db, mark);
    expect(rows, 'no audit record for the refused grant').toEqual(expect.arrayContaining([expect.objectContaining({ actor: NAMES.ss, action: 'ss.access.grant', outcome: 'failure' })]));
  });

  it('adding a client twice is a conflict (409), not a second success and a second audit record', async () => {
    const mark = await auditHead(t.p.db);
    const r = await call('POST', `${SSURL}/clients`, 'ss', { subsystem: TEST_CLIENT });
    expect([r.statusCode, isProblem(r)], what(r)).toEqual([409, true]);
    expect((await auditSince(t.p.db, mark)).filter((x) => x.outcome === 'success')).toEqual([]);
  });

  it('granting the same access right twice is a conflict (409)', async () => {
    const right = { service: TEST_SERVICE, subject: OWN, method: 'POST', path: '/x' };
    expect((await call('POST', `${SSURL}/access`, 'ss', right)).statusCode).toBe(201);
    const again = await call('POST', `${SSURL}/access`, 'ss', right);
    expect([again.statusCode, isProblem(again)], what(again)).toEqual([409, true]);
  });

  it('withdrawing an access right that does not exist: 404; with an invalid identifier: 400', async () => {
    const missing = await call('DELETE', `${SSURL}/access`, 'ss', { service: TEST_SERVICE, subject: OWN, method: 'PUT', path: '/khong-co' });
    expect([missing.statusCode, isProblem(missing)]).toEqual([404, true]);
    const invalid = await call('DELETE', `${SSURL}/access`, 'ss', { service: 'SERVICE:VN/GOV/000.00.00.G22/vanthu', subject: 'không phải định danh' });
    expect([invalid.statusCode, invalid.json().code], what(invalid)).toEqual([400, 'bad_identifier']);
  });

  it('a right stored with an identifier the rules now refuse (a zero-width space) can still be withdrawn, audited', async () => {
    const legacy = { service: TEST_SERVICE, subject: 'SUBSYSTEM:VN/GOV/000.00.00.G22/van\u200bthu', method: '*', path: '*' };
    // stored as an older build stored it, before identifiers with invisible format characters were refused
    await deskDb.query('INSERT INTO xs_access (service, subject, method, path) VALUES ($1, $2, $3, $4)', [legacy.service, legacy.subject, legacy.method, legacy.path]);
    const mark = await auditHead(t.p.db);
    const r = await call('DELETE', `${SSURL}/access`, 'ss', { service: legacy.service, subject: legacy.subject });
    expect(r.statusCode, what(r)).toBe(200);
    expect(await deskDb.query('SELECT 1 FROM xs_access WHERE subject = $1', [legacy.subject])).toEqual([]);
    expect(await auditSince(t.p.db, mark)).toEqual(expect.arrayContaining([expect.objectContaining({ action: 'ss.access.revoke', outcome: 'success' })]));
    // once gone, the same call is what any invalid identifier is: 400
    const again = await call('DELETE', `${SSURL}/access`, 'ss', { service: legacy.service, subject: legacy.subject });
    expect([again.statusCode, again.json().code], what(again)).toEqual([400, 'bad_identifier']);
  });

  it('removing a description that was never registered is 404, not a success audited as a removal', async () => {
    const mark = await auditHead(t.p.db);
    const r = await call('DELETE', `${SSURL}/services/wsdl?service=${encodeURIComponent(TEST_SERVICE)}`, 'ss');
    expect([r.statusCode, isProblem(r)], what(r)).toEqual([404, true]);
    expect((await auditSince(t.p.db, mark)).filter((x) => x.outcome === 'success')).toEqual([]);
  });

  it('an information system certificate for a subsystem that is not a client of this server is refused (404, as a connection for it is)', async () => {
    const before = await everything();
    const conn = await call('PUT', `${SSURL}/clients/connection`, 'ss', { subsystem: NOT_A_CLIENT, connection: 'https' });
    expect(conn.statusCode).toBe(404);
    const cert = await call('POST', `${SSURL}/is-certs`, 'ss', { subsystem: NOT_A_CLIENT, certificate: rootPem });
    expect([cert.statusCode, isProblem(cert)], what(cert)).toEqual([404, true]);
    expect(await everything()).toBe(before);
  });

  it('publishing a service of a subsystem that is not a client: the same status as any other "not a client of this server" (404)', async () => {
    const conn = await call('PUT', `${SSURL}/clients/connection`, 'ss', { subsystem: NOT_A_CLIENT, connection: 'http' });
    const svc = await call('PUT', `${SSURL}/services`, 'ss', { service: `SERVICE:${NOT_A_CLIENT.slice('SUBSYSTEM:'.length)}/x`, url: 'http://127.0.0.1:9/x' });
    expect(svc.statusCode, `connection ${conn.statusCode}, service ${what(svc)}`).toBe(conn.statusCode);
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('security server: bad input', () => {
  it('a member the schema does not know is refused (400), not silently dropped', async () => {
    const before = await everything();
    const r = await call('PUT', `${SSURL}/services`, 'ss', { service: `${TEST_SERVICE}-2`, url: 'http://127.0.0.1:9/x', disabled: true, owner: 'admin' });
    expect([r.statusCode, isProblem(r)], what(r)).toEqual([400, true]);
    expect(await everything()).toBe(before);
  });

  it('wrong JSON types are refused (400), not coerced: a number as a string, a string as a one-element array', async () => {
    const before = await everything();
    const wrong: string[] = [];
    for (const [method, url, body] of [
      ['PUT', `${SSURL}/services`, { service: `${TEST_SERVICE}-3`, url: 'http://127.0.0.1:9/x', timeoutMs: '5000' }],
      ['PUT', `${SSURL}/services`, { service: [`${TEST_SERVICE}-4`], url: 'http://127.0.0.1:9/x' }],
      ['POST', `${SSURL}/clients`, { subsystem: ['SUBSYSTEM:VN/GOV/000.00.00.G22/mang'] }],
      ['POST', `${SSURL}/access`, { service: TEST_SERVICE, subject: OWN, method: 7 }],
    ] as const) {
      const r = await call(method, url, 'ss', body);
      if (r.statusCode !== 400 || !isProblem(r)) wrong.push(`${method} ${url} ${JSON.stringify(body)}: ${what(r)}`);
    }
    expect(wrong).toEqual([]);
    expect(await everything()).toBe(before);
  });

  it('invalid identifiers (traversal, NUL, empty parts, huge, wrong type) are 400 problems, nothing stored', async () => {
    const before = await everything();
    const wrong: string[] = [];
    for (const subsystem of ['SUBSYSTEM:VN/GOV/../../etc', 'SUBSYSTEM:VN/GOV/000.00.00.G22/a\u0000b', 'SUBSYSTEM:VN/GOV//x', 'SUBSYSTEM:VN/GOV/000.00.00.G22', 'MEMBER:VN/GOV/000.00.00.G22', `SUBSYSTEM:VN/GOV/000.00.00.G22/${'x'.repeat(1050)}`, 'SUBSYSTEM:VN/GOV/000.00.00.G22/a b', '']) {
      const r = await call('POST', `${SSURL}/clients`, 'ss', { subsystem });
      if (r.statusCode !== 400 || !isProblem(r)) wrong.push(`${JSON.stringify(subsystem.slice(0, 60))}: ${what(r)}`);
    }
    for (const body of [
      { service: TEST_SERVICE, subject: 'LOCALGROUP:nhom\u0000x' },
      { service: TEST_SERVICE, subject: OWN, path: 'cong-khai' },
      { service: TEST_SERVICE, subject: OWN, path: '/a/***' },
      { service: TEST_SERVICE, subject: OWN, method: 'G ET' },
    ]) {
      const r = await call('POST', `${SSURL}/access`, 'ss', body);
      if (r.statusCode !== 400 || !isProblem(r)) wrong.push(`grant ${JSON.stringify(body)}: ${what(r)}`);
    }
    for (const url of ['file:///etc/passwd', 'javascript:alert(1)', 'không phải URL', 'http://']) {
      const r = await call('PUT', `${SSURL}/services`, 'ss', { service: TEST_SERVICE, url });
      if (r.statusCode !== 400 || !isProblem(r)) wrong.push(`url ${url}: ${what(r)}`);
    }
    expect(wrong).toEqual([]);
    expect(await everything()).toBe(before);
  });

  it('an access right whose path holds a dot segment is refused (requests with one are refused, so it could never match)', async () => {
    const wrong: string[] = [];
    for (const path of ['/cong-khai/../mat', '/cong-khai/./mat', '/cong-khai/%2e%2e/mat']) {
      const r = await call('POST', `${SSURL}/access`, 'ss', { service: TEST_SERVICE, subject: OWN, path });
      if (r.statusCode !== 400 || !isProblem(r)) wrong.push(`${path}: ${what(r)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('certificates that are not certificates are 400 problems: bad PEM, a private key, base64 garbage, text', async () => {
    const wrong: string[] = [];
    for (const certificate of ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----', 'AAAAAAAA', 'đây không phải chứng thư', '']) {
      const r = await call('POST', `${SSURL}/is-certs`, 'ss', { subsystem: TEST_CLIENT, certificate });
      if (r.statusCode !== 400 || !isProblem(r)) wrong.push(`${JSON.stringify(certificate.slice(0, 40))}: ${what(r)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('query strings: invalid limits and dates, unknown parameters are 400 problems', async () => {
    const wrong: string[] = [];
    for (const q of ['limit=-1', 'limit=0', 'limit=1000000000', 'limit=NaN', 'limit=abc', 'limit=1.5', 'from=yesterday', 'from=2026-02-30T00:00:00Z', 'to=2026-01-01', `messageId=${'x'.repeat(300)}`, 'limit=10&limit=20']) {
      const r = await call('GET', `${SSURL}/log?${q}`, 'auditor');
      if (r.statusCode !== 400 || !isProblem(r)) wrong.push(`log?${q.slice(0, 40)}: ${what(r)}`);
    }
    for (const q of ['since=hôm-qua', 'limit=-5', 'limit=99999']) {
      const r = await call('GET', `${SSURL}/operations?${q}`, 'auditor');
      if (r.statusCode !== 400 || !isProblem(r)) wrong.push(`operations?${q}: ${what(r)}`);
    }
    for (const q of ['bodies=maybe']) {
      const r = await call('POST', `${SSURL}/log/verify?${q}`, 'auditor');
      if (r.statusCode !== 400 || !isProblem(r)) wrong.push(`verify?${q}: ${what(r)}`);
    }
    const peer = await call('POST', `${SSURL}/diagnose?peer=${encodeURIComponent('../../etc/passwd')}`, 'auditor');
    if (peer.statusCode !== 400 || !isProblem(peer)) wrong.push(`diagnose?peer: ${what(peer)}`);
    expect(wrong).toEqual([]);
  });

  it('a query parameter the route does not know is refused (400), not dropped', async () => {
    const r = await call('GET', `${SSURL}/log?limit=5&clientt=${encodeURIComponent(OWN)}`, 'auditor');
    expect([r.statusCode, isProblem(r)], what(r)).toEqual([400, true]);
  });

  it('wrong content types and oversized bodies: 4xx problems (413 for the size)', async () => {
    const form = await call('POST', `${SSURL}/clients`, 'ss', `subsystem=${encodeURIComponent(TEST_CLIENT)}`, { 'content-type': 'application/x-www-form-urlencoded' });
    expect([form.statusCode >= 400 && form.statusCode < 500, isProblem(form)], what(form)).toEqual([true, true]);
    const xml = await call('POST', `${SSURL}/clients`, 'ss', '<subsystem/>', { 'content-type': 'application/xml' });
    expect([xml.statusCode >= 400 && xml.statusCode < 500, isProblem(xml)], what(xml)).toEqual([true, true]);
    const none = await call('POST', `${SSURL}/clients`, 'ss');
    expect([none.statusCode, isProblem(none)], what(none)).toEqual([400, true]);
    const big = await call('PUT', `${SSURL}/services`, 'ss', JSON.stringify({ service: TEST_SERVICE, url: `http://127.0.0.1/${'a'.repeat(3 * 1024 * 1024)}` }), { 'content-type': 'application/json' });
    expect([big.statusCode, isProblem(big)], what(big)).toEqual([413, true]);
    const bigYaml = await call('PUT', `${SSURL}/services/openapi?service=${encodeURIComponent(TEST_SERVICE)}`, 'ss', `x: "${'a'.repeat(1100 * 1024)}"`, { 'content-type': 'application/yaml' });
    expect([bigYaml.statusCode, isProblem(bigYaml)], what(bigYaml)).toEqual([413, true]);
    const notOpenApi = await call('PUT', `${SSURL}/services/openapi?service=${encodeURIComponent(TEST_SERVICE)}`, 'ss', 'a: [', { 'content-type': 'application/yaml' });
    expect([notOpenApi.statusCode, isProblem(notOpenApi)], what(notOpenApi)).toEqual([400, true]);
  });

  it('an unknown server code is 404 on every route of /servers/{code}', async () => {
    const wrong: string[] = [];
    const base = '/api/v1/exchange/servers/ss-khong-co';
    for (const [method, path, body] of [
      ['GET', '', undefined],
      ['POST', '/diagnose', undefined],
      ['GET', '/services', undefined],
      ['PUT', '/services', { service: TEST_SERVICE, url: 'http://127.0.0.1:9/x' }],
      ['PUT', `/services/openapi?service=${encodeURIComponent(TEST_SERVICE)}`, YAML],
      ['DELETE', `/services/openapi?service=${encodeURIComponent(TEST_SERVICE)}`, undefined],
      ['POST', '/access', { service: TEST_SERVICE, subject: OWN }],
      ['DELETE', '/access', { service: TEST_SERVICE, subject: OWN }],
      ['POST', '/clients', { subsystem: TEST_CLIENT }],
      ['PUT', '/clients/connection', { subsystem: TEST_CLIENT, connection: 'http' }],
      ['POST', '/is-certs', { subsystem: TEST_CLIENT, certificate: rootPem }],
      ['DELETE', '/is-certs', { subsystem: TEST_CLIENT, sha256: '0'.repeat(64) }],
      ['GET', '/operations', undefined],
      ['GET', '/log', undefined],
      ['POST', '/log/verify', undefined],
      ['GET', '/log/evidence/abc', undefined],
    ] as const) {
      const r = await call(method, `${base}${path}`, 'ss', body, typeof body === 'string' ? { 'content-type': 'application/yaml' } : {});
      if (r.statusCode !== 404 || !isProblem(r) || r.json().code !== 'not_found') wrong.push(`${method} ${path}: ${what(r)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('refusals are worded in Vietnamese with English beside', async () => {
    const wrong: string[] = [];
    const check = (label: string, r: Res) => {
      if (!bilingual(r.json().detail)) wrong.push(`${label} ${r.statusCode}: ${r.json().detail}`);
    };
    check('unknown server', await call('GET', '/api/v1/exchange/servers/ss-khong-co', 'ss'));
    check('no such right', await call('DELETE', `${SSURL}/access`, 'ss', { service: TEST_SERVICE, subject: OWN, method: 'PATCH' }));
    check('bad identifier', await call('POST', `${SSURL}/clients`, 'ss', { subsystem: 'SUBSYSTEM:VN/GOV/a b/c' }));
    check('unknown service', await call('POST', `${SSURL}/access`, 'ss', { service: 'SERVICE:VN/GOV/000.00.00.G22/vanthu/khong-co', subject: OWN }));
    check('not a certificate', await call('POST', `${SSURL}/is-certs`, 'ss', { subsystem: TEST_CLIENT, certificate: 'AAAA' }));
    check('no such certificate', await call('DELETE', `${SSURL}/is-certs`, 'ss', { subsystem: TEST_CLIENT, sha256: '0'.repeat(64) }));
    check('bad url', await call('PUT', `${SSURL}/services`, 'ss', { service: TEST_SERVICE, url: 'ftp://x' }));
    expect(wrong).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('security server: message log', () => {
  const LONG_ID = `mgmt-${'x'.repeat(140)}`;
  let logged = false;

  it('an exchange with a 145-character X-Road-Id (the consumer takes up to 255) is found by a log search, audited', async () => {
    expect((await call('POST', `${SSURL}/access`, 'ss', { service: 'SERVICE:VN/GOV/000.00.00.G22/vanthu/echo', subject: OWN })).statusCode).toBe(201);
    await t.axis.refreshAll();
    const m = t.axis.members[0]!;
    const res = await fetch(`${m.isUrl}/r1/VN/GOV/000.00.00.G22/vanthu/echo`, { method: 'POST', headers: { 'x-road-client': OWN.slice('SUBSYSTEM:'.length), 'x-road-id': LONG_ID, 'content-type': 'text/plain' }, body: 'xin chào' });
    expect(res.status, await res.text()).toBe(200);
    const mark = await auditHead(t.p.db);
    let rows: { messageId: string }[] = [];
    // the log's index is written in batches: polled up to a minute, for a busy machine
    for (const end = Date.now() + 60_000; Date.now() < end && !rows.length; ) {
      rows = (await call('GET', `${SSURL}/log?messageId=${LONG_ID}`, 'auditor')).json();
      if (!rows.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows.length).toBeGreaterThan(0);
    logged = true;
    expect((await auditSince(t.p.db, mark)).map((r) => [r.actor, r.action])).toContainEqual([NAMES.auditor, 'ss.log.search']);
  });

  it('the evidence of that message can be downloaded (the route’s schema allows 255 characters), audited', async () => {
    expect(logged).toBe(true);
    const mark = await auditHead(t.p.db);
    const r = await call('GET', `${SSURL}/log/evidence/${LONG_ID}`, 'auditor');
    expect([r.statusCode, r.headers['content-type']], what(r)).toEqual([200, 'application/vnd.etsi.asic-e+zip']);
    expect((await auditSince(t.p.db, mark)).map((x) => [x.actor, x.action])).toContainEqual([NAMES.auditor, 'ss.log.evidence']);
  });

  it('searching operational records (who called what, when, message ids) is audited like a message log search', async () => {
    const mark = await auditHead(t.p.db);
    const r = await call('GET', `${SSURL}/operations?limit=5`, 'auditor');
    expect(r.statusCode, what(r)).toBe(200);
    expect((await auditSince(t.p.db, mark)).map((x) => [x.actor, x.action.startsWith('ss.')])).toContainEqual([NAMES.auditor, true]);
  });

  it('evidence of an unknown message: 404 problem; NUL or traversal in the id: 4xx problem, never 500', async () => {
    const unknown = await call('GET', `${SSURL}/log/evidence/khong-co-${randomUUID()}`, 'auditor');
    expect([unknown.statusCode, isProblem(unknown)], what(unknown)).toEqual([404, true]);
    const nul = await call('GET', `${SSURL}/log/evidence/a%00b`, 'auditor');
    expect(nul.statusCode >= 400 && nul.statusCode < 500 && isProblem(nul), what(nul)).toBe(true);
    const traversal = await call('GET', `${SSURL}/log/evidence/..%2F..%2Fetc%2Fpasswd`, 'auditor');
    expect([traversal.statusCode, isProblem(traversal)], what(traversal)).toEqual([404, true]);
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('refusals made by the router itself', () => {
  it('a path parameter over the router’s length, or malformed percent-encoding, is answered with a problem document', async () => {
    const wrong: string[] = [];
    for (const [url, who] of [
      [`/api/v1/central/requests/${'a'.repeat(150)}`, 'central'],
      [`/api/v1/central/requests/${'a'.repeat(150)}`, null],
      [`${SSURL}/log/evidence/${'m'.repeat(150)}`, 'auditor'],
      [`/api/v1/exchange/servers/${'s'.repeat(150)}/services`, 'ss'],
      ['/api/v1/central/requests/%E0%A4%A', 'central'],
      ['/api/v1/doc/documents/%zz', 'clerk'],
    ] as const) {
      const r = await call('GET', url, who);
      if (r.statusCode < 400 || r.statusCode >= 500 || !isProblem(r)) wrong.push(`${url.slice(0, 60)}…: ${r.statusCode} ${r.headers['content-type']} ${r.body.slice(0, 120)}`);
    }
    expect(wrong).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('central server: changes, refusals and their audit', () => {
  it('a member registered and registered again: 201 then 409, both audited under the principal’s name', async () => {
    const mark = await auditHead(t.p.db);
    const body = { memberClass: 'COM', memberCode: '0101234567', name: 'Công ty Thử nghiệm' };
    expect((await call('POST', '/api/v1/central/members', 'central', body)).statusCode).toBe(201);
    const again = await call('POST', '/api/v1/central/members', 'central', body);
    expect([again.statusCode, isProblem(again)]).toEqual([409, true]);
    expect((await auditSince(t.p.db, mark)).map((r) => [r.actor, r.action, r.outcome])).toEqual([
      [NAMES.central, 'central.member.add', 'success'],
      [NAMES.central, 'central.member.add', 'failure'],
    ]);
  });

  it('a change refused before the registry sees it (certificate not PEM/base64) is audited too', async () => {
    const mark = await auditHead(t.p.db);
    const r = await call('POST', '/api/v1/central/cas', 'central', { name: 'ca-xau', certificate: '%%% không phải PEM %%%', ocspUrls: ['http://127.0.0.1/ocsp'] });
    expect([r.statusCode, r.json().code]).toEqual([400, 'malformed_pem']);
    expect(await auditSince(t.p.db, mark), 'no audit record for the refused CA approval').toEqual(expect.arrayContaining([expect.objectContaining({ actor: NAMES.central, action: 'central.ca.approve', outcome: 'failure' })]));
  });

  it('a change refused by the schema is audited, as the CA routes audit theirs', async () => {
    const mark = await auditHead(t.p.db);
    const r = await call('POST', '/api/v1/central/members', 'central', { memberClass: 'GOV', memberCode: 'x'.repeat(300), name: 'Quá dài' });
    expect(r.statusCode).toBe(400);
    expect(await auditSince(t.p.db, mark), 'no audit record for the refused member').toEqual(expect.arrayContaining([expect.objectContaining({ actor: NAMES.central, outcome: 'failure' })]));
  });

  it('wrong JSON types are refused (400), not coerced into strings', async () => {
    const before = await everything();
    const wrong: string[] = [];
    for (const [method, url, body] of [
      ['POST', '/api/v1/central/members', { memberClass: 'GOV', memberCode: 123456, name: 'Số' }],
      ['POST', '/api/v1/central/members', { memberClass: 'GOV', memberCode: 'so-hoc', name: true }],
      ['POST', '/api/v1/central/members', { memberClass: ['GOV'], memberCode: 'mang', name: 'Mảng' }],
      ['POST', '/api/v1/central/groups', { code: 42, description: 'Nhóm số' }],
      ['POST', '/api/v1/central/tsas', { name: 'tsa-sai', url: 'http://127.0.0.1/tsa', certificate: ['AAAA'] }],
      ['POST', '/api/v1/central/cas', { name: 'ca-sai', certificate: rootPem, ocspUrls: 'http://127.0.0.1/ocsp' }],
    ] as const) {
      const r = await call(method, url, 'central', body);
      if (r.statusCode !== 400 || !isProblem(r)) wrong.push(`${method} ${url} ${JSON.stringify(body).slice(0, 120)}: ${what(r)}`);
    }
    expect(wrong).toEqual([]);
    expect(await everything()).toBe(before);
  });

  it('unknown members, missing fields, huge strings, bad identifiers: 400 problems, nothing stored', async () => {
    const before = await everything();
    const wrong: string[] = [];
    for (const body of [
      { memberClass: 'GOV', memberCode: 'thieu-ten' },
      { memberClass: 'GOV', memberCode: 'thua', name: 'Thừa', extra: 1 },
      { memberClass: 'GOV', memberCode: '../../etc', name: 'Đi ngược' },
      { memberClass: 'GOV', memberCode: 'a\u0000b', name: 'NUL' },
      { memberClass: 'GOV', memberCode: 'a b', name: 'Trắng' },
      { memberClass: 'GOV', memberCode: 'ten-dai', name: 'x'.repeat(10_000) },
      { memberClass: 'GOV', memberCode: 'ten-nul', name: 'a\u0000b' },
      { memberClass: 'XYZ', memberCode: 'lop-la', name: 'Lớp lạ' },
      { memberClass: '', memberCode: 'rong', name: 'Rỗng' },
    ]) {
      const r = await call('POST', '/api/v1/central/members', 'central', body);
      if (r.statusCode !== 400 || !isProblem(r)) wrong.push(`member ${JSON.stringify(body).slice(0, 80)}: ${what(r)}`);
    }
    for (const address of ['http://x', 'a b', '127.0.0.1:99999', '', 'x'.repeat(400)]) {
      const r = await call('POST', '/api/v1/central/servers', 'central', { memberClass: 'GOV', memberCode: '000.00.00.G22', serverCode: 'ss-sai', address });
      if (r.statusCode !== 400 || !isProblem(r)) wrong.push(`address ${address.slice(0, 30)}: ${what(r)}`);
    }
    for (const url of ['javascript:alert(1)', 'không phải URL', 'file:///etc/passwd']) {
      const r = await call('POST', '/api/v1/central/tsas', 'central', { name: 'tsa-sai', url, certificate: rootPem });
      if (r.statusCode !== 400 || !isProblem(r)) wrong.push(`tsa url ${url}: ${what(r)}`);
    }
    expect(wrong).toEqual([]);
    expect(await everything()).toBe(before);
  });

  it('an identifier part holding invisible format characters (a right-to-left override, a zero-width space) is refused', async () => {
    const wrong: string[] = [];
    for (const memberCode of ['000.00.00.G22\u202e', '000.00\u200b.00.G22', '\ufeff000']) {
      const r = await call('POST', '/api/v1/central/members', 'central', { memberClass: 'GOV', memberCode, name: 'Giả mạo' });
      if (r.statusCode !== 400) wrong.push(`${JSON.stringify(memberCode)}: ${what(r)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('an identifier part "." or ".." is refused (it cannot travel in an /r1/ path: clients resolve it away)', async () => {
    const wrong: string[] = [];
    for (const [url, body] of [
      ['/api/v1/central/members', { memberClass: 'GOV', memberCode: '..', name: 'Chấm chấm' }],
      ['/api/v1/central/members', { memberClass: 'GOV', memberCode: '.', name: 'Chấm' }],
      ['/api/v1/central/subsystems', { memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: '..' }],
    ] as const) {
      const r = await call('POST', url, 'central', body);
      if (r.statusCode !== 400) wrong.push(`${url} ${JSON.stringify(body)}: ${what(r)}`);
    }
    const client = await call('POST', `${SSURL}/clients`, 'ss', { subsystem: 'SUBSYSTEM:VN/GOV/000.00.00.G22/..' });
    if (client.statusCode !== 400) wrong.push(`ss client …/..: ${what(client)}`);
    expect(wrong).toEqual([]);
  });

  it('certificates: not PEM, not DER, not a CA, a private key: 4xx problems, nothing approved', async () => {
    const before = await everything();
    const wrong: string[] = [];
    for (const certificate of ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', 'AAAAAAAA', '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----', '', 'A'.repeat(40_000)]) {
      for (const [url, body] of [
        ['/api/v1/central/cas', { name: 'ca-xau', certificate, ocspUrls: ['http://127.0.0.1/ocsp'] }],
        ['/api/v1/central/tsas', { name: 'tsa-xau', url: 'http://127.0.0.1/tsa', certificate }],
      ] as const) {
        const r = await call('POST', url, 'central', body);
        if (r.statusCode < 400 || r.statusCode >= 500 || !isProblem(r)) wrong.push(`${url} ${JSON.stringify(certificate.slice(0, 30))}: ${what(r)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(await everything()).toBe(before);
  });

  it('deleting what does not exist is 404 everywhere; an invalid identifier in the path is 400', async () => {
    const wrong: string[] = [];
    for (const path of ['/servers/GOV/000.00.00.G22/ss-khong-co', '/cas/ca-khong-co', '/tsas/tsa-khong-co', '/groups/nhom-khong-co/members/GOV/000.00.00.G22/vanthu']) {
      const r = await call('DELETE', `/api/v1/central${path}`, 'central');
      if (r.statusCode !== 404 || !isProblem(r)) wrong.push(`DELETE ${path}: ${what(r)}`);
    }
    for (const path of ['/servers/GOV/a%00b/ss', '/cas/a%2Fb', '/servers/GOV/..%2F..%2Fx/ss']) {
      const r = await call('DELETE', `/api/v1/central${path}`, 'central');
      if (r.statusCode !== 400 || !isProblem(r)) wrong.push(`DELETE ${path}: ${what(r)}`);
    }
    for (const [method, path] of [['GET', '/requests/khong-co'], ['POST', '/requests/khong-co/approve'], ['POST', `/requests/${randomUUID()}/reject`]] as const) {
      const r = await call(method, `/api/v1/central${path}`, 'central', method === 'POST' ? {} : undefined);
      if (r.statusCode !== 404 || !isProblem(r)) wrong.push(`${method} ${path}: ${what(r)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('unknown member or group on creation: 404; duplicate group: 409', async () => {
    const sub = await call('POST', '/api/v1/central/subsystems', 'central', { memberClass: 'GOV', memberCode: 'khong-co', subsystemCode: 'x' });
    expect([sub.statusCode, sub.json().code]).toEqual([404, 'unknown_member']);
    const srv = await call('POST', '/api/v1/central/servers', 'central', { memberClass: 'GOV', memberCode: 'khong-co', serverCode: 'ss', address: '127.0.0.1:9' });
    expect(srv.statusCode).toBe(404);
    const gm = await call('POST', '/api/v1/central/groups/nhom-khong-co/members', 'central', { memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: 'vanthu' });
    expect(gm.statusCode).toBe(404);
    expect((await call('POST', '/api/v1/central/groups', 'central', { code: 'nhom-thu', description: 'Nhóm thử' })).statusCode).toBe(201);
    expect((await call('POST', '/api/v1/central/groups', 'central', { code: 'nhom-thu', description: 'Nhóm thử' })).statusCode).toBe(409);
  });

  it('approving a CA or a TSA under a name already approved is a conflict (409), not a silent replacement of the trust anchor', async () => {
    const issuingPem = toPem('CERTIFICATE', Buffer.from((await listCas(t.p.db)).find((c) => c.id === 'issuing')!.certificate));
    const sha = async (kind: 'cas' | 'tsas', name: string) => JSON.stringify(((await call('GET', `/api/v1/central/${kind}`, 'central')).json() as { name: string }[]).find((c) => c.name === name));
    expect((await call('POST', '/api/v1/central/cas', 'central', { name: 'ca-thu', certificate: rootPem, ocspUrls: ['http://127.0.0.1/ocsp'] })).statusCode).toBe(201);
    const caBefore = await sha('cas', 'ca-thu');
    const ca = await call('POST', '/api/v1/central/cas', 'central', { name: 'ca-thu', certificate: issuingPem, ocspUrls: ['http://127.0.0.1/ocsp-khac'] });
    expect((await call('POST', '/api/v1/central/tsas', 'central', { name: 'tsa-thu', url: 'http://127.0.0.1/tsa', certificate: rootPem })).statusCode).toBe(201);
    const tsaBefore = await sha('tsas', 'tsa-thu');
    const tsa = await call('POST', '/api/v1/central/tsas', 'central', { name: 'tsa-thu', url: 'http://127.0.0.1/tsa-khac', certificate: issuingPem });
    expect([ca.statusCode, await sha('cas', 'ca-thu') === caBefore, tsa.statusCode, await sha('tsas', 'tsa-thu') === tsaBefore], `${what(ca)} / ${what(tsa)}`).toEqual([409, true, 409, true]);
  });

  it('approving the same certificate again under its name stands (200), its OCSP URLs brought up to date; the platform’s hierarchy again too', async () => {
    const again = await call('POST', '/api/v1/central/cas', 'central', { name: 'ca-thu', certificate: rootPem, ocspUrls: ['http://127.0.0.1/ocsp'] });
    expect([again.statusCode, again.json()], what(again)).toEqual([200, { name: 'ca-thu', unchanged: true }]);
    const moved = await call('POST', '/api/v1/central/cas', 'central', { name: 'ca-thu', certificate: rootPem, ocspUrls: ['http://127.0.0.1/ocsp-moi'] });
    expect([moved.statusCode, moved.json()], what(moved)).toEqual([200, { name: 'ca-thu', updated: true }]);
    const listed = ((await call('GET', '/api/v1/central/cas', 'central')).json() as { name: string; ocspUrls: string[] }[]).find((c) => c.name === 'ca-thu');
    expect(listed?.ocspUrls).toEqual(['http://127.0.0.1/ocsp-moi']);
    // `truc central serve --approve-platform-ca` approves the platform's hierarchy at every start
    const platform = await call('POST', '/api/v1/central/cas/platform', 'central');
    expect(platform.statusCode, what(platform)).toBe(201);
  });

  it('settings: unknown names, wrong types, out of range — 400, and nothing of a refused batch applied', async () => {
    const before = (await call('GET', '/api/v1/central/settings', 'central')).json();
    const wrong: string[] = [];
    for (const body of [{ nope: 1 }, { refreshSeconds: '30' }, { refreshSeconds: -1 }, { autoApprove: 'yes' }, { refreshSeconds: 30, validitySeconds: 10 }, { centralTlsCertHash: 'xyz' }, [], { memberClasses: [] }]) {
      const r = await call('PATCH', '/api/v1/central/settings', 'central', body);
      if (r.statusCode !== 400 || !isProblem(r)) wrong.push(`${JSON.stringify(body)}: ${what(r)}`);
    }
    expect(wrong).toEqual([]);
    expect((await call('GET', '/api/v1/central/settings', 'central')).json()).toEqual(before);
  });

  it('query strings of /requests: invalid limits and statuses are 400 problems', async () => {
    const wrong: string[] = [];
    for (const q of ['limit=-1', 'limit=0', 'limit=abc', 'limit=1e9', 'status=deleted', 'nope=1']) {
      const r = await call('GET', `/api/v1/central/requests?${q}`, 'central');
      if (r.statusCode !== 400 || !isProblem(r)) wrong.push(`${q}: ${what(r)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('reject’s reason must be a string (400), not coerced', async () => {
    const r = await call('POST', `/api/v1/central/requests/${randomUUID()}/reject`, 'central', { reason: { why: 'đối tượng' } });
    expect([r.statusCode, isProblem(r)], what(r)).toEqual([400, true]);
  });

  it('wrong content types and oversized bodies: 4xx problems', async () => {
    const text = await call('POST', '/api/v1/central/members', 'central', 'memberClass=GOV', { 'content-type': 'text/plain' });
    expect([text.statusCode >= 400 && text.statusCode < 500, isProblem(text)], what(text)).toEqual([true, true]);
    const big = await call('POST', '/api/v1/central/members', 'central', JSON.stringify({ memberClass: 'GOV', memberCode: 'lon', name: 'x'.repeat(3 * 1024 * 1024) }), { 'content-type': 'application/json' });
    expect([big.statusCode, isProblem(big)], what(big)).toEqual([413, true]);
  });

  it('refusals are worded in Vietnamese with English beside', async () => {
    const wrong: string[] = [];
    const check = (label: string, r: Res) => {
      if (!bilingual(r.json().detail)) wrong.push(`${label} ${r.statusCode}: ${r.json().detail}`);
    };
    check('duplicate member', await call('POST', '/api/v1/central/members', 'central', { memberClass: 'GOV', memberCode: '000.00.00.G22', name: 'Văn phòng Chính phủ' }));
    check('unknown member', await call('POST', '/api/v1/central/subsystems', 'central', { memberClass: 'GOV', memberCode: 'khong-co', subsystemCode: 'x' }));
    check('unknown server', await call('DELETE', '/api/v1/central/servers/GOV/000.00.00.G22/ss-khong-co', 'central'));
    check('bad address', await call('POST', '/api/v1/central/servers', 'central', { memberClass: 'GOV', memberCode: '000.00.00.G22', serverCode: 'x', address: 'a b' }));
    check('not PEM', await call('POST', '/api/v1/central/tsas', 'central', { name: 'x', url: 'http://127.0.0.1/tsa', certificate: '%%%' }));
    check('unknown setting', await call('PATCH', '/api/v1/central/settings', 'central', { nope: 1 }));
    check('unknown request', await call('GET', '/api/v1/central/requests/khong-co', 'central'));
    expect(wrong).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('document desk: bad input and audit', () => {
  const good = {
    to: ['000.00.00.G09'],
    code: { number: '77', notation: 'CV-VPCP' },
    promulgation: { place: 'Hà Nội', date: '2026-12-02' },
    documentType: { type: 1, typeName: 'Công văn' },
    subject: 'Thử API quản lý',
    signer: { position: 'Chánh Văn phòng', fullName: 'Đỗ Thị Mai' },
  };
  let sentId = '';

  it('a document sent is audited under the clerk’s name; reading it is audited (doc.read)', async () => {
    const mark = await auditHead(deskDb);
    const r = await call('POST', '/api/v1/doc/documents', 'clerk', good);
    expect(r.statusCode, what(r)).toBe(200);
    sentId = r.json().id;
    expect((await auditSince(deskDb, mark)).map((x) => [x.actor, x.action, x.outcome])).toContainEqual([NAMES.clerk, 'doc.send', 'success']);
    const pmark = await auditHead(t.p.db);
    expect((await call('GET', `/api/v1/doc/documents/${sentId}`, 'auditor')).statusCode).toBe(200);
    expect((await auditSince(t.p.db, pmark)).map((x) => [x.actor, x.action, x.target])).toContainEqual([NAMES.auditor, 'doc.read', sentId]);
  });

  it('reading a document’s recipients is audited, as docs/documents.md says of every /documents/:id read', async () => {
    expect(sentId).not.toBe('');
    const pmark = await auditHead(t.p.db);
    expect((await call('GET', `/api/v1/doc/documents/${sentId}/recipients`, 'auditor')).statusCode).toBe(200);
    expect((await auditSince(t.p.db, pmark)).map((x) => [x.actor, x.action, x.target])).toContainEqual([NAMES.auditor, 'doc.read', sentId]);
  });

  it('a send missing required parts or with wrong types is a 400 problem, never a 500', async () => {
    const wrong: string[] = [];
    const { promulgation: _p, ...noPromulgation } = good;
    const { code: _c, ...noCode } = good;
    for (const [label, body] of [
      ['no promulgation', noPromulgation],
      ['no code', noCode],
      ['subject a number', { ...good, code: { number: '78', notation: 'CV-VPCP' }, subject: 12345 }],
      ['to a string', { ...good, to: '000.00.00.G09' }],
      ['to holds a number', { ...good, to: [9] }],
      ['code a string', { ...good, code: '79/CV-VPCP' }],
      ['date not a date', { ...good, code: { number: '80', notation: 'CV-VPCP' }, promulgation: { place: 'Hà Nội', date: 'hôm qua' } }],
      ['empty object', {}],
      ['an array', []],
      ['attachment not base64', { ...good, code: { number: '81', notation: 'CV-VPCP' }, attachments: [{ name: 'a.txt', data: '%%%' }] }],
      ['attachment traversal', { ...good, code: { number: '82', notation: 'CV-VPCP' }, attachments: [{ name: 'a.txt', upload: '../../etc/passwd' }] }],
    ] as const) {
      const r = await call('POST', '/api/v1/doc/documents', 'clerk', body);
      if (r.statusCode < 400 || r.statusCode >= 500 || !isProblem(r)) wrong.push(`${label}: ${what(r)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('a JSON document sent as a raw body type, and JSON sent to the upload route: 4xx problems, never a 500', async () => {
    const wrong: string[] = [];
    const asStream = await call('POST', '/api/v1/doc/documents', 'clerk', JSON.stringify(good), { 'content-type': 'application/octet-stream' });
    if (asStream.statusCode < 400 || asStream.statusCode >= 500 || !isProblem(asStream)) wrong.push(`documents as octet-stream: ${what(asStream)}`);
    const jsonUpload = await call('POST', '/api/v1/doc/uploads', 'clerk', { data: 'x' });
    if (jsonUpload.statusCode < 400 || jsonUpload.statusCode >= 500 || !isProblem(jsonUpload)) wrong.push(`upload as JSON: ${what(jsonUpload)}`);
    expect(wrong).toEqual([]);
  });

  it('an unknown document is 404 on every /documents/:id route, whatever the id looks like', async () => {
    const wrong: string[] = [];
    for (const id of [randomUUID(), 'khong-co', '..%2F..%2Fetc']) {
      for (const [method, path, body] of [
        ['GET', '', undefined],
        ['GET', '/envelope', undefined],
        ['GET', '/recipients', undefined],
        ['GET', '/attachments/att1', undefined],
        ['POST', '/status', { code: '03' }],
        ['POST', '/ack', undefined],
        ['POST', '/recall', { reason: 'Gửi nhầm' }],
        ['POST', '/update', { reason: 'Sửa', subject: 'Mới' }],
        ['POST', '/replace', { ...good, reason: 'Thay' }],
      ] as const) {
        const r = await call(method, `/api/v1/doc/documents/${id}${path}`, method === 'GET' ? 'auditor' : 'clerk', body);
        if (r.statusCode !== 404 || !isProblem(r)) wrong.push(`${method} ${id}${path}: ${what(r)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('inbox and outbox: invalid limits are 400 problems, not silently replaced', async () => {
    const wrong: string[] = [];
    for (const q of ['limit=-5', 'limit=abc', 'limit=1e12', 'limit=0']) {
      for (const box of ['inbox', 'outbox']) {
        const r = await call('GET', `/api/v1/doc/${box}?${q}`, 'auditor');
        if (r.statusCode !== 400 || !isProblem(r)) wrong.push(`${box}?${q}: ${r.statusCode}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('status, recall and update: bad values are 400 problems, worded in both languages', async () => {
    expect(sentId).not.toBe('');
    const wrong: string[] = [];
    for (const [path, body] of [
      ['/recall', {}],
      ['/recall', { reason: 42 }],
      ['/update', { subject: 'Mới' }],
      ['/update', { reason: ['mảng'] }],
    ] as const) {
      const r = await call('POST', `/api/v1/doc/documents/${sentId}${path}`, 'clerk', body);
      if (r.statusCode !== 400 || !isProblem(r) || !bilingual(r.json().detail)) wrong.push(`${path} ${JSON.stringify(body)}: ${what(r)}`);
    }
    expect(wrong).toEqual([]);
  });
});
