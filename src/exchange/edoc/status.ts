/**
 * Status packets: what a recipient agency reports back about a document (QCVN 102:2016 `Status`):
 * the document it answers (ResponseFor), who reports (From, StaffInfo), the code, a description and the
 * time. And the machine of which status may follow which, one per (document, recipient):
 *
 *   (none) → 01 arrived → 02 refused (final)
 *                       → 03 registered → 04 assigned ⟲ → 05 in progress ⟲ → 06 done (final)
 *   any of 01…06 → 13 recall/update/replacement requested → 15 accepted (a recall or replacement ends the
 *                                 document; an update starts it again at 01, the updated version arrived)
 *                                              → 16 refused (back to where it was)
 *   13 after 06, for a recall: only 16 — a document already done is not recalled.
 */
import { TrucError } from '../../errors.js';
import { bad, checkOrgan, checkRef, EDXML_NS, canonicalTime, parseTime, text, type DocumentRef, type Organ } from './package.js';
import { el, esc, field, one, parseBounded, readOrgan, readRef, refXml } from './xml.js';

export const STATUS_CODES = {
  '01': { vi: 'Đã đến', en: 'arrived' },
  '02': { vi: 'Từ chối tiếp nhận', en: 'refused' },
  '03': { vi: 'Đã tiếp nhận, vào sổ', en: 'accepted and registered' },
  '04': { vi: 'Đã phân công', en: 'assigned' },
  '05': { vi: 'Đang xử lý', en: 'in progress' },
  '06': { vi: 'Hoàn thành', en: 'done' },
  '13': { vi: 'Yêu cầu thu hồi/cập nhật', en: 'recall or update requested' },
  '15': { vi: 'Đồng ý thu hồi/cập nhật', en: 'recall or update accepted' },
  '16': { vi: 'Từ chối thu hồi/cập nhật', en: 'recall or update refused' },
} as const;
export type StatusCode = keyof typeof STATUS_CODES;
export const isStatusCode = (c: unknown): c is StatusCode => typeof c === 'string' && Object.hasOwn(STATUS_CODES, c);

export interface StaffInfo {
  department?: string;
  staff?: string;
  email?: string;
  mobile?: string;
}

export interface StatusPacket {
  responseFor: DocumentRef;
  from: Organ;
  staff?: StaffInfo;
  code: StatusCode;
  description?: string;
  /**
   * the time of the status: written as ISO 8601; read in any form `parseTime` takes (dd/MM/yyyy HH:mm:ss day
   * first, Vietnam time without an offset) and given by `parseStatus` as ISO 8601 with its offset (`canonicalTime`)
   */
  timestamp: string;
}

/** Where one recipient stands with one document. */
export interface StatusState {
  code: StatusCode | null;
  /** while a recall or update is pending (13): the status before it, and which it is */
  before?: StatusCode | null;
  pending?: 'recall' | 'update' | 'replace';
  /** a recall accepted (15): nothing may follow */
  recalled?: boolean;
}

export const INITIAL_STATE: StatusState = { code: null };

const NEXT: Record<string, StatusCode[]> = {
  '': ['01'],
  '01': ['02', '03'],
  '02': [],
  '03': ['04', '05', '06'],
  '04': ['04', '05', '06'],
  '05': ['05', '06'],
  '06': [],
};

/** The codes that may follow `s` (the business flow only; 13 comes with a recall or update package). */
export function allowedNext(s: StatusState): StatusCode[] {
  if (s.recalled) return [];
  if (s.code === '13') return s.pending === 'recall' && s.before === '06' ? ['16'] : ['15', '16'];
  return NEXT[s.code ?? ''] ?? [];
}

/**
 * The state after `code`, or `conflict` naming what may follow instead. `kind` says, for 13, whether a
 * recall or an update is requested. The refusal's detail names the status as `statusCode` (`code` is the
 * problem document's own: `conflict`).
 */
export function advance(s: StatusState, code: StatusCode, kind: 'recall' | 'update' | 'replace' = 'recall'): StatusState {
  if (s.recalled) throw new TrucError('conflict', `văn bản đã bị thu hồi, không trạng thái nào được theo sau (${code}) / the document was recalled: no status may follow (${code})`, { from: s.code, statusCode: code });
  if (code === '13') {
    if (s.code === '13') throw new TrucError('conflict', 'đang có yêu cầu thu hồi hoặc cập nhật chờ trả lời / a recall or update is already pending', { from: s.code, statusCode: code });
    return { code, before: s.code, pending: kind };
  }
  const allowed = allowedNext(s);
  if (!allowed.includes(code)) {
    const done = s.code === '13' && s.pending === 'recall' && s.before === '06';
    const extra = done ? ' — a document already done (06) cannot be recalled' : '';
    const extraVi = done ? ' — văn bản đã hoàn thành (06) không thể thu hồi' : '';
    throw new TrucError(
      'conflict',
      `trạng thái ${code} (${STATUS_CODES[code].vi}) không được theo sau ${s.code ?? 'trạng thái trống'}; được phép: ${allowed.join(', ') || 'không có'}${extraVi} / status ${code} (${STATUS_CODES[code].en}) may not follow ${s.code ?? 'nothing'}; allowed: ${allowed.join(', ') || 'none'}${extra}`,
      { from: s.code, statusCode: code, allowed },
    );
  }
  // an accepted recall or replacement ends the document; an accepted update starts it again
  if (code === '15') return s.pending === 'update' ? { code: null } : { code, recalled: true };
  if (code === '16') return { code: s.before ?? null };
  return { code };
}

