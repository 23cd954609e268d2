import { lang, tr } from '../i18n';
/**
 * Signatures in the console: validating a signed file (a PDF, an XAdES-signed XML file, a CMS signature
 * with its detached content) into its report, green, amber or red by indication; and signing documents with
 * the key on the official's own token through `truc agent` (issue 20): the console finds the agent on the
 * official's computer, the official chooses a certificate, the documents and where the seal goes; the
 * platform prepares the data to be signed (`POST /api/v1/sign/prepare`), the agent shows what is signed and
 * asks the PIN (one approval for the batch), the platform completes the signatures at the level asked
 * (`/complete`), and each signed file is validated at once.
 *
 * The agent's address comes from the page (`<meta name="truc-agent">`, the server's `console.signingAgent`):
 * the console's content security policy lets the page talk to that address and no other.
 */
import { useEffect, useMemo, useState } from 'react';
import { ApiProblem, post } from '../api';
import { Bi, PageTitle, ProblemBox, useAction } from '../components';
import { dateTime } from '../format';
import { session } from '../session';
import { fromBase64, toBase64 } from '../bytes';

// --- the report, as /api/v1/validate answers it (src/sign/validate/report.ts) ---

interface CertificateSummary {
  subject: string;
  commonName?: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
}
interface TimestampReport {
  type: 'signature' | 'document' | 'archive' | 'content' | 'sig-and-refs' | 'refs-only';
  valid: boolean;
  genTime?: string;
  tsa?: string;
  problem?: string;
  /** why it is not valid, coded (issue 18); older servers give the problem alone */
  reason?: ReportNote;
  /** its notes, coded: the TSA's revocation status missing… */
  notes?: ReportNote[];
}
interface SignatureReport {
  index: number;
  format: string;
  level: string;
  indication: 'TOTAL-PASSED' | 'TOTAL-FAILED' | 'INDETERMINATE';
  subIndication?: string;
  message?: string;
  /** the reason coded (issue 18): the sub-indication, its text in both languages */
  reason?: ReportNote;
  signer?: CertificateSummary;
  claimedSigningTime?: string;
  bestSignatureTime?: string;
  timestamps?: TimestampReport[];
  embeddedEvidence?: { certificates: number; crls: number; ocspResponses: number };
  checks: {
    integrity: boolean | null;
    signatureValue: boolean | null;
    signingCertificateReference: 'ok' | 'mismatch' | 'absent' | null;
    certificateChain: boolean | null;
    certificateValidAtSigningTime: boolean | null;
  };
  certificatePath: string[];
  pdf?: { fieldName: string; coversWholeFile: boolean; changesAfter: string[]; laterSignatures: number };
  signedData?: {
    uri: string | null;
    digestMatches: boolean | null;
    covers?: string[];
    wholeDocument?: boolean;
    detached?: boolean;
  }[];
  warnings: string[];
  /** the warnings coded (issue 18), one for each, in the same order */
  notes?: ReportNote[];
}
/** A validation-report note: a stable code, its text in both languages, the values it names (src/sign/validate/notes.ts). */
export interface ReportNote {
  code: string;
  vi: string;
  en: string;
  params: Record<string, string>;
}
export interface ValidationReport {
  validationTime: string;
  document: { kind: 'pdf' | 'cms' | 'xml'; bytes: number; sha256: string };
  signatures: SignatureReport[];
  documentTimestamps?: TimestampReport[];
}

const INDICATION: Record<string, { vi: string; en: string; tone: string }> = {
  'TOTAL-PASSED': { vi: 'Hợp lệ', en: 'valid', tone: 'pass' },
  'TOTAL-FAILED': { vi: 'Không hợp lệ', en: 'invalid', tone: 'fail' },
  INDETERMINATE: { vi: 'Chưa xác định được', en: 'indeterminate', tone: 'doubt' },
};

const SUB_VI: Record<string, string> = {
  FORMAT_FAILURE: 'sai định dạng chữ ký',
  HASH_FAILURE: 'văn bản đã bị thay đổi sau khi ký',
  SIG_CRYPTO_FAILURE: 'giá trị chữ ký không khớp khoá của người ký',
  REVOKED: 'chứng thư đã bị thu hồi',
  EXPIRED: 'chứng thư đã hết hạn',
  NOT_YET_VALID: 'chứng thư chưa có hiệu lực',
  SIG_CONSTRAINTS_FAILURE: 'không đạt ràng buộc của chữ ký',
  CHAIN_CONSTRAINTS_FAILURE: 'chuỗi chứng thư không đạt ràng buộc',
  CERTIFICATE_CHAIN_GENERAL_FAILURE: 'chuỗi chứng thư không hợp lệ',
  CRYPTO_CONSTRAINTS_FAILURE: 'thuật toán không còn được chấp nhận',
  CRYPTO_CONSTRAINTS_FAILURE_NO_POE:
    'thuật toán không còn được chấp nhận, không có bằng chứng tồn tại trước đó',
  NO_SIGNING_CERTIFICATE_FOUND: 'không tìm thấy chứng thư của người ký',
  NO_CERTIFICATE_CHAIN_FOUND: 'không dựng được chuỗi đến CA tin cậy',
  REVOKED_NO_POE: 'chứng thư bị thu hồi, không có bằng chứng ký trước khi thu hồi',
  OUT_OF_BOUNDS_NO_POE: 'ngoài thời hạn chứng thư, không có bằng chứng tồn tại',
  TRY_LATER: 'chưa có thông tin thu hồi, hãy kiểm tra lại sau',
  SIGNED_DATA_NOT_FOUND: 'không tìm thấy dữ liệu được ký',
};

