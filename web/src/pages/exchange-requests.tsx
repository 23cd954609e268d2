import { tr } from '../i18n';
/**
 * Registration requests at the central server: pending ones first, each with what the security server
 * asked for (auth certificate, client subsystem, …); central admins approve or reject (with a reason).
 */
import { useState } from 'react';
import { api, post } from '../api';
import { Bi, Empty, Json, Loading, PageTitle, ProblemBox, useAction, useLoad } from '../components';
import { dateTime } from '../format';
import { Link, setQuery, useLocation } from '../router';
import { session } from '../session';
import type { RegistrationRequestView } from '../types';

const STATUS_VI: Record<string, string> = {
  pending: 'Chờ duyệt',
  approved: 'Đã duyệt',
  rejected: 'Đã từ chối',
};

export function ExchangeRequests() {
  const { query } = useLocation();
  const status = query.get('status') ?? 'pending';
  const { data, error, loading, reload } = useLoad(
    () =>
      api<RegistrationRequestView[]>('/api/v1/central/requests', {
        query: { status: status === 'all' ? undefined : status, limit: 200 },
      }),
    [status],
  );
  return (
    <section>
      <PageTitle vi="Yêu cầu đăng ký" en="Registration requests">
        <Link to="/exchange">
          <Bi vi="Trục liên thông" en="Exchange" />
        </Link>
      </PageTitle>
      <div className="filters">
        <label className="field">
          <span>
            <Bi vi="Trạng thái" en="status" />
          </span>
          <select
            name="status"
            value={status}
            onChange={(e) => setQuery({ status: e.target.value || 'all' })}
          >
            {['pending', 'approved', 'rejected'].map((s) => (
              <option key={s} value={s}>
                {tr(STATUS_VI[s]!, s)}
              </option>
            ))}
            <option value="all">{tr('Tất cả', 'all')}</option>
          </select>
        </label>
      </div>
      <ProblemBox error={error} />
      {loading && !data ? <Loading /> : null}
      {data && !data.length ? (
        <Empty>
          <Bi vi="Không có yêu cầu" en="no requests" />
        </Empty>
      ) : null}
      {data && data.length ? (
        <table className="table" data-testid="requests-table">
          <thead>
            <tr>
              <th>
                <Bi vi="Loại" en="type" />
              </th>
              <th>
                <Bi vi="Máy chủ" en="server" />
              </th>
              <th>
                <Bi vi="Nội dung" en="asks for" />
              </th>
              <th>
                <Bi vi="Nhận lúc" en="received" />
              </th>
              <th>
                <Bi vi="Trạng thái" en="status" />
              </th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data.map((r) => (
              <RequestRow key={r.id} r={r} onChange={reload} />
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

/** what a request asks for, in one line: the client subsystem, the address, … */
function asksFor(r: RegistrationRequestView): string {
  const p = r.payload as Record<string, unknown>;
  const c = p.client as { memberClass?: string; memberCode?: string; subsystemCode?: string } | undefined;
  if (c) return `${c.memberClass}/${c.memberCode}/${c.subsystemCode}`;
  if (typeof p.address === 'string') return p.address;
  return '';
}

function RequestRow({ r, onChange }: { r: RegistrationRequestView; onChange: () => void }) {
  const [open, setOpen] = useState(false);
  const [rejecting, setRejecting] = useState(false);
  const [reason, setReason] = useState('');
  const action = useAction();
  const manage = session.can('central.manage') && r.status === 'pending';
  const approve = () =>
    action
      .run(() => post(`/api/v1/central/requests/${encodeURIComponent(r.id)}/approve`))
      .then((ok) => ok && onChange());
  const reject = () =>
    action
      .run(() =>
        post(`/api/v1/central/requests/${encodeURIComponent(r.id)}/reject`, { reason: reason.trim() }),
      )
      .then((ok) => ok && onChange());
  return (
    <>
      <tr data-request={r.id}>
        <td>{r.type}</td>
        <td className="mono small-text">{r.server}</td>
        <td className="mono small-text">
          {asksFor(r)}{' '}
          <button type="button" className="link" onClick={() => setOpen(!open)}>
            {open ? tr('Ẩn', 'hide') : 'JSON'}
          </button>
        </td>
        <td className="nowrap small-text">{dateTime(r.receivedAt)}</td>
        <td>
          <span
            className={`badge status-${r.status === 'approved' ? 'good' : r.status === 'rejected' ? 'revoked' : 'new'}`}
          >
            {STATUS_VI[r.status] ?? r.status} ({r.status})
          </span>
          {r.decidedBy ? (
            <div className="muted small-text">
              {r.decidedBy}, {dateTime(r.decidedAt)}
            </div>
          ) : null}
          {r.reason ? <div className="muted small-text">{r.reason}</div> : null}
        </td>
        <td className="nowrap">
          {manage ? (
            <>
              <button type="button" className="small" disabled={action.busy} onClick={approve}>
                <Bi vi="Phê duyệt" en="Approve" />
              </button>{' '}
              <button
                type="button"
                className="secondary small"
                disabled={action.busy}
                onClick={() => setRejecting(!rejecting)}
              >
                <Bi vi="Từ chối" en="Reject" />
              </button>
            </>
          ) : null}
        </td>
      </tr>
      {rejecting && manage ? (
        <tr className="expanded">
          <td colSpan={6}>
            <form
              className="filters"
              onSubmit={(e) => {
                e.preventDefault();
                void reject();
              }}
            >
              <label className="field grow">
                <span>
                  <Bi vi="Lý do từ chối" en="reason, required" />
                </span>
                <input
                  name="reason"
                  required
                  maxLength={1000}
                  value={reason}
                  onChange={(e) => setReason(e.target.value)}
                />
              </label>
              <button type="submit" disabled={action.busy || !reason.trim()}>
                <Bi vi="Xác nhận từ chối" en="Confirm rejection" />
              </button>
            </form>
          </td>
        </tr>
      ) : null}
      {action.error ? (
        <tr className="expanded">
          <td colSpan={6}>
            <ProblemBox error={action.error} onClose={action.clear} />
          </td>
        </tr>
      ) : null}
      {open ? (
        <tr className="expanded">
          <td colSpan={6}>
            <Json value={r.payload} />
          </td>
        </tr>
      ) : null}
    </>
  );
}
