/**
 * `truc doc …`: the document desk for clerks, as a client of the desk's API (`/api/v1/doc`) — the desk
 * runs in the platform (or the agency's own process) with the agency's signing key; the CLI holds none.
 * The API's address is --url (or TRUC_URL, default the configured public URL) and the clerk's token
 * --token (or TRUC_TOKEN). Files are uploaded streamed, then sent by their upload ids.
 *
 * It reports as the rest of the CLI does (./output.ts): a refusal is one line on stderr, Vietnamese first
 * with English beside and the error's code (the server's own, kept as it came), and the exit code by kind
 * (2 usage, 3 bad input, 4 not found, 5 conflict, 1 anything else). What can be checked here — options,
 * files, recipients — is checked before anything is uploaded, so a mistake leaves nothing at the desk.
 */
import { randomUUID, createHash } from 'node:crypto';
import { accessSync, constants, createReadStream, createWriteStream, existsSync, linkSync, mkdirSync, renameSync, rmSync, statSync, type Stats } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { Config } from '../config.js';
import { TrucError, isTrucError, type ErrorCode } from '../errors.js';
import { LEVELS } from '../vault/labels/levels.js';
import { exitCodeFor, readInput, table } from './output.js';

export interface DocCliContext {
  out(v: unknown, text: () => string): void;
  config(): Config;
}

const TYPES: Record<string, string> = { '.pdf': 'application/pdf', '.xml': 'application/xml', '.txt': 'text/plain', '.doc': 'application/msword', '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' };

/** BussinessDocType as the inbox shows it; a type this client does not know is shown by its number, never blank. */
const KINDS: Record<number, string> = { 0: 'mới / new', 1: 'thu hồi / recall', 2: 'cập nhật / update', 3: 'thay thế / replace' };

/** A mistake in how the command was called (no token, an address that is not one): exit 2, as commander's own. */
class UsageError extends Error {}

/**
 * A whole number from `lo` to `hi` for an option (the ranges of the edXML rules in exchange/edoc/package.ts
 * and of the API's `limit`), or commander's usage error naming the option — before any file is uploaded.
 */
function whole(option: string, lo: number, hi: number, vi = '', en = ''): (v: string) => number {
  return (v) => {
    const s = v.trim();
    if (!/^\d{1,7}$/.test(s) || Number(s) < lo || Number(s) > hi)
      throw new InvalidArgumentError(`${option} phải là số nguyên từ ${lo} đến ${hi}${vi} / ${option} must be a whole number from ${lo} to ${hi}${en}`);
    return Number(s);
  };
}

function level(v: string): string {
  if (!(LEVELS as readonly string[]).includes(v)) throw new InvalidArgumentError(`--classification phải là một trong ${LEVELS.join(', ')} / --classification must be one of ${LEVELS.join(', ')}`);
  return v;
}

