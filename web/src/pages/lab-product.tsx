import { tr } from '../i18n';
/**
 * One product of the register: its versions with the algorithms each claims, the test runs recorded for
 * each version (verdict and counts) and the certificates of conformity with their validity; the licences
 * naming the product. Lab officers can suspend, reinstate or revoke a certificate from here.
 */
import { useState } from 'react';
import { api, post } from '../api';
import { Bi, Empty, Loading, ProblemBox, useAction, useLoad } from '../components';
import { dateTime } from '../format';
import { Link } from '../router';
import { session } from '../session';
import type { ConformityCertificate, ProductDetail, Run } from '../types';
import { ConformityCells, LicenceTable } from './lab';

export function LabProduct({ id }: { id: string }) {
  const {
    data: p,
    error,
    loading,
    reload,
  } = useLoad(() => api<ProductDetail>(`/api/v1/lab/products/${encodeURIComponent(id)}`), [id]);
  return (
    <section>
      <div className="crumbs">
        <Link to="/lab">
          <Bi vi="← Sổ đăng ký" en="Register" />
        </Link>
      </div>
      <ProblemBox error={error} />
      {loading && !p ? <Loading /> : null}
      {p ? (
        <>
          <div className="page-title">
            <h1>{p.name}</h1>
            <span className="tag">{p.kind}</span>
          </div>
          <dl className="facts">
            <dt>
              <Bi vi="Nhà cung cấp" en="vendor" />
            </dt>
            <dd>{p.vendorName}</dd>
            <dt>
              <Bi vi="Mã sản phẩm" en="product id" />
            </dt>
            <dd className="mono">{p.id}</dd>
            <dt>
              <Bi vi="Mô tả" en="description" />
            </dt>
            <dd>{p.description ?? '—'}</dd>
            <dt>
              <Bi vi="Đăng ký" en="registered" />
            </dt>
            <dd>{dateTime(p.createdAt)}</dd>
          </dl>
          <h2>
            <Bi vi="Phiên bản" en="Versions" />
          </h2>
          {!p.versions.length ? (
            <Empty>
              <Bi vi="Chưa có phiên bản" en="no versions" />
            </Empty>
          ) : null}
          {p.versions.map((v) => (
            <div className="card" key={v.id} data-version={v.version}>
              <div className="card-head">
                <h3>
                  <Bi vi="Phiên bản" en="version" /> {v.version}
                </h3>
                <span className="mono muted small-text">{v.id}</span>
              </div>
              <div className="algorithms">
                {v.algorithms.length ? (
                  v.algorithms.map((a) => (
                    <span key={a} className="tag">
                      {a}
                    </span>
                  ))
                ) : (
                  <span className="muted">
                    <Bi vi="không khai báo thuật toán" en="no algorithms claimed" />
                  </span>
                )}
              </div>
              <h4>
                <Bi vi="Lần thử nghiệm" en="Test runs" />
              </h4>
              {v.runs.length ? (
                <RunTable runs={v.runs} />
              ) : (
                <Empty>
                  <Bi vi="Chưa có lần thử" en="no runs" />
                </Empty>
              )}
              <h4>
                <Bi vi="Chứng nhận hợp chuẩn" en="Certificates of conformity" />
              </h4>
              {v.certificates.length ? (
                <CertificateTable rows={v.certificates} onChanged={reload} />
              ) : (
                <Empty>
                  <Bi vi="Chưa có chứng nhận" en="no certificates" />
                </Empty>
              )}
            </div>
          ))}
          <h2>
            <Bi vi="Giấy phép" en="Licences" />
          </h2>
          {p.licences.length ? (
            <LicenceTable rows={p.licences} />
          ) : (
            <Empty>
              <Bi vi="Không có giấy phép cho sản phẩm này" en="no licences" />
            </Empty>
          )}
        </>
      ) : null}
    </section>
  );
}

