/**
 * The catalogue of validation-report notes (issue 18): every note a validator writes beside a signature or a
 * time-stamp — and the reason for a verdict — carries a stable code, its Vietnamese and English text and the
 * parameters the text is made of (a certificate's subject, a time, a count…), so that a console, a log or another
 * program reads the code and says it in its reader's language.
 *
 * The validators create each note where they find it, by code and parameters (`note(code, params)`): the code is
 * the source of truth, and TypeScript refuses a code the catalogue lacks. `warnings` keeps, for its readers, the
 * sentence each note was written as before codes (English, or Vietnamese / English: `sentenceOf`), one for each note
 * in the same order. A sentence from elsewhere — a report written before codes, read back without its notes — is
 * `UNCATALOGUED` (`uncatalogued`), kept whole.
 */
import type { SignatureReport, SubIndication, TimestampReport, ValidationReport } from './report.js';

export interface ReportNote {
  code: NoteCode | ReasonCode;
  vi: string;
  en: string;
  params: Record<string, string>;
}

type Params = Record<string, string>;

interface Entry {
  /** made-up parameters: documentation, and the catalogue's own test */
  example: Params;
  /** the sentence as the validators wrote it before codes (English, or Vietnamese / English): `warnings` */
  text: (p: Params) => string;
  vi: (p: Params) => string;
  /** the English text; default: the English part of `text` */
  en?: (p: Params) => string;
}

/** the position in the path a sentence names: the signer's certificate, or the n-th of the path */
const whereVi = (w: string) => (w === "the signer's certificate" ? 'chứng thư của người ký' : w.replace(/^certificate (\S+) of the path$/, 'chứng thư thứ $1 của chuỗi'));
/** a detail another layer wrote "Vietnamese / English": its Vietnamese part, or the whole */
const viPart = (d: string) => {
  const cut = d.indexOf(' / ');
  return cut >= 0 && /[^\x00-\x7f]/.test(d.slice(0, cut)) ? d.slice(0, cut) : d;
};
const opt = (v: string | undefined, f: (v: string) => string) => (v ? f(v) : '');