/** A date option (yyyy-MM-dd, a real day): checked here so the desk is not given what it refuses after the upload. */
function checkDay(option: string, v: string | undefined): void {
  if (v === undefined) return;
  const ok = /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`)) && new Date(`${v}T00:00:00Z`).toISOString().slice(0, 10) === v;
  if (!ok) throw new TrucError('bad_request', `${option} "${v.slice(0, 40)}": không phải ngày dạng yyyy-MM-dd (năm-tháng-ngày, ví dụ 2026-12-02) / not a date yyyy-MM-dd (year-month-day, e.g. 2026-12-02)`, { field: option });
}

/**
 * A file to send: a regular file, readable, not empty — or bad input naming it (exit 3). The missing, the
 * unreadable and the folder are worded by readInput as for every other command (it is called only to word
 * the refusal: a file that passes is streamed later, never read whole here).
 */
function checkFile(f: string): Stats {
  let st: Stats | undefined;
  try {
    st = statSync(f);
    if (st.isFile()) accessSync(f, constants.R_OK);
  } catch {
    st = undefined;
  }
  if (!st || st.isDirectory()) readInput(f, 'tệp');
  if (!st?.isFile()) throw new TrucError('bad_request', `tệp ${f}: không phải tệp thường / ${f}: not a regular file`, { file: f });
  if (st.size === 0) throw new TrucError('bad_request', `tệp ${f} rỗng (0 byte): không gửi tệp trống / ${f} is empty (0 bytes): an empty file is not sent`, { file: f });
  return st;
}

/** A file's name as it travels: composed Unicode (NFC), as Vietnamese text is compared and shown everywhere else. */
const nameOf = (f: string) => basename(f).normalize('NFC');

/** Why a connection failed, by the code Node gives (on fetch's `cause`), in both languages. */
const NET: Record<string, [string, string]> = {
  ECONNREFUSED: ['không có dịch vụ nào nghe ở địa chỉ này (kết nối bị từ chối)', 'nothing listens there (connection refused)'],
  ENOTFOUND: ['không tìm thấy tên máy', 'the host name is not found'],
  EAI_AGAIN: ['tạm thời không tra được tên máy (DNS)', 'the host name could not be looked up for now (DNS)'],
  ETIMEDOUT: ['hết thời gian chờ kết nối', 'the connection timed out'],
  UND_ERR_CONNECT_TIMEOUT: ['hết thời gian chờ kết nối', 'the connection timed out'],
  UND_ERR_HEADERS_TIMEOUT: ['máy chủ không trả lời kịp', 'the server did not answer in time'],
  UND_ERR_BODY_TIMEOUT: ['máy chủ ngừng gửi dữ liệu giữa chừng', 'the server stopped sending halfway'],
  ECONNRESET: ['kết nối bị ngắt giữa chừng', 'the connection was reset'],
  UND_ERR_SOCKET: ['kết nối bị đóng giữa chừng', 'the connection was closed halfway'],
  EPIPE: ['kết nối bị đóng giữa chừng', 'the connection was closed halfway'],
  EHOSTUNREACH: ['không tới được máy này', 'the host is unreachable'],
  ENETUNREACH: ['không có đường mạng tới địa chỉ này', 'the network is unreachable'],
  EPROTO: ['máy chủ không nói HTTPS ở cổng này', 'the server does not speak HTTPS on this port'],
  ERR_SSL_WRONG_VERSION_NUMBER: ['máy chủ không nói HTTPS ở cổng này', 'the server does not speak HTTPS on this port'],
};
const TLS_TRUST = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_/;

/** The Node error code behind a failed fetch (undici wraps it in `cause`, sometimes in an AggregateError). */
function causeCode(e: unknown): string | undefined {
  const c = (e as { cause?: { code?: string; errors?: { code?: string }[] } })?.cause;
  return c?.code ?? c?.errors?.find((x) => x?.code)?.code ?? (e as { code?: string })?.code;
}

/** `peer_unreachable` naming the address, for a fetch that failed before (or while) the desk answered. */
function unreachable(base: string, e: unknown, during?: [string, string]): TrucError {
  const code = causeCode(e);
  const [vi, en] = code && NET[code] ? NET[code] : code && TLS_TRUST.test(code)
    ? [`chứng thư TLS của máy chủ không được tin cậy (${code}; NODE_EXTRA_CA_CERTS cho CA của nền tảng)`, `the server's TLS certificate is not trusted (${code}; NODE_EXTRA_CA_CERTS for the platform's CA)`]
    : [`lỗi mạng${code ? ` ${code}` : ''}`, `a network error: ${String((e as { cause?: Error })?.cause?.message ?? (e as Error)?.message ?? e).slice(0, 200)}`];
  const [dvi, den] = during ?? ['không kết nối được tới', 'cannot reach'];
  return new TrucError('peer_unreachable', `${dvi} ${base}: ${vi} / ${den} ${base}: ${en}`, { url: base, ...(code ? { cause: code } : {}) });
}

/** An answer that is not the desk's (a web page, a proxy's error page): said so, not a JSON parser's error. */
const notDesk = (base: string, status: number, type: string) =>
  new TrucError('peer_failed', `${base} trả lời HTTP ${status} (${type || 'không rõ kiểu'}), đây không phải API bàn văn thư — kiểm tra --url / ${base} answered HTTP ${status} (${type || 'no content type'}): this address is not the document desk API — check --url`, { url: base, status });

/** A problem without a code: the code of its status, so the exit code still says what kind it was. */
const BY_STATUS: Record<number, ErrorCode> = { 400: 'bad_request', 401: 'unauthenticated', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 413: 'too_large', 429: 'rate_limited' };

/**
 * The desk's refusal as a TrucError with the server's code — kept as it came, even one this client does not
 * know — and the answer's HTTP status, which is what the exit code is chosen by (./output.ts exitCodeFor).
 */
function refusal(code: string, message: string, status: number, detail: Record<string, unknown>): TrucError {
  const e = new TrucError(code as ErrorCode, message, detail);
  if (e.status !== status) Object.defineProperty(e, 'status', { value: status, enumerable: true });
  return e;
}

/** The refusal as fail() of ./output.ts words it, with `Lỗi / ` before; the exit code set, not exited (stdout drains). */
function report(e: unknown): void {
  let line: string;
  if (e instanceof UsageError) {
    line = `Lỗi / error: ${e.message}`;
    process.exitCode = 2;
  } else if (isTrucError(e)) {
    // a refusal worded for the message path carries its Vietnamese apart (`reason_vi`): shown first, as fail() does
    const vi = typeof e.detail?.reason_vi === 'string' && !e.message.includes(e.detail.reason_vi) ? `${e.detail.reason_vi} / ` : '';
    line = `Lỗi / error [${e.code}]: ${vi}${e.message}`;
    process.exitCode = exitCodeFor(e);
  } else {
    line = `Lỗi / error: ${(e as Error)?.message ?? String(e)}`;
    process.exitCode = 1;
  }
  process.stderr.write(`${line}\n`);
}

/** A document's id in a path: never blank (an empty segment would reach no route, and read as "no desk here"). */
function idPath(id: string): string {
  if (!id.trim()) throw new TrucError('bad_request', 'mã văn bản không được để trống / the document id must not be blank');
  return encodeURIComponent(id);
}

/** A saved attachment's file name: the sender's, composed (NFC), without folders or control characters. */
function saveName(name: string, i: number): string {
  const n = basename(name.normalize('NFC').replace(/[/\\]/g, '_'))
    .replace(/[\u0000-\u001f\u007f]/g, '_')
    .trim();
  return n && n !== '.' && n !== '..' ? n : `tep-dinh-kem-${i + 1}`;
}

/**
 * Moves a finished download to its name in `dir`, or to `name (2).ext`, `name (3).ext` … when that is taken:
 * a file already there — saved earlier, or a second attachment of the same name — is never overwritten.
 * A hard link is made only where nothing is (EEXIST otherwise), so the check and the move are one step.
 */
function place(part: string, dir: string, name: string): string {
  const ext = extname(name);
  const stem = ext && ext !== name ? name.slice(0, -ext.length) : name;
  for (let n = 1; ; n++) {
    const target = join(dir, n === 1 ? name : `${stem} (${n})${ext}`);
    try {
      linkSync(part, target);
      rmSync(part, { force: true });
      return target;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      // a file system without hard links (FAT, some network shares): checked, then renamed
      if (existsSync(target)) continue;
      renameSync(part, target);
      return target;
    }
  }
}

export function docCommands(program: Command, ctx: DocCliContext): void {
  const doc = program
    .command('doc')
    .description('Văn bản điện tử (edXML) giữa các cơ quan: gửi, đến, xem, báo trạng thái, thu hồi — qua API bàn văn thư / official documents (edXML) between agencies: send, inbox, show, status, recall — through the document desk API')
    .option('--url <url>', 'địa chỉ API bàn văn thư (mặc định TRUC_URL hoặc địa chỉ công khai trong cấu hình) / the document desk API (default TRUC_URL or the configured public URL)')
    .option('--token <token>', 'mã truy cập của văn thư (hoặc kiểm toán viên, để xem); mặc định TRUC_TOKEN / a doc-clerk (or auditor, to read) token (default TRUC_TOKEN)');

  /** The desk's address and the token, checked before anything else is done: a usage error (exit 2) otherwise. */
  const target = (): { base: string; token: string } => {
    const o = doc.opts() as { url?: string; token?: string };
    const [raw, from] = o.url !== undefined ? [o.url, '--url'] : process.env.TRUC_URL ? [process.env.TRUC_URL, 'TRUC_URL'] : [ctx.config().publicUrl, 'publicUrl (cấu hình / configuration)'];
    let u: URL | undefined;
    try {
      u = new URL(raw);
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:'))
      throw new UsageError(`${from} "${raw.slice(0, 200)}": không phải địa chỉ http:// hoặc https:// (ví dụ https://truc.example.gov.vn) / ${from} "${raw.slice(0, 200)}": not an http:// or https:// address (e.g. https://truc.example.gov.vn)`);
    const token = o.token ?? process.env.TRUC_TOKEN;
    if (!token) throw new UsageError('cần mã truy cập của văn thư: --token hoặc TRUC_TOKEN / a doc-clerk token is required: --token or TRUC_TOKEN');
    return { base: raw.replace(/\/+$/, ''), token };
  };

  /** One call to the desk; a refusal thrown as the TrucError it carries, anything that is not the desk said so. */
  const api = async (method: string, path: string, body?: unknown, raw?: { stream: Readable; type: string }): Promise<Response> => {
    const { base, token } = target();
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
    let payload: BodyInit | undefined;
    if (raw) {
      headers['content-type'] = raw.type;
      payload = Readable.toWeb(raw.stream) as unknown as BodyInit;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, { method, headers, ...(payload ? { body: payload } : {}), ...(raw ? { duplex: 'half' } : {}) } as RequestInit);
    } catch (e) {
      throw unreachable(base, e);
    }
    if (res.ok) return res;
    const type = res.headers.get('content-type') ?? '';
    let p: Record<string, unknown> | undefined;
    if (/json/i.test(type)) p = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!p || typeof p !== 'object') throw notDesk(base, res.status, type);
    const { code, detail, title, status: _s, type: _t, instance: _i, ...rest } = p;
    // the platform answers a path it does not serve with `no route …`: here that means it runs no desk
    if (res.status === 404 && code === 'not_found' && /no route/.test(String(detail)))
      throw new TrucError('not_found', `không có bàn văn thư tại ${base} (nền tảng này không phục vụ /api/v1/doc) / no document desk at ${base} (this platform does not serve /api/v1/doc)`, { url: base });
    const known = typeof code === 'string' && /^[a-z][a-z0-9_]{0,63}$/.test(code) ? code : (BY_STATUS[res.status] ?? 'internal');
    throw refusal(known, String(detail ?? title ?? `HTTP ${res.status}`).slice(0, 2000), res.status, rest);
  };
  const json = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await api(method, path, body);
    const type = res.headers.get('content-type') ?? '';
    // a page answered with 200 (a portal, a proxy's login) is not the desk: said so before a parser says less
    if (!/json/i.test(type)) throw notDesk(target().base, res.status, type);
    try {
      return (await res.json()) as T;
    } catch (e) {
      // JSON that does not parse is not the desk's; a body that stopped coming is the network's
      throw e instanceof SyntaxError ? notDesk(target().base, res.status, type) : unreachable(target().base, e, ['câu trả lời bị cắt giữa chừng từ', 'the answer was cut off from']);
    }
  };
  const run = (fn: () => Promise<void>) => fn().catch(report);

  doc
    .command('recipients')
    .description('Các cơ quan có thể gửi tới / agencies one can send to')
    .action(() => run(async () => {
      const r = await json<{ id: string; name: string }[]>('GET', '/api/v1/doc/recipients');
      ctx.out(r, () => table(r, ['id', 'name']));
    }));

  doc
    .command('send <files...>')
    .description('Gửi văn bản (tệp đầu là văn bản chính, thường là PDF đã ký số; các tệp sau là phụ lục) / send a document: the first file is the main document, the rest appendices')
    .requiredOption('--to <codes>', 'mã cơ quan nhận, cách nhau bằng dấu phẩy (ví dụ 000.00.00.G09,000.00.31.H29) / recipients’ agency codes, comma-separated')
    .requiredOption('--number <n>', 'số văn bản / CodeNumber')
    .requiredOption('--notation <x>', 'ký hiệu văn bản, ví dụ QĐ-VPCP / CodeNotation, e.g. QĐ-VPCP')
    .requiredOption('--subject <text>', 'trích yếu / subject')
    .requiredOption('--signer-name <name>', 'họ tên người ký / the signer’s full name')
    .option('--signer-position <text>', 'chức vụ người ký / the signer’s position')
    .option('--competence <text>', 'thẩm quyền ký (ví dụ KT. BỘ TRƯỞNG) / signing competence (e.g. KT. BỘ TRƯỞNG)')
    .option('--type <n>', 'mã loại văn bản, số 0–999 / DocumentType code, a number 0–999', whole('--type', 0, 999, ' (mã loại văn bản; tên loại ghi ở --type-name)', ' (the DocumentType code; its name goes in --type-name)'), 1)
    .option('--type-name <text>', 'tên loại văn bản / the document type’s name', 'Công văn')
    .option('--place <text>', 'nơi ban hành / place of promulgation', 'Hà Nội')
    .option('--date <yyyy-MM-dd>', 'ngày ban hành (mặc định hôm nay) / date of promulgation (default today)')
    .option('--priority <0-4>', 'độ khẩn: 0 thường, 1 khẩn, 2 thượng khẩn, 3 hỏa tốc, 4 hỏa tốc hẹn giờ / priority: 0 normal, 1 urgent, 2 very urgent, 3 express, 4 timed express', whole('--priority', 0, 4, ' (0 thường, 1 khẩn, 2 thượng khẩn, 3 hỏa tốc, 4 hỏa tốc hẹn giờ)', ' (0 normal, 1 urgent, 2 very urgent, 3 express, 4 timed express)'), 0)
    .option('--due <yyyy-MM-dd>', 'hạn xử lý / due date')
    .option('--content <text>', 'nội dung tóm tắt / summary of the content')
    .option('--classification <level>', `độ mật: ${LEVELS.join(', ')} (đối chiếu chính sách phát hành trước khi gửi) / classification (checked against the release policy before it leaves)`, level, 'unclassified')
    .action((files: string[], o: Record<string, string> & { type: number; priority: number }) => run(async () => {
      // everything that can be checked here is checked before the first byte is uploaded
      target();
      checkDay('--date', o.date);
      checkDay('--due', o.due);
      const to = [...new Set(o.to!.split(',').map((s) => s.trim()).filter(Boolean))];
      if (!to.length) throw new TrucError('bad_request', '--to: cần ít nhất một mã cơ quan nhận / --to: at least one recipient agency code', { field: '--to' });
      for (const f of files) checkFile(f);
      // the recipients too, when the token may read them (the desk checks again when it sends)
      const known = await json<{ id: string }[]>('GET', '/api/v1/doc/recipients').catch((e: unknown) => {
        if (isTrucError(e) && e.status === 403) return undefined;
        throw e;
      });
      const unknown = known ? to.filter((c) => !known.some((r) => r.id === c)) : [];
      if (unknown.length) {
        const codes = unknown.map((c) => c.slice(0, 40)).join(', ');
        throw new TrucError('unknown_member', `${codes} không phải cơ quan mà bàn văn thư này gửi được tới (xem truc doc recipients) / ${codes} is not an agency this desk can send to (see truc doc recipients)`, { organId: unknown[0] });
      }
      const attachments = [];
      for (const f of files) {
        const stream = createReadStream(f);
        let readError: Error | undefined;
        stream.once('error', (e) => (readError = e));
        let up: { upload: string; size: number };
        try {
          up = (await (await api('POST', '/api/v1/doc/uploads', undefined, { stream, type: 'application/octet-stream' })).json()) as { upload: string; size: number };
        } catch (e) {
          if (readError) throw new TrucError('bad_request', `tệp ${f}: không đọc được / ${f}: could not be read (${readError.message})`, { file: f });
          throw e;
        }
        const name = nameOf(f);
        attachments.push({ name, contentType: TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream', upload: up.upload });
      }
      const r = await json<{ id: string; documentId: string; recipients: { organId: string }[] }>('POST', '/api/v1/doc/documents', {
        to,
        code: { number: o.number, notation: o.notation },
        promulgation: { place: o.place, ...(o.date ? { date: o.date } : {}) },
        documentType: { type: o.type, typeName: o.typeName },
        subject: o.subject,
        ...(o.content ? { content: o.content } : {}),
        signer: { fullName: o.signerName, ...(o.signerPosition ? { position: o.signerPosition } : {}), ...(o.competence ? { competence: o.competence } : {}) },
        ...(o.due ? { dueDate: o.due } : {}),
        otherInfo: { priority: o.priority, appendixes: files.slice(1).map(nameOf) },
        classification: o.classification,
        attachments,
      });
      ctx.out(r, () => `Đã gửi / sent ${r.documentId} (${r.id}) tới / to ${r.recipients.map((x) => x.organId).join(', ')}`);
    }));

  doc
    .command('inbox')
    .description('Văn bản và trạng thái đến / received documents and status packets')
    .option('--all', 'cả những mục đã xác nhận / also those already acknowledged')
    .option('--search <words>', 'tìm theo số, trích yếu, cơ quan gửi / search DocumentId, subject, sender')
    .option('--limit <n>', 'số mục tối đa, 1–1000 (máy chủ mặc định 100) / at most this many, 1–1000 (the server’s default 100)', whole('--limit', 1, 1000))
    .action((o: { all?: boolean; search?: string; limit?: number }) => run(async () => {
      const qs = new URLSearchParams({ ...(o.all ? { all: '1' } : {}), ...(o.search ? { q: o.search } : {}), ...(o.limit !== undefined ? { limit: String(o.limit) } : {}) }).toString();
      const r = await json<{ documents: { id: string; documentId: string; docType: number; sender: string; header: { subject: string }; createdAt: string }[]; statuses: { id: string; docId: string; organId: string; code: string; description: string | null }[] }>('GET', `/api/v1/doc/inbox${qs ? `?${qs}` : ''}`);
      ctx.out(r, () =>
        `Văn bản đến / documents (${r.documents.length})\n` +
        table(r.documents.map((d) => ({ id: d.id, documentId: d.documentId, kind: KINDS[d.docType] ?? `loại / type ${d.docType}`, from: d.sender, subject: d.header.subject, at: d.createdAt })), ['id', 'documentId', 'kind', 'from', 'subject', 'at']) +
        `\nTrạng thái đến / statuses (${r.statuses.length})\n` +
        table(r.statuses.map((s) => ({ id: s.id, document: s.docId, from: s.organId, code: s.code, description: s.description ?? '' })), ['id', 'document', 'from', 'code', 'description']),
      );
    }));

  doc
    .command('show <id>')
    .description('Xem văn bản, chữ ký và trạng thái từng nơi nhận / a document with its signature verdicts and each recipient’s status')
    .option('--save <dir>', 'lưu các tệp đính kèm vào thư mục này (tạo nếu chưa có; không ghi đè tệp đã có) / save its attachments into this folder (made if missing; never overwrites a file)')
    .action((id: string, o: { save?: string }) => run(async () => {
      const v = await json<{
        document: { documentId: string; direction: string; sender: string; classification: string | null; header: { subject: string; signer: { fullName: string } }; validation: { kind: string; indication: string; subIndication?: string; signer?: string; message?: string } | null };
        attachments: { contentId: string; attachmentName: string; size: number; sha256: string; report: { signatures?: { indication: string; signer?: { commonName?: string } }[] } | null }[];
        recipients: { organId: string; organName: string; delivery: { state: string; attempts: number } | null; statusLabel: string | null }[];
      }>('GET', `/api/v1/doc/documents/${idPath(id)}`);
      const saved = o.save ? await saveAll(id, o.save, v.attachments) : [];
      ctx.out(o.save ? { ...v, saved } : v, () => {
        const d = v.document;
        const sig = d.validation ? `${d.validation.indication}${d.validation.subIndication ? `/${d.validation.subIndication}` : ''} (${d.validation.kind}${d.validation.signer ? `, ${d.validation.signer}` : ''})` : '—';
        return [
          `${d.documentId} — ${d.header.subject}`,
          `Độ mật / classification: ${d.classification ?? 'không khai báo / not declared'}`,
          `Người ký / signer: ${d.header.signer.fullName}; chữ ký gói / package signature: ${sig}`,
          'Tệp đính kèm / attachments:',
          table(v.attachments.map((a) => ({ id: a.contentId, name: a.attachmentName, size: a.size, sha256: a.sha256.slice(0, 16), pdf: a.report?.signatures?.map((s) => s.indication).join(', ') ?? '' })), ['id', 'name', 'size', 'sha256', 'pdf']),
          ...(v.recipients.length ? ['Nơi nhận / recipients:', table(v.recipients.map((r) => ({ agency: r.organId, name: r.organName, delivery: r.delivery ? `${r.delivery.state} (${r.delivery.attempts})` : '', status: r.statusLabel ?? '' })), ['agency', 'name', 'delivery', 'status'])] : []),
          ...saved.map((s) => `Đã lưu / saved: ${s.path}`),
        ].join('\n');
      });
    }));

  /**
   * Each attachment into `dir` (made when missing). Each is written to a hidden `.part` file first, checked
   * against the size and SHA-256 the desk gave, then moved to its name without overwriting anything: a
   * download that breaks or does not match leaves nothing behind, and two attachments of one name are both kept.
   */
  async function saveAll(id: string, dir: string, atts: { contentId: string; attachmentName: string; size: number; sha256: string }[]): Promise<{ contentId: string; path: string }[]> {
    try {
      mkdirSync(dir, { recursive: true });
      if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
      accessSync(dir, constants.W_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const [vi, en] = code === 'ENOTDIR' || code === 'EEXIST' ? ['không phải thư mục', 'not a folder'] : code === 'EACCES' || code === 'EPERM' ? ['không có quyền ghi', 'not writable'] : ['không tạo được', `cannot be made (${(e as Error).message})`];
      throw new TrucError('bad_request', `thư mục lưu ${dir}: ${vi} / the folder to save into ${dir}: ${en}`, { folder: dir });
    }
    const parts = new Set<string>();
    // interrupted (Ctrl-C), the half-written files go too
    const onSignal = () => {
      for (const p of parts) rmSync(p, { force: true });
      process.exit(130);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const saved: { contentId: string; path: string }[] = [];
    try {
      for (const [i, a] of atts.entries()) {
        const res = await api('GET', `/api/v1/doc/documents/${idPath(id)}/attachments/${encodeURIComponent(a.contentId)}`);
        const part = join(dir, `.${randomUUID()}.part`);
        parts.add(part);
        try {
          const h = createHash('sha256');
          let size = 0;
          const tap = new Transform({
            transform(c: Buffer, _e, done) {
              h.update(c);
              size += c.length;
              done(null, c);
            },
          });
          try {
            await pipeline(Readable.fromWeb(res.body as never), tap, createWriteStream(part, { flags: 'wx' }));
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            // a local write failure (disk full, permissions) is said as such; anything else broke on the way
            if (code && /^E[A-Z]+$/.test(code) && (e as NodeJS.ErrnoException).path) throw new TrucError('bad_request', `không ghi được vào ${dir} / cannot write into ${dir}: ${(e as Error).message}`, { folder: dir });
            throw unreachable(target().base, e, [`tải ${a.attachmentName} bị gián đoạn, từ`, `downloading ${a.attachmentName} broke off, from`]);
          }
          const digest = h.digest('hex');
          if (size !== a.size || (/^[0-9a-f]{64}$/i.test(a.sha256) && digest !== a.sha256.toLowerCase()))
            throw new TrucError('attachment_mismatch', `tệp ${a.attachmentName} tải về không khớp (${size} byte, SHA-256 ${digest.slice(0, 16)}…) với bàn văn thư (${a.size} byte, ${a.sha256.slice(0, 16)}…): không lưu / the downloaded ${a.attachmentName} does not match the desk's size and SHA-256: not saved`, { contentId: a.contentId });
          saved.push({ contentId: a.contentId, path: place(part, dir, saveName(a.attachmentName, i)) });
        } finally {
          rmSync(part, { force: true });
          parts.delete(part);
        }
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return saved;
  }

  doc
    .command('status <id> <code>')
    .description('Gửi trạng thái xử lý / report a status: 01 đã đến, 02 từ chối, 03 vào sổ, 04 phân công, 05 đang xử lý, 06 hoàn thành, 15/16 đồng ý/từ chối thu hồi')
    .option('--description <text>', 'mô tả / description')
    .option('--staff <name>', 'cán bộ xử lý / the staff member handling it')
    .option('--department <name>', 'đơn vị xử lý / the department handling it')
    .action((id: string, code: string, o: { description?: string; staff?: string; department?: string }) => run(async () => {
      const r = await json('POST', `/api/v1/doc/documents/${idPath(id)}/status`, { code, ...(o.description ? { description: o.description } : {}), ...(o.staff || o.department ? { staff: { ...(o.staff ? { staff: o.staff } : {}), ...(o.department ? { department: o.department } : {}) } } : {}) });
      ctx.out(r, () => `Đã gửi trạng thái / status sent: ${code}`);
    }));

  doc
    .command('recall <id>')
    .description('Thu hồi văn bản đã gửi / recall a sent document')
    .requiredOption('--reason <text>', 'lý do / reason')
    .action((id: string, o: { reason: string }) => run(async () => {
      const r = await json('POST', `/api/v1/doc/documents/${idPath(id)}/recall`, { reason: o.reason });
      ctx.out(r, () => 'Đã gửi yêu cầu thu hồi / recall sent');
    }));

  doc
    .command('ack <id>')
    .description('Xác nhận đã nhận (rời hộp thư đến) / acknowledge an inbox item')
    .action((id: string) => run(async () => {
      await json('POST', `/api/v1/doc/documents/${idPath(id)}/ack`);
      ctx.out({ ok: true }, () => 'Đã xác nhận / acknowledged');
    }));
}
