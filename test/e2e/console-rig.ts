/**
 * The console as its e2e tests open it: the web build current, one test platform with the monitoring
 * service, the HTTP app on a free loopback port, and Chromium (./browser.ts) — closed in reverse order.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';
import { PROJECT_ROOT } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { MonitorService, monitorConfig } from '../../src/monitor/index.js';
import { openBrowser } from './browser.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';

export interface ConsoleRig {
  p: TestPlatform;
  m: MonitorService;
  app: FastifyInstance;
  base: string;
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function openConsoleRig(defaultTimeoutMs = 15_000): Promise<ConsoleRig> {
  const build = spawnSync('bash', [join(PROJECT_ROOT, 'scripts', 'build-web.sh')], { encoding: 'utf8', timeout: 120_000 });
  expect(build.status, build.stderr).toBe(0);
  const p = await testPlatform('memory://');
  const m = await MonitorService.start({ db: p.db, bus: p.bus, log: pino({ level: 'silent' }), config: monitorConfig({}), listen: false, scanner: null });
  const app = await buildApp(p, { monitor: m });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const { context, page } = await openBrowser(defaultTimeoutMs);
  return {
    p,
    m,
    app,
    base,
    context,
    page,
    async close() {
      await context.close();
      await app.close();
      await m.stop();
      await p.close();
    },
  };
}
