/**
 * Correlation rules (Sigma v2.1): event_count, value_count, temporal, temporal_ordered, value_sum, value_avg,
 * value_percentile, over sliding windows per group-by key, with field aliases and chains (a correlation may
 * refer to another correlation). The state is plain JSON (`snapshot()` / `restore()`) so it survives a restart.
 *
 * Semantics chosen where the specification leaves room, for a streaming engine:
 * - The window of a group is the `timespan` ending at the current event; older entries are dropped.
 * - Conditions with a lower bound (gt, gte, eq) are checked on each event; when one holds the correlation
 *   fires and the group starts afresh, so one burst gives one alert. value_percentile keeps its baseline.
 * - event_count and value_count with only upper bounds (lt, lte, neq: "fewer than N in the timespan") are
 *   checked when the window of the group closes — at the next event past it, or at `advance(now)`.
 * - temporal fires once every referred rule has matched within the timespan (or, with a condition, when the
 *   number of distinct rules that matched satisfies it); temporal_ordered also needs them in the given order.
 * - value_percentile: the share (in percent) of the group's events in the window whose field value equals the
 *   current event's is compared with the condition — "this process name is rare on this host".
 * - Events lacking a value_* field are ignored for that correlation; missing group-by fields group as null.
 */
import { TrucError } from '../../errors.js';
import type { MatchResult } from './detector.js';
import { accessor, EventView, type Accessor } from './event-view.js';
import type { Comparison, CorrelationRule, Rejection, SigmaDocument } from './types.js';

export interface CorrelationMatch {
  correlationId: string | undefined;
  correlationName: string | undefined;
  title: string;
  author: string | undefined;
  level: string | undefined;
  tags: string[];
  attack: string[];
  type: CorrelationRule['type'];
  /** The group-by values of the group that fired. */
  group: Record<string, unknown>;
  /** The aggregated value compared with the condition (count, distinct count, sum, average, percent). */
  value: number;
  /** Milliseconds since the epoch: first and last contributing event. */
  firstAt: number;
  lastAt: number;
  /** The event that made the correlation fire. */
  event: Record<string, unknown>;
  rule: CorrelationRule;
}

export interface CorrelatorOptions {
  /** Event time in ms; default: `@timestamp`, Windows `TimeCreated.SystemTime`, `timestamp`, else `now()`. */
  timestamp?: (event: Record<string, unknown>) => number | undefined;
  now?: () => number;
  /** Bounds against state exhaustion by a flood of distinct groups or events. */
  maxGroups?: number;
  maxEntriesPerGroup?: number;
}

/** Group state, JSON as is. */
interface GroupState {
  /** Group-by values. */
  g: unknown[];
  /** event_count: times. value_*: [time, value] pairs. */
  t?: number[];
  e?: [number, string | number][];
  /** temporal: last time per referred rule. temporal_ordered: latest chain start completing rules[0..i]. */
  last?: (number | null)[];
  /** Start of the window (upper-bound-only conditions). */
  w?: number;
  first?: number;
}

export interface CorrelatorState {
  version: 1;
  /** Correlation key (id, else title) → group key → state. */
  correlations: Record<string, Record<string, GroupState>>;
}

interface Input {
  /** Keys this input answers to: rule id and name. */
  keys: string[];
  event: Record<string, unknown>;
  at: number;
  /** Group values carried by a correlation match, by field name. */
  carried?: Record<string, unknown>;
}

interface Compiled {
  rule: CorrelationRule;
  key: string;
  /** For each group-by entry: per referred rule name, an accessor (alias) — or one accessor for all. */
  groupBy: { name: string; byRule: Map<string, Accessor>; plain: Accessor }[];
  field: Accessor[];
  eager: boolean;
  groups: Map<string, GroupState>;
}

const DEPTH = 8;

function timestampOf(event: Record<string, unknown>): number | undefined {
  const ts = event['@timestamp'] ?? event.timestamp;
  if (typeof ts === 'number') return ts;
  if (typeof ts === 'string') {
    const n = Date.parse(ts);
    if (!Number.isNaN(n)) return n;
  }
  const sys = (
    event.Event as { System?: { TimeCreated?: { '#attributes'?: { SystemTime?: unknown } } } } | undefined
  )?.System;
  const st = sys?.TimeCreated?.['#attributes']?.SystemTime;
  if (typeof st === 'string') {
    const n = Date.parse(st);
    if (!Number.isNaN(n)) return n;
  }
  return undefined;
}

