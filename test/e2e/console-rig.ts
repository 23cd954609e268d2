/**
 * The console as its e2e tests open it: the web build current, a platform (a test platform of its own, or
 * one the test brings: a lab's, a document network's), the monitoring service unless not wanted, the HTTP
 * app with the services the test names on a free loopback port, and Chromium (./browser.ts) — closed in
 * reverse order, and what was opened closed again when a later step fails.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { PROJECT_ROOT } from '../../src/config.js';
import { buildApp, type AppOptions } from '../../src/http/app.js';
import { MonitorService, monitorConfig } from '../../src/monitor/index.js';
import { openBrowser } from './browser.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';

export interface ConsoleRigOptions {
  /** the platform behind the console; one given stays the caller's to close. Default: a test platform on memory://, closed with the rig */
  platform?: TestPlatform;
  /** done to the platform before the monitoring service and the app start (its clock, its configuration) */
  prepare?: (p: TestPlatform) => void | Promise<void>;
  /** the monitoring service on the platform, carried by the app (default true) */
  monitor?: boolean;
  /** further services the app carries: a TSA, an OCSP responder, a document desk */
  app?: Omit<AppOptions, 'monitor'>;
  /** Chromium's default wait, ms (default 15 s) */
  defaultTimeoutMs?: number;
}

export interface ConsoleRig {
  p: TestPlatform;
  /** the monitoring service; undefined with `monitor: false` */
  m: MonitorService | undefined;
  app: FastifyInstance;
  base: string;
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function openConsoleRig(opts: ConsoleRigOptions = {}): Promise<ConsoleRig> {
  // the same build scripts/start.sh and scripts/test.sh run: only when web/dist is missing or stale
  const build = spawnSync('bash', [join(PROJECT_ROOT, 'scripts', 'build-web.sh')], { encoding: 'utf8', timeout: 120_000 });
  expect(build.status, build.stderr).toBe(0);
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    const p = opts.platform ?? (await testPlatform('memory://'));
    if (!opts.platform) closers.push(() => p.close());
    await opts.prepare?.(p);
    let m: MonitorService | undefined;
    if (opts.monitor !== false) {
      const started = await MonitorService.start({ db: p.db, bus: p.bus, log: pino({ level: 'silent' }), config: monitorConfig({}), listen: false, scanner: null });
      closers.push(() => started.stop());
      m = started;
    }
    const app = await buildApp(p, { ...opts.app, ...(m ? { monitor: m } : {}) });
    closers.push(() => app.close());
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const { context, page } = await openBrowser(opts.defaultTimeoutMs ?? 15_000);
    closers.push(() => context.close());
    return { p, m, app, base, context, page, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * A modal dialog as the console's dialogs must behave (web/src/components.tsx Modal): opened from `opener`
 * by the keyboard, it is modal (the page behind inert) and named by its title; focus is inside it, and
 * Tab and Shift+Tab, pressed more times than it has controls, never leave it; Escape closes it, and focus
 * is back on the opener. `testId`, when given, is the dialog's data-testid.
 */
export async function expectModalDialog(page: Page, opener: Locator, testId?: string): Promise<void> {
  await opener.focus();
  await page.keyboard.press('Enter');
  const dialog = page.locator(testId ? `dialog[open][data-testid="${testId}"]` : 'dialog[open]');
  await dialog.waitFor();
  expect(await page.locator('dialog[open]').count()).toBe(1);
  expect(await dialog.evaluate((d) => d.matches(':modal'))).toBe(true);
  const name = await dialog.evaluate((d) => document.getElementById(d.getAttribute('aria-labelledby') ?? '')?.textContent?.trim() ?? '');
  expect(name, 'the dialog is named by its title').not.toBe('');
  const focusIn = () => page.evaluate(() => (document.activeElement?.closest('dialog[open]') ? (document.activeElement as HTMLElement).outerHTML.slice(0, 80) : null));
  expect(await focusIn(), 'focus moves into the dialog').not.toBeNull();
  const controls = await dialog.evaluate((d) => d.querySelectorAll('a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled])').length);
  const seen = new Set<string>();
  for (const key of ['Tab', 'Shift+Tab'])
    for (let i = 0; i < controls + 2; i++) {
      await page.keyboard.press(key);
      const at = await focusIn();
      expect(at, `${key} ×${i + 1} leaves the dialog`).not.toBeNull();
      seen.add(at!);
    }
  expect(seen.size, 'Tab goes round every control of the dialog').toBe(controls);
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  expect(await opener.evaluate((el) => el === document.activeElement), 'focus is back on the control that opened the dialog').toBe(true);
}