export const NOTE_CATALOGUE = {
  REVOCATION_MISSING: {
    example: { subject: 'CN=Nguyễn Văn A, O=Sở Nội vụ', detail: 'OCSP responder does not know the certificate' },
    text: (p) => `no revocation status for ${p.subject}${opt(p.detail, (d) => `: ${d}`)}`,
    vi: (p) => `không có thông tin thu hồi cho ${p.subject}${opt(p.detail, (d) => `: ${d}`)}`,
  },
  CERTIFICATE_EXPIRED_AFTER_POE: {
    example: { where: "the signer's certificate", poe: '2026-01-01T00:00:00.000Z' },
    text: (p) => `${p.where} has expired since; the signature is proven to exist at ${p.poe}, when it was valid${opt(p.revoked, (r) => `, and revoked only at ${r}`)}`,
    vi: (p) => `${whereVi(p.where!)} đã hết hạn sau đó; chữ ký được chứng minh tồn tại lúc ${p.poe}, khi chứng thư còn hiệu lực${opt(p.revoked, (r) => `, và chỉ bị thu hồi lúc ${r}`)}`,
  },
  CERTIFICATE_REVOKED_AFTER_POE: {
    example: { where: 'certificate 1 of the path', revoked: '2026-02-01T00:00:00.000Z', poe: '2026-01-01T00:00:00.000Z' },
    text: (p) => `${p.where} was revoked at ${p.revoked}, after the proof of existence at ${p.poe}`,
    vi: (p) => `${whereVi(p.where!)} bị thu hồi lúc ${p.revoked}, sau thời điểm chứng minh tồn tại ${p.poe}`,
  },
  ALGORITHM_EXPIRED_AFTER_POE: {
    example: { algorithm: 'rsa-2048', since: '2031-01-01T00:00:00.000Z', poe: '2026-01-01T00:00:00.000Z' },
    text: (p) => `the algorithm ${p.algorithm} is no longer reliable since ${p.since}; the signature is proven to exist at ${p.poe}, before that`,
    vi: (p) => `thuật toán ${p.algorithm} không còn tin cậy từ ${p.since}; chữ ký được chứng minh tồn tại lúc ${p.poe}, trước thời điểm đó`,
  },
  CMS_PADDING_IGNORED: {
    example: { bytes: '2048' },
    text: (p) => `bỏ qua các byte 0 đệm sau CMS / ${p.bytes} zero bytes of padding after the CMS were ignored`,
    vi: (p) => `bỏ qua ${p.bytes} byte 0 đệm sau CMS`,
  },
  CMS_BER: {
    example: {},
    text: () => 'CMS mã hoá BER, được đọc theo dạng DER / the CMS is BER, read as its DER form',
    vi: () => 'CMS mã hoá BER, được đọc theo dạng DER',
  },
  CMS_CERTIFICATE_UNREADABLE: {
    example: { n: '1', total: '2', detail: 'bad DER' },
    text: (p) => `không đọc được một chứng thư trong CMS / certificate ${p.n} of ${p.total} in the CMS cannot be read (${p.detail}): it cannot be the signer's`,
    vi: (p) => `không đọc được chứng thư ${p.n}/${p.total} trong CMS (${p.detail}): đó không thể là chứng thư của người ký`,
  },
  CMS_CONTENT_NOT_BYTE_RANGE: {
    example: { bytes: '0' },
    text: (p) => `CMS mang nội dung riêng, không ký các byte mà ByteRange bao phủ / the CMS encapsulates ${p.bytes} bytes of content of its own: it does not sign the bytes the ByteRange covers`,
    vi: (p) => `CMS mang ${p.bytes} byte nội dung riêng, không ký các byte mà ByteRange bao phủ`,
  },
  CMS_MULTIPLE_SIGNERS: {
    example: { count: '2' },
    text: (p) => `the CMS has ${p.count} signers; only the first is validated`,
    vi: (p) => `CMS có ${p.count} người ký; chỉ người ký đầu tiên được kiểm tra`,
  },
  CONTENT_TS_ATTRIBUTE_REPEATED: {
    example: {},
    text: () => 'thuộc tính dấu thời gian nội dung xuất hiện nhiều lần / the content-time-stamp attribute appears more than once; its values are read together',
    vi: () => 'thuộc tính dấu thời gian nội dung xuất hiện nhiều lần; các giá trị được đọc chung',
  },
  SIGNING_CERTIFICATE_V1: {
    example: {},
    text: () => 'chứng thư được gắn bằng signing-certificate v1 (SHA-1) / the certificate is bound by signing-certificate (v1, SHA-1)',
    vi: () => 'chứng thư được gắn bằng signing-certificate v1 (SHA-1)',
  },
  SIGNING_CERTIFICATE_XADES_V1: {
    example: { digest: 'sha1' },
    text: (p) => `chứng thư ký được gắn bằng SigningCertificate (XAdES 1.3.2, ${p.digest}) thay cho SigningCertificateV2 / the signing certificate is bound by the older SigningCertificate (${p.digest}), not SigningCertificateV2`,
    vi: (p) => `chứng thư ký được gắn bằng SigningCertificate (XAdES 1.3.2, ${p.digest}) thay cho SigningCertificateV2`,
  },
  SIGNING_CERTIFICATE_UNSIGNED: {
    example: {},
    text: () => 'thuộc tính chứng thư ký không được ký / the SigningCertificate(V2) property is not covered by any reference of the signature: it binds nothing',
    vi: () => 'thuộc tính chứng thư ký không được ký: không tham chiếu nào của chữ ký bao phủ nó, nên nó không gắn chứng thư nào',
  },
  ALGORITHM_ENCODING_NONSTANDARD: {
    example: { detail: 'ecdsa-with-SHA256 written with NULL parameters' },
    text: (p) => `mã hoá thuật toán không theo chuẩn, vẫn kiểm tra được / ${p.detail}`,
    vi: (p) => `mã hoá thuật toán không theo chuẩn, vẫn kiểm tra được: ${p.detail}`,
    en: (p) => `an algorithm is encoded out of the standard, still checked: ${p.detail}`,
  },
  CERTIFICATE_REFS_UNREADABLE: {
    example: { detail: 'bad DER' },
    text: (p) => `complete-certificate-references không đọc được / cannot be read: ${p.detail}`,
    vi: (p) => `complete-certificate-references không đọc được: ${p.detail}`,
    en: (p) => `complete-certificate-references cannot be read: ${p.detail}`,
  },
  REVOCATION_REFS_UNREADABLE: {
    example: { detail: 'bad DER' },
    text: (p) => `complete-revocation-references không đọc được / cannot be read: ${p.detail}`,
    vi: (p) => `complete-revocation-references không đọc được: ${p.detail}`,
    en: (p) => `complete-revocation-references cannot be read: ${p.detail}`,
  },
  VALIDATION_DATA_REFERENCE_UNMATCHED: {
    example: { n: '2', kind: 'ocsp', names: 'OCSP produced 2026-01-01T00:00:00.000Z', problem: 'no OCSP at hand' },
    text: (p) => `tham chiếu dữ liệu kiểm tra ${p.n} / validation data reference ${p.n} (${p.kind}${opt(p.names, (n) => `, ${n}`)}): ${p.problem ?? ''}`,
    vi: (p) => `tham chiếu dữ liệu kiểm tra ${p.n} (${p.kind}${opt(p.names, (n) => `, ${n}`)}) không khớp: ${p.problem ?? ''}`,
  },
  PDF_READ_LENIENTLY: {
    example: { detail: 'bỏ qua /Prev 0 trong trailer / a trailer /Prev 0 was ignored' },
    text: (p) => `tệp PDF được đọc nới lỏng / the PDF was read leniently: ${p.detail}`,
    vi: (p) => `tệp PDF được đọc nới lỏng: ${viPart(p.detail!)}`,
    en: (p) => `the PDF was read leniently: ${englishOf(p.detail!)}`,
  },
  PADES_SIGNING_TIME_PRESENT: {
    example: {},
    text: () => 'a PAdES signature must not carry a signing-time attribute',
    vi: () => 'chữ ký PAdES không được mang thuộc tính signing-time',
  },
  DOCUMENT_CHANGED_AFTER: {
    example: { changes: 'an annotation was added on page 1' },
    text: (p) => `the document was changed after this signature: ${p.changes}`,
    vi: (p) => `tài liệu bị thay đổi sau chữ ký này: ${p.changes}`,
  },
  DOCUMENT_FILLED_AFTER: {
    example: {},
    text: () => 'the document was updated after this signature with form fields filled in or objects added, no other change',
    vi: () => 'tài liệu được cập nhật sau chữ ký này chỉ bằng việc điền biểu mẫu hoặc thêm đối tượng, không thay đổi gì khác',
  },
  DOCUMENT_CHANGED_AFTER_TIMESTAMP: {
    example: {},
    text: () => 'the document was changed after this time-stamp by something other than a later signature',
    vi: () => 'tài liệu bị thay đổi sau dấu thời gian này bởi một thay đổi khác ngoài chữ ký sau đó',
  },
  SIGNING_TIME_MISSING: {
    example: { format: 'CAdES' },
    text: (p) => (p.format === 'XAdES' ? 'no SigningTime (required by XAdES baseline)' : `no signing-time attribute (required by ${p.format} baseline)`),
    vi: (p) => `thiếu ${p.format === 'XAdES' ? 'SigningTime' : 'thuộc tính signing-time'} (bắt buộc theo ${p.format} baseline)`,
  },
  SIGNING_TIME_AFTER_TS: {
    example: {},
    text: () => 'the claimed signing time is after the signature time-stamp',
    vi: () => 'thời gian ký khai báo muộn hơn dấu thời gian chữ ký',
  },
  SIGNATURE_TS_INVALID: {
    example: { problem: 'the message imprint is not the hash of the stamped data' },
    text: (p) => `a signature time-stamp is not valid: ${p.problem}`,
    vi: (p) => `dấu thời gian chữ ký không hợp lệ: ${viPart(p.problem ?? '')}`,
    en: (p) => `a signature time-stamp is not valid: ${englishOf(p.problem ?? '')}`,
  },
  ARCHIVE_TS_INVALID: {
    example: { problem: 'the message imprint is not the hash of the stamped data' },
    text: (p) => `an archive time-stamp is not valid: ${p.problem}`,
    vi: (p) => `dấu thời gian lưu trữ không hợp lệ: ${viPart(p.problem ?? '')}`,
    en: (p) => `an archive time-stamp is not valid: ${englishOf(p.problem ?? '')}`,
  },
  CONTENT_TS_INVALID: {
    example: { problem: 'the message imprint is not the hash of the stamped data' },
    text: (p) => `dấu thời gian nội dung không hợp lệ / a content time-stamp is not valid: ${p.problem}`,
    vi: (p) => `dấu thời gian nội dung không hợp lệ: ${viPart(p.problem ?? '')}`,
    en: (p) => `a content time-stamp is not valid: ${englishOf(p.problem ?? '')}`,
  },
  CONTENT_TS_AFTER_SIGNATURE_TS: {
    example: {},
    text: () => 'dấu thời gian nội dung muộn hơn dấu thời gian chữ ký / a content time-stamp is later than the signature time-stamp',
    vi: () => 'dấu thời gian nội dung muộn hơn dấu thời gian chữ ký',
  },
  DATA_TS_INVALID: {
    example: { property: 'IndividualDataObjectsTimeStamp', problem: 'the message imprint is not the hash of the stamped data' },
    text: (p) => `dấu thời gian dữ liệu không hợp lệ / a data-object time-stamp (${p.property}) is not valid: ${p.problem}`,
    vi: (p) => `dấu thời gian dữ liệu (${p.property}) không hợp lệ: ${viPart(p.problem ?? '')}`,
    en: (p) => `a data-object time-stamp (${p.property}) is not valid: ${englishOf(p.problem ?? '')}`,
  },
  DATA_TS_AFTER_SIGNATURE_TS: {
    example: { property: 'AllDataObjectsTimeStamp' },
    text: (p) => `dấu thời gian dữ liệu muộn hơn dấu thời gian chữ ký / a ${p.property} is later than the signature time-stamp`,
    vi: (p) => `dấu thời gian dữ liệu (${p.property}) muộn hơn dấu thời gian chữ ký`,
  },
  SIGNING_TIME_BEFORE_DATA_TS: {
    example: { property: 'AllDataObjectsTimeStamp' },
    text: (p) => `thời gian ký khai báo sớm hơn dấu thời gian dữ liệu / the claimed signing time is before the ${p.property}: the data was time-stamped before signing`,
    vi: (p) => `thời gian ký khai báo sớm hơn dấu thời gian dữ liệu (${p.property}): dữ liệu được đóng dấu thời gian trước khi ký`,
  },
  DATA_TS_LIMIT: {
    example: { max: '16' },
    text: (p) => `chỉ kiểm tra ${p.max} dấu thời gian dữ liệu đầu tiên / only the first ${p.max} data-object time-stamps are checked`,
    vi: (p) => `chỉ kiểm tra ${p.max} dấu thời gian dữ liệu đầu tiên`,
  },
  X_TS_INVALID: {
    example: { type: 'SigAndRefsTimeStamp', problem: 'the message imprint is not the hash of the stamped data' },
    text: (p) =>
      `${/^(CAdES-C-time-stamp|time-stamped-certs-crls-references)$/.test(p.type!) ? 'dấu thời gian CAdES-X không hợp lệ' : 'dấu thời gian trên tham chiếu dữ liệu kiểm tra không hợp lệ'} / a ${p.type} is not valid: ${p.problem}`,
    vi: (p) => `dấu thời gian trên tham chiếu dữ liệu kiểm tra (${p.type}) không hợp lệ: ${viPart(p.problem ?? '')}`,
    en: (p) => `a ${p.type} is not valid: ${englishOf(p.problem ?? '')}`,
  },
  CONTENT_UNMATCHED: {
    example: { files: 'extra.txt' },
    text: (p) => `tệp nội dung không khớp tham chiếu nào của chữ ký / content given that no reference of the signature names or digests: ${p.files}`,
    vi: (p) => `tệp nội dung không khớp tham chiếu nào của chữ ký: ${p.files}`,
  },
  MANIFEST_REFERENCE_UNCHECKED: {
    example: { uri: '#data-1', problem: 'the digest of "#data-1" does not match' },
    text: (p) => `manifest reference ${p.uri}: ${p.problem} (XML-DSig leaves manifests to the application)`,
    vi: (p) => `tham chiếu ${p.uri} của manifest: ${p.problem} (XML-DSig để việc kiểm tra manifest cho ứng dụng)`,
  },
  UNSIGNED_PROPERTIES_NOT_VALIDATED: {
    example: { names: 'CounterSignature' },
    text: (p) => `unsigned properties not validated: ${p.names}`,
    vi: (p) => `các thuộc tính không ký chưa được kiểm tra: ${p.names}`,
  },
  WINDOWS_1258_AS_DECODED: {
    example: {},
    text: () =>
      'chữ ký băm tài liệu windows-1258 theo ký tự như bộ giải mã cho (chữ cái và dấu thanh tách rời), không theo dạng chuẩn hoá NFC mà Canonical XML yêu cầu / the signature digested the windows-1258 document as decoded (letters and tone marks apart), not in the Normalization Form C Canonical XML asks for: xmlsec1 and others reading it in NFC will find its digests broken',
    vi: () => 'chữ ký băm tài liệu windows-1258 theo ký tự như bộ giải mã cho (chữ cái và dấu thanh tách rời), không theo dạng chuẩn hoá NFC mà Canonical XML yêu cầu: xmlsec1 và các công cụ đọc theo NFC sẽ thấy giá trị băm không khớp',
  },
  TSA_SIGNING_CERTIFICATE_V1: {
    example: {},
    text: () => 'the token binds its certificate with ESS signing-certificate (v1) or not at all',
    vi: () => 'dấu thời gian gắn chứng thư của TSA bằng ESS signing-certificate (v1) hoặc không gắn',
  },
  TSA_CERTIFICATE_EXPIRED_AFTER_POE: {
    example: { poe: '2030-01-01T00:00:00.000Z' },
    text: (p) => `the TSA certificate has expired; validated at ${p.poe}, the time of a later time-stamp`,
    vi: (p) => `chứng thư của TSA đã hết hạn; được kiểm tra tại ${p.poe}, thời điểm của một dấu thời gian sau đó`,
  },
} satisfies Record<string, Entry>;

