/** The report as one self-contained HTML page; every value from a product or a file is escaped. */
import { OUTCOMES } from '../outcome.js';
import { type LabReport, partialSummary } from './model.js';

const esc = (s: unknown): string =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function renderHtml(r: LabReport): string {
  const counts = (c: Record<string, number>) => OUTCOMES.map((o) => `<td class="n">${c[o]}</td>`).join('');
  const head = OUTCOMES.map((o) => `<th>${o}</th>`).join('');
  const verdict = r.verdict
    ? `<section><h2>Verdict: <span class="${r.verdict.verdict === 'PASS' ? 'ok' : 'bad'}">${r.verdict.verdict}</span> — ${esc(r.verdict.profile.title)}</h2>
<p>${esc(r.verdict.profile.standard)}</p>
${r.verdict.reasons.length ? `<ul>${r.verdict.reasons.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>` : ''}
<table><tr><th>Suite</th><th>Evidences</th><th>Required</th><th>Status</th>${head}</tr>
${r.verdict.suites.map((s) => `<tr><td>${esc(s.title)}</td><td>${esc(s.evidences)}</td><td>${s.required ? 'yes' : 'no'}</td><td>${esc(s.status)}</td>${counts(s.counts)}</tr>`).join('\n')}
</table></section>`
    : '';
  return `<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Lab report — ${esc(r.product.name)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top}
.n{text-align:right}.ok{color:#070}.bad{color:#b00}code{font-size:12px}</style></head><body>
<h1>Crypto lab report</h1>
<p><b>Product:</b> ${esc(r.product.name)} — ${esc(r.product.version)} (adapter ${esc(r.product.adapter)})<br>
<b>Run:</b> ${esc(r.run.startedAt)} → ${esc(r.run.finishedAt)}<br>
<b>Vectors:</b> ${r.sources.map((s) => `${esc(s.name)}${s.commit ? ` @ <code>${esc(s.commit)}</code>` : ' (không trùng bản gốc / not identical to upstream)'}${s.folder ? ` — <code>${esc(s.folder)}</code>` : ''}`).join(', ')}</p>
${r.partial ? `<section class="partial"><h2 class="bad">Lần chạy bị cắt ngang (run cut short)</h2><p class="bad">${esc(partialSummary(r.partial))}</p></section>` : ''}
${verdict}
<section><h2>Totals</h2><table><tr>${head}</tr><tr>${counts(r.counts)}</tr></table></section>
<section><h2>Suites</h2><table><tr><th>File</th><th>Algorithm</th><th>Schema</th><th>SHA-256</th>${head}</tr>
${r.suites.map((s) => `<tr><td>${esc(s.file)}${s.error ? `<br><span class="bad">${esc(s.error)}</span>` : ''}${s.notRun ? `<br><span class="bad">${s.notRun} chưa chạy / not run</span>` : ''}${(s.skipped ?? []).map((k) => `<br>${k.count} skipped: ${esc(k.reason)}`).join('')}${(s.unsupported ?? []).map((u) => `<br>${u.count} ${u.by === 'lab' ? 'phòng thử nghiệm không hỏi được / lab cannot ask' : 'sản phẩm không hỗ trợ / product lacks'}: ${esc(u.reason)}`).join('')}</td><td>${esc(s.algorithm)}</td><td>${esc(s.schema)}</td><td><code>${esc(s.sha256)}</code></td>${counts(s.counts)}</tr>`).join('\n')}
</table></section>
<section><h2>Theo loại lỗi (coverage per flag)</h2><table><tr><th>Flag</th><th>Bug type</th>${head}</tr>
${(r.flags ?? []).map((f) => `<tr><td>${esc(f.flag)}</td><td>${esc(f.bugType ?? '')}</td>${counts(f.counts)}</tr>`).join('\n')}
</table></section>
<section><h2>Nguồn vector (vector files)</h2><table><tr><th>File</th><th>SHA-256</th><th>Upstream</th></tr>
${r.sources.flatMap((s) => (s.files ?? []).map((f) => `<tr><td>${esc(f.file)}</td><td><code>${esc(f.sha256)}</code></td><td>${f.upstream ? 'yes' : 'no'}</td></tr>`)).join('\n')}
</table></section>
<section><h2>Failures (${r.failures.length})</h2>
${r.failures
  .map(
    (f) => `<div><b>${esc(f.file)} #${f.tcId}</b> ${esc(f.outcome)} (expected ${esc(f.expected)}) ${esc(f.comment ?? '')}<br>flags: ${esc(f.flags.join(', ') || '—')}<br>${esc(f.note ?? '')}
<ul>${f.meaning.map((m) => `<li><b>${esc(m.flag)}</b>${m.bugType ? ` [${esc(m.bugType)}]` : ''}: ${esc(m.description ?? '')}${m.effect ? `<br><i>Effect:</i> ${esc(m.effect)}` : ''}</li>`).join('')}</ul></div>`,
  )
  .join('\n')}
</section></body></html>
`;
}
