import { tr } from '../i18n';
/**
 * Registration requests at the central server: pending ones first, each with what the security server
 * asked for (auth certificate, client subsystem, …); central admins approve or reject (with a reason).
 */
import { useState } from 'react';
import { api, post } from '../api';
import { Bi, Empty, Json, Loading, Modal, PageTitle, ProblemBox, useAction, useLoad } from '../components';
import { dateTime } from '../format';
import { Link, setQuery, useLocation } from '../router';
import { session } from '../session';
import type { EncryptionCertSummary, RegistrationRequestView } from '../types';

const STATUS_VI: Record<string, string> = {
  pending: 'Chờ duyệt',
  approved: 'Đã duyệt',
  rejected: 'Đã từ chối',
};

/** request types in words: [Vietnamese, English] */
export const REQUEST_TYPE: Record<string, [string, string]> = {
  'auth-cert': ['Đăng ký chứng thư xác thực', 'authentication certificate'],
  'auth-cert-deletion': ['Xoá chứng thư xác thực', 'authentication certificate deletion'],
  client: ['Đăng ký hệ thống con', 'client subsystem'],
  'client-deletion': ['Xoá hệ thống con', 'client subsystem deletion'],
  'address-change': ['Đổi địa chỉ', 'address change'],
  maintenance: ['Chế độ bảo trì', 'maintenance'],
  'encryption-cert': ['Đăng ký chứng thư mã hoá', 'encryption certificate'],
  'encryption-cert-deletion': ['Xoá chứng thư mã hoá', 'encryption certificate deletion'],
};

/** validity states of an encryption certificate: [Vietnamese, English] */
export const ENC_STATUS: Record<string, [string, string]> = {
  valid: ['Còn hiệu lực', 'valid'],
  expired: ['Hết hạn', 'expired'],
  'not-yet-valid': ['Chưa có hiệu lực', 'not yet valid'],
};

/** an encryption certificate in a few lines: subject, serial, validity, key type, hash */
export function EncryptionCertLines({ c }: { c: EncryptionCertSummary }) {
  const [vi, en] = ENC_STATUS[c.status] ?? [c.status, c.status];
  return (
    <div className="small-text" data-testid="encryption-cert" data-hash={c.hash}>
      <div>{c.subject}</div>
      <div>
        <Bi vi="Số hiệu" en="serial" />: <span className="mono">{c.serial}</span>
      </div>
      <div>
        <Bi vi="Hiệu lực" en="valid" />: {dateTime(c.notBefore)} – {dateTime(c.notAfter)}{' '}
        <span className={`badge status-${c.status === 'valid' ? 'good' : 'revoked'}`}>{tr(vi, en)}</span>
      </div>
      <div>
        <Bi vi="Khoá" en="key" />: {c.keyType}
      </div>
      <div className="mono muted" title="SHA-256">
        {c.hash.slice(0, 16)}…
      </div>
    </div>
  );
}

/** the member a request's server belongs to: SERVER:VN/GOV/000.00.00.G22/ss1 → GOV/000.00.00.G22 */
function memberOf(server: string): string {
  const parts = server.replace(/^SERVER:/, '').split('/');
  return parts.length >= 3 ? `${parts[1]}/${parts[2]}` : server;
}

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
                <Bi vi="Máy chủ yêu cầu" en="asked by" />
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
  if (typeof p.maintenance === 'boolean')
    return p.maintenance
      ? `${tr('bật', 'on')}${typeof p.maintenanceMessage === 'string' ? `: ${p.maintenanceMessage}` : ''}`
      : tr('tắt', 'off');
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
        <td>
          {REQUEST_TYPE[r.type] ? <Bi vi={REQUEST_TYPE[r.type]![0]} en={REQUEST_TYPE[r.type]![1]} /> : null}
          <div className="mono muted small-text">{r.type}</div>
        </td>
        <td className="mono small-text">{r.server}</td>
        <td className={r.encryptionCertificate !== undefined ? 'small-text' : 'mono small-text'}>
          {r.encryptionCertificate !== undefined ? (
            <>
              <div>
                <Bi vi="Thành viên" en="member" />: <span className="mono">{memberOf(r.server)}</span>
              </div>
              {r.encryptionCertificate ? (
                <EncryptionCertLines c={r.encryptionCertificate} />
              ) : (
                <div className="muted">
                  <Bi vi="Chứng thư không còn được đăng ký" en="the certificate is no longer registered" />
                </div>
              )}
            </>
          ) : (
            asksFor(r)
          )}{' '}
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
                onClick={() => setRejecting(true)}
              >
                <Bi vi="Từ chối" en="Reject" />
              </button>
            </>
          ) : null}
        </td>
      </tr>
      {rejecting && manage ? (
        <tr className="dialog-row">
          <td colSpan={6}>
            <Modal
              testId="reject-dialog"
              title={<Bi vi="Từ chối yêu cầu đăng ký" en="Reject the registration request" />}
              onClose={() => setRejecting(false)}
            >
              <p className="small-text">
                {REQUEST_TYPE[r.type] ? tr(REQUEST_TYPE[r.type]![0], REQUEST_TYPE[r.type]![1]) : r.type} ·{' '}
                <span className="mono">{r.server}</span>
              </p>
              <form
                onSubmit={(e) => {
                  e.preventDefault();
                  setRejecting(false);
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
                <div className="dialog-buttons">
                  <button type="button" className="secondary" onClick={() => setRejecting(false)}>
                    <Bi vi="Huỷ" en="Cancel" />
                  </button>
                  <button type="submit" disabled={action.busy || !reason.trim()}>
                    <Bi vi="Xác nhận từ chối" en="Confirm rejection" />
                  </button>
                </div>
              </form>
            </Modal>
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
