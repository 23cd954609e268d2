/**
 * A validation report for people: per signature the verdict, signer, issuer, claimed signing time (shown
 * in Vietnam time, +07:00), integrity and certificate validity at signing time — in English or with the
 * Vietnamese labels officials read.
 */
import type { SignatureReport, TimestampReport, ValidationReport } from './report.js';
import { noteText, reasonOf, uncatalogued } from './notes.js';

export const LABELS = {
  en: {
    signature: 'Signature',
    verdict: 'Result',
    signer: 'Signer',
    issuer: 'Issuer',
    time: 'Signing time (claimed)',
    poe: 'Signed no later than (time-stamp)',
    level: 'Level',
    integrity: 'Integrity',
    certAtTime: 'Certificate valid at signing time',
    chain: 'Certificate chain',
    after: 'Changed after signing',
    fillOnly: 'form fields filled in or objects added only',
    certified: 'Certification',
    locked: 'Field lock',
    yes: 'yes',
    no: 'no',
    unknown: 'not checked',
    none: 'No signatures found.',
    notes: 'Notes',
    signed: 'Signed content (each reference)',
    holds: 'digest holds',
    broken: 'DIGEST DOES NOT HOLD',
    whole: 'the whole document',
    existed: 'existed no later than (data time-stamp)',
    without: 'without',
    detachedFile: 'a file outside the document',
    matchedBy: { uri: 'named by the reference', digest: 'found by its digest', only: 'the content given' },
    verdicts: { 'TOTAL-PASSED': 'Valid', 'TOTAL-FAILED': 'Invalid', INDETERMINATE: 'Cannot be confirmed' },
    timestamps: 'Time-stamps',
    documentTimestamps: 'Document time-stamps',
    stampValid: 'valid',
    stampInvalid: 'not valid',
    tsa: 'TSA',
    stampTypes: {
      signature: 'signature time-stamp',
      document: 'document time-stamp',
      archive: 'archive time-stamp',
      content: 'content time-stamp',
      'sig-and-refs': 'time-stamp over the signature and the validation data references',
      'refs-only': 'time-stamp over the validation data references',
    },
  },
  vi: {
    signature: 'Chữ ký',
    verdict: 'Kết quả',
    signer: 'Người ký',
    issuer: 'Tổ chức cấp chứng thư',
    time: 'Thời gian ký (khai báo)',
    poe: 'Đã ký không muộn hơn (dấu thời gian)',
    level: 'Mức',
    integrity: 'Toàn vẹn nội dung',
    certAtTime: 'Chứng thư hợp lệ tại thời điểm ký',
    chain: 'Chuỗi chứng thư',
    after: 'Bị thay đổi sau khi ký',
    fillOnly: 'chỉ điền biểu mẫu hoặc thêm đối tượng',
    certified: 'Chữ ký chứng nhận',
    locked: 'Khóa trường biểu mẫu',
    yes: 'có',
    no: 'không',
    unknown: 'chưa kiểm tra',
    none: 'Không tìm thấy chữ ký.',
    notes: 'Ghi chú',
    signed: 'Nội dung được ký (từng tham chiếu)',
    holds: 'giá trị băm khớp',
    broken: 'GIÁ TRỊ BĂM KHÔNG KHỚP',
    existed: 'đã tồn tại không muộn hơn (dấu thời gian dữ liệu)',
    whole: 'toàn bộ tài liệu',
    without: 'trừ',
    detachedFile: 'tệp bên ngoài tài liệu',
    matchedBy: { uri: 'theo tên trong tham chiếu', digest: 'theo giá trị băm', only: 'nội dung được cung cấp' },
    verdicts: { 'TOTAL-PASSED': 'Hợp lệ', 'TOTAL-FAILED': 'Không hợp lệ', INDETERMINATE: 'Chưa xác định được' },
    timestamps: 'Dấu thời gian',
    documentTimestamps: 'Dấu thời gian của văn bản',
    stampValid: 'hợp lệ',
    stampInvalid: 'không hợp lệ',
    tsa: 'đơn vị cấp dấu thời gian',
    stampTypes: {
      signature: 'dấu thời gian chữ ký',
      document: 'dấu thời gian văn bản',
      archive: 'dấu thời gian lưu trữ',
      content: 'dấu thời gian nội dung',
      'sig-and-refs': 'dấu thời gian trên chữ ký và tham chiếu dữ liệu kiểm tra',
      'refs-only': 'dấu thời gian trên tham chiếu dữ liệu kiểm tra',
    },
  },
} as const;