function holds(cond: Partial<Record<Comparison, number>>, v: number): boolean {
  if (cond.gt !== undefined && !(v > cond.gt)) return false;
  if (cond.gte !== undefined && !(v >= cond.gte)) return false;
  if (cond.lt !== undefined && !(v < cond.lt)) return false;
  if (cond.lte !== undefined && !(v <= cond.lte)) return false;
  if (cond.eq !== undefined && !(v === cond.eq)) return false;
  if (cond.neq !== undefined && !(v !== cond.neq)) return false;
  return true;
}

function scalar(v: unknown): string | number | boolean | null {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return JSON.stringify(v);
  return null;
}

export class Correlator {
  readonly rejected: Rejection[] = [];
  private readonly compiled: Compiled[] = [];
  /** Rule id/name → correlations (indices) that refer to it. */
  private readonly consumers = new Map<string, number[]>();
  private readonly timestamp: (event: Record<string, unknown>) => number | undefined;
  private readonly now: () => number;
  private readonly maxGroups: number;
  private readonly maxEntries: number;

  constructor(documents: readonly SigmaDocument[], opts: CorrelatorOptions = {}) {
    this.timestamp = opts.timestamp ?? timestampOf;
    this.now = opts.now ?? Date.now;
    this.maxGroups = opts.maxGroups ?? 100_000;
    this.maxEntries = opts.maxEntriesPerGroup ?? 100_000;
    const known = new Set<string>();
    for (const d of documents) {
      if (d.id) known.add(d.id);
      if (d.name) known.add(d.name);
    }
    for (const d of documents) {
      if (d.kind !== 'correlation') continue;
      const missing = d.rules.filter((r) => !known.has(r));
      if (missing.length > 0) {
        this.rejected.push({
          file: d.origin.file,
          line: d.origin.line,
          rule: d.id ?? d.title,
          reason: `correlation refers to unknown rules: ${missing.join(', ')}`,
        });
        continue;
      }
      const aliasProblem = Object.entries(d.aliases).find(([, m]) =>
        Object.keys(m).some((r) => !d.rules.includes(r)),
      );
      if (aliasProblem) {
        this.rejected.push({
          file: d.origin.file,
          line: d.origin.line,
          rule: d.id ?? d.title,
          reason: `alias ${aliasProblem[0]} names a rule the correlation does not refer to`,
        });
        continue;
      }
      const c = d.condition;
      const eager =
        !['event_count', 'value_count'].includes(d.type) ||
        c.gt !== undefined ||
        c.gte !== undefined ||
        c.eq !== undefined;
      const index = this.compiled.length;
      this.compiled.push({
        rule: d,
        key: d.id ?? d.title,
        groupBy: d.groupBy.map((name) => ({
          name,
          byRule: new Map(Object.entries(d.aliases[name] ?? {}).map(([r, f]) => [r, accessor(f)])),
          plain: accessor(name),
        })),
        field: d.field.map((f) => accessor(f)),
        eager,
        groups: new Map(),
      });
      for (const r of d.rules) {
        const list = this.consumers.get(r) ?? [];
        if (!list.includes(index)) list.push(index);
        this.consumers.set(r, list);
      }
    }
  }

  /** Feeds one detection match; returns the correlations it completes (chained ones included). */
  process(match: MatchResult, at?: number): CorrelationMatch[] {
    const keys = [match.ruleId, match.ruleName].filter((k): k is string => typeof k === 'string');
    const time = at ?? this.timestamp(match.event) ?? this.now();
    const out: CorrelationMatch[] = [];
    this.feed({ keys, event: match.event, at: time }, out, 0);
    return out;
  }

  /** Closes the windows that ended before `now` (for "fewer than" conditions) and drops idle groups. */
  advance(now: number = this.now()): CorrelationMatch[] {
    const out: CorrelationMatch[] = [];
    this.compiled.forEach((c, ci) => {
      for (const [k, g] of c.groups) {
        if (!c.eager && g.w !== undefined && now > g.w + c.rule.timespan) {
          const fired = this.closeWindow(c, g);
          c.groups.delete(k);
          if (fired) {
            out.push(fired);
            this.chain(ci, fired, out, 0);
          }
        } else if (this.lastTime(g) < now - c.rule.timespan) {
          c.groups.delete(k);
        }
      }
    });
    return out;
  }

  snapshot(): CorrelatorState {
    const correlations: CorrelatorState['correlations'] = {};
    for (const c of this.compiled) {
      if (c.groups.size === 0) continue;
      correlations[c.key] = Object.fromEntries(structuredClone([...c.groups]));
    }
    return { version: 1, correlations };
  }

