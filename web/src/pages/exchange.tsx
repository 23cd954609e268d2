import { tr } from '../i18n';
/**
 * The exchange axis at a glance: the central server's members and subsystems and its registered security
 * servers (central.read), and the state of the security servers this process runs (ss.read): configuration
 * version and expiry, OCSP of their own certificates, message-log health, health per service, and a
 * diagnosis on demand. Pending registrations are on their own page (exchange-requests.tsx).
 */
import { useState } from 'react';
import { api, post } from '../api';
import { Bi, Empty, Json, Loading, PageTitle, ProblemBox, useAction, useLoad } from '../components';
import { dateTime } from '../format';
import { Link } from '../router';
import { session } from '../session';
import type { ExchangeMember, ExchangeServerRow, MemberEncryptionCert, SecurityServerStatus } from '../types';
import { EncryptionCertLines } from './exchange-requests';

export function Exchange() {
  const central = session.can('central.read');
  const ss = session.can('ss.read');
  return (
    <section>
      <PageTitle vi="Trục liên thông" en="Exchange">
        {central ? (
          <Link to="/exchange/requests">
            <Bi vi="Yêu cầu đăng ký" en="Registrations" />
          </Link>
        ) : null}
      </PageTitle>
      {ss ? <SecurityServers /> : null}
      {central ? <Registry /> : null}
      {!ss && !central ? <SecurityServers /> : null}
    </section>
  );
}