const FORMAT_VI: Record<string, string> = { pdf: 'PDF', cms: 'CMS', xml: 'XML' };

function Check({ v, label }: { v: boolean | string | null; label: { vi: string; en: string } }) {
  const ok = v === true || v === 'ok';
  const bad = v === false || v === 'mismatch';
  return (
    <li className={ok ? 'valid' : bad ? 'invalid' : 'muted'} data-check={label.en}>
      <span aria-hidden="true">{ok ? '✓' : bad ? '✗' : '–'}</span> <Bi vi={label.vi} en={label.en} />
      {v === 'absent' ? (
        <span className="small-text">
          {' '}
          <Bi vi="— không có" en="absent" />
        </span>
      ) : null}
      {v === null ? (
        <span className="small-text">
          {' '}
          <Bi vi="— chưa kiểm tra" en="not checked" />
        </span>
      ) : null}
    </li>
  );
}

const TS_VI: Record<string, string> = {
  signature: 'dấu thời gian chữ ký',
  document: 'dấu thời gian văn bản',
  archive: 'dấu thời gian lưu trữ',
  content: 'dấu thời gian nội dung',
  'sig-and-refs': 'dấu thời gian trên chữ ký và tham chiếu dữ liệu kiểm tra',
  'refs-only': 'dấu thời gian trên tham chiếu dữ liệu kiểm tra',
};

