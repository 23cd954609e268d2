import { tr } from '../i18n';
/**
 * One alert: what fired and on what, the events behind it, its notes, and the analyst's work on it —
 * acknowledge, assign, note, close with a reason. Actions show only with monitor.manage; the API decides.
 */
import { useState } from 'react';
import { api, post } from '../api';
import {
  Bi,
  Empty,
  Json,
  LevelBadge,
  Loading,
  ProblemBox,
  RuleTitle,
  StatusBadge,
  useAction,
  useLoad,
} from '../components';
import { dateTime, groupText } from '../format';
import { Link } from '../router';
import { session } from '../session';
import type { Alert, StoredEvent } from '../types';

export function AlertDetail({ id }: { id: string }) {
  const alert = useLoad(() => api<Alert>(`/api/v1/alerts/${encodeURIComponent(id)}`), [id]);
  const events = useLoad(
    () => api<{ events: StoredEvent[] }>(`/api/v1/alerts/${encodeURIComponent(id)}/events`),
    [id],
  );
  const action = useAction();
  const [assignee, setAssignee] = useState('');
  const [note, setNote] = useState('');
  const [reason, setReason] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const manage = session.can('monitor.manage');

  const act = async (path: string, body: unknown, after?: () => void) => {
    if (await action.run(() => post(`/api/v1/alerts/${encodeURIComponent(id)}/${path}`, body))) {
      after?.();
      alert.reload();
    }
  };

  const a = alert.data;
  return (
    <section>
      <div className="crumbs">
        <Link to="/alerts">
          <Bi vi="← Cảnh báo" en="Alerts" />
        </Link>
      </div>
      <ProblemBox error={alert.error} />
      {alert.loading && !a ? <Loading /> : null}
      {a ? (
        <>
          <div className="page-title">
            <h1>
              <LevelBadge level={a.level} /> <RuleTitle ruleId={a.ruleId} title={a.title} />
            </h1>
            <StatusBadge status={a.status} />
          </div>
          <dl className="facts">
            <dt>
              <Bi vi="Mã cảnh báo" en="alert id" />
            </dt>
            <dd className="mono">{a.id}</dd>
            <dt>
              <Bi vi="Luật" en="rule" />
            </dt>
            <dd>
              <span className="mono">{a.ruleId}</span>{' '}
              {a.kind === 'correlation' ? (
                <span className="tag">
                  <Bi vi="tương quan" en="correlation" />
                </span>
              ) : null}
            </dd>
            <dt>
              <Bi vi="Tác giả luật" en="rule author" />
            </dt>
            <dd>{a.author ?? '—'}</dd>
            <dt>
              <Bi vi="Nhóm" en="group" />
            </dt>
            <dd>{groupText(a.group) || '—'}</dd>
            <dt>
              <Bi vi="Số lần" en="count" />
            </dt>
            <dd>{a.count}</dd>
            <dt>
              <Bi vi="Khoảng thời gian" en="first – last" />
            </dt>
            <dd>
              {dateTime(a.firstAt)} – {dateTime(a.lastAt)}
            </dd>
            <dt>ATT&amp;CK</dt>
            <dd>{a.attack.length ? a.attack.join(', ') : '—'}</dd>
            <dt>
              <Bi vi="Người xử lý" en="assignee" />
            </dt>
            <dd data-testid="assignee">{a.assignee ?? '—'}</dd>
            {a.closeReason ? (
              <>
                <dt>
                  <Bi vi="Lý do đóng" en="close reason" />
                </dt>
                <dd data-testid="close-reason">{a.closeReason}</dd>
              </>
            ) : null}
          </dl>

          {manage ? (
            <div className="actions-panel">
              <h2>
                <Bi vi="Xử lý" en="Work" />
              </h2>
              <ProblemBox error={action.error} onClose={action.clear} />
              <div className="action-row">
                <button
                  type="button"
                  disabled={action.busy || a.status !== 'new'}
                  onClick={() => act('ack', {})}
                >
                  <Bi vi="Tiếp nhận" en="Acknowledge" />
                </button>
              </div>
              <form
                className="action-row"
                onSubmit={(e) => {
                  e.preventDefault();
                  act('assign', { assignee: assignee.trim() }, () => setAssignee(''));
                }}
              >
                <input
                  name="assignee"
                  placeholder={tr('tên người xử lý', 'assignee')}
                  aria-label={tr('Giao cho người xử lý', 'Assign to')}
                  value={assignee}
                  onChange={(e) => setAssignee(e.target.value)}
                />
                <button type="submit" className="secondary" disabled={action.busy || !assignee.trim()}>
                  <Bi vi="Giao việc" en="Assign" />
                </button>
              </form>
              <form
                className="action-row"
                onSubmit={(e) => {
                  e.preventDefault();
                  act('notes', { text: note.trim() }, () => setNote(''));
                }}
              >
                <textarea
                  name="note"
                  rows={2}
                  placeholder={tr('ghi chú', 'note')}
                  aria-label={tr('Ghi chú mới', 'New note')}
                  value={note}
                  onChange={(e) => setNote(e.target.value)}
                />
                <button type="submit" className="secondary" disabled={action.busy || !note.trim()}>
                  <Bi vi="Thêm ghi chú" en="Add note" />
                </button>
              </form>
              {a.status !== 'closed' ? (
                <form
                  className="action-row"
                  onSubmit={(e) => {
                    e.preventDefault();
                    act('close', { reason: reason.trim() }, () => setReason(''));
                  }}
                >
                  <input
                    name="reason"
                    placeholder={tr('lý do đóng, bắt buộc', 'reason, required')}
                    aria-label={tr('Lý do đóng cảnh báo', 'Reason for closing')}
                    value={reason}
                    onChange={(e) => setReason(e.target.value)}
                  />
                  <button type="submit" className="danger" disabled={action.busy || !reason.trim()}>
                    <Bi vi="Đóng cảnh báo" en="Close" />
                  </button>
                </form>
              ) : null}
            </div>
          ) : null}

          <h2>
            <Bi vi="Ghi chú" en="Notes" />
          </h2>
          {a.notes?.length ? (
            <ul className="notes" data-testid="notes">
              {a.notes.map((n, i) => (
                <li key={i}>
                  <span className="muted">
                    {dateTime(n.at)} · {n.author}
                  </span>
                  <div>{n.text}</div>
                </li>
              ))}
            </ul>
          ) : (
            <Empty>
              <Bi vi="Chưa có ghi chú" en="no notes" />
            </Empty>
          )}
        </>
      ) : null}

      <h2>
        <Bi vi="Sự kiện liên quan" en="Matching events" />
      </h2>
      <ProblemBox error={events.error} />
      {events.loading && !events.data ? <Loading /> : null}
      {events.data && !events.data.events.length ? <Empty /> : null}
      {events.data && events.data.events.length ? (
        <EventTable events={events.data.events} open={open} setOpen={setOpen} />
      ) : null}
    </section>
  );
}

