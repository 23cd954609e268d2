/**
 * Reading rule files: single rules, multi-document collections, `action: global/repeat/reset`, correlation
 * and filter documents, schema validation against the specification's JSON schemas, and the folder loader —
 * each failure reported with file, line and reason while the other rules still load.
 */
import { mkdtemp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadRules,
  parseRules,
  parseTimespan,
  type CorrelationRule,
  type SigmaFilter,
  type SigmaRule,
} from '../../../src/monitor/sigma/index.js';
import { SIGMA } from './regression.js';

const GOOD = `title: Whoami Execution
id: 929a690e-bef0-4204-a928-ef5e620d6fcc
author: Florian Roth
level: high
tags:
    - attack.discovery
    - attack.t1033
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image: 'C:\\Windows\\System32\\whoami.exe'
    condition: selection
`;

describe('parseRules', () => {
  it('reads a rule with its metadata', () => {
    const r = parseRules(GOOD, 'whoami.yml');
    expect(r.rejected).toEqual([]);
    const rule = r.documents[0] as SigmaRule;
    expect(rule).toMatchObject({
      kind: 'rule',
      title: 'Whoami Execution',
      id: '929a690e-bef0-4204-a928-ef5e620d6fcc',
      author: 'Florian Roth',
      level: 'high',
      tags: ['attack.discovery', 'attack.t1033'],
      logsource: { category: 'process_creation', product: 'windows' },
      origin: { file: 'whoami.yml', line: 1 },
    });
  });

  it('reports YAML errors with their line and keeps the other documents', () => {
    const text = `${GOOD}---\ntitle: broken\nlogsource: {product: x\ndetection:\n    condition: a\n---\n${GOOD.replace('929a690e', '929a690f')}`;
    const r = parseRules(text, 'mixed.yml');
    expect(r.documents).toHaveLength(2);
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0]!.reason).toMatch(/^YAML/);
    expect(r.rejected[0]!.line).toBeGreaterThan(16);
  });

  it('validates against the schema and points at the offending line', () => {
    const r = parseRules(GOOD.replace('level: high', 'level: severe'), 'level.yml');
    expect(r.documents).toHaveLength(0);
    expect(r.rejected[0]).toMatchObject({
      file: 'level.yml',
      line: 4,
      rule: '929a690e-bef0-4204-a928-ef5e620d6fcc',
    });
    expect(r.rejected[0]!.reason).toMatch(/schema \(rule\): \/level/);
    const noLogsource = parseRules('title: x\ndetection:\n    a: {A: 1}\n    condition: a\n', 'n.yml');
    expect(noLogsource.rejected[0]!.reason).toMatch(/must have required property 'logsource'/);
    const badId = parseRules(GOOD.replace('929a690e-bef0-4204-a928-ef5e620d6fcc', 'not-a-uuid'), 'id.yml');
    expect(badId.rejected[0]).toMatchObject({ line: 2 });
    const badTag = parseRules(GOOD.replace('attack.t1033', 'Not A Tag'), 't.yml');
    expect(badTag.rejected[0]!.line).toBe(7);
  });

  it('refuses non-mappings, duplicate keys and oversized files', () => {
    expect(parseRules('- a\n- b\n', 'l.yml').rejected[0]!.reason).toMatch(/mapping/);
    expect(parseRules(`${GOOD}title: again\n`, 'd.yml').rejected[0]!.reason).toMatch(/YAML/);
    expect(parseRules('x'.repeat((1 << 20) + 1), 'big.yml').rejected[0]!.reason).toMatch(/larger than/);
  });

  it('reads a correlation collection (the specification example)', () => {
    const text = `title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
author: Florian Roth (Nextron Systems)
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 10
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
`;
    const r = parseRules(text, 'mr.yml');
    expect(r.rejected).toEqual([]);
    expect(r.documents.map((d) => d.kind)).toEqual(['correlation', 'correlation', 'rule']);
    const c = r.documents[1] as CorrelationRule;
    expect(c).toMatchObject({
      type: 'event_count',
      rules: ['failed_login'],
      groupBy: ['User'],
      timespan: 600_000,
      condition: { gte: 10 },
      generate: false,
    });
    expect(r.documents[2]!.origin.line).toBe(27);
  });

  it('rejects a correlation with a bad timespan or without its condition', () => {
    const c = (body: string) => parseRules(`title: c\ncorrelation:\n${body}`, 'c.yml');
    expect(
      c(
        '    type: event_count\n    rules: [a1]\n    group-by: [x]\n    timespan: 1y\n    condition: {gte: 1}\n',
      ).rejected[0]!.reason,
    ).toMatch(/timespan/);
    expect(
      c('    type: event_count\n    rules: [a1]\n    group-by: [x]\n    timespan: 1h\n').rejected[0]!.reason,
    ).toMatch(/condition/);
    expect(
      c('    type: value_sum\n    rules: [a1]\n    group-by: [x]\n    timespan: 1h\n    condition: {gt: 3}\n')
        .rejected[0]!.reason,
    ).toMatch(/field/);
  });

  it('reads filters', () => {
    const r = parseRules(
      `title: Filter Administrator account
logsource:
    category: process_creation
    product: windows
filter:
    rules:
        - 6f3e2987-db24-4c78-a860-b4f4095a7095
    selection:
        User|startswith: 'adm_'
    condition: not selection
`,
      'f.yml',
    );
    expect(r.rejected).toEqual([]);
    const f = r.documents[0] as SigmaFilter;
    expect(f).toMatchObject({
      kind: 'filter',
      rules: ['6f3e2987-db24-4c78-a860-b4f4095a7095'],
      detection: { condition: 'not selection' },
    });
  });

  it('merges action: global into the following documents, repeats and resets', () => {
    const text = `action: global
title: Shared title
logsource:
    product: windows
detection:
    common:
        Channel: Security
    condition: common and specific
---
id: 00000000-0000-4000-8000-000000000001
detection:
    specific:
        EventID: 4624
---
action: repeat
id: 00000000-0000-4000-8000-000000000002
detection:
    specific:
        EventID: 4625
---
action: reset
---
title: Standalone
logsource:
    product: linux
detection:
    k:
        - evil
    condition: k
`;
    const r = parseRules(text, 'g.yml');
    expect(r.rejected).toEqual([]);
    const [a, b, c] = r.documents as SigmaRule[];
    expect(a!.title).toBe('Shared title');
    expect(a!.detection).toEqual({
      common: { Channel: 'Security' },
      specific: { EventID: 4624 },
      condition: 'common and specific',
    });
    expect(b!.detection.specific).toEqual({ EventID: 4625 });
    expect(b!.id).toBe('00000000-0000-4000-8000-000000000002');
    expect(c!.title).toBe('Standalone');
    expect(c!.logsource).toEqual({ product: 'linux' });
  });

  it('parses timespans', () => {
    expect(parseTimespan('30s')).toBe(30_000);
    expect(parseTimespan('90m')).toBe(5_400_000);
    expect(parseTimespan('1h')).toBe(3_600_000);
    expect(parseTimespan('2d')).toBe(172_800_000);
    expect(parseTimespan('1 h')).toBeUndefined();
    expect(parseTimespan(5)).toBeUndefined();
  });
});