  /** Replaces the state with a snapshot; the snapshot is checked as untrusted input. */
  restore(state: unknown): void {
    const s = state as CorrelatorState;
    if (
      typeof s !== 'object' ||
      s === null ||
      s.version !== 1 ||
      typeof s.correlations !== 'object' ||
      s.correlations === null
    ) {
      throw new TrucError('bad_request', 'correlation state: not a version 1 snapshot');
    }
    const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
    for (const c of this.compiled) {
      c.groups.clear();
      const groups = Object.hasOwn(s.correlations, c.key) ? s.correlations[c.key] : undefined;
      if (!groups) continue;
      if (typeof groups !== 'object')
        throw new TrucError('bad_request', `correlation state of ${c.key} is not a map`);
      for (const [k, g] of Object.entries(groups)) {
        if (c.groups.size >= this.maxGroups) break;
        const ok =
          typeof g === 'object' &&
          g !== null &&
          Array.isArray(g.g) &&
          (g.t === undefined || (Array.isArray(g.t) && g.t.length <= this.maxEntries && g.t.every(num))) &&
          (g.e === undefined ||
            (Array.isArray(g.e) &&
              g.e.length <= this.maxEntries &&
              g.e.every((p) => Array.isArray(p) && num(p[0]) && (typeof p[1] === 'string' || num(p[1]))))) &&
          (g.last === undefined ||
            (Array.isArray(g.last) &&
              g.last.length === c.rule.rules.length &&
              g.last.every((x) => x === null || num(x)))) &&
          (g.w === undefined || num(g.w)) &&
          (g.first === undefined || num(g.first));
        if (!ok)
          throw new TrucError(
            'bad_request',
            `correlation state of ${c.key}, group ${k.slice(0, 80)} is malformed`,
          );
        c.groups.set(k, structuredClone(g));
      }
    }
  }

  private feed(input: Input, out: CorrelationMatch[], depth: number): void {
    if (depth > DEPTH) return;
    const seen = new Set<number>();
    for (const key of input.keys) {
      for (const ci of this.consumers.get(key) ?? []) {
        if (seen.has(ci)) continue;
        seen.add(ci);
        const c = this.compiled[ci]!;
        const fired = this.step(c, input, key);
        if (fired) {
          out.push(fired);
          this.chain(ci, fired, out, depth);
        }
      }
    }
  }

  private chain(ci: number, fired: CorrelationMatch, out: CorrelationMatch[], depth: number): void {
    const c = this.compiled[ci]!;
    const keys = [c.rule.id, c.rule.name].filter((k): k is string => typeof k === 'string');
    this.feed({ keys, event: fired.event, at: fired.lastAt, carried: fired.group }, out, depth + 1);
  }

  private groupOf(c: Compiled, input: Input, ref: string): { key: string; values: unknown[] } {
    const view = new EventView(input.event);
    const values = c.groupBy.map((gb) => {
      if (input.carried && Object.hasOwn(input.carried, gb.name)) return input.carried[gb.name];
      const get = gb.byRule.get(ref) ?? gb.plain;
      return scalar(get(view));
    });
    return { key: JSON.stringify(values), values };
  }

  private lastTime(g: GroupState): number {
    if (g.t?.length) return g.t[g.t.length - 1]!;
    if (g.e?.length) return g.e[g.e.length - 1]![0];
    if (g.last) return Math.max(...g.last.map((x) => x ?? -Infinity));
    return g.first ?? -Infinity;
  }

  private touch(c: Compiled, key: string, values: unknown[]): GroupState {
    let g = c.groups.get(key);
    if (g) {
      // Re-insert: Map order then tells the least recently used group.
      c.groups.delete(key);
    } else {
      g = { g: values };
      if (c.groups.size >= this.maxGroups) c.groups.delete(c.groups.keys().next().value!);
    }
    c.groups.set(key, g);
    return g;
  }

  private result(
    c: Compiled,
    g: GroupState,
    value: number,
    first: number,
    last: number,
    event: Record<string, unknown>,
  ): CorrelationMatch {
    const r = c.rule;
    return {
      correlationId: r.id,
      correlationName: r.name,
      title: r.title,
      author: r.author,
      level: r.level,
      tags: r.tags,
      attack: r.tags.filter((t) => t.startsWith('attack.')),
      type: r.type,
      group: Object.fromEntries(c.groupBy.map((gb, i) => [gb.name, g.g[i] ?? null])),
      value,
      firstAt: first,
      lastAt: last,
      event,
      rule: r,
    };
  }

