/**
 * The console's language choice in Chromium (issue 18): Vietnamese by default (English beside), English
 * alone when chosen — on the sign-in page and every page an analyst, a signer and an RA officer open —
 * remembered across reloads, and back. In English, no heading, label, button, table head or menu entry is
 * left in Vietnamese (the data shown is not judged: names stay as they are).
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken } from '../../src/http/auth/store.js';
import { openConsoleRig, type ConsoleRig } from './console-rig.js';
import type { TestPlatform } from '../helpers/platform.js';

const SHOTS = process.env.TRUC_E2E_SCREENSHOTS ?? '/tmp';
const VI = /[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđĐ]/i;
const CHROME = 'h1, h2, h3, legend, th, label > span, button, nav a, summary, .field > span, .page-title';
const RULE = 'Audit chain tampering';
const RULE_VI = 'Chuỗi nhật ký kiểm toán bị sửa';

describe('the console in Vietnamese and in English, in Chromium', () => {
  let p: TestPlatform;
  let rig: ConsoleRig | undefined;
  let base: string;
  let page: Page;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    rig = await openConsoleRig({ defaultTimeoutMs: 15_000 });
    ({ p, base, page } = rig);
    tokens.analyst = (await createToken(p.db, 'Nguyễn Văn An', ['monitor-analyst', 'signer', 'ra-officer'])).token;
  }, 180_000);

  afterAll(async () => {
    await rig?.close();
  });

  /** the page's own words (headings, labels, buttons, menu) that are still Vietnamese */
  const vietnameseChrome = async () =>
    (await page.locator(CHROME).allTextContents()).map((t) => t.trim()).filter((t) => VI.test(t) && t !== 'Trục' && !t.includes('Nguyễn Văn An'));

  it('starts in Vietnamese with English beside, switches the sign-in page to English, and signs in', async () => {
    await page.goto(`${base}/console/signin`);
    await expect.poll(() => page.locator('h1').textContent()).toBe('Đăng nhập (Sign in)');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('vi');
    await page.locator('select[name=lang]').selectOption('en');
    await expect.poll(() => page.locator('h1').textContent()).toBe('Sign in');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
    expect(await vietnameseChrome()).toEqual([]);
    await page.fill('input[name=token]', tokens.analyst!);
    await page.click('button[type=submit]');
    await page.locator('[data-testid=whoami]').waitFor();
  });

  it('every page the roles open is in English, and the choice survives a reload', async () => {
    expect(await page.locator('nav a').allTextContents()).toEqual(['Alerts', 'Dashboard', 'Rules', 'Events', 'CA certificates', 'Signatures']);
    for (const path of ['/alerts', '/dashboard', '/rules', '/events', '/certificates', '/signatures']) {
      await page.goto(`${base}/console${path}`);
      await page.locator('h1').first().waitFor();
      await page.waitForLoadState('networkidle');
      expect(await vietnameseChrome(), path).toEqual([]);
    }
    await page.screenshot({ path: join(SHOTS, 'truc-console-english.png'), fullPage: true });
    await page.reload();
    await page.locator('h1').first().waitFor();
    expect(await page.locator('nav a').first().textContent()).toBe('Alerts');
    // our own rules' titles follow the choice (web/src/rule-titles.ts): in English as the rule is written
    await page.goto(`${base}/console/rules`);
    await page.locator('[data-testid=rules-table] tr', { hasText: RULE }).waitFor();
    expect(await page.locator('[data-testid=rules-table]').textContent()).not.toContain(RULE_VI);
    await page.goto(`${base}/console/signatures`); // where the next test switches back
    await page.locator('h1').first().waitFor();
  }, 90_000);

  it('goes back to Vietnamese', async () => {
    await page.locator('select[name=lang]').selectOption('vi');
    await expect.poll(() => page.locator('nav a').first().textContent()).toBe('Cảnh báo');
    expect(await page.locator('h1').first().textContent()).toMatch(/Ký số văn bản \(Sign documents\)/);
    // a rule of ours: its Vietnamese title, the English beside it
    await page.goto(`${base}/console/rules`);
    const row = page.locator('[data-testid=rules-table] tr', { hasText: RULE_VI });
    await row.waitFor();
    expect(await row.textContent()).toContain(`${RULE_VI} (${RULE})`);
  });
});
