/** Certificates issued by the platform's CAs: search by serial, subject, profile, CA and status; read only. */
import { useState } from 'react';
import { api } from '../api';
import { Empty, Loading, PageTitle, ProblemBox, StatusBadge, useLoad } from '../components';
import { dateTime, CERT_STATUS_VI } from '../format';
import { setQuery, useLocation } from '../router';
import type { Certificate } from '../types';

const FIELDS = ['serial', 'subject', 'profile', 'ca', 'status'] as const;

export function Certificates() {
  const { query } = useLocation();
  const q = Object.fromEntries(FIELDS.map((f) => [f, query.get(f) ?? ''])) as Record<
    (typeof FIELDS)[number],
    string
  >;
  const [form, setForm] = useState(q);
  const [open, setOpen] = useState<string | null>(null);
  const { data, error, loading } = useLoad(
    () => api<{ items: Certificate[] }>('/api/v1/certificates', { query: { ...q, limit: 200 } }),
    [q.serial, q.subject, q.profile, q.ca, q.status],
  );

  return (
    <section>
      <PageTitle vi="Chứng thư số đã cấp" en="CA certificates" />
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery(Object.fromEntries(Object.entries(form).map(([k, v]) => [k, v.trim()])));
        }}
      >
        <label className="field">
          <span>Số hiệu (serial)</span>
          <input
            name="serial"
            className="mono"
            value={form.serial}
            onChange={(e) => setForm({ ...form, serial: e.target.value })}
          />
        </label>
        <label className="field grow">
          <span>Chủ thể (subject contains)</span>
          <input
            name="subject"
            value={form.subject}
            onChange={(e) => setForm({ ...form, subject: e.target.value })}
          />
        </label>
        <label className="field">
          <span>Hồ sơ (profile)</span>
          <input
            name="profile"
            value={form.profile}
            onChange={(e) => setForm({ ...form, profile: e.target.value })}
          />
        </label>
        <label className="field">
          <span>CA</span>
          <input name="ca" value={form.ca} onChange={(e) => setForm({ ...form, ca: e.target.value })} />
        </label>
        <label className="field">
          <span>Trạng thái (status)</span>
          <select
            name="status"
            value={form.status}
            onChange={(e) => setForm({ ...form, status: e.target.value })}
          >
            <option value="">Tất cả (all)</option>
            {['good', 'revoked', 'hold'].map((s) => (
              <option key={s} value={s}>
                {CERT_STATUS_VI[s]} ({s})
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Tìm kiếm (Search)</button>
      </form>
      <ProblemBox error={error} />
      {loading && !data ? <Loading /> : null}
      {data && !data.items.length ? <Empty /> : null}
      {data && data.items.length ? (
        <table className="table" data-testid="certificates-table">
          <thead>
            <tr>
              <th>Số hiệu (serial)</th>
              <th>Chủ thể (subject)</th>
              <th>Hồ sơ (profile)</th>
              <th>CA</th>
              <th>Hiệu lực (validity)</th>
              <th>Trạng thái (status)</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((c) => (
              <CertRow
                key={c.serial}
                c={c}
                open={open === c.serial}
                toggle={() => setOpen(open === c.serial ? null : c.serial)}
              />
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function CertRow({ c, open, toggle }: { c: Certificate; open: boolean; toggle: () => void }) {
  return (
    <>
      <tr className="clickable" onClick={toggle} data-serial={c.serial}>
        <td className="mono small-text">{c.serial}</td>
        <td>{c.subject}</td>
        <td>{c.profile}</td>
        <td>{c.ca}</td>
        <td className="nowrap small-text">
          {dateTime(c.notBefore)}
          <br />→ {dateTime(c.notAfter)}
        </td>
        <td>
          <StatusBadge status={c.status} />
          {c.reason ? <div className="muted small-text">{c.reason}</div> : null}
        </td>
      </tr>
      {open ? (
        <tr className="expanded">
          <td colSpan={6}>
            <dl className="facts">
              <dt>Thuật toán khoá (key algorithm)</dt>
              <dd>{c.keyAlgorithm}</dd>
              <dt>Cấp lúc (issued at)</dt>
              <dd>{dateTime(c.issuedAt)}</dd>
              <dt>Người yêu cầu (requested by)</dt>
              <dd>{c.requestedBy ?? '—'}</dd>
              <dt>Mã yêu cầu (request id)</dt>
              <dd>{c.requestId ?? '—'}</dd>
              {c.revokedAt ? (
                <>
                  <dt>Thu hồi lúc (revoked at)</dt>
                  <dd>{dateTime(c.revokedAt)}</dd>
                </>
              ) : null}
            </dl>
            <pre className="pem">{c.certificate}</pre>
          </td>
        </tr>
      ) : null}
    </>
  );
}
