/**
 * Processing pipelines in pySigma's YAML shape: ordered transformations, each optionally restricted to rules
 * of a logsource, that rename fields (`field_name_mapping`, `field_name_prefix_mapping`, `field_name_prefix`),
 * add conditions (`add_condition`), change the logsource (`change_logsource`), supply placeholder values
 * (`vars`), or refuse rules (`rule_failure`, `detection_item_failure`). A pipeline with `strict: true` rejects
 * any rule using a field that no mapping produced (unless listed in `allowed_fields`): a rule that silently
 * looks at a field our events never carry is worse than a rule that is refused.
 */
import { parse as parseYaml } from 'yaml';
import { TrucError } from '../../errors.js';
import type { Detection, SearchNode } from './detection.js';
import { compileRegex, type LinearRegex } from './regex.js';
import type { Logsource, SigmaRule } from './types.js';

export interface LogsourceCondition {
  type: 'logsource';
  product?: string;
  category?: string;
  service?: string;
}

export interface FieldCondition {
  type: 'include_fields' | 'exclude_fields';
  fields: string[];
  /** `re`: fields are regular expressions. */
  match?: 'plain' | 're';
}

export type Transformation = {
  id?: string;
  rule_conditions?: LogsourceCondition[];
  rule_cond_op?: 'and' | 'or';
  rule_cond_not?: boolean;
  field_name_conditions?: FieldCondition[];
  field_name_cond_not?: boolean;
} & (
  | { type: 'field_name_mapping'; mapping: Record<string, string | string[]> }
  | { type: 'field_name_prefix_mapping'; mapping: Record<string, string> }
  | { type: 'field_name_prefix'; prefix: string }
  | { type: 'add_condition'; conditions: Record<string, unknown> }
  | { type: 'change_logsource'; product?: string; category?: string; service?: string }
  | { type: 'rule_failure'; message: string }
  | { type: 'detection_item_failure'; message: string }
);

export interface Pipeline {
  name: string;
  priority: number;
  strict: boolean;
  allowedFields: string[];
  vars: Record<string, string[]>;
  transformations: Transformation[];
}

