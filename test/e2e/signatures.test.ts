/**
 * The console's signing page in Chromium (issue 20's proof): the document on the server, the key on a
 * SoftHSM2 token behind `truc agent`, the official driving the console. The page finds the agent, the
 * official picks the certificate, two documents (a PDF with a visible seal, a text file) are signed under
 * one approval at B-LT; both validate at once on the page; the PDF is accepted by pdfsig and the CMS by
 * openssl cms. A declined approval is shown as the agent said it, nothing signed; an absent agent is
 * named with the command to start it. The validation page shows a tampered PDF in red.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/http/auth/store.js';
import type { OcspResponder } from '../../src/pki/ocsp/index.js';
import { startAgent, type RunningAgent, type SignRequest } from '../../src/agent/server.js';
import { createSignKey } from '../../src/sign/index.js';
import { openConsoleRig, type ConsoleRig } from './console-rig.js';
import { openLab, samplePdf, type Lab } from '../sign/fixtures.js';
import { softHsmMissing, softHsmToken, type SoftHsmToken } from '../helpers/softhsm.js';
import { tmp } from '../helpers/openssl.js';
import { freePort } from '../helpers/ports.js';
import { officialToken, signingServices, type OfficialToken } from '../agent/fixture.js';

const SHOTS = process.env.TRUC_E2E_SCREENSHOTS ?? '/tmp';
const missing = softHsmMissing();
if (missing) console.warn(`SKIP console signing page tests: ${missing}`);

describe.skipIf(!!missing && process.env.CI !== 'true')('the console’s signing page with truc agent, in Chromium', () => {
  let lab: Lab;
  let hsm: SoftHsmToken;
  let official: OfficialToken;
  let rig: ConsoleRig | undefined;
  let responder: OcspResponder;
  let agent: RunningAgent | undefined;
  let agentPort: number;
  let base: string;
  let page: Page;
  let signerToken: string;
  const dir = tmp('truc-e2e-sign-');
  const asked: SignRequest[] = [];
  let answer: () => { pin: string } | null = () => null;

  const runAgent = async () => {
    agent = await startAgent({
      token: official.token,
      origin: base,
      port: agentPort,
      confirm: async (r) => {
        asked.push(r);
        return answer();
      },
    });
  };

  beforeAll(async () => {
    hsm = softHsmToken();
    lab = await openLab();
    const services = await signingServices(lab);
    const tsa = services.tsa;
    responder = services.responder;
    // the console tells the page where the agent listens, and lets it call there and nowhere else
    agentPort = await freePort();
    lab.p.config.console = { signingAgent: `http://127.0.0.1:${agentPort}` };
    rig = await openConsoleRig({ platform: lab.p, monitor: false, app: { tsa, ocsp: responder }, defaultTimeoutMs: 20_000 });
    ({ base, page } = rig);
    signerToken = (await createToken(lab.p.db, 'Nguyễn Văn An', ['signer'])).token;
    official = await officialToken(lab, hsm);
    await runAgent();
    writeFileSync(join(dir, 'quyet-dinh-12.pdf'), await samplePdf(false, 'Quyet dinh 12/QD-BTP'));
    writeFileSync(join(dir, 'bao-cao.txt'), 'Báo cáo số liệu tháng 12\n');
  }, 180_000);

  afterAll(async () => {
    await agent?.close();
    await rig?.close();
    await responder?.stop();
    await lab?.p.close();
    hsm?.cleanup();
  });

  it('finds the agent, signs a PDF (visible seal) and a text file under one approval at B-LT; both validate at once', async () => {
    await page.goto(`${base}/console/signin`);
    await page.fill('input[name=token]', signerToken);
    await page.click('button[type=submit]');
    await page.locator('[data-testid=whoami]').waitFor();
    await page.goto(`${base}/console/signatures`);
    await page.getByRole('button', { name: /Tìm bộ ký số/ }).click();
    const radio = page.locator(`input[name=certificate][value="${official.certId}"]`);
    await radio.waitFor();
    expect(await radio.isChecked()).toBe(true); // the only usable certificate is chosen
    expect(await page.locator('[data-testid=agent]').textContent()).toMatch(/Nguyễn Văn An/);

    const form = page.locator('[data-testid=sign-form]');
    await form.locator('input[name=documents]').setInputFiles([join(dir, 'quyet-dinh-12.pdf'), join(dir, 'bao-cao.txt')]);
    await form.locator('select[name=level]').selectOption('B-LT');
    await form.locator('input[name=reason]').fill('Phê duyệt');
    await form.locator('input[name=location]').fill('Hà Nội');
    await form.locator('select[name=where]').selectOption('bottom-left');
    await form.locator('[data-testid=seal-preview]').waitFor();
    expect(await form.locator('[data-testid=sign-summary]').textContent()).toMatch(/Ký 2 văn bản[\s\S]*quyet-dinh-12\.pdf, bao-cao\.txt/);
    answer = () => ({ pin: hsm.pin });
    const before = asked.length;
    await form.getByRole('button', { name: /Ký số \(Sign\)/ }).click();
    const items = page.locator('[data-testid=signed-item]');
    await items.nth(1).locator('[data-testid=signature-report]').waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(SHOTS, 'truc-console-signing.png'), fullPage: true });

    // one approval for both, showing the site, the certificate and each title
    expect(asked.length - before).toBe(1);
    expect(asked.at(-1)).toMatchObject({ site: new URL(base).origin, certificate: { id: official.certId }, items: [{ title: 'quyet-dinh-12.pdf' }, { title: 'bao-cao.txt' }] });
    for (const i of [0, 1]) {
      const card = items.nth(i).locator('[data-testid=signature-report]');
      expect(await card.getAttribute('data-indication')).toBe('TOTAL-PASSED');
      expect(await card.textContent()).toMatch(/B-LT[\s\S]*Hợp lệ[\s\S]*Nguyễn Văn An/);
    }

    // what the page offers for download is what pdfsig and openssl accept
    const [pdfDownload] = await Promise.all([page.waitForEvent('download'), items.nth(0).locator('[data-testid=download]').click()]);
    const pdfPath = join(dir, 'signed.pdf');
    await pdfDownload.saveAs(pdfPath);
    expect(pdfDownload.suggestedFilename()).toBe('quyet-dinh-12-signed.pdf');
    const pdfsig = spawnSync('pdfsig', [pdfPath], { encoding: 'utf8' });
    expect(pdfsig.stdout).toMatch(/Signature is Valid/);
    // the reason and place asked for, as the PDF's text strings (UTF-16BE with its byte-order mark)
    const utf16 = (t: string) => `<feff${Buffer.from(t, 'utf16le').swap16().toString('hex')}>`;
    expect(readFileSync(pdfPath, 'latin1')).toContain(`/Reason ${utf16('Phê duyệt')}`);
    expect(readFileSync(pdfPath, 'latin1')).toContain(`/Location ${utf16('Hà Nội')}`);
    const [cmsDownload] = await Promise.all([page.waitForEvent('download'), items.nth(1).locator('[data-testid=download]').click()]);
    const cmsPath = join(dir, 'bao-cao.txt.p7s');
    await cmsDownload.saveAs(cmsPath);
    writeFileSync(join(dir, 'ca.pem'), [lab.root, lab.issuing].map((d) => `-----BEGIN CERTIFICATE-----\n${d.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`).join(''));
    const cms = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', cmsPath, '-content', join(dir, 'bao-cao.txt'), '-CAfile', join(dir, 'ca.pem'), '-purpose', 'any', '-out', '/dev/null'], { encoding: 'utf8' });
    expect(cms.status, cms.stderr).toBe(0);

    // the visible seal is on the page where it was placed: the widget's rectangle is the bottom-left one
    expect(readFileSync(pdfPath, 'latin1')).toMatch(/\/Rect\s*\[\s*40(\.0+)?\s+60(\.0+)?\s+250(\.0+)?\s+130(\.0+)?\s*\]/);
  }, 150_000);

  it('shows the official’s refusal as the agent said it, and signs nothing', async () => {
    answer = () => null;
    const complete = await lab.p.db.query<{ n: number }>(`select count(*)::int as n from audit_log where action = 'sign.complete'`);
    const form = page.locator('[data-testid=sign-form]');
    await form.locator('input[name=documents]').setInputFiles([join(dir, 'bao-cao.txt')]);
    await form.getByRole('button', { name: /Ký số \(Sign\)/ }).click();
    const refused = page.locator('[data-testid=agent-refused]');
    await refused.waitFor();
    expect(await refused.getAttribute('data-code')).toBe('declined');
    expect(await refused.textContent()).toMatch(/người dùng đã từ chối ký/);
    const after = await lab.p.db.query<{ n: number }>(`select count(*)::int as n from audit_log where action = 'sign.complete'`);
    expect(after[0]!.n).toBe(complete[0]!.n);
  }, 60_000);

  it('names an absent agent with the command that starts it', async () => {
    await agent!.close();
    agent = undefined;
    await page.getByRole('button', { name: /Tìm lại/ }).click();
    const problem = page.locator('[data-testid=agent] [role=alert]');
    await problem.waitFor();
    expect(await problem.getAttribute('data-code')).toBe('agent_unreachable');
    expect(await problem.textContent()).toContain(`truc agent --origin ${new URL(base).origin}`);
  }, 60_000);

  it('signs with the key the platform holds for the official: a PDF with its seal, validated at once; pdfsig agrees', async () => {
    await createSignKey(lab.p.db, lab.p.keys, lab.p.issuer, { principal: 'Nguyễn Văn An', subject: 'C=VN, O=Bộ Tư pháp, CN=Nguyễn Văn An', profile: 'official-signing', actor: 'test' });
    await page.goto(`${base}/console/signatures`);
    await page.locator('input[name=source][value=platform]').check();
    expect(await page.locator('[data-testid=agent]').count()).toBe(0); // no agent needed
    const form = page.locator('[data-testid=sign-form]');
    await form.locator('input[name=documents]').setInputFiles([join(dir, 'quyet-dinh-12.pdf')]);
    await form.locator('select[name=level]').selectOption('B-T');
    await form.locator('input[name=reason]').fill('Ban hành');
    await form.locator('select[name=where]').selectOption('top-right');
    await form.getByRole('button', { name: /Ký số \(Sign\)/ }).click();
    const card = page.locator('[data-testid=signed-item] [data-testid=signature-report]');
    await card.waitFor({ timeout: 60_000 });
    expect(await card.getAttribute('data-indication')).toBe('TOTAL-PASSED');
    expect(await card.textContent()).toMatch(/B-T[\s\S]*Nguyễn Văn An/);
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=signed-item] [data-testid=download]').click()]);
    const path = join(dir, 'platform-signed.pdf');
    await download.saveAs(path);
    expect(spawnSync('pdfsig', [path], { encoding: 'utf8' }).stdout).toMatch(/Signature is Valid/);
    expect(readFileSync(path, 'latin1')).toMatch(/\/Rect\s*\[\s*345(\.0+)?\s+712(\.0+)?\s+555(\.0+)?\s+782(\.0+)?\s*\]/);
  }, 90_000);

  it('validates an uploaded file: an altered signed PDF is shown red with the reason', async () => {
    const signed = readFileSync(join(dir, 'signed.pdf'));
    // one byte of the page's (compressed) content changed inside the signed range: the file still reads
    const at = signed.indexOf('stream\n') + 20;
    expect(at).toBeGreaterThan(20);
    const altered = Buffer.from(signed);
    altered[at] = altered[at]! ^ 0xff;
    writeFileSync(join(dir, 'altered.pdf'), altered);
    const form = page.locator('[data-testid=validate-form]');
    await form.locator('input[name=signed]').setInputFiles(join(dir, 'altered.pdf'));
    await form.getByRole('button', { name: /Kiểm tra \(Validate\)/ }).click();
    // the validation page's report comes after the signed documents' own
    const card = page.locator('[data-testid=validation-report] [data-testid=signature-report][data-indication=TOTAL-FAILED]');
    await card.waitFor({ timeout: 30_000 });
    expect(await card.getAttribute('data-indication')).toBe('TOTAL-FAILED');
    expect(await card.textContent()).toMatch(/văn bản đã bị thay đổi sau khi ký[\s\S]*HASH_FAILURE/);
    await page.screenshot({ path: join(SHOTS, 'truc-console-validation.png'), fullPage: true });
  }, 60_000);
});
