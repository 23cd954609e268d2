/**
 * The validation report as a self-contained HTML page for people — by default with the Vietnamese labels
 * officials read: per signature the verdict, signer, certificate issuer, claimed signing time and the
 * time-stamp's proof of existence (in +07:00), integrity, the certificate chain, the certificate's validity
 * at signing time and, for a PDF, changes after signing; each time-stamp with its reason when not valid and its notes
 * (issue 18). Every value from the file is escaped: a signer's
 * name is attacker-chosen text.
 */
import type { SignatureReport, TimestampReport, ValidationReport } from './report.js';
import { afterText, LABELS, lockText, noteLines, reasonLine, referenceLines, stampLines, vietnamTime } from './text.js';
import { xmlEscape } from './xml-report.js';

const esc = xmlEscape;


const TITLE = { en: 'Signature validation report', vi: 'Báo cáo kiểm tra chữ ký số' } as const;
const VALIDATED_AT = { en: 'Validated at', vi: 'Thời điểm kiểm tra' } as const;

/** Time-stamps, one item each — valid or not, its reason when not, its notes below it (all from the file: escaped). */
function stamps(title: string, list: TimestampReport[] | undefined, lang: 'en' | 'vi'): string {
  if (!list?.length) return '';
  const item = (t: TimestampReport) => {
    const { head, notes } = stampLines(t, lang);
    return `<li class="${t.valid ? 'ok' : 'bad'}">${esc(head)}${notes.length ? `<ul>${notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}</li>`;
  };
  return `<p>${esc(title)}:</p><ul>${list.map(item).join('')}</ul>`;
}

function one(s: SignatureReport, lang: 'en' | 'vi'): string {
  const L = LABELS[lang];
  const yn = (b: boolean | null | undefined) => (b === null || b === undefined ? L.unknown : b ? L.yes : L.no);
  const cls = s.indication === 'TOTAL-PASSED' ? 'ok' : s.indication === 'TOTAL-FAILED' ? 'bad' : 'unk';
  const row = (k: string, v: string) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`;
  const rows = [
    row(L.verdict, `${L.verdicts[s.indication]} (${s.indication}${s.subIndication ? ` / ${s.subIndication}` : ''})${reasonLine(s, lang) ? ` — ${reasonLine(s, lang)}` : ''}`),
    row(L.signer, s.signer?.commonName ?? s.signer?.subject ?? '?'),
    ...(s.signer?.commonName ? [row('', s.signer.subject)] : []),
    row(L.issuer, s.signer?.issuer ?? '?'),
    row(L.time, s.claimedSigningTime ? vietnamTime(s.claimedSigningTime) : '?'),
    ...(s.bestSignatureTime ? [row(L.poe, vietnamTime(s.bestSignatureTime))] : []),
    row(L.integrity, yn(s.checks.integrity)),
    row(L.chain, yn(s.checks.certificateChain)),
    row(L.certAtTime, yn(s.checks.certificateValidAtSigningTime)),
    ...(s.pdf ? [row(L.after, afterText(s.pdf, L))] : []),
    ...(s.pdf?.certification ? [row(L.certified, `DocMDP P=${s.pdf.certification.permissions}${s.pdf.certification.violations.length ? ` — ${s.pdf.certification.violations.join('; ')}` : ''}`)] : []),
    ...(s.pdf?.fieldLock ? [row(L.locked, lockText(s.pdf.fieldLock))] : []),
    row(L.level, `${s.format} ${s.level}`),
  ];
  // XAdES: what each reference really covers, one line each (paths and URIs come from the file: escaped)
  const signed = s.signedData?.length ? `<p>${esc(L.signed)}:</p><ul>${s.signedData.flatMap((r) => referenceLines(r, L, '')).map((l) => `<li>${esc(l.replace(/^\s*- /, ''))}</li>`).join('')}</ul>` : '';
  const notes = s.warnings.length ? `<p>${esc(L.notes)}:</p><ul>${noteLines(s, lang).map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : '';
  return `<section class="${cls}"><h2>${esc(`${L.signature} #${s.index + 1}${s.pdf ? ` — ${s.pdf.fieldName}` : ''}`)}</h2><table>${rows.join('')}</table>${signed}${notes}${stamps(L.timestamps, s.timestamps, lang)}</section>`;
}

export function reportHtml(report: ValidationReport, lang: 'en' | 'vi' = 'vi'): string {
  const L = LABELS[lang];
  const docStamps = stamps(L.documentTimestamps, report.documentTimestamps, lang);
  const body = (report.signatures.length ? report.signatures.map((s) => one(s, lang)).join('\n') : `<p>${esc(L.none)}</p>`) + (docStamps ? `\n<section>${docStamps}</section>` : '');
  return `<!DOCTYPE html>
<html lang="${lang}"><head><meta charset="utf-8"><title>${esc(TITLE[lang])}</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}section{border-left:6px solid #999;padding:0 1em;margin:1em 0}.ok{border-color:#2a7}.bad{border-color:#c33}.unk{border-color:#e90}th{text-align:left;padding-right:1em;vertical-align:top}</style>
</head><body><h1>${esc(TITLE[lang])}</h1>
<p>${esc(VALIDATED_AT[lang])}: ${esc(vietnamTime(report.validationTime))} — SHA-256 ${esc(report.document.sha256)}</p>
${body}
</body></html>
`;
}
