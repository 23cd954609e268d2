/**
 * Compiling a rule once into a predicate: each search identifier becomes a closure (field-test.ts), the
 * condition is parsed and folded into closures over those, and nothing of the AST is interpreted per event.
 * Processing pipelines rewrite the detection first; filters add their condition with AND. The result also
 * carries the rule's required literals for the index.
 */
import { TrucError } from '../../errors.js';
import { expandPattern, parseCondition, type Condition } from './condition.js';
import { readDetection, type Detection, type SearchNode } from './detection.js';
import type { EventView } from './event-view.js';
import { compileItem, type Compiled, type ItemContext, type Test } from './field-test.js';
import { allOf, anyOf, type Literals } from './literals.js';
import { applyPipelines, pipelineVars, type Pipeline } from './pipeline.js';
import type { Logsource, SigmaFilter, SigmaRule } from './types.js';

export interface CompileOptions extends ItemContext {
  pipelines?: readonly Pipeline[];
  /** Filters to apply; only those naming this rule (by id or name) and whose logsource it satisfies count. */
  filters?: readonly SigmaFilter[];
}

export interface RoutingKey {
  product?: string;
  category?: string;
  service?: string;
}

export interface CompiledRule {
  rule: SigmaRule;
  /** Logsource after pipelines, lower-cased. */
  logsource: RoutingKey;
  test: (v: EventView) => boolean;
  literals: Literals;
  /** Filters that were applied. */
  filters: string[];
}

function and(tests: Test[]): Test {
  if (tests.length === 1) return tests[0]!;
  if (tests.length === 2) {
    const [a, b] = tests as [Test, Test];
    return (v) => a(v) && b(v);
  }
  return (v) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i]!(v)) return false;
    return true;
  };
}

function or(tests: Test[]): Test {
  if (tests.length === 1) return tests[0]!;
  if (tests.length === 2) {
    const [a, b] = tests as [Test, Test];
    return (v) => a(v) || b(v);
  }
  return (v) => {
    for (let i = 0; i < tests.length; i++) if (tests[i]!(v)) return true;
    return false;
  };
}

function atLeast(n: number, tests: Test[]): Test {
  return (v) => {
    let c = 0;
    for (let i = 0; i < tests.length; i++) if (tests[i]!(v) && ++c >= n) return true;
    return false;
  };
}

function compileSearch(node: SearchNode, ctx: ItemContext): Compiled {
  if (node.t === 'item') return compileItem(node.field, node.modifiers, node.values, ctx);
  const parts = node.items.map((i) => compileSearch(i, ctx));
  return node.t === 'and'
    ? { test: and(parts.map((p) => p.test)), literals: allOf(parts.map((p) => p.literals)) }
    : { test: or(parts.map((p) => p.test)), literals: anyOf(parts.map((p) => p.literals)) };
}

function compileCondition(c: Condition, searches: Map<string, Compiled>, names: string[]): Compiled {
  switch (c.t) {
    case 'id': {
      const s = searches.get(c.name);
      if (!s)
        throw new TrucError('invalid_rule', `condition refers to undefined search identifier ${c.name}`);
      return s;
    }
    case 'not': {
      const inner = compileCondition(c.item, searches, names).test;
      return { test: (v) => !inner(v), literals: null };
    }
    case 'and':
    case 'or': {
      const parts = c.items.map((i) => compileCondition(i, searches, names));
      return c.t === 'and'
        ? { test: and(parts.map((p) => p.test)), literals: allOf(parts.map((p) => p.literals)) }
        : { test: or(parts.map((p) => p.test)), literals: anyOf(parts.map((p) => p.literals)) };
    }
    case 'of': {
      const ids = expandPattern(c.pattern, names);
      if (ids.length === 0) {
        throw new TrucError('invalid_rule', `"${c.pattern ?? 'them'}" matches no search identifier`);
      }
      const parts = ids.map((i) => searches.get(i)!);
      const tests = parts.map((p) => p.test);
      if (c.quantity === 'all') return { test: and(tests), literals: allOf(parts.map((p) => p.literals)) };
      const test = c.quantity === 1 ? or(tests) : atLeast(c.quantity, tests);
      // At least one part must match whatever N is, so the union of their literals is required.
      return { test, literals: c.quantity > ids.length ? null : anyOf(parts.map((p) => p.literals)) };
    }
  }
}

/** Compiles a detection (searches + condition list) into one predicate. */
export function compileDetection(d: Detection, ctx: ItemContext): Compiled {
  const searches = new Map<string, Compiled>();
  for (const [name, node] of d.searches) searches.set(name, compileSearch(node, ctx));
  const names = [...d.searches.keys()];
  const conds = d.conditions.map((text) => compileCondition(parseCondition(text), searches, names));
  return { test: or(conds.map((c) => c.test)), literals: anyOf(conds.map((c) => c.literals)) };
}

function lower(s: unknown): string | undefined {
  return typeof s === 'string' ? s.toLowerCase() : undefined;
}

export function routingKey(ls: Logsource): RoutingKey {
  const k: RoutingKey = {};
  const p = lower(ls.product);
  const c = lower(ls.category);
  const s = lower(ls.service);
  if (p) k.product = p;
  if (c) k.category = c;
  if (s) k.service = s;
  return k;
}

/** The filter's logsource must be satisfied by the rule's: every attribute it names, the rule names too. */
function filterApplies(f: SigmaFilter, rule: SigmaRule): boolean {
  const names = new Set([rule.id, rule.name].filter((x): x is string => typeof x === 'string'));
  const targeted = f.rules.some((r) => r === 'any' || names.has(r));
  if (!targeted) return false;
  const fk = routingKey(f.logsource);
  const rk = routingKey(rule.logsource);
  return (
    (!fk.product || fk.product === rk.product) &&
    (!fk.category || fk.category === rk.category) &&
    (!fk.service || fk.service === rk.service)
  );
}

export function compileRule(rule: SigmaRule, opts: CompileOptions = {}): CompiledRule {
  let detection = readDetection(rule.detection);
  let logsource = rule.logsource;
  if (opts.pipelines?.length)
    ({ detection, logsource } = applyPipelines(opts.pipelines, rule, detection, logsource));
  const placeholders = {
    ...(opts.pipelines ? pipelineVars(opts.pipelines) : {}),
    ...(opts.placeholders ?? {}),
  };
  const ctx: ItemContext = { placeholders };
  const main = compileDetection(detection, ctx);
  const applied: string[] = [];
  const parts: Compiled[] = [main];
  for (const f of opts.filters ?? []) {
    if (!filterApplies(f, rule)) continue;
    let fd = readDetection(f.detection);
    if (opts.pipelines?.length) fd = applyPipelines(opts.pipelines, rule, fd, rule.logsource).detection;
    parts.push(compileDetection(fd, ctx));
    applied.push(f.id ?? f.title);
  }
  const test = and(parts.map((p) => p.test));
  return {
    rule,
    logsource: routingKey(logsource),
    test,
    literals: allOf(parts.map((p) => p.literals)),
    filters: applied,
  };
}
