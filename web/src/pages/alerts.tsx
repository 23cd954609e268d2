import { tr } from '../i18n';
import { Bi } from '../components';
/** Alerts: the work queue of the monitoring part, filtered by status, severity, rule and assignee. */
import { useState } from 'react';
import { api } from '../api';
import {
  Empty,
  LevelBadge,
  Loading,
  PageTitle,
  ProblemBox,
  RuleTitle,
  StatusBadge,
  useLoad,
} from '../components';
import { ALERT_STATUS_VI, LEVELS, LEVEL_VI, dateTime, groupText } from '../format';
import { Link, setQuery, useLocation } from '../router';
import type { Alert } from '../types';
import { BusHealth } from './bus-health';

export function Alerts() {
  const { query } = useLocation();
  const status = query.get('status') ?? '';
  const minSeverity = query.get('minSeverity') ?? '';
  const rule = query.get('rule') ?? '';
  const assignee = query.get('assignee') ?? '';
  const [ruleText, setRuleText] = useState(rule);
  const [assigneeText, setAssigneeText] = useState(assignee);
  const current = { status, minSeverity, rule, assignee };
  const set = (change: Partial<typeof current>) => setQuery({ ...current, ...change }, { replace: true });

  const { data, error, loading, reload } = useLoad(
    () =>
      api<{ alerts: Alert[] }>('/api/v1/alerts', {
        query: { status, minSeverity, rule, assignee, limit: 200 },
      }),
    [status, minSeverity, rule, assignee],
  );

  return (
    <section>
      <PageTitle vi="Cảnh báo" en="Alerts">
        <button type="button" className="secondary" onClick={reload}>
          <Bi vi="Làm mới" en="Refresh" />
        </button>
      </PageTitle>
      <BusHealth />
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          set({ rule: ruleText.trim(), assignee: assigneeText.trim() });
        }}
      >
        <label className="field">
          <span>
            <Bi vi="Trạng thái" en="status" />
          </span>
          <select name="status" value={status} onChange={(e) => set({ status: e.target.value })}>
            <option value="">{tr('Tất cả', 'all')}</option>
            {Object.entries(ALERT_STATUS_VI).map(([k, v]) => (
              <option key={k} value={k}>
                {tr(v, k)}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>
            <Bi vi="Mức tối thiểu" en="min. severity" />
          </span>
          <select
            name="minSeverity"
            value={minSeverity}
            onChange={(e) => set({ minSeverity: e.target.value })}
          >
            <option value="">{tr('Tất cả', 'all')}</option>
            {LEVELS.map((l, i) => (
              <option key={l} value={String(i + 1)}>
                {tr(LEVEL_VI[l]!, l)}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>
            <Bi vi="Mã luật" en="rule id" />
          </span>
          <input name="rule" value={ruleText} onChange={(e) => setRuleText(e.target.value)} />
        </label>
        <label className="field">
          <span>
            <Bi vi="Người xử lý" en="assignee" />
          </span>
          <input name="assignee" value={assigneeText} onChange={(e) => setAssigneeText(e.target.value)} />
        </label>
        <button type="submit">
          <Bi vi="Lọc" en="Filter" />
        </button>
      </form>
      <ProblemBox error={error} />
      {loading && !data ? <Loading /> : null}
      {data && !data.alerts.length ? (
        <Empty>
          <Bi vi="Không có cảnh báo nào khớp" en="no matching alerts" />
        </Empty>
      ) : null}
      {data && data.alerts.length ? (
        <table className="table" data-testid="alerts-table">
          <thead>
            <tr>
              <th>#</th>
              <th>
                <Bi vi="Mức" en="level" />
              </th>
              <th>
                <Bi vi="Cảnh báo" en="alert" />
              </th>
              <th>
                <Bi vi="Nhóm" en="group" />
              </th>
              <th className="num">
                <Bi vi="Số lần" en="count" />
              </th>
              <th>
                <Bi vi="Lần cuối" en="last seen" />
              </th>
              <th>
                <Bi vi="Trạng thái" en="status" />
              </th>
              <th>
                <Bi vi="Người xử lý" en="assignee" />
              </th>
            </tr>
          </thead>
          <tbody>
            {data.alerts.map((a) => (
              <tr key={a.id} data-alert-id={a.id}>
                <td className="mono">{a.id}</td>
                <td>
                  <LevelBadge level={a.level} />
                </td>
                <td>
                  <Link to={`/alerts/${a.id}`}>
                    <RuleTitle ruleId={a.ruleId} title={a.title} />
                  </Link>
                  {a.kind === 'correlation' ? (
                    <span className="tag">
                      <Bi vi="tương quan" en="correlation" />
                    </span>
                  ) : null}
                </td>
                <td className="muted small-text">{groupText(a.group)}</td>
                <td className="num">{a.count}</td>
                <td className="nowrap">{dateTime(a.lastAt)}</td>
                <td>
                  <StatusBadge status={a.status} />
                </td>
                <td>{a.assignee ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
