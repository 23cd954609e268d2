/**
 * The detector: a set of compiled rules, routed by logsource and pre-selected by the literal index, that
 * returns for an event the rules it matches. Rules that fail to compile are reported, never fatal.
 */
import { isTrucError } from '../../errors.js';
import { compileRule, type CompileOptions, type CompiledRule } from './compile.js';
import { EventView } from './event-view.js';
import { LiteralIndex, type IndexOptions, type ScanPlan } from './literal-index.js';
import { useful } from './literals.js';
import { deriveLogsource, logsourceSignature, routes, type EventLogsource } from './logsource.js';
import type { Rejection, SigmaDocument, SigmaFilter, SigmaRule } from './types.js';

export interface MatchResult {
  ruleId: string | undefined;
  ruleName: string | undefined;
  title: string;
  /** Kept on every alert: the Detection Rule License requires the author to travel with it. */
  author: string | undefined;
  level: string | undefined;
  tags: string[];
  /** The ATT&CK subset of `tags` (`attack.*`). */
  attack: string[];
  /** False when the rule is only an input of correlations (their `generate` is false). */
  generate: boolean;
  rule: SigmaRule;
  event: Record<string, unknown>;
}

export interface DetectorOptions extends CompileOptions {
  /** Use the literal index (default true). Off, every routed rule is evaluated: same results, slower. */
  index?: boolean;
  indexOptions?: IndexOptions;
  /** Overrides how an event's logsource is found. */
  logsource?: (event: Record<string, unknown>) => EventLogsource | undefined;
}

interface Route {
  /** Routed rules that the index cannot pre-select, ascending. */
  always: Int32Array;
  /** 1 for rules routed to this logsource. */
  allowed: Uint8Array;
  /** Every routed rule, ascending (for evaluation without the index). */
  all: Int32Array;
  plan: ScanPlan | undefined;
}

const MAX_ROUTES = 4096;

