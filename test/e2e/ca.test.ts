/**
 * The CA's journeys in the console, in Chromium (issue 18): an RA officer issues a certificate from an
 * uploaded CSR under a profile, reads it decoded (extensions by name), suspends it, releases it and revokes
 * it with a reason; a CA administrator generates a CRL that openssl reads with the serial on it; an auditor
 * reads the audit log with those operations and verifies the chain, without issuing anything. Each step is
 * checked through the API.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { openBrowser } from './browser.js';
import { expectModalDialog } from './console-rig.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';

const SHOTS = process.env.TRUC_E2E_SCREENSHOTS ?? '/tmp';

describe('the CA in the web console, in Chromium', () => {
  let p: TestPlatform;
  let app: FastifyInstance;
  let base: string;
  let context: BrowserContext;
  let page: Page;
  const tokens: Record<string, string> = {};
  const dir = tmp('truc-e2e-ca-');
  let serial = '';
  const cspViolations: string[] = [];

  beforeAll(async () => {
    const build = spawnSync('bash', [join(PROJECT_ROOT, 'scripts', 'build-web.sh')], { encoding: 'utf8', timeout: 120_000 });
    expect(build.status, build.stderr).toBe(0);
    p = await testPlatform('memory://');
    app = await buildApp(p);
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    for (const [name, role] of [
      ['Đỗ Văn Đăng Ký', 'ra-officer'],
      ['Quản trị CA', 'ca-admin'],
      ['Phạm Kiểm Toán', 'auditor'],
    ])
      tokens[role!] = (await createToken(p.db, name!, [role!])).token;
    ({ context, page } = await openBrowser(15_000));
    page.on('console', (msg) => {
      if (/Content[- ]Security[- ]Policy/i.test(msg.text())) cspViolations.push(msg.text());
    });
    page.on('dialog', (d) => void d.accept());
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await app?.close();
    await p?.close();
  });

  const api = async (path: string, token: string) => {
    const r = await app.inject({ method: 'GET', url: path, headers: { authorization: `Bearer ${token}` } });
    expect(r.statusCode, r.body).toBe(200);
    return r.json();
  };

  async function signIn(token: string): Promise<void> {
    await page.evaluate(() => sessionStorage.clear()).catch(() => {});
    await page.goto(`${base}/console/signin`);
    await page.fill('input[name=token]', token);
    await page.click('button[type=submit]');
    await page.locator('[data-testid=whoami]').waitFor();
  }

  it('an RA officer issues from an uploaded CSR, reads it decoded, suspends, releases and revokes it', async () => {
    const { csrPath } = opensslCsr(dir, '/C=VN/O=Bộ Tư pháp/CN=Trần Văn Bình');
    await signIn(tokens['ra-officer']!);
    await page.goto(`${base}/console/certificates`);
    await page.getByRole('button', { name: /Cấp chứng thư từ CSR/ }).click();
    const form = page.locator('[data-testid=issue-form]');
    await form.locator('select[name=profile] option[value=official-signing]').waitFor({ state: 'attached' });
    await form.locator('select[name=profile]').selectOption('official-signing');
    await form.locator('input[name=csrFile]').setInputFiles(csrPath);
    await expect.poll(() => form.locator('textarea[name=csr]').inputValue()).toContain('BEGIN CERTIFICATE REQUEST');
    await form.getByRole('button', { name: /Cấp chứng thư \(Issue\)/ }).click();
    const issued = form.locator('[data-testid=issued]');
    await issued.waitFor();
    serial = (await issued.locator('.mono').textContent())!.trim();
    expect(await issued.textContent()).toMatch(/Trần Văn Bình/);
    expect((await api(`/api/v1/certificates/${serial}`, tokens['ra-officer']!)).profile).toBe('official-signing');

    // the list shows it (the search moved to its serial); opened, it is decoded with extensions by name
    const row = page.locator(`[data-testid=certificates-table] tr[data-serial="${serial}"]`);
    await row.click();
    const ext = page.locator('[data-testid=extensions-table]');
    await ext.waitFor();
    const keyUsage = ext.locator('tr[data-oid="2.5.29.15"]');
    expect(await keyUsage.textContent()).toMatch(/Mục đích dùng khoá[\s\S]*Key Usage[\s\S]*thiết yếu[\s\S]*ký số \(digitalSignature\)/);
    expect(await ext.locator('tr[data-oid="2.5.29.19"]').textContent()).toMatch(/CA: không/);
    expect(await ext.locator('tr[data-oid="1.3.6.1.5.5.7.1.1"]').textContent()).toMatch(/OCSP: http/);
    expect(await page.locator('[data-testid=certificate-detail]').textContent()).toMatch(/ECDSA with SHA-256[\s\S]*EC prime256v1|EC prime256v1[\s\S]*ECDSA with SHA-256/);
    await page.screenshot({ path: join(SHOTS, 'truc-console-ca-certificate.png'), fullPage: true });

    // suspend (hold), then release, then revoke for good
    const actions = page.locator('[data-testid=certificate-actions]');
    await actions.locator('select[name=reason]').selectOption('certificateHold');
    // the confirmation is a modal dialog: focus kept in it, Escape closes it (nothing done), focus back on the button
    await expectModalDialog(page, actions.getByRole('button', { name: /Tạm dừng \(Suspend\)/ }), 'revoke-dialog');
    expect((await api(`/api/v1/certificates/${serial}`, tokens['ra-officer']!)).status).toBe('good');
    await actions.getByRole('button', { name: /Tạm dừng \(Suspend\)/ }).click();
    await page.getByTestId('revoke-dialog').getByRole('button', { name: /Xác nhận tạm dừng/ }).click();
    await row.locator('[data-status=hold]').waitFor();
    expect((await api(`/api/v1/certificates/${serial}`, tokens['ra-officer']!)).status).toBe('hold');
    await actions.getByRole('button', { name: /Khôi phục/ }).click();
    await row.locator('[data-status=good]').waitFor();
    expect((await api(`/api/v1/certificates/${serial}`, tokens['ra-officer']!)).status).toBe('good');
    await actions.locator('select[name=reason]').selectOption('keyCompromise');
    await expectModalDialog(page, actions.getByRole('button', { name: /Thu hồi \(Revoke\)/ }), 'revoke-dialog');
    await actions.getByRole('button', { name: /Thu hồi \(Revoke\)/ }).click();
    expect(await page.getByTestId('revoke-dialog').textContent()).toMatch(/Không thể hoàn tác/);
    await page.getByTestId('revoke-dialog').getByRole('button', { name: /Xác nhận thu hồi/ }).click();
    await row.locator('[data-status=revoked]').waitFor();
    const revoked = await api(`/api/v1/certificates/${serial}`, tokens['ra-officer']!);
    expect([revoked.status, revoked.reason]).toEqual(['revoked', 'keyCompromise']);
    expect(await page.locator('[data-testid=certificate-actions]').count()).toBe(0); // nothing left to do
  }, 90_000);

  it('a CA administrator generates a CRL; openssl reads it with the revoked serial', async () => {
    await signIn(tokens['ca-admin']!);
    await page.goto(`${base}/console/certificates`);
    const list = page.locator('[data-testid=ca-list]');
    await list.locator('summary').click();
    const issuing = list.locator('tr[data-ca=issuing]');
    await issuing.getByRole('button', { name: /Phát hành CRL ngay/ }).click();
    const done = page.locator('[data-testid=crl-generated]');
    await done.waitFor();
    expect(await done.textContent()).toMatch(/của issuing: 1 chứng thư bị thu hồi[\s\S]*\(CRL number \d+ of issuing: 1 entries/);
    const crl = await app.inject({ method: 'GET', url: '/pki/crl/issuing.crl' });
    writeFileSync(join(dir, 'issuing.crl'), crl.rawPayload);
    const text = spawnSync('openssl', ['crl', '-inform', 'DER', '-in', join(dir, 'issuing.crl'), '-noout', '-text'], { encoding: 'utf8' });
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout.replace(/:/g, '').toLowerCase()).toContain(serial.toLowerCase().replace(/^0+/, ''));
    expect(text.stdout).toMatch(/Key Compromise/);
    // a CA administrator revokes but does not issue
    expect(await page.getByRole('button', { name: /Cấp chứng thư từ CSR/ }).count()).toBe(0);
  }, 60_000);

  it('an auditor reads the audit log with those operations and verifies the chain; issues nothing', async () => {
    await signIn(tokens.auditor!);
    await page.goto(`${base}/console/audit?action=ca.revoke`);
    const table = page.locator('[data-testid=audit-table]');
    await table.waitFor();
    const rows = table.locator('tbody tr[data-seq]');
    await expect.poll(() => rows.count()).toBe(2); // the hold and the revocation
    expect(await rows.first().textContent()).toMatch(/Đỗ Văn Đăng Ký[\s\S]*ca\.revoke[\s\S]*thành công/);
    await rows.first().click();
    expect(await page.locator('pre.json').first().textContent()).toContain('certificateHold');
    await page.getByRole('button', { name: /Kiểm tra chuỗi băm/ }).click();
    const verdict = page.locator('[data-testid=audit-verify] [data-ok]');
    await verdict.waitFor();
    expect(await verdict.getAttribute('data-ok')).toBe('true');
    expect(await verdict.textContent()).toMatch(/Nguyên vẹn/);
    await page.screenshot({ path: join(SHOTS, 'truc-console-audit.png'), fullPage: true });
    // and the verification is itself audited
    const verifies = await api('/api/v1/audit?action=audit.verify', tokens.auditor!);
    expect(verifies.items.length).toBeGreaterThan(0);
    await page.goto(`${base}/console/certificates`);
    await page.locator('[data-testid=certificates-table]').waitFor();
    expect(await page.getByRole('button', { name: /Cấp chứng thư từ CSR/ }).count()).toBe(0);
    expect(await page.locator('[data-testid=ca-list] button').count()).toBe(0);
    expect(cspViolations).toEqual([]);
  }, 60_000);
});
