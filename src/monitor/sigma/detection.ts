/**
 * The detection section as data: search identifiers made of maps (AND of field tests), lists (OR of maps or
 * keyword values) and keyword searches. Processing pipelines rewrite this form (field names, added conditions)
 * before it is compiled.
 */
import { TrucError } from '../../errors.js';

export type SearchNode =
  | { t: 'and'; items: SearchNode[] }
  | { t: 'or'; items: SearchNode[] }
  /** `field` undefined: a keyword search over the whole event. */
  | { t: 'item'; field: string | undefined; modifiers: string[]; values: unknown[] };

export interface Detection {
  searches: Map<string, SearchNode>;
  conditions: string[];
}

export const DETECTION_LIMITS = { identifiers: 256, values: 10_000, modifiers: 8 } as const;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function item(key: string, value: unknown): SearchNode {
  const [field, ...modifiers] = key.split('|');
  // Control characters never occur in field names; refusing them keeps the literal encoding unambiguous.
  if (/[\u0000-\u001f]/.test(key))
    throw new TrucError('invalid_rule', `control character in field name ${JSON.stringify(key)}`);
  if (modifiers.length > DETECTION_LIMITS.modifiers) {
    throw new TrucError('invalid_rule', `too many modifiers on ${key}`);
  }
  const values = Array.isArray(value) ? value : [value];
  if (values.length === 0) throw new TrucError('invalid_rule', `empty value list for ${key}`);
  if (values.length > DETECTION_LIMITS.values)
    throw new TrucError('invalid_rule', `too many values for ${key}`);
  for (const v of values) {
    if (v !== null && typeof v === 'object') throw new TrucError('invalid_rule', `nested value under ${key}`);
  }
  return { t: 'item', field: field === '' ? undefined : field, modifiers, values };
}

function mapNode(m: Record<string, unknown>): SearchNode {
  const items = Object.entries(m).map(([k, v]) => item(k, v));
  if (items.length === 0) throw new TrucError('invalid_rule', 'empty map in a search identifier');
  return items.length === 1 ? items[0]! : { t: 'and', items };
}

function searchNode(name: string, v: unknown): SearchNode {
  if (isRecord(v)) return mapNode(v);
  if (Array.isArray(v)) {
    if (v.length === 0) throw new TrucError('invalid_rule', `search identifier ${name} is an empty list`);
    if (v.every((x) => !isRecord(x) && !Array.isArray(x))) return item('', v);
    const items = v.map((x) => {
      if (isRecord(x)) return mapNode(x);
      if (Array.isArray(x)) throw new TrucError('invalid_rule', `nested list in search identifier ${name}`);
      return item('', x);
    });
    return items.length === 1 ? items[0]! : { t: 'or', items };
  }
  if (typeof v === 'string' || typeof v === 'number') return item('', v);
  throw new TrucError('invalid_rule', `search identifier ${name} must be a map, a list or a keyword`);
}

export function readDetection(detection: Record<string, unknown>): Detection {
  const searches = new Map<string, SearchNode>();
  let conditions: string[] = [];
  for (const [name, v] of Object.entries(detection)) {
    if (name === 'condition') {
      conditions = (Array.isArray(v) ? v : [v]).map((c) => {
        if (typeof c !== 'string') throw new TrucError('invalid_rule', 'condition must be a string');
        return c;
      });
      continue;
    }
    if (name === 'timeframe') {
      throw new TrucError('invalid_rule', 'detection timeframe is the obsolete aggregation syntax');
    }
    searches.set(name, searchNode(name, v));
    if (searches.size > DETECTION_LIMITS.identifiers)
      throw new TrucError('invalid_rule', 'too many search identifiers');
  }
  if (conditions.length === 0) throw new TrucError('invalid_rule', 'detection has no condition');
  return { searches, conditions };
}

/** Every field name a search uses (for strict pipelines and diagnostics). */
export function fieldsOf(node: SearchNode, out = new Set<string>()): Set<string> {
  if (node.t === 'item') {
    if (node.field !== undefined) out.add(node.field);
  } else for (const i of node.items) fieldsOf(i, out);
  return out;
}
