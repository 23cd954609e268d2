import { tr } from '../i18n';
/**
 * Detection rules: search, switch on and off, and tune with an exception — a Sigma filter detection (search
 * identifiers and a condition) AND-ed with the rule, saved through PATCH /api/v1/rules/:id.
 */
import { useMemo, useState } from 'react';
import { api, patch } from '../api';
import { ruleTitle } from '../rule-titles';
import {
  Bi,
  Empty,
  LevelBadge,
  Loading,
  PageTitle,
  ProblemBox,
  RuleTitle,
  useAction,
  useLoad,
} from '../components';
import { setQuery, useLocation } from '../router';
import { session } from '../session';
import type { Rule } from '../types';

interface RulesAnswer {
  rules: Rule[];
  rejected: { file: string; line: number; rule?: string; reason: string }[];
}

export function Rules() {
  const { query } = useLocation();
  const q = query.get('q') ?? '';
  const state = query.get('state') ?? '';
  const { data, error, loading, reload } = useLoad(() => api<RulesAnswer>('/api/v1/rules'), []);
  const [editing, setEditing] = useState<string | null>(null);
  const toggle = useAction();
  const manage = session.can('monitor.manage');

  const rules = useMemo(() => {
    const needle = q.trim().toLowerCase();
    return (data?.rules ?? []).filter(
      (r) =>
        (!state || (state === 'enabled' ? r.enabled : !r.enabled)) &&
        (!needle ||
          [r.title, ruleTitle(r.id, r.title)?.vi ?? '', r.id, r.level ?? '', r.author ?? '', ...r.tags].some(
            (s) => s.toLowerCase().includes(needle),
          )),
    );
  }, [data, q, state]);

  const setEnabled = async (r: Rule, enabled: boolean) => {
    if (await toggle.run(() => patch(`/api/v1/rules/${encodeURIComponent(r.id)}`, { enabled }))) reload();
  };

  return (
    <section>
      <PageTitle vi="Luật phát hiện" en="Detection rules">
        <span className="muted">
          {data ? tr(`${data.rules.length} luật`, `${data.rules.length} rules`) : ''}
          {data?.rejected.length
            ? ` · ${tr(`${data.rejected.length} luật lỗi`, `${data.rejected.length} rejected`)}`
            : ''}
        </span>
      </PageTitle>
      <div className="filters">
        <label className="field grow">
          <span>
            <Bi vi="Tìm kiếm" en="search: title, id, tag, level" />
          </span>
          <input
            name="q"
            type="search"
            value={q}
            onChange={(e) => setQuery({ q: e.target.value, state }, { replace: true })}
          />
        </label>
        <label className="field">
          <span>
            <Bi vi="Trạng thái" en="state" />
          </span>
          <select
            name="state"
            value={state}
            onChange={(e) => setQuery({ q, state: e.target.value }, { replace: true })}
          >
            <option value="">{tr('Tất cả', 'all')}</option>
            <option value="enabled">{tr('Đang bật', 'enabled')}</option>
            <option value="disabled">{tr('Đã tắt', 'disabled')}</option>
          </select>
        </label>
      </div>
      <ProblemBox error={error} />
      <ProblemBox error={toggle.error} onClose={toggle.clear} />
      {loading && !data ? <Loading /> : null}
      {data && !rules.length ? <Empty /> : null}
      {rules.length ? (
        <table className="table" data-testid="rules-table">
          <thead>
            <tr>
              <th>
                <Bi vi="Bật" en="on" />
              </th>
              <th>
                <Bi vi="Luật" en="rule" />
              </th>
              <th>
                <Bi vi="Mức" en="level" />
              </th>
              <th>
                <Bi vi="Loại" en="kind" />
              </th>
              <th>
                <Bi vi="Ngoại lệ" en="exception" />
              </th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rules.map((r) => (
              <RuleRow
                key={r.id}
                rule={r}
                manage={manage}
                busy={toggle.busy}
                editing={editing === r.id}
                onToggle={(on) => setEnabled(r, on)}
                onEdit={() => setEditing(editing === r.id ? null : r.id)}
                onSaved={() => {
                  setEditing(null);
                  reload();
                }}
              />
            ))}
          </tbody>
        </table>
      ) : null}
      {data?.rejected.length ? (
        <details className="rejected">
          <summary>
            <Bi vi="Luật không biên dịch được" en="rules that did not compile" /> ({data.rejected.length})
          </summary>
          <ul>
            {data.rejected.slice(0, 200).map((r, i) => (
              <li key={i}>
                <span className="mono">
                  {r.file}:{r.line}
                </span>
                {r.rule ? ` (${r.rule})` : ''}: {r.reason}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </section>
  );
}

function RuleRow(props: {
  rule: Rule;
  manage: boolean;
  busy: boolean;
  editing: boolean;
  onToggle: (on: boolean) => void;
  onEdit: () => void;
  onSaved: () => void;
}) {
  const r = props.rule;
  return (
    <>
      <tr data-rule-id={r.id} className={r.enabled ? '' : 'disabled-row'}>
        <td>
          <label className="switch" title={r.enabled ? tr('Đang bật', 'enabled') : tr('Đã tắt', 'disabled')}>
            <input
              type="checkbox"
              aria-label={
                r.enabled
                  ? tr(`Tắt luật ${r.title}`, `Disable rule ${r.title}`)
                  : tr(`Bật luật ${r.title}`, `Enable rule ${r.title}`)
              }
              checked={r.enabled}
              disabled={!props.manage || props.busy}
              onChange={(e) => props.onToggle(e.target.checked)}
            />
            <span className="switch-track" />
          </label>
        </td>
        <td>
          <div>
            <RuleTitle ruleId={r.id} title={r.title} />
          </div>
          <div className="mono muted small-text">{r.id}</div>
        </td>
        <td>{r.level ? <LevelBadge level={r.level} /> : '—'}</td>
        <td>{r.kind === 'correlation' ? tr('tương quan', 'correlation') : tr('luật', 'rule')}</td>
        <td>
          {r.filter ? (
            <code className="small-text">
              {String((r.filter as { condition?: unknown }).condition ?? 'filter')}
            </code>
          ) : (
            '—'
          )}
        </td>
        <td>
          {props.manage && r.kind === 'rule' ? (
            <button type="button" className="secondary small" onClick={props.onEdit}>
              {props.editing ? tr('Huỷ', 'Cancel') : tr('Tinh chỉnh', 'Tune')}
            </button>
          ) : null}
        </td>
      </tr>
      {props.editing ? (
        <tr className="expanded">
          <td colSpan={6}>
            <FilterEditor rule={r} onSaved={props.onSaved} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** The exception builder writes the common case; the JSON box takes any Sigma filter detection. */
function FilterEditor({ rule, onSaved }: { rule: Rule; onSaved: () => void }) {
  const [text, setText] = useState(() =>
    JSON.stringify(
      rule.filter ?? { exception: { 'source.ip': ['10.0.0.5'] }, condition: 'not exception' },
      null,
      2,
    ),
  );
  const [field, setField] = useState('');
  const [values, setValues] = useState('');
  const [parseError, setParseError] = useState<string | null>(null);
  const save = useAction();

  const build = () => {
    const list = values
      .split(/[,\n]/)
      .map((v) => v.trim())
      .filter(Boolean);
    if (!field.trim() || !list.length) return;
    setText(JSON.stringify({ exception: { [field.trim()]: list }, condition: 'not exception' }, null, 2));
  };

  const submit = async (filter: Record<string, unknown> | null) => {
    if (await save.run(() => patch(`/api/v1/rules/${encodeURIComponent(rule.id)}`, { filter }))) onSaved();
  };

  return (
    <div className="filter-editor" data-testid="filter-editor">
      <p className="muted">
        <Bi
          vi="Ngoại lệ là một bộ lọc Sigma (các định danh tìm kiếm và một điều kiện) được AND với luật: sự kiện khớp ngoại lệ sẽ không gây cảnh báo."
          en="An exception is a Sigma filter detection AND-ed with the rule: events it matches raise no alert."
        />
      </p>
      <div className="action-row">
        <input
          name="field"
          placeholder={tr('trường, vd. source.ip', 'field, e.g. source.ip')}
          aria-label={tr('Trường của ngoại lệ', 'Exception field')}
          value={field}
          onChange={(e) => setField(e.target.value)}
        />
        <input
          name="values"
          placeholder={tr('giá trị, phân tách bằng dấu phẩy', 'values, comma separated')}
          aria-label={tr('Giá trị của ngoại lệ', 'Exception values')}
          value={values}
          onChange={(e) => setValues(e.target.value)}
        />
        <button type="button" className="secondary" onClick={build}>
          <Bi vi="Tạo ngoại lệ" en="Build exception" />
        </button>
      </div>
      <textarea
        name="filter"
        className="mono"
        rows={8}
        value={text}
        onChange={(e) => setText(e.target.value)}
        spellCheck={false}
      />
      {parseError ? (
        <div className="problem" role="alert">
          <Bi vi="JSON không hợp lệ" en="invalid JSON" />: {parseError}
        </div>
      ) : null}
      <ProblemBox error={save.error} onClose={save.clear} />
      <div className="action-row">
        <button
          type="button"
          disabled={save.busy}
          onClick={() => {
            try {
              const v = JSON.parse(text);
              setParseError(null);
              void submit(v);
            } catch (e) {
              setParseError((e as Error).message);
            }
          }}
        >
          <Bi vi="Lưu ngoại lệ" en="Save filter" />
        </button>
        {rule.filter ? (
          <button type="button" className="danger" disabled={save.busy} onClick={() => submit(null)}>
            <Bi vi="Bỏ ngoại lệ" en="Remove filter" />
          </button>
        ) : null}
      </div>
    </div>
  );
}
