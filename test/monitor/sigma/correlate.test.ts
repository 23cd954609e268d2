/**
 * Correlation rules: one test per type with events that must and must not complete it, aliases, chains,
 * the generate flag, and snapshot/restore in the middle of a window.
 */
import { describe, expect, it } from 'vitest';
import { Correlator, Engine, parseRules, type SigmaDocument } from '../../../src/monitor/sigma/index.js';

const BASE = `title: failed login
id: 00000000-0000-4000-8000-000000000001
name: failed_login
logsource: {product: test}
detection: {s: {action: fail}, condition: s}
---
title: successful login
id: 00000000-0000-4000-8000-000000000002
name: successful_login
logsource: {product: test}
detection: {s: {action: ok}, condition: s}
---
title: transfer
id: 00000000-0000-4000-8000-000000000003
name: transfer
logsource: {product: test}
detection: {s: {action: transfer}, condition: s}
`;

function engine(correlation: string, opts = {}): Engine {
  const r = parseRules(`${BASE}---\n${correlation}`, 'c.yml');
  if (r.rejected.length) throw new Error(r.rejected.map((x) => x.reason).join('; '));
  const e = new Engine(r.documents, opts);
  if (e.rejected.length) throw new Error(e.rejected.map((x) => x.reason).join('; '));
  return e;
}

const T0 = Date.parse('2025-01-01T00:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const ev = (s: number, fields: Record<string, unknown>) => ({
  '@timestamp': at(s),
  logsource: { product: 'test' },
  ...fields,
});

/** Feeds events, returns the titles of correlations fired after each. */
function run(e: Engine, events: Record<string, unknown>[]): string[][] {
  return events.map((x) => e.process(x).correlations.map((c) => `${c.title}:${c.value}`));
}

describe('event_count', () => {
  const rule = `title: brute force
id: 00000000-0000-4000-8000-0000000000c1
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [user]
    timespan: 1m
    condition: {gte: 3}
`;
  it('fires when the count in the sliding window reaches the condition, per group', () => {
    const e = engine(rule);
    const out = run(e, [
      ev(0, { action: 'fail', user: 'a' }),
      ev(10, { action: 'fail', user: 'b' }),
      ev(20, { action: 'fail', user: 'a' }),
      ev(30, { action: 'ok', user: 'a' }),
      ev(40, { action: 'fail', user: 'a' }),
    ]);
    expect(out).toEqual([[], [], [], [], ['brute force:3']]);
  });

  it('does not fire when the events are spread wider than the timespan', () => {
    const e = engine(rule);
    expect(
      run(e, [
        ev(0, { action: 'fail', user: 'a' }),
        ev(40, { action: 'fail', user: 'a' }),
        ev(70, { action: 'fail', user: 'a' }),
        ev(110, { action: 'fail', user: 'a' }),
      ]).flat(),
    ).toEqual([]);
  });

  it('checks "fewer than" conditions when the window closes', () => {
    const e = engine(rule.replace('{gte: 3}', '{lt: 2}'));
    const c = e.correlator;
    expect(run(e, [ev(0, { action: 'fail', user: 'a' })]).flat()).toEqual([]);
    // Next event for the same user after the window: the first window (1 event) satisfies lt 2.
    expect(run(e, [ev(61, { action: 'fail', user: 'a' }), ev(62, { action: 'fail', user: 'a' })])).toEqual([
      ['brute force:1'],
      [],
    ]);
    // The second window holds 2 events: advancing past it fires nothing.
    expect(c.advance(T0 + 200_000)).toEqual([]);
  });
});

describe('value_count', () => {
  const rule = `title: spraying
id: 00000000-0000-4000-8000-0000000000c2
correlation:
    type: value_count
    rules: [failed_login]
    group-by: [source]
    timespan: 10m
    condition: {field: user, gte: 3}
`;
  it('counts distinct values', () => {
    const e = engine(rule);
    const out = run(e, [
      ev(0, { action: 'fail', source: '1.2.3.4', user: 'a' }),
      ev(1, { action: 'fail', source: '1.2.3.4', user: 'a' }),
      ev(2, { action: 'fail', source: '1.2.3.4', user: 'b' }),
      ev(3, { action: 'fail', source: '5.6.7.8', user: 'c' }),
      ev(4, { action: 'fail', source: '1.2.3.4', user: 'c' }),
    ]);
    expect(out).toEqual([[], [], [], [], ['spraying:3']]);
  });
  it('ignores events without the field and repeated values', () => {
    const e = engine(rule);
    expect(
      run(e, [
        ev(0, { action: 'fail', source: 's', user: 'a' }),
        ev(1, { action: 'fail', source: 's' }),
        ev(2, { action: 'fail', source: 's', user: 'a' }),
        ev(3, { action: 'fail', source: 's', user: 'b' }),
      ]).flat(),
    ).toEqual([]);
  });
});

