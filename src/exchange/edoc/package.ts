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
  /** ISO 8601 */
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

export function bad(field: string, message: string): TrucError {
  return new TrucError('bad_package', `${field}: ${message}`, { field });
}

function text(field: string, v: unknown, required: boolean, max: number = PACKAGE_LIMITS.text): void {
  if (v === undefined || v === null || v === '') {
    if (required) throw bad(field, 'is required');
    return;
  }
  if (typeof v !== 'string') throw bad(field, 'must be text');
  if (v.length > max) throw bad(field, `is longer than ${max} characters`);
  // control characters other than tab and newlines cannot be written in XML 1.0
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(v)) throw bad(field, 'holds control characters');
}

function validDate(field: string, v: string): void {
  const m = DATE.exec(v);
  if (!m) throw bad(field, `"${v.slice(0, 40)}" is not a date yyyy-MM-dd`);
  const d = new Date(`${v}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== v) throw bad(field, `"${v}" is not a calendar date`);
}

function int(field: string, v: unknown, min: number, max: number, required: boolean): void {
  if (v === undefined || v === null) {
    if (required) throw bad(field, 'is required');
    return;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(field, `must be an integer from ${min} to ${max}`);
}

export function checkAgencyCode(field: string, v: unknown): void {
  text(field, v, true, 32);
  if (!AGENCY_CODE.test(v as string)) throw bad(field, `"${String(v).slice(0, 40)}" is not an agency code NNN.NN.NN.Xnn`);
}

export function checkOrgan(field: string, o: Organ | undefined, requireName = true): void {
  if (!o || typeof o !== 'object') throw bad(field, 'is required');
  checkAgencyCode(`${field}.OrganId`, o.organId);
  text(`${field}.OrganName`, o.organName, requireName);
  text(`${field}.OrganInCharge`, o.organInCharge, false);
  text(`${field}.OrganAdd`, o.organAdd, false);
  text(`${field}.Email`, o.email, false, 256);
  if (o.email && !/^[^\s@]+@[^\s@]+$/.test(o.email)) throw bad(`${field}.Email`, `"${o.email.slice(0, 60)}" is not an e-mail address`);
  text(`${field}.Telephone`, o.telephone, false, 64);
  text(`${field}.Fax`, o.fax, false, 64);
  text(`${field}.Website`, o.website, false, 256);
}

/** `<OrganId>,<yyyy/MM/dd>,<number>/<notation>` split into its parts, or `bad_package`. */
export function parseDocumentId(id: string, field = 'DocumentId'): { organId: string; date: string; number: string; notation: string } {
  text(field, id, true, 512);
  const m = DOCUMENT_ID.exec(id);
  if (!m) throw bad(field, `"${id.slice(0, 80)}" is not <OrganId>,<yyyy/MM/dd>,<number>/<notation>`);
  const date = `${m[2]}-${m[3]}-${m[4]}`;
  validDate(field, date);
  return { organId: m[1]!, date, number: m[5]!, notation: m[6]! };
}

export function documentIdOf(organId: string, date: string, number: string, notation: string): string {
  return `${organId},${date.replaceAll('-', '/')},${number}/${notation}`;
}

export function checkRef(field: string, r: DocumentRef): void {
  if (!r || typeof r !== 'object') throw bad(field, 'is required');
  checkAgencyCode(`${field}.OrganId`, r.organId);
  text(`${field}.Code`, r.code, true, 256);
  text(`${field}.PromulgationDate`, r.promulgationDate, true, 10);
  validDate(`${field}.PromulgationDate`, r.promulgationDate);
  parseDocumentId(r.documentId, `${field}.DocumentId`);
}

/** Field-level checks of a whole package; the first failure throws `bad_package` naming the field. */
export function checkPackage(p: EdocPackage): void {
  const h = p?.header;
  if (!h || typeof h !== 'object') throw bad('edXMLHeader', 'is required');
  checkOrgan('From', h.from);
  if (!Array.isArray(h.to) || h.to.length === 0) throw bad('To', 'at least one recipient is required');
  if (h.to.length > PACKAGE_LIMITS.recipients) throw bad('To', `more than ${PACKAGE_LIMITS.recipients} recipients`);
  h.to.forEach((o, i) => checkOrgan(`To[${i}]`, o));
  const seen = new Set<string>();
  for (const [i, o] of h.to.entries()) {
    if (seen.has(o.organId)) throw bad(`To[${i}].OrganId`, `${o.organId} is named twice`);
    seen.add(o.organId);
  }
  const id = parseDocumentId(h.documentId);
  if (id.organId !== h.from.organId) throw bad('DocumentId', `names ${id.organId}, but the sender is ${h.from.organId}`);
  if (!h.code || typeof h.code !== 'object') throw bad('Code', 'is required');
  text('Code.CodeNumber', h.code.number, true, 64);
  text('Code.CodeNotation', h.code.notation, true, 128);
  if (id.number !== h.code.number || id.notation !== h.code.notation) throw bad('DocumentId', `its number "${id.number}/${id.notation}" differs from Code "${h.code.number}/${h.code.notation}"`);
  if (!h.promulgation || typeof h.promulgation !== 'object') throw bad('PromulgationInfo', 'is required');
  text('PromulgationInfo.Place', h.promulgation.place, true);
  text('PromulgationInfo.PromulgationDate', h.promulgation.date, true, 10);
  validDate('PromulgationInfo.PromulgationDate', h.promulgation.date);
  if (id.date !== h.promulgation.date) throw bad('DocumentId', `its date ${id.date} differs from PromulgationDate ${h.promulgation.date}`);
  if (!h.documentType || typeof h.documentType !== 'object') throw bad('DocumentType', 'is required');
  int('DocumentType.Type', h.documentType.type, 0, 999, true);
  text('DocumentType.TypeName', h.documentType.typeName, true, 256);
  text('Subject', h.subject, true);
  text('Content', h.content, false, PACKAGE_LIMITS.content);
  if (!h.signer || typeof h.signer !== 'object') throw bad('SignerInfo', 'is required');
  text('SignerInfo.Competence', h.signer.competence, false);
  text('SignerInfo.Position', h.signer.position, false);
  text('SignerInfo.FullName', h.signer.fullName, true, 256);
  if (h.dueDate !== undefined) {
    text('DueDate', h.dueDate, true, 10);
    validDate('DueDate', h.dueDate);
  }
  if (!Array.isArray(h.toPlaces) || h.toPlaces.length > PACKAGE_LIMITS.listItems) throw bad('ToPlaces', `a list of at most ${PACKAGE_LIMITS.listItems} places`);
  h.toPlaces.forEach((pl, i) => text(`ToPlaces.Place[${i}]`, pl, true));
  const o = h.otherInfo;
  if (!o || typeof o !== 'object') throw bad('OtherInfo', 'is required');
  int('OtherInfo.Priority', o.priority, 0, 4, true);
  text('OtherInfo.SphereOfPromulgation', o.sphereOfPromulgation, false);
  text('OtherInfo.TyperNotation', o.typerNotation, false, 64);
  int('OtherInfo.PromulgationAmount', o.promulgationAmount, 0, 1_000_000, false);
  int('OtherInfo.PageAmount', o.pageAmount, 0, 1_000_000, false);
  if (!Array.isArray(o.appendixes) || o.appendixes.length > PACKAGE_LIMITS.listItems) throw bad('OtherInfo.Appendixes', `a list of at most ${PACKAGE_LIMITS.listItems} appendixes`);
  o.appendixes.forEach((a, i) => text(`OtherInfo.Appendixes.Appendix[${i}]`, a, true));
  if (h.classification !== undefined && !(LEVELS as readonly string[]).includes(h.classification))
    throw bad('OtherInfo.Classification', `"${String(h.classification).slice(0, 20)}" is not one of ${LEVELS.join(', ')}`);
  int('SteeringType', h.steeringType, 0, 9, false);
  if (!Array.isArray(h.responseFor) || h.responseFor.length > PACKAGE_LIMITS.listItems) throw bad('ResponseFor', 'a list');
  h.responseFor.forEach((r, i) => checkRef(`ResponseFor[${i}]`, r));
  if (!Array.isArray(h.traces) || h.traces.length > PACKAGE_LIMITS.listItems) throw bad('TraceHeaderList', 'a list');
  h.traces.forEach((t, i) => {
    checkAgencyCode(`TraceHeaderList.TraceHeader[${i}].OrganId`, t.organId);
    text(`TraceHeaderList.TraceHeader[${i}].Timestamp`, t.timestamp, true, 64);
    if (Number.isNaN(Date.parse(t.timestamp))) throw bad(`TraceHeaderList.TraceHeader[${i}].Timestamp`, 'is not a time');
  });
  const b = h.business;
  if (!b || typeof b !== 'object') throw bad('Bussiness', 'is required');
  int('Bussiness.BussinessDocType', b.docType, 0, 3, true);
  text('Bussiness.BussinessDocReason', b.docReason, b.docType !== 0);
  int('Bussiness.Paper', b.paper, 0, 1, false);
  if (b.updateInfo !== undefined) {
    if (!Array.isArray(b.updateInfo) || b.updateInfo.length > PACKAGE_LIMITS.listItems) throw bad('Bussiness.BussinessDocumentInfo', 'a list');
    b.updateInfo.forEach((u, i) => text(`Bussiness.BussinessDocumentInfo[${i}]`, u, true));
  }
  if (b.replaces !== undefined) {
    if (!Array.isArray(b.replaces) || b.replaces.length > PACKAGE_LIMITS.listItems) throw bad('Bussiness.ReplacementInfoList', 'a list');
    b.replaces.forEach((r, i) => checkRef(`Bussiness.ReplacementInfoList[${i}]`, r));
  }
  if (b.docType === 3 && !b.replaces?.length) throw bad('Bussiness.ReplacementInfoList', 'a replacement names the documents it replaces');
  if (b.staffInfo) {
    text('Bussiness.BussinessStaffInfo.Department', b.staffInfo.department, false);
    text('Bussiness.BussinessStaffInfo.Staff', b.staffInfo.staff, false);
    text('Bussiness.BussinessStaffInfo.Email', b.staffInfo.email, false, 256);
    text('Bussiness.BussinessStaffInfo.Mobile', b.staffInfo.mobile, false, 64);
  }
  if (!Array.isArray(p.attachments)) throw bad('edXMLManifest', 'is required');
  if (p.attachments.length > PACKAGE_LIMITS.attachments) throw bad('edXMLManifest', `more than ${PACKAGE_LIMITS.attachments} attachments`);
  const ids = new Set<string>();
  p.attachments.forEach((a, i) => {
    const f = `edXMLManifest.Reference[${i}]`;
    text(`${f}.ContentId`, a.contentId, true, 128);
    if (!CONTENT_ID.test(a.contentId)) throw bad(`${f}.ContentId`, `"${a.contentId.slice(0, 40)}" may hold only letters, digits and . _ @ -`);
    if (ids.has(a.contentId)) throw bad(`${f}.ContentId`, `${a.contentId} is named twice`);
    ids.add(a.contentId);
    text(`${f}.ContentType`, a.contentType, true, 128);
    if (!CONTENT_TYPE.test(a.contentType)) throw bad(`${f}.ContentType`, `"${a.contentType.slice(0, 60)}" is not a media type`);
    text(`${f}.AttachmentName`, a.attachmentName, true, 255);
    if (/[/\\]/.test(a.attachmentName) || a.attachmentName === '.' || a.attachmentName === '..') throw bad(`${f}.AttachmentName`, 'a file name without folders');
    text(`${f}.Description`, a.description, false);
    int(`${f}.Size`, a.size, 0, Number.MAX_SAFE_INTEGER, true);
    if (typeof a.sha256 !== 'string' || !SHA256_HEX.test(a.sha256)) throw bad(`${f}.Hash`, 'a SHA-256 in 64 lower-case hex digits');
  });
}
