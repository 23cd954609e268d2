/**
 * The edXML package as values: the header of QCVN 102:2016/BTTTT (sender, recipients, number and notation,
 * promulgation, type, subject, signer, priority, steering type, the documents it answers, the trace of
 * the axes it passed, the business kind — new, recall, update, replace) and the manifest of attachments,
 * which travel outside the envelope (see `frame.ts`) and are bound to it by their SHA-256 here. Checks are
 * field by field: a package that fails one is `bad_package` with the field's path in `detail.field`.
 */
import { TrucError } from '../../errors.js';
import { AGENCY_CODE } from '../ids.js';
import { LEVELS, type Level } from '../../vault/labels/levels.js';

export const EDXML_NS = 'http://www.mic.gov.vn/TBT/QCVN_102_2016';
/**
 * Our extension namespace in edXML: QCVN 102:2016 has no confidentiality (độ mật) field, so the
 * classification travels as `OtherInfo/truc:Classification`, inside the signed envelope. Receivers that do
 * not know it ignore it (the standard's readers skip unknown elements, ours included).
 */
export const TRUC_EDXML_NS = 'urn:truc:edxml:1';

export interface Organ {
  organId: string;
  organName: string;
  organInCharge?: string;
  organAdd?: string;
  email?: string;
  telephone?: string;
  fax?: string;
  website?: string;
}

/** A document this one answers (ResponseFor) or replaces. */
export interface DocumentRef {
  organId: string;
  /** `number/notation` as written on the document */
  code: string;
  /** yyyy-MM-dd */
  promulgationDate: string;
  documentId: string;
}

export interface TraceHeader {
  organId: string;
  /** a time as `canonicalTime` reads it (ISO 8601, or the forms document systems write); the reader gives ISO 8601 with its offset */
  timestamp: string;
}

/** 0 normal, 1 urgent (khẩn), 2 very urgent (thượng khẩn), 3 flash (hỏa tốc), 4 timed flash (hỏa tốc hẹn giờ) */
export type Priority = 0 | 1 | 2 | 3 | 4;
/** 0 new, 1 recall, 2 update, 3 replace */
export type BusinessDocType = 0 | 1 | 2 | 3;
export const BUSINESS_DOC_TYPES: Record<BusinessDocType, string> = { 0: 'new', 1: 'recall', 2: 'update', 3: 'replace' };

export interface Business {
  docType: BusinessDocType;
  /** why recalled, updated or replaced (required for 1, 2, 3) */
  docReason?: string;
  /** 0 electronic only, 1 a paper copy follows */
  paper?: 0 | 1;
  /** what an update changes (names of fields or a note) */
  updateInfo?: string[];
  /** replace: the documents this one replaces */
  replaces?: DocumentRef[];
  /** recall and update: who in the recipient agency should act (free text) */
  staffInfo?: { department?: string; staff?: string; email?: string; mobile?: string };
}

export interface Attachment {
  /** unique in the package; the frame carrying the bytes names it */
  contentId: string;
  contentType: string;
  attachmentName: string;
  description?: string;
  size: number;
  /** SHA-256 of the bytes, hex */
  sha256: string;
}

export interface PackageHeader {
  from: Organ;
  to: Organ[];
  documentId: string;
  code: { number: string; notation: string };
  promulgation: { place: string; date: string };
  documentType: { type: number; typeName: string };
  subject: string;
  content?: string;
  signer: { competence?: string; position?: string; fullName: string };
  /** yyyy-MM-dd */
  dueDate?: string;
  toPlaces: string[];
  otherInfo: {
    priority: Priority;
    sphereOfPromulgation?: string;
    typerNotation?: string;
    promulgationAmount?: number;
    pageAmount?: number;
    appendixes: string[];
  };
  /**
   * The document's classification (Law on Protection of State Secrets: unclassified, mat, toi-mat,
   * tuyet-mat) — our extension element; undefined when the package declares none (older systems)
   */
  classification?: Level;
  /** 0 none, 1 steering (chỉ đạo), 2 reporting (báo cáo) — kept as the number the sender wrote */
  steeringType?: number;
  responseFor: DocumentRef[];
  traces: TraceHeader[];
  business: Business;
}

