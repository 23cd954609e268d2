import { tr } from '../i18n';
/**
 * The monitoring dashboard (issue 18): for the last day, week or month, events and alerts over time (alerts
 * stacked by level), the rules that raised the most alerts (each opening its alerts), and the hosts, source
 * addresses and actions seen most — from `GET /api/v1/monitor/stats`, drawn as SVG (no script from
 * elsewhere: the console's policy admits none). Each chart carries its figures as text for screen readers.
 */
import { useState, type ReactNode } from 'react';
import { api } from '../api';
import { Bi, Loading, PageTitle, ProblemBox, RuleTitle, useLoad } from '../components';
import { Link } from '../router';
import { LEVELS, LEVEL_VI, dateTime } from '../format';

interface Stats {
  from: string;
  to: string;
  bucketSeconds: number;
  events: { t: string; count: number }[];
  alerts: { t: string; count: number; byLevel: Record<string, number> }[];
  totals: { events: number; alerts: number; openAlerts: number };
  topRules: { ruleId: string; title: string; level: string; alerts: number; hits: number }[];
  topHosts: { value: string; count: number }[];
  topSources: { value: string; count: number }[];
  topActions: { value: string; count: number }[];
}

const RANGES: { key: string; hours: number; vi: string; en: string }[] = [
  { key: '24h', hours: 24, vi: '24 giờ qua', en: 'last 24 hours' },
  { key: '7d', hours: 7 * 24, vi: '7 ngày qua', en: 'last 7 days' },
  { key: '30d', hours: 30 * 24, vi: '30 ngày qua', en: 'last 30 days' },
];

const LEVEL_COLOR: Record<string, string> = {
  informational: '#98a2b3',
  low: '#2e90fa',
  medium: '#f79009',
  high: '#e04f16',
  critical: '#b42318',
};

const nf = new Intl.NumberFormat('vi-VN');

/** Bars over time: one stack of segments per bucket, empty buckets drawn as gaps. */
function TimeBars({
  from,
  to,
  width,
  points,
  label,
}: {
  from: string;
  to: string;
  width: number;
  points: { t: string; parts: { value: number; color: string }[] }[];
  label: string;
}) {
  const W = 720;
  const H = 160;
  const start = new Date(from).getTime();
  const n = Math.max(1, Math.ceil((new Date(to).getTime() - start) / 1000 / width));
  const max = Math.max(1, ...points.map((p) => p.parts.reduce((s, x) => s + x.value, 0)));
  const bw = W / n;
  return (
    <figure className="chart-box">
      <span className="chart-max small-text muted">{nf.format(max)}</span>
      <svg
        className="chart"
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={label}
        preserveAspectRatio="none"
      >
        <line x1="0" x2={W} y1={H} y2={H} stroke="#d0d5dd" />
        {points.map((p) => {
          const i = Math.floor((new Date(p.t).getTime() - start) / 1000 / width);
          let y = H;
          return p.parts.map((part, j) => {
            const h = (part.value / max) * (H - 10);
            y -= h;
            return part.value ? (
              <rect
                key={`${p.t}-${j}`}
                x={i * bw + 0.5}
                y={y}
                width={Math.max(1, bw - 1)}
                height={h}
                fill={part.color}
              >
                <title>
                  {dateTime(p.t)}: {nf.format(part.value)}
                </title>
              </rect>
            ) : null;
          });
        })}
      </svg>
      <figcaption className="chart-axis small-text muted">
        <span>{dateTime(from)}</span>
        <span>{dateTime(to)}</span>
      </figcaption>
    </figure>
  );
}

function TopList({
  title,
  rows,
  testid,
}: {
  title: { vi: string; en: string };
  rows: { key: string; label: ReactNode; count: number; color?: string }[];
  testid: string;
}) {
  const max = Math.max(1, ...rows.map((r) => r.count));
  return (
    <section className="card" data-testid={testid}>
      <h2 className="card-title">
        <Bi vi={title.vi} en={title.en} />
      </h2>
      {rows.length ? (
        <ol className="toplist">
          {rows.map((r) => (
            <li key={r.key}>
              <span className="toplist-label">{r.label}</span>
              <span className="toplist-bar" aria-hidden="true">
                <span style={{ width: `${(r.count / max) * 100}%`, background: r.color ?? '#175cd3' }} />
              </span>
              <span className="toplist-count">{nf.format(r.count)}</span>
            </li>
          ))}
        </ol>
      ) : (
        <p className="muted small-text">
          <Bi vi="Không có" en="none" />
        </p>
      )}
    </section>
  );
}