export function EventTable({
  events,
  open,
  setOpen,
}: {
  events: StoredEvent[];
  open: string | null;
  setOpen: (id: string | null) => void;
}) {
  return (
    <table className="table" data-testid="events-table">
      <thead>
        <tr>
          <th>
            <Bi vi="Thời điểm" en="time" />
          </th>
          <th>
            <Bi vi="Hành động" en="action" />
          </th>
          <th>
            <Bi vi="Kết quả" en="outcome" />
          </th>
          <th>
            <Bi vi="Người dùng" en="user" />
          </th>
          <th>
            <Bi vi="Địa chỉ nguồn" en="source" />
          </th>
          <th>
            <Bi vi="Máy" en="host" />
          </th>
          <th>
            <Bi vi="Luật khớp" en="rules" />
          </th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <EventRow
            key={e.id}
            e={e}
            open={open === e.id}
            toggle={() => setOpen(open === e.id ? null : e.id)}
          />
        ))}
      </tbody>
    </table>
  );
}

function EventRow({ e, open, toggle }: { e: StoredEvent; open: boolean; toggle: () => void }) {
  return (
    <>
      <tr className="clickable" onClick={toggle} data-event-id={e.id}>
        <td className="nowrap">{dateTime(e.ts)}</td>
        <td className="mono">{e.action}</td>
        <td>{e.outcome ?? '—'}</td>
        <td>{e.user ?? '—'}</td>
        <td className="mono">{e.sourceIp ?? '—'}</td>
        <td>{e.host ?? '—'}</td>
        <td className="small-text">{e.rules.length ? e.rules.length : '—'}</td>
      </tr>
      {open ? (
        <tr className="expanded">
          <td colSpan={7}>
            <Json value={e.event} />
          </td>
        </tr>
      ) : null}
    </>
  );
}