/** Ascending order for the few candidates of an event: insertion sort, no comparator calls. */
function sortSmall(a: number[]): void {
  if (a.length > 32) {
    a.sort((x, y) => x - y);
    return;
  }
  for (let i = 1; i < a.length; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}

export class Detector {
  readonly rules: CompiledRule[] = [];
  readonly rejected: Rejection[] = [];
  private readonly index: LiteralIndex | undefined;
  private readonly indexed: Uint8Array;
  private readonly routeCache = new Map<string, Route>();
  private readonly stamp: Uint32Array;
  private tick = 0;
  private readonly resolve: (event: Record<string, unknown>) => EventLogsource | undefined;
  private readonly generate: Uint8Array;
  /** Each rule's ATT&CK tags (`attack.*`), worked out once rather than at every match. */
  private readonly attack: readonly string[][];
  // The scan's state: its callback is made once, not at every event, and collects into one reused array.
  private allowed: Uint8Array = new Uint8Array(0);
  private readonly candidates: number[] = [];
  private readonly collect = (i: number): void => {
    if (this.allowed[i] && this.stamp[i] !== this.tick) {
      this.stamp[i] = this.tick;
      this.candidates.push(i);
    }
  };

  constructor(documents: readonly SigmaDocument[], opts: DetectorOptions = {}) {
    const filters = [
      ...(opts.filters ?? []),
      ...documents.filter((d): d is SigmaFilter => d.kind === 'filter'),
    ];
    const refs = new Map<string, boolean>();
    for (const d of documents) {
      if (d.kind !== 'correlation') continue;
      for (const r of d.rules) refs.set(r, (refs.get(r) ?? false) || d.generate);
    }
    const gen: number[] = [];
    for (const d of documents) {
      if (d.kind !== 'rule') continue;
      try {
        this.rules.push(compileRule(d, { ...opts, filters }));
        const keys = [d.id, d.name].filter((k): k is string => k !== undefined && refs.has(k));
        gen.push(keys.length === 0 || keys.some((k) => refs.get(k)) ? 1 : 0);
      } catch (e) {
        if (!isTrucError(e)) throw e;
        this.rejected.push({
          file: d.origin.file,
          line: d.origin.line,
          rule: d.id ?? d.title,
          reason: `${e.code}: ${e.message}`,
        });
      }
    }
    this.generate = Uint8Array.from(gen);
    this.attack = this.rules.map((r) => Object.freeze(r.rule.tags.filter((t) => t.startsWith('attack.'))) as string[]);
    this.resolve = opts.logsource ?? deriveLogsource;
    this.stamp = new Uint32Array(this.rules.length);
    this.indexed = new Uint8Array(this.rules.length);
    if (opts.index !== false) {
      const entries = this.rules.flatMap((r, i) =>
        useful(r.literals) ? [{ rule: i, literals: r.literals }] : [],
      );
      this.index = new LiteralIndex(entries, this.rules.length, opts.indexOptions);
      for (const e of entries) this.indexed[e.rule] = 1;
      for (const u of this.index.unindexed) this.indexed[u] = 0;
    }
  }

  /** Statistics for reports and benchmarks. */
  stats(): { rules: number; indexed: number; literals: number; fields: number } {
    return {
      rules: this.rules.length,
      indexed: this.indexed.reduce((a, b) => a + b, 0),
      literals: this.index?.literals ?? 0,
      fields: this.index?.fieldCount ?? 0,
    };
  }

  private route(ls: EventLogsource | undefined, sig: string): Route {
    let r = this.routeCache.get(sig);
    if (r) return r;
    const allowed = new Uint8Array(this.rules.length);
    const always: number[] = [];
    const all: number[] = [];
    this.rules.forEach((rule, i) => {
      if (!routes(rule.logsource, ls)) return;
      allowed[i] = 1;
      all.push(i);
      if (!this.indexed[i]) always.push(i);
    });
    r = {
      always: Int32Array.from(always),
      allowed,
      all: Int32Array.from(all),
      plan: this.index?.plan(allowed),
    };
    if (this.routeCache.size >= MAX_ROUTES) this.routeCache.clear();
    this.routeCache.set(sig, r);
    return r;
  }

  /**
   * Indices of the rules an event matches, ascending. `signature`: logsourceSignature of the logsource, when the
   * caller has it already (truc hunt picks its detector by it).
   */
  matchIndices(
    event: Record<string, unknown>,
    logsource?: EventLogsource,
    useIndex = true,
    view = new EventView(event),
    signature?: string,
  ): number[] {
    const ls = logsource ?? this.resolve(event);
    const route = this.route(ls, signature ?? logsourceSignature(ls));
    const out: number[] = [];
    if (!this.index || !route.plan || !useIndex || (route.plan.keywords && (view.foldedText(this.index.keywordMin), view.truncated))) {
      for (let k = 0; k < route.all.length; k++) {
        const i = route.all[k]!;
        if (this.rules[i]!.test(view)) out.push(i);
      }
      return out;
    }
    if (++this.tick === 0xffffffff) this.resetStamps();
    this.allowed = route.allowed;
    const candidates = this.candidates;
    candidates.length = 0;
    this.index.scan(view, route.plan, this.collect);
    for (let k = 0; k < route.always.length; k++) candidates.push(route.always[k]!);
    if (candidates.length > 1) sortSmall(candidates);
    // reused by the next event; a rule's test never calls back into this detector
    const n = candidates.length;
    for (let k = 0; k < n; k++) {
      const i = candidates[k]!;
      if (this.rules[i]!.test(view)) out.push(i);
    }
    return out;
  }

  private resetStamps(): void {
    this.stamp.fill(0);
    this.tick = 1;
  }

  /**
   * The rules an event matches. `view`: a view of `event` the caller keeps using after (to look at the
   * fields again), so that what it worked out — flattened Windows containers, folded values — is done once.
   */
  match(event: Record<string, unknown>, logsource?: EventLogsource, view?: EventView, signature?: string): MatchResult[] {
    return this.matchIndices(event, logsource, true, view, signature).map((i) => this.result(i, event));
  }

  /** Same as `match` without the literal index: the reference the index is tested against. */
  matchUnindexed(event: Record<string, unknown>, logsource?: EventLogsource): MatchResult[] {
    return this.matchIndices(event, logsource, false).map((i) => this.result(i, event));
  }

  private result(i: number, event: Record<string, unknown>): MatchResult {
    const r = this.rules[i]!.rule;
    return {
      ruleId: r.id,
      ruleName: r.name,
      title: r.title,
      author: r.author,
      level: r.level,
      tags: r.tags,
      attack: this.attack[i]!,
      generate: this.generate[i] === 1,
      rule: r,
      event,
    };
  }
}