/** the state of each security server of this process */
function SecurityServers() {
  const { data, error, loading, reload } = useLoad(
    () => api<SecurityServerStatus[]>('/api/v1/exchange/servers'),
    [],
  );
  return (
    <>
      <h2>
        <Bi vi="Máy chủ an ninh" en="Security servers" />{' '}
        <button type="button" className="secondary small" onClick={reload}>
          <Bi vi="Làm mới" en="Refresh" />
        </button>
      </h2>
      <ProblemBox error={error} />
      {loading && !data ? <Loading /> : null}
      {data && !data.length ? (
        <Empty>
          <Bi vi="Tiến trình này không chạy máy chủ an ninh nào" en="no security server in this process" />
        </Empty>
      ) : null}
      {data && data.length ? (
        <table className="table" data-testid="exchange-servers">
          <thead>
            <tr>
              <th>
                <Bi vi="Máy chủ" en="server" />
              </th>
              <th>
                <Bi vi="Cấu hình" en="configuration" />
              </th>
              <th>
                <Bi vi="OCSP chứng thư riêng" en="OCSP of its own certificates" />
              </th>
              <th>
                <Bi vi="Nhật ký thông điệp" en="message log" />
              </th>
              <th>
                <Bi vi="Dịch vụ" en="services" />
              </th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data.map((s) => (
              <ServerRow key={s.server} s={s} />
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

/** a global configuration lives hours, not days: "còn 3 giờ 20 phút (3 h 20 min left)" */
export function remaining(until: string, now = Date.now()): string {
  const ms = new Date(until).getTime() - now;
  if (Number.isNaN(ms)) return '';
  if (ms <= 0) return tr('đã hết hạn', 'expired');
  const min = Math.floor(ms / 60_000);
  const h = Math.floor(min / 60);
  if (h >= 48) return tr(`còn ${Math.floor(h / 24)} ngày`, `${Math.floor(h / 24)} days left`);
  return tr(`còn ${h} giờ ${min % 60} phút`, `${h} h ${min % 60} min left`);
}

/** "SERVER:VN/GOV/000.00.00.G22/ss-vpcp" → "ss-vpcp"; owner "GOV/000.00.00.G22" */
export function serverParts(id: string): { code: string; owner: string } {
  const parts = id.replace(/^SERVER:/, '').split('/');
  return { code: parts[parts.length - 1] ?? id, owner: parts.slice(1, -1).join('/') };
}

function ServerRow({ s }: { s: SecurityServerStatus }) {
  const [open, setOpen] = useState(false);
  const [diag, setDiag] = useState<unknown>(null);
  const action = useAction();
  const { code, owner } = serverParts(s.server);
  const log = s.log as {
    refusing?: boolean;
    unstamped?: number;
    lastTimestampAt?: string | null;
    lastError?: string;
  };
  const failing = s.services.filter((h) => h.failures > 0);
  return (
    <>
      <tr data-server={code}>
        <td>
          <Link to={`/exchange/servers/${encodeURIComponent(code)}`}>
            <strong>{code}</strong>
          </Link>
          <div className="muted small-text">
            <Bi vi="Chủ quản" en="owner" />: {owner}
          </div>
          <div className="muted small-text mono">
            {s.listeners.informationSystems} · {s.listeners.peers}
          </div>
        </td>
        <td data-testid="conf">
          {s.configuration ? (
            <>
              <span className={`badge ${s.configuration.usable ? 'status-good' : 'status-revoked'}`}>
                {s.configuration.usable ? tr('Dùng được', 'usable') : tr('Không dùng được', 'unusable')}
              </span>
              <div>
                <Bi vi="Phiên bản" en="version" /> {s.configuration.version}
              </div>
              <div className="small-text">
                <Bi vi="Hết hạn" en="expires" /> {dateTime(s.configuration.expiresAt)} —{' '}
                {remaining(s.configuration.expiresAt)}
              </div>
            </>
          ) : (
            <span className="badge status-revoked">
              <Bi vi="Chưa có cấu hình" en="no configuration" />
            </span>
          )}
        </td>
        <td>
          {s.ocsp.length ? (
            s.ocsp.map((o) => (
              <div key={o.name} className="small-text">
                <strong>{o.name}</strong>:{' '}
                {o.lastError ? (
                  <span className="badge status-revoked" title={o.lastError}>
                    <Bi vi="lỗi" en="error" />
                  </span>
                ) : o.fetchedAt ? (
                  <span className="badge status-good">
                    <Bi vi="tốt" en="good" />
                  </span>
                ) : (
                  <span className="badge status-hold">
                    <Bi vi="chưa lấy" en="not fetched" />
                  </span>
                )}{' '}
                {dateTime(o.fetchedAt)}
                {o.lastError ? <div className="muted">{o.lastError}</div> : null}
              </div>
            ))
          ) : (
            <span className="muted">—</span>
          )}
        </td>
        <td className="small-text">
          <span className={`badge ${log.refusing ? 'status-revoked' : 'status-good'}`}>
            {log.refusing ? tr('Từ chối thông điệp', 'refusing') : tr('Bình thường', 'healthy')}
          </span>
          <div>
            <Bi vi="Chưa đóng dấu thời gian" en="unstamped" />: {log.unstamped ?? 0}
          </div>
          <div>
            <Bi vi="Dấu thời gian gần nhất" en="last time-stamp" />: {dateTime(log.lastTimestampAt ?? null)}
          </div>
          {log.lastError ? <div className="muted">{log.lastError}</div> : null}
        </td>
        <td className="small-text">
          {s.services.length ? (
            <>
              <div>
                <Bi vi={`${s.services.length} dịch vụ đã gọi`} en={`${s.services.length} services called`} />,{' '}
                {failing.length ? (
                  <span className="badge status-revoked">
                    {failing.length} <Bi vi="có lỗi" en="failing" />
                  </span>
                ) : (
                  <span className="badge status-good">
                    <Bi vi="không lỗi" en="no failures" />
                  </span>
                )}
              </div>
              <button type="button" className="link" onClick={() => setOpen(!open)}>
                {open ? tr('Ẩn', 'hide') : tr('Chi tiết', 'details')}
              </button>
            </>
          ) : (
            <span className="muted">
              <Bi vi="Chưa có lượt gọi" en="no calls yet" />
            </span>
          )}
          <div className="muted">
            <Bi vi="Lô ký" en="signer batches" />: {s.signer.batches} / {s.signer.signed}
          </div>
        </td>
        <td>
          <button
            type="button"
            className="small"
            disabled={action.busy}
            data-testid={`diagnose-${code}`}
            onClick={() =>
              action.run(async () =>
                setDiag(await post(`/api/v1/exchange/servers/${encodeURIComponent(code)}/diagnose`)),
              )
            }
          >
            {action.busy ? tr('Đang chẩn đoán…', 'diagnosing') : tr('Chẩn đoán', 'Diagnose')}
          </button>
        </td>
      </tr>
      {open ? (
        <tr className="expanded">
          <td colSpan={6}>
            <table className="table">
              <thead>
                <tr>
                  <th>
                    <Bi vi="Dịch vụ" en="service" />
                  </th>
                  <th>
                    <Bi vi="Lượt gọi" en="requests" />
                  </th>
                  <th>
                    <Bi vi="Lỗi" en="failures" />
                  </th>
                  <th>
                    <Bi vi="Thành công gần nhất" en="last success" />
                  </th>
                  <th>
                    <Bi vi="Lỗi gần nhất" en="last failure" />
                  </th>
                </tr>
              </thead>
              <tbody>
                {s.services.map((h) => (
                  <tr key={h.service}>
                    <td className="mono small-text">{h.service}</td>
                    <td>{h.requests}</td>
                    <td>{h.failures}</td>
                    <td>{dateTime(h.lastSuccessAt)}</td>
                    <td>
                      {dateTime(h.lastFailureAt)}
                      {h.lastError ? <div className="muted small-text">{h.lastError}</div> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </td>
        </tr>
      ) : null}
      {action.error || diag ? (
        <tr className="expanded">
          <td colSpan={6} data-testid={`diagnosis-${code}`}>
            <ProblemBox error={action.error} onClose={action.clear} />
            {diag ? <Diagnosis d={diag as Record<string, unknown>} onClose={() => setDiag(null)} /> : null}
          </td>
        </tr>
      ) : null}
    </>
  );
}

function Diagnosis({ d, onClose }: { d: Record<string, unknown>; onClose: () => void }) {
  const certs = (d.certificates ?? {}) as Record<
    string,
    { status: string; code?: string; message?: string; notAfter?: string }
  >;
  const tsas = (d.timestampAuthorities ?? []) as {
    name: string;
    url: string;
    reachable: boolean;
    ms?: number;
    error?: string;
  }[];
  return (
    <div className="card">
      <div className="card-head">
        <strong>
          <Bi vi="Kết quả chẩn đoán" en="Diagnosis" />
        </strong>
        <button type="button" className="link" onClick={onClose} aria-label={tr('Đóng', 'dismiss')}>
          ×
        </button>
      </div>
      <dl className="facts">
        {Object.entries(certs).map(([name, c]) => (
          <div key={name}>
            <dt>
              <Bi vi={`Chứng thư ${name}`} en={`${name} certificate`} />
            </dt>
            <dd>
              <span className={`badge ${c.status === 'good' ? 'status-good' : 'status-revoked'}`}>
                {c.status === 'good' ? tr('tốt', 'good') : tr('có vấn đề', 'problem')}
              </span>{' '}
              {c.notAfter ? `→ ${dateTime(c.notAfter)}` : null}
              {c.message ? ` ${c.code}: ${c.message}` : null}
            </dd>
          </div>
        ))}
        {tsas.map((t) => (
          <div key={t.name}>
            <dt>TSA {t.name}</dt>
            <dd>
              <span className={`badge ${t.reachable ? 'status-good' : 'status-revoked'}`}>
                {t.reachable ? `${tr('trả lời', 'answers')} ${t.ms} ms` : tr('không trả lời', 'unreachable')}
              </span>{' '}
              {t.error ?? ''}
            </dd>
          </div>
        ))}
      </dl>
      <Json value={d} />
    </div>
  );
}

/** the central server's members, subsystems and registered security servers */
function Registry() {
  const { data, error, loading } = useLoad(
    () =>
      Promise.all([
        api<ExchangeMember[]>('/api/v1/central/members'),
        api<ExchangeServerRow[]>('/api/v1/central/servers'),
        api<MemberEncryptionCert[]>('/api/v1/central/encryption-certs'),
        api<{ instance: string; version: number | null; expiresAt?: string; expired?: boolean }>(
          '/api/v1/central/configuration',
        ),
      ]),
    [],
  );
  const [members, servers, encryption, conf] = data ?? [[], [], [], null];
  return (
    <>
      <h2>
        <Bi vi="Máy chủ trung tâm" en="Central server" />
      </h2>
      <ProblemBox error={error} />
      {loading && !data ? <Loading /> : null}
      {conf ? (
        <p data-testid="central-configuration">
          <Bi vi="Cấu hình toàn cục" en="global configuration" /> {conf.instance}:{' '}
          {conf.version === null ? (
            tr('chưa có', 'none yet')
          ) : (
            <>
              <Bi vi="phiên bản" en="version" /> {conf.version}, <Bi vi="hết hạn" en="expires" />{' '}
              {dateTime(conf.expiresAt)}{' '}
              {conf.expired ? (
                <span className="badge status-revoked">
                  <Bi vi="đã hết hạn" en="expired" />
                </span>
              ) : null}
            </>
          )}
        </p>
      ) : null}
      {data ? (
        <>
          <h3>
            <Bi vi="Thành viên" en="Members" />
          </h3>
          {members.length ? (
            <table className="table" data-testid="exchange-members">
              <thead>
                <tr>
                  <th>
                    <Bi vi="Lớp" en="class" />
                  </th>
                  <th>
                    <Bi vi="Mã" en="code" />
                  </th>
                  <th>
                    <Bi vi="Tên" en="name" />
                  </th>
                  <th>
                    <Bi vi="Hệ thống con" en="subsystems" />
                  </th>
                  <th>
                    <Bi vi="Máy chủ an ninh" en="security servers" />
                  </th>
                  <th>
                    <Bi vi="Chứng thư mã hoá" en="encryption certificates" />
                  </th>
                </tr>
              </thead>
              <tbody>
                {members.map((m) => (
                  <tr key={`${m.memberClass}/${m.memberCode}`}>
                    <td>{m.memberClass}</td>
                    <td className="mono">{m.memberCode}</td>
                    <td>{m.name}</td>
                    <td>
                      {m.subsystems.map((s) => (
                        <span key={s} className="tag">
                          {s}
                        </span>
                      ))}
                    </td>
                    <td className="small-text">
                      {servers
                        .filter((s) => s.ownerClass === m.memberClass && s.ownerCode === m.memberCode)
                        .map((s) => (
                          <div key={s.serverCode}>
                            <strong>{s.serverCode}</strong> <span className="mono">{s.address}</span>
                            {s.maintenance ? (
                              <span className="badge status-hold">
                                <Bi vi="bảo trì" en="maintenance" />
                              </span>
                            ) : null}
                            {s.maintenance && s.maintenanceMessage ? (
                              <div className="muted" data-testid="maintenance-message">
                                {s.maintenanceMessage}
                              </div>
                            ) : null}
                            <div className="muted">
                              <Bi vi="Khách" en="clients" />:{' '}
                              {s.clients.map((c) => c.subsystemCode).join(', ') || '—'}
                            </div>
                          </div>
                        ))}
                    </td>
                    <td data-testid="member-encryption-certs">
                      {encryption
                        .filter((c) => c.memberClass === m.memberClass && c.memberCode === m.memberCode)
                        .map((c) => (
                          <div key={c.hash} className="enc-cert">
                            <EncryptionCertLines c={c} />
                            <div className="muted small-text">
                              <Bi vi="Đăng ký lúc" en="registered" /> {dateTime(c.registeredAt)}
                            </div>
                          </div>
                        ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <Empty>
              <Bi vi="Chưa có thành viên" en="no members" />
            </Empty>
          )}
        </>
      ) : null}
    </>
  );
}
