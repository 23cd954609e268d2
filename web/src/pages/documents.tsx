import { tr } from '../i18n';
/**
 * The document desk (bàn văn thư): official documents between agencies over the axis. Inbox (received
 * documents and status packets), outbox (each recipient's delivery and latest status), a document with its
 * signature verdicts and attachments, status buttons for a received document, and sending (upload the
 * signed PDF and appendices, pick recipients). doc.read to look, doc.send to act; the API audits each step.
 */
import { useState } from 'react';
import { api, ApiProblem, download } from '../api';
import { Bi, Empty, Loading, PageTitle, ProblemBox, useAction, useLoad } from '../components';
import { dateTime } from '../format';
import { Link, navigate, setQuery, useLocation } from '../router';
import { session } from '../session';

/** the status codes of QCVN 102:2016 as the desk sends and shows them */
export const STATUS_TEXT: Record<string, [string, string]> = {
  '01': ['Đã đến', 'arrived'],
  '02': ['Từ chối tiếp nhận', 'refused'],
  '03': ['Đã tiếp nhận, vào sổ', 'registered'],
  '04': ['Đã phân công', 'assigned'],
  '05': ['Đang xử lý', 'in progress'],
  '06': ['Hoàn thành', 'done'],
  '13': ['Yêu cầu thu hồi/cập nhật', 'recall or update requested'],
  '15': ['Đồng ý thu hồi/cập nhật', 'accepted'],
  '16': ['Từ chối thu hồi/cập nhật', 'refused'],
};
/** a status code in words, in the console's language */
export const statusText = (code: string): string => (STATUS_TEXT[code] ? tr(...STATUS_TEXT[code]) : code);
/** what a recipient may report next, from its current status (the desk refuses the others) */
const NEXT: Record<string, string[]> = {
  '': ['01'],
  '01': ['02', '03'],
  '03': ['04', '05', '06'],
  '04': ['04', '05', '06'],
  '05': ['05', '06'],
};

interface Header {
  from: { organId: string; organName: string };
  to: { organId: string; organName: string }[];
  documentId: string;
  code: { number: string; notation: string };
  promulgation: { place: string; date: string };
  documentType: { type: number; typeName: string };
  subject: string;
  content?: string;
  signer: { competence?: string; position?: string; fullName: string };
}
interface Recipient {
  organId: string;
  organName: string;
  delivery: { state: string; attempts: number; lastError: string | null; deliveredAt: string | null } | null;
  status: string | null;
  statusAt: string | null;
}
interface DocRow {
  id: string;
  direction: 'in' | 'out';
  sender: string;
  documentId: string;
  docType: number;
  header: Header;
  validation: { indication?: string; signer?: string; signerMember?: string } | null;
  state: { code: string | null };
  createdAt: string;
  ackedAt: string | null;
  recipients?: Recipient[];
}
interface StatusItem {
  id: string;
  docId: string;
  organId: string;
  code: string;
  description: string | null;
  createdAt: string;
}
interface DocView {
  document: DocRow;
  attachments: {
    contentId: string;
    attachmentName: string;
    contentType: string;
    size: number;
    sha256: string;
    report: {
      signatures?: { indication: string; format?: string; signer?: { commonName?: string } }[];
      skipped?: string;
      error?: string;
    } | null;
  }[];
  recipients: Recipient[];
  statuses: StatusItem[];
}

const DOC_TYPES: Record<number, [string, string]> = {
  0: ['mới', 'new'],
  1: ['thu hồi', 'recall'],
  2: ['cập nhật', 'update'],
  3: ['thay thế', 'replace'],
};
const docTypeText = (t: number): string => (DOC_TYPES[t] ? tr(...DOC_TYPES[t]) : String(t));

function Verdict({ v }: { v: string | undefined | null }) {
  if (!v) return <span>—</span>;
  const good = v === 'TOTAL-PASSED';
  return (
    <span className={good ? 'badge status-good' : 'badge level-medium'} data-indication={v}>
      {good ? tr('Hợp lệ', 'TOTAL-PASSED') : v}
    </span>
  );
}