function RunTable({ runs }: { runs: Run[] }) {
  return (
    <table className="table compact" data-testid="runs-table">
      <thead>
        <tr>
          <th>
            <Bi vi="Mã" en="run" />
          </th>
          <th>
            <Bi vi="Hồ sơ chuẩn" en="profile" />
          </th>
          <th>
            <Bi vi="Kết luận" en="verdict" />
          </th>
          <th className="num">PASS</th>
          <th className="num">FAIL</th>
          <th className="num">UNSUP.</th>
          <th className="num">ERROR</th>
          <th>
            <Bi vi="Kết thúc" en="finished" />
          </th>
          <th>
            <Bi vi="Ký" en="signed" />
          </th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.id}>
            <td className="mono">{r.id}</td>
            <td>{r.profile ?? '—'}</td>
            <td>{r.verdict ? <span className={`badge verdict-${r.verdict}`}>{r.verdict}</span> : '—'}</td>
            <td className="num">{r.counts.PASS}</td>
            <td className="num">{r.counts.FAIL}</td>
            <td className="num">{r.counts.UNSUPPORTED}</td>
            <td className="num">{r.counts.ERROR}</td>
            <td className="nowrap">{dateTime(r.finishedAt)}</td>
            <td>{r.signed ? '✓' : '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function CertificateTable({ rows, onChanged }: { rows: ConformityCertificate[]; onChanged: () => void }) {
  const manage = session.can('lab.manage');
  return (
    <table className="table compact" data-testid="product-certificates-table">
      <thead>
        <tr>
          <th>
            <Bi vi="Số" en="number" />
          </th>
          <th>
            <Bi vi="Hồ sơ chuẩn" en="profile" />
          </th>
          <th>
            <Bi vi="Cấp ngày" en="issued" />
          </th>
          <th>
            <Bi vi="Hiệu lực đến" en="valid until" />
          </th>
          <th>
            <Bi vi="Trạng thái" en="status" />
          </th>
          {manage ? <th /> : null}
        </tr>
      </thead>
      <tbody>
        {rows.map((c) => (
          <tr key={c.number}>
            <td className="mono">{c.number}</td>
            <td title={c.standard}>{c.profile}</td>
            <ConformityCells c={c} />
            {manage ? (
              <td>
                <StatusActions c={c} onChanged={onChanged} />
              </td>
            ) : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function StatusActions({ c, onChanged }: { c: ConformityCertificate; onChanged: () => void }) {
  const [reason, setReason] = useState('');
  const action = useAction();
  if (c.status === 'revoked') return null;
  const run = async (what: 'suspend' | 'reinstate' | 'revoke') => {
    if (
      await action.run(() =>
        post(
          `/api/v1/lab/certificates/${encodeURIComponent(c.number)}/${what}`,
          reason.trim() ? { reason: reason.trim() } : {},
        ),
      )
    ) {
      setReason('');
      onChanged();
    }
  };
  return (
    <div className="status-actions">
      <input
        name="reason"
        placeholder={tr('lý do', 'reason')}
        aria-label={tr('Lý do đổi trạng thái', 'Reason for the status change')}
        value={reason}
        onChange={(e) => setReason(e.target.value)}
      />
      {c.status === 'issued' ? (
        <button
          type="button"
          className="secondary small"
          disabled={action.busy}
          onClick={() => run('suspend')}
        >
          <Bi vi="Đình chỉ" en="Suspend" />
        </button>
      ) : (
        <button
          type="button"
          className="secondary small"
          disabled={action.busy}
          onClick={() => run('reinstate')}
        >
          <Bi vi="Khôi phục" en="Reinstate" />
        </button>
      )}
      <button type="button" className="danger small" disabled={action.busy} onClick={() => run('revoke')}>
        <Bi vi="Thu hồi" en="Revoke" />
      </button>
      <ProblemBox error={action.error} onClose={action.clear} />
    </div>
  );
}
