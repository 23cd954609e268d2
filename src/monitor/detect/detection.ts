/**
 * The detection service: the Sigma engine compiled once from the rule folders (our pack and the operator's),
 * with the analysts' settings applied — disabled rules stay compiled but their matches are dropped before
 * correlation, tuned rules are recompiled with their filter. The correlation state is carried across a
 * recompilation and saved to the database, so windows survive restarts.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { TrucError } from '../../errors.js';
import type { Db } from '../../store/index.js';
import {
  Engine,
  loadRulesCached,
  parsePipeline,
  type CorrelationMatch,
  type DetectorOptions,
  type MatchResult,
  type Rejection,
  type SigmaDocument,
  type SigmaFilter,
} from '../sigma/index.js';
import { listSettings, loadState, saveSetting, saveState, type RuleSetting } from './settings.js';

const STATE_KEY = 'correlation';

export interface DetectResult {
  /** ids of every enabled rule that matched (stored with the event) */
  rules: string[];
  alerts: MatchResult[];
  correlations: CorrelationMatch[];
}

export interface RuleInfo {
  id: string;
  title: string;
  kind: SigmaDocument['kind'];
  level: string | undefined;
  author: string | undefined;
  status: string | undefined;
  tags: string[];
  file: string;
  enabled: boolean;
  filter: Record<string, unknown> | null;
}

/** How rules are compiled: processing pipelines (pySigma's YAML shape) and values for `%placeholder%`s. */
export type CompileSettings = Pick<DetectorOptions, 'pipelines' | 'placeholders'>;

/**
 * Reads the configured pipeline files. A file that does not read or parse stops the start with its name:
 * running without the mapping an operator asked for would silently leave rules looking at absent fields.
 */
export async function compileSettings(c: { pipelines: readonly string[]; placeholders: Readonly<Record<string, readonly string[]>> }): Promise<CompileSettings> {
  const pipelines = [];
  for (const file of c.pipelines) {
    try {
      pipelines.push(parsePipeline(await readFile(file, 'utf8')));
    } catch (e) {
      throw new TrucError('invalid_config', `processing pipeline ${file}: ${(e as Error).message}`, { file });
    }
  }
  return { pipelines, placeholders: c.placeholders };
}

export function ruleKey(d: { id?: string | undefined; name?: string | undefined; title: string }): string {
  return d.id ?? d.name ?? d.title;
}

function filterDocument(ruleId: string, detection: Record<string, unknown>): SigmaFilter {
  return {
    kind: 'filter',
    title: `tuning of ${ruleId}`,
    id: `tuning-${ruleId}`,
    tags: [],
    raw: {},
    origin: { file: 'monitor_rule_setting', line: 1 },
    logsource: {},
    rules: [ruleId],
    detection,
  };
}

export class Detection {
  engine: Engine;
  private settings = new Map<string, RuleSetting>();

  private constructor(
    private readonly db: Db,
    readonly documents: SigmaDocument[],
    readonly loadRejected: Rejection[],
    readonly options: CompileSettings,
    private readonly log?: Logger,
    /** how the rules were read: from the rule cache (hit), parsed and cached (built), parsed with no cache */
    readonly cache: 'hit' | 'built' | 'uncached' = 'uncached',
  ) {
    this.engine = new Engine(documents, options);
  }

  /**
   * Loads the rules through the rule cache `truc hunt` uses (sigma/cache.ts; `cache.dir`, default TRUC_CACHE_DIR
   * or the user's cache folder; null: none), so that a start with SigmaHQ's thousands of rules reads back their
   * parsed form instead of parsing their YAML again.
   */
  static async load(
    db: Db,
    dirs: readonly string[],
    log?: Logger,
    options: CompileSettings = {},
    cache: { dir?: string | null } = {},
  ): Promise<Detection> {
    const t0 = performance.now();
    const loaded = dirs.length ? await loadRulesCached(dirs, cache) : { documents: [], rejected: [], cache: 'uncached' as const };
    log?.info({ rules: loaded.documents.length, cache: loaded.cache, ms: Math.round(performance.now() - t0) }, 'rules loaded');
    const d = new Detection(db, loaded.documents, loaded.rejected, options, log, loaded.cache);
    await d.reload();
    const state = await loadState(db, STATE_KEY);
    if (state) {
      try {
        d.engine.correlator.restore(state);
      } catch (err) {
        log?.warn({ err }, 'saved correlation state not restored');
      }
    }
    return d;
  }

