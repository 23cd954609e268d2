/**
 * Reading Sigma YAML: one file may hold one rule, a multi-document collection (correlations with the rules they
 * refer to, as in the specification's examples) or a legacy collection driven by `action: global | reset |
 * repeat`. Each document is validated against the specification's JSON schema for its kind; a document that
 * fails is reported with its file, line and reason and never stops the others.
 */
import { LineCounter, parseAllDocuments, isMap, isSeq, type Document, type Node } from 'yaml';
import { checkSchema, type SchemaKind } from './validate.js';
import type {
  Comparison,
  CorrelationRule,
  CorrelationType,
  Rejection,
  SigmaDocument,
  SigmaFilter,
  SigmaRule,
} from './types.js';

/** Hostile-input bounds: rule files are small; anything bigger is a mistake or an attack. */
export const LIMITS = { fileBytes: 1 << 20, documents: 256, aliases: 64 } as const;

export interface ParseResult {
  documents: SigmaDocument[];
  rejected: Rejection[];
}

type Raw = Record<string, unknown>;

function isRecord(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge for `action: global`: maps merge key by key, anything else is replaced. */
function merge(base: Raw, over: Raw): Raw {
  const out: Raw = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isRecord(b) && isRecord(v) ? merge(b, v) : v;
  }
  return out;
}

function kindOf(doc: Raw): SchemaKind {
  if ('correlation' in doc) return 'correlation';
  if ('filter' in doc && !('detection' in doc)) return 'filter';
  return 'rule';
}

function lineOf(doc: Document.Parsed, counter: LineCounter, path: string[]): number {
  // Walk down as far as the path exists; the deepest node found gives the most precise line.
  let node: unknown = doc.contents;
  let best = doc.contents?.range?.[0] ?? 0;
  for (const seg of path) {
    if (isMap(node)) node = node.get(seg, true);
    else if (isSeq(node)) node = node.get(Number(seg), true);
    else break;
    const r = (node as Node | undefined)?.range;
    if (!r) break;
    best = r[0];
  }
  return counter.linePos(best).line;
}

const TIMESPAN = /^(\d{1,9})([smhdw])$/;
const UNIT: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

export function parseTimespan(s: unknown): number | undefined {
  const m = typeof s === 'string' ? TIMESPAN.exec(s) : undefined;
  return m ? Number(m[1]) * UNIT[m[2]!]! : undefined;
}

function strings(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => String(x));
}

function base(doc: Raw, file: string, line: number) {
  return {
    title: String(doc.title),
    ...(typeof doc.id === 'string' ? { id: doc.id } : {}),
    ...(typeof doc.name === 'string' ? { name: doc.name } : {}),
    ...(typeof doc.author === 'string' ? { author: doc.author } : {}),
    ...(typeof doc.level === 'string' ? { level: doc.level } : {}),
    ...(typeof doc.status === 'string' ? { status: doc.status } : {}),
    ...(typeof doc.description === 'string' ? { description: doc.description } : {}),
    tags: strings(doc.tags),
    raw: doc,
    origin: { file, line },
  };
}

const COMPARISONS: Comparison[] = ['gt', 'gte', 'lt', 'lte', 'eq', 'neq'];

/** Turns a schema-valid raw document into its typed form; returns a reason string when it cannot. */
function shape(kind: SchemaKind, doc: Raw, file: string, line: number): SigmaDocument | string {
  if (kind === 'rule') {
    const rule: SigmaRule = {
      kind: 'rule',
      ...base(doc, file, line),
      logsource: (doc.logsource ?? {}) as SigmaRule['logsource'],
      detection: doc.detection as Raw,
    };
    return rule;
  }
  if (kind === 'filter') {
    const f = doc.filter as Raw;
    const { rules, ...detection } = f;
    const filter: SigmaFilter = {
      kind: 'filter',
      ...base(doc, file, line),
      logsource: (doc.logsource ?? {}) as SigmaFilter['logsource'],
      rules: strings(rules),
      detection,
    };
    return filter;
  }
  const c = doc.correlation as Raw;
  const timespan = parseTimespan(c.timespan);
  if (timespan === undefined)
    return `correlation timespan ${JSON.stringify(c.timespan)} is not <number><s|m|h|d|w>`;
  const cond = isRecord(c.condition) ? c.condition : {};
  const condition: Partial<Record<Comparison, number>> = {};
  for (const k of COMPARISONS) {
    if (k in cond) {
      const n = Number(cond[k]);
      if (!Number.isFinite(n)) return `correlation condition ${k} is not a number`;
      condition[k] = n;
    }
  }
  const type = c.type as CorrelationType;
  if (type !== 'temporal' && type !== 'temporal_ordered' && Object.keys(condition).length === 0) {
    return `correlation type ${type} needs a condition`;
  }
  const field = strings(cond.field);
  if (type.startsWith('value_') && field.length === 0)
    return `correlation type ${type} needs condition.field`;
  const aliases: Record<string, Record<string, string>> = {};
  if (isRecord(c.aliases)) {
    for (const [alias, m] of Object.entries(c.aliases)) {
      if (!isRecord(m)) return `alias ${alias} must map rule names to fields`;
      aliases[alias] = Object.fromEntries(Object.entries(m).map(([r, f]) => [r, String(f)]));
    }
  }
  const corr: CorrelationRule = {
    kind: 'correlation',
    ...base(doc, file, line),
    type,
    rules: strings(c.rules),
    groupBy: strings(c['group-by']),
    timespan,
    condition,
    field,
    aliases,
    generate: c.generate === true || doc.generate === true,
  };
  return corr;
}

