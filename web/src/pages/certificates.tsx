/**
 * The CA in the console (issue 18): certificates issued by the platform's CAs, searched by serial, subject,
 * profile, CA and status, each opening decoded (extensions by name) with revoke and release for the roles
 * allowed; issuance from an uploaded CSR under a profile (RA officers); the CAs with "generate a CRL now"
 * (CA administrators). Everything goes through the CA API, which decides and audits.
 */
import { useState } from 'react';
import { api, post } from '../api';
import { Bi, Empty, Loading, PageTitle, ProblemBox, StatusBadge, useAction, useLoad } from '../components';
import { dateTime, CERT_STATUS_VI } from '../format';
import { setQuery, useLocation } from '../router';
import { session } from '../session';
import type { Certificate } from '../types';

interface Decoded {
  version: number;
  serial: string;
  subject: string;
  issuer: string;
  signatureAlgorithm: string;
  publicKey: string;
  sha256: string;
  extensions: { oid: string; name: string; nameEn: string; critical: boolean; value: string[] }[];
}

/** RFC 5280 reasons an operator may give, Vietnamese first */
export const REVOKE_REASONS: [string, string][] = [
  ['unspecified', 'Không nêu lý do'],
  ['keyCompromise', 'Lộ khoá bí mật'],
  ['affiliationChanged', 'Thay đổi đơn vị công tác'],
  ['superseded', 'Đã được thay thế'],
  ['cessationOfOperation', 'Ngừng hoạt động'],
  ['certificateHold', 'Tạm dừng (có thể khôi phục)'],
  ['privilegeWithdrawn', 'Rút quyền'],
  ['cACompromise', 'Lộ khoá CA'],
];

const FIELDS = ['serial', 'subject', 'profile', 'ca', 'status'] as const;

