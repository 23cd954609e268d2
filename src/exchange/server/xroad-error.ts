/**
 * Refusals toward information systems, in the form of X-Road's message protocol for REST (PR-REST 4.6):
 * the HTTP status is 400 when the information system's request is at fault (`Client.…`) and 500 for every
 * failure inside the axis (`Server.…`); the `X-Road-Error` header names X-Road's fault type
 * (`Client.InvalidClientIdentifier`, `Server.ClientProxy.NetworkError`, `Server.ServerProxy.AccessDenied`, …)
 * and the JSON body carries X-Road's members `type`, `message` and `detail` (an error id), beside which
 * Trục keeps its own: the stable `code`, `status` (the code's own HTTP status, finer than 400/500), `title`
 * and the Vietnamese and English text (`message_vi`, `message_en`). The mapping from our codes to X-Road's
 * names is `XROAD_FAULT` below and the table in docs/exchange.md.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { TrucError, isTrucError, parserRefusal, toProblem } from '../../errors.js';

export type ErrorOrigin = 'ClientProxy' | 'ServerProxy';

/** Our codes → X-Road's fault names (ErrorCodes of X-Road, in the CamelCase form it sends). */
export const XROAD_FAULT: Record<string, string> = {
  bad_request: 'BadRequest',
  not_found: 'BadRequest',
  bad_identifier: 'InvalidClientIdentifier',
  unknown_client: 'InvalidClientIdentifier',
  too_large: 'InvalidRequest',
  unknown_member: 'UnknownMember',
  unknown_service: 'UnknownService',
  client_not_owned: 'UnknownMember',
  access_denied: 'AccessDenied',
  conf_expired: 'OutdatedGlobalConf',
  conf_outdated: 'OutdatedGlobalConf',
  conf_invalid: 'MalformedGlobalConf',
  bad_message: 'InvalidMessage',
  replayed_message: 'InvalidMessage',
  bad_message_signature: 'InvalidSignatureValue',
  cert_invalid: 'CertValidation',
  cert_revoked: 'CertValidation',
  ocsp_stale: 'CertValidation',
  peer_unreachable: 'NetworkError',
  peer_failed: 'NetworkError',
  service_failed: 'ServiceFailed',
  timestamp_unavailable: 'TimestampingFailed',
  log_failure: 'LoggingFailed',
  server_maintenance: 'MaintenanceMode',
  database_unavailable: 'DatabaseError',
  unsupported: 'InvalidRequest',
  internal: 'InternalError',
};

/** Codes that mean the information system's own request is wrong: X-Road's `Client.` faults (400). */
const CLIENT_FAULTS = new Set(['not_found', 'bad_request', 'bad_identifier', 'unknown_client', 'too_large']);

/**
 * X-Road's fault type for one of our errors. A TrucError may name the X-Road fault itself
 * (`detail.xroadFault`, e.g. `SslAuthenticationFailed`, `ServiceType`) where one code covers several of X-Road's.
 */
export function xroadFault(origin: ErrorOrigin, e: unknown): string {
  const code = isTrucError(e) ? e.code : 'internal';
  const named = isTrucError(e) ? (e.detail as { xroadFault?: unknown } | undefined)?.xroadFault : undefined;
  const name = typeof named === 'string' ? named : (XROAD_FAULT[code] ?? ((isTrucError(e) ? e.status : 500) < 500 ? 'InvalidRequest' : 'InternalError'));
  // the information system's own mistakes, seen by its own server, are X-Road's `Client.` faults
  if (origin === 'ClientProxy' && CLIENT_FAULTS.has(code)) return `Client.${name}`;
  return `Server.${origin}.${name}`;
}

/**
 * What an operational record keeps of a failure (PR-OPMON's faultCode and faultString): the fault as the
 * client was told it — a provider's refusal passed on by the client's server keeps its `Server.ServerProxy.`
 * code, as in X-Road — and its text, Vietnamese first and English beside.
 */
export function recordedFault(origin: ErrorOrigin, e: unknown): { fault: string; faultString: string } {
  const p = toProblem(e);
  return { fault: xroadFault(origin, e), faultString: `${problemMessageVi(p)} / ${String(p.detail ?? p.code)}` };
}

/** The body X-Road sends with a fault, with Trục's stable code and texts beside. */
export function xroadErrorBody(fault: string, e: unknown): Record<string, unknown> {
  const p = toProblem(e);
  const { xroadFault: _x, origin: _o, type: _t, detail: text, reason_vi: _r, ...rest } = p as Record<string, unknown>;
  return {
    type: fault,
    message: String(text ?? p.code),
    detail: randomUUID(),
    ...rest,
    problem_type: p.type,
    message_vi: problemMessageVi(p),
    message_en: String(text ?? p.code),
  };
}