const TYPES = new Set([
  'field_name_mapping',
  'field_name_prefix_mapping',
  'field_name_prefix',
  'add_condition',
  'change_logsource',
  'rule_failure',
  'detection_item_failure',
]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function invalid(msg: string): never {
  throw new TrucError('invalid_config', `pipeline: ${msg}`);
}

/** Reads a pipeline from YAML text or an already parsed object; unknown transformation types fail loudly. */
export function parsePipeline(input: string | Record<string, unknown>): Pipeline {
  const doc = typeof input === 'string' ? (parseYaml(input, { maxAliasCount: 64 }) as unknown) : input;
  if (!isRecord(doc)) invalid('must be a mapping');
  const list = doc.transformations ?? [];
  if (!Array.isArray(list)) invalid('transformations must be a list');
  const transformations = list.map((t, i): Transformation => {
    if (!isRecord(t) || typeof t.type !== 'string') invalid(`transformation ${i} has no type`);
    if (!TYPES.has(t.type)) invalid(`transformation ${i}: unsupported type ${t.type}`);
    if (t.type === 'field_name_mapping' || t.type === 'field_name_prefix_mapping') {
      if (!isRecord(t.mapping)) invalid(`transformation ${i}: mapping must be a map`);
    }
    if (t.type === 'field_name_prefix' && typeof t.prefix !== 'string')
      invalid(`transformation ${i}: prefix`);
    if (t.type === 'add_condition' && !isRecord(t.conditions)) invalid(`transformation ${i}: conditions`);
    for (const c of (t.rule_conditions as unknown[] | undefined) ?? []) {
      if (!isRecord(c) || c.type !== 'logsource')
        invalid(`transformation ${i}: only logsource rule conditions`);
    }
    for (const c of (t.field_name_conditions as unknown[] | undefined) ?? []) {
      if (
        !isRecord(c) ||
        (c.type !== 'include_fields' && c.type !== 'exclude_fields') ||
        !Array.isArray(c.fields)
      ) {
        invalid(
          `transformation ${i}: field_name_conditions must be include_fields/exclude_fields with fields`,
        );
      }
      // refuse a pattern the linear-time engine cannot run when the pipeline loads, not at first use
      if (c.match === 're') fieldRegexes(c as { fields: string[] });
    }
    return t as unknown as Transformation;
  });
  const vars: Record<string, string[]> = {};
  if (isRecord(doc.vars)) {
    for (const [k, v] of Object.entries(doc.vars)) vars[k] = (Array.isArray(v) ? v : [v]).map(String);
  }
  return {
    name: typeof doc.name === 'string' ? doc.name : 'pipeline',
    priority: typeof doc.priority === 'number' ? doc.priority : 0,
    strict: doc.strict === true,
    allowedFields: Array.isArray(doc.allowed_fields) ? doc.allowed_fields.map(String) : [],
    vars,
    transformations,
  };
}

function ruleMatches(t: Transformation, ls: Logsource): boolean {
  const conds = t.rule_conditions ?? [];
  if (conds.length === 0) return true;
  const one = (c: LogsourceCondition): boolean =>
    (['product', 'category', 'service'] as const).every(
      (k) => c[k] === undefined || String(c[k]).toLowerCase() === String(ls[k] ?? '').toLowerCase(),
    );
  const r = t.rule_cond_op === 'or' ? conds.some(one) : conds.every(one);
  return t.rule_cond_not ? !r : r;
}

// field-name patterns of a pipeline, compiled once each by the linear-time engine
const compiledFieldRegexes = new WeakMap<object, LinearRegex[]>();
function fieldRegexes(c: { fields: string[] }): LinearRegex[] {
  let r = compiledFieldRegexes.get(c);
  if (!r) compiledFieldRegexes.set(c, (r = c.fields.map((f) => compileRegex(f))));
  return r;
}

function fieldMatches(t: Transformation, field: string): boolean {
  const conds = t.field_name_conditions ?? [];
  if (conds.length === 0) return true;
  const r = conds.every((c) => {
    const hit =
      c.match === 're' ? fieldRegexes(c).some((r) => r.test(field)) : c.fields.some((f) => f === field);
    return c.type === 'include_fields' ? hit : !hit;
  });
  return t.field_name_cond_not ? !r : r;
}

interface Item {
  t: 'item';
  field: string | undefined;
  modifiers: string[];
  values: unknown[];
  mapped?: boolean;
}

/** Rewrites every field item of a search tree; `f` may turn one item into an OR of several. */
function rewrite(node: SearchNode, f: (i: Item) => SearchNode): SearchNode {
  if (node.t === 'item') return f(node as Item);
  return { t: node.t, items: node.items.map((n) => rewrite(n, f)) };
}

function eachItem(node: SearchNode, f: (i: Item) => void): void {
  if (node.t === 'item') f(node as Item);
  else for (const n of node.items) eachItem(n, f);
}

export function applyPipelines(
  pipelines: readonly Pipeline[],
  rule: SigmaRule,
  detection: Detection,
  logsource: Logsource,
): { detection: Detection; logsource: Logsource } {
  let searches = new Map(detection.searches);
  let conditions = [...detection.conditions];
  const ls: Logsource = { ...logsource };
  const ordered = [...pipelines].sort((a, b) => a.priority - b.priority);
  let added = 0;
  for (const p of ordered) {
    for (const t of p.transformations) {
      if (!ruleMatches(t, ls)) continue;
      switch (t.type) {
        case 'field_name_mapping':
        case 'field_name_prefix_mapping':
        case 'field_name_prefix': {
          const map = (i: Item): SearchNode => {
            if (i.field === undefined || !fieldMatches(t, i.field)) return i;
            let targets: string[] | undefined;
            if (t.type === 'field_name_mapping') {
              const m = Object.hasOwn(t.mapping, i.field) ? t.mapping[i.field] : undefined;
              if (m !== undefined) targets = Array.isArray(m) ? m.map(String) : [String(m)];
            } else if (t.type === 'field_name_prefix_mapping') {
              const prefix = Object.keys(t.mapping).find((k) => i.field!.startsWith(k));
              if (prefix !== undefined) targets = [t.mapping[prefix] + i.field.slice(prefix.length)];
            } else {
              targets = [t.prefix + i.field];
            }
            if (!targets || targets.length === 0) return i;
            const items = targets.map((f): Item => ({ ...i, field: f, mapped: true }));
            return items.length === 1 ? items[0]! : { t: 'or', items };
          };
          searches = new Map([...searches].map(([k, n]) => [k, rewrite(n, map)]));
          break;
        }
        case 'add_condition': {
          const name = `_pipeline_condition_${added++}`;
          const items = Object.entries(t.conditions).map(([k, v]): Item => {
            const [field, ...modifiers] = k.split('|');
            return { t: 'item', field, modifiers, values: Array.isArray(v) ? v : [v], mapped: true };
          });
          searches.set(name, items.length === 1 ? items[0]! : { t: 'and', items });
          conditions = conditions.map((c) => `${name} and (${c})`);
          break;
        }
        case 'change_logsource':
          // pySigma replaces the whole logsource: what the transformation leaves out is unset.
          for (const k of ['product', 'category', 'service'] as const) {
            if (t[k] !== undefined) ls[k] = t[k];
            else delete ls[k];
          }
          break;
        case 'rule_failure':
          throw new TrucError('invalid_rule', `pipeline ${p.name}: ${t.message}`, {
            rule: rule.id ?? rule.title,
          });
        case 'detection_item_failure':
          for (const n of searches.values()) {
            eachItem(n, (i) => {
              if (i.field !== undefined && fieldMatches(t, i.field)) {
                throw new TrucError('invalid_rule', `pipeline ${p.name}: ${t.message} (field ${i.field})`);
              }
            });
          }
          break;
      }
    }
  }
  const strict = ordered.filter((p) => p.strict);
  if (strict.length > 0) {
    const allowed = new Set(strict.flatMap((p) => p.allowedFields));
    for (const n of searches.values()) {
      eachItem(n, (i) => {
        if (i.field !== undefined && !i.mapped && !allowed.has(i.field)) {
          throw new TrucError(
            'unmapped_field',
            `field ${i.field} is not mapped by pipeline ${strict[0]!.name}`,
            {
              field: i.field,
              rule: rule.id ?? rule.title,
            },
          );
        }
      });
    }
  }
  return { detection: { searches, conditions }, logsource: ls };
}

/** Placeholder values contributed by pipelines (`vars`), later pipelines overriding earlier ones. */
export function pipelineVars(pipelines: readonly Pipeline[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const p of [...pipelines].sort((a, b) => a.priority - b.priority)) Object.assign(out, p.vars);
  return out;
}