/**
 * The sender's view of a recipient. Packets cross: a status the recipient sent before the recall or update
 * reached it may arrive after the sender moved to 13 — it then moves the status the request will return to
 * (so a document found done is one whose recall can only be refused), and 13 stays.
 */
export function advanceReported(s: StatusState, code: StatusCode): StatusState {
  // 13 is the sender's own: it comes with the sender's recall, update or replacement, never from a recipient
  // (a recipient's 13, and a 15 after it, would mark recalled a document its sender never recalled)
  if (code === '13')
    throw new TrucError('conflict', 'trạng thái 13 chỉ do chính cơ quan gửi đặt khi thu hồi, cập nhật hoặc thay thế, cơ quan nhận không báo trạng thái này / status 13 comes only with the sender’s own recall, update or replacement, never from a recipient', { from: s.code, statusCode: code, allowed: allowedNext(s) });
  if (s.code === '13' && code !== '15' && code !== '16') {
    const inner = advance({ code: s.before ?? null }, code);
    return { ...s, before: inner.code };
  }
  return advance(s, code, s.pending ?? 'recall');
}

export function checkStatus(p: StatusPacket): void {
  if (!p || typeof p !== 'object') throw bad('Status', 'is required', 'bắt buộc phải có');
  checkRef('ResponseFor', p.responseFor);
  checkOrgan('From', p.from);
  if (!isStatusCode(p.code)) throw bad('StatusCode', `"${String(p.code).slice(0, 10)}" is not one of ${Object.keys(STATUS_CODES).join(', ')}`, `"${String(p.code).slice(0, 10)}" không phải một trong các mã ${Object.keys(STATUS_CODES).join(', ')}`);
  if (p.staff !== undefined && (!p.staff || typeof p.staff !== 'object')) throw bad('StaffInfo', 'must be an object', 'phải là đối tượng');
  for (const [k, max] of [['department', 4096], ['staff', 4096], ['email', 256], ['mobile', 64]] as const) text(`StaffInfo.${k[0]!.toUpperCase()}${k.slice(1)}`, p.staff?.[k], false, max);
  text('Description', p.description, false, 4096);
  parseTime('Timestamp', p.timestamp);
}

export function writeStatus(p: StatusPacket): string {
  checkStatus(p);
  const s = p.staff;
  const o = p.from;
  const i = '      ';
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<Status xmlns="${EDXML_NS}">\n  <Header>\n` +
    refXml('ResponseFor', p.responseFor, '    ') +
    `    <From>\n${el('OrganId', o.organId, i)}${el('OrganInCharge', o.organInCharge, i)}${el('OrganName', o.organName, i)}${el('OrganAdd', o.organAdd, i)}${el('Email', o.email, i)}${el('Telephone', o.telephone, i)}${el('Fax', o.fax, i)}${el('Website', o.website, i)}    </From>\n` +
    (s ? `    <StaffInfo>\n${el('Department', s.department, i)}${el('Staff', s.staff, i)}${el('Email', s.email, i)}${el('Mobile', s.mobile, i)}    </StaffInfo>\n` : '') +
    `    <StatusCode>${esc(p.code)}</StatusCode>\n` +
    el('Description', p.description, '    ') +
    el('Timestamp', p.timestamp, '    ') +
    '  </Header>\n</Status>\n'
  );
}

export function parseStatus(xml: Uint8Array | string): StatusPacket {
  const doc = parseBounded(xml, 'Status');
  const root = doc.documentElement;
  if (root.localName !== 'Status' || root.namespaceURI !== EDXML_NS) throw bad('Status', `the root element is {${root.namespaceURI ?? ''}}${root.localName}, not Status in ${EDXML_NS}`, `phần tử gốc là {${root.namespaceURI ?? ''}}${root.localName}, không phải Status`);
  const h = one(root, 'Header', 'Header', true);
  const staff = one(h, 'StaffInfo', 'StaffInfo');
  const code = field(h, 'StatusCode', 'Header', true)!;
  const p: StatusPacket = {
    responseFor: readRef(one(h, 'ResponseFor', 'ResponseFor', true), 'ResponseFor'),
    from: readOrgan(one(h, 'From', 'From', true), 'From'),
    code: code as StatusCode,
    timestamp: field(h, 'Timestamp', 'Header', true)!,
  };
  if (staff) {
    const st: StaffInfo = {};
    for (const [k, n] of [['department', 'Department'], ['staff', 'Staff'], ['email', 'Email'], ['mobile', 'Mobile']] as const) {
      const v = field(staff, n, 'StaffInfo');
      if (v !== undefined) st[k] = v;
    }
    p.staff = st;
  }
  const d = field(h, 'Description', 'Header');
  if (d !== undefined) p.description = d;
  checkStatus(p);
  // the time as read (day first, Vietnam time without an offset), kept as ISO 8601 with its offset
  p.timestamp = canonicalTime('Timestamp', p.timestamp);
  return p;
}
