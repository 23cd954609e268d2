import { tr } from '../i18n';
/**
 * One security server: its client subsystems, the services it publishes with their access rights (ss-admin
 * grants and withdraws them), its local groups, a search of its message log and its verification
 * (ss.log.read: chain, hash trees, time-stamps, every body). A log that
 * cannot be searched, or a refusal, is shown as the API's problem; the page stays.
 */
import { useState } from 'react';
import { api, download } from '../api';
import { Bi, Empty, Loading, PageTitle, ProblemBox, useAction, useLoad } from '../components';
import { dateTime } from '../format';
import { Link, setQuery, useLocation } from '../router';
import { session } from '../session';
import type { AccessRight, ServerServices } from '../types';

export function ExchangeServer({ code }: { code: string }) {
  const base = `/api/v1/exchange/servers/${encodeURIComponent(code)}`;
  return (
    <section>
      <PageTitle vi={`Máy chủ an ninh ${code}`} en="Security server">
        <Link to="/exchange">
          <Bi vi="Trục liên thông" en="Exchange" />
        </Link>
      </PageTitle>
      <Services base={base} />
      <LogSearch base={base} />
      <LogVerify base={base} />
    </section>
  );
}

function Services({ base }: { base: string }) {
  const { data, error, loading, reload } = useLoad(() => api<ServerServices>(`${base}/services`), [base]);
  const manage = session.can('ss.manage');
  const withdraw = useAction();
  const remove = (r: AccessRight) =>
    withdraw.run(() => api(`${base}/access`, { method: 'DELETE', body: r })).then((ok) => ok && reload());
  return (
    <>
      <h2>
        <Bi vi="Dịch vụ và quyền truy cập" en="Services and access rights" />
      </h2>
      <ProblemBox error={error} />
      <ProblemBox error={withdraw.error} onClose={withdraw.clear} />
      {loading && !data ? <Loading /> : null}
      {data ? (
        <>
          <p>
            <Bi vi="Hệ thống con khách" en="client subsystems" />:{' '}
            {data.clients.length
              ? data.clients.map((c) => (
                  <span key={c} className="tag mono" data-client={c}>
                    {c} · {connectionLabel(data.connections?.[c] ?? 'http')}
                    {data.isCerts?.[c]?.length ? ` · ${data.isCerts[c]!.length} ${tr('chứng thư TLS', 'TLS certificates')}` : ''}
                  </span>
                ))
              : '—'}
          </p>
          {data.services.length ? (
            <table className="table" data-testid="services-table">
              <thead>
                <tr>
                  <th>
                    <Bi vi="Dịch vụ" en="service" />
                  </th>
                  <th>
                    <Bi vi="Địa chỉ" en="URL" />
                  </th>
                  <th>
                    <Bi vi="Quyền truy cập" en="access rights" />
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.services.map((s) => (
                  <tr key={s.service} data-service={s.service}>
                    <td className="mono small-text">
                      {s.service}
                      {s.disabled ? (
                        <span className="badge status-hold">
                          <Bi vi="tắt" en="disabled" />
                        </span>
                      ) : null}
                      {s.openapi ? (
                        <div className="muted" data-testid="service-openapi">
                          OpenAPI {s.openapi.title ? `“${s.openapi.title}”` : ''}
                          {s.openapi.version ? ` ${s.openapi.version}` : ''} ·{' '}
                          <Bi vi={`${s.openapi.endpoints.length} thao tác`} en={`${s.openapi.endpoints.length} operations`} />
                        </div>
                      ) : null}
                      {s.wsdl ? (
                        <div className="muted" data-testid="service-wsdl">
                          WSDL {s.wsdl.title ? `“${s.wsdl.title}”` : ''} ·{' '}
                          <Bi vi={`${s.wsdl.operations.length} thao tác`} en={`${s.wsdl.operations.length} operations`} />
                        </div>
                      ) : null}
                    </td>
                    <td className="mono small-text">{s.url}</td>
                    <td>
                      {s.access.length ? (
                        <ul className="notes">
                          {s.access.map((a) => (
                            <li
                              key={`${a.subject} ${a.method} ${a.path}`}
                              data-subject={a.subject}
                              className="small-text"
                            >
                              <span className="mono">{a.subject}</span> · {a.method} ·{' '}
                              <span className="mono">{a.path}</span>{' '}
                              {manage ? (
                                <button
                                  type="button"
                                  className="link"
                                  disabled={withdraw.busy}
                                  onClick={() => void remove(a)}
                                >
                                  <Bi vi="Thu hồi" en="Withdraw" />
                                </button>
                              ) : null}
                            </li>
                          ))}
                        </ul>
                      ) : (
                        <span className="muted">
                          <Bi vi="Chưa cấp cho ai" en="no one" />
                        </span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <Empty>
              <Bi vi="Máy chủ chưa công bố dịch vụ nào" en="no services published" />
            </Empty>
          )}
          {Object.keys(data.localGroups).length ? (
            <>
              <h3>
                <Bi vi="Nhóm cục bộ" en="Local groups" />
              </h3>
              <dl className="facts">
                {Object.entries(data.localGroups).map(([g, members]) => (
                  <div key={g}>
                    <dt className="mono">{g}</dt>
                    <dd className="mono small-text">{members.join(', ') || '—'}</dd>
                  </div>
                ))}
              </dl>
            </>
          ) : null}
          {manage ? (
            <>
              <Grant base={base} services={data.services.map((s) => s.service)} onDone={reload} />
              <Describe base={base} services={data.services} onDone={reload} />
            </>
          ) : null}
        </>
      ) : null}
    </>
  );
}

/** the service a form acts on, among this server's */
function ServiceSelect({ services, value, onChange }: { services: string[]; value: string; onChange: (service: string) => void }) {
  return (
    <label className="field grow">
      <span>
        <Bi vi="Dịch vụ" en="service" />
      </span>
      <select name="service" value={value} onChange={(e) => onChange(e.target.value)}>
        {services.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
    </label>
  );
}

function Grant({ base, services, onDone }: { base: string; services: string[]; onDone: () => void }) {
  const [form, setForm] = useState({ service: services[0] ?? '', subject: '', method: '*', path: '*' });
  const action = useAction();
  return (
    <>
      <h3>
        <Bi vi="Cấp quyền truy cập" en="Grant an access right" />
      </h3>
      <form
        className="filters"
        data-testid="grant-form"
        onSubmit={(e) => {
          e.preventDefault();
          const body = {
            service: form.service.trim(),
            subject: form.subject.trim(),
            method: form.method.trim() || '*',
            path: form.path.trim() || '*',
          };
          void action
            .run(() => api(`${base}/access`, { method: 'POST', body }))
            .then((ok) => {
              if (ok) {
                setForm({ ...form, subject: '' });
                onDone();
              }
            });
        }}
      >
        <ServiceSelect services={services} value={form.service} onChange={(service) => setForm({ ...form, service })} />
        <label className="field grow">
          <span>
            <Bi vi="Chủ thể" en="subject: SUBSYSTEM:…, GLOBALGROUP:…, LOCALGROUP:…" />
          </span>
          <input
            name="subject"
            className="mono"
            required
            maxLength={1400}
            placeholder="SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu"
            value={form.subject}
            onChange={(e) => setForm({ ...form, subject: e.target.value })}
          />
        </label>
        <label className="field">
          <span>
            <Bi vi="Phương thức" en="method" />
          </span>
          <input
            name="method"
            maxLength={16}
            value={form.method}
            onChange={(e) => setForm({ ...form, method: e.target.value })}
          />
        </label>
        <label className="field">
          <span>
            <Bi vi="Đường dẫn" en="path" />
          </span>
          <input
            name="path"
            className="mono"
            maxLength={1000}
            placeholder="* · /ho-so/* · /ho-so/*/tep · /ho-so/**"
            title={tr(
              '* mọi đường dẫn; * ở cuối: mọi đường dẫn bên dưới; * ở giữa: một đoạn; **: bất kỳ. Đường dẫn có đoạn "." hoặc ".." luôn bị từ chối.',
              '* any path; a trailing *: anything below; * inside: one segment; **: anything. Paths with "." or ".." segments are always refused.',
            )}
            value={form.path}
            onChange={(e) => setForm({ ...form, path: e.target.value })}
          />
        </label>
        <button type="submit" disabled={action.busy || !form.service || !form.subject.trim()}>
          <Bi vi="Cấp quyền" en="Grant" />
        </button>
      </form>
      <ProblemBox error={action.error} onClose={action.clear} />
    </>
  );
}

/**
 * ss-admin registers a service's description from a file — OpenAPI 3 (YAML or JSON) for a REST service, WSDL
 * 1.1 for a SOAP one — or removes it.
 */
function Describe({ base, services, onDone }: { base: string; services: ServerServices['services']; onDone: () => void }) {
  const [service, setService] = useState(services[0]?.service ?? '');
  const [file, setFile] = useState<File | null>(null);
  const action = useAction();
  const row = services.find((s) => s.service === service);
  const described = row?.openapi ?? row?.wsdl;
  const url = (s: string, kind: 'openapi' | 'wsdl') => `${base}/services/${kind}?service=${encodeURIComponent(s)}`;
  const isWsdl = (f: File) => /\.(wsdl|xml)$/i.test(f.name);
  return (
    <>
      <h3>
        <Bi vi="Mô tả dịch vụ (OpenAPI hoặc WSDL)" en="A service's description (OpenAPI or WSDL)" />
      </h3>
      <form
        className="filters"
        data-testid="openapi-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (!file) return;
          void action
            .run(async () =>
              api(url(service, isWsdl(file) ? 'wsdl' : 'openapi'), {
                method: 'PUT',
                text: await file.text(),
                contentType: isWsdl(file) ? 'application/xml' : /\.json$/i.test(file.name) ? 'text/plain; charset=utf-8' : 'application/yaml',
              }),
            )
            .then((ok) => ok && onDone());
        }}
      >
        <ServiceSelect services={services.map((s) => s.service)} value={service} onChange={setService} />
        <label className="field grow">
          <span>
            <Bi vi="Tệp OpenAPI 3 (YAML, JSON) hoặc WSDL 1.1" en="OpenAPI 3 file (YAML, JSON) or WSDL 1.1" />
          </span>
          <input name="openapi" type="file" accept=".yaml,.yml,.json,.wsdl,.xml" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </label>
        <button type="submit" disabled={action.busy || !service || !file}>
          <Bi vi="Đăng ký mô tả" en="Register" />
        </button>
        {described ? (
          <button
            type="button"
            className="secondary"
            disabled={action.busy}
            onClick={() => void action.run(() => api(url(service, row?.wsdl ? 'wsdl' : 'openapi'), { method: 'DELETE' })).then((ok) => ok && onDone())}
          >
            <Bi vi="Gỡ mô tả" en="Remove" />
          </button>
        ) : null}
      </form>
      <ProblemBox error={action.error} onClose={action.clear} />
    </>
  );
}

interface LogRow {
  messageId?: string;
  side?: string;
  kind?: string;
  client?: string;
  service?: string;
  at?: string;
  [k: string]: unknown;
}

const LOG_FIELDS = ['messageId', 'client', 'service'] as const;

/**
 * Downloads one message's evidence (ASiC-E sealed with the member's CAdES signature) with the bearer token
 * (a plain link would carry none).
 */
function LogSearch({ base }: { base: string }) {
  const { query } = useLocation();
  const q = Object.fromEntries(LOG_FIELDS.map((f) => [f, query.get(f) ?? ''])) as Record<
    (typeof LOG_FIELDS)[number],
    string
  >;
  const [form, setForm] = useState(q);
  const searched = !!(q.messageId || q.client || q.service || query.get('log'));
  const evidence = useAction();
  const { data, error, loading } = useLoad(
    () => (searched ? api<LogRow[]>(`${base}/log`, { query: { ...q, limit: 100 } }) : Promise.resolve(null)),
    [base, searched, q.messageId, q.client, q.service],
  );
  return (
    <>
      <h2>
        <Bi vi="Tra cứu nhật ký thông điệp" en="Message log search" />
      </h2>
      <form
        className="filters"
        data-testid="log-form"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ ...Object.fromEntries(Object.entries(form).map(([k, v]) => [k, v.trim()])), log: '1' });
        }}
      >
        <label className="field">
          <span>
            <Bi vi="Mã thông điệp" en="message id" />
          </span>
          <input
            name="messageId"
            className="mono"
            maxLength={255}
            value={form.messageId}
            onChange={(e) => setForm({ ...form, messageId: e.target.value })}
          />
        </label>
        <label className="field grow">
          <span>
            <Bi vi="Bên gọi" en="client" />
          </span>
          <input
            name="client"
            className="mono"
            maxLength={1100}
            value={form.client}
            onChange={(e) => setForm({ ...form, client: e.target.value })}
          />
        </label>
        <label className="field grow">
          <span>
            <Bi vi="Dịch vụ" en="service" />
          </span>
          <input
            name="service"
            className="mono"
            maxLength={1400}
            value={form.service}
            onChange={(e) => setForm({ ...form, service: e.target.value })}
          />
        </label>
        <button type="submit">
          <Bi vi="Tìm kiếm" en="Search" />
        </button>
      </form>
      <div data-testid="log-result">
        <ProblemBox error={error ?? evidence.error} />
        {loading && searched && !data ? <Loading /> : null}
        {data && !data.length ? <Empty /> : null}
        {data && data.length ? (
          <table className="table" data-testid="log-table">
            <thead>
              <tr>
                <th>
                  <Bi vi="Thời điểm" en="at" />
                </th>
                <th>
                  <Bi vi="Mã thông điệp" en="message id" />
                </th>
                <th>
                  <Bi vi="Phía / loại" en="side / kind" />
                </th>
                <th>
                  <Bi vi="Bên gọi" en="client" />
                </th>
                <th>
                  <Bi vi="Dịch vụ" en="service" />
                </th>
                <th>
                  <Bi vi="Bằng chứng" en="evidence" />
                </th>
              </tr>
            </thead>
            <tbody>
              {data.map((r, i) => (
                <tr key={i}>
                  <td className="nowrap small-text">{dateTime(logTime(r))}</td>
                  <td className="mono small-text">{String(r.messageId ?? '')}</td>
                  <td>
                    {String(r.side ?? '')} / {String(r.kind ?? '')}
                  </td>
                  <td className="mono small-text">{String(r.client ?? '')}</td>
                  <td className="mono small-text">{String(r.service ?? '')}</td>
                  <td>
                    <button
                      type="button"
                      data-testid="log-evidence"
                      disabled={evidence.busy}
                      title={tr(
                        'Tệp ASiC-E: bản ghi, nội dung, chuỗi băm, dấu thời gian; có chữ ký CAdES của cơ quan',
                        "ASiC-E file: records, bodies, hash chain, time-stamps; sealed with the agency's CAdES signature",
                      )}
                      onClick={() => void evidence.run(() => download(`${base}/log/evidence/${encodeURIComponent(String(r.messageId ?? ''))}`, 'evidence.asice'))}
                    >
                      <Bi vi="Tải về" en="Download" />
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </div>
    </>
  );
}

interface VerifyReport {
  ok: boolean;
  problem?: { where: Record<string, unknown>; why: string };
  incomplete: string[];
  warnings: string[];
  records: number;
  batches: number;
  archives: number;
  unstamped: number;
  bodies: number;
}

/** The whole log checked on the server, as `truc log verify` does offline. */
function LogVerify({ base }: { base: string }) {
  const action = useAction();
  const [report, setReport] = useState<VerifyReport | null>(null);
  return (
    <>
      <h2>
        <Bi vi="Kiểm tra toàn vẹn nhật ký" en="Message log verification" />
      </h2>
      <p className="small-text">
        <Bi
          vi="Chuỗi băm, cây băm, dấu thời gian, kho lưu trữ và từng nội dung thông điệp (đã giải mã)"
          en="hash chain, hash trees, time-stamps, archives and every body (decrypted)"
        />
      </p>
      <button
        type="button"
        disabled={action.busy}
        onClick={() =>
          void action.run(async () =>
            setReport(await api<VerifyReport>(`${base}/log/verify`, { method: 'POST' })),
          )
        }
      >
        {action.busy ? tr('Đang kiểm tra…', 'checking') : tr('Kiểm tra', 'Verify')}
      </button>
      <ProblemBox error={action.error} />
      {report ? (
        <div data-testid="log-verify" className={report.problem ? 'problem' : 'ok'}>
          {report.problem ? (
            <p>
              <strong>
                <Bi vi="NHẬT KÝ BỊ PHÁ VỠ" en="log broken" />
              </strong>
              : {report.problem.why}{' '}
              <span className="mono small-text">{JSON.stringify(report.problem.where)}</span>
            </p>
          ) : (
            <p>
              <strong>
                {report.incomplete.length
                  ? tr('Nguyên vẹn, chưa kiểm tra hết', 'intact, not all checked')
                  : tr('Nguyên vẹn', 'intact')}
              </strong>
              :{' '}
              <Bi
                vi={`${report.records} bản ghi, ${report.batches} lô dấu thời gian, ${report.unstamped} chưa đóng dấu, ${report.archives} kho lưu trữ, ${report.bodies} nội dung`}
                en={`${report.records} records, ${report.batches} time-stamp batches, ${report.unstamped} not yet stamped, ${report.archives} archives, ${report.bodies} bodies`}
              />
            </p>
          )}
          {[...report.incomplete, ...report.warnings].map((w, i) => (
            <p key={i} className="small-text">
              {w}
            </p>
          ))}
        </div>
      ) : null}
    </>
  );
}

function logTime(r: LogRow): string | null {
  for (const k of ['at', 'loggedAt', 'time', 'ts', 'createdAt'])
    if (typeof r[k] === 'string') return r[k] as string;
  return null;
}

/** X-Road's connection types of a client's information system, in both languages. */
function connectionLabel(type: string): string {
  if (type === 'https') return tr('HTTPS có xác thực chứng thư', 'HTTPS with a client certificate');
  if (type === 'https-noauth') return tr('HTTPS không xác thực', 'HTTPS, no client certificate');
  return tr('HTTP hoặc HTTPS', 'HTTP or HTTPS');
}
