/**
 * Hunting over files, with no database and no server: each file's events are read as the intake reads them,
 * normalised as the intake does (acceptEvent), kept when inside the time range asked, and run through the
 * Sigma detector. Matches of rules that stand alone are detections at once; matches that feed correlations
 * are kept and, once every file is read, fed to a correlator in the order of their events' times — files
 * hold their own spans of time, so only then is the order the one the events happened in.
 *
 * Detectors are built per kind of event met (see Detectors): a hunt over a small file compiles the few
 * hundred rules its events can meet, not the thousands loaded, and starts in about a second.
 */
import { acceptEvent, LocalHour } from '../events/normalize.js';
import { Correlator, type CorrelationMatch } from '../sigma/correlate.js';
import { Detector, type DetectorOptions, type MatchResult } from '../sigma/detector.js';
import { EventView } from '../sigma/event-view.js';
import { routingKey, type RoutingKey } from '../sigma/compile.js';
import { deriveLogsource, logsourceSignature, routes, type EventLogsource } from '../sigma/logsource.js';
import type { Rejection, SigmaDocument } from '../sigma/types.js';
import { collectFiles, readHuntBatches, type HuntFile } from './files.js';
import { MatchedFields } from './matched-fields.js';

export const HUNT_LEVELS = ['informational', 'low', 'medium', 'high', 'critical'] as const;
export type HuntLevel = (typeof HUNT_LEVELS)[number];

/** Rank of a level, informational 1 … critical 5; a rule without a level counts as medium, as alerts do. */
export function levelRank(level: string | undefined): number {
  const i = HUNT_LEVELS.indexOf((level ?? 'medium').toLowerCase() as HuntLevel);
  return i < 0 ? 3 : i + 1;
}

/**
 * The ATT&CK tactics SigmaHQ tags with (`attack.<tactic>`), hyphenated as in ATT&CK; ATT&CK v18 split
 * defense evasion into stealth and defense impairment, and SigmaHQ's rules carry both the new and (older
 * rules) the old name.
 */
export const TACTICS = new Set([
  'reconnaissance',
  'resource-development',
  'initial-access',
  'execution',
  'persistence',
  'privilege-escalation',
  'defense-evasion',
  'stealth',
  'defense-impairment',
  'credential-access',
  'discovery',
  'lateral-movement',
  'collection',
  'command-and-control',
  'exfiltration',
  'impact',
]);

const tacticCache = new WeakMap<readonly string[], string[]>();

/** The ATT&CK tactics among a rule's tags (kept per tag list: a rule's tags are one array for all its matches). */
export function tacticsOf(tags: readonly string[]): string[] {
  const known = tacticCache.get(tags);
  if (known) return known;
  const out: string[] = [];
  for (const t of tags) {
    const m = /^attack\.([a-z_-]+)$/i.exec(t);
    const name = m?.[1]!.toLowerCase().replaceAll('_', '-');
    if (name && TACTICS.has(name) && !out.includes(name)) out.push(name);
  }
  tacticCache.set(tags, out);
  return out;
}

export interface HuntDetection {
  kind: 'rule' | 'correlation';
  /** the event's time (a correlation: its last event's), ISO 8601 */
  time: string;
  ms: number;
  computer: string;
  ruleId: string;
  title: string;
  level: string;
  author: string;
  tags: string[];
  tactics: string[];
  /** rule: the fields that matched and their values; correlation: its group-by values and the aggregate */
  fields: Record<string, unknown>;
  /** the file and the record in it (line, array index or EVTX record number) */
  file: string;
  record: number;
  /** correlations: first event's time and the aggregated value */
  firstTime?: string;
  value?: number;
}

export interface HuntFileReport {
  path: string;
  events: number;
  rejected: number;
  /** the file could not be read (or stopped being readable) */
  error?: string;
  /** records skipped, first few reasons */
  reasons: string[];
}

export interface HuntOptions extends Pick<DetectorOptions, 'pipelines' | 'placeholders'> {
  from?: Date;
  to?: Date;
  minLevel?: HuntLevel;
  /** IANA zone of `truc.local_hour` (default Asia/Ho_Chi_Minh, as the monitor's) */
  timezone?: string;
  /** called for each detection as soon as it is known (rules: while reading; correlations: at the end) */
  onDetection?: (d: HuntDetection) => void;
  /** after each file, and every few thousand events */
  onProgress?: (p: { filesDone: number; files: number; events: number; detections: number; file: string }) => void;
}

