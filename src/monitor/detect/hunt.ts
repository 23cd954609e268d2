/**
 * Hunting: one rule (a loaded one by id, or YAML posted by the analyst) run over the stored events of a
 * time range, in time order, with a correlator of its own — what the live engine would have said had the
 * rule been loaded then. A correlation brings the rules it counts along.
 */
import { TrucError } from '../../errors.js';
import { Engine, parseRules, type SigmaDocument } from '../sigma/index.js';
import type { EventStore } from '../events/store.js';
import type { Detection } from './detection.js';
import { ruleKey } from './detection.js';

export interface HuntRequest {
  ruleId?: string;
  yaml?: string;
  from: Date;
  to: Date;
  /** field filters narrowing the events scanned (as in event search) */
  where?: Record<string, string>;
  /** stop after this many matches (default 10 000) */
  limit?: number;
}

export interface HuntResult {
  rules: string[];
  scanned: number;
  matches: { eventId: string; ts: string; ruleId: string; title: string }[];
  correlations: { ruleId: string; title: string; group: Record<string, unknown>; value: number; firstAt: string; lastAt: string; eventId: string }[];
  truncated: boolean;
}

const MAX_RANGE_MS = 366 * 86_400_000;
const HUNT_SLICE_MS = 10;

export async function hunt(store: EventStore, detection: Detection | undefined, req: HuntRequest): Promise<HuntResult> {
  if (!(req.from < req.to)) throw new TrucError('bad_request', 'hunting needs from < to');
  if (req.to.getTime() - req.from.getTime() > MAX_RANGE_MS) throw new TrucError('bad_request', 'hunting covers at most a year at a time');
  let docs: SigmaDocument[];
  if (req.yaml !== undefined) {
    const r = parseRules(req.yaml, '<hunt>');
    if (r.rejected.length) throw new TrucError('invalid_rule', `rule rejected: ${r.rejected[0]!.reason}`, { rejected: r.rejected });
    docs = r.documents;
  } else if (req.ruleId) {
    const d = detection?.find(req.ruleId);
    if (!d) throw new TrucError('not_found', `no rule ${req.ruleId}`);
    docs = [d];
  } else throw new TrucError('bad_request', 'hunting needs a rule id or a rule in YAML');
  if (docs.length === 0) throw new TrucError('invalid_rule', 'no rule in the request');
  // a correlation needs the rules it refers to
  const have = new Set(docs.flatMap((d) => [d.id, d.name].filter(Boolean) as string[]));
  for (const d of [...docs]) {
    if (d.kind !== 'correlation') continue;
    for (const r of d.rules) {
      if (have.has(r)) continue;
      const ref = detection?.find(r);
      if (!ref) throw new TrucError('invalid_rule', `correlation ${ruleKey(d)} refers to unknown rule ${r}`);
      docs.push(ref);
      have.add(r);
    }
  }
  const engine = new Engine(docs, detection?.options);
  if (engine.rejected.length) throw new TrucError('invalid_rule', `rule rejected: ${engine.rejected[0]!.reason}`, { rejected: engine.rejected });
  const limit = Math.min(req.limit ?? 10_000, 100_000);
  const out: HuntResult = { rules: docs.map(ruleKey), scanned: 0, matches: [], correlations: [], truncated: false };
  // Matching is linear in the text (regex.ts), but a year of events is still long work: give the event
  // loop back every few milliseconds so OCSP, the CA and the TSA answer while a hunt runs.
  let slice = performance.now();
  for await (const e of store.scan(req.from, req.to, req.where ?? {})) {
    if (performance.now() - slice > HUNT_SLICE_MS) {
      await new Promise<void>((r) => setImmediate(r));
      slice = performance.now();
    }
    out.scanned++;
    const r = engine.process(e.event as unknown as Record<string, unknown>);
    for (const m of r.matches)
      out.matches.push({ eventId: e.id, ts: e.ts.toISOString(), ruleId: m.ruleId ?? m.ruleName ?? m.title, title: m.title });
    for (const c of r.correlations)
      out.correlations.push({
        ruleId: c.correlationId ?? c.correlationName ?? c.title,
        title: c.title,
        group: c.group,
        value: c.value,
        firstAt: new Date(c.firstAt).toISOString(),
        lastAt: new Date(c.lastAt).toISOString(),
        eventId: e.id,
      });
    if (out.matches.length + out.correlations.length >= limit) {
      out.truncated = true;
      break;
    }
  }
  return out;
}
