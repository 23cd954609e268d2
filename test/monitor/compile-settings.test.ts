/**
 * The operator's processing pipelines and placeholder values reach the running service: `monitor.pipelines`
 * maps a Windows rule's fields onto our ECS events (and a strict pipeline refuses a rule using an unmapped
 * field), `monitor.placeholders` lets an `expand` rule load, and a missing or broken pipeline file stops
 * the start with its name.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { InProcessBus } from '../../src/bus/index.js';
import { openDb, migrate, type Db } from '../../src/store/index.js';
import { compileSettings, MonitorService, monitorConfig, monitorMigrations, type MonitorSettings } from '../../src/monitor/index.js';
import { tmp } from '../helpers/openssl.js';
import { testDatabaseUrls } from '../helpers/db.js';

const log = pino({ level: 'silent' });
const dir = tmp('monitor-compile-');
const rules = join(dir, 'rules');
mkdirSync(rules);
writeFileSync(
  join(rules, 'whoami.yml'),
  `title: Whoami with all groups
id: 6f1f5c2e-2b1a-4c55-9d0e-0a7b3f7c1d01
author: Lab of the test
tags: [attack.discovery, attack.t1033]
logsource: {product: windows, category: process_creation}
detection:
    selection:
        Image|endswith: '\\whoami.exe'
        CommandLine|contains: '/all'
    condition: selection
level: medium
`,
);
writeFileSync(
  join(rules, 'admins.yml'),
  `title: Logon by an administrator account
id: 6f1f5c2e-2b1a-4c55-9d0e-0a7b3f7c1d02
author: Lab of the test
logsource: {product: truc}
detection:
    selection:
        user.name|expand: '%Admins%'
        event.action: auth.login
    condition: selection
level: low
`,
);
const pipeline = join(dir, 'ecs.yml');
writeFileSync(
  pipeline,
  `name: windows to ECS
priority: 10
transformations:
  - type: field_name_mapping
    mapping:
      Image: process.executable
      CommandLine: process.command_line
    rule_conditions:
      - {type: logsource, product: windows, category: process_creation}
  - type: change_logsource
    product: truc
    rule_conditions:
      - {type: logsource, product: windows, category: process_creation}
`,
);

const at = () => new Date(Date.now() - 1000).toISOString();
const whoami = (exe: string, cmd: string) => ({
  '@timestamp': at(),
  event: { action: 'process.start' },
  process: { executable: exe, command_line: cmd },
  host: { name: 'ws-12' },
  logsource: { product: 'truc' },
});
const login = (user: string) => ({ '@timestamp': at(), event: { action: 'auth.login' }, user: { name: user }, logsource: { product: 'truc' } });

describe('pipelines and placeholders from the configuration', () => {
  let db: Db;
  beforeAll(async () => {
    db = await openDb({ url: await testDatabaseUrls()[0]!.url() });
    await migrate(db, monitorMigrations);
  });
  afterAll(async () => db?.close());

  const start = (s: MonitorSettings) =>
    MonitorService.start({ db, bus: new InProcessBus(), log, config: monitorConfig({ builtinRules: false, ruleDirs: [rules], queue: { flushMs: 0 }, ...s }), listen: false, subscribe: false, scanner: null });

  it('without them the Windows rule never sees our field names and the expand rule is refused', async () => {
    const m = await start({});
    try {
      expect(m.detection.rejected.map((r) => r.reason)).toEqual([expect.stringMatching(/placeholder %Admins% has no value/)]);
      expect(m.detection.rules().map((r) => r.title)).toEqual(['Whoami with all groups']);
      await m.submit([whoami('C:\\Windows\\System32\\whoami.exe', 'whoami /all')], 'http');
      expect(m.stats.alertsRaised).toBe(0);
    } finally {
      await m.stop();
    }
  });

  it('with them both rules load and raise alerts carrying the rule id, title, author and ATT&CK tags', async () => {
    const m = await start({ pipelines: [pipeline], placeholders: { Admins: ['adm_*', 'root'] } });
    try {
      expect(m.detection.rejected).toEqual([]);
      expect(m.detection.rules().map((r) => r.title).sort()).toEqual(['Logon by an administrator account', 'Whoami with all groups']);
      const r = await m.submit(
        [whoami('C:\\Windows\\System32\\whoami.exe', 'whoami /all'), whoami('C:\\Windows\\System32\\whoami.exe', 'whoami'), login('adm_lan'), login('ROOT'), login('lan')],
        'http',
      )!;
      expect(r.ids).toHaveLength(5);
      const [proc] = await m.alerts.list({ ruleId: '6f1f5c2e-2b1a-4c55-9d0e-0a7b3f7c1d01' });
      expect(proc).toMatchObject({ title: 'Whoami with all groups', author: 'Lab of the test', attack: ['attack.discovery', 'attack.t1033'], count: 1 });
      const admins = await m.alerts.list({ ruleId: '6f1f5c2e-2b1a-4c55-9d0e-0a7b3f7c1d02' });
      expect(admins.map((a) => a.group['user.name']).sort()).toEqual(['ROOT', 'adm_lan']);
    } finally {
      await m.stop();
    }
  });

  it('a strict pipeline refuses a rule using a field it does not map', async () => {
    const strict = join(dir, 'strict.yml');
    writeFileSync(strict, `name: strict ECS\nstrict: true\nallowed_fields: [event.action]\ntransformations:\n  - type: field_name_mapping\n    mapping: {Image: process.executable}\n`);
    const m = await start({ pipelines: [strict], placeholders: { Admins: ['root'] } });
    try {
      const reasons = m.detection.rejected.map((r) => `${r.rule}: ${r.reason}`).sort();
      expect(reasons).toEqual([
        expect.stringMatching(/^6f1f5c2e-2b1a-4c55-9d0e-0a7b3f7c1d01: .*CommandLine is not mapped by pipeline strict ECS/),
        expect.stringMatching(/^6f1f5c2e-2b1a-4c55-9d0e-0a7b3f7c1d02: .*user\.name is not mapped by pipeline strict ECS/),
      ]);
      expect(m.detection.rules()).toEqual([]);
    } finally {
      await m.stop();
    }
  });

  it('a pipeline file that is missing or malformed stops the start with its name', async () => {
    await expect(compileSettings(monitorConfig({ pipelines: [join(dir, 'absent.yml')] }))).rejects.toThrow(/absent\.yml/);
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'transformations:\n  - type: rename_everything\n');
    await expect(start({ pipelines: [bad] })).rejects.toMatchObject({ code: 'invalid_config', message: expect.stringMatching(/bad\.yml: pipeline: transformation 0: unsupported type rename_everything/) });
  });
});
