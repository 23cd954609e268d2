/**
 * The monitor's start reads its rules through the rule cache `truc hunt` uses (sigma/cache.ts): the first start
 * parses the YAML and writes the cache, the next reads it back and detects the same, and a changed rule file
 * is parsed again rather than its old form trusted.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { InProcessBus } from '../../src/bus/index.js';
import { openDb, migrate, type Db } from '../../src/store/index.js';
import { MonitorService, monitorConfig, monitorMigrations } from '../../src/monitor/index.js';
import { tmp } from '../helpers/openssl.js';
import { testDatabaseUrls } from '../helpers/db.js';

const log = pino({ level: 'silent' });
const dir = tmp('monitor-rule-cache-');
const rules = join(dir, 'rules');
const cache = join(dir, 'cache');
mkdirSync(rules);

const ruleText = (needle: string) => `title: Whoami with all groups
id: 0c6f3b1e-7d7c-4b55-8f0e-1a2b3c4d5e6f
author: Lab of the test
logsource: {product: truc}
detection:
    selection:
        process.command_line|contains: '${needle}'
    condition: selection
level: medium
`;
const whoami = (cmd: string) => ({
  '@timestamp': new Date(Date.now() - 1000).toISOString(),
  event: { action: 'process.start' },
  process: { command_line: cmd },
  host: { name: 'ws-12' },
  logsource: { product: 'truc' },
});

describe('the monitor start and the rule cache', () => {
  let db: Db;
  const before = process.env.TRUC_CACHE_DIR;
  beforeAll(async () => {
    process.env.TRUC_CACHE_DIR = cache;
    db = await openDb({ url: await testDatabaseUrls()[0]!.url() });
    await migrate(db, monitorMigrations);
  });
  afterAll(async () => {
    if (before === undefined) delete process.env.TRUC_CACHE_DIR;
    else process.env.TRUC_CACHE_DIR = before;
    await db?.close();
  });

  /** Starts the monitor on the rule folder, submits `cmd`, and says how the rules were read and whether it alerted. */
  const run = async (cmd: string) => {
    const m = await MonitorService.start({
      db,
      bus: new InProcessBus(),
      log,
      config: monitorConfig({ builtinRules: false, ruleDirs: [rules], queue: { flushMs: 0 } }),
      listen: false,
      subscribe: false,
      scanner: null,
    });
    try {
      const raised = m.stats.alertsRaised;
      await m.submit([whoami(cmd)], 'http');
      return { cache: m.detection.cache, alerted: m.stats.alertsRaised > raised, rules: m.detection.rules().map((r) => r.title) };
    } finally {
      await m.stop();
    }
  };

  it('parses and caches on the first start, reads the cache back on the next, with the same detections', async () => {
    writeFileSync(join(rules, 'whoami.yml'), ruleText('/all'));
    expect(await run('whoami /all')).toEqual({ cache: 'built', alerted: true, rules: ['Whoami with all groups'] });
    expect(readdirSync(join(cache, 'sigma')).filter((n) => /^rules-[0-9a-f]+\.json$/.test(n))).toHaveLength(1);
    expect(await run('whoami /all')).toEqual({ cache: 'hit', alerted: true, rules: ['Whoami with all groups'] });
    expect(await run('whoami')).toEqual({ cache: 'hit', alerted: false, rules: ['Whoami with all groups'] });
  });

  it('parses a changed rule file again', async () => {
    expect(existsSync(join(cache, 'sigma'))).toBe(true);
    // another size: the cache key changes even where the file system's times are coarse
    writeFileSync(join(rules, 'whoami.yml'), ruleText('/groups'));
    expect(await run('whoami /groups')).toEqual({ cache: 'built', alerted: true, rules: ['Whoami with all groups'] });
    expect(await run('whoami /all')).toEqual({ cache: 'hit', alerted: false, rules: ['Whoami with all groups'] });
  });
});