/** Parses the text of one rule file. Never throws for bad rules: they land in `rejected`. */
export function parseRules(text: string, file = '<text>'): ParseResult {
  const documents: SigmaDocument[] = [];
  const rejected: Rejection[] = [];
  if (text.length > LIMITS.fileBytes) {
    rejected.push({ file, line: 1, reason: `file larger than ${LIMITS.fileBytes} bytes` });
    return { documents, rejected };
  }
  const counter = new LineCounter();
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, {
      lineCounter: counter,
      uniqueKeys: true,
      prettyErrors: false,
    }) as Document.Parsed[];
  } catch (e) {
    rejected.push({ file, line: 1, reason: `YAML: ${(e as Error).message}` });
    return { documents, rejected };
  }
  if (!Array.isArray(docs)) docs = [docs];
  if (docs.length > LIMITS.documents) {
    rejected.push({ file, line: 1, reason: `more than ${LIMITS.documents} YAML documents` });
    return { documents, rejected };
  }
  let global: Raw | undefined;
  let previous: Raw | undefined;
  for (const d of docs) {
    const startLine = counter.linePos(d.contents?.range?.[0] ?? d.range[0]).line;
    if (d.errors.length > 0) {
      const e = d.errors[0]!;
      rejected.push({
        file,
        line: counter.linePos(e.pos[0]).line,
        reason: `YAML: ${e.message.split('\n')[0]}`,
      });
      continue;
    }
    let value: unknown;
    try {
      value = d.toJS({ maxAliasCount: LIMITS.aliases });
    } catch (e) {
      rejected.push({ file, line: startLine, reason: `YAML: ${(e as Error).message}` });
      continue;
    }
    if (value === null || value === undefined) continue; // empty document, e.g. a trailing `---`
    if (!isRecord(value)) {
      rejected.push({ file, line: startLine, reason: 'a Sigma document must be a YAML mapping' });
      continue;
    }
    let doc: Raw = value;
    const action = doc.action;
    if (action !== undefined) {
      const { action: _drop, ...rest } = doc;
      if (action === 'global') {
        global = rest;
        continue;
      }
      if (action === 'reset') {
        global = undefined;
        continue;
      }
      if (action === 'repeat') {
        if (!previous) {
          rejected.push({ file, line: startLine, reason: 'action: repeat without a previous document' });
          continue;
        }
        doc = merge(previous, rest);
      } else {
        rejected.push({ file, line: startLine, reason: `unknown action ${JSON.stringify(action)}` });
        continue;
      }
    } else if (global) {
      doc = merge(global, doc);
    }
    previous = doc;
    const kind = kindOf(doc);
    const problem = checkSchema(kind, doc);
    const label = typeof doc.id === 'string' ? doc.id : typeof doc.title === 'string' ? doc.title : undefined;
    if (problem) {
      rejected.push({
        file,
        line: action === undefined && !global ? lineOf(d, counter, problem.path) : startLine,
        ...(label ? { rule: label } : {}),
        reason: `schema (${kind}): ${problem.message}`,
      });
      continue;
    }
    const shaped = shape(kind, doc, file, startLine);
    if (typeof shaped === 'string') {
      rejected.push({ file, line: startLine, ...(label ? { rule: label } : {}), reason: shaped });
      continue;
    }
    documents.push(shaped);
  }
  return { documents, rejected };
}
