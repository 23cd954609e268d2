/**
 * Debian's Chromium, driven by playwright-core, as the console's e2e tests open it: headless, a profile of
 * its own, Vietnamese locale and Hồ Chí Minh time, one page with a default wait.
 */
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { tmp } from '../helpers/openssl.js';

export const CHROMIUM = '/usr/bin/chromium';

export async function openBrowser(defaultTimeoutMs = 15_000): Promise<{ context: BrowserContext; page: Page }> {
  const context = await chromium.launchPersistentContext(tmp('truc-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1360, height: 900 },
    locale: 'vi-VN',
    timezoneId: 'Asia/Ho_Chi_Minh',
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(defaultTimeoutMs);
  return { context, page };
}