export function Documents() {
  const { query } = useLocation();
  const box = query.get('box') === 'out' ? 'out' : query.get('box') === 'send' ? 'send' : 'in';
  const canSend = session.me()?.permissions.includes('doc.send') ?? false;
  return (
    <section>
      <PageTitle vi="Văn bản điện tử" en="Official documents" />
      <nav className="tabs" data-testid="doc-tabs">
        {(
          [
            ['in', tr('Văn bản đến', 'Inbox')],
            ['out', tr('Văn bản đi', 'Outbox')],
            ...(canSend ? [['send', tr('Gửi văn bản', 'Send')]] : []),
          ] as [string, string][]
        ).map(([k, label]) => (
          <button
            key={k}
            type="button"
            className={box === k ? 'active' : ''}
            onClick={() => setQuery({ box: k })}
          >
            {label}
          </button>
        ))}
      </nav>
      {box === 'in' ? <Inbox /> : box === 'out' ? <Outbox /> : <Send />}
    </section>
  );
}

function Inbox() {
  const { query } = useLocation();
  const all = query.get('all') === '1';
  const q = query.get('q') ?? '';
  const [text, setText] = useState(q);
  const { data, error, loading } = useLoad(
    () =>
      api<{ documents: DocRow[]; statuses: StatusItem[] }>('/api/v1/doc/inbox', {
        query: { all: all ? 'true' : undefined, q },
      }),
    [all, q],
  );
  return (
    <>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ box: 'in', q: text.trim(), all: all ? '1' : undefined });
        }}
      >
        <label className="field grow">
          <span>
            <Bi vi="Tìm theo số, trích yếu, cơ quan" en="search by number, subject, agency" />
          </span>
          <input name="q" value={text} maxLength={500} onChange={(e) => setText(e.target.value)} />
        </label>
        <label className="field">
          <span>
            <input
              type="checkbox"
              checked={all}
              onChange={(e) => setQuery({ box: 'in', q, all: e.target.checked ? '1' : undefined })}
            />{' '}
            <Bi vi="Cả văn bản đã nhận" en="all, also acknowledged" />
          </span>
        </label>
        <button type="submit">
          <Bi vi="Tìm kiếm" en="Search" />
        </button>
      </form>
      <ProblemBox error={error} />
      {loading && !data ? <Loading /> : null}
      {data ? (
        <>
          <h2>
            <Bi vi="Văn bản" en="Documents" />
          </h2>
          {data.documents.length ? <DocTable rows={data.documents} /> : <Empty />}
          <h2>
            <Bi vi="Trạng thái nhận được" en="Status packets received" />
          </h2>
          {data.statuses.length ? (
            <table className="table" data-testid="inbox-statuses">
              <thead>
                <tr>
                  <th>
                    <Bi vi="Thời điểm" en="at" />
                  </th>
                  <th>
                    <Bi vi="Cơ quan" en="agency" />
                  </th>
                  <th>
                    <Bi vi="Trạng thái" en="status" />
                  </th>
                  <th>
                    <Bi vi="Ghi chú" en="description" />
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.statuses.map((s) => (
                  <tr key={s.id}>
                    <td className="nowrap small-text">{dateTime(s.createdAt)}</td>
                    <td className="mono small-text">{s.organId}</td>
                    <td>
                      <Link to={`/documents/${s.docId}`}>{statusText(s.code)}</Link>
                    </td>
                    <td>{s.description ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <Empty />
          )}
        </>
      ) : null}
    </>
  );
}

function DocTable({ rows, out }: { rows: DocRow[]; out?: boolean }) {
  return (
    <table className="table" data-testid={out ? 'outbox-table' : 'inbox-table'}>
      <thead>
        <tr>
          <th>
            <Bi vi="Thời điểm" en="at" />
          </th>
          <th>
            <Bi vi="Số, ký hiệu" en="number" />
          </th>
          <th>
            <Bi vi="Trích yếu" en="subject" />
          </th>
          <th>{out ? tr('Nơi nhận và trạng thái', 'recipients') : tr('Nơi gửi', 'from')}</th>
          <th>
            <Bi vi="Chữ ký" en="signature" />
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((d) => (
          <tr key={d.id} data-id={d.id}>
            <td className="nowrap small-text">{dateTime(d.createdAt)}</td>
            <td className="nowrap">
              {d.header.code.number}/{d.header.code.notation}
              {d.docType ? <span className="small-text"> · {docTypeText(d.docType)}</span> : null}
            </td>
            <td>
              <Link to={`/documents/${d.id}`}>{d.header.subject}</Link>
            </td>
            <td>
              {out
                ? (d.recipients ?? []).map((r) => (
                    <div key={r.organId} className="small-text" data-organ={r.organId}>
                      {r.organName}:{' '}
                      {r.status
                        ? statusText(r.status)
                        : r.delivery
                          ? `${tr('chuyển', 'delivery')}: ${r.delivery.state}`
                          : '—'}
                    </div>
                  ))
                : d.header.from.organName}
            </td>
            <td>
              <Verdict v={d.validation?.indication} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Outbox() {
  const { query } = useLocation();
  const q = query.get('q') ?? '';
  const [text, setText] = useState(q);
  const { data, error, loading } = useLoad(() => api<DocRow[]>('/api/v1/doc/outbox', { query: { q } }), [q]);
  return (
    <>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ box: 'out', q: text.trim() });
        }}
      >
        <label className="field grow">
          <span>
            <Bi vi="Tìm" en="search" />
          </span>
          <input name="q" value={text} maxLength={500} onChange={(e) => setText(e.target.value)} />
        </label>
        <button type="submit">
          <Bi vi="Tìm kiếm" en="Search" />
        </button>
      </form>
      <ProblemBox error={error} />
      {loading && !data ? <Loading /> : null}
      {data ? data.length ? <DocTable rows={data} out /> : <Empty /> : null}
    </>
  );
}

/** Downloads an attachment with the bearer token (a plain link would carry none). */
export function DocumentView({ id }: { id: string }) {
  const { data, error, loading, reload } = useLoad(
    () => api<DocView>(`/api/v1/doc/documents/${encodeURIComponent(id)}`),
    [id],
  );
  const action = useAction();
  const [description, setDescription] = useState('');
  const canSend = session.me()?.permissions.includes('doc.send') ?? false;
  const d = data?.document;
  return (
    <section>
      <PageTitle vi="Văn bản" en="Document">
        <Link to={d?.direction === 'out' ? '/documents?box=out' : '/documents'}>
          <Bi vi="Văn bản điện tử" en="Official documents" />
        </Link>
      </PageTitle>
      <ProblemBox error={error} />
      {loading && !data ? <Loading /> : null}
      {d ? (
        <>
          <dl className="facts" data-testid="doc-header">
            <dt>
              <Bi vi="Số, ký hiệu" en="number" />
            </dt>
            <dd>
              {d.header.code.number}/{d.header.code.notation}
            </dd>
            <dt>
              <Bi vi="Mã văn bản" en="DocumentId" />
            </dt>
            <dd className="mono">{d.documentId}</dd>
            <dt>
              <Bi vi="Trích yếu" en="subject" />
            </dt>
            <dd>{d.header.subject}</dd>
            <dt>
              <Bi vi="Loại" en="type" />
            </dt>
            <dd>
              {d.header.documentType.typeName} · {docTypeText(d.docType)}
            </dd>
            <dt>
              <Bi vi="Nơi gửi" en="from" />
            </dt>
            <dd>
              {d.header.from.organName} <span className="mono small-text">{d.header.from.organId}</span>
            </dd>
            <dt>
              <Bi vi="Nơi nhận" en="to" />
            </dt>
            <dd>{d.header.to.map((t) => t.organName).join('; ')}</dd>
            <dt>
              <Bi vi="Ban hành" en="promulgated" />
            </dt>
            <dd>
              {d.header.promulgation.place}, {d.header.promulgation.date}
            </dd>
            <dt>
              <Bi vi="Người ký" en="signer" />
            </dt>
            <dd>
              {[d.header.signer.competence, d.header.signer.position, d.header.signer.fullName]
                .filter(Boolean)
                .join(' · ')}
            </dd>
            <dt>
              <Bi vi="Chữ ký gói tin" en="package signature" />
            </dt>
            <dd data-testid="doc-verdict">
              <Verdict v={d.validation?.indication} />{' '}
              {d.validation?.signer ? <span className="small-text">{d.validation.signer}</span> : null}
            </dd>
            <dt>
              <Bi vi="Trạng thái" en="status" />
            </dt>
            <dd>{d.state.code ? statusText(d.state.code) : '—'}</dd>
          </dl>
          {d.header.content ? <p>{d.header.content}</p> : null}
          <h2>
            <Bi vi="Tệp đính kèm" en="Attachments" />
          </h2>
          <table className="table" data-testid="doc-attachments">
            <thead>
              <tr>
                <th>
                  <Bi vi="Tên" en="name" />
                </th>
                <th>
                  <Bi vi="Kích thước" en="size" />
                </th>
                <th>
                  <Bi vi="Chữ ký trong tệp" en="signatures in the file" />
                </th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {data.attachments.map((a) => (
                <tr key={a.contentId}>
                  <td>{a.attachmentName}</td>
                  <td className="nowrap">{a.size.toLocaleString('vi-VN')} B</td>
                  <td>
                    {a.report?.signatures?.length
                      ? a.report.signatures.map((s, i) => (
                          <div key={i}>
                            <Verdict v={s.indication} />{' '}
                            <span className="small-text">
                              {s.format} {s.signer?.commonName ?? ''}
                            </span>
                          </div>
                        ))
                      : (a.report?.skipped ??
                        a.report?.error ??
                        (a.contentType === 'application/pdf' ? tr('không có chữ ký', 'no signature') : '—'))}
                  </td>
                  <td>
                    <button
                      type="button"
                      onClick={() =>
                        void action.run(() =>
                          download(
                            `/api/v1/doc/documents/${encodeURIComponent(d.id)}/attachments/${encodeURIComponent(a.contentId)}`,
                            a.attachmentName,
                          ),
                        )
                      }
                    >
                      <Bi vi="Tải về" en="Download" />
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {d.direction === 'out' ? (
            <>
              <h2>
                <Bi vi="Nơi nhận và trạng thái" en="Recipients and their status" />
              </h2>
              <table className="table" data-testid="doc-recipients">
                <thead>
                  <tr>
                    <th>
                      <Bi vi="Cơ quan" en="agency" />
                    </th>
                    <th>
                      <Bi vi="Chuyển" en="delivery" />
                    </th>
                    <th>
                      <Bi vi="Trạng thái" en="status" />
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.recipients.map((r) => (
                    <tr key={r.organId} data-organ={r.organId}>
                      <td>{r.organName}</td>
                      <td className="small-text">
                        {r.delivery
                          ? `${r.delivery.state}${r.delivery.lastError ? ` — ${r.delivery.lastError}` : ''}`
                          : '—'}
                      </td>
                      <td>{r.status ? `${statusText(r.status)} · ${dateTime(r.statusAt)}` : '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          ) : null}
          {d.direction === 'in' && canSend ? (
            <div className="status-actions" data-testid="doc-actions">
              <h2>
                <Bi vi="Báo trạng thái cho nơi gửi" en="Report a status to the sender" />
              </h2>
              <label className="field grow">
                <span>
                  <Bi vi="Ghi chú" en="description" />
                </span>
                <input
                  name="description"
                  maxLength={500}
                  value={description}
                  onChange={(e) => setDescription(e.target.value)}
                />
              </label>
              {(NEXT[d.state.code ?? ''] ?? []).map((code) => (
                <button
                  key={code}
                  type="button"
                  disabled={action.busy}
                  onClick={() =>
                    void action
                      .run(() =>
                        api(`/api/v1/doc/documents/${encodeURIComponent(d.id)}/status`, {
                          method: 'POST',
                          body: { code, ...(description ? { description } : {}) },
                        }),
                      )
                      .then((ok) => ok && reload())
                  }
                >
                  {statusText(code)}
                </button>
              ))}
              {!d.ackedAt ? (
                <button
                  type="button"
                  disabled={action.busy}
                  onClick={() =>
                    void action
                      .run(() =>
                        api(`/api/v1/doc/documents/${encodeURIComponent(d.id)}/ack`, {
                          method: 'POST',
                          body: {},
                        }),
                      )
                      .then((ok) => ok && reload())
                  }
                >
                  <Bi vi="Đã xem, rời hộp đến" en="Acknowledge" />
                </button>
              ) : null}
            </div>
          ) : null}
          <ProblemBox error={action.error} onClose={action.clear} />
          {data.statuses.length ? (
            <>
              <h2>
                <Bi vi="Lịch sử trạng thái" en="Status history" />
              </h2>
              <ul data-testid="doc-statuses">
                {data.statuses.map((s) => (
                  <li key={s.id}>
                    {dateTime(s.createdAt)} · {s.organId} · {statusText(s.code)}
                    {s.description ? ` — ${s.description}` : ''}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </>
      ) : null}
    </section>
  );
}

/** Sending: recipients, the header's fields, files uploaded one by one (streamed), then one call. */
function Send() {
  const recipients = useLoad(() => api<{ id: string; name: string }[]>('/api/v1/doc/recipients'), []);
  const action = useAction();
  const [to, setTo] = useState<string[]>([]);
  const [form, setForm] = useState({
    number: '',
    notation: '',
    subject: '',
    typeName: 'Công văn',
    place: 'Hà Nội',
    signerName: '',
    position: '',
  });
  const [files, setFiles] = useState<File[]>([]);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm({ ...form, [k]: e.target.value });
  const submit = async () => {
    const token = session.token() ?? '';
    const attachments = [];
    for (const f of files) {
      const r = await fetch('/api/v1/doc/uploads', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
        body: f,
      });
      if (!r.ok) throw new ApiProblem(await r.json().catch(() => ({ status: r.status })));
      const up = (await r.json()) as { upload: string };
      attachments.push({
        name: f.name,
        contentType:
          f.type || (f.name.toLowerCase().endsWith('.pdf') ? 'application/pdf' : 'application/octet-stream'),
        upload: up.upload,
      });
    }
    const sent = await api<{ id: string }>('/api/v1/doc/documents', {
      method: 'POST',
      body: {
        to,
        code: { number: form.number, notation: form.notation },
        promulgation: { place: form.place },
        documentType: { type: 1, typeName: form.typeName },
        subject: form.subject,
        signer: { fullName: form.signerName, ...(form.position ? { position: form.position } : {}) },
        attachments,
      },
    });
    navigate(`/documents/${sent.id}`);
  };
  return (
    <form
      className="form"
      data-testid="doc-send"
      onSubmit={(e) => {
        e.preventDefault();
        void action.run(submit);
      }}
    >
      <ProblemBox error={recipients.error} />
      <fieldset>
        <legend>
          <Bi vi="Nơi nhận" en="recipients" />
        </legend>
        {(recipients.data ?? []).map((r) => (
          <label key={r.id} className="check">
            <input
              type="checkbox"
              name="to"
              value={r.id}
              checked={to.includes(r.id)}
              onChange={(e) => setTo(e.target.checked ? [...to, r.id] : to.filter((x) => x !== r.id))}
            />{' '}
            {r.name} <span className="mono small-text">{r.id}</span>
          </label>
        ))}
      </fieldset>
      <label className="field">
        <span>
          <Bi vi="Số" en="number" />
        </span>
        <input name="number" required maxLength={20} value={form.number} onChange={set('number')} />
      </label>
      <label className="field">
        <span>
          <Bi vi="Ký hiệu" en="notation" />
        </span>
        <input name="notation" required maxLength={50} value={form.notation} onChange={set('notation')} />
      </label>
      <label className="field">
        <span>
          <Bi vi="Loại văn bản" en="type" />
        </span>
        <input name="typeName" required maxLength={100} value={form.typeName} onChange={set('typeName')} />
      </label>
      <label className="field grow">
        <span>
          <Bi vi="Trích yếu" en="subject" />
        </span>
        <input name="subject" required maxLength={1000} value={form.subject} onChange={set('subject')} />
      </label>
      <label className="field">
        <span>
          <Bi vi="Nơi ban hành" en="place" />
        </span>
        <input name="place" required maxLength={100} value={form.place} onChange={set('place')} />
      </label>
      <label className="field">
        <span>
          <Bi vi="Người ký" en="signer" />
        </span>
        <input
          name="signerName"
          required
          maxLength={200}
          value={form.signerName}
          onChange={set('signerName')}
        />
      </label>
      <label className="field">
        <span>
          <Bi vi="Chức vụ" en="position" />
        </span>
        <input name="position" maxLength={200} value={form.position} onChange={set('position')} />
      </label>
      <label className="field grow">
        <span>
          <Bi vi="Tệp: văn bản đã ký số và phụ lục" en="files: the signed PDF and appendices" />
        </span>
        <input name="files" type="file" multiple onChange={(e) => setFiles([...(e.target.files ?? [])])} />
      </label>
      <button type="submit" disabled={action.busy || !to.length || !files.length}>
        {action.busy ? tr('Đang gửi…', 'sending') : tr('Ký gói tin và gửi', 'Sign and send')}
      </button>
      <ProblemBox error={action.error} onClose={action.clear} />
    </form>
  );
}