export function Certificates() {
  const { query } = useLocation();
  const q = Object.fromEntries(FIELDS.map((f) => [f, query.get(f) ?? ''])) as Record<
    (typeof FIELDS)[number],
    string
  >;
  const [form, setForm] = useState(q);
  const [open, setOpen] = useState<string | null>(null);
  const { data, error, loading, reload } = useLoad(
    () => api<{ items: Certificate[] }>('/api/v1/certificates', { query: { ...q, limit: 200 } }),
    [q.serial, q.subject, q.profile, q.ca, q.status],
  );

  return (
    <section>
      <PageTitle vi="Chứng thư số đã cấp" en="CA certificates" />
      {session.can('ca.issue') ? <IssueFromCsr issued={(serial) => setQuery({ serial })} /> : null}
      <CaList />
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
                changed={reload}
              />
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function CertRow({ c, open, toggle, changed }: { c: Certificate; open: boolean; toggle: () => void; changed: () => void }) {
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
            <CertDetail c={c} changed={changed} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

function CertDetail({ c, changed }: { c: Certificate; changed: () => void }) {
  const { data, error } = useLoad(() => api<Certificate & { decoded: Decoded }>(`/api/v1/certificates/${c.serial}`, { query: { decode: true } }), [c.serial, c.status]);
  const d = data?.decoded;
  return (
    <div data-testid="certificate-detail">
      <dl className="facts">
        <dt>Thuật toán khoá (key algorithm)</dt>
        <dd>{d?.publicKey ?? c.keyAlgorithm}</dd>
        {d ? (
          <>
            <dt>Thuật toán ký (signature algorithm)</dt>
            <dd>{d.signatureAlgorithm}</dd>
            <dt>Cơ quan cấp (issuer)</dt>
            <dd>{d.issuer}</dd>
            <dt>Dấu vân tay SHA-256 (fingerprint)</dt>
            <dd className="mono small-text">{d.sha256}</dd>
          </>
        ) : null}
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
      <ProblemBox error={error} />
      {d ? (
        <table className="table" data-testid="extensions-table">
          <thead>
            <tr>
              <th>Phần mở rộng (extension)</th>
              <th>Giá trị (value)</th>
            </tr>
          </thead>
          <tbody>
            {d.extensions.map((x) => (
              <tr key={x.oid} data-oid={x.oid}>
                <td>
                  <Bi vi={x.name} en={x.nameEn} />
                  {x.critical ? <span className="tag">thiết yếu (critical)</span> : null}
                  <div className="mono small-text muted">{x.oid}</div>
                </td>
                <td>
                  {x.value.map((v, i) => (
                    <div key={i}>{v}</div>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <CertActions c={c} changed={changed} />
      <pre className="pem">{c.certificate}</pre>
    </div>
  );
}

/** Revoke with a reason (RA officers, CA administrators); release from hold. */
function CertActions({ c, changed }: { c: Certificate; changed: () => void }) {
  const action = useAction();
  const [reason, setReason] = useState('unspecified');
  const revocable = session.can('ca.revoke') && c.status !== 'revoked';
  const releasable = session.can('ca.release') && c.status === 'hold';
  if (!revocable && !releasable) return null;
  return (
    <div className="action-row" data-testid="certificate-actions">
      {revocable ? (
        <>
          <label className="field">
            <span>Lý do thu hồi (revocation reason)</span>
            <select name="reason" value={reason} onChange={(e) => setReason(e.target.value)}>
              {REVOKE_REASONS.filter(([r]) => c.status === 'good' || r !== 'certificateHold').map(([r, vi]) => (
                <option key={r} value={r}>
                  {vi} ({r})
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            className="danger"
            disabled={action.busy}
            onClick={() => {
              const what = reason === 'certificateHold' ? 'Tạm dừng chứng thư này? (suspend this certificate?)' : 'Thu hồi vĩnh viễn chứng thư này? (revoke this certificate for good?)';
              if (window.confirm(what)) void action.run(async () => (await post(`/api/v1/certificates/${c.serial}/revoke`, { reason }), changed()));
            }}
          >
            {reason === 'certificateHold' ? 'Tạm dừng (Suspend)' : 'Thu hồi (Revoke)'}
          </button>
        </>
      ) : null}
      {releasable ? (
        <button type="button" disabled={action.busy} onClick={() => void action.run(async () => (await post(`/api/v1/certificates/${c.serial}/release`), changed()))}>
          Khôi phục (Release from hold)
        </button>
      ) : null}
      <ProblemBox error={action.error} onClose={action.clear} />
    </div>
  );
}

interface ProfileInfo {
  name: string;
  description: string;
  keyAlgorithms: string[];
  validityDays: number;
}
interface CaInfo {
  id: string;
  parent: string | null;
  subject: string;
  notAfter: string;
  status: string;
}

/** Issuance from a CSR (RA officers): profile, CA, the request as PEM (pasted or from a file). */
function IssueFromCsr({ issued }: { issued: (serial: string) => void }) {
  const profiles = useLoad(() => api<ProfileInfo[]>('/api/v1/profiles'), []);
  const cas = useLoad(() => api<CaInfo[]>('/pki/ca'), []);
  const action = useAction();
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({ profile: '', ca: '', csr: '', validityDays: '' });
  const [result, setResult] = useState<{ serial: string; subject: string; notAfter: string } | null>(null);
  const profile = (profiles.data ?? []).find((p) => p.name === form.profile);
  if (!open)
    return (
      <p>
        <button type="button" onClick={() => setOpen(true)}>
          Cấp chứng thư từ CSR (Issue from a CSR)
        </button>
      </p>
    );
  return (
    <form
      className="card form"
      data-testid="issue-form"
      onSubmit={(e) => {
        e.preventDefault();
        void action.run(async () => {
          const r = await post<{ serial: string; subject: string; notAfter: string }>('/api/v1/certificates', {
            profile: form.profile,
            csr: form.csr.trim(),
            ...(form.ca ? { ca: form.ca } : {}),
            ...(form.validityDays ? { validityDays: Number(form.validityDays) } : {}),
          });
          setResult(r);
          issued(r.serial);
        });
      }}
    >
      <h2>
        <Bi vi="Cấp chứng thư từ yêu cầu (CSR)" en="issue from a certificate request" />
      </h2>
      <ProblemBox error={profiles.error ?? cas.error} />
      <label className="field">
        <span>Hồ sơ chứng thư (profile)</span>
        <select name="profile" required value={form.profile} onChange={(e) => setForm({ ...form, profile: e.target.value })}>
          <option value="">— chọn (choose) —</option>
          {(profiles.data ?? []).map((p) => (
            <option key={p.name} value={p.name}>
              {p.name} — {p.description}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>CA cấp (issuing CA)</span>
        <select name="ca" value={form.ca} onChange={(e) => setForm({ ...form, ca: e.target.value })}>
          <option value="">mặc định (default)</option>
          {(cas.data ?? [])
            .filter((c) => c.parent && c.status !== 'revoked')
            .map((c) => (
              <option key={c.id} value={c.id}>
                {c.id} — {c.subject}
              </option>
            ))}
        </select>
      </label>
      <label className="field">
        <span>Số ngày hiệu lực (validity days){profile ? `, tối đa (at most) ${profile.validityDays}` : ''}</span>
        <input name="validityDays" type="number" min={1} max={profile?.validityDays} value={form.validityDays} onChange={(e) => setForm({ ...form, validityDays: e.target.value })} />
      </label>
      <label className="field grow">
        <span>Tệp yêu cầu (CSR file, PEM or DER)</span>
        <input
          name="csrFile"
          type="file"
          accept=".csr,.pem,.der,.p10"
          onChange={async (e) => {
            const f = e.target.files?.[0];
            if (!f) return;
            const bytes = new Uint8Array(await f.arrayBuffer());
            const text = new TextDecoder().decode(bytes);
            let csr = text;
            if (!text.includes('-----BEGIN')) {
              let bin = '';
              for (const b of bytes) bin += String.fromCharCode(b);
              csr = btoa(bin);
            }
            setForm((f0) => ({ ...f0, csr }));
          }}
        />
      </label>
      <label className="field grow">
        <span>hoặc dán PEM (or paste the PEM)</span>
        <textarea name="csr" rows={6} className="mono" required value={form.csr} onChange={(e) => setForm({ ...form, csr: e.target.value })} />
      </label>
      <button type="submit" disabled={action.busy || !form.profile || !form.csr.trim()}>
        {action.busy ? 'Đang cấp… (issuing)' : 'Cấp chứng thư (Issue)'}
      </button>
      <ProblemBox error={action.error} onClose={action.clear} />
      {result ? (
        <p className="notice" role="status" data-testid="issued">
          Đã cấp chứng thư (issued) <span className="mono">{result.serial}</span> cho (for) {result.subject}, hiệu lực đến (valid until) {dateTime(result.notAfter)}
        </p>
      ) : null}
    </form>
  );
}

/** The platform's CAs, and "generate a CRL now" for CA administrators. */
function CaList() {
  const cas = useLoad(() => api<CaInfo[]>('/pki/ca'), []);
  const action = useAction();
  const [crl, setCrl] = useState<{ ca: string; number: string | number; thisUpdate: string; nextUpdate: string; entries: number } | null>(null);
  const canCrl = session.can('ca.crl.generate');
  if (!cas.data?.length) return <ProblemBox error={cas.error} />;
  return (
    <details className="card" data-testid="ca-list">
      <summary>
        <Bi vi="Các CA của nền tảng và danh sách thu hồi (CRL)" en="the platform's CAs and their CRLs" />
      </summary>
      <table className="table">
        <thead>
          <tr>
            <th>CA</th>
            <th>Chủ thể (subject)</th>
            <th>Hết hạn (expires)</th>
            <th>CRL</th>
          </tr>
        </thead>
        <tbody>
          {cas.data.map((c) => (
            <tr key={c.id} data-ca={c.id}>
              <td className="mono">{c.id}</td>
              <td>{c.subject}</td>
              <td>{dateTime(c.notAfter)}</td>
              <td>
                <a href={`/pki/crl/${c.id}.crl`}>{c.id}.crl</a> · <a href={`/pki/ca/${c.id}.pem`}>PEM</a> · <a href={`/pki/ca/${c.id}.cer`}>DER</a>
                {canCrl ? (
                  <button
                    type="button"
                    className="secondary small"
                    disabled={action.busy}
                    onClick={() => void action.run(async () => setCrl(await post(`/api/v1/cas/${c.id}/crl`, {})))}
                  >
                    Phát hành CRL ngay (Generate a CRL now)
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <ProblemBox error={action.error} onClose={action.clear} />
      {crl ? (
        <p className="notice" role="status" data-testid="crl-generated">
          CRL số (number) {String(crl.number)} của (of) {crl.ca}: {crl.entries} chứng thư bị thu hồi (entries), từ (this update) {dateTime(crl.thisUpdate)} đến (next update) {dateTime(crl.nextUpdate)}
        </p>
      ) : null}
    </details>
  );
}
