/**
 * The console's language choice in Chromium (issue 18): Vietnamese by default (English beside), English
 * alone when chosen — on the sign-in page and every page an analyst, a signer and an RA officer open —
 * remembered across reloads, and back. In English, no heading, label, button, table head or menu entry is
 * left in Vietnamese (the data shown is not judged: names stay as they are).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { MonitorService, monitorConfig } from '../../src/monitor/index.js';
import { openBrowser } from './browser.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';

const SHOTS = process.env.TRUC_E2E_SCREENSHOTS ?? '/tmp';
const VI = /[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđĐ]/i;
const CHROME = 'h1, h2, h3, legend, th, label > span, button, nav a, summary, .field > span, .page-title';

describe('the console in Vietnamese and in English, in Chromium', () => {
  let p: TestPlatform;
  let m: MonitorService;
  let app: FastifyInstance;
  let base: string;
  let context: BrowserContext;
  let page: Page;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    const build = spawnSync('bash', [join(PROJECT_ROOT, 'scripts', 'build-web.sh')], { encoding: 'utf8', timeout: 120_000 });
    expect(build.status, build.stderr).toBe(0);
    p = await testPlatform('memory://');
    m = await MonitorService.start({ db: p.db, bus: p.bus, log: pino({ level: 'silent' }), config: monitorConfig({}), listen: false, scanner: null });
    app = await buildApp(p, { monitor: m });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    tokens.analyst = (await createToken(p.db, 'Nguyễn Văn An', ['monitor-analyst', 'signer', 'ra-officer'])).token;
    ({ context, page } = await openBrowser(15_000));
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await app?.close();
    await m?.stop();
    await p?.close();
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
  }, 90_000);

  it('goes back to Vietnamese', async () => {
    await page.locator('select[name=lang]').selectOption('vi');
    await expect.poll(() => page.locator('nav a').first().textContent()).toBe('Cảnh báo');
    expect(await page.locator('h1').first().textContent()).toMatch(/Ký số văn bản \(Sign documents\)/);
  });
});
