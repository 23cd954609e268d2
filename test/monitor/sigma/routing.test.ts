/**
 * Logsource routing (Windows channel/EventID derivation, our own events, explicit logsources), the Windows
 * field view, processing pipelines (mapping, conditions, strictness) and Sigma filters.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { makeEvent } from '../../../src/bus/event.js';
import {
  Detector,
  deriveLogsource,
  EventView,
  WINDOWS_CHANNEL_SERVICES,
  accessor,
  parsePipeline,
  parseRules,
  type SigmaDocument,
} from '../../../src/monitor/sigma/index.js';

function docs(text: string): SigmaDocument[] {
  const r = parseRules(text, 't.yml');
  if (r.rejected.length) throw new Error(r.rejected.map((x) => x.reason).join('; '));
  return r.documents;
}

const win = (channel: string, id: number, data: Record<string, unknown> = {}) => ({
  Event: {
    System: {
      Provider: { '#attributes': { Name: 'Microsoft-Windows-Sysmon' } },
      EventID: id,
      Channel: channel,
      Computer: 'ws1',
      TimeCreated: { '#attributes': { SystemTime: '2025-01-01T10:00:00Z' } },
    },
    EventData: data,
  },
});
const SYSMON = 'Microsoft-Windows-Sysmon/Operational';

describe('deriveLogsource', () => {
  it('maps Sysmon event ids to categories and channels to services', () => {
    expect(deriveLogsource(win(SYSMON, 1))).toEqual({
      product: 'windows',
      categories: ['process_creation'],
      services: ['sysmon'],
    });
    expect(deriveLogsource(win(SYSMON, 13))).toEqual({
      product: 'windows',
      categories: ['registry_set', 'registry_event'],
      services: ['sysmon'],
    });
    expect(deriveLogsource(win('Security', 4624))).toEqual({
      product: 'windows',
      categories: [],
      services: ['security'],
    });
    expect(deriveLogsource(win('Microsoft-Windows-PowerShell/Operational', 4104))).toEqual({
      product: 'windows',
      categories: ['ps_script'],
      services: ['powershell'],
    });
    expect(deriveLogsource(win('Microsoft-Windows-Windows Defender/Operational', 1116))!.services).toEqual([
      'windefend',
    ]);
    expect(
      deriveLogsource({
        Event: {
          System: { Channel: 'Security', EventID: { '#text': '4688', '#attributes': { Qualifiers: '' } } },
        },
      })!.services,
    ).toEqual(['security']);
  });

  it('reaches the SMB connectivity channels and the Service Bus client under both its names', () => {
    expect(deriveLogsource(win('Microsoft-Windows-SMBServer/Connectivity', 4000))!.services).toEqual(['smbserver-connectivity']);
    expect(deriveLogsource(win('Microsoft-Windows-SmbClient/Connectivity', 30803))!.services).toEqual(['smbclient-connectivity']);
    for (const ch of ['Microsoft-ServiceBus-Client', 'Microsoft-ServiceBus-Client/Operational', 'Microsoft-ServiceBus-Client/Admin'])
      expect(deriveLogsource(win(ch, 40300))!.services).toEqual(['servicebus-client', 'microsoft-servicebus-client']);
  });

  const SIGMA = '/work/shared/sigma';
  if (!existsSync(SIGMA)) console.log(`skipped: every SigmaHQ Windows service reached — ${SIGMA} is absent`);
  it.skipIf(!existsSync(SIGMA))('every Windows service a SigmaHQ rule names is reached by some channel', () => {
    const wanted = new Map<string, string>();
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.ya?ml$/.test(name)) {
          for (const doc of readFileSync(p, 'utf8').split(/^---$/m)) {
            const ls = (parseYaml(doc) as { logsource?: { product?: string; service?: string } } | null)?.logsource;
            if (ls?.product === 'windows' && ls.service) wanted.set(ls.service, p);
          }
        }
      }
    };
    for (const d of readdirSync(SIGMA)) if (d.startsWith('rules')) walk(join(SIGMA, d));
    expect(wanted.size).toBeGreaterThan(30);
    const reached = new Set(Object.keys(WINDOWS_CHANNEL_SERVICES).flatMap((ch) => deriveLogsource(win(ch, 1))!.services));
    const unreached = [...wanted].filter(([s]) => !reached.has(s)).map(([s, p]) => `${s} (${p})`);
    expect(unreached).toEqual([]);
  });

  it('reads our own events and explicit logsources', () => {
    const e = makeEvent('pki', 'certificate.issue', 'success', { category: ['configuration', 'iam'] });
    expect(deriveLogsource(e)).toEqual({
      product: 'truc',
      categories: ['configuration', 'iam'],
      services: ['pki'],
    });
    expect(deriveLogsource({ logsource: { product: 'Linux', service: 'sshd' } })).toEqual({
      product: 'linux',
      categories: [],
      services: ['sshd'],
    });
    expect(deriveLogsource({ message: 'x' })).toBeUndefined();
  });
});

describe('routing', () => {
  const rules = docs(`title: proc
id: 00000000-0000-4000-8000-000000000001
logsource: {product: windows, category: process_creation}
detection: {s: {Image|endswith: '\\x.exe'}, condition: s}
---
title: sec
id: 00000000-0000-4000-8000-000000000002
logsource: {product: windows, service: security}
detection: {s: {EventID: 4624}, condition: s}
---
title: any windows
id: 00000000-0000-4000-8000-000000000003
logsource: {product: windows}
detection: {s: {Computer: ws1}, condition: s}
---
title: unconstrained
id: 00000000-0000-4000-8000-000000000004
logsource: {}
detection: {k: [needle], condition: k}
`);
  const d = new Detector(rules);
  const titles = (e: Record<string, unknown>) => d.match(e).map((m) => m.title);

  it('evaluates only the rules of the event’s logsource', () => {
    expect(titles(win(SYSMON, 1, { Image: 'C:\\x.exe' }))).toEqual(['proc', 'any windows']);
    // Same data, wrong category: the process_creation rule is not asked.
    expect(titles(win(SYSMON, 11, { Image: 'C:\\x.exe' }))).toEqual(['any windows']);
    expect(titles(win('Security', 4624))).toEqual(['sec', 'any windows']);
    expect(titles(win(SYSMON, 4624))).toEqual(['any windows']);
    expect(titles({ message: 'a needle here' })).toEqual(['unconstrained']);
    expect(titles({ message: 'x', logsource: { product: 'linux' } })).toEqual([]);
  });

  it('takes an explicit logsource from the caller', () => {
    expect(
      d
        .match({ EventID: 4624 }, { product: 'windows', categories: [], services: ['security'] })
        .map((m) => m.title),
    ).toEqual(['sec']);
  });

  it('carries rule metadata and the event in each result', () => {
    const [m] = new Detector(
      docs(`title: meta
id: 00000000-0000-4000-8000-0000000000aa
name: meta_rule
author: Alice, Bob
level: critical
tags: [attack.execution, attack.t1059.001, cve.2024-0001]
logsource: {product: windows}
detection: {s: {Computer: ws1}, condition: s}
`),
    ).match(win('System', 7036));
    expect(m).toMatchObject({
      ruleId: '00000000-0000-4000-8000-0000000000aa',
      ruleName: 'meta_rule',
      title: 'meta',
      author: 'Alice, Bob',
      level: 'critical',
      tags: ['attack.execution', 'attack.t1059.001', 'cve.2024-0001'],
      attack: ['attack.execution', 'attack.t1059.001'],
      generate: true,
    });
    expect(m!.event).toEqual(win('System', 7036));
  });
});

describe('EventView field access', () => {
  const ev = {
    process: { command_line: 'cmd /c x', parent: { name: 'explorer.exe' } },
    'flat.key': 'flat',
    Event: {
      System: {
        EventID: { '#text': '4688' },
        Provider: { '#attributes': { Name: 'Sec' } },
        Execution: { '#attributes': { ProcessID: 4 } },
      },
      EventData: { CommandLine: 'whoami', 'Source Name': 'Real-Time Protection' },
      UserData: { LogFileCleared: { SubjectUserName: 'bob' } },
    },
  };
  const v = new EventView(ev);
  it.each([
    ['process.command_line', 'cmd /c x'],
    ['process.parent.name', 'explorer.exe'],
    ['flat.key', 'flat'],
    ['CommandLine', 'whoami'],
    ['SourceName', 'Real-Time Protection'],
    ['Source Name', 'Real-Time Protection'],
    ['EventID', '4688'],
    ['Provider_Name', 'Sec'],
    ['Execution_ProcessID', 4],
    ['ProcessId', 4],
    ['SubjectUserName', 'bob'],
    ['missing', undefined],
    ['constructor', undefined],
    ['toString', undefined],
    ['__proto__', undefined],
  ])('%s', (field, value) => {
    expect(accessor(field)(v)).toEqual(value);
  });
});

describe('System/Execution as rules name it', () => {
  // SigmaHQ win_system_service_install_sups_unusal_client: a service installed by process 0
  const rule = docs(`title: Service installed by an unusual client
id: 00000000-0000-4000-8000-0000000000e1
logsource: {product: windows, service: system}
detection:
  selection: {Provider_Name: 'Service Control Manager', EventID: 7045, ProcessId: 0}
  condition: selection
`);
  const d = new Detector(rule);
  const install = (pid: string, data: Record<string, unknown> = {}) => ({
    Event: {
      System: {
        Provider: { '#attributes': { Name: 'Service Control Manager' } },
        EventID: { '#attributes': { Qualifiers: '16384' }, '#text': '7045' },
        Execution: { '#attributes': { ProcessID: pid, ThreadID: '2964' } },
        Channel: 'System',
        Computer: 'ws1',
      },
      EventData: { ServiceName: 'x', ...data },
    },
  });

  it('a rule’s ProcessId reaches the Execution attribute', () => {
    expect(d.match(install('0')).map((m) => m.title)).toEqual(['Service installed by an unusual client']);
    expect(d.match(install('708'))).toEqual([]);
    expect(accessor('ThreadId')(new EventView(install('0')))).toBe('2964');
  });

  it('the event’s own ProcessId wins over the Execution attribute', () => {
    expect(d.match(install('0', { ProcessId: '4460' }))).toEqual([]);
    expect(d.match(install('708', { ProcessId: '0' })).map((m) => m.title)).toEqual(['Service installed by an unusual client']);
    const user = install('0') as any;
    user.Event.UserData = { EventXML: { ProcessId: '77' } };
    expect(accessor('ProcessId')(new EventView(user))).toBe('77');
  });
});

describe('processing pipelines', () => {
  const proc = docs(`title: whoami
id: 00000000-0000-4000-8000-000000000010
logsource: {product: windows, category: process_creation}
detection:
    s:
        Image|endswith: '\\whoami.exe'
        CommandLine|contains: '/all'
    condition: s
`);
  const ecs = parsePipeline(`
name: ecs
priority: 10
transformations:
  - type: field_name_mapping
    mapping:
      Image: [process.executable, process.name]
      CommandLine: process.command_line
    rule_conditions:
      - type: logsource
        product: windows
        category: process_creation
  - type: change_logsource
    product: truc
    category: process
`);
  const event = (exe: string, cmd: string) => ({
    process: { executable: exe, command_line: cmd },
    logsource: { product: 'truc', category: 'process' },
  });

  it('maps field names (one to many is an OR) and changes the logsource', () => {
    const d = new Detector(proc, { pipelines: [ecs] });
    expect(d.rejected).toEqual([]);
    expect(d.match(event('C:\\Windows\\whoami.exe', 'whoami /all'))).toHaveLength(1);
    expect(
      d.match({
        process: { name: 'x\\whoami.exe', command_line: 'whoami /all' },
        logsource: { product: 'truc', category: 'process' },
      }),
    ).toHaveLength(1);
    expect(d.match(event('C:\\Windows\\whoami.exe', 'whoami'))).toHaveLength(0);
    // The original field names no longer apply.
    expect(
      d.match({
        Image: 'C:\\whoami.exe',
        CommandLine: 'whoami /all',
        logsource: { product: 'truc', category: 'process' },
      }),
    ).toHaveLength(0);
  });

  it('change_logsource replaces the whole logsource, as pySigma does', () => {
    const p = parsePipeline(`
name: to-truc
transformations:
  - type: change_logsource
    product: truc
`);
    const d = new Detector(proc, { pipelines: [p] });
    expect(d.rules[0]!.logsource).toEqual({ product: 'truc' });
    const hit = { Image: 'C:\\whoami.exe', CommandLine: 'whoami /all' };
    expect(d.match({ ...hit, logsource: { product: 'truc' } })).toHaveLength(1);
    expect(d.match({ ...hit, logsource: { product: 'windows', category: 'process_creation' } })).toHaveLength(0);
  });

  it('strict pipelines reject rules using unmapped fields', () => {
    const strict = parsePipeline(`
name: strict-ecs
strict: true
allowed_fields: [host.name]
transformations:
  - type: field_name_mapping
    mapping: {Image: process.executable}
`);
    const d = new Detector(proc, { pipelines: [strict] });
    expect(d.rules).toHaveLength(0);
    expect(d.rejected[0]!.reason).toMatch(
      /unmapped_field: field CommandLine is not mapped by pipeline strict-ecs/,
    );
  });

  it('adds conditions, prefixes fields and supplies placeholder values', () => {
    const p = parsePipeline(`
name: extra
vars:
  Admins: [root, 'adm_*']
transformations:
  - type: add_condition
    conditions:
      Channel: Security
  - type: field_name_prefix_mapping
    mapping:
      'win.': 'Event.EventData.'
`);
    const d = new Detector(
      docs(`title: admin logon
id: 00000000-0000-4000-8000-000000000011
logsource: {product: windows}
detection:
    s:
        win.TargetUserName|expand: '%Admins%'
    condition: s
`),
      { pipelines: [p] },
    );
    expect(d.rejected).toEqual([]);
    expect(d.match(win('Security', 4624, { TargetUserName: 'adm_x' }))).toHaveLength(1);
    expect(d.match(win('System', 4624, { TargetUserName: 'adm_x' }))).toHaveLength(0);
    expect(d.match(win('Security', 4624, { TargetUserName: 'alice' }))).toHaveLength(0);
  });

  it('fails rules on request and refuses unknown transformation types', () => {
    const fail = parsePipeline({
      name: 'no-keywords',
      transformations: [
        {
          type: 'rule_failure',
          message: 'not for us',
          rule_conditions: [{ type: 'logsource', category: 'process_creation' }],
        },
      ],
    });
    expect(new Detector(proc, { pipelines: [fail] }).rejected[0]!.reason).toMatch(/not for us/);
    expect(() => parsePipeline('transformations:\n  - type: quantum_mapping\n')).toThrow(
      /unsupported type quantum_mapping/,
    );
    const itemFail = parsePipeline({
      transformations: [
        {
          type: 'detection_item_failure',
          message: 'no command lines',
          field_name_conditions: [{ type: 'include_fields', fields: ['CommandLine'] }],
        },
      ],
    });
    expect(new Detector(proc, { pipelines: [itemFail] }).rejected[0]!.reason).toMatch(
      /no command lines \(field CommandLine\)/,
    );
  });
});

describe('filters', () => {
  const text = `title: rar
id: 6f3e2987-db24-4c78-a860-b4f4095a7095
logsource: {product: windows, category: process_creation}
detection: {s: {Image|endswith: '\\rar.exe'}, condition: s}
---
title: other
id: 00000000-0000-4000-8000-000000000020
name: other_rule
logsource: {product: windows, category: process_creation}
detection: {s: {Image|endswith: '\\rar.exe'}, condition: s}
---
title: Filter Administrator account
id: 00000000-0000-4000-8000-000000000021
logsource: {product: windows, category: process_creation}
filter:
    rules:
        - 6f3e2987-db24-4c78-a860-b4f4095a7095
    selection:
        User|startswith: 'adm_'
    condition: not selection
`;
  it('adds the filter condition to the rules it names, by id or name', () => {
    const d = new Detector(docs(text));
    const ev = (user: string) => win(SYSMON, 1, { Image: 'C:\\rar.exe', User: user });
    expect(d.match(ev('adm_bob')).map((m) => m.title)).toEqual(['other']);
    expect(d.match(ev('bob')).map((m) => m.title)).toEqual(['rar', 'other']);
    const byName = new Detector(
      docs(
        text
          .replace('- 6f3e2987-db24-4c78-a860-b4f4095a7095 ', '- other_rule')
          .replace(/rules:\n {8}- 6f3e[^\n]*/, 'rules:\n        - other_rule'),
      ),
    );
    expect(byName.match(ev('adm_bob')).map((m) => m.title)).toEqual(['rar']);
    expect(d.rules[0]!.filters).toEqual(['00000000-0000-4000-8000-000000000021']);
  });

  it('does not apply to rules of another logsource', () => {
    const d = new Detector(
      docs(
        text.replace(
          'logsource: {product: windows, category: process_creation}\nfilter',
          'logsource: {product: windows, category: file_event}\nfilter',
        ),
      ),
    );
    expect(d.match(win(SYSMON, 1, { Image: 'C:\\rar.exe', User: 'adm_bob' }))).toHaveLength(2);
  });
});
