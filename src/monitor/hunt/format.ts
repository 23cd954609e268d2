/**
 * How a hunt's detections are written: a table for people (one line a detection, long values cut), CSV
 * (RFC 4180, every value whole) and JSON Lines for tools, and the summary by level, ATT&CK tactic and rule.
 * Labels people read are Vietnamese first, English beside, as the rest of `truc`.
 */
import type { HuntDetection, HuntReport, HuntSummary } from './hunt.js';

export const CSV_COLUMNS = ['time', 'computer', 'level', 'kind', 'rule_id', 'title', 'tactics', 'fields', 'file', 'record'] as const;

function cut(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function oneLine(s: string): string {
  return s.replace(/[\r\n\t]+/g, ' ');
}

function value(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** `Field=value; Field=value`, for a cell. */
export function fieldsText(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${value(v)}`)
    .join('; ');
}

function csvCell(s: string): string {
  // a leading =, +, - or @ would be a formula to a spreadsheet opening the file: quoted with a leading '
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) || safe !== s ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csvHeader(): string {
  return CSV_COLUMNS.join(',') + '\r\n';
}

export function csvRow(d: HuntDetection): string {
  return (
    [d.time, d.computer, d.level, d.kind, d.ruleId, d.title, d.tactics.join(' '), fieldsText(d.fields), d.file, String(d.record)]
      .map(csvCell)
      .join(',') + '\r\n'
  );
}

export function jsonLine(d: HuntDetection): string {
  const { ms: _ms, ...rest } = d;
  return JSON.stringify(rest) + '\n';
}

/** The table for people: time (UTC, to the second), computer, level, rule, the fields that matched. */
export function detectionTable(detections: readonly HuntDetection[], width = 200): string {
  const rows = detections.map((d) => ({
    time: d.time.slice(0, 19).replace('T', ' '),
    computer: cut(d.computer, 28),
    level: d.level || '-',
    rule: cut((d.kind === 'correlation' ? '⧉ ' : '') + d.title, 60),
    fields: oneLine(fieldsText(d.fields)),
  }));
  const head = { time: 'thời gian / time (UTC)', computer: 'máy / computer', level: 'mức / level', rule: 'quy tắc / rule', fields: 'trường khớp / matched fields' };
  const cols = ['time', 'computer', 'level', 'rule', 'fields'] as const;
  const w = cols.map((c) => Math.max(head[c].length, ...rows.map((r) => r[c].length)));
  // the last column takes what the others leave of the width
  const rest = Math.max(30, width - w.slice(0, 4).reduce((a, b) => a + b + 2, 0));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (i === 4 ? cut(v, rest) : v.padEnd(w[i]!)))
      .join('  ')
      .trimEnd();
  return [line(cols.map((c) => head[c])), line(w.map((n, i) => '-'.repeat(i === 4 ? Math.min(n, rest) : n))), ...rows.map((r) => line(cols.map((c) => r[c])))].join('\n');
}

const n = (x: number) => x.toLocaleString('en-US');

/** The summary for people. */
export function summaryText(s: HuntSummary, o: { rules?: number } = {}): string {
  const lines = [
    `Tổng kết / Summary: ${n(s.files)} tệp / files${s.filesFailed ? ` (${n(s.filesFailed)} lỗi / failed)` : ''}, ${n(s.events)} sự kiện / events` +
      `${s.rejected ? `, ${n(s.rejected)} bỏ qua / skipped` : ''}${s.outOfRange ? `, ${n(s.outOfRange)} ngoài khoảng thời gian / outside --from/--to` : ''}; ` +
      `${n(s.detections)} phát hiện / detections (${n(s.correlations)} tương quan / correlations); ` +
      `${n(s.rules.compiled)} quy tắc dùng / rules used of ${n(s.rules.loaded)}; ${(s.ms / 1000).toFixed(1)} s`,
  ];
  if (s.first) lines.push(`Khoảng thời gian / Span: ${s.first} → ${s.last}`);
  if (s.detections) {
    lines.push(`Theo mức / By level: ${Object.entries(s.byLevel).map(([k, v]) => `${k} ${n(v)}`).join(', ')}`);
    const t = Object.entries(s.byTactic);
    lines.push(`Theo chiến thuật ATT&CK / By ATT&CK tactic: ${t.length ? t.map(([k, v]) => `${k} ${n(v)}`).join(', ') : '—'}`);
    const most = o.rules ?? 50;
    lines.push('Theo quy tắc / By rule:');
    const w = Math.max(...s.byRule.slice(0, most).map((r) => n(r.count).length));
    for (const r of s.byRule.slice(0, most)) lines.push(`  ${n(r.count).padStart(w)}  ${(r.level || '-').padEnd(13)} ${r.title}`);
    if (s.byRule.length > most) lines.push(`  … ${n(s.byRule.length - most)} quy tắc nữa / more rules (--json lists them all)`);
  }
  return lines.join('\n');
}

/** What went wrong with files and records, for stderr. */
export function problemsText(r: Pick<HuntReport, 'files' | 'problems'>, most = 20): string {
  const lines: string[] = [];
  for (const p of r.problems) lines.push(`không đọc được / cannot read ${p.path}: ${p.error}`);
  for (const f of r.files) {
    if (f.error) lines.push(`không đọc được / cannot read ${f.path}: ${f.error}${f.events ? ` (sau / after ${n(f.events)} sự kiện / events)` : ''}`);
    if (f.rejected)
      lines.push(`${f.path}: bỏ qua / skipped ${n(f.rejected)} bản ghi / records — ${f.reasons.join('; ')}${f.rejected > f.reasons.length ? '; …' : ''}`);
  }
  return lines.slice(0, most).join('\n') + (lines.length > most ? `\n… ${lines.length - most} more` : '');
}
