/**
 * `truc doc …`: the document desk for clerks, as a client of the desk's API (`/api/v1/doc`) — the desk
 * runs in the platform (or the agency's own process) with the agency's signing key; the CLI holds none.
 * The API's address is --url (or TRUC_URL, default the configured public URL) and the clerk's token
 * --token (or TRUC_TOKEN). Files are uploaded streamed, then sent by their upload ids.
 */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { Config } from '../config.js';
import { TrucError } from '../errors.js';
import { table } from './output.js';

export interface DocCliContext {
  out(v: unknown, text: () => string): void;
  config(): Config;
}

const TYPES: Record<string, string> = { '.pdf': 'application/pdf', '.xml': 'application/xml', '.txt': 'text/plain', '.doc': 'application/msword', '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' };

export function docCommands(program: Command, ctx: DocCliContext): void {
  const doc = program
    .command('doc')
    .description('official documents (edXML) between agencies: send, inbox, show, status, recall — through the document desk API')
    .option('--url <url>', 'the document desk API (default TRUC_URL or the configured public URL)')
    .option('--token <token>', 'a doc-clerk (or auditor, to read) token (default TRUC_TOKEN)');

  const api = async (method: string, path: string, body?: unknown, raw?: { stream: NodeJS.ReadableStream; type: string }): Promise<Response> => {
    const o = doc.opts() as { url?: string; token?: string };
    const base = (o.url ?? process.env.TRUC_URL ?? ctx.config().publicUrl).replace(/\/$/, '');
    const token = o.token ?? process.env.TRUC_TOKEN;
    if (!token) throw new TrucError('unauthenticated', 'a token: --token or TRUC_TOKEN (Cần mã truy cập của văn thư)');
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    let payload: BodyInit | undefined;
    if (raw) {
      headers['content-type'] = raw.type;
      payload = Readable.toWeb(raw.stream as Readable) as unknown as BodyInit;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(`${base}${path}`, { method, headers, ...(payload ? { body: payload } : {}), ...(raw ? { duplex: 'half' } : {}) } as RequestInit);
    if (!res.ok) {
      const p = (await res.json().catch(() => ({}))) as { code?: string; detail?: string; title?: string };
      throw new TrucError((p.code as never) ?? 'internal', p.detail ?? p.title ?? `HTTP ${res.status}`);
    }
    return res;
  };
  const json = async <T>(method: string, path: string, body?: unknown): Promise<T> => (await api(method, path, body)).json() as Promise<T>;
  const run = (fn: () => Promise<void>) => fn().catch((e) => {
    process.stderr.write(`Lỗi / error: ${(e as Error).message}\n`);
    process.exitCode = e instanceof TrucError && e.status < 500 ? 2 : 1;
  });

  doc
    .command('recipients')
    .description('Các cơ quan có thể gửi tới / agencies one can send to')
    .action(() => run(async () => {
      const r = await json<{ id: string; name: string }[]>('GET', '/api/v1/doc/recipients');
      ctx.out(r, () => table(r, ['id', 'name']));
    }));

  doc
    .command('send <files...>')
    .description('Gửi văn bản (tệp đầu là văn bản chính, thường là PDF đã ký số) / send a document: the first file is the main document, the rest appendices')
    .requiredOption('--to <codes>', 'recipients’ agency codes, comma-separated (e.g. 000.00.00.G09,000.00.31.H29)')
    .requiredOption('--number <n>', 'CodeNumber (số)')
    .requiredOption('--notation <x>', 'CodeNotation (ký hiệu), e.g. QĐ-VPCP')
    .requiredOption('--subject <text>', 'trích yếu')
    .requiredOption('--signer-name <name>', 'người ký')
    .option('--signer-position <text>', 'chức vụ người ký')
    .option('--competence <text>', 'thẩm quyền ký (e.g. KT. BỘ TRƯỞNG)')
    .option('--type <n>', 'DocumentType code', '1')
    .option('--type-name <text>', 'loại văn bản', 'Công văn')
    .option('--place <text>', 'nơi ban hành', 'Hà Nội')
    .option('--date <yyyy-MM-dd>', 'ngày ban hành (default today)')
    .option('--priority <0-4>', 'độ khẩn: 0 thường, 1 khẩn, 2 thượng khẩn, 3 hỏa tốc, 4 hỏa tốc hẹn giờ', '0')
    .option('--due <yyyy-MM-dd>', 'hạn xử lý')
    .option('--content <text>', 'nội dung tóm tắt')
    .option('--classification <level>', 'độ mật / classification: unclassified, mat, toi-mat, tuyet-mat (checked against the release policy before it leaves)', 'unclassified')
    .action((files: string[], o: Record<string, string>) => run(async () => {
      const attachments = [];
      for (const f of files) {
        statSync(f);
        const ext = f.slice(f.lastIndexOf('.')).toLowerCase();
        const up = (await (await api('POST', '/api/v1/doc/uploads', undefined, { stream: createReadStream(f), type: 'application/octet-stream' })).json()) as { upload: string; size: number };
        attachments.push({ name: basename(f), contentType: TYPES[ext] ?? 'application/octet-stream', upload: up.upload });
      }
      const r = await json<{ id: string; documentId: string; recipients: { organId: string }[] }>('POST', '/api/v1/doc/documents', {
        to: o.to!.split(',').map((s) => s.trim()).filter(Boolean),
        code: { number: o.number, notation: o.notation },
        promulgation: { place: o.place, ...(o.date ? { date: o.date } : {}) },
        documentType: { type: Number(o.type), typeName: o.typeName },
        subject: o.subject,
        ...(o.content ? { content: o.content } : {}),
        signer: { fullName: o.signerName, ...(o.signerPosition ? { position: o.signerPosition } : {}), ...(o.competence ? { competence: o.competence } : {}) },
        ...(o.due ? { dueDate: o.due } : {}),
        otherInfo: { priority: Number(o.priority), appendixes: files.slice(1).map((f) => basename(f)) },
        classification: o.classification,
        attachments,
      });
      ctx.out(r, () => `Đã gửi / sent ${r.documentId} (${r.id}) tới / to ${r.recipients.map((x) => x.organId).join(', ')}`);
    }));

  doc
    .command('inbox')
    .description('Văn bản và trạng thái đến / received documents and status packets')
    .option('--all', 'also those already acknowledged')
    .option('--search <words>', 'tìm theo số, trích yếu, cơ quan gửi / search DocumentId, subject, sender')
    .action((o: { all?: boolean; search?: string }) => run(async () => {
      const qs = new URLSearchParams({ ...(o.all ? { all: '1' } : {}), ...(o.search ? { q: o.search } : {}) }).toString();
      const r = await json<{ documents: { id: string; documentId: string; docType: number; sender: string; header: { subject: string }; createdAt: string }[]; statuses: { id: string; docId: string; organId: string; code: string; description: string | null }[] }>('GET', `/api/v1/doc/inbox${qs ? `?${qs}` : ''}`);
      ctx.out(r, () =>
        `Văn bản đến / documents (${r.documents.length})\n` +
        table(r.documents.map((d) => ({ id: d.id, documentId: d.documentId, kind: ['mới', 'thu hồi', 'cập nhật', 'thay thế'][d.docType], from: d.sender, subject: d.header.subject, at: d.createdAt })), ['id', 'documentId', 'kind', 'from', 'subject', 'at']) +
        `\nTrạng thái đến / statuses (${r.statuses.length})\n` +
        table(r.statuses.map((s) => ({ id: s.id, document: s.docId, from: s.organId, code: s.code, description: s.description ?? '' })), ['id', 'document', 'from', 'code', 'description']),
      );
    }));

  doc
    .command('show <id>')
    .description('Xem văn bản, chữ ký và trạng thái từng nơi nhận / a document with its signature verdicts and each recipient’s status')
    .option('--save <dir>', 'save its attachments into this folder')
    .action((id: string, o: { save?: string }) => run(async () => {
      const v = await json<{
        document: { documentId: string; direction: string; sender: string; classification: string | null; header: { subject: string; signer: { fullName: string } }; validation: { kind: string; indication: string; subIndication?: string; signer?: string; message?: string } | null };
        attachments: { contentId: string; attachmentName: string; size: number; sha256: string; report: { signatures?: { indication: string; signer?: { commonName?: string } }[] } | null }[];
        recipients: { organId: string; organName: string; delivery: { state: string; attempts: number } | null; statusLabel: string | null }[];
      }>('GET', `/api/v1/doc/documents/${encodeURIComponent(id)}`);
      if (o.save)
        for (const a of v.attachments) {
          const res = await api('GET', `/api/v1/doc/documents/${encodeURIComponent(id)}/attachments/${encodeURIComponent(a.contentId)}`);
          await pipeline(Readable.fromWeb(res.body as never), createWriteStream(join(o.save, basename(a.attachmentName))));
        }
      ctx.out(v, () => {
        const d = v.document;
        const sig = d.validation ? `${d.validation.indication}${d.validation.subIndication ? `/${d.validation.subIndication}` : ''} (${d.validation.kind}${d.validation.signer ? `, ${d.validation.signer}` : ''})` : '—';
        return [
          `${d.documentId} — ${d.header.subject}`,
          `Độ mật / classification: ${d.classification ?? 'không khai báo / not declared'}`,
          `Người ký / signer: ${d.header.signer.fullName}; chữ ký gói / package signature: ${sig}`,
          'Tệp đính kèm / attachments:',
          table(v.attachments.map((a) => ({ id: a.contentId, name: a.attachmentName, size: a.size, sha256: a.sha256.slice(0, 16), pdf: a.report?.signatures?.map((s) => s.indication).join(', ') ?? '' })), ['id', 'name', 'size', 'sha256', 'pdf']),
          ...(v.recipients.length ? ['Nơi nhận / recipients:', table(v.recipients.map((r) => ({ agency: r.organId, name: r.organName, delivery: r.delivery ? `${r.delivery.state} (${r.delivery.attempts})` : '', status: r.statusLabel ?? '' })), ['agency', 'name', 'delivery', 'status'])] : []),
        ].join('\n');
      });
    }));

  doc
    .command('status <id> <code>')
    .description('Gửi trạng thái xử lý / report a status: 01 đã đến, 02 từ chối, 03 vào sổ, 04 phân công, 05 đang xử lý, 06 hoàn thành, 15/16 đồng ý/từ chối thu hồi')
    .option('--description <text>', 'mô tả')
    .option('--staff <name>', 'cán bộ xử lý')
    .option('--department <name>', 'đơn vị xử lý')
    .action((id: string, code: string, o: { description?: string; staff?: string; department?: string }) => run(async () => {
      const r = await json('POST', `/api/v1/doc/documents/${encodeURIComponent(id)}/status`, { code, ...(o.description ? { description: o.description } : {}), ...(o.staff || o.department ? { staff: { ...(o.staff ? { staff: o.staff } : {}), ...(o.department ? { department: o.department } : {}) } } : {}) });
      ctx.out(r, () => `Đã gửi trạng thái / status sent: ${code}`);
    }));

  doc
    .command('recall <id>')
    .description('Thu hồi văn bản đã gửi / recall a sent document')
    .requiredOption('--reason <text>', 'lý do')
    .action((id: string, o: { reason: string }) => run(async () => {
      const r = await json('POST', `/api/v1/doc/documents/${encodeURIComponent(id)}/recall`, { reason: o.reason });
      ctx.out(r, () => 'Đã gửi yêu cầu thu hồi / recall sent');
    }));

  doc
    .command('ack <id>')
    .description('Xác nhận đã nhận (rời hộp thư đến) / acknowledge an inbox item')
    .action((id: string) => run(async () => {
      await json('POST', `/api/v1/doc/documents/${encodeURIComponent(id)}/ack`);
      ctx.out({ ok: true }, () => 'Đã xác nhận / acknowledged');
    }));
}