export type CatalogueCode = keyof typeof NOTE_CATALOGUE;
export type NoteCode = CatalogueCode | 'UNCATALOGUED';

/** The coded note `code` with its parameters (those undefined left out), in both languages. */
export function note(code: CatalogueCode, params: Record<string, string | number | undefined> = {}): ReportNote {
  const p: Params = {};
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') p[k] = String(v);
  const entry: Entry = NOTE_CATALOGUE[code];
  return { code, vi: entry.vi(p), en: entry.en ? entry.en(p) : englishOf(entry.text(p)), params: p };
}

/** Adds notes to a signature's (or a time-stamp's) report; `withNotes` writes their sentences in `warnings`. */
export function addNotes(r: { notes?: ReportNote[] }, ...notes: ReportNote[]): void {
  (r.notes ??= []).push(...notes);
}

/** A sentence that is not a coded note (a report written before codes): kept whole, its English part as English. */
export function uncatalogued(text: string): ReportNote {
  return { code: 'UNCATALOGUED', vi: text, en: englishOf(text), params: {} };
}

/** The sentence a note is in `warnings`: as the validators wrote it before codes. */
export function sentenceOf(n: ReportNote): string {
  if (Object.hasOwn(NOTE_CATALOGUE, n.code)) return (NOTE_CATALOGUE[n.code as CatalogueCode] as Entry).text(n.params);
  return n.vi === n.en ? n.en : `${n.vi} / ${n.en}`;
}