export interface EdocPackage {
  header: PackageHeader;
  attachments: Attachment[];
}

/** Bounds on one package (hostile input). */
export const PACKAGE_LIMITS = {
  text: 4096,
  content: 64 * 1024,
  recipients: 500,
  attachments: 200,
  listItems: 200,
} as const;

export const DOCUMENT_ID = /^(\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}),(\d{4})\/(\d{2})\/(\d{2}),([^,/\s][^,/]*)\/([^,/\s][^,]*)$/u;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const CONTENT_ID = /^[A-Za-z0-9._@-]{1,128}$/;
const CONTENT_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/i;

/**
 * `bad_package` naming the field, worded Vietnamese first with English beside (`vi` for the Vietnamese; a
 * general "giá trị không hợp lệ" when a check has none of its own).
 */
export function bad(field: string, message: string, vi = 'giá trị không hợp lệ'): TrucError {
  return new TrucError('bad_package', `gói tin không hợp lệ, trường ${field}: ${vi} / ${field}: ${message}`, { field });
}

/** A UTF-16 surrogate without its other half: not a character, not storable as UTF-8 (nor in PostgreSQL text or jsonb). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * A text field. Blank (empty or only spaces) counts as absent — a reader trims every text it reads, so a
 * field of spaces would reach the recipient as missing.
 */
export function text(field: string, v: unknown, required: boolean, max: number = PACKAGE_LIMITS.text): void {
  if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '')) {
    if (required) throw bad(field, 'is required', 'bắt buộc phải có, không để trống');
    return;
  }
  if (typeof v !== 'string') throw bad(field, 'must be text', 'phải là văn bản (chuỗi ký tự)');
  if (v.length > max) throw bad(field, `is longer than ${max} characters`, `dài quá ${max} ký tự`);
  // control characters other than tab and newlines cannot be written in XML 1.0
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(v)) throw bad(field, 'holds control characters', 'chứa ký tự điều khiển');
  if (LONE_SURROGATE.test(v)) throw bad(field, 'holds a lone UTF-16 surrogate, which is not a character', 'chứa nửa cặp thay thế UTF-16, không phải ký tự');
}