/**
 * A refusal's Vietnamese text: the code's own, then — when there is one — a server in maintenance mode with
 * its owner's message (often Vietnamese), or the refusal's own reason in Vietnamese (`reason_vi`).
 */
export function problemMessageVi(p: { code: string; maintenance?: unknown; reason_vi?: unknown }): string {
  const reason = p.maintenance ?? p.reason_vi;
  return typeof reason === 'string' ? `${xroadMessageVi(p.code)}: ${reason}` : xroadMessageVi(p.code);
}

const VI: Record<string, string> = {
  bad_request: 'Yêu cầu không đúng giao thức thông điệp của X-Road',
  bad_identifier: 'Định danh không hợp lệ',
  unknown_client: 'Thiếu hoặc sai tiêu đề X-Road-Client',
  too_large: 'Nội dung vượt quá giới hạn cho phép',
  unknown_member: 'Thành viên không có trong cấu hình toàn cục',
  unknown_service: 'Dịch vụ không tồn tại',
  client_not_owned: 'Hệ thống khách không thuộc máy chủ an ninh này',
  access_denied: 'Không có quyền truy cập dịch vụ',
  conf_expired: 'Cấu hình toàn cục đã hết hạn',
  conf_outdated: 'Cấu hình toàn cục đã cũ',
  conf_invalid: 'Cấu hình toàn cục không hợp lệ',
  bad_message: 'Thông điệp không hợp lệ',
  replayed_message: 'Thông điệp bị gửi lại',
  bad_message_signature: 'Chữ ký thông điệp không hợp lệ',
  cert_invalid: 'Chứng thư số không hợp lệ',
  cert_revoked: 'Chứng thư số đã bị thu hồi',
  ocsp_stale: 'Trạng thái OCSP đã quá cũ',
  peer_unreachable: 'Không kết nối được máy chủ an ninh bên cung cấp',
  peer_failed: 'Máy chủ an ninh bên cung cấp gặp lỗi',
  service_failed: 'Hệ thống thông tin cung cấp dịch vụ gặp lỗi',
  timestamp_unavailable: 'Nhật ký thông điệp chưa được gắn dấu thời gian quá thời hạn',
  log_failure: 'Không ghi được nhật ký thông điệp',
  server_maintenance: 'Máy chủ an ninh đang bảo trì',
  internal: 'Lỗi nội bộ',
};

/** The Vietnamese meaning of one of our codes, as information systems are told it. */
export function xroadMessageVi(code: string): string {
  return VI[code] ?? 'Lỗi trên trục liên thông';
}

/**
 * Whether the caller's Accept header asks for XML rather than JSON (PR-REST 4.6: the error follows the
 * suggested content type, JSON by default): the media range with the higher quality wins, JSON on a tie.
 */
export function prefersXml(accept: string | undefined): boolean {
  if (!accept) return false;
  let json = -1;
  let xml = -1;
  for (const item of accept.split(',')) {
    const [range, ...params] = item.trim().toLowerCase().split(';');
    const qp = params.map((x) => x.trim()).find((x) => x.startsWith('q='));
    const q = qp ? Number(qp.slice(2)) : 1;
    if (!Number.isFinite(q)) continue;
    if (range === 'application/json' || range === 'application/*' || range === '*/*') json = Math.max(json, range === 'application/json' ? q : q - 0.0001);
    if (range === 'application/xml' || range === 'text/xml') xml = Math.max(xml, q);
  }
  return xml > 0 && xml > json;
}

