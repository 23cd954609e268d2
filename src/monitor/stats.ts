/**
 * The monitoring dashboard's figures for a time range: events and alerts per time bucket (alerts by level),
 * the rules that raised the most alerts, the hosts and source addresses that sent the most events, and the
 * actions most seen. Counted in the database over the event store's time column (partition pruning keeps a
 * day's range to a day's partitions) and the alerts' creation time; the range is bounded (a year) and the
 * bucket chosen so that a chart has at most 240 points.
 */
import { TrucError } from '../errors.js';
import type { Sql } from '../store/index.js';
import { LEVELS } from './alerts/store.js';

export interface MonitorStats {
  from: string;
  to: string;
  /** bucket width, seconds */
  bucketSeconds: number;
  events: { t: string; count: number }[];
  alerts: { t: string; count: number; byLevel: Record<string, number> }[];
  totals: { events: number; alerts: number; openAlerts: number };
  topRules: { ruleId: string; title: string; level: string; alerts: number; hits: number }[];
  topHosts: { value: string; count: number }[];
  topSources: { value: string; count: number }[];
  topActions: { value: string; count: number }[];
}

const MAX_RANGE_MS = 366 * 86_400_000;
const MAX_POINTS = 240;
/** widths a bucket may take, seconds: a minute … a week */
const WIDTHS = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400, 7 * 86_400];

export function bucketFor(rangeMs: number): number {
  return WIDTHS.find((w) => rangeMs / 1000 / w <= MAX_POINTS) ?? WIDTHS[WIDTHS.length - 1]!;
}

export async function monitorStats(db: Sql, range: { from: Date; to: Date; top?: number }): Promise<MonitorStats> {
  const { from, to } = range;
  if (!(from < to)) throw new TrucError('bad_request', 'the range needs from < to');
  if (to.getTime() - from.getTime() > MAX_RANGE_MS) throw new TrucError('bad_request', 'the dashboard covers at most a year at a time');
  const top = Math.min(Math.max(range.top ?? 10, 1), 50);
  const width = bucketFor(to.getTime() - from.getTime());
  const origin = Math.floor(from.getTime() / 1000 / width) * width;
  // the bucket of a time: whole widths since the origin (works on every PostgreSQL, date_bin needs 14)
  const bucket = (col: string) => `floor((extract(epoch from ${col}) - ${origin}) / ${width})::int`;
  const [events, alerts, rules, hosts, sources, actions, open] = await Promise.all([
    db.query<{ b: number; n: string }>(`SELECT ${bucket('ts')} AS b, count(*) AS n FROM monitor_event WHERE ts >= $1 AND ts < $2 GROUP BY 1 ORDER BY 1`, [from, to]),
    db.query<{ b: number; level: string; n: string }>(
      `SELECT ${bucket('created_at')} AS b, level, count(*) AS n FROM monitor_alert WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2 ORDER BY 1`,
      [from, to],
    ),
    db.query<{ rule_id: string; title: string; level: string; alerts: string; hits: string }>(
      `SELECT rule_id, max(rule_title) AS title, max(level) AS level, count(*) AS alerts, sum(count) AS hits
         FROM monitor_alert WHERE created_at >= $1 AND created_at < $2 GROUP BY rule_id ORDER BY count(*) DESC, sum(count) DESC, rule_id LIMIT ${top}`,
      [from, to],
    ),
    db.query<{ v: string; n: string }>(`SELECT host AS v, count(*) AS n FROM monitor_event WHERE ts >= $1 AND ts < $2 AND host IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ${top}`, [from, to]),
    db.query<{ v: string; n: string }>(`SELECT source_ip AS v, count(*) AS n FROM monitor_event WHERE ts >= $1 AND ts < $2 AND source_ip IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ${top}`, [from, to]),
    db.query<{ v: string; n: string }>(`SELECT action AS v, count(*) AS n FROM monitor_event WHERE ts >= $1 AND ts < $2 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ${top}`, [from, to]),
    db.query<{ n: string }>(`SELECT count(*) AS n FROM monitor_alert WHERE status <> 'closed'`),
  ]);
  const at = (b: number) => new Date((origin + b * width) * 1000).toISOString();
  const byBucket = new Map<number, { count: number; byLevel: Record<string, number> }>();
  for (const r of alerts) {
    const e = byBucket.get(r.b) ?? { count: 0, byLevel: Object.fromEntries(LEVELS.map((l) => [l, 0])) };
    e.count += Number(r.n);
    e.byLevel[r.level] = (e.byLevel[r.level] ?? 0) + Number(r.n);
    byBucket.set(r.b, e);
  }
  const list = (rows: { v: string; n: string }[]) => rows.map((r) => ({ value: r.v, count: Number(r.n) }));
  const eventSeries = events.map((r) => ({ t: at(r.b), count: Number(r.n) }));
  const alertSeries = [...byBucket.entries()].sort((a, b) => a[0] - b[0]).map(([b, e]) => ({ t: at(b), ...e }));
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    bucketSeconds: width,
    events: eventSeries,
    alerts: alertSeries,
    totals: { events: eventSeries.reduce((s, e) => s + e.count, 0), alerts: alertSeries.reduce((s, e) => s + e.count, 0), openAlerts: Number(open[0]?.n ?? 0) },
    topRules: rules.map((r) => ({ ruleId: r.rule_id, title: r.title, level: r.level, alerts: Number(r.alerts), hits: Number(r.hits) })),
    topHosts: list(hosts),
    topSources: list(sources),
    topActions: list(actions),
  };
}
