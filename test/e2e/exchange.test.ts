/**
 * The console's exchange pages in a real browser (Debian's Chromium driven by playwright-core) against a
 * real axis: CA, OCSP responder and TSA on loopback, the central server and the three demonstration
 * agencies' security servers (test/exchange/server/setup.ts). What is done in the console is checked
 * through the API and through the axis itself: an approved registration is approved at the central server,
 * and a call refused for want of an access right passes once the right is granted in the console.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { openssl, tmp } from '../helpers/openssl.js';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { openBrowser } from './browser.js';
import { expectModalDialog } from './console-rig.js';
import { X509Certificate } from 'node:crypto';
import { issueKey } from '../exchange/central/fixture.js';
import { encryptionCertOcsp } from '../../src/exchange/axis.js';
import { encryptionCertRequest } from '../../src/exchange/conf/registration-request.js';
import { sha256Hex } from '../../src/exchange/conf/signed.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { CLIENT_VPCP, startTestAxis, type TestAxis } from '../exchange/server/setup.js';

const SHOTS = process.env.TRUC_E2E_SCREENSHOTS ?? '/tmp';
const HCM_SUBSYSTEM = 'VN/PROV/000.00.31.H29/vanthu';
const NEW_SERVICE = `SERVICE:${HCM_SUBSYSTEM}/bao-cao`;

type Json = any;

describe('exchange pages of the web console in Chromium', () => {
  let t: TestAxis;
  let app: FastifyInstance;
  let base: string;
  let context: BrowserContext;
  let page: Page;
  const tokens: Record<string, string> = {};
  const cspViolations: string[] = [];

  beforeAll(async () => {
    const build = spawnSync('bash', [join(PROJECT_ROOT, 'scripts', 'build-web.sh')], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(build.status, build.stderr).toBe(0);

    t = await startTestAxis();
    // the console's platform: the same central server and the axis's three security servers
    app = await buildApp(t.p, { central: t.axis.central, securityServers: () => t.axis.members.map((m) => m.server) });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    for (const [name, roles] of [
      ['Trần Quản Trị', ['central-admin', 'ss-admin']],
      ['Phạm Kiểm Toán', ['auditor']],
    ] as const)
      tokens[roles[0]] = (await createToken(t.p.db, name, [...roles])).token;

    ({ context, page } = await openBrowser(15_000));
    page.on('console', (msg) => {
      if (/Content[- ]Security[- ]Policy/i.test(msg.text())) cspViolations.push(msg.text());
    });
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await app?.close();
    await t?.close();
  });

  async function call(method: string, path: string, token: string, body?: unknown): Promise<Json> {
    const r = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  /** a call through the axis: Văn phòng Chính phủ's information system asks its security server */
  async function throughAxis(path: string): Promise<{ status: number; error: string | null; body: string }> {
    const m = t.axis.members[0]!;
    const r = await fetch(`${m.isUrl}/r1/${HCM_SUBSYSTEM}/${path}`, { headers: { 'x-road-client': CLIENT_VPCP } });
    return { status: r.status, error: r.headers.get('x-road-error'), body: await r.text() };
  }

  async function signIn(token: string): Promise<void> {
    await page.goto(`${base}/console/signin`);
    await page.fill('input[name=token]', token);
    await page.click('button[type=submit]');
    await page.locator('[data-testid=whoami]').waitFor();
  }

  it('signs in and shows the three demonstration servers with their state, in Vietnamese', async () => {
    await signIn(tokens['central-admin']!);
    await page.getByRole('navigation').getByRole('link', { name: 'Trục liên thông' }).click();
    await page.waitForURL(/\/console\/exchange$/);
    const rows = page.locator('[data-testid=exchange-servers] tbody tr[data-server]');
    await rows.first().waitFor();
    expect((await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-server')))).sort()).toEqual(['ss-bnv', 'ss-hcm', 'ss-vpcp']);
    const hcm = page.locator('tr[data-server=ss-hcm]');
    const version = (await call('GET', '/api/v1/central/configuration', tokens['central-admin']!)).version;
    expect(await hcm.locator('[data-testid=conf]').textContent()).toMatch(new RegExp(`Dùng được.*Phiên bản \\(version\\) ${version}Hết hạn.*còn \\d+ giờ`, 's'));
    expect(await hcm.textContent()).toMatch(/PROV\/000\.00\.31\.H29/);
    // the central server's registry: members with their subsystems
    const members = page.locator('[data-testid=exchange-members]');
    await members.getByText('UBND Thành phố Hồ Chí Minh').waitFor();
    expect(await members.textContent()).toMatch(/Văn phòng Chính phủ.*vanthu.*ss-vpcp/s);
    // Vietnamese first, English beside it
    expect(await page.locator('h1').textContent()).toBe('Trục liên thông (Exchange)');
    expect(await page.locator('html').getAttribute('lang')).toMatch(/^vi/);

    // diagnose: the server's own certificates, as OCSP proves them, and the TSA
    await page.click('[data-testid=diagnose-ss-vpcp]');
    const diag = page.locator('[data-testid=diagnosis-ss-vpcp]');
    await diag.getByText('Kết quả chẩn đoán').waitFor({ timeout: 30_000 });
    expect(await diag.textContent()).toMatch(/Chứng thư auth.*tốt \(good\)/s);
    await page.screenshot({ path: join(SHOTS, 'truc-console-exchange.png'), fullPage: true });
  });

  it('approves a pending client registration, which the central server then records', async () => {
    const vpcp = t.axis.members[0]!;
    const req = await t.axis.central.registration.submit(
      await vpcp.server.registrationRequest('client', { client: { memberClass: 'GOV', memberCode: '000.00.00.G22', subsystemCode: 'tiep-nhan' } }),
    );
    expect(req.status).toBe('pending');
    await page.goto(`${base}/console/exchange/requests`);
    const row = page.locator(`tr[data-request="${req.id}"]`);
    await row.waitFor();
    expect(await row.textContent()).toMatch(/GOV\/000\.00\.00\.G22\/tiep-nhan.*Chờ duyệt/s);
    await row.getByRole('button', { name: /Phê duyệt/ }).click();
    // approved: it leaves the pending list
    await row.waitFor({ state: 'detached' });
    const after = await call('GET', `/api/v1/central/requests/${req.id}`, tokens['central-admin']!);
    expect(after).toMatchObject({ status: 'approved', decidedBy: 'Trần Quản Trị' });
    const subsystems = (await call('GET', '/api/v1/central/members', tokens['central-admin']!)).find((m: Json) => m.memberCode === '000.00.00.G22').subsystems;
    expect(subsystems).toContain('tiep-nhan');
  });

  it('rejects a pending registration with a reason', async () => {
    const bnv = t.axis.members[1]!;
    const req = await t.axis.central.registration.submit(
      await bnv.server.registrationRequest('client', { client: { memberClass: 'GOV', memberCode: '000.00.00.G09', subsystemCode: 'thu-nghiem' } }),
    );
    await page.reload();
    const row = page.locator(`tr[data-request="${req.id}"]`);
    // the rejection is a modal dialog: focus kept in it, Escape closes it, focus back on the button
    await expectModalDialog(page, row.getByRole('button', { name: /Từ chối/ }), 'reject-dialog');
    expect((await call('GET', `/api/v1/central/requests/${req.id}`, tokens['central-admin']!)).status).toBe('pending');
    await row.getByRole('button', { name: /Từ chối/ }).click();
    const confirm = page.getByRole('button', { name: /Xác nhận từ chối/ });
    expect(await confirm.isDisabled()).toBe(true);
    await page.fill('input[name=reason]', 'Hệ thống con chưa được phê duyệt nội bộ');
    await confirm.click();
    await row.waitFor({ state: 'detached' });
    expect(await call('GET', `/api/v1/central/requests/${req.id}`, tokens['central-admin']!)).toMatchObject({
      status: 'rejected',
      reason: 'Hệ thống con chưa được phê duyệt nội bộ',
    });
  });

  it('shows a pending encryption-certificate registration like the others; approved, the member shows the certificate', async () => {
    const bnv = t.axis.members[1]!;
    const enc = await issueKey(t.p, 'agency-encryption', [
      { type: 'C', value: 'VN' },
      { type: 'O', value: 'Bộ Nội vụ' },
      { type: 'CN', value: 'Bộ Nội vụ (mã hoá)' },
      { type: 'serialNumber', value: 'VN/GOV/000.00.00.G09' },
    ]);
    const serial = new X509Certificate(enc.certificate).serialNumber.toLowerCase();
    const req = await t.axis.central.registration.submit(await encryptionCertRequest(bnv.server, 'encryption-cert', enc.certificate, await encryptionCertOcsp(bnv.server, enc.certificate, t.p.log)));
    expect(req.status).toBe('pending');
    await page.goto(`${base}/console/exchange/requests`);
    const row = page.locator(`tr[data-request="${req.id}"]`);
    await row.waitFor();
    // the type in words, who asked, the member, the certificate's subject, serial, validity and key, when
    const text = (await row.textContent())!;
    expect(text).toMatch(/Đăng ký chứng thư mã hoá \(encryption certificate\)/);
    expect(text).toContain('SERVER:VN/GOV/000.00.00.G09/ss-bnv');
    expect(text).toMatch(/Thành viên \(member\): GOV\/000\.00\.00\.G09/);
    expect(text).toContain('CN=Bộ Nội vụ (mã hoá)');
    expect(text).toContain(serial);
    expect(text).toMatch(/Hiệu lực \(valid\).*–.*Còn hiệu lực \(valid\)/s);
    expect(text).toMatch(/ec prime256v1/);
    expect(text).toMatch(/Chờ duyệt/);
    await row.getByRole('button', { name: /Phê duyệt/ }).click();
    await row.waitFor({ state: 'detached' });
    expect(await call('GET', `/api/v1/central/requests/${req.id}`, tokens['central-admin']!)).toMatchObject({ status: 'approved', decidedBy: 'Trần Quản Trị' });
    // the exchange page: the member's encryption certificates
    await page.goto(`${base}/console/exchange`);
    const certs = page.locator('[data-testid=exchange-members] tr', { hasText: 'Bộ Nội vụ' }).locator('[data-testid=member-encryption-certs]');
    await certs.locator(`[data-hash="${sha256Hex(enc.certificate)}"]`).waitFor();
    expect(await certs.textContent()).toMatch(new RegExp(`Bộ Nội vụ \\(mã hoá\\)[\\s\\S]*${serial}[\\s\\S]*ec prime256v1[\\s\\S]*Đăng ký lúc \\(registered\\)`));
    // the auditor reads them too
    const listed = await call('GET', '/api/v1/central/encryption-certs?memberClass=GOV&memberCode=000.00.00.G09', tokens['auditor']!);
    expect(listed.map((c: Json) => c.serial)).toContain(serial);
  });

  it('sets a client’s connection type and registers an information system’s TLS certificate through the API, audited; the console shows it', async () => {
    const client = `SUBSYSTEM:${CLIENT_VPCP}`;
    const dir = tmp('is-cert-');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=he-thong-van-thu', '-days', '2', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')]);
    const pem = readFileSync(join(dir, 'c.pem'), 'utf8');
    const admin = tokens['central-admin']!;
    // an auditor may look, not change
    const denied = await fetch(`${base}/api/v1/exchange/servers/ss-vpcp/clients/connection`, { method: 'PUT', headers: { authorization: `Bearer ${tokens['auditor']!}`, 'content-type': 'application/json' }, body: JSON.stringify({ subsystem: client, connection: 'https' }) });
    expect(denied.status).toBe(403);
    const { sha256 } = await call('POST', '/api/v1/exchange/servers/ss-vpcp/is-certs', admin, { subsystem: client, certificate: pem });
    expect(sha256).toMatch(/^[0-9a-f]{64}$/);
    await call('PUT', '/api/v1/exchange/servers/ss-vpcp/clients/connection', admin, { subsystem: client, connection: 'https' });
    const listed = await call('GET', '/api/v1/exchange/servers/ss-vpcp/services', tokens['auditor']!);
    expect(listed.connections[client]).toBe('https');
    expect(listed.isCerts[client]).toEqual([expect.objectContaining({ sha256, subject: 'CN=he-thong-van-thu' })]);
    // in force at once: the plain port refuses this client now
    const refused = await throughAxis('thong-tin');
    expect(refused.error).toBe('Server.ClientProxy.SslAuthenticationFailed');
    await signIn(admin);
    await page.goto(`${base}/console/exchange/servers/ss-vpcp`);
    await page.locator(`[data-client="${client}"]`).getByText(/HTTPS có xác thực chứng thư/).waitFor();
    expect(await page.locator(`[data-client="${client}"]`).textContent()).toMatch(/1 chứng thư TLS/);
    // back to http; the certificate withdrawn; every change audited
    await call('PUT', '/api/v1/exchange/servers/ss-vpcp/clients/connection', admin, { subsystem: client, connection: 'http' });
    await call('DELETE', '/api/v1/exchange/servers/ss-vpcp/is-certs', admin, { subsystem: client, sha256 });
    expect((await throughAxis('thong-tin')).status).toBe(200);
    const bad = await fetch(`${base}/api/v1/exchange/servers/ss-vpcp/clients/connection`, { method: 'PUT', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ subsystem: client, connection: 'ftp' }) });
    expect(bad.status).toBe(400);
    const audit = await t.p.db.query<{ action: string; target: string; outcome: string }>("SELECT action, target, outcome FROM audit_log WHERE action LIKE 'ss.%' AND target = $1 ORDER BY seq", [client]);
    // the refused connection type is audited too, as a failure (src/http/validation.ts)
    expect(audit.map((a) => [a.action, a.outcome])).toEqual([
      ['ss.is-cert.add', 'success'],
      ['ss.client.connection', 'success'],
      ['ss.client.connection', 'success'],
      ['ss.is-cert.remove', 'success'],
      ['ss.client.connection', 'failure'],
    ]);
  });

  it('registers a service’s OpenAPI description through the API, audited; getOpenAPI answers it through the axis; the console shows it', async () => {
    const admin = tokens['central-admin']!;
    const service = 'SERVICE:VN/GOV/000.00.00.G22/vanthu/thong-tin';
    const yaml = 'openapi: 3.0.3\ninfo: { title: Thông tin cơ quan, version: "1" }\npaths:\n  /:\n    get: { responses: { "200": { description: ok } } }\n';
    const put = (token: string, body: string, type = 'application/yaml') =>
      fetch(`${base}/api/v1/exchange/servers/ss-vpcp/services/openapi?service=${encodeURIComponent(service)}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body });
    expect((await put(tokens['auditor']!, yaml)).status).toBe(403);
    const notOpenApi = await put(admin, 'swagger: "2.0"\npaths: {}\n');
    expect([notOpenApi.status, ((await notOpenApi.json()) as Json).code]).toEqual([400, 'bad_request']);
    const ok = await put(admin, yaml);
    expect(ok.status, await ok.clone().text()).toBe(200);
    expect(((await ok.json()) as Json).openapi).toMatchObject({ format: 'yaml', endpoints: [{ method: 'GET', path: '/' }] });
    // the console registers it from a file too (the same document again)
    await signIn(admin);
    await page.goto(`${base}/console/exchange/servers/ss-vpcp`);
    const form = page.locator('[data-testid=openapi-form]');
    await form.locator('select[name=service]').selectOption(service);
    const file = join(tmp('openapi-'), 'thong-tin.yaml');
    writeFileSync(file, yaml);
    await form.locator('input[name=openapi]').setInputFiles(file);
    await form.getByRole('button', { name: /Đăng ký mô tả/ }).click();
    await page.locator(`[data-service="${service}"] [data-testid=service-openapi]`).waitFor();
    const listed = await call('GET', '/api/v1/exchange/servers/ss-vpcp/services', tokens['auditor']!);
    expect(listed.services.find((x: Json) => x.service === service)).toMatchObject({ type: 'OPENAPI', openapi: { title: 'Thông tin cơ quan' } });
    // another agency's information system reads it through the axis (UBND TP.HCM's server asks Văn phòng Chính phủ's)
    const hcm = t.axis.members[2]!;
    const r = await fetch(`${hcm.isUrl}/r1/VN/GOV/000.00.00.G22/vanthu/getOpenAPI?serviceCode=thong-tin`, { headers: { 'x-road-client': 'VN/PROV/000.00.31.H29/vanthu' } });
    expect([r.status, await r.text()]).toEqual([200, yaml]);
    const shown = page.locator(`[data-service="${service}"] [data-testid=service-openapi]`);
    await shown.waitFor();
    expect(await shown.textContent()).toMatch(/OpenAPI “Thông tin cơ quan” 1 · 1 thao tác/);
    // removed from the console: the service is REST again
    await form.getByRole('button', { name: /Gỡ mô tả/ }).click();
    await page.locator(`[data-service="${service}"] [data-testid=service-openapi]`).waitFor({ state: 'detached' });
    expect((await call('GET', '/api/v1/exchange/servers/ss-vpcp/services', tokens['auditor']!)).services.find((x: Json) => x.service === service).type).toBe('REST');
    // a WSDL 1.1 description for a SOAP service, by its own route (XML); the console shows its type
    const wsdl =
      '<wsdl:definitions name="Thông tin cơ quan" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/">' +
      '<wsdl:portType name="p"><wsdl:operation name="thong-tin"/></wsdl:portType>' +
      '<wsdl:service name="s"><wsdl:port name="q" binding="b"><soap:address location="http://10.0.0.9/ws"/></wsdl:port></wsdl:service></wsdl:definitions>';
    const putWsdl = (body: string, type = 'application/xml') =>
      fetch(`${base}/api/v1/exchange/servers/ss-vpcp/services/wsdl?service=${encodeURIComponent(service)}`, { method: 'PUT', headers: { authorization: `Bearer ${admin}`, 'content-type': type }, body });
    expect((await putWsdl(yaml, 'text/xml')).status).toBe(400);
    const yamlAsWsdl = await put(admin, wsdl, 'text/plain');
    expect([yamlAsWsdl.status, ((await yamlAsWsdl.json()) as Json).detail]).toEqual([400, expect.stringMatching(/services\/wsdl/)]);
    const okWsdl = await putWsdl(wsdl);
    expect(okWsdl.status, await okWsdl.clone().text()).toBe(200);
    expect(((await okWsdl.json()) as Json).wsdl).toEqual({ format: 'wsdl', title: 'Thông tin cơ quan', operations: [{ name: 'thong-tin' }] });
    await page.reload();
    const shownWsdl = page.locator(`[data-service="${service}"] [data-testid=service-wsdl]`);
    await shownWsdl.waitFor();
    expect(await shownWsdl.textContent()).toMatch(/WSDL “Thông tin cơ quan” · 1 thao tác/);
    expect((await call('GET', '/api/v1/exchange/servers/ss-vpcp/services', tokens['auditor']!)).services.find((x: Json) => x.service === service)).toMatchObject({ type: 'WSDL' });
    expect((await fetch(`${base}/api/v1/exchange/servers/ss-vpcp/services/wsdl?service=${encodeURIComponent(service)}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } })).status).toBe(200);
    const audit = await t.p.db.query<{ detail: Json; outcome: string }>("SELECT detail, outcome FROM audit_log WHERE action = 'ss.service.describe' AND target = $1 ORDER BY seq", [service]);
    expect(audit.filter((a) => a.outcome === 'success').map((a) => a.detail.removed ?? false)).toEqual([false, false, true, false, true]);
    // the three refused descriptions (Swagger 2.0, YAML to …/wsdl, WSDL to …/openapi) are audited as failures; the auditor's 403 by the guard
    expect(audit.filter((a) => a.outcome === 'failure').map((a) => a.detail.code)).toEqual(['bad_request', 'bad_request', 'bad_request']);
  });

  it('grants an access right in the console — a refused call then passes — and withdraws it', async () => {
    const hcm = t.axis.members[2]!;
    // a new service of UBND TP.HCM that nobody may call yet
    await call('PUT', '/api/v1/exchange/servers/ss-hcm/services', tokens['central-admin']!, { service: NEW_SERVICE, url: hcm.serviceUrl! });
    const refused = await throughAxis('bao-cao/thang-11');
    expect(refused.status).not.toBe(200);
    expect(refused.error).toBe('Server.ServerProxy.AccessDenied');

    await page.goto(`${base}/console/exchange/servers/ss-hcm`);
    const svc = page.locator(`[data-testid=services-table] tr[data-service="${NEW_SERVICE}"]`);
    await svc.getByText('Chưa cấp cho ai').waitFor();
    await page.selectOption('[data-testid=grant-form] select[name=service]', NEW_SERVICE);
    await page.fill('[data-testid=grant-form] input[name=subject]', `SUBSYSTEM:${CLIENT_VPCP}`);
    await page.fill('[data-testid=grant-form] input[name=method]', 'GET');
    await page.getByRole('button', { name: /Cấp quyền \(Grant\)/ }).click();
    const right = svc.locator(`li[data-subject="SUBSYSTEM:${CLIENT_VPCP}"]`);
    await right.waitFor();
    expect(await right.textContent()).toMatch(/GET/);

    const listed = await call('GET', '/api/v1/exchange/servers/ss-hcm/services', tokens['auditor']!);
    expect(listed.services.find((s: Json) => s.service === NEW_SERVICE).access).toEqual([
      { service: NEW_SERVICE, subject: `SUBSYSTEM:${CLIENT_VPCP}`, method: 'GET', path: '*' },
    ]);
    const passed = await throughAxis('bao-cao/thang-11');
    expect(passed.status, passed.body).toBe(200);
    expect(JSON.parse(passed.body)).toMatchObject({ co_quan: 'UBND Thành phố Hồ Chí Minh', ben_goi: CLIENT_VPCP, path: '/thang-11' });

    // withdrawn in the console: refused again
    await right.getByRole('button', { name: /Thu hồi/ }).click();
    await svc.getByText('Chưa cấp cho ai').waitFor();
    expect((await throughAxis('bao-cao/thang-11')).error).toBe('Server.ServerProxy.AccessDenied');
    expect((await call('GET', '/api/v1/exchange/servers/ss-hcm/services', tokens['auditor']!)).services.find((s: Json) => s.service === NEW_SERVICE).access).toEqual([]);
  });

  it('searches the message log by service, and shows a refused search as the API’s problem', async () => {
    await page.goto(`${base}/console/exchange/servers/ss-hcm`);
    await page.fill('[data-testid=log-form] input[name=service]', `SERVICE:${HCM_SUBSYSTEM}/bao-cao`);
    await page.getByRole('button', { name: /Tìm kiếm/ }).click();
    const table = page.locator('[data-testid=log-table]');
    await table.waitFor({ timeout: 20_000 });
    expect(await table.textContent()).toMatch(/provider \/ request/);
    const rows = await call('GET', `/api/v1/exchange/servers/ss-hcm/log?service=${encodeURIComponent(`SERVICE:${HCM_SUBSYSTEM}/bao-cao`)}`, tokens['auditor']!);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows[0].bodyHash).toMatch(/^[0-9a-f]{64}$/);
    // the message's evidence as an ASiC-E container, its bodies decrypted from the log
    const ev = await fetch(`${base}/api/v1/exchange/servers/ss-hcm/log/evidence/${encodeURIComponent(rows[0].messageId)}`, { headers: { authorization: `Bearer ${tokens['auditor']!}` } });
    expect(ev.status).toBe(200);
    expect(ev.headers.get('content-type')).toBe('application/vnd.etsi.asic-e+zip');
    const zip = Buffer.from(await ev.arrayBuffer());
    expect(zip.subarray(0, 2).toString()).toBe('PK');
    expect(zip.includes(Buffer.from('application/vnd.etsi.asic-e+zip'))).toBe(true);
    expect(zip.includes(Buffer.from('header.json'))).toBe(true);
    // sealed by the member's signing key: an ASiC-E with CAdES (the signature over the ASiCManifest)
    expect(zip.includes(Buffer.from('META-INF/ASiCManifest.xml'))).toBe(true);
    expect(zip.includes(Buffer.from('META-INF/signature001.p7s'))).toBe(true);
    // the console's download of the same evidence: openssl checks the seal over the ASiCManifest
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=log-evidence]').first().click()]);
    const evDir = tmp('truc-e2e-evidence-');
    const evPath = join(evDir, 'e.asice');
    await download.saveAs(evPath);
    expect(download.suggestedFilename()).toMatch(/^evidence-.+\.asice$/);
    expect(spawnSync('unzip', ['-q', evPath, '-d', join(evDir, 'x')]).status).toBe(0);
    writeFileSync(join(evDir, 'root.pem'), await (await fetch(`${base}/pki/ca/root.pem`)).text());
    const cms = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', join(evDir, 'x/META-INF/signature001.p7s'), '-content', join(evDir, 'x/META-INF/ASiCManifest.xml'), '-CAfile', join(evDir, 'root.pem'), '-out', '/dev/null'], { encoding: 'utf8' });
    expect(cms.stderr + cms.stdout).toMatch(/Verification successful/);
    const missing = await fetch(`${base}/api/v1/exchange/servers/ss-hcm/log/evidence/khong-co`, { headers: { authorization: `Bearer ${tokens['auditor']!}` } });
    expect(missing.status).toBe(404);

    // an unknown server: the page stays, with the problem
    await page.goto(`${base}/console/exchange/servers/ss-khong-co?service=x`);
    const problem = page.locator('[data-testid=log-result] [role=alert]');
    await problem.waitFor();
    expect(await problem.getAttribute('data-status')).toBe('404');
    expect(await page.locator('h1').textContent()).toMatch(/Máy chủ an ninh ss-khong-co/);
  });

  it('verifies the whole message log from the console (chain, trees, time-stamps, every body decrypted), audited', async () => {
    await page.goto(`${base}/console/exchange/servers/ss-hcm`);
    await page.getByRole('button', { name: /Kiểm tra \(Verify\)/ }).click();
    const box = page.locator('[data-testid=log-verify]');
    await box.waitFor({ timeout: 60_000 });
    expect(await box.textContent()).toMatch(/Nguyên vẹn/);
    const report = await call('POST', '/api/v1/exchange/servers/ss-hcm/log/verify', tokens['auditor']!);
    expect(report.problem).toBeUndefined();
    expect(report.records).toBeGreaterThan(0);
    expect(report.bodies).toBeGreaterThan(0);
    expect(report.incomplete.filter((w: string) => /not decrypted/.test(w))).toEqual([]);
  });

  it('lets an auditor read but not change', async () => {
    await page.getByRole('button', { name: /Đăng xuất/ }).click();
    await signIn(tokens['auditor']!);
    await page.goto(`${base}/console/exchange/servers/ss-hcm`);
    await page.locator('[data-testid=services-table]').waitFor();
    expect(await page.locator('[data-testid=grant-form]').count()).toBe(0);
    expect(await page.getByRole('button', { name: /Thu hồi/ }).count()).toBe(0);
    await page.goto(`${base}/console/exchange/requests?status=all`);
    await page.locator('[data-testid=requests-table]').waitFor();
    expect(await page.getByRole('button', { name: /Phê duyệt/ }).count()).toBe(0);
    expect(cspViolations).toEqual([]);
  });
});