/** A time in +07:00, e.g. 2025-03-01 14:05:09 +07:00. */
export function vietnamTime(iso: string): string {
  const d = new Date(new Date(iso).getTime() + 7 * 3_600_000);
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} +07:00`;
}

/** A signature's notes, coded, each Vietnamese first with the English beside it (or English alone), with its code. */
export function noteLines(s: SignatureReport, lang: 'en' | 'vi'): string[] {
  return (s.notes ?? s.warnings.map(uncatalogued)).map((n) => `[${n.code}] ${noteText(n, lang)}`);
}

/**
 * One time-stamp for people: what it stamps, when, by which TSA, valid or not — and when not, its reason, coded, in the
 * language asked for — then its own notes, coded. The first line is the time-stamp; the others its notes.
 */
export function stampLines(t: TimestampReport, lang: 'en' | 'vi'): { head: string; notes: string[] } {
  const L = LABELS[lang];
  const r = t.valid ? undefined : (t.reason ?? reasonOf({ subIndication: t.subIndication ?? t.failure, ...(t.problem ? { message: t.problem } : {}) }, 'timestamp'));
  const why = t.valid ? '' : ` — ${r ? `[${r.code}] ${noteText(r, lang)}` : (t.problem ?? '')}`;
  const what = `${L.stampTypes[t.type] ?? t.type}${t.fieldName ? ` (${t.fieldName})` : ''}${t.property ? ` (${t.property})` : ''}`;
  const head = `${what}: ${t.genTime ? vietnamTime(t.genTime) : '?'}${t.tsa ? `, ${L.tsa} ${t.tsa}` : ''} — ${t.valid ? L.stampValid : L.stampInvalid}${why}`;
  return { head, notes: (t.notes ?? (t.warnings ?? []).map(uncatalogued)).map((n) => `[${n.code}] ${noteText(n, lang)}`) };
}

function stampText(t: TimestampReport, lang: 'en' | 'vi', indent: string): string[] {
  const { head, notes } = stampLines(t, lang);
  return [`${indent}- ${head}`, ...notes.map((n) => `${indent}    - ${n}`)];
}

/** The reason for the verdict, coded, in the language asked for. */
export function reasonLine(s: SignatureReport, lang: 'en' | 'vi'): string | undefined {
  const r = s.reason ?? reasonOf(s);
  return r ? noteText(r, lang) : s.message;
}

function one(s: SignatureReport, L: (typeof LABELS)['en' | 'vi']): string {
  const lang = L === LABELS.vi ? 'vi' : 'en';
  const why = reasonLine(s, lang);
  const yn = (b: boolean | null | undefined) => (b === null || b === undefined ? L.unknown : b ? L.yes : L.no);
  const lines = [
    `${L.signature} #${s.index + 1} (${s.format} ${s.level}${s.pdf ? `, ${s.pdf.fieldName}` : ''})`,
    `  ${L.verdict}: ${s.indication}${s.subIndication ? ` / ${s.subIndication}` : ''} (${L.verdicts[s.indication]})${why ? ` — ${why}` : ''}`,
    `  ${L.signer}: ${s.signer?.commonName ?? s.signer?.subject ?? '?'}`,
    `  ${L.issuer}: ${s.signer?.issuer ?? '?'}`,
    `  ${L.time}: ${s.claimedSigningTime ? vietnamTime(s.claimedSigningTime) : '?'}`,
    ...(s.bestSignatureTime ? [`  ${L.poe}: ${vietnamTime(s.bestSignatureTime)}`] : []),
    `  ${L.integrity}: ${yn(s.checks.integrity)}`,
    `  ${L.chain}: ${yn(s.checks.certificateChain)}`,
    `  ${L.certAtTime}: ${yn(s.checks.certificateValidAtSigningTime)}`,
  ];
  if (s.pdf) lines.push(`  ${L.after}: ${afterText(s.pdf, L)}`);
  if (s.pdf?.certification) lines.push(`  ${L.certified}: DocMDP P=${s.pdf.certification.permissions}${s.pdf.certification.violations.length ? ` — ${s.pdf.certification.violations.join('; ')}` : ''}`);
  if (s.pdf?.fieldLock) lines.push(`  ${L.locked}: ${lockText(s.pdf.fieldLock)}`);
  if (s.signedData?.length) lines.push(`  ${L.signed}:`, ...s.signedData.flatMap((r) => referenceLines(r, L, '    ')));
  if (s.warnings.length) lines.push(`  ${L.notes}:`, ...noteLines(s, lang).map((w) => `    - ${w}`));
  if (s.timestamps?.length) lines.push(`  ${L.timestamps}:`, ...s.timestamps.flatMap((t) => stampText(t, lang, '    ')));
  return lines.join('\n');
}