export interface HuntSummary {
  files: number;
  filesFailed: number;
  events: number;
  /** events read but not hunted: not events (no time, no action…) */
  rejected: number;
  /** events outside --from/--to */
  outOfRange: number;
  detections: number;
  correlations: number;
  byLevel: Record<string, number>;
  byTactic: Record<string, number>;
  byRule: { ruleId: string; title: string; level: string; count: number }[];
  first?: string;
  last?: string;
  rules: { loaded: number; compiled: number; rejected: number };
  ms: number;
}

export interface HuntReport {
  detections: HuntDetection[];
  files: HuntFileReport[];
  problems: { path: string; error: string }[];
  summary: HuntSummary;
  /** rules that did not compile for the products met */
  rejected: Rejection[];
}

const REASONS_KEPT = 5;

function text(v: unknown): string | undefined {
  if (v && typeof v === 'object' && '#text' in v) v = (v as Record<string, unknown>)['#text'];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

function computerOf(e: Record<string, unknown>): string {
  const sys = (e.Event as { System?: Record<string, unknown> } | undefined)?.System;
  const c = text(sys?.Computer);
  if (c) return c;
  const host = e.host as { name?: unknown; hostname?: unknown } | undefined;
  return text(host?.name) ?? text(host?.hostname) ?? '';
}

/** Routing keys of documents; filters and correlations route nowhere but go with every detector. */
function keyOf(d: SigmaDocument): RoutingKey | null {
  return d.kind === 'rule' ? routingKey(d.logsource) : null;
}

/** Kinds of events (logsource signatures) given a detector of their own before falling back to one per product. */
const MAX_KINDS = 64;

/**
 * Detectors built on demand: one per kind of event met (its logsource: product, categories, services), with
 * only the rules routed to it, so a hunt over one Sysmon log compiles SigmaHQ's process-creation rules and
 * not its thousands of others. Past MAX_KINDS kinds, one detector per product takes the rest.
 */
export class Detectors {
  private readonly byKind = new Map<string, Detector>();
  private readonly byProduct = new Map<string, Detector>();
  private readonly others: SigmaDocument[];
  private readonly rules: { doc: SigmaDocument; key: RoutingKey }[] = [];
  private readonly all: Detector | undefined;
  private readonly seen = new Set<string>();
  private readonly used = new Set<unknown>();
  readonly rejected: Rejection[] = [];

  constructor(
    documents: readonly SigmaDocument[],
    private readonly opts: DetectorOptions,
  ) {
    this.others = documents.filter((d) => d.kind !== 'rule');
    for (const doc of documents) {
      const key = keyOf(doc);
      if (key) this.rules.push({ doc, key });
    }
    // pipelines may change a rule's logsource: then the logsource written in the rule does not tell
    if (opts.pipelines?.length) this.all = this.build(documents);
  }

  private build(docs: readonly SigmaDocument[]): Detector {
    const d = new Detector(docs, this.opts);
    for (const r of d.rules) this.used.add(r.rule);
    for (const r of d.rejected) {
      const k = `${r.file}\u0000${r.line}\u0000${r.rule}`;
      if (this.seen.has(k)) continue;
      this.seen.add(k);
      this.rejected.push(r);
    }
    return d;
  }

  /** Rules compiled so far (each counted once). */
  get compiled(): number {
    return this.used.size;
  }

  /** `sig`: logsourceSignature(ls), when the caller has it (it passes it on to the detector's match). */
  for(ls: EventLogsource | undefined, sig = logsourceSignature(ls)): Detector {
    if (this.all) return this.all;
    let d = this.byKind.get(sig);
    if (d) return d;
    if (this.byKind.size < MAX_KINDS) {
      d = this.build([...this.others, ...this.rules.filter((r) => routes(r.key, ls)).map((r) => r.doc)]);
      this.byKind.set(sig, d);
      return d;
    }
    const p = ls?.product ?? '';
    d = this.byProduct.get(p);
    if (!d) {
      d = this.build([...this.others, ...this.rules.filter((r) => !r.key.product || r.key.product === p).map((r) => r.doc)]);
      this.byProduct.set(p, d);
    }
    return d;
  }
}

interface Pending {
  at: number;
  seq: number;
  match: MatchResult;
  file: string;
  record: number;
}

/**
 * The rules of a hunt, compiled as events need them. Build one and pass it to several hunts (a benchmark,
 * a long session) to compile each kind of event's rules once; each hunt still has a correlator of its own.
 */
export class HuntRules {
  readonly detectors: Detectors;
  readonly fields: MatchedFields;
  /** rule ids and names that correlations count */
  readonly fed = new Set<string>();

  constructor(
    readonly documents: readonly SigmaDocument[],
    readonly options: Pick<DetectorOptions, 'pipelines' | 'placeholders'> = {},
  ) {
    const o: DetectorOptions = {
      ...(options.pipelines ? { pipelines: options.pipelines } : {}),
      ...(options.placeholders ? { placeholders: options.placeholders } : {}),
    };
    this.detectors = new Detectors(documents, o);
    this.fields = new MatchedFields(o);
    for (const d of documents) if (d.kind === 'correlation') for (const r of d.rules) this.fed.add(r);
  }
}

/** Runs the rules over the files and folders given. */
export async function huntFiles(paths: readonly string[], rules: readonly SigmaDocument[] | HuntRules, o: HuntOptions = {}): Promise<HuntReport> {
  const t0 = performance.now();
  const set = rules instanceof HuntRules ? rules : new HuntRules(rules, o);
  const documents = set.documents;
  const { detectors, fields, fed } = set;
  const correlator = new Correlator(documents);
  const hour = new LocalHour(o.timezone ?? 'Asia/Ho_Chi_Minh');
  const from = o.from?.getTime() ?? -Infinity;
  const to = o.to?.getTime() ?? Infinity;
  const minRank = o.minLevel ? levelRank(o.minLevel) : 0;

  const { files, problems } = await collectFiles(paths);
  const reports: HuntFileReport[] = [];
  const detections: HuntDetection[] = [];
  const pending: Pending[] = [];
  let events = 0;
  let rejected = 0;
  let outOfRange = 0;
  let correlations = 0;
  const now = Date.now();

  const emit = (d: HuntDetection) => {
    if (levelRank(d.level) < minRank) return;
    detections.push(d);
    if (d.kind === 'correlation') correlations++;
    o.onDetection?.(d);
  };

  const huntOne = async (f: HuntFile, index: number) => {
    const rep: HuntFileReport = { path: f.path, events: 0, rejected: 0, reasons: [] };
    reports.push(rep);
    const skip = (reason: string) => {
      rep.rejected++;
      rejected++;
      if (rep.reasons.length < REASONS_KEPT) rep.reasons.push(reason);
    };
    try {
      for await (const batch of readHuntBatches(f.path)) {
        for (const rec of batch) {
          if (rec.error !== undefined) {
            skip(`${rec.line}: ${rec.error}`);
            continue;
          }
          const a = acceptEvent(rec.value, 'file', hour, now);
          if (!a.ok) {
            skip(`${rec.line}: ${a.reason}`);
            continue;
          }
          rep.events++;
          events++;
          const ms = a.at.getTime();
          if (ms < from || ms >= to) {
            outOfRange++;
            continue;
          }
          const event = a.event as unknown as Record<string, unknown>;
          const ls = deriveLogsource(event);
          // one view for detection and for saying which fields matched: the second reuses what the first worked out
          const view = new EventView(event);
          let time: string | undefined;
          const sig = logsourceSignature(ls);
          for (const m of detectors.for(ls, sig).match(event, ls, view, sig)) {
            if ((m.ruleId && fed.has(m.ruleId)) || (m.ruleName && fed.has(m.ruleName)))
              pending.push({ at: ms, seq: pending.length, match: m, file: f.path, record: rec.line });
            if (!m.generate) continue;
            emit({
              kind: 'rule',
              time: (time ??= a.at.toISOString()),
              ms,
              computer: computerOf(event),
              ruleId: m.ruleId ?? m.ruleName ?? m.title,
              title: m.title,
              level: m.level ?? '',
              author: m.author ?? '',
              tags: m.tags,
              tactics: tacticsOf(m.tags),
              fields: fields.of(m.rule, event, view),
              file: f.path,
              record: rec.line,
            });
          }
          if ((events & 4095) === 0)
            o.onProgress?.({ filesDone: index, files: files.length, events, detections: detections.length, file: f.path });
        }
      }
    } catch (e) {
      rep.error = (e as Error).message;
    }
    o.onProgress?.({ filesDone: index + 1, files: files.length, events, detections: detections.length, file: f.path });
  };
  for (let i = 0; i < files.length; i++) await huntOne(files[i]!, i);

  // correlations, in the order the events happened
  pending.sort((a, b) => a.at - b.at || a.seq - b.seq);
  const correlated = (c: CorrelationMatch, file: string, record: number) =>
    emit({
      kind: 'correlation',
      time: new Date(c.lastAt).toISOString(),
      ms: c.lastAt,
      computer: computerOf(c.event),
      ruleId: c.correlationId ?? c.correlationName ?? c.title,
      title: c.title,
      level: c.level ?? '',
      author: c.author ?? '',
      tags: c.tags,
      tactics: tacticsOf(c.tags),
      fields: { ...c.group, [c.type]: c.value },
      file,
      record,
      firstTime: new Date(c.firstAt).toISOString(),
      value: c.value,
    });
  let lastAt = -Infinity;
  for (const p of pending) {
    for (const c of correlator.process(p.match, p.at)) correlated(c, p.file, p.record);
    lastAt = p.at;
  }
  // "fewer than N" windows that the data covers whole are judged; one still open at the end is not
  if (pending.length) for (const c of correlator.advance(lastAt)) correlated(c, '', 0);

  return {
    detections,
    files: reports,
    problems,
    summary: summarize(detections, {
      files: files.length,
      filesFailed: reports.filter((r) => r.error).length + problems.length,
      events,
      rejected,
      outOfRange,
      correlations,
      rules: {
        loaded: documents.filter((d) => d.kind !== 'filter').length,
        compiled: detectors.compiled,
        rejected: detectors.rejected.length,
      },
      ms: Math.round(performance.now() - t0),
    }),
    rejected: detectors.rejected,
  };
}

function summarize(
  detections: readonly HuntDetection[],
  base: Omit<HuntSummary, 'detections' | 'byLevel' | 'byTactic' | 'byRule' | 'first' | 'last'>,
): HuntSummary {
  const byLevel: Record<string, number> = {};
  const byTactic: Record<string, number> = {};
  const byRule = new Map<string, { ruleId: string; title: string; level: string; count: number }>();
  let first = Infinity;
  let last = -Infinity;
  for (const d of detections) {
    const level = d.level || 'medium';
    byLevel[level] = (byLevel[level] ?? 0) + 1;
    for (const t of d.tactics) byTactic[t] = (byTactic[t] ?? 0) + 1;
    const r = byRule.get(d.ruleId) ?? { ruleId: d.ruleId, title: d.title, level: d.level, count: 0 };
    r.count++;
    byRule.set(d.ruleId, r);
    first = Math.min(first, d.ms);
    last = Math.max(last, d.ms);
  }
  const levels = Object.fromEntries(
    Object.entries(byLevel).sort((a, b) => levelRank(b[0]) - levelRank(a[0])),
  );
  return {
    ...base,
    detections: detections.length,
    byLevel: levels,
    byTactic: Object.fromEntries(Object.entries(byTactic).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))),
    byRule: [...byRule.values()].sort((a, b) => levelRank(b.level) - levelRank(a.level) || b.count - a.count || (a.title < b.title ? -1 : 1)),
    ...(detections.length ? { first: new Date(first).toISOString(), last: new Date(last).toISOString() } : {}),
  };
}

/** Detections in the order their events happened (correlations after the rule hits of the same instant). */
export function timeline(detections: HuntDetection[]): HuntDetection[] {
  return detections
    .map((d, i) => ({ d, i }))
    .sort((a, b) => a.d.ms - b.d.ms || a.i - b.i)
    .map((x) => x.d);
}