describe('temporal', () => {
  const rule = `title: both
id: 00000000-0000-4000-8000-0000000000c3
correlation:
    type: temporal
    rules: [failed_login, transfer]
    group-by: [user]
    timespan: 5m
`;
  it('fires when every rule matched within the timespan, in any order', () => {
    const e = engine(rule);
    expect(
      run(e, [
        ev(0, { action: 'transfer', user: 'a' }),
        ev(10, { action: 'fail', user: 'b' }),
        ev(20, { action: 'fail', user: 'a' }),
      ]),
    ).toEqual([[], [], ['both:2']]);
  });
  it('does not fire across groups or outside the timespan', () => {
    const e = engine(rule);
    expect(
      run(e, [
        ev(0, { action: 'transfer', user: 'a' }),
        ev(400, { action: 'fail', user: 'a' }),
        ev(401, { action: 'transfer', user: 'b' }),
      ]).flat(),
    ).toEqual([]);
  });
});

describe('temporal_ordered', () => {
  const rule = `title: fail then success
id: 00000000-0000-4000-8000-0000000000c4
correlation:
    type: temporal_ordered
    rules: [failed_login, successful_login]
    group-by: [user]
    timespan: 5m
`;
  it('fires when the rules match in the given order', () => {
    const e = engine(rule);
    expect(run(e, [ev(0, { action: 'fail', user: 'a' }), ev(30, { action: 'ok', user: 'a' })])).toEqual([
      [],
      ['fail then success:2'],
    ]);
  });
  it('does not fire in the wrong order or too late', () => {
    const e = engine(rule);
    expect(
      run(e, [ev(0, { action: 'ok', user: 'a' }), ev(30, { action: 'fail', user: 'a' })]).flat(),
    ).toEqual([]);
    const late = engine(rule);
    expect(
      run(late, [ev(0, { action: 'fail', user: 'b' }), ev(301, { action: 'ok', user: 'b' })]).flat(),
    ).toEqual([]);
  });
});

describe('value_sum, value_avg, value_percentile', () => {
  const corr = (type: string, cond: string) => `title: ${type}
id: 00000000-0000-4000-8000-0000000000c5
correlation:
    type: ${type}
    rules: [transfer]
    group-by: [user]
    timespan: 1h
    condition: ${cond}
`;
  it('value_sum fires when the sum in the window passes the bound', () => {
    const e = engine(corr('value_sum', '{field: bytes, gt: 1000}'));
    expect(
      run(e, [
        ev(0, { action: 'transfer', user: 'a', bytes: 600 }),
        ev(1, { action: 'transfer', user: 'b', bytes: 600 }),
        ev(2, { action: 'transfer', user: 'a', bytes: '500' }),
      ]),
    ).toEqual([[], [], ['value_sum:1100']]);
    const e2 = engine(corr('value_sum', '{field: bytes, gt: 1000}'));
    expect(
      run(e2, [
        ev(0, { action: 'transfer', user: 'a', bytes: 600 }),
        ev(3601, { action: 'transfer', user: 'a', bytes: 600 }),
        ev(3602, { action: 'transfer', user: 'a', bytes: 'n/a' }),
      ]).flat(),
    ).toEqual([]);
  });
  it('value_avg compares the average', () => {
    const e = engine(corr('value_avg', '{field: bytes, gt: 500}'));
    expect(
      run(e, [
        ev(0, { action: 'transfer', user: 'a', bytes: 100 }),
        ev(1, { action: 'transfer', user: 'a', bytes: 800 }),
        ev(2, { action: 'transfer', user: 'a', bytes: 1000 }),
      ]),
    ).toEqual([[], [], ['value_avg:633.3333333333334']]);
    const low = engine(corr('value_avg', '{field: bytes, gt: 500}'));
    expect(
      run(low, [
        ev(0, { action: 'transfer', user: 'a', bytes: 100 }),
        ev(1, { action: 'transfer', user: 'a', bytes: 200 }),
      ]).flat(),
    ).toEqual([]);
  });
  it('value_percentile flags a value rare among the group’s events', () => {
    const e = engine(corr('value_percentile', '{field: image, lte: 10}'));
    const common = Array.from({ length: 10 }, (_, i) =>
      ev(i, { action: 'transfer', user: 'h', image: 'svchost.exe' }),
    );
    expect(run(e, common).flat()).toEqual([]);
    expect(run(e, [ev(20, { action: 'transfer', user: 'h', image: 'evil.exe' })])).toEqual([
      ['value_percentile:9.090909090909092'],
    ]);
    expect(run(e, [ev(21, { action: 'transfer', user: 'h', image: 'svchost.exe' })]).flat()).toEqual([]);
  });
});

