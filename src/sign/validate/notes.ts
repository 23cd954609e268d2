/**
 * The catalogue of validation-report notes (issue 18): every note a validator writes beside a signature — and the
 * reason for its verdict — carries a stable code, its Vietnamese and English text and the parameters the text is
 * made of (a certificate's subject, a time, a count…), so that a console, a log or another program reads the code and
 * says it in its reader's language. `warnings` keeps the text the validators write (English, or Vietnamese / English);
 * `notes` and `reason` are the coded form of the same sentences, one note for each warning, in the same order.
 *
 * The validators speak in sentences; each entry here recognises one of them by its wording and names its parameters
 * (named groups). A sentence no entry recognises becomes `UNCATALOGUED` — a test over the signed fixtures fails on it,
 * so a new sentence in a validator cannot go out without its code.
 */
import type { SignatureReport, SubIndication, ValidationReport } from './report.js';

export interface ReportNote {
  code: NoteCode | ReasonCode;
  vi: string;
  en: string;
  params: Record<string, string>;
}

type Params = Record<string, string>;

interface Entry {
  /** a sentence as the validator writes it, with made-up values (documentation, and the catalogue's own test) */
  example: string;
  /** recognises the validator's sentence (the whole warning); named groups are the parameters */
  match: RegExp;
  vi: (p: Params) => string;
  /** the English text; default: the English part of the sentence as the validator wrote it */
  en?: (p: Params) => string;
}

/** the position in the path a sentence names: the signer's certificate, or the n-th of the path */
const whereVi = (w: string) => (w === "the signer's certificate" ? 'chứng thư của người ký' : w.replace(/^certificate (\S+) of the path$/, 'chứng thư thứ $1 của chuỗi'));

