/**
 * Events that come near the rules of a whole rule set, for tests that compare detections across changes of
 * the engine: built from the rules' own detection sections as written (not from anything the engine computes),
 * one event per search identifier of each rule (its field values made to satisfy the modifiers where that is
 * simple: `contains` wrapped, `startswith` continued, wildcards filled) and one with every search of the rule
 * merged, so that filters and `not` branches are met too. Windows rules' events carry their fields in the
 * `Event.EventData` of an XML-as-JSON event, others are flat or nested by their dotted names; some events are
 * upper-cased, some give a value as an array. Deterministic: the same rules give the same events.
 */
import type { SigmaDocument, SigmaRule } from '../../../src/monitor/sigma/index.js';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A Sigma string with its wildcards filled in (`*` → `w`, `?` → `q`), escapes dropped. */
function filled(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && (s[i + 1] === '*' || s[i + 1] === '?' || s[i + 1] === '\\')) out += s[++i];
    else if (c === '*') out += 'w';
    else if (c === '?') out += 'q';
    else out += c;
  }
  return out;
}

const SKIPPED = new Set(['re', 'base64', 'base64offset', 'utf16le', 'utf16be', 'utf16', 'wide', 'windash', 'expand', 'fieldref']);

/** A value for one item, or undefined to leave the field out. `pick` chooses among a list's values. */
function valueFor(modifiers: string[], values: unknown[], pick: number): unknown {
  if (modifiers.some((m) => SKIPPED.has(m))) return undefined;
  if (modifiers.includes('exists')) return values[0] === true ? 'present' : undefined;
  const list = values.filter((v) => v !== null);
  if (list.length === 0) return undefined;
  const cmp = modifiers.find((m) => m === 'gt' || m === 'gte' || m === 'lt' || m === 'lte');
  if (cmp) {
    const n = Number(list[0]);
    return cmp.startsWith('g') ? n + 1 : n - 1;
  }
  if (modifiers.includes('cidr')) return String(list[pick % list.length]).split('/')[0];
  const chosen = modifiers.includes('all') ? list : [list[pick % list.length]];
  if (chosen.every((v) => typeof v !== 'string')) return chosen[0];
  let s = chosen.map((v) => filled(String(v))).join(' ');
  if (modifiers.includes('contains')) s = `xX ${s} Yy`;
  else if (modifiers.includes('startswith')) s = `${s} tail`;
  else if (modifiers.includes('endswith')) s = `head ${s}`;
  return s;
}

/** The fields a search identifier asks for: a map, or one map of a list of maps, or keywords. */
function fieldsOf(search: unknown, pick: number, out: Obj): void {
  if (isObj(search)) {
    for (const [key, v] of Object.entries(search)) {
      const [field, ...mods] = key.split('|');
      const value = valueFor(mods, Array.isArray(v) ? v : [v], pick);
      if (value === undefined) continue;
      if (field === '') out.Keywords = `xX ${String(value)} Yy`;
      else out[field!] = value;
    }
  } else if (Array.isArray(search) && search.length > 0) {
    const one = search[pick % search.length];
    if (isObj(one)) fieldsOf(one, pick, out);
    else if (typeof one === 'string' || typeof one === 'number') out.Keywords = `xX ${filled(String(one))} Yy`;
  } else if (typeof search === 'string' || typeof search === 'number') {
    out.Keywords = `xX ${filled(String(search))} Yy`;
  }
}

function shaped(rule: SigmaRule, fields: Obj, n: number): Obj {
  const ls = rule.logsource;
  const logsource: Obj = {};
  for (const k of ['product', 'category', 'service'] as const) if (typeof ls[k] === 'string') logsource[k] = ls[k];
  let data: Obj = fields;
  if (n % 7 === 3) {
    // a multi-valued field, as ECS events have
    const k = Object.keys(data)[0];
    if (k !== undefined && typeof data[k] === 'string') data = { ...data, [k]: ['other value', data[k]] };
  }
  if (n % 5 === 1) data = JSON.parse(JSON.stringify(data), (_k, v: unknown) => (typeof v === 'string' ? v.toUpperCase() : v)) as Obj;
  if (ls.product === 'windows') {
    return {
      logsource,
      Event: {
        System: {
          Provider: { '#attributes': { Name: 'Microsoft-Windows-Sample', Guid: '{5770385F-C22A-43E0-BF4C-06F5698FFBD9}' } },
          EventID: 1,
          TimeCreated: { '#attributes': { SystemTime: '2026-01-01T00:00:00.000Z' } },
          Execution: { '#attributes': { ProcessID: 4, ThreadID: 8 } },
          Channel: 'Sample',
          Computer: 'host.example.vn',
        },
        EventData: data,
      },
    };
  }
  if (n % 2 === 0) return { logsource, ...data };
  // dotted names as nested objects
  const nested: Obj = { logsource };
  for (const [k, v] of Object.entries(data)) {
    const path = k.split('.');
    let cur = nested;
    for (const p of path.slice(0, -1)) {
      if (!isObj(cur[p])) cur[p] = {};
      cur = cur[p] as Obj;
    }
    cur[path[path.length - 1]!] = v;
  }
  return nested;
}

/** Sample events for every detection rule among `documents`, in the rules' order. */
export function sampleEvents(documents: readonly SigmaDocument[]): Obj[] {
  const out: Obj[] = [];
  for (const d of documents) {
    if (d.kind !== 'rule') continue;
    const searches = Object.entries(d.detection).filter(([k]) => k !== 'condition');
    const merged: Obj = {};
    searches.forEach(([, s], i) => {
      const fields: Obj = {};
      fieldsOf(s, out.length + i, fields);
      Object.assign(merged, fields);
      if (Object.keys(fields).length) out.push(shaped(d, fields, out.length));
    });
    if (searches.length > 1 && Object.keys(merged).length) out.push(shaped(d, merged, out.length));
  }
  return out;
}