  get rejected(): Rejection[] {
    return [...this.loadRejected, ...this.engine.rejected];
  }

  /** Reads the settings and recompiles when filters changed; keeps the correlation state. */
  async reload(): Promise<void> {
    const settings = new Map((await listSettings(this.db)).map((s) => [s.ruleId, s]));
    const filters = [...settings.values()].filter((s) => s.filter).map((s) => filterDocument(s.ruleId, s.filter!));
    const same =
      filters.length === [...this.settings.values()].filter((s) => s.filter).length &&
      filters.every((f) => JSON.stringify(f.detection) === JSON.stringify(this.settings.get(f.rules[0]!)?.filter));
    this.settings = settings;
    if (same && this.engine) return;
    const state = this.engine.correlator.snapshot();
    this.engine = new Engine([...this.documents, ...filters], this.options);
    this.engine.correlator.restore(state);
  }

  enabled(id: string | undefined): boolean {
    return id === undefined || this.settings.get(id)?.enabled !== false;
  }

  process(event: Record<string, unknown>): DetectResult {
    const matches = this.engine.detector.match(event).filter((m) => this.enabled(m.ruleId ?? m.ruleName ?? m.title));
    const correlations = matches
      .flatMap((m) => this.engine.correlator.process(m))
      .filter((c) => this.enabled(ruleKey({ id: c.correlationId, name: c.correlationName, title: c.title })));
    return {
      rules: matches.map((m) => m.ruleId ?? m.ruleName ?? m.title),
      alerts: matches.filter((m) => m.generate),
      correlations,
    };
  }

  /** Closes windows of "fewer than" correlations. */
  advance(now = Date.now()): CorrelationMatch[] {
    return this.engine.correlator
      .advance(now)
      .filter((c) => this.enabled(ruleKey({ id: c.correlationId, name: c.correlationName, title: c.title })));
  }

  async saveState(): Promise<void> {
    await saveState(this.db, STATE_KEY, this.engine.correlator.snapshot());
  }

  find(id: string): SigmaDocument | undefined {
    return this.documents.find((d) => d.id === id || d.name === id);
  }

  /** The rules in force: filters and the rules that did not compile (see `rejected`) are left out. */
  rules(): RuleInfo[] {
    const where = (file: string, line: number, rule: string | undefined) => `${file}\u0000${line}\u0000${rule}`;
    const refused = new Set(this.engine.rejected.map((r) => where(r.file, r.line, r.rule)));
    return this.documents
      .filter((d) => d.kind !== 'filter' && !refused.has(where(d.origin.file, d.origin.line, d.id ?? d.title)))
      .map((d) => {
        const id = ruleKey(d);
        const s = this.settings.get(id);
        return {
          id,
          title: d.title,
          kind: d.kind,
          level: d.level,
          author: d.author,
          status: d.status,
          tags: d.tags,
          file: d.origin.file,
          enabled: s?.enabled !== false,
          filter: s?.filter ?? null,
        };
      });
  }

  /** Enables, disables or tunes a rule; a filter is compiled before it is saved. */
  async configure(id: string, change: { enabled?: boolean; filter?: Record<string, unknown> | null }, actor: string): Promise<RuleInfo> {
    const doc = this.find(id);
    if (!doc) throw new TrucError('not_found', `no rule ${id}`);
    const key = ruleKey(doc);
    if (change.filter) {
      if (doc.kind !== 'rule') throw new TrucError('bad_request', 'only detection rules take filters; tune the rules a correlation counts');
      const probe = new Engine([doc, filterDocument(key, change.filter)], this.options);
      if (probe.rejected.length) throw new TrucError('invalid_rule', `filter rejected: ${probe.rejected[0]!.reason}`);
    }
    await saveSetting(this.db, key, change, actor);
    await this.reload();
    this.log?.info({ rule: key, change, actor }, 'rule settings changed');
    return this.rules().find((r) => r.id === key)!;
  }
}
