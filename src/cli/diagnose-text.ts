/**
 * `truc ss diagnose` for the operator reading a terminal: the diagnosis (SecurityServer.diagnose) as one line
 * per check, Vietnamese first with English beside, each marked OK or with what is wrong. `--json` keeps the
 * object itself for scripts.
 */

interface Diagnosis {
  server?: string;
  configuration?: { version: number; generatedAt: string; ageSeconds: number; expiresAt: string; usable: boolean } | null;
  source?: {
    source?: string | null;
    lastSuccessAt?: string | null;
    consecutiveFailures?: number;
    nextAttemptInMs?: number | null;
    lastError?: { code: string; message: string; reason_vi?: string; at: string } | null;
  };
  registration?: { address: string; clients: number; maintenance: boolean; maintenanceMessage?: string } | null;
  certificates?: Record<string, { status: string; ocspThisUpdate?: string; notAfter?: string; code?: string; message?: string }>;
  timestampAuthorities?: { name: string; url: string; reachable: boolean; ms?: number; error?: string }[];
  messageLog?: { lastTimestampAt?: Date | string | null; oldestUnstampedAt?: Date | string | null; unstamped: number; refusing: boolean; lastError?: unknown };
  operationalRecords?: { waiting: number; dropped: number };
  peer?: { server: string; reachable: boolean; pinned: boolean; handshakeMs: number; channel?: string; error?: string };
}

const OK = 'OK  ';
const BAD = 'LỖI';
const mark = (ok: boolean) => (ok ? OK : BAD);
const time = (t: Date | string | null | undefined) => (t ? (t instanceof Date ? t.toISOString() : t) : '—');
const CERT_NAMES: Record<string, string> = { auth: 'Chứng thư xác thực / authentication certificate', sign: 'Chứng thư ký / signing certificate' };

/** The diagnosis as lines of text, each check on its own line, problems marked LỖI. */
export function diagnoseText(d: Diagnosis): string {
  const out: string[] = [`Máy chủ an ninh / security server: ${d.server ?? '—'}`];
  const c = d.configuration;
  if (!c) out.push(`${BAD} Cấu hình toàn cục: chưa có / global configuration: none held (import the anchor, then truc ss conf)`);
  else
    out.push(
      `${mark(c.usable)} Cấu hình toàn cục / global configuration: phiên bản / version ${c.version}, tạo lúc / generated ${c.generatedAt} (${c.ageSeconds} s), hết hạn / expires ${c.expiresAt}${c.usable ? '' : ' — ĐÃ HẾT HẠN, máy chủ từ chối trao đổi / EXPIRED, the server refuses traffic'}`,
    );
  const s = d.source;
  if (s) {
    const err = s.lastError;
    out.push(
      `${mark(!err)} Nguồn cấu hình / configuration source: ${s.source ?? '—'}, tải được lần cuối / last downloaded ${time(s.lastSuccessAt)}` +
        (err ? `; lỗi ${s.consecutiveFailures ?? 1} lần liền / ${s.consecutiveFailures ?? 1} failures in a row: ${err.reason_vi ? `${err.reason_vi} / ` : ''}${err.message} (${err.code})` : ''),
    );
  }
  if (d.registration === null) out.push(`${BAD} Đăng ký / registration: máy chủ này không có trong cấu hình toàn cục / this server is not in the global configuration (truc ss register)`);
  else if (d.registration) {
    const r = d.registration;
    out.push(
      `${mark(!r.maintenance)} Đăng ký / registration: địa chỉ / address ${r.address}, ${r.clients} phân hệ / clients` +
        (r.maintenance ? ` — ĐANG BẢO TRÌ / IN MAINTENANCE MODE${r.maintenanceMessage ? `: ${r.maintenanceMessage}` : ''}` : ''),
    );
  }
  for (const [name, cert] of Object.entries(d.certificates ?? {})) {
    const label = CERT_NAMES[name] ?? name;
    out.push(
      cert.status === 'good'
        ? `${OK} ${label}: hợp lệ / good, OCSP lúc / at ${cert.ocspThisUpdate}, hết hạn / expires ${cert.notAfter}`
        : `${BAD} ${label}: ${cert.message ?? cert.status} (${cert.code ?? cert.status})`,
    );
  }
  const tsas = d.timestampAuthorities ?? [];
  if (d.configuration && !tsas.length) out.push(`${BAD} Dấu thời gian / time-stamping: cấu hình không có TSA nào được phê duyệt / no approved TSA in the configuration`);
  for (const t of tsas)
    out.push(t.reachable ? `${OK} TSA ${t.name} (${t.url}): trả lời sau / answered in ${t.ms} ms` : `${BAD} TSA ${t.name} (${t.url}): không trả lời / unreachable: ${t.error ?? '—'}`);
  const l = d.messageLog;
  if (l)
    out.push(
      `${mark(!l.refusing)} Nhật ký thông điệp / message log: ${l.unstamped} bản ghi chưa có dấu thời gian / records not yet time-stamped, dấu thời gian cuối / last time-stamp ${time(l.lastTimestampAt)}` +
        (l.refusing ? ' — ĐANG TỪ CHỐI thông điệp mới: quá thời gian ân hạn không có dấu thời gian / REFUSING new messages: time-stamping failed past the grace period' : ''),
    );
  const o = d.operationalRecords;
  if (o) out.push(`${mark(o.dropped === 0)} Hồ sơ vận hành / operational records: ${o.waiting} đang chờ ghi / waiting, ${o.dropped} bị bỏ / dropped`);
  const p = d.peer;
  if (p)
    out.push(
      p.reachable
        ? `${mark(p.pinned)} Kết nối tới / connection to ${p.server}: ${p.handshakeMs} ms, kênh / channel ${p.channel ?? '—'}, ${p.pinned ? 'chứng thư khớp đăng ký / certificate as registered' : 'CHỨNG THƯ KHÔNG KHỚP đăng ký / CERTIFICATE NOT THE REGISTERED ONE'}`
        : `${BAD} Kết nối tới / connection to ${p.server}: không được / failed after ${p.handshakeMs} ms: ${p.error ?? '—'}`,
    );
  const bad = out.filter((line) => line.startsWith(BAD)).length;
  out.push(bad ? `${bad} vấn đề cần xử lý / ${bad} problem${bad > 1 ? 's' : ''} to look at` : 'Mọi kiểm tra đều đạt / every check passed');
  return out.join('\n');
}