export function Dashboard() {
  const [range, setRange] = useState('24h');
  const hours = RANGES.find((r) => r.key === range)!.hours;
  const { data, error, loading } = useLoad(() => {
    const to = new Date();
    return api<Stats>('/api/v1/monitor/stats', {
      query: { from: new Date(to.getTime() - hours * 3_600_000).toISOString(), to: to.toISOString() },
    });
  }, [hours]);
  return (
    <section data-testid="dashboard">
      <PageTitle vi="Tổng quan giám sát" en="Monitoring dashboard">
        <div className="segmented" role="group" aria-label={tr('Khoảng thời gian', 'range')}>
          {RANGES.map((r) => (
            <button
              key={r.key}
              type="button"
              className={r.key === range ? '' : 'secondary'}
              aria-pressed={r.key === range}
              onClick={() => setRange(r.key)}
            >
              <Bi vi={r.vi} en={r.en} />
            </button>
          ))}
        </div>
      </PageTitle>
      <ProblemBox error={error} />
      {loading && !data ? <Loading /> : null}
      {data ? (
        <>
          <div className="kpis" data-testid="totals">
            <div className="card kpi">
              <div className="kpi-value" data-testid="total-events">
                {nf.format(data.totals.events)}
              </div>
              <Bi vi="sự kiện" en="events" />
            </div>
            <div className="card kpi">
              <div className="kpi-value" data-testid="total-alerts">
                {nf.format(data.totals.alerts)}
              </div>
              <Bi vi="cảnh báo mới" en="new alerts" />
            </div>
            <div className="card kpi">
              <div className="kpi-value" data-testid="open-alerts">
                <Link to="/alerts?status=new">{nf.format(data.totals.openAlerts)}</Link>
              </div>
              <Bi vi="cảnh báo chưa đóng" en="open alerts, all time" />
            </div>
          </div>
          <section className="card" data-testid="events-chart">
            <h2 className="card-title">
              <Bi vi="Sự kiện theo thời gian" en="events over time" />
            </h2>
            <TimeBars
              from={data.from}
              to={data.to}
              width={data.bucketSeconds}
              label={`${tr('Sự kiện', 'events')}: ${data.events.map((e) => `${dateTime(e.t)} ${e.count}`).join('; ')}`}
              points={data.events.map((e) => ({ t: e.t, parts: [{ value: e.count, color: '#175cd3' }] }))}
            />
          </section>
          <section className="card" data-testid="alerts-chart">
            <h2 className="card-title">
              <Bi vi="Cảnh báo theo thời gian, theo mức độ" en="alerts over time, by level" />
            </h2>
            <TimeBars
              from={data.from}
              to={data.to}
              width={data.bucketSeconds}
              label={`${tr('Cảnh báo', 'alerts')}: ${data.alerts.map((a) => `${dateTime(a.t)} ${a.count}`).join('; ')}`}
              points={data.alerts.map((a) => ({
                t: a.t,
                parts: LEVELS.map((l) => ({ value: a.byLevel[l] ?? 0, color: LEVEL_COLOR[l]! })),
              }))}
            />
            <p className="legend small-text">
              {LEVELS.map((l) => (
                <span key={l}>
                  <span className="swatch" style={{ background: LEVEL_COLOR[l] }} /> {tr(LEVEL_VI[l]!, l)}
                </span>
              ))}
            </p>
          </section>
          <div className="grid-2">
            <TopList
              testid="top-rules"
              title={{ vi: 'Luật cảnh báo nhiều nhất', en: 'top rules' }}
              rows={data.topRules.map((r) => ({
                key: r.ruleId,
                label: (
                  <Link to={`/alerts?rule=${encodeURIComponent(r.ruleId)}`}>
                    <RuleTitle ruleId={r.ruleId} title={r.title} />
                  </Link>
                ),
                count: r.alerts,
                color: LEVEL_COLOR[r.level],
              }))}
            />
            <TopList
              testid="top-hosts"
              title={{ vi: 'Máy gửi nhiều sự kiện nhất', en: 'top hosts' }}
              rows={data.topHosts.map((h) => ({ key: h.value, label: h.value, count: h.count }))}
            />
            <TopList
              testid="top-sources"
              title={{ vi: 'Địa chỉ nguồn nhiều nhất', en: 'top source addresses' }}
              rows={data.topSources.map((h) => ({
                key: h.value,
                label: <span className="mono">{h.value}</span>,
                count: h.count,
              }))}
            />
            <TopList
              testid="top-actions"
              title={{ vi: 'Hành động thường gặp', en: 'top actions' }}
              rows={data.topActions.map((h) => ({
                key: h.value,
                label: <span className="mono">{h.value}</span>,
                count: h.count,
              }))}
            />
          </div>
        </>
      ) : null}
    </section>
  );
}