/** XAdES: one reference — its URI, what it covers (less what is cut out), whether its digest holds — and a manifest's. */
export function referenceLines(r: NonNullable<SignatureReport['signedData']>[number], L: (typeof LABELS)['en' | 'vi'], indent: string): string[] {
  const what = r.detached ? `${L.detachedFile}${r.file ? ` ${r.file} (${L.matchedBy[r.matchedBy ?? 'only']})` : ''}` : r.wholeDocument && r.covers?.length === 1 ? `${L.whole} (${r.covers[0]})` : (r.covers ?? []).join(', ') || '?';
  const cut = r.excludes?.length ? ` ${L.without} ${r.excludes.join(', ')}` : '';
  const state = r.digestMatches === true ? L.holds : r.digestMatches === false ? L.broken : `${L.unknown}${r.problem ? `: ${r.problem}` : ''}`;
  const existed = r.poe ? `; ${L.existed}: ${vietnamTime(r.poe)}` : '';
  return [`${indent}- ${r.uri === null ? '(no URI)' : `"${r.uri}"`}: ${what}${cut} — ${state}${existed}`, ...(r.manifest ?? []).flatMap((m) => referenceLines(m, L, `${indent}  `))];
}

/** Whether the PDF changed after the signature, and what changed beyond signatures, validation data and form fills. */
export function afterText(pdf: NonNullable<SignatureReport['pdf']>, L: (typeof LABELS)['en' | 'vi']): string {
  if (pdf.changesAfter?.length) return `${L.yes} — ${pdf.changesAfter.join('; ')}`;
  return pdf.modifiedAfter ? `${L.yes} (${L.fillOnly})` : L.no;
}

/** FieldMDP All, or Include/Exclude with the fields, then the violations. */
export function lockText(l: NonNullable<NonNullable<SignatureReport['pdf']>['fieldLock']>): string {
  return `FieldMDP ${l.action}${l.action !== 'All' ? ` [${(l.fields ?? []).join(', ')}]` : ''}${l.violations.length ? ` — ${l.violations.join('; ')}` : ''}`;
}

export function reportText(report: ValidationReport, lang: 'en' | 'vi' = 'en'): string {
  const L = LABELS[lang];
  const docStamps = report.documentTimestamps?.length ? `\n\n${L.documentTimestamps}:\n${report.documentTimestamps.flatMap((t) => stampText(t, lang, '  ')).join('\n')}` : '';
  if (!report.signatures.length) return L.none + docStamps + '\n';
  return report.signatures.map((s) => one(s, L)).join('\n\n') + docStamps + '\n';
}
