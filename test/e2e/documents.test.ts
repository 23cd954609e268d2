/**
 * The console's document desk in a real browser (Debian's Chromium driven by playwright-core): three
 * agencies' desks (test/exchange/edoc/fixture.ts, through the stand-in relay), the console serving Bộ Nội
 * vụ's. A decision from Văn phòng Chính phủ is read in the inbox with its verdicts and registered (03) with
 * a button, which the sender then sees; a document sent from the console (files uploaded, recipients
 * picked) reaches Văn phòng Chính phủ; an auditor reads but has no buttons.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/http/auth/store.js';
import { signPdf } from '../../src/sign/index.js';
import { tmp } from '../helpers/openssl.js';
import { samplePdf } from '../sign/fixtures.js';
import { openNetwork, until, type Network, type TestDesk } from '../exchange/edoc/fixture.js';
import { openConsoleRig, type ConsoleRig } from './console-rig.js';

const G22 = '000.00.00.G22';
const G09 = '000.00.00.G09';

describe('the document desk in the web console, in Chromium', () => {
  let net: Network;
  let vpcp: TestDesk, bnv: TestDesk;
  let rig: ConsoleRig | undefined;
  let base: string;
  let page: Page;
  const tokens: Record<string, string> = {};
  let sentId = '';
  let sentPdf: Uint8Array;

  beforeAll(async () => {
    net = await openNetwork();
    [vpcp, bnv] = net.desks as [TestDesk, TestDesk];
    rig = await openConsoleRig({ platform: net.lab.p, monitor: false, app: { docDesk: bnv.desk }, defaultTimeoutMs: 15_000 });
    ({ base, page } = rig);
    tokens.clerk = (await createToken(net.lab.p.db, 'Lê Văn Thư', ['doc-clerk'])).token;
    tokens.auditor = (await createToken(net.lab.p.db, 'Phạm Kiểm Toán', ['auditor'])).token;
    // a signed decision from Văn phòng Chính phủ to Bộ Nội vụ, taken (01) before the browser looks
    const pdf = await signPdf(await samplePdf(true, 'Quyet dinh 88'), vpcp.signer);
    sentPdf = pdf;
    const sent = await vpcp.desk.send(
      {
        to: [G09],
        code: { number: '88', notation: 'QĐ-VPCP' },
        promulgation: { place: 'Hà Nội', date: '2026-12-04' },
        documentType: { type: 2, typeName: 'Quyết định' },
        subject: 'Quyết định số 88 về thí điểm bàn văn thư điện tử',
        signer: { position: 'Phó Chủ nhiệm', fullName: 'Nguyễn Sỹ Hiệp' },
        attachments: [{ name: 'qd-88.pdf', contentType: 'application/pdf', bytes: pdf }],
      },
      'clerk@vpcp',
    );
    sentId = sent.id;
    await until(async () => (await vpcp.desk.recipientStatuses(sent.id)).find((r) => r.organId === G09)?.status === '01', 30_000, '01');
  }, 180_000);

  afterAll(async () => {
    await rig?.close();
    await net?.close();
  });

  async function signIn(token: string): Promise<void> {
    await page.goto(`${base}/console/signin`);
    await page.fill('input[name=token]', token);
    await page.click('button[type=submit]');
    await page.locator('[data-testid=whoami]').waitFor();
  }

  it('shows the received decision with its verdicts, and registers it (03) — the sender sees it', async () => {
    await signIn(tokens.clerk!);
    await page.goto(`${base}/console/documents`);
    const inbox = page.locator('[data-testid=inbox-table]');
    await inbox.waitFor();
    await inbox.getByRole('link', { name: /Quyết định số 88/ }).click();
    await page.locator('[data-testid=doc-header]').waitFor();
    expect(await page.locator('[data-testid=doc-header]').textContent()).toMatch(/88\/QĐ-VPCP[\s\S]*Văn phòng Chính phủ[\s\S]*Nguyễn Sỹ Hiệp/);
    expect(await page.locator('[data-testid=doc-verdict] [data-indication]').getAttribute('data-indication')).toBe('TOTAL-PASSED');
    expect(await page.locator('[data-testid=doc-attachments]').textContent()).toMatch(/qd-88\.pdf[\s\S]*Hợp lệ/);
    // the file downloads under the name the server gives (Content-Disposition), byte for byte as signed
    const [file] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=doc-attachments]').getByRole('button', { name: /Tải về/ }).first().click()]);
    expect(file.suggestedFilename()).toBe('qd-88.pdf');
    const saved = join(tmp('truc-e2e-doc-'), 'qd-88.pdf');
    await file.saveAs(saved);
    expect(Buffer.compare(readFileSync(saved), Buffer.from(sentPdf))).toBe(0);
    await page.fill('[data-testid=doc-actions] input[name=description]', 'Đã vào sổ văn bản đến số 1234');
    await page.getByRole('button', { name: /Đã tiếp nhận, vào sổ/ }).click();
    await page.locator('[data-testid=doc-statuses]').getByText(/Đã tiếp nhận, vào sổ/).waitFor();
    await until(async () => (await vpcp.desk.recipientStatuses(sentId)).find((r) => r.organId === G09)?.status === '03', 30_000, '03 at the sender');
  }, 90_000);

  it('sends a document from the console: files uploaded, recipient picked; it reaches Văn phòng Chính phủ', async () => {
    const dir = tmp('truc-doc-send-');
    const file = join(dir, 'bao-cao-thang-12.pdf');
    writeFileSync(file, await signPdf(await samplePdf(false, 'Bao cao thang 12'), bnv.signer));
    await page.goto(`${base}/console/documents?box=send`);
    const form = page.locator('[data-testid=doc-send]');
    await form.waitFor();
    await form.locator(`input[name=to][value="${G22}"]`).check();
    await form.locator('input[name=number]').fill('45');
    await form.locator('input[name=notation]').fill('BC-BNV');
    await form.locator('input[name=subject]').fill('Báo cáo tháng 12 về bàn văn thư điện tử');
    await form.locator('input[name=signerName]').fill('Trần Văn B');
    await form.locator('input[name=files]').setInputFiles(file);
    await form.getByRole('button', { name: /Ký gói tin và gửi/ }).click();
    await page.locator('[data-testid=doc-recipients]').waitFor({ timeout: 30_000 });
    const arrived = await until(async () => (await vpcp.desk.inbox()).documents.find((d) => d.header.subject === 'Báo cáo tháng 12 về bàn văn thư điện tử'), 30_000, 'at VPCP');
    expect(arrived.documentId).toMatch(/^000\.00\.00\.G09,\d{4}\/\d{2}\/\d{2},45\/BC-BNV$/);
    await page.goto(`${base}/console/documents?box=out`);
    const row = page.locator('[data-testid=outbox-table] tr', { hasText: 'Báo cáo tháng 12' });
    await row.waitFor();
    await until(async () => /Đã đến/.test((await (await page.reload(), row).textContent()) ?? ''), 30_000, '01 shown in the outbox');
  }, 120_000);

  it('lets an auditor read a document but not act on it', async () => {
    await page.evaluate(() => sessionStorage.clear());
    await signIn(tokens.auditor!);
    await page.goto(`${base}/console/documents`);
    await page.locator('[data-testid=inbox-table]').getByRole('link', { name: /Quyết định số 88/ }).click();
    await page.locator('[data-testid=doc-header]').waitFor();
    expect(await page.locator('[data-testid=doc-actions]').count()).toBe(0);
    await page.goto(`${base}/console/documents`);
    expect(await page.locator('[data-testid=doc-tabs]').textContent()).not.toMatch(/Gửi văn bản/);
    // the API refuses what the console does not offer
    const r = await fetch(`${base}/api/v1/doc/documents/${encodeURIComponent((await bnv.desk.inbox({ all: true })).documents[0]!.id)}/status`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.auditor}`, 'content-type': 'application/json' },
      body: JSON.stringify({ code: '05' }),
    });
    expect(r.status).toBe(403);
  }, 60_000);
});