/** The English part of a sentence written "Vietnamese / English", or the whole of an English one. */
function englishOf(text: string): string {
  const cut = text.indexOf(' / ');
  return cut >= 0 && /[^\x00-\x7f]/.test(text.slice(0, cut)) ? text.slice(cut + 3) : text;
}

/** The reason for a verdict: the sub-indication (EN 319 102-1 §5.1.3) is its code; the validator's sentence the detail. */
export const REASON_CATALOGUE: Record<SubIndication, { vi: string; en: string }> = {
  FORMAT_FAILURE: { vi: 'chữ ký không đúng định dạng', en: 'the signature is not well formed' },
  HASH_FAILURE: { vi: 'nội dung đã ký không khớp giá trị băm', en: 'the signed data does not match its digest' },
  SIG_CRYPTO_FAILURE: { vi: 'giá trị chữ ký không đúng', en: 'the signature value does not verify' },
  REVOKED: { vi: 'chứng thư đã bị thu hồi', en: 'the certificate is revoked' },
  EXPIRED: { vi: 'chứng thư đã hết hạn', en: 'the certificate has expired' },
  NOT_YET_VALID: { vi: 'chứng thư chưa có hiệu lực', en: 'the certificate is not yet valid' },
  SIG_CONSTRAINTS_FAILURE: { vi: 'chữ ký không đáp ứng ràng buộc', en: 'the signature does not meet its constraints' },
  CHAIN_CONSTRAINTS_FAILURE: { vi: 'chuỗi chứng thư không đáp ứng ràng buộc', en: 'the certificate chain does not meet its constraints' },
  CERTIFICATE_CHAIN_GENERAL_FAILURE: { vi: 'chuỗi chứng thư không hợp lệ', en: 'the certificate chain is not valid' },
  CRYPTO_CONSTRAINTS_FAILURE: { vi: 'thuật toán không được chính sách chấp nhận hoặc chưa được hỗ trợ', en: 'an algorithm is not accepted by the policy or not supported' },
  CRYPTO_CONSTRAINTS_FAILURE_NO_POE: { vi: 'thuật toán đã hết tin cậy và không có bằng chứng chữ ký tồn tại trước đó', en: 'an algorithm is no longer reliable and nothing proves the signature existed before' },
  NO_SIGNING_CERTIFICATE_FOUND: { vi: 'không xác định được chứng thư của người ký', en: "the signer's certificate cannot be identified" },
  NO_CERTIFICATE_CHAIN_FOUND: { vi: 'không dựng được chuỗi tới chứng thư gốc tin cậy', en: 'no chain to a trusted root' },
  REVOKED_NO_POE: { vi: 'chứng thư đã bị thu hồi và không có bằng chứng chữ ký tồn tại trước đó', en: 'the certificate is revoked and nothing proves the signature existed before' },
  OUT_OF_BOUNDS_NO_POE: { vi: 'chứng thư đã hết hạn và không có bằng chứng chữ ký tồn tại trước đó', en: 'the certificate has expired and nothing proves the signature existed before' },
  TRY_LATER: { vi: 'chưa có thông tin thu hồi, hãy kiểm tra lại sau', en: 'no revocation status yet, try later' },
  SIGNED_DATA_NOT_FOUND: { vi: 'không tìm thấy dữ liệu được ký', en: 'the signed data is not available' },
};
/**
 * The reason a time-stamp is not valid, by the same sub-indication: said of the time-stamp, its time-stamped data and
 * its TSA (the signature that fails is the TSA's over the token, the certificate the TSA's), not of a signature.
 */