function validDate(field: string, v: string): void {
  const m = DATE.exec(v);
  if (!m) throw bad(field, `"${v.slice(0, 40)}" is not a date yyyy-MM-dd`, `"${v.slice(0, 40)}" không phải ngày dạng yyyy-MM-dd`);
  const d = new Date(`${v}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== v) throw bad(field, `"${v}" is not a calendar date`, `"${v}" không phải ngày có thật`);
}

/** A date the clerk gives (yyyy-MM-dd, a real day), or `bad_package` naming the field. */
export function checkDate(field: string, v: unknown): void {
  text(field, v, true, 10);
  validDate(field, v as string);
}

/**
 * A date as document systems write it: yyyy-MM-dd, or yyyy/MM/dd (the form DocumentId uses, which the
 * edXML SDKs also write in PromulgationDate and DueDate) — given as yyyy-MM-dd; anything else as it is,
 * for the checks to refuse.
 */
export function readDate(v: string | undefined): string | undefined {
  return v !== undefined && /^\d{4}\/\d{2}\/\d{2}$/.test(v) ? v.replaceAll('/', '-') : v;
}

/** Vietnam's offset from UTC, in minutes: a time written without an offset is a time in Vietnam. */
export const VN_OFFSET_MINUTES = 7 * 60;

const TIME_OF_DAY = '[T ](\\d{2}):(\\d{2})(?::(\\d{2})(?:[.,](\\d{1,9}))?)?\\s*(Z|[+-]\\d{2}(?::?\\d{2})?)?';
/** the date forms of a time, each with where its year, month and day are */
const TIME_FORMS: { re: RegExp; y: number; m: number; d: number }[] = [
  // ISO 8601 / RFC 3339 (a space for the T, as SQL and many systems write it)
  { re: new RegExp(`^(\\d{4})-(\\d{2})-(\\d{2})${TIME_OF_DAY}$`, 'i'), y: 1, m: 2, d: 3 },
  // yyyy/MM/dd HH:mm:ss
  { re: new RegExp(`^(\\d{4})\\/(\\d{2})\\/(\\d{2})${TIME_OF_DAY}$`, 'i'), y: 1, m: 2, d: 3 },
  // dd/MM/yyyy HH:mm:ss — the Vietnamese order, day first (never read as MM/dd)
  { re: new RegExp(`^(\\d{2})\\/(\\d{2})\\/(\\d{4})${TIME_OF_DAY}$`, 'i'), y: 3, m: 2, d: 1 },
];

/**
 * A time (a status's Timestamp, a TraceHeader's), read strictly: ISO 8601 date and time (`T` or a space
 * between them, seconds and fraction optional, `Z` or an offset ±HH:MM / ±HHMM / ±HH), `yyyy/MM/dd HH:mm:ss`
 * or `dd/MM/yyyy HH:mm:ss` (day first, as Vietnamese systems write it); without an offset, Vietnam time
 * (UTC+07:00). Years 0001–9999, every part in its range (no 30 February, no hour 24); anything else —
 * `Date.parse`'s guesses ("March 7", "1"), six-digit years — is `bad_package` naming the field. Gives the
 * time as ISO 8601 with its offset (`2026-12-02T09:00:00+07:00`; a fraction kept to milliseconds): how the
 * desk keeps the times it reads.
 */
export function canonicalTime(field: string, v: unknown): string {
  text(field, v, true, 64);
  const s = (v as string).trim();
  const no = () => bad(field, `"${s.slice(0, 40)}" is not a time (ISO 8601, e.g. 2026-12-02T09:00:00+07:00, or dd/MM/yyyy HH:mm:ss)`, `"${s.slice(0, 40)}" không phải thời điểm (ISO 8601, ví dụ 2026-12-02T09:00:00+07:00, hoặc dd/MM/yyyy HH:mm:ss)`);
  const two = (n: number) => String(n).padStart(2, '0');
  for (const f of TIME_FORMS) {
    const m = f.re.exec(s);
    if (!m) continue;
    const [y, mo, d] = [Number(m[f.y]), Number(m[f.m]), Number(m[f.d])];
    const [hh, mi, ss] = [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
    const fraction = m[7] ? `.${m[7].padEnd(3, '0').slice(0, 3)}` : '';
    const off = m[8];
    let offset = `+${two(VN_OFFSET_MINUTES / 60)}:${two(VN_OFFSET_MINUTES % 60)}`;
    if (off && off.toUpperCase() === 'Z') offset = 'Z';
    else if (off) {
      const digits = off.slice(1).replace(':', '');
      const oh = Number(digits.slice(0, 2));
      const om = Number(digits.slice(2) || 0);
      if (oh > 14 || om > 59) throw no();
      offset = `${off[0]}${two(oh)}:${two(om)}`;
    }
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || hh > 23 || mi > 59 || ss > 59) throw no();
    const t = new Date(0);
    t.setUTCFullYear(y, mo - 1, d);
    if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) throw no();
    return `${String(y).padStart(4, '0')}-${two(mo)}-${two(d)}T${two(hh)}:${two(mi)}:${two(ss)}${fraction}${offset}`;
  }
  throw no();
}

/** The instant of a time `canonicalTime` takes. */
export const parseTime = (field: string, v: unknown): Date => new Date(canonicalTime(field, v));

function int(field: string, v: unknown, min: number, max: number, required: boolean): void {
  if (v === undefined || v === null) {
    if (required) throw bad(field, 'is required', 'bắt buộc phải có');
    return;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(field, `must be an integer from ${min} to ${max}`, `phải là số nguyên từ ${min} đến ${max}`);
}

export function checkAgencyCode(field: string, v: unknown): void {
  text(field, v, true, 32);
  if (!AGENCY_CODE.test(v as string)) throw bad(field, `"${String(v).slice(0, 40)}" is not an agency code NNN.NN.NN.Xnn`, `"${String(v).slice(0, 40)}" không phải mã định danh cơ quan dạng NNN.NN.NN.Xnn`);
}

export function checkOrgan(field: string, o: Organ | undefined, requireName = true): void {
  if (!o || typeof o !== 'object') throw bad(field, 'is required', 'bắt buộc phải có');
  checkAgencyCode(`${field}.OrganId`, o.organId);
  text(`${field}.OrganName`, o.organName, requireName);
  text(`${field}.OrganInCharge`, o.organInCharge, false);
  text(`${field}.OrganAdd`, o.organAdd, false);
  text(`${field}.Email`, o.email, false, 256);
  if (o.email?.trim() && !/^[^\s@]+@[^\s@]+$/.test(o.email.trim())) throw bad(`${field}.Email`, `"${o.email.slice(0, 60)}" is not an e-mail address`, `"${o.email.slice(0, 60)}" không phải địa chỉ thư điện tử`);
  text(`${field}.Telephone`, o.telephone, false, 64);
  text(`${field}.Fax`, o.fax, false, 64);
  text(`${field}.Website`, o.website, false, 256);
}

/** `<OrganId>,<yyyy/MM/dd>,<number>/<notation>` split into its parts, or `bad_package`. */
export function parseDocumentId(id: string, field = 'DocumentId'): { organId: string; date: string; number: string; notation: string } {
  text(field, id, true, 512);
  const m = DOCUMENT_ID.exec(id);
  if (!m) throw bad(field, `"${id.slice(0, 80)}" is not <OrganId>,<yyyy/MM/dd>,<number>/<notation>`, `"${id.slice(0, 80)}" không có dạng <mã cơ quan>,<yyyy/MM/dd>,<số>/<ký hiệu>`);
  const date = `${m[2]}-${m[3]}-${m[4]}`;
  validDate(field, date);
  return { organId: m[1]!, date, number: m[5]!, notation: m[6]! };
}

export function documentIdOf(organId: string, date: string, number: string, notation: string): string {
  return `${organId},${date.replaceAll('-', '/')},${number}/${notation}`;
}

/**
 * A document named by another (ResponseFor, ReplacementInfo): its OrganId, Code and PromulgationDate must
 * be those its DocumentId is made of — a reference whose parts contradict each other names two documents.
 */
export function checkRef(field: string, r: DocumentRef): void {
  if (!r || typeof r !== 'object') throw bad(field, 'is required', 'bắt buộc phải có');
  checkAgencyCode(`${field}.OrganId`, r.organId);
  text(`${field}.Code`, r.code, true, 256);
  text(`${field}.PromulgationDate`, r.promulgationDate, true, 10);
  validDate(`${field}.PromulgationDate`, r.promulgationDate);
  const id = parseDocumentId(r.documentId, `${field}.DocumentId`);
  if (id.organId !== r.organId) throw bad(`${field}.OrganId`, `${r.organId} differs from the agency of DocumentId (${id.organId})`, `${r.organId} khác cơ quan trong DocumentId (${id.organId})`);
  if (`${id.number}/${id.notation}` !== r.code) throw bad(`${field}.Code`, `"${r.code.slice(0, 80)}" differs from the number of DocumentId (${id.number}/${id.notation})`, `"${r.code.slice(0, 80)}" khác số, ký hiệu trong DocumentId (${id.number}/${id.notation})`);
  if (id.date !== r.promulgationDate) throw bad(`${field}.PromulgationDate`, `${r.promulgationDate} differs from the date of DocumentId (${id.date})`, `${r.promulgationDate} khác ngày ban hành trong DocumentId (${id.date})`);
}

/** Bidirectional embeddings, overrides and isolates: they make "Quyết định‮fdp.exe" look like a PDF. */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/;
/** C0 and C1 control characters, DEL: nothing a file name shows */
const NAME_CONTROLS = /[\u0000-\u001f\u007f-\u009f]/;

/** An attachment's file name: no folders, no control or bidirectional characters, no spaces around it. */
function checkAttachmentName(f: string, name: string): void {
  text(f, name, true, 255);
  if (/[/\\]/.test(name) || name === '.' || name === '..') throw bad(f, 'a file name without folders', 'phải là tên tệp, không có thư mục');
  if (NAME_CONTROLS.test(name)) throw bad(f, 'holds control characters (line breaks, tabs …)', 'chứa ký tự điều khiển (xuống dòng, tab …)');
  if (BIDI_CONTROLS.test(name)) throw bad(f, 'holds bidirectional formatting characters (U+202A–U+202E, U+2066–U+2069), which disguise a file name', 'chứa ký tự định hướng văn bản (U+202A–U+202E, U+2066–U+2069), có thể dùng để nguỵ trang tên tệp');
  if (name !== name.trim()) throw bad(f, 'begins or ends with spaces', 'có khoảng trắng ở đầu hoặc cuối');
}

/** Field-level checks of a whole package; the first failure throws `bad_package` naming the field. */
export function checkPackage(p: EdocPackage): void {
  const h = p?.header;
  if (!h || typeof h !== 'object') throw bad('edXMLHeader', 'is required', 'bắt buộc phải có');
  checkOrgan('From', h.from);
  if (!Array.isArray(h.to) || h.to.length === 0) throw bad('To', 'at least one recipient is required', 'phải có ít nhất một nơi nhận');
  if (h.to.length > PACKAGE_LIMITS.recipients) throw bad('To', `more than ${PACKAGE_LIMITS.recipients} recipients`, `nhiều hơn ${PACKAGE_LIMITS.recipients} nơi nhận`);
  h.to.forEach((o, i) => checkOrgan(`To[${i}]`, o));
  const seen = new Set<string>();
  for (const [i, o] of h.to.entries()) {
    if (seen.has(o.organId)) throw bad(`To[${i}].OrganId`, `${o.organId} is named twice`, `${o.organId} được ghi hai lần`);
    seen.add(o.organId);
  }
  const id = parseDocumentId(h.documentId);
  if (id.organId !== h.from.organId) throw bad('DocumentId', `names ${id.organId}, but the sender is ${h.from.organId}`, `ghi cơ quan ${id.organId}, nhưng cơ quan gửi là ${h.from.organId}`);
  if (!h.code || typeof h.code !== 'object') throw bad('Code', 'is required', 'bắt buộc phải có (số và ký hiệu văn bản)');
  text('Code.CodeNumber', h.code.number, true, 64);
  text('Code.CodeNotation', h.code.notation, true, 128);
  if (id.number !== h.code.number || id.notation !== h.code.notation)
    throw bad('DocumentId', `its number "${id.number}/${id.notation}" differs from Code "${h.code.number}/${h.code.notation}"`, `số, ký hiệu "${id.number}/${id.notation}" khác Code "${h.code.number}/${h.code.notation}"`);
  if (!h.promulgation || typeof h.promulgation !== 'object') throw bad('PromulgationInfo', 'is required', 'bắt buộc phải có (nơi và ngày ban hành)');
  text('PromulgationInfo.Place', h.promulgation.place, true);
  text('PromulgationInfo.PromulgationDate', h.promulgation.date, true, 10);
  validDate('PromulgationInfo.PromulgationDate', h.promulgation.date);
  if (id.date !== h.promulgation.date) throw bad('DocumentId', `its date ${id.date} differs from PromulgationDate ${h.promulgation.date}`, `ngày ${id.date} khác ngày ban hành ${h.promulgation.date}`);
  if (!h.documentType || typeof h.documentType !== 'object') throw bad('DocumentType', 'is required', 'bắt buộc phải có (loại văn bản)');
  int('DocumentType.Type', h.documentType.type, 0, 999, true);
  text('DocumentType.TypeName', h.documentType.typeName, true, 256);
  text('Subject', h.subject, true);
  text('Content', h.content, false, PACKAGE_LIMITS.content);
  if (!h.signer || typeof h.signer !== 'object') throw bad('SignerInfo', 'is required', 'bắt buộc phải có (người ký)');
  text('SignerInfo.Competence', h.signer.competence, false);
  text('SignerInfo.Position', h.signer.position, false);
  text('SignerInfo.FullName', h.signer.fullName, true, 256);
  if (h.dueDate !== undefined) {
    text('DueDate', h.dueDate, true, 10);
    validDate('DueDate', h.dueDate);
  }
  if (!Array.isArray(h.toPlaces) || h.toPlaces.length > PACKAGE_LIMITS.listItems) throw bad('ToPlaces', `a list of at most ${PACKAGE_LIMITS.listItems} places`, `danh sách tối đa ${PACKAGE_LIMITS.listItems} nơi nhận`);
  h.toPlaces.forEach((pl, i) => text(`ToPlaces.Place[${i}]`, pl, true));
  const o = h.otherInfo;
  if (!o || typeof o !== 'object') throw bad('OtherInfo', 'is required', 'bắt buộc phải có');
  int('OtherInfo.Priority', o.priority, 0, 4, true);
  text('OtherInfo.SphereOfPromulgation', o.sphereOfPromulgation, false);
  text('OtherInfo.TyperNotation', o.typerNotation, false, 64);
  int('OtherInfo.PromulgationAmount', o.promulgationAmount, 0, 1_000_000, false);
  int('OtherInfo.PageAmount', o.pageAmount, 0, 1_000_000, false);
  if (!Array.isArray(o.appendixes) || o.appendixes.length > PACKAGE_LIMITS.listItems) throw bad('OtherInfo.Appendixes', `a list of at most ${PACKAGE_LIMITS.listItems} appendixes`, `danh sách tối đa ${PACKAGE_LIMITS.listItems} phụ lục`);
  o.appendixes.forEach((a, i) => text(`OtherInfo.Appendixes.Appendix[${i}]`, a, true));
  if (h.classification !== undefined && !(LEVELS as readonly string[]).includes(h.classification))
    throw bad('OtherInfo.Classification', `"${String(h.classification).slice(0, 20)}" is not one of ${LEVELS.join(', ')}`, `"${String(h.classification).slice(0, 20)}" không phải một trong các độ mật ${LEVELS.join(', ')}`);
  int('SteeringType', h.steeringType, 0, 9, false);
  if (!Array.isArray(h.responseFor) || h.responseFor.length > PACKAGE_LIMITS.listItems) throw bad('ResponseFor', 'a list', 'phải là danh sách');
  h.responseFor.forEach((r, i) => checkRef(`ResponseFor[${i}]`, r));
  if (!Array.isArray(h.traces) || h.traces.length > PACKAGE_LIMITS.listItems) throw bad('TraceHeaderList', 'a list', 'phải là danh sách');
  h.traces.forEach((t, i) => {
    checkAgencyCode(`TraceHeaderList.TraceHeader[${i}].OrganId`, t.organId);
    parseTime(`TraceHeaderList.TraceHeader[${i}].Timestamp`, t.timestamp);
  });
  const b = h.business;
  if (!b || typeof b !== 'object') throw bad('Bussiness', 'is required', 'bắt buộc phải có');
  int('Bussiness.BussinessDocType', b.docType, 0, 3, true);
  text('Bussiness.BussinessDocReason', b.docReason, b.docType !== 0);
  int('Bussiness.Paper', b.paper, 0, 1, false);
  if (b.updateInfo !== undefined) {
    if (!Array.isArray(b.updateInfo) || b.updateInfo.length > PACKAGE_LIMITS.listItems) throw bad('Bussiness.BussinessDocumentInfo', 'a list', 'phải là danh sách');
    b.updateInfo.forEach((u, i) => text(`Bussiness.BussinessDocumentInfo[${i}]`, u, true));
  }
  if (b.replaces !== undefined) {
    if (!Array.isArray(b.replaces) || b.replaces.length > PACKAGE_LIMITS.listItems) throw bad('Bussiness.ReplacementInfoList', 'a list', 'phải là danh sách');
    b.replaces.forEach((r, i) => {
      checkRef(`Bussiness.ReplacementInfoList[${i}]`, r);
      // an agency replaces its own documents only: another's would be put to 13 at the recipient by a stranger
      if (r.organId !== h.from.organId)
        throw bad(`Bussiness.ReplacementInfoList[${i}].OrganId`, `a replacement replaces documents of its sender (${h.from.organId}), not of ${r.organId}`, `văn bản thay thế chỉ thay thế văn bản của chính cơ quan gửi (${h.from.organId}), không phải của ${r.organId}`);
    });
  }
  if (b.docType === 3 && !b.replaces?.length) throw bad('Bussiness.ReplacementInfoList', 'a replacement names the documents it replaces', 'văn bản thay thế phải ghi các văn bản nó thay thế');
  if (b.staffInfo) {
    text('Bussiness.BussinessStaffInfo.Department', b.staffInfo.department, false);
    text('Bussiness.BussinessStaffInfo.Staff', b.staffInfo.staff, false);
    text('Bussiness.BussinessStaffInfo.Email', b.staffInfo.email, false, 256);
    text('Bussiness.BussinessStaffInfo.Mobile', b.staffInfo.mobile, false, 64);
  }
  if (!Array.isArray(p.attachments)) throw bad('edXMLManifest', 'is required', 'bắt buộc phải có');
  if (p.attachments.length > PACKAGE_LIMITS.attachments) throw bad('edXMLManifest', `more than ${PACKAGE_LIMITS.attachments} attachments`, `nhiều hơn ${PACKAGE_LIMITS.attachments} tệp đính kèm`);
  const ids = new Set<string>();
  p.attachments.forEach((a, i) => {
    const f = `edXMLManifest.Reference[${i}]`;
    text(`${f}.ContentId`, a.contentId, true, 128);
    if (!CONTENT_ID.test(a.contentId)) throw bad(`${f}.ContentId`, `"${a.contentId.slice(0, 40)}" may hold only letters, digits and . _ @ -`, `"${a.contentId.slice(0, 40)}" chỉ được có chữ, số và . _ @ -`);
    if (ids.has(a.contentId)) throw bad(`${f}.ContentId`, `${a.contentId} is named twice`, `${a.contentId} được ghi hai lần`);
    ids.add(a.contentId);
    text(`${f}.ContentType`, a.contentType, true, 128);
    if (!CONTENT_TYPE.test(a.contentType)) throw bad(`${f}.ContentType`, `"${a.contentType.slice(0, 60)}" is not a media type`, `"${a.contentType.slice(0, 60)}" không phải kiểu nội dung (media type)`);
    checkAttachmentName(`${f}.AttachmentName`, a.attachmentName);
    text(`${f}.Description`, a.description, false);
    int(`${f}.Size`, a.size, 0, Number.MAX_SAFE_INTEGER, true);
    if (typeof a.sha256 !== 'string' || !SHA256_HEX.test(a.sha256)) throw bad(`${f}.Hash`, 'a SHA-256 in 64 lower-case hex digits', 'phải là SHA-256 gồm 64 chữ số hex viết thường');
  });
}