export const NOTE_CATALOGUE = {
  REVOCATION_MISSING: {
    example: "no revocation status for CN=Nguyễn Văn A, O=Sở Nội vụ: OCSP responder does not know the certificate",
    match: /^no revocation status for (?<subject>.+?)(?:: (?<detail>.*))?$/s,
    vi: (p) => `không có thông tin thu hồi cho ${p.subject}${p.detail ? `: ${p.detail}` : ''}`,
  },
  CERTIFICATE_EXPIRED_AFTER_POE: {
    example: "the signer's certificate has expired since; the signature is proven to exist at 2026-01-01T00:00:00.000Z, when it was valid",
    match: /^(?<where>the signer's certificate|certificate \S+ of the path) has expired since; the signature is proven to exist at (?<poe>\S+), when it was valid(?:, and revoked only at (?<revoked>\S+))?$/,
    vi: (p) => `${whereVi(p.where)} đã hết hạn sau đó; chữ ký được chứng minh tồn tại lúc ${p.poe}, khi chứng thư còn hiệu lực${p.revoked ? `, và chỉ bị thu hồi lúc ${p.revoked}` : ''}`,
  },
  CERTIFICATE_REVOKED_AFTER_POE: {
    example: "certificate 1 of the path was revoked at 2026-02-01T00:00:00.000Z, after the proof of existence at 2026-01-01T00:00:00.000Z",
    match: /^(?<where>the signer's certificate|certificate \S+ of the path) was revoked at (?<revoked>\S+), after the proof of existence at (?<poe>\S+)$/,
    vi: (p) => `${whereVi(p.where)} bị thu hồi lúc ${p.revoked}, sau thời điểm chứng minh tồn tại ${p.poe}`,
  },
  ALGORITHM_EXPIRED_AFTER_POE: {
    example: "the algorithm rsa-2048 is no longer reliable since 2031-01-01T00:00:00.000Z; the signature is proven to exist at 2026-01-01T00:00:00.000Z, before that",
    match: /^the algorithm (?<algorithm>\S+) is no longer reliable since (?<since>\S+); the signature is proven to exist at (?<poe>\S+), before that$/,
    vi: (p) => `thuật toán ${p.algorithm} không còn tin cậy từ ${p.since}; chữ ký được chứng minh tồn tại lúc ${p.poe}, trước thời điểm đó`,
  },
  CMS_PADDING_IGNORED: {
    example: "bỏ qua các byte 0 đệm sau CMS / 2048 zero bytes of padding after the CMS were ignored",
    match: /^bỏ qua các byte 0 đệm sau CMS \/ (?<bytes>\d+) zero bytes of padding after the CMS were ignored$/,
    vi: (p) => `bỏ qua ${p.bytes} byte 0 đệm sau CMS`,
  },
  CMS_BER: {
    example: "CMS mã hoá BER, được đọc theo dạng DER / the CMS is BER, read as its DER form",
    match: /^CMS mã hoá BER, được đọc theo dạng DER \/ the CMS is BER, read as its DER form$/,
    vi: () => 'CMS mã hoá BER, được đọc theo dạng DER',
  },
  CMS_CERTIFICATE_UNREADABLE: {
    example: "không đọc được một chứng thư trong CMS / certificate 1 of 2 in the CMS cannot be read (bad DER)",
    match: /^không đọc được một chứng thư trong CMS \/ certificate (?<n>\d+) of (?<total>\d+) in the CMS cannot be read(?: \((?<detail>.*)\))?.*$/s,
    vi: (p) => `không đọc được chứng thư ${p.n}/${p.total} trong CMS${p.detail ? ` (${p.detail})` : ''}`,
  },
  CMS_CONTENT_NOT_BYTE_RANGE: {
    example: "CMS mang nội dung riêng, không ký các byte mà ByteRange bao phủ / the CMS encapsulates 0 bytes of content of its own: it does not sign the bytes the ByteRange covers",
    match: /^CMS mang nội dung riêng, không ký các byte mà ByteRange bao phủ \/ the CMS encapsulates (?<bytes>\d+) bytes of content of its own: it does not sign the bytes the ByteRange covers$/,
    vi: (p) => `CMS mang ${p.bytes} byte nội dung riêng, không ký các byte mà ByteRange bao phủ`,
  },
  CMS_MULTIPLE_SIGNERS: {
    example: "the CMS has 2 signers; only the first is validated",
    match: /^the CMS has (?<count>\d+) signers; only the first is validated$/,
    vi: (p) => `CMS có ${p.count} người ký; chỉ người ký đầu tiên được kiểm tra`,
  },
  CONTENT_TS_ATTRIBUTE_REPEATED: {
    example: "thuộc tính dấu thời gian nội dung xuất hiện nhiều lần / the content-time-stamp attribute appears more than once; its values are read together",
    match: /^thuộc tính dấu thời gian nội dung xuất hiện nhiều lần \/ the content-time-stamp attribute appears more than once; its values are read together$/,
    vi: () => 'thuộc tính dấu thời gian nội dung xuất hiện nhiều lần; các giá trị được đọc chung',
  },
  SIGNING_CERTIFICATE_V1: {
    example: "chứng thư được gắn bằng signing-certificate v1 (SHA-1) / the certificate is bound by signing-certificate (v1, SHA-1)",
    match: /^chứng thư được gắn bằng signing-certificate v1 \(SHA-1\) \/ the certificate is bound by signing-certificate \(v1, SHA-1\)$/,
    vi: () => 'chứng thư được gắn bằng signing-certificate v1 (SHA-1)',
  },
  SIGNING_CERTIFICATE_XADES_V1: {
    example: "chứng thư ký được gắn bằng SigningCertificate (XAdES 1.3.2, sha1) thay cho SigningCertificateV2 / the signing certificate is bound by the older SigningCertificate (sha1), not SigningCertificateV2",
    match: /^chứng thư ký được gắn bằng SigningCertificate \(XAdES 1\.3\.2, (?<digest>\S+)\) thay cho SigningCertificateV2 \/ the signing certificate is bound by the older SigningCertificate \(\S+\), not SigningCertificateV2$/,
    vi: (p) => `chứng thư ký được gắn bằng SigningCertificate (XAdES 1.3.2, ${p.digest}) thay cho SigningCertificateV2`,
  },
  SIGNING_CERTIFICATE_UNSIGNED: {
    example: "thuộc tính chứng thư ký không được ký / the SigningCertificate(V2) property is not covered by any reference of the signature: it binds nothing",
    match: /^thuộc tính chứng thư ký không được ký \/ (?<en>.*)$/s,
    vi: () => 'thuộc tính chứng thư ký không được ký',
  },
  ALGORITHM_ENCODING_NONSTANDARD: {
    example: "mã hoá thuật toán không theo chuẩn, vẫn kiểm tra được / ecdsa-with-SHA256 written with NULL parameters",
    match: /^mã hoá thuật toán không theo chuẩn, vẫn kiểm tra được \/ (?<detail>.*)$/s,
    vi: (p) => `mã hoá thuật toán không theo chuẩn, vẫn kiểm tra được: ${p.detail}`,
  },
  CERTIFICATE_REFS_UNREADABLE: {
    example: "complete-certificate-references không đọc được / cannot be read: bad DER",
    match: /^complete-certificate-references không đọc được \/ cannot be read: (?<detail>.*)$/s,
    vi: (p) => `complete-certificate-references không đọc được: ${p.detail}`,
    en: (p) => `complete-certificate-references cannot be read: ${p.detail}`,
  },
  REVOCATION_REFS_UNREADABLE: {
    example: "complete-revocation-references không đọc được / cannot be read: bad DER",
    match: /^complete-revocation-references không đọc được \/ cannot be read: (?<detail>.*)$/s,
    vi: (p) => `complete-revocation-references không đọc được: ${p.detail}`,
    en: (p) => `complete-revocation-references cannot be read: ${p.detail}`,
  },
  VALIDATION_DATA_REFERENCE_UNMATCHED: {
    example: "tham chiếu dữ liệu kiểm tra 2 / validation data reference 2 (ocsp, OCSP produced 2026-01-01T00:00:00.000Z): no OCSP at hand",
    match: /^tham chiếu dữ liệu kiểm tra (?<n>\d+) \/ validation data reference \d+ \((?<kind>[^,)]+)(?:, (?<names>[^)]*))?\): (?<problem>.*)$/s,
    vi: (p) => `tham chiếu dữ liệu kiểm tra ${p.n} (${p.kind}${p.names ? `, ${p.names}` : ''}) không khớp: ${p.problem}`,
  },
  PDF_READ_LENIENTLY: {
    example: "tệp PDF được đọc nới lỏng / the PDF was read leniently: /Prev 0 was ignored",
    match: /^tệp PDF được đọc nới lỏng \/ the PDF was read leniently: (?<detail>.*)$/s,
    vi: (p) => `tệp PDF được đọc nới lỏng: ${p.detail}`,
  },
  PADES_SIGNING_TIME_PRESENT: {
    example: "a PAdES signature must not carry a signing-time attribute",
    match: /^a PAdES signature must not carry a signing-time attribute$/,
    vi: () => 'chữ ký PAdES không được mang thuộc tính signing-time',
  },
  DOCUMENT_CHANGED_AFTER: {
    example: "the document was changed after this signature: an annotation was added on page 1",
    match: /^the document was changed after this signature: (?<changes>.*)$/s,
    vi: (p) => `tài liệu bị thay đổi sau chữ ký này: ${p.changes}`,
  },
  DOCUMENT_FILLED_AFTER: {
    example: "the document was updated after this signature with form fields filled in or objects added, no other change",
    match: /^the document was updated after this signature with form fields filled in or objects added, no other change$/,
    vi: () => 'tài liệu được cập nhật sau chữ ký này chỉ bằng việc điền biểu mẫu hoặc thêm đối tượng, không thay đổi gì khác',
  },
  SIGNING_TIME_MISSING: {
    example: "no signing-time attribute (required by CAdES baseline)",
    match: /^no (?<attribute>SigningTime|signing-time attribute) \(required by (?<format>XAdES|CAdES) baseline\)$/,
    vi: (p) => `thiếu ${p.attribute === 'SigningTime' ? 'SigningTime' : 'thuộc tính signing-time'} (bắt buộc theo ${p.format} baseline)`,
  },
  SIGNING_TIME_AFTER_TS: {
    example: "the claimed signing time is after the signature time-stamp",
    match: /^the claimed signing time is after the signature time-stamp$/,
    vi: () => 'thời gian ký khai báo muộn hơn dấu thời gian chữ ký',
  },
  SIGNATURE_TS_INVALID: {
    example: "a signature time-stamp is not valid: the message imprint does not match",
    match: /^a signature time-stamp is not valid: (?<problem>.*)$/s,
    vi: (p) => `dấu thời gian chữ ký không hợp lệ: ${p.problem}`,
  },
  ARCHIVE_TS_INVALID: {
    example: "an archive time-stamp is not valid: the message imprint does not match",
    match: /^an archive time-stamp is not valid: (?<problem>.*)$/s,
    vi: (p) => `dấu thời gian lưu trữ không hợp lệ: ${p.problem}`,
  },
  CONTENT_TS_INVALID: {
    example: "dấu thời gian nội dung không hợp lệ / a content time-stamp is not valid: the message imprint does not match",
    match: /^dấu thời gian nội dung không hợp lệ \/ a content time-stamp is not valid: (?<problem>.*)$/s,
    vi: (p) => `dấu thời gian nội dung không hợp lệ: ${p.problem}`,
  },
  CONTENT_TS_AFTER_SIGNATURE_TS: {
    example: "dấu thời gian nội dung muộn hơn dấu thời gian chữ ký / a content time-stamp is later than the signature time-stamp",
    match: /^dấu thời gian nội dung muộn hơn dấu thời gian chữ ký \/ a content time-stamp is later than the signature time-stamp$/,
    vi: () => 'dấu thời gian nội dung muộn hơn dấu thời gian chữ ký',
  },
  DATA_TS_INVALID: {
    example: "dấu thời gian dữ liệu không hợp lệ / a data-object time-stamp (IndividualDataObjectsTimeStamp) is not valid: the message imprint does not match",
    match: /^dấu thời gian dữ liệu không hợp lệ \/ a data-object time-stamp \((?<property>[^)]*)\) is not valid: (?<problem>.*)$/s,
    vi: (p) => `dấu thời gian dữ liệu (${p.property}) không hợp lệ: ${p.problem}`,
  },
  DATA_TS_AFTER_SIGNATURE_TS: {
    example: "dấu thời gian dữ liệu muộn hơn dấu thời gian chữ ký / a AllDataObjectsTimeStamp is later than the signature time-stamp",
    match: /^dấu thời gian dữ liệu muộn hơn dấu thời gian chữ ký \/ a (?<property>\S+) is later than the signature time-stamp$/,
    vi: (p) => `dấu thời gian dữ liệu (${p.property}) muộn hơn dấu thời gian chữ ký`,
  },
  SIGNING_TIME_BEFORE_DATA_TS: {
    example: "thời gian ký khai báo sớm hơn dấu thời gian dữ liệu / the claimed signing time is before the AllDataObjectsTimeStamp: the data was time-stamped before signing",
    match: /^thời gian ký khai báo sớm hơn dấu thời gian dữ liệu \/ the claimed signing time is before the (?<property>\S+): the data was time-stamped before signing$/,
    vi: (p) => `thời gian ký khai báo sớm hơn dấu thời gian dữ liệu (${p.property}): dữ liệu được đóng dấu thời gian trước khi ký`,
  },
  DATA_TS_LIMIT: {
    example: "chỉ kiểm tra 16 dấu thời gian dữ liệu đầu tiên / only the first 16 data-object time-stamps are checked",
    match: /^chỉ kiểm tra (?<max>\d+) dấu thời gian dữ liệu đầu tiên \/ (?<en>.*)$/s,
    vi: (p) => `chỉ kiểm tra ${p.max} dấu thời gian dữ liệu đầu tiên`,
  },
  X_TS_INVALID: {
    example: "dấu thời gian trên tham chiếu dữ liệu kiểm tra không hợp lệ / a SigAndRefsTimeStamp is not valid: the message imprint does not match",
    match: /^(?:dấu thời gian trên tham chiếu dữ liệu kiểm tra không hợp lệ|dấu thời gian CAdES-X không hợp lệ) \/ a (?<type>SigAndRefsTimeStamp|RefsOnlyTimeStamp|CAdES-C-time-stamp|time-stamped-certs-crls-references) is not valid: (?<problem>.*)$/s,
    vi: (p) => `dấu thời gian trên tham chiếu dữ liệu kiểm tra (${p.type}) không hợp lệ: ${p.problem}`,
  },
  CONTENT_UNMATCHED: {
    example: "tệp nội dung không khớp tham chiếu nào của chữ ký / content given that no reference of the signature names or digests: extra.txt",
    match: /^tệp nội dung không khớp tham chiếu nào của chữ ký \/ content given that no reference of the signature names or digests: (?<files>.*)$/s,
    vi: (p) => `tệp nội dung không khớp tham chiếu nào của chữ ký: ${p.files}`,
  },
  MANIFEST_REFERENCE_UNCHECKED: {
    example: "manifest reference #data-1: the digest of \"#data-1\" does not match (XML-DSig leaves manifests to the application)",
    match: /^manifest reference (?<uri>.+?): (?<problem>.*) \(XML-DSig leaves manifests to the application\)$/s,
    vi: (p) => `tham chiếu ${p.uri} của manifest: ${p.problem} (XML-DSig để việc kiểm tra manifest cho ứng dụng)`,
  },
  UNSIGNED_PROPERTIES_NOT_VALIDATED: {
    example: "unsigned properties not validated: CounterSignature",
    match: /^unsigned properties not validated: (?<names>.*)$/s,
    vi: (p) => `các thuộc tính không ký chưa được kiểm tra: ${p.names}`,
  },
  WINDOWS_1258_AS_DECODED: {
    example: "chữ ký băm tài liệu windows-1258 theo ký tự như bộ giải mã cho (chữ cái và dấu thanh tách rời), không theo dạng chuẩn hoá NFC mà Canonical XML yêu cầu / the signature digested the windows-1258 document as decoded (letters and tone marks apart), not in the Normalization Form C Canonical XML asks for: xmlsec1 and others reading it in NFC will find its digests broken",
    match: /^chữ ký băm tài liệu windows-1258 theo ký tự như bộ giải mã cho .* \/ (?<en>the signature digested the windows-1258 document as decoded.*)$/s,
    vi: () => 'chữ ký băm tài liệu windows-1258 theo ký tự như bộ giải mã cho (chữ cái và dấu thanh tách rời), không theo dạng chuẩn hoá NFC mà Canonical XML yêu cầu: xmlsec1 và các công cụ đọc theo NFC sẽ thấy giá trị băm không khớp',
  },
} satisfies Record<string, Entry>;