export const TIMESTAMP_REASON_CATALOGUE: Record<SubIndication, { vi: string; en: string }> = {
  FORMAT_FAILURE: { vi: 'dấu thời gian không đúng định dạng hoặc không đọc được', en: 'the time-stamp is not well formed or cannot be read' },
  HASH_FAILURE: { vi: 'dữ liệu được đóng dấu thời gian không khớp giá trị băm trong dấu thời gian', en: 'the time-stamped data does not match the digest in the time-stamp' },
  SIG_CRYPTO_FAILURE: { vi: 'chữ ký của đơn vị cấp dấu thời gian trên dấu thời gian không đúng', en: "the TSA's signature over the time-stamp does not verify" },
  REVOKED: { vi: 'chứng thư của đơn vị cấp dấu thời gian đã bị thu hồi', en: "the TSA's certificate is revoked" },
  EXPIRED: { vi: 'chứng thư của đơn vị cấp dấu thời gian đã hết hạn', en: "the TSA's certificate has expired" },
  NOT_YET_VALID: { vi: 'chứng thư của đơn vị cấp dấu thời gian chưa có hiệu lực', en: "the TSA's certificate is not yet valid" },
  SIG_CONSTRAINTS_FAILURE: { vi: 'dấu thời gian không đáp ứng ràng buộc', en: 'the time-stamp does not meet its constraints' },
  CHAIN_CONSTRAINTS_FAILURE: { vi: 'chuỗi chứng thư của đơn vị cấp dấu thời gian không đáp ứng ràng buộc', en: "the TSA's certificate chain does not meet its constraints" },
  CERTIFICATE_CHAIN_GENERAL_FAILURE: { vi: 'chuỗi chứng thư của đơn vị cấp dấu thời gian không hợp lệ', en: "the TSA's certificate chain is not valid" },
  CRYPTO_CONSTRAINTS_FAILURE: { vi: 'thuật toán của dấu thời gian không được chính sách chấp nhận hoặc chưa được hỗ trợ', en: 'an algorithm of the time-stamp is not accepted by the policy or not supported' },
  CRYPTO_CONSTRAINTS_FAILURE_NO_POE: { vi: 'thuật toán của dấu thời gian đã hết tin cậy và không có bằng chứng dấu thời gian tồn tại trước đó', en: 'an algorithm of the time-stamp is no longer reliable and nothing proves the time-stamp existed before' },
  NO_SIGNING_CERTIFICATE_FOUND: { vi: 'không xác định được chứng thư của đơn vị cấp dấu thời gian', en: "the TSA's certificate cannot be identified" },
  NO_CERTIFICATE_CHAIN_FOUND: { vi: 'không dựng được chuỗi từ chứng thư của đơn vị cấp dấu thời gian tới chứng thư gốc tin cậy', en: "no chain from the TSA's certificate to a trusted root" },
  REVOKED_NO_POE: { vi: 'chứng thư của đơn vị cấp dấu thời gian đã bị thu hồi và không có bằng chứng dấu thời gian tồn tại trước đó', en: "the TSA's certificate is revoked and nothing proves the time-stamp existed before" },
  OUT_OF_BOUNDS_NO_POE: { vi: 'chứng thư của đơn vị cấp dấu thời gian đã hết hạn và không có bằng chứng dấu thời gian tồn tại trước đó', en: "the TSA's certificate has expired and nothing proves the time-stamp existed before" },
  TRY_LATER: { vi: 'chưa có thông tin thu hồi cho chứng thư của đơn vị cấp dấu thời gian, hãy kiểm tra lại sau', en: "no revocation status yet for the TSA's certificate, try later" },
  SIGNED_DATA_NOT_FOUND: { vi: 'không tìm thấy dữ liệu được đóng dấu thời gian', en: 'the time-stamped data is not available' },
};
export type ReasonCode = SubIndication;

