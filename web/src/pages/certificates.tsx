import { tr } from '../i18n';
/**
 * The CA in the console (issue 18): certificates issued by the platform's CAs, searched by serial, subject,
 * profile, CA and status, each opening decoded (extensions by name) with revoke and release for the roles
 * allowed; issuance from an uploaded CSR under a profile (RA officers); the CAs with "generate a CRL now"
 * (CA administrators). Everything goes through the CA API, which decides and audits.
 */
import { useState } from 'react';
import { api, post } from '../api';
import { Bi, Empty, Loading, Modal, PageTitle, ProblemBox, StatusBadge, useAction, useLoad } from '../components';
import { dateTime, CERT_STATUS_VI } from '../format';
import { setQuery, useLocation } from '../router';
import { session } from '../session';
import { toBase64 } from '../bytes';
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
          <span>
            <Bi vi="Số hiệu" en="serial" />
          </span>
          <input
            name="serial"
            className="mono"
            value={form.serial}
            onChange={(e) => setForm({ ...form, serial: e.target.value })}
          />
        </label>
        <label className="field grow">
          <span>
            <Bi vi="Chủ thể" en="subject contains" />
          </span>
          <input
            name="subject"
            value={form.subject}
            onChange={(e) => setForm({ ...form, subject: e.target.value })}
          />
        </label>
        <label className="field">
          <span>
            <Bi vi="Hồ sơ" en="profile" />
          </span>
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
          <span>
            <Bi vi="Trạng thái" en="status" />
          </span>
          <select
            name="status"
            value={form.status}
            onChange={(e) => setForm({ ...form, status: e.target.value })}
          >
            <option value="">{tr('Tất cả', 'all')}</option>
            {['good', 'revoked', 'hold'].map((s) => (
              <option key={s} value={s}>
                {tr(CERT_STATUS_VI[s]!, s)}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">
          <Bi vi="Tìm kiếm" en="Search" />
        </button>
      </form>
      <ProblemBox error={error} />
      {loading && !data ? <Loading /> : null}
      {data && !data.items.length ? <Empty /> : null}
      {data && data.items.length ? (
        <table className="table" data-testid="certificates-table">
          <thead>
            <tr>
              <th>
                <Bi vi="Số hiệu" en="serial" />
              </th>
              <th>
                <Bi vi="Chủ thể" en="subject" />
              </th>
              <th>
                <Bi vi="Hồ sơ" en="profile" />
              </th>
              <th>CA</th>
              <th>
                <Bi vi="Hiệu lực" en="validity" />
              </th>
              <th>
                <Bi vi="Trạng thái" en="status" />
              </th>
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

function CertRow({
  c,
  open,
  toggle,
  changed,
}: {
  c: Certificate;
  open: boolean;
  toggle: () => void;
  changed: () => void;
}) {
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
  const { data, error } = useLoad(
    () =>
      api<Certificate & { decoded: Decoded }>(`/api/v1/certificates/${c.serial}`, {
        query: { decode: true },
      }),
    [c.serial, c.status],
  );
  const d = data?.decoded;
  return (
    <div data-testid="certificate-detail">
      <dl className="facts">
        <dt>
          <Bi vi="Thuật toán khoá" en="key algorithm" />
        </dt>
        <dd>{d?.publicKey ?? c.keyAlgorithm}</dd>
        {d ? (
          <>
            <dt>
              <Bi vi="Thuật toán ký" en="signature algorithm" />
            </dt>
            <dd>{d.signatureAlgorithm}</dd>
            <dt>
              <Bi vi="Cơ quan cấp" en="issuer" />
            </dt>
            <dd>{d.issuer}</dd>
            <dt>
              <Bi vi="Dấu vân tay SHA-256" en="fingerprint" />
            </dt>
            <dd className="mono small-text">{d.sha256}</dd>
          </>
        ) : null}
        <dt>
          <Bi vi="Cấp lúc" en="issued at" />
        </dt>
        <dd>{dateTime(c.issuedAt)}</dd>
        <dt>
          <Bi vi="Người yêu cầu" en="requested by" />
        </dt>
        <dd>{c.requestedBy ?? '—'}</dd>
        <dt>
          <Bi vi="Mã yêu cầu" en="request id" />
        </dt>
        <dd>{c.requestId ?? '—'}</dd>
        {c.revokedAt ? (
          <>
            <dt>
              <Bi vi="Thu hồi lúc" en="revoked at" />
            </dt>
            <dd>{dateTime(c.revokedAt)}</dd>
          </>
        ) : null}
      </dl>
      <ProblemBox error={error} />
      {d ? (
        <table className="table" data-testid="extensions-table">
          <thead>
            <tr>
              <th>
                <Bi vi="Phần mở rộng" en="extension" />
              </th>
              <th>
                <Bi vi="Giá trị" en="value" />
              </th>
            </tr>
          </thead>
          <tbody>
            {d.extensions.map((x) => (
              <tr key={x.oid} data-oid={x.oid}>
                <td>
                  <Bi vi={x.name} en={x.nameEn} />
                  {x.critical ? (
                    <span className="tag">
                      <Bi vi="thiết yếu" en="critical" />
                    </span>
                  ) : null}
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
  const [confirming, setConfirming] = useState(false);
  const hold = reason === 'certificateHold';
  const revocable = session.can('ca.revoke') && c.status !== 'revoked';
  const releasable = session.can('ca.release') && c.status === 'hold';
  if (!revocable && !releasable) return null;
  return (
    <div className="action-row" data-testid="certificate-actions">
      {revocable ? (
        <>
          <label className="field">
            <span>
              <Bi vi="Lý do thu hồi" en="revocation reason" />
            </span>
            <select name="reason" value={reason} onChange={(e) => setReason(e.target.value)}>
              {REVOKE_REASONS.filter(([r]) => c.status === 'good' || r !== 'certificateHold').map(
                ([r, vi]) => (
                  <option key={r} value={r}>
                    {tr(vi, r)}
                  </option>
                ),
              )}
            </select>
          </label>
          <button
            type="button"
            className="danger"
            disabled={action.busy}
            data-testid="revoke"
            onClick={() => setConfirming(true)}
          >
            {hold ? tr('Tạm dừng', 'Suspend') : tr('Thu hồi', 'Revoke')}
          </button>
          {confirming ? (
            <Modal
              testId="revoke-dialog"
              title={
                hold ? (
                  <Bi vi="Tạm dừng chứng thư này?" en="Suspend this certificate?" />
                ) : (
                  <Bi vi="Thu hồi vĩnh viễn chứng thư này?" en="Revoke this certificate for good?" />
                )
              }
              onClose={() => setConfirming(false)}
            >
              <p>
                <Bi vi="Số hiệu" en="serial" />: <span className="mono">{c.serial}</span>
                <br />
                <Bi vi="Lý do" en="reason" />: {tr(REVOKE_REASONS.find(([r]) => r === reason)?.[1] ?? reason, reason)}
              </p>
              <p className="muted">
                {hold ? (
                  <Bi vi="Có thể khôi phục sau." en="It can be released later." />
                ) : (
                  <Bi vi="Không thể hoàn tác." en="This cannot be undone." />
                )}
              </p>
              <div className="dialog-buttons">
                <button type="button" className="secondary" data-autofocus onClick={() => setConfirming(false)}>
                  <Bi vi="Huỷ" en="Cancel" />
                </button>
                <button
                  type="button"
                  className="danger"
                  disabled={action.busy}
                  onClick={() => {
                    setConfirming(false);
                    void action.run(
                      async () => (await post(`/api/v1/certificates/${c.serial}/revoke`, { reason }), changed()),
                    );
                  }}
                >
                  {hold ? tr('Xác nhận tạm dừng', 'Confirm suspension') : tr('Xác nhận thu hồi', 'Confirm revocation')}
                </button>
              </div>
            </Modal>
          ) : null}
        </>
      ) : null}
      {releasable ? (
        <button
          type="button"
          disabled={action.busy}
          onClick={() =>
            void action.run(async () => (await post(`/api/v1/certificates/${c.serial}/release`), changed()))
          }
        >
          <Bi vi="Khôi phục" en="Release from hold" />
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
          <Bi vi="Cấp chứng thư từ CSR" en="Issue from a CSR" />
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
          const r = await post<{ serial: string; subject: string; notAfter: string }>(
            '/api/v1/certificates',
            {
              profile: form.profile,
              csr: form.csr.trim(),
              ...(form.ca ? { ca: form.ca } : {}),
              ...(form.validityDays ? { validityDays: Number(form.validityDays) } : {}),
            },
          );
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
        <span>
          <Bi vi="Hồ sơ chứng thư" en="profile" />
        </span>
        <select
          name="profile"
          required
          value={form.profile}
          onChange={(e) => setForm({ ...form, profile: e.target.value })}
        >
          <option value="">— {tr('chọn', 'choose')} —</option>
          {(profiles.data ?? []).map((p) => (
            <option key={p.name} value={p.name}>
              {p.name} — {p.description}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>
          <Bi vi="CA cấp" en="issuing CA" />
        </span>
        <select name="ca" value={form.ca} onChange={(e) => setForm({ ...form, ca: e.target.value })}>
          <option value="">{tr('mặc định', 'default')}</option>
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
        <span>
          <Bi vi="Số ngày hiệu lực" en="validity days" />
          {profile ? `, ${tr(`tối đa ${profile.validityDays}`, `at most ${profile.validityDays}`)}` : ''}
        </span>
        <input
          name="validityDays"
          type="number"
          min={1}
          max={profile?.validityDays}
          value={form.validityDays}
          onChange={(e) => setForm({ ...form, validityDays: e.target.value })}
        />
      </label>
      <label className="field grow">
        <span>
          <Bi vi="Tệp yêu cầu" en="CSR file, PEM or DER" />
        </span>
        <input
          name="csrFile"
          type="file"
          accept=".csr,.pem,.der,.p10"
          onChange={async (e) => {
            const f = e.target.files?.[0];
            if (!f) return;
            const bytes = new Uint8Array(await f.arrayBuffer());
            // a PEM file as its text, a DER one as base64 (the API takes both)
            const text = new TextDecoder().decode(bytes);
            const csr = text.includes('-----BEGIN') ? text : toBase64(bytes);
            setForm((f0) => ({ ...f0, csr }));
          }}
        />
      </label>
      <label className="field grow">
        <span>
          <Bi vi="hoặc dán PEM" en="or paste the PEM" />
        </span>
        <textarea
          name="csr"
          rows={6}
          className="mono"
          required
          value={form.csr}
          onChange={(e) => setForm({ ...form, csr: e.target.value })}
        />
      </label>
      <button type="submit" disabled={action.busy || !form.profile || !form.csr.trim()}>
        {action.busy ? tr('Đang cấp…', 'issuing') : tr('Cấp chứng thư', 'Issue')}
      </button>
      <ProblemBox error={action.error} onClose={action.clear} />
      {result ? (
        <p className="notice" role="status" data-testid="issued">
          <Bi vi="Đã cấp chứng thư" en="issued" /> <span className="mono">{result.serial}</span> cho (for){' '}
          {result.subject}
          <Bi vi=", hiệu lực đến" en="valid until" /> {dateTime(result.notAfter)}
        </p>
      ) : null}
    </form>
  );
}

/** The platform's CAs, and "generate a CRL now" for CA administrators. */
function CaList() {
  const cas = useLoad(() => api<CaInfo[]>('/pki/ca'), []);
  const action = useAction();
  const [crl, setCrl] = useState<{
    ca: string;
    number: string | number;
    thisUpdate: string;
    nextUpdate: string;
    entries: number;
  } | null>(null);
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
            <th>
              <Bi vi="Chủ thể" en="subject" />
            </th>
            <th>
              <Bi vi="Hết hạn" en="expires" />
            </th>
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
                <a href={`/pki/crl/${c.id}.crl`}>{c.id}.crl</a> · <a href={`/pki/ca/${c.id}.pem`}>PEM</a> ·{' '}
                <a href={`/pki/ca/${c.id}.cer`}>DER</a>
                {canCrl ? (
                  <button
                    type="button"
                    className="secondary small"
                    disabled={action.busy}
                    onClick={() =>
                      void action.run(async () => setCrl(await post(`/api/v1/cas/${c.id}/crl`, {})))
                    }
                  >
                    <Bi vi="Phát hành CRL ngay" en="Generate a CRL now" />
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
          <Bi
            vi={`CRL số ${crl.number} của ${crl.ca}: ${crl.entries} chứng thư bị thu hồi, từ ${dateTime(crl.thisUpdate)} đến ${dateTime(crl.nextUpdate)}`}
            en={`CRL number ${crl.number} of ${crl.ca}: ${crl.entries} entries, this update ${dateTime(crl.thisUpdate)}, next update ${dateTime(crl.nextUpdate)}`}
          />
        </p>
      ) : null}
    </details>
  );
}