const xmlText = (v: unknown) => String(v).replace(/[<>&]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&amp;'));

/** The error body as XML: X-Road's `type`, `message`, `detail` and Trục's members, one element each. */
export function xroadErrorXml(body: Record<string, unknown>): Buffer {
  const members = Object.entries(body)
    .filter(([k, v]) => /^[a-z_]+$/i.test(k) && v !== undefined && v !== null && typeof v !== 'object')
    .map(([k, v]) => `<${k}>${xmlText(v)}</${k}>`)
    .join('');
  return Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<error>${members}</error>\n`, 'utf8');
}

export function sendXroadError(res: ServerResponse, e: unknown, origin: ErrorOrigin, extra: Record<string, string> = {}, accept?: string, status?: number): void {
  const fault = xroadFault(origin, e);
  const xml = prefersXml(accept);
  const body = xml ? xroadErrorXml(xroadErrorBody(fault, e)) : Buffer.from(JSON.stringify(xroadErrorBody(fault, e)));
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status ?? (fault.startsWith('Client.') ? 400 : 500), {
    'content-type': xml ? 'application/xml; charset=utf-8' : 'application/json; charset=utf-8',
    'content-length': body.length,
    'x-road-error': fault,
    ...extra,
  });
  res.end(body);
}

/**
 * A request Node's HTTP parser refused before any handler saw it (Node answers these itself, with an empty
 * body): headers too large (431), a timeout while the headers arrive (408), anything unparsable (400). The
 * information system gets X-Road's form all the same — `X-Road-Error` and the JSON body — and the connection
 * closes. Returns the error, for the caller's monitoring event; null when the socket was already gone.
 */
export function answerClientError(err: NodeJS.ErrnoException & { rawPacket?: unknown; bytesParsed?: number }, socket: Duplex): TrucError | null {
  const { status, code } = parserRefusal(err);
  const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket : undefined;
  // the line the parser stopped in (the packet may begin with requests pipelined before it), up to where it stopped
  const at = Math.min(raw?.length ?? 0, Math.max(0, err.bytesParsed ?? raw?.length ?? 0));
  const line = raw ? raw.subarray(raw.lastIndexOf(0x0a, at - 1) + 1, Math.min(raw.length, at + 64 * 1024)).toString('latin1') : '';
  // the request line alone over the limit: the target is too long (414, RFC 9110 §15.5.15), not the headers
  if (code === 'too_large' && REQUEST_LINE_START.test(line))
    return answerOnSocket(socket, 414, new TrucError('too_large', 'the request target is longer than the security server accepts (16 KiB with the headers)', { reason_vi: 'đường dẫn yêu cầu dài quá mức máy chủ an ninh chấp nhận (16 KiB cùng các tiêu đề)' }));
  // a well-formed request line whose method Node's parser does not know: not implemented (501, RFC 9110 §9.1)
  const method = err.code === 'HPE_INVALID_METHOD' ? /^([!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}) [^\s]+ HTTP\/1\.[01]\r?\n/.exec(line)?.[1] : undefined;
  if (method)
    return answerOnSocket(socket, 501, new TrucError('unsupported', `the method ${method} is not one the security server carries (methods are case-sensitive: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS and the other registered ones)`, { reason_vi: `máy chủ an ninh không chuyển phương thức ${method} (phân biệt chữ hoa: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS và các phương thức đã đăng ký khác)` }));
  const e =
    code === 'too_large'
      ? new TrucError('too_large', 'the request headers are larger than the security server accepts')
      : new TrucError('bad_request', status === 408 ? 'the request headers did not arrive in time' : `the request is not valid HTTP (${err.code ?? 'parse error'})`);
  return answerOnSocket(socket, status, e);
}

/** a request line's start (a method, a space, a target): a header line has a colon before any space */
const REQUEST_LINE_START = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32} \S/;

/**
 * A refusal written straight to a socket no HTTP response object holds (the parser's refusals, a CONNECT), in
 * X-Road's form; the connection closes after it. Null when the socket can no longer be written.
 */
export function answerOnSocket(socket: Duplex, status: number, e: TrucError): TrucError | null {
  if (!socket.writable) {
    socket.destroy();
    return null;
  }
  const fault = xroadFault('ClientProxy', e);
  const body = JSON.stringify(xroadErrorBody(fault, e));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Road-Error: ${fault}\r\nConnection: close\r\n\r\n${body}`,
  );
  return e;
}

/** Reads a provider-side refusal (a problem document) back into a TrucError. */
export function errorFromProblem(status: number, body: Buffer): TrucError {
  return readRefusal(status, body).error;
}

/**
 * A provider-side refusal read once: the error it carries, and whether the provider closes the connection after
 * it (`closing`; anything that is not a problem document counts as closing — the connection is not trusted).
 */
export function readRefusal(status: number, body: Buffer): { error: TrucError; closing: boolean } {
  try {
    const p = JSON.parse(body.toString('utf8'));
    if (p && typeof p.code === 'string') {
      const e = new TrucError(p.code, String(p.detail ?? p.code), {
        origin: 'provider',
        ...(typeof p.xroadFault === 'string' ? { xroadFault: p.xroadFault } : {}),
        ...(p.code === 'server_maintenance' && typeof p.maintenance === 'string' ? { maintenance: p.maintenance.slice(0, 2000) } : {}),
        ...(typeof p.reason_vi === 'string' ? { reason_vi: p.reason_vi.slice(0, 2000) } : {}),
      });
      // keep the provider's status where the code is one we know, else a peer failure
      return { error: isTrucError(e) && e.status ? e : new TrucError('peer_failed', String(p.detail ?? ''), { origin: 'provider' }), closing: p.closing === true };
    }
  } catch {
    /* not a problem document */
  }
  return { error: new TrucError('peer_failed', `the provider's security server answered ${status}`, { status }), closing: true };
}