/** One signature of a report: verdict, signer, times, checks, evidence, what changed, warnings. */
function SignatureCard({ s }: { s: SignatureReport }) {
  const ind = INDICATION[s.indication] ?? { vi: s.indication, en: s.indication, tone: 'doubt' };
  return (
    <section
      className={`card sig-card sig-${ind.tone}`}
      data-testid="signature-report"
      data-indication={s.indication}
    >
      <div className="card-head">
        <h3>
          <Bi vi={`Chữ ký ${s.index + 1}`} en={`signature ${s.index + 1}`} /> · {s.format} {s.level}
        </h3>
        <span className={`badge verdict-${ind.tone}`}>
          <Bi vi={ind.vi} en={`${ind.en}, ${s.indication}`} />
        </span>
      </div>
      {s.subIndication ? (
        <p className="sig-why">
          {lang() === 'en' ? (
            <span className="mono">{s.subIndication}</span>
          ) : (
            <>
              {SUB_VI[s.subIndication] ?? s.subIndication}{' '}
              <span className="en mono">({s.subIndication})</span>
            </>
          )}
        </p>
      ) : null}
      {s.reason ? (
        <p className="small-text" data-code={s.reason.code}>
          <Bi vi={s.reason.vi} en={s.reason.en} />
        </p>
      ) : s.message ? (
        <p className="small-text">{s.message}</p>
      ) : null}
      <dl className="facts">
        <dt>
          <Bi vi="Người ký" en="signer" />
        </dt>
        <dd data-testid="signer">{s.signer ? (s.signer.commonName ?? s.signer.subject) : '—'}</dd>
        {s.signer ? (
          <>
            <dt>
              <Bi vi="Cơ quan cấp" en="issuer" />
            </dt>
            <dd className="small-text">{s.signer.issuer}</dd>
            <dt>
              <Bi vi="Số hiệu chứng thư" en="serial" />
            </dt>
            <dd className="mono small-text">{s.signer.serial}</dd>
            <dt>
              <Bi vi="Hiệu lực chứng thư" en="certificate validity" />
            </dt>
            <dd>
              {dateTime(s.signer.notBefore)} – {dateTime(s.signer.notAfter)}
            </dd>
          </>
        ) : null}
        <dt>
          <Bi vi="Thời điểm ký (người ký khai)" en="claimed signing time" />
        </dt>
        <dd>{dateTime(s.claimedSigningTime)}</dd>
        <dt>
          <Bi vi="Tồn tại muộn nhất lúc (dấu thời gian)" en="proven to exist at" />
        </dt>
        <dd>{dateTime(s.bestSignatureTime)}</dd>
        <dt>
          <Bi vi="Chuỗi chứng thư" en="certificate path" />
        </dt>
        <dd>
          {s.certificatePath.length} <Bi vi="chứng thư" en="certificates" />
        </dd>
        {s.embeddedEvidence ? (
          <>
            <dt>
              <Bi vi="Dữ liệu kiểm tra kèm theo" en="embedded validation data" />
            </dt>
            <dd>
              {s.embeddedEvidence.certificates} <Bi vi="chứng thư" en="certificates" />,{' '}
              {s.embeddedEvidence.crls} CRL, {s.embeddedEvidence.ocspResponses} OCSP
            </dd>
          </>
        ) : null}
      </dl>
      <ul className="checks">
        <Check v={s.checks.integrity} label={{ vi: 'Toàn vẹn dữ liệu được ký', en: 'integrity' }} />
        <Check v={s.checks.signatureValue} label={{ vi: 'Giá trị chữ ký', en: 'signature value' }} />
        <Check
          v={s.checks.signingCertificateReference}
          label={{ vi: 'Gắn với chứng thư người ký', en: 'signing certificate reference' }}
        />
        <Check
          v={s.checks.certificateChain}
          label={{ vi: 'Chuỗi đến CA tin cậy', en: 'chain to a trusted CA' }}
        />
        <Check
          v={s.checks.certificateValidAtSigningTime}
          label={{ vi: 'Chứng thư còn hiệu lực lúc ký', en: 'certificate valid at signing time' }}
        />
      </ul>
      {s.timestamps?.length ? (
        <ul className="plain small-text">
          {s.timestamps.map((t, i) => (
            <li key={i} className={t.valid ? '' : 'invalid'}>
              <Bi vi={TS_VI[t.type] ?? t.type} en={`${t.type} time-stamp`} />: {dateTime(t.genTime)}{' '}
              {t.tsa ? `· ${t.tsa}` : ''}{' '}
              {t.valid ? null : t.reason ? (
                <span data-code={t.reason.code}>
                  — <Bi vi={t.reason.vi} en={t.reason.en} />
                </span>
              ) : (
                `— ${t.problem ?? tr('không hợp lệ', 'invalid')}`
              )}
              {t.notes?.map((n, j) => (
                <span key={j} data-code={n.code} title={n.code}>
                  {' '}
                  ⚠ <Bi vi={n.vi} en={n.en} />
                </span>
              ))}
            </li>
          ))}
        </ul>
      ) : null}
      {s.pdf?.changesAfter.length ? (
        <div className="notice" data-testid="changes-after">
          <strong>
            <Bi vi="Thay đổi sau khi ký" en="changes after signing" />
          </strong>
          <ul>
            {s.pdf.changesAfter.map((c, i) => (
              <li key={i}>{c}</li>
            ))}
          </ul>
        </div>
      ) : null}
      {s.signedData?.length ? (
        <div className="small-text">
          <Bi vi="Chữ ký này ký" en="this signature signs" />:{' '}
          {s.signedData.map((r, i) => (
            <span key={i} className={`tag ${r.digestMatches === false ? 'invalid' : ''}`}>
              {r.wholeDocument
                ? tr('toàn văn bản', 'whole document')
                : r.detached
                  ? `${tr('tệp rời', 'detached')} ${r.uri ?? ''}`
                  : (r.covers ?? [r.uri ?? '']).join(', ')}
            </span>
          ))}
        </div>
      ) : null}
      {s.notes?.length ? (
        <ul className="warnings small-text">
          {s.notes.map((n, i) => (
            <li key={i} data-code={n.code} title={n.code}>
              ⚠ <Bi vi={n.vi} en={n.en} />
            </li>
          ))}
        </ul>
      ) : s.warnings.length ? (
        <ul className="warnings small-text">
          {s.warnings.map((w, i) => (
            <li key={i}>⚠ {w}</li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

export function ReportView({ report }: { report: ValidationReport }) {
  return (
    <div data-testid="validation-report">
      <p className="small-text">
        {FORMAT_VI[report.document.kind] ?? report.document.kind} ·{' '}
        {report.document.bytes.toLocaleString('vi-VN')} byte · SHA-256{' '}
        <span className="mono">{report.document.sha256.slice(0, 16)}…</span> ·{' '}
        <Bi vi="kiểm tra lúc" en="validated at" /> {dateTime(report.validationTime)}
      </p>
      {report.signatures.length ? (
        report.signatures.map((s) => <SignatureCard key={s.index} s={s} />)
      ) : (
        <div className="notice sig-fail" data-testid="no-signature">
          <Bi vi="Tệp không có chữ ký số nào" en="the file carries no signature" />
        </div>
      )}
      {report.documentTimestamps?.length ? (
        <p className="small-text">
          <Bi vi="Dấu thời gian văn bản" en="document time-stamps" />:{' '}
          {report.documentTimestamps.map((t) => `${dateTime(t.genTime)}${t.valid ? '' : ' ✗'}`).join(', ')}
        </p>
      ) : null}
    </div>
  );
}

// --- files in the browser ---

const fileBase64 = async (f: File) => toBase64(new Uint8Array(await f.arrayBuffer()));

/** a distinguished name the agent gives one RDN a line, on one line */
const oneLine = (dn: string) => dn.split(/\r?\n/).filter(Boolean).join(', ');

const formatOf = (name: string) =>
  /\.pdf$/i.test(name) ? 'pades' : /\.xml$/i.test(name) ? 'xades' : 'cades';

// --- validation page ---

export function Validate() {
  const action = useAction();
  const [file, setFile] = useState<File | null>(null);
  const [content, setContent] = useState<File | null>(null);
  const [report, setReport] = useState<ValidationReport | null>(null);
  const run = async () => {
    if (!file) return;
    setReport(null);
    setReport(
      await post<ValidationReport>('/api/v1/validate', {
        file: await fileBase64(file),
        ...(content ? { content: await fileBase64(content) } : {}),
      }),
    );
  };
  return (
    <>
      <PageTitle vi="Kiểm tra chữ ký số" en="Validate a signature" />
      <form
        className="form"
        data-testid="validate-form"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run(run);
        }}
      >
        <label className="field grow">
          <span>
            <Bi
              vi="Tệp đã ký: PDF, XML, hoặc chữ ký CMS (.p7s)"
              en="the signed file: PDF, XML or a CMS signature (.p7s)"
            />
          </span>
          <input name="signed" type="file" required onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </label>
        <label className="field grow">
          <span>
            <Bi
              vi="Nội dung được ký, khi chữ ký tách rời"
              en="the signed content, for a detached signature"
            />
          </span>
          <input name="content" type="file" onChange={(e) => setContent(e.target.files?.[0] ?? null)} />
        </label>
        <button type="submit" disabled={action.busy || !file}>
          {action.busy ? tr('Đang kiểm tra…', 'validating') : tr('Kiểm tra', 'Validate')}
        </button>
      </form>
      <ProblemBox error={action.error} onClose={action.clear} />
      {report ? <ReportView report={report} /> : null}
    </>
  );
}

// --- signing with the official's token through truc agent ---

interface AgentCertificate {
  id: string;
  label: string;
  certificate: string;
  subject: string;
  issuer: string;
  notAfter: string;
}
interface PreparedItem {
  handle: string;
  title: string;
  dataToBeSigned: string;
  scheme: string;
}
interface CompletedItem {
  handle: string;
  title?: string;
  type?: string;
  file?: string;
  sha256?: string;
  error?: { code: string; message: string };
}
interface Outcome {
  title: string;
  name: string;
  url?: string;
  report?: ValidationReport;
  error?: string;
  /** prepared, not signed (the token went away): "sign the rest" signs it */
  unsigned?: boolean;
}

/** The agent's address, as the server put it in the page (the only one the page's policy lets it reach). */
export function agentAddress(): string {
  return (
    document.querySelector<HTMLMetaElement>('meta[name="truc-agent"]')?.content || 'http://127.0.0.1:8477'
  );
}

/** how often the token's PIN state is asked again while the agent is found */
const TOKEN_POLL_MS = 3000;

/** The token's PIN state as the agent reads it from the token's flags (GET /v1/token). */
interface TokenState {
  label: string;
  pin: 'ok' | 'count_low' | 'final_try' | 'locked';
  warning?: string;
}

/** What the agent answers when a batch stopped part-way: a signature for each item signed, null for the rest. */
interface PartialBatch {
  signed?: number;
  signatures?: (string | null)[];
  errors?: ({ code: string; message: string } | null)[];
  pin?: TokenState['pin'];
}

class AgentProblem extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly body: PartialBatch = {},
  ) {
    super(message);
  }
}

async function toAgent<T>(path: string, body?: unknown): Promise<T> {
  let r: Response;
  try {
    r = await fetch(agentAddress() + path, {
      method: body ? 'POST' : 'GET',
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new AgentProblem(
      'agent_unreachable',
      tr(
        `Không liên lạc được bộ ký số tại ${agentAddress()}: hãy cắm thiết bị ký số và chạy "truc agent --origin ${location.origin}" trên máy này`,
        `The signing agent does not answer at ${agentAddress()}: plug in the token and run "truc agent --origin ${location.origin}" on this computer`,
      ),
    );
  }
  const j = (await r.json().catch(() => ({}))) as { code?: string; message?: string } & PartialBatch;
  if (!r.ok) throw new AgentProblem(j.code ?? `http_${r.status}`, j.message ?? `HTTP ${r.status}`, j);
  return j as T;
}

const SEAL_W = 210;
const SEAL_H = 70;
/** Where the seal goes on an A4 page (595 × 842 points), in PDF coordinates (origin bottom-left). */
const PLACES: Record<string, { vi: string; en: string; rect: [number, number, number, number] }> = {
  'bottom-right': {
    vi: 'Góc dưới bên phải',
    en: 'bottom right',
    rect: [595 - 40 - SEAL_W, 60, 595 - 40, 60 + SEAL_H],
  },
  'bottom-left': { vi: 'Góc dưới bên trái', en: 'bottom left', rect: [40, 60, 40 + SEAL_W, 60 + SEAL_H] },
  'top-right': {
    vi: 'Góc trên bên phải',
    en: 'top right',
    rect: [595 - 40 - SEAL_W, 842 - 60 - SEAL_H, 595 - 40, 842 - 60],
  },
};

function SealPreview({ rect }: { rect: [number, number, number, number] }) {
  const [x1, y1, x2, y2] = rect;
  return (
    <svg
      className="seal-preview"
      viewBox="0 0 595 842"
      role="img"
      aria-label={`${tr('Vị trí chữ ký trên trang', 'seal position')}: ${rect.join(', ')}`}
      data-testid="seal-preview"
    >
      <rect x="0" y="0" width="595" height="842" fill="#fff" stroke="#98a2b3" strokeWidth="4" />
      {[120, 160, 200, 240, 280, 320, 360, 400, 440].map((y) => (
        <line key={y} x1="60" x2="535" y1={y} y2={y} stroke="#e4e7ec" strokeWidth="10" />
      ))}
      <rect
        x={x1}
        y={842 - y2}
        width={x2 - x1}
        height={y2 - y1}
        fill="#fee4e2"
        stroke="#b42318"
        strokeWidth="4"
      />
      <text x={x1 + 10} y={842 - y2 + 40} fontSize="28" fill="#b42318">
        {lang() === 'en' ? 'Digital signature' : 'Chữ ký số'}
      </text>
    </svg>
  );
}

export function SignWithToken() {
  const find = useAction();
  const action = useAction();
  const [certs, setCerts] = useState<AgentCertificate[] | null>(null);
  const [certId, setCertId] = useState('');
  const [files, setFiles] = useState<File[]>([]);
  const [level, setLevel] = useState('B-LT');
  const [reason, setReason] = useState('');
  const [place, setPlace] = useState('');
  const [visible, setVisible] = useState(true);
  const [page, setPage] = useState(1);
  const [where, setWhere] = useState('bottom-right');
  const [step, setStep] = useState('');
  const [outcomes, setOutcomes] = useState<Outcome[]>([]);
  // the token's PIN state (count of wrong PINs, final try, locked), when the agent tells it
  const [tokenState, setTokenState] = useState<TokenState | null>(null);
  // documents prepared but left unsigned when the token went away: signed by "sign the rest" once it is back
  const [remaining, setRemaining] = useState<{
    cert: AgentCertificate;
    items: PreparedItem[];
    at: number[];
    sources: File[];
  } | null>(null);
  // the key: on the official's own token (through truc agent), or held by the platform for the official
  const [source, setSource] = useState<'token' | 'platform'>('token');
  const pdfs = files.filter((f) => formatOf(f.name) === 'pades');
  const preview = useMemo(() => (files[0] ? URL.createObjectURL(files[0]) : null), [files]);
  useEffect(() => () => void (preview && URL.revokeObjectURL(preview)), [preview]);
  useEffect(() => () => outcomes.forEach((o) => o.url && URL.revokeObjectURL(o.url)), [outcomes]);

  /** the PIN state from the agent; an agent too old to tell it (404) leaves the page as it was */
  const readTokenState = async () => {
    try {
      setTokenState(await toAgent<TokenState>('/v1/token'));
    } catch {
      setTokenState(null);
    }
  };

  // a locked PIN stops signing with the token until it is unblocked: the state is asked again every few
  // seconds while the agent is found, so that the Sign button comes back on its own once the PIN is reset
  const pinLocked = source === 'token' && tokenState?.pin === 'locked';
  useEffect(() => {
    if (!certs || source !== 'token' || action.busy) return;
    const t = setInterval(() => void readTokenState(), TOKEN_POLL_MS);
    return () => clearInterval(t);
  }, [certs, source, action.busy]);

  const findAgent = async () => {
    const list = await toAgent<AgentCertificate[]>('/v1/certificates');
    setCerts(list);
    const usable = list.filter((c) => new Date(c.notAfter).getTime() > Date.now());
    if (usable.length === 1) setCertId(usable[0]!.id);
    await readTokenState();
  };

  /** a signed file offered for download, with its report made at once */
  const outcome = async (
    source: File,
    bytes: Uint8Array<ArrayBuffer>,
    type: string | undefined,
  ): Promise<Outcome> => {
    const format = formatOf(source.name);
    const name = format === 'cades' ? `${source.name}.p7s` : source.name.replace(/(\.[a-z]+)$/i, '-signed$1');
    let report: ValidationReport | undefined;
    let error: string | undefined;
    try {
      report = await post<ValidationReport>('/api/v1/validate', {
        file: toBase64(bytes),
        ...(format === 'cades' ? { content: await fileBase64(source) } : {}),
      });
    } catch (e) {
      error = (e as Error).message;
    }
    return {
      title: source.name,
      name,
      url: URL.createObjectURL(new Blob([bytes], { type: type ?? 'application/octet-stream' })),
      ...(report ? { report } : {}),
      ...(error ? { error } : {}),
    };
  };

  /** with the key the platform holds for the official (POST /api/v1/sign), one document after another */
  const signOnPlatform = async () => {
    setOutcomes([]);
    const out: Outcome[] = [];
    try {
      for (const f of files) {
        setStep(tr(`Đang ký ${f.name}…`, `signing ${f.name}`));
        const pdf = formatOf(f.name) === 'pades';
        const [x1, y1, x2, y2] = PLACES[where]!.rect;
        const q = new URLSearchParams({
          level,
          ...(pdf && reason ? { reason } : {}),
          ...(pdf && place ? { location: place } : {}),
          ...(pdf && visible ? { page: String(page), rect: `${x1},${y1},${x2},${y2}` } : {}),
        });
        const r = await fetch(`/api/v1/sign?${q}`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${session.token() ?? ''}`,
            'content-type': pdf ? 'application/pdf' : 'application/octet-stream',
          },
          body: f,
        });
        if (!r.ok)
          throw new ApiProblem({ status: r.status, ...((await r.json().catch(() => ({}))) as object) });
        out.push(
          await outcome(f, new Uint8Array(await r.arrayBuffer()), r.headers.get('content-type') ?? undefined),
        );
      }
      setOutcomes(out);
    } finally {
      setStep('');
    }
  };

  const sign = async () => {
    if (source === 'platform') return signOnPlatform();
    const cert = certs?.find((c) => c.id === certId);
    if (!cert || !files.length) return;
    setOutcomes([]);
    setRemaining(null);
    setStep(tr('Đang chuẩn bị dữ liệu cần ký…', 'preparing the data to be signed'));
    const items = [];
    for (const f of files) {
      const format = formatOf(f.name);
      items.push({
        file: await fileBase64(f),
        title: f.name,
        format,
        level,
        // a reason, a place and a seal are what a PDF signature carries
        ...(format === 'pades' && reason ? { reason } : {}),
        ...(format === 'pades' && place ? { location: place } : {}),
        ...(format === 'pades' && visible ? { page, visible: { rect: PLACES[where]!.rect } } : {}),
      });
    }
    try {
      const prepared = await post<{ items: PreparedItem[] }>('/api/v1/sign/prepare', {
        certificate: cert.certificate,
        items,
      });
      await signPrepared(
        cert,
        prepared.items,
        prepared.items.map((_, i) => i),
        [],
        files,
      );
    } finally {
      setStep('');
    }
  };

  /**
   * The agent signs the prepared items (one approval), the server completes what was signed. A token
   * pulled out part-way leaves the documents signed before complete and validated; the rest are shown
   * unsigned and kept for "sign the rest" — their handles are unused on the server.
   */
  const signPrepared = async (
    cert: AgentCertificate,
    items: PreparedItem[],
    at: number[],
    before: Outcome[],
    sources: File[],
  ) => {
    setStep(tr('Hãy xác nhận và nhập mã PIN ở bộ ký số…', 'confirm and enter the PIN at the signing agent'));
    let signatures: (string | null)[];
    let stopped: AgentProblem | undefined;
    try {
      signatures = (
        await toAgent<{ signatures: string[] }>('/v1/sign', {
          certificateId: cert.id,
          scheme: items[0]!.scheme,
          items: items.map((p) => ({ dataToBeSigned: p.dataToBeSigned, title: p.title })),
        })
      ).signatures;
    } catch (e) {
      // a wrong or locked PIN changes what the token says of its PIN: shown beside the agent
      if (e instanceof AgentProblem && e.body.pin) void readTokenState();
      if (!(e instanceof AgentProblem) || !Array.isArray(e.body.signatures)) throw e;
      stopped = e;
      signatures = e.body.signatures;
    }
    const signed = items.flatMap((p, i) => (signatures[i] ? [{ p, i, signature: signatures[i] }] : []));
    const out = [...before];
    if (signed.length) {
      setStep(tr('Đang hoàn tất chữ ký…', 'completing the signatures'));
      const done = await post<{ items: CompletedItem[] }>('/api/v1/sign/complete', {
        items: signed.map(({ p, signature }) => ({ handle: p.handle, signature })),
      });
      setStep(tr('Đang kiểm tra văn bản đã ký…', 'validating what was signed'));
      for (const [k, d] of done.items.entries()) {
        const where = at[signed[k]!.i]!;
        const source = sources[where]!;
        out[where] =
          d.error || !d.file
            ? {
                title: d.title ?? source.name,
                name: source.name,
                error: d.error?.message ?? tr('không hoàn tất', 'not completed'),
              }
            : await outcome(source, fromBase64(d.file), d.type);
      }
    }
    const left = items.flatMap((p, i) => (signatures[i] ? [] : [{ p, i }]));
    for (const { p, i } of left) {
      const where = at[i]!;
      out[where] = {
        title: sources[where]?.name ?? p.title,
        name: sources[where]?.name ?? p.title,
        error: stopped?.body.errors?.[i]?.message ?? stopped?.message ?? tr('chưa ký', 'not signed'),
        unsigned: true,
      };
    }
    setOutcomes(out);
    setRemaining(
      left.length ? { cert, items: left.map((l) => l.p), at: left.map((l) => at[l.i]!), sources } : null,
    );
    if (stopped) throw stopped;
  };

  /** the documents left unsigned, once the token is back: a new approval at the agent */
  const signRest = async () => {
    if (!remaining) return;
    try {
      await signPrepared(remaining.cert, remaining.items, remaining.at, outcomes, remaining.sources);
    } finally {
      setStep('');
    }
  };

  const cert = certs?.find((c) => c.id === certId);
  return (
    <>
      <PageTitle vi="Ký số văn bản" en="Sign documents" />
      <p className="small-text">
        <Bi
          vi="Khoá ký nằm trên thiết bị ký số (USB token) của bạn và không rời khỏi đó: máy chủ chuẩn bị dữ liệu cần ký, bộ ký số truc agent trên máy này hiển thị nội dung và hỏi mã PIN, rồi máy chủ hoàn tất chữ ký."
          en="The key stays on your token: the server prepares, the agent (truc agent) on this computer shows what is signed and asks the PIN, the server completes."
        />
      </p>

      <fieldset className="card" data-testid="key-source">
        <legend>
          <Bi vi="Khoá ký" en="signing key" />
        </legend>
        <label className="check">
          <input
            type="radio"
            name="source"
            value="token"
            checked={source === 'token'}
            onChange={() => setSource('token')}
          />{' '}
          <Bi
            vi="Trên thiết bị ký số của tôi (USB token), qua bộ ký số"
            en="on my token, through the signing agent"
          />
        </label>
        <label className="check">
          <input
            type="radio"
            name="source"
            value="platform"
            checked={source === 'platform'}
            onChange={() => setSource('platform')}
          />{' '}
          <Bi vi="Khoá nền tảng giữ cho tôi" en="the key the platform holds for me" />
        </label>
      </fieldset>

      {source === 'token' ? (
        <section className="card" data-testid="agent">
          <div className="card-head">
            <h2>
              1. <Bi vi="Bộ ký số" en="signing agent" />
            </h2>
            <span className="mono small-text">{agentAddress()}</span>
            <button
              type="button"
              className="secondary small"
              disabled={find.busy}
              onClick={() => void find.run(findAgent)}
            >
              {certs ? tr('Tìm lại', 'find again') : tr('Tìm bộ ký số', 'find the agent')}
            </button>
          </div>
          {find.error ? (
            <div className="problem" role="alert" data-code={(find.error as AgentProblem).code}>
              <div className="problem-detail">{(find.error as Error).message}</div>
            </div>
          ) : null}
          {tokenState && tokenState.pin !== 'ok' ? (
            <div
              className={tokenState.pin === 'count_low' ? 'notice' : 'problem'}
              role="alert"
              data-testid="pin-state"
              data-pin={tokenState.pin}
            >
              <strong>
                {tokenState.pin === 'locked'
                  ? tr('Mã PIN đã bị khoá', 'PIN locked')
                  : tokenState.pin === 'final_try'
                    ? tr('Lần nhập PIN cuối cùng', 'final PIN try')
                    : tr('Đã có lần nhập PIN sai', 'a wrong PIN was entered')}
              </strong>{' '}
              {tokenState.warning}
            </div>
          ) : null}
          {certs ? (
            certs.length ? (
              <fieldset>
                <legend>
                  <Bi vi="Chọn chứng thư ký" en="choose the certificate" />
                </legend>
                {certs.map((c) => {
                  const expired = new Date(c.notAfter).getTime() <= Date.now();
                  return (
                    <label key={c.id} className={`check ${expired ? 'muted' : ''}`}>
                      <input
                        type="radio"
                        name="certificate"
                        value={c.id}
                        disabled={expired}
                        checked={certId === c.id}
                        onChange={() => setCertId(c.id)}
                      />{' '}
                      <strong>{c.label}</strong> <span className="small-text">{oneLine(c.subject)}</span>
                      <span className="small-text">
                        {' '}
                        · {oneLine(c.issuer)} · <Bi vi="hết hạn" en="expires" /> {dateTime(c.notAfter)}
                        {expired ? tr('— đã hết hạn', 'expired') : ''}
                      </span>
                    </label>
                  );
                })}
              </fieldset>
            ) : (
              <p className="empty">
                <Bi vi="Thiết bị ký số không có chứng thư nào" en="no certificate on the token" />
              </p>
            )
          ) : null}
        </section>
      ) : null}

      <form
        className="card form"
        data-testid="sign-form"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run(sign);
        }}
      >
        <h2>
          2. <Bi vi="Văn bản và tham số ký" en="documents and parameters" />
        </h2>
        <label className="field grow">
          <span>
            <Bi
              vi="Văn bản cần ký: PDF (PAdES), XML (XAdES), tệp khác (CAdES tách rời) — chọn nhiều tệp để ký một lần"
              en="documents: PDF (PAdES), XML (XAdES), other files (detached CAdES); several are signed under one approval"
            />
          </span>
          <input
            name="documents"
            type="file"
            multiple
            onChange={(e) => setFiles([...(e.target.files ?? [])])}
          />
        </label>
        <label className="field">
          <span>
            <Bi vi="Mức chữ ký" en="level" />
          </span>
          <select name="level" value={level} onChange={(e) => setLevel(e.target.value)}>
            <option value="B-B">{tr('B-B — cơ bản', 'B-B — basic')}</option>
            <option value="B-T">{tr('B-T — có dấu thời gian', 'B-T — time-stamped')}</option>
            <option value="B-LT">{tr('B-LT — kèm dữ liệu kiểm tra', 'B-LT — long-term')}</option>
            <option value="B-LTA">{tr('B-LTA — lưu trữ dài hạn', 'B-LTA — archival')}</option>
          </select>
        </label>
        <label className="field">
          <span>
            <Bi vi="Lý do ký, với PDF" en="reason, for PDFs" />
          </span>
          <input name="reason" maxLength={200} value={reason} onChange={(e) => setReason(e.target.value)} />
        </label>
        <label className="field">
          <span>
            <Bi vi="Nơi ký, với PDF" en="location, for PDFs" />
          </span>
          <input name="location" maxLength={200} value={place} onChange={(e) => setPlace(e.target.value)} />
        </label>
        {pdfs.length ? (
          <fieldset className="seal">
            <legend>
              <Bi vi="Chữ ký hiển thị trên văn bản PDF" en="visible seal on the PDFs" />
            </legend>
            <label className="check">
              <input
                type="checkbox"
                name="visible"
                checked={visible}
                onChange={(e) => setVisible(e.target.checked)}
              />{' '}
              <Bi vi="Đặt hình chữ ký lên trang" en="place a visible seal" />
            </label>
            {visible ? (
              <div className="seal-place">
                <div>
                  <label className="field">
                    <span>Trang (page)</span>
                    <input
                      name="page"
                      type="number"
                      min={1}
                      value={page}
                      onChange={(e) => setPage(Math.max(1, Number(e.target.value) || 1))}
                    />
                  </label>
                  <label className="field">
                    <span>
                      <Bi vi="Vị trí" en="position" />
                    </span>
                    <select name="where" value={where} onChange={(e) => setWhere(e.target.value)}>
                      {Object.entries(PLACES).map(([k, p]) => (
                        <option key={k} value={k}>
                          {p.vi} ({p.en})
                        </option>
                      ))}
                    </select>
                  </label>
                  <p className="small-text">
                    <Bi vi="Vị trí tính cho trang A4 đứng" en="positions are for an A4 portrait page" />
                  </p>
                  {preview && formatOf(files[0]!.name) === 'pades' ? (
                    <a href={preview} target="_blank" rel="noreferrer" data-testid="open-document">
                      <Bi vi="Mở văn bản" en="open the document" />
                    </a>
                  ) : null}
                </div>
                <SealPreview rect={PLACES[where]!.rect} />
              </div>
            ) : null}
          </fieldset>
        ) : null}
        {cert && files.length ? (
          <p className="small-text" data-testid="sign-summary">
            <Bi
              vi={`Ký ${files.length} văn bản bằng chứng thư của ${cert.label}`}
              en={`sign ${files.length} document(s) with the certificate of ${cert.label}`}
            />
            : {files.map((f) => f.name).join(', ')}
          </p>
        ) : null}
        <button
          type="submit"
          disabled={action.busy || (source === 'token' && !cert) || !files.length || pinLocked}
          aria-describedby={pinLocked ? 'sign-blocked' : undefined}
        >
          {action.busy ? tr('Đang ký…', 'signing') : tr('Ký số', 'Sign')}
        </button>
        {pinLocked ? (
          <p className="problem" id="sign-blocked" data-testid="sign-blocked" role="status">
            <Bi
              vi="Chưa ký được: mã PIN của thiết bị ký số đã bị khoá. Nhờ tổ chức cung cấp dịch vụ chứng thực mở khoá (đặt lại PIN); nút Ký số sẽ dùng được lại ngay khi thiết bị báo đã mở khoá."
              en="Signing is blocked: the token's PIN is locked. Ask the certification service provider to unblock it (reset the PIN); the Sign button comes back as soon as the token says it is unblocked."
            />
          </p>
        ) : null}
        {step ? (
          <p className="notice" role="status" data-testid="sign-step">
            {step}
          </p>
        ) : null}
      </form>
      {action.error instanceof ApiProblem || !action.error ? (
        <ProblemBox error={action.error} onClose={action.clear} />
      ) : (
        <div
          className="problem"
          role="alert"
          data-code={(action.error as AgentProblem).code}
          data-testid="agent-refused"
        >
          <div className="problem-detail">{(action.error as Error).message}</div>
        </div>
      )}

      {remaining ? (
        <div className="card" data-testid="sign-rest">
          <p>
            <Bi
              vi={`${remaining.items.length} văn bản chưa được ký. Cắm lại thiết bị ký số rồi ký tiếp; bộ ký số sẽ hỏi xác nhận và mã PIN lần nữa.`}
              en={`${remaining.items.length} document(s) not signed yet. Plug the token back in and sign them (the agent asks for approval and the PIN again).`}
            />
          </p>
          <button type="button" disabled={action.busy || pinLocked} onClick={() => void action.run(signRest)}>
            {tr(
              `Ký tiếp ${remaining.items.length} văn bản còn lại`,
              `sign the remaining ${remaining.items.length}`,
            )}
          </button>
        </div>
      ) : null}
      {outcomes.length ? (
        <section data-testid="signed">
          <h2>
            3. <Bi vi="Văn bản đã ký" en="signed documents" />
          </h2>
          {outcomes.map((o, i) => (
            <div
              key={i}
              className="card"
              data-testid="signed-item"
              data-state={o.unsigned ? 'unsigned' : o.url ? 'signed' : 'failed'}
            >
              <div className="card-head">
                <h3>{o.title}</h3>
                {o.url ? (
                  <a href={o.url} download={o.name} data-testid="download">
                    <Bi vi="Tải về" en="download" /> {o.name}
                  </a>
                ) : null}
              </div>
              {o.error ? <p className="invalid">{o.error}</p> : null}
              {o.report ? <ReportView report={o.report} /> : null}
            </div>
          ))}
        </section>
      ) : null}
    </>
  );
}

/** `/sign`: the validation form for everyone who may validate, signing for signers. */
export function Signatures() {
  return session.can('sign.sign') ? (
    <>
      <SignWithToken />
      <hr />
      <Validate />
    </>
  ) : (
    <Validate />
  );
}
