import { tr } from '../i18n';
import { Bi } from '../components';
/**
 * The audit log (issue 18): records in chain order, searched by actor, action and time, 200 at a time;
 * each record opens with its detail and hashes; "Kiểm tra chuỗi" verifies the whole hash chain on the
 * server (`POST /api/v1/audit/verify`, itself audited, a broken chain raising an alert).
 */
import { useState } from 'react';
import { api, post } from '../api';
import { Empty, Json, Loading, PageTitle, ProblemBox, useAction, useLoad } from '../components';
import { dateTime, fromLocalInput } from '../format';
import { setQuery, useLocation } from '../router';
import { session } from '../session';

interface AuditRecord {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  detail: unknown;
  prevHash: string;
  hash: string;
}
interface ChainReport {
  ok: boolean;
  records: number;
  headSeq: number;
  brokenAt?: number;
  reason?: string;
}

const OUTCOME_VI: Record<string, string> = {
  success: 'thành công',
  failure: 'thất bại',
  denied: 'bị từ chối',
};

export function Audit() {
  const { query } = useLocation();
  const q = {
    actor: query.get('actor') ?? '',
    action: query.get('action') ?? '',
    from: query.get('from') ?? '',
  };
  const [form, setForm] = useState(q);
  const [open, setOpen] = useState<number | null>(null);
  const [more, setMore] = useState<AuditRecord[]>([]);
  // whether the last page fetched was full (there may be more): the first page's, then each "More"'s
  const [lastFull, setLastFull] = useState<boolean | null>(null);
  const canRead = session.can('audit.read');
  const page = (afterSeq?: number) =>
    api<{ items: AuditRecord[] }>('/api/v1/audit', {
      query: { actor: q.actor, action: q.action, from: fromLocalInput(q.from), afterSeq, limit: 200 },
    });
  const { data, error, loading } = useLoad(
    async () => (canRead ? page() : { items: [] }),
    [q.actor, q.action, q.from, canRead],
  );
  const loadMore = useAction();
  const rows = [...(data?.items ?? []), ...more];
  return (
    <section>
      <PageTitle vi="Nhật ký kiểm toán" en="Audit log" />
      <VerifyChain />
      {canRead ? (
        <>
          <form
            className="filters"
            onSubmit={(e) => {
              e.preventDefault();
              setMore([]);
              setLastFull(null);
              setQuery(Object.fromEntries(Object.entries(form).map(([k, v]) => [k, v.trim()])));
            }}
          >
            <label className="field">
              <span>
                <Bi vi="Người thực hiện" en="actor" />
              </span>
              <input
                name="actor"
                value={form.actor}
                onChange={(e) => setForm({ ...form, actor: e.target.value })}
              />
            </label>
            <label className="field">
              <span>
                <Bi vi="Thao tác" en="action" />
              </span>
              <input
                name="action"
                placeholder="ca.issue"
                value={form.action}
                onChange={(e) => setForm({ ...form, action: e.target.value })}
              />
            </label>
            <label className="field">
              <span>
                <Bi vi="Từ" en="from" />
              </span>
              <input
                name="from"
                type="datetime-local"
                value={form.from}
                onChange={(e) => setForm({ ...form, from: e.target.value })}
              />
            </label>
            <button type="submit">
              <Bi vi="Tìm kiếm" en="Search" />
            </button>
          </form>
          <ProblemBox error={error ?? loadMore.error} />
          {loading && !data ? <Loading /> : null}
          {data && !rows.length ? <Empty /> : null}
          {rows.length ? (
            <table className="table" data-testid="audit-table">
              <thead>
                <tr>
                  <th>#</th>
                  <th>
                    <Bi vi="Thời điểm" en="time" />
                  </th>
                  <th>
                    <Bi vi="Người thực hiện" en="actor" />
                  </th>
                  <th>
                    <Bi vi="Thao tác" en="action" />
                  </th>
                  <th>
                    <Bi vi="Đối tượng" en="target" />
                  </th>
                  <th>
                    <Bi vi="Kết quả" en="outcome" />
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <AuditRow
                    key={r.seq}
                    r={r}
                    open={open === r.seq}
                    toggle={() => setOpen(open === r.seq ? null : r.seq)}
                  />
                ))}
              </tbody>
            </table>
          ) : null}
          {(lastFull ?? data?.items.length === 200) ? (
            <button
              type="button"
              className="secondary"
              disabled={loadMore.busy}
              onClick={() =>
                void loadMore.run(async () => {
                  const next = (await page(rows[rows.length - 1]!.seq)).items;
                  setMore([...more, ...next]);
                  setLastFull(next.length === 200);
                })
              }
            >
              <Bi vi="Tải thêm" en="More" />
            </button>
          ) : null}
        </>
      ) : null}
    </section>
  );
}

function AuditRow({ r, open, toggle }: { r: AuditRecord; open: boolean; toggle: () => void }) {
  return (
    <>
      <tr className="clickable" onClick={toggle} data-seq={r.seq}>
        <td className="mono small-text">{r.seq}</td>
        <td className="nowrap small-text">{dateTime(r.at)}</td>
        <td>{r.actor}</td>
        <td className="mono small-text">{r.action}</td>
        <td className="mono small-text">{r.target ?? '—'}</td>
        <td className={r.outcome === 'success' ? 'valid' : 'invalid'}>
          <Bi vi={OUTCOME_VI[r.outcome] ?? r.outcome} en={r.outcome} />
        </td>
      </tr>
      {open ? (
        <tr className="expanded">
          <td colSpan={6}>
            <dl className="facts">
              <dt>
                <Bi vi="Băm bản ghi trước" en="previous hash" />
              </dt>
              <dd className="mono small-text">{r.prevHash}</dd>
              <dt>
                <Bi vi="Băm bản ghi" en="hash" />
              </dt>
              <dd className="mono small-text">{r.hash}</dd>
            </dl>
            <Json value={r.detail} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** "Verify the chain": every record re-hashed on the server, from the first to the head. */
function VerifyChain() {
  const action = useAction();
  const [report, setReport] = useState<ChainReport | null>(null);
  if (!session.can('audit.verify')) return null;
  return (
    <div className="action-row" data-testid="audit-verify">
      <button
        type="button"
        disabled={action.busy}
        onClick={() =>
          void action.run(async () => setReport(await post<ChainReport>('/api/v1/audit/verify')))
        }
      >
        {action.busy ? tr('Đang kiểm tra…', 'verifying') : tr('Kiểm tra chuỗi băm', 'Verify the chain')}
      </button>
      {report ? (
        report.ok ? (
          <span className="badge verdict-pass" data-ok="true">
            <Bi
              vi={`Nguyên vẹn: ${report.records.toLocaleString('vi-VN')} bản ghi`}
              en={`intact: ${report.records} records`}
            />
          </span>
        ) : (
          <span className="badge verdict-fail" data-ok="false">
            <Bi vi={`Bị phá vỡ tại bản ghi ${report.brokenAt}`} en={`broken at record ${report.brokenAt}`} />:{' '}
            {report.reason}
          </span>
        )
      ) : null}
      <ProblemBox error={action.error} onClose={action.clear} />
    </div>
  );
}