export type NoteCode = keyof typeof NOTE_CATALOGUE | 'UNCATALOGUED';

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
export type ReasonCode = SubIndication;

/** The English part of a sentence a validator wrote "Vietnamese / English", or the whole of an English one. */
function englishOf(text: string, en?: string): string {
  if (en !== undefined) return en;
  const cut = text.indexOf(' / ');
  return cut >= 0 && /[^\x00-\x7f]/.test(text.slice(0, cut)) ? text.slice(cut + 3) : text;
}

/** The coded note for one sentence of a validator. */
export function noteOf(text: string): ReportNote {
  for (const [code, entry] of Object.entries(NOTE_CATALOGUE) as [keyof typeof NOTE_CATALOGUE, Entry][]) {
    const m = entry.match.exec(text);
    if (!m) continue;
    const params: Params = {};
    for (const [k, v] of Object.entries(m.groups ?? {})) if (v !== undefined && k !== 'en') params[k] = v;
    return { code, vi: entry.vi(params), en: entry.en ? entry.en(params) : englishOf(text, m.groups?.en), params };
  }
  return { code: 'UNCATALOGUED', vi: text, en: englishOf(text), params: {} };
}

/** The coded reason for a verdict, when it has a sub-indication. */
export function reasonOf(s: Pick<SignatureReport, 'subIndication' | 'message'>): ReportNote | undefined {
  if (!s.subIndication) return undefined;
  const r = REASON_CATALOGUE[s.subIndication];
  const detail = s.message;
  return {
    code: s.subIndication,
    vi: detail ? `${r.vi}: ${detail}` : r.vi,
    en: detail ? `${r.en}: ${englishOf(detail)}` : r.en,
    params: detail ? { detail } : {},
  };
}

/** Adds the coded notes and reason to each signature of a report (in place; returns it). */
export function withNotes(report: ValidationReport): ValidationReport {
  for (const s of report.signatures) {
    s.notes = s.warnings.map(noteOf);
    const reason = reasonOf(s);
    if (reason) s.reason = reason;
    else delete s.reason;
  }
  return report;
}

/** One note for people: Vietnamese first, the English beside it (or English alone). */
export function noteText(n: ReportNote, lang: 'vi' | 'en'): string {
  if (lang === 'en') return n.en;
  return n.vi === n.en ? n.vi : `${n.vi} (${n.en})`;
}