describe('the specification’s example documents', () => {
  const dir = join(SIGMA, 'specification/tests/schema');
  it.skipIf(!existsSync(dir))('all validate', async () => {
    for (const sub of ['rules', 'correlation', 'filter']) {
      for (const f of await readdir(join(dir, sub))) {
        const r = parseRules(await readFile(join(dir, sub, f), 'utf8'), f);
        expect(r.rejected, `${sub}/${f}`).toEqual([]);
        expect(r.documents[0]!.kind).toBe(sub === 'rules' ? 'rule' : sub);
      }
    }
  });
});

describe('loadRules', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sigma-load-'));
    await mkdir(join(dir, 'a/b'), { recursive: true });
    await writeFile(join(dir, 'a/good.yml'), GOOD);
    await writeFile(join(dir, 'a/b/also_good.yaml'), GOOD.replace('929a690e', '929a690f'));
    await writeFile(join(dir, 'a/b/bad.yml'), 'title: no detection\nlogsource: {}\n');
    await writeFile(join(dir, 'a/readme.txt'), 'not a rule');
    await symlink(join(dir, 'a'), join(dir, 'loop'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('loads folders recursively and reports the rejected with reasons', async () => {
    const r = await loadRules(dir);
    expect(r.files).toBe(3);
    expect(r.documents.map((d) => d.title)).toEqual(['Whoami Execution', 'Whoami Execution']);
    expect(r.rejected).toHaveLength(1);
    expect(r.rejected[0]).toMatchObject({ file: join(dir, 'a/b/bad.yml'), line: 1 });
    expect(r.rejected[0]!.reason).toMatch(/detection/);
  });
});