describe('aliases, chains and generate', () => {
  it('groups across rules through aliases', () => {
    const e = engine(`title: same host
id: 00000000-0000-4000-8000-0000000000c6
correlation:
    type: temporal
    rules: [failed_login, transfer]
    group-by: [host]
    timespan: 1m
    aliases:
        host:
            failed_login: destination.ip
            transfer: source.ip
`);
    expect(
      run(e, [
        ev(0, { action: 'fail', destination: { ip: '10.0.0.1' } }),
        ev(1, { action: 'transfer', source: { ip: '10.0.0.2' } }),
        ev(2, { action: 'transfer', source: { ip: '10.0.0.1' } }),
      ]),
    ).toEqual([[], [], ['same host:2']]);
  });

  it('chains correlations: many failures then a success (the specification example)', () => {
    const e = engine(`title: Many failed then success
id: 00000000-0000-4000-8000-0000000000c7
correlation:
    type: temporal_ordered
    rules: [multiple_failed_login, successful_login]
    group-by: [user]
    timespan: 10m
---
title: Multiple failed logons
id: 00000000-0000-4000-8000-0000000000c8
name: multiple_failed_login
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [user]
    timespan: 10m
    condition: {gte: 3}
`);
    const fails = [0, 1, 2].map((s) => ev(s, { action: 'fail', user: 'a' }));
    expect(run(e, [...fails, ev(5, { action: 'ok', user: 'a' })])).toEqual([
      [],
      [],
      ['Multiple failed logons:3'],
      ['Many failed then success:2'],
    ]);
    // Two failures only: no chain.
    const e2 = engine(`title: Many failed then success
id: 00000000-0000-4000-8000-0000000000c7
correlation:
    type: temporal_ordered
    rules: [multiple_failed_login, successful_login]
    group-by: [user]
    timespan: 10m
---
title: Multiple failed logons
id: 00000000-0000-4000-8000-0000000000c8
name: multiple_failed_login
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [user]
    timespan: 10m
    condition: {gte: 3}
`);
    expect(
      run(e2, [
        ev(0, { action: 'fail', user: 'a' }),
        ev(1, { action: 'fail', user: 'a' }),
        ev(5, { action: 'ok', user: 'a' }),
      ]).flat(),
    ).toEqual([]);
  });

  it('rules referred by a correlation alert on their own only with generate: true', () => {
    const quiet = engine(`title: c
id: 00000000-0000-4000-8000-0000000000c9
correlation: {type: event_count, rules: [failed_login], group-by: [user], timespan: 1m, condition: {gte: 5}}
`);
    const r1 = quiet.process(ev(0, { action: 'fail', user: 'a' }));
    expect(r1.matches).toHaveLength(1);
    expect(r1.alerts).toHaveLength(0);
    expect(quiet.process(ev(0, { action: 'transfer' })).alerts).toHaveLength(1);
    const loud = engine(`title: c
id: 00000000-0000-4000-8000-0000000000c9
correlation: {type: event_count, rules: [failed_login], group-by: [user], timespan: 1m, condition: {gte: 5}, generate: true}
`);
    expect(loud.process(ev(0, { action: 'fail', user: 'a' })).alerts).toHaveLength(1);
  });

  it('rejects correlations referring to unknown rules', () => {
    const r = parseRules(
      `title: c\nid: 00000000-0000-4000-8000-0000000000ca\ncorrelation: {type: temporal, rules: [nope, failed_login], group-by: [u], timespan: 1m}\n`,
      'c.yml',
    );
    const c = new Correlator([...parseRules(BASE, 'b.yml').documents, ...r.documents]);
    expect(c.rejected[0]!.reason).toMatch(/unknown rules: nope/);
  });
});