  /** Evaluates a closed window of an upper-bound-only event_count/value_count group. */
  private closeWindow(c: Compiled, g: GroupState): CorrelationMatch | undefined {
    const value =
      c.rule.type === 'event_count' ? (g.t?.length ?? 0) : new Set((g.e ?? []).map((p) => p[1])).size;
    if (!holds(c.rule.condition, value)) return undefined;
    const end = g.w! + c.rule.timespan;
    return this.result(c, g, value, g.w!, end, {});
  }

  private step(c: Compiled, input: Input, ref: string): CorrelationMatch | undefined {
    const r = c.rule;
    const t = input.at;
    const { key, values } = this.groupOf(c, input, ref);
    const span = r.timespan;
    const existing = c.groups.get(key);
    let closed: CorrelationMatch | undefined;
    if (!c.eager && existing?.w !== undefined && t > existing.w + span) {
      closed = this.closeWindow(c, existing);
      c.groups.delete(key);
    }
    const g = this.touch(c, key, values);
    const from = t - span;
    switch (r.type) {
      case 'event_count': {
        g.t ??= [];
        g.w ??= t;
        g.t.push(t);
        if (c.eager) dropOld(g.t, from, (x) => x);
        if (g.t.length > this.maxEntries) g.t.shift();
        if (c.eager && holds(r.condition, g.t.length)) {
          const m = this.result(c, g, g.t.length, g.t[0]!, t, input.event);
          c.groups.delete(key);
          return m;
        }
        return closed;
      }
      case 'value_count':
      case 'value_sum':
      case 'value_avg':
      case 'value_percentile': {
        const view = new EventView(input.event);
        const parts = c.field.map((get) => scalar(get(view)));
        if (parts.some((p) => p === null)) return closed;
        let v: string | number;
        if (r.type === 'value_sum' || r.type === 'value_avg') {
          const n = Number(parts[0]);
          if (!Number.isFinite(n)) return closed;
          v = n;
        } else {
          v = parts.length === 1 ? String(parts[0]) : JSON.stringify(parts);
        }
        g.e ??= [];
        g.w ??= t;
        g.e.push([t, v]);
        if (c.eager) dropOld(g.e, from, (p) => p[0]);
        if (g.e.length > this.maxEntries) g.e.shift();
        if (!c.eager) return closed;
        let value: number;
        if (r.type === 'value_count') value = new Set(g.e.map((p) => p[1])).size;
        else if (r.type === 'value_sum') value = g.e.reduce((a, p) => a + (p[1] as number), 0);
        else if (r.type === 'value_avg') value = g.e.reduce((a, p) => a + (p[1] as number), 0) / g.e.length;
        else value = (100 * g.e.filter((p) => p[1] === v).length) / g.e.length;
        if (!holds(r.condition, value)) return closed;
        const m = this.result(c, g, value, g.e[0]![0], t, input.event);
        if (r.type !== 'value_percentile') c.groups.delete(key);
        return m;
      }
      case 'temporal':
      case 'temporal_ordered': {
        const n = r.rules.length;
        g.last ??= new Array<number | null>(n).fill(null);
        const last = g.last;
        for (let i = 0; i < n; i++) if (last[i] !== null && last[i]! < from) last[i] = null;
        const positions = r.rules.flatMap((x, i) => (input.keys.includes(x) ? [i] : []));
        if (r.type === 'temporal') {
          for (const i of positions) last[i] = t;
          const present = last.filter((x) => x !== null) as number[];
          const ok =
            Object.keys(r.condition).length > 0 ? holds(r.condition, present.length) : present.length === n;
          if (ok) {
            const m = this.result(c, g, present.length, Math.min(...present), t, input.event);
            c.groups.delete(key);
            return m;
          }
          return closed;
        }
        // Ordered: last[i] is the latest start of a chain matching rules[0..i] in order. Later positions first,
        // so that one event never counts for two consecutive steps.
        for (const i of [...positions].sort((a, b) => b - a)) {
          if (i === 0) last[0] = t;
          else if (last[i - 1] !== null) last[i] = Math.max(last[i] ?? -Infinity, last[i - 1]!);
        }
        const start = last[n - 1];
        const done = start !== null && start >= from;
        const steps = last.filter((x) => x !== null).length;
        const ok = Object.keys(r.condition).length > 0 ? holds(r.condition, steps) && done : done;
        if (ok) {
          const m = this.result(c, g, n, start!, t, input.event);
          c.groups.delete(key);
          return m;
        }
        return closed;
      }
    }
  }
}

function dropOld<T>(list: T[], from: number, time: (x: T) => number): void {
  let k = 0;
  while (k < list.length && time(list[k]!) < from) k++;
  if (k > 0) list.splice(0, k);
}