/** The coded reason for a verdict, when it has a sub-indication: a signature's, or (`of: 'timestamp'`) a time-stamp's. */
export function reasonOf(s: Pick<SignatureReport, 'subIndication' | 'message'>, of: 'signature' | 'timestamp' = 'signature'): ReportNote | undefined {
  if (!s.subIndication) return undefined;
  const r = (of === 'timestamp' ? TIMESTAMP_REASON_CATALOGUE : REASON_CATALOGUE)[s.subIndication];
  const detail = s.message;
  return {
    code: s.subIndication,
    vi: detail ? `${r.vi}: ${detail}` : r.vi,
    en: detail ? `${r.en}: ${englishOf(detail)}` : r.en,
    params: detail ? { detail } : {},
  };
}

/**
 * Finishes a report's notes (in place; returns it): each signature's and each time-stamp's `warnings` are its notes'
 * sentences, in the same order, and a verdict's sub-indication — a signature's, or the failure of a time-stamp
 * that is not valid — is its coded reason (a time-stamp's in the words of TIMESTAMP_REASON_CATALOGUE).
 */
export function withNotes(report: ValidationReport): ValidationReport {
  const stamps = new Set<TimestampReport>(report.documentTimestamps ?? []);
  for (const s of report.signatures) {
    s.notes ??= [];
    s.warnings = s.notes.map(sentenceOf);
    const reason = reasonOf(s);
    if (reason) s.reason = reason;
    else delete s.reason;
    for (const t of s.timestamps ?? []) stamps.add(t);
  }
  for (const t of stamps) {
    if (t.notes?.length) t.warnings = t.notes.map(sentenceOf);
    else {
      delete t.notes;
      delete t.warnings;
    }
    const failure = t.valid ? undefined : (t.subIndication ?? t.failure);
    const reason = failure ? reasonOf({ subIndication: failure, ...(t.problem ? { message: t.problem } : {}) }, 'timestamp') : undefined;
    if (reason) t.reason = reason;
    else delete t.reason;
    delete t.failure;
  }
  return report;
}

/** One note for people: Vietnamese first, the English beside it (or English alone). */
export function noteText(n: ReportNote, lang: 'vi' | 'en'): string {
  if (lang === 'en') return n.en;
  return n.vi === n.en ? n.vi : `${n.vi} (${n.en})`;
}