describe('snapshot and restore', () => {
  const rule = `title: brute force
id: 00000000-0000-4000-8000-0000000000cb
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [user]
    timespan: 1m
    condition: {gte: 3}
---
title: ordered
id: 00000000-0000-4000-8000-0000000000cc
correlation:
    type: temporal_ordered
    rules: [failed_login, transfer, successful_login]
    group-by: [user]
    timespan: 1m
`;
  it('a restored correlator continues the windows where the old one stopped', () => {
    const before = engine(rule);
    run(before, [
      ev(0, { action: 'fail', user: 'a' }),
      ev(10, { action: 'fail', user: 'a' }),
      ev(15, { action: 'transfer', user: 'a' }),
    ]);
    const state = JSON.parse(JSON.stringify(before.correlator.snapshot())) as unknown;
    const after = engine(rule);
    after.correlator.restore(state);
    expect(run(after, [ev(20, { action: 'fail', user: 'a' })])).toEqual([['brute force:3']]);
    expect(run(after, [ev(25, { action: 'ok', user: 'a' })])).toEqual([['ordered:3']]);
    // Without the state, the same events fire nothing.
    const fresh = engine(rule);
    expect(
      run(fresh, [ev(20, { action: 'fail', user: 'a' }), ev(25, { action: 'ok', user: 'a' })]).flat(),
    ).toEqual([]);
  });

  // Every correlation type: events before the restart, events after; the restored engine completes the
  // correlation, a fresh one given only the later events does not.
  const corr = (type: string, rules: string, extra: string) => `title: ${type} across a restart
id: 00000000-0000-4000-8000-0000000000d1
correlation:
    type: ${type}
    rules: [${rules}]
    group-by: [user]
    timespan: 1m
${extra}`;
  const u = (s: number, action: string, more: Record<string, unknown> = {}) => ev(s, { action, user: 'a', ...more });
  const cases: [string, string, Record<string, unknown>[], Record<string, unknown>[], string][] = [
    [corr('event_count', 'failed_login', '    condition: {gte: 3}\n'), 'gte', [u(0, 'fail'), u(10, 'fail')], [u(20, 'fail')], 'event_count across a restart:3'],
    // "fewer than": the window opened before the restart closes after it
    [corr('event_count', 'failed_login', '    condition: {lt: 2}\n'), 'lt', [u(0, 'fail')], [u(61, 'fail')], 'event_count across a restart:1'],
    [corr('value_count', 'failed_login', '    condition: {field: host, gte: 3}\n'), 'gte', [u(0, 'fail', { host: 'h1' }), u(1, 'fail', { host: 'h2' })], [u(2, 'fail', { host: 'h3' })], 'value_count across a restart:3'],
    [corr('temporal', 'failed_login, transfer', ''), '', [u(0, 'transfer')], [u(30, 'fail')], 'temporal across a restart:2'],
    [corr('temporal_ordered', 'failed_login, successful_login', ''), '', [u(0, 'fail')], [u(30, 'ok')], 'temporal_ordered across a restart:2'],
    [corr('value_sum', 'transfer', '    condition: {field: bytes, gt: 1000}\n'), 'gt', [u(0, 'transfer', { bytes: 600 })], [u(1, 'transfer', { bytes: 500 })], 'value_sum across a restart:1100'],
    // the average of 1000 (before) and 100 (after) is in range; either alone is not
    [corr('value_avg', 'transfer', '    condition: {field: bytes, gt: 400, lt: 600}\n'), 'gt, lt', [u(0, 'transfer', { bytes: 1000 })], [u(2, 'transfer', { bytes: 100 })], 'value_avg across a restart:550'],
    [
      corr('value_percentile', 'transfer', '    condition: {field: image, lte: 10}\n'),
      'lte',
      Array.from({ length: 10 }, (_, i) => u(i, 'transfer', { image: 'svchost.exe' })),
      [u(20, 'transfer', { image: 'evil.exe' })],
      'value_percentile across a restart:9.090909090909092',
    ],
  ];
  for (const [text, bound, before, after, fired] of cases) {
    const type = /type: (\w+)/.exec(text)![1];
    it(`${type}${bound ? ` (${bound})` : ''}: the state of an open window survives a restart`, () => {
      const old = engine(text);
      expect(run(old, before).flat()).toEqual([]);
      const saved = JSON.parse(JSON.stringify(old.correlator.snapshot())) as unknown;
      const restarted = engine(text);
      restarted.correlator.restore(saved);
      expect(run(restarted, after).flat()).toEqual([fired]);
      expect(run(engine(text), after).flat()).toEqual([]);
    });
  }

  it('a restored window still expires', () => {
    const before = engine(rule);
    run(before, [ev(0, { action: 'fail', user: 'a' }), ev(10, { action: 'fail', user: 'a' })]);
    const after = engine(rule);
    after.correlator.restore(before.correlator.snapshot());
    expect(run(after, [ev(65, { action: 'fail', user: 'a' })]).flat()).toEqual([]);
  });

  it('refuses malformed state', () => {
    const e = engine(rule);
    expect(() => e.correlator.restore({ version: 2 })).toThrow(/version 1/);
    expect(() =>
      e.correlator.restore({
        version: 1,
        correlations: { '00000000-0000-4000-8000-0000000000cb': { x: { g: [], t: ['soon'] } } },
      }),
    ).toThrow(/malformed/);
  });

  it('bounds the number of groups', () => {
    const r = parseRules(`${BASE}---\n${rule}`, 'c.yml');
    const e = new Engine(r.documents as SigmaDocument[], { maxGroups: 10 });
    for (let i = 0; i < 100; i++) e.process(ev(i, { action: 'fail', user: `u${i}` }));
    const groups = e.correlator.snapshot().correlations['00000000-0000-4000-8000-0000000000cb']!;
    expect(Object.keys(groups)).toHaveLength(10);
  });
});
