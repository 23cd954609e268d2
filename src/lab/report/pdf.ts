/**
 * The report as PDF (pdf-lib). pdf-lib embeds only its standard fonts without @pdf-lib/fontkit, and those
 * cover WinAnsi, not Vietnamese: text is folded to ASCII (diacritics removed, đ→d) so nothing is dropped
 * or garbled. With fontkit installed, DejaVu Sans (/usr/share/fonts/truetype/dejavu) would keep the marks.
 */
import { PDFDocument, type PDFFont, type PDFPage, rgb, StandardFonts } from 'pdf-lib';
import { OUTCOMES } from '../outcome.js';
import { type LabReport, partialSummary } from './model.js';

/** Vietnamese and other Latin text to printable ASCII. */
export function asciiFold(s: string): string {
  return s
    .replace(/đ/g, 'd')
    .replace(/Đ/g, 'D')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[—–]/g, '-')
    .replace(/[→]/g, '->')
    .replace(/[^\x20-\x7e]/g, '?');
}

const A4: [number, number] = [595.28, 841.89];
const MARGIN = 50;

class Writer {
  page!: PDFPage;
  y = 0;
  constructor(
    private readonly doc: PDFDocument,
    private readonly font: PDFFont,
    private readonly bold: PDFFont,
  ) {
    this.newPage();
  }
  newPage(): void {
    this.page = this.doc.addPage(A4);
    this.y = A4[1] - MARGIN;
  }
  line(text: string, o: { size?: number; bold?: boolean; color?: [number, number, number]; indent?: number } = {}): void {
    const size = o.size ?? 9;
    const font = o.bold ? this.bold : this.font;
    const width = A4[0] - 2 * MARGIN - (o.indent ?? 0);
    for (const part of wrap(asciiFold(text), font, size, width)) {
      if (this.y < MARGIN + size) this.newPage();
      this.page.drawText(part, { x: MARGIN + (o.indent ?? 0), y: this.y, size, font, color: rgb(...(o.color ?? [0, 0, 0])) });
      this.y -= size * 1.35;
    }
  }
  gap(h = 6): void {
    this.y -= h;
  }
}

function wrap(text: string, font: PDFFont, size: number, width: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const word of text.split(/\s+/)) {
    const next = cur ? `${cur} ${word}` : word;
    if (font.widthOfTextAtSize(next, size) <= width) {
      cur = next;
      continue;
    }
    if (cur) out.push(cur);
    cur = word;
    while (font.widthOfTextAtSize(cur, size) > width && cur.length > 1) {
      let cut = cur.length - 1;
      while (cut > 1 && font.widthOfTextAtSize(cur.slice(0, cut), size) > width) cut--;
      out.push(cur.slice(0, cut));
      cur = cur.slice(cut);
    }
  }
  if (cur || out.length === 0) out.push(cur);
  return out;
}

const countsLine = (c: Record<string, number>): string => OUTCOMES.map((o) => `${o} ${c[o]}`).join('  ');

export async function renderPdf(r: LabReport): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.setTitle(asciiFold(`Lab report - ${r.product.name}`));
  doc.setProducer('Truc crypto lab');
  doc.setCreationDate(new Date(r.run.finishedAt));
  const w = new Writer(doc, await doc.embedFont(StandardFonts.Helvetica), await doc.embedFont(StandardFonts.HelveticaBold));
  w.line('Crypto lab report', { size: 18, bold: true });
  w.gap();
  w.line(`Product: ${r.product.name} - ${r.product.version} (adapter ${r.product.adapter})`, { size: 10 });
  w.line(`Run: ${r.run.startedAt} -> ${r.run.finishedAt}`, { size: 10 });
  for (const s of r.sources) {
    w.line(`Vectors: ${s.name}${s.commit ? ` @ ${s.commit}` : ' (khong trung ban goc / not identical to upstream)'}${s.folder ? ` - ${s.folder}` : ''}`, { size: 10 });
    for (const f of s.files ?? []) w.line(`${f.file} sha256 ${f.sha256}${f.upstream ? '' : ' (not upstream)'}`, { indent: 10, size: 7 });
  }
  if (r.partial) {
    w.gap(6);
    w.line('Lan chay bi cat ngang (run cut short)', { size: 13, bold: true, color: [0.7, 0, 0] });
    w.line(partialSummary(r.partial), { size: 9, color: [0.7, 0, 0] });
  }
  w.line(`Totals: ${countsLine(r.counts)}`, { size: 10, bold: true });
  if (r.verdict) {
    w.gap(10);
    const ok = r.verdict.verdict === 'PASS';
    w.line(`Verdict: ${r.verdict.verdict} - ${r.verdict.profile.title}`, { size: 14, bold: true, color: ok ? [0, 0.45, 0] : [0.7, 0, 0] });
    w.line(r.verdict.profile.standard, { size: 9 });
    for (const reason of r.verdict.reasons) w.line(`- ${reason}`, { indent: 10 });
    for (const s of r.verdict.suites) w.line(`${s.status.padEnd(15)} ${s.title}${s.required ? ' (required)' : ''}: ${countsLine(s.counts)}`, { indent: 10, size: 8 });
  }
  w.gap(10);
  w.line('Suites', { size: 13, bold: true });
  for (const s of r.suites) {
    w.line(`${s.file} - ${s.algorithm} (${s.schema})`, { bold: true, size: 9 });
    w.line(`sha256 ${s.sha256}`, { indent: 10, size: 7 });
    w.line(countsLine(s.counts), { indent: 10, size: 8 });
    if (s.error) w.line(`did not run: ${s.error}`, { indent: 10, size: 8, color: [0.7, 0, 0] });
    if (s.notRun) w.line(`${s.notRun} chua chay / not run (run cut short)`, { indent: 10, size: 8, color: [0.7, 0, 0] });
    for (const k of s.skipped ?? []) w.line(`${k.count} skipped: ${k.reason}`, { indent: 10, size: 8 });
    for (const u of s.unsupported ?? []) w.line(`${u.count} ${u.by === 'lab' ? 'lab cannot ask' : 'product lacks'}: ${u.reason}`, { indent: 10, size: 8 });
  }
  w.gap(10);
  w.line('Theo loai loi (coverage per flag)', { size: 13, bold: true });
  for (const f of r.flags ?? []) w.line(`${f.flag}${f.bugType ? ` [${f.bugType}]` : ''}: ${countsLine(f.counts)}`, { indent: 10, size: 8 });
  w.gap(10);
  w.line(`Failures (${r.failures.length})`, { size: 13, bold: true });
  for (const f of r.failures) {
    w.line(`${f.file} #${f.tcId} ${f.outcome} (expected ${f.expected}) ${f.comment ?? ''}`, { bold: true, size: 8 });
    w.line(`flags: ${f.flags.join(', ') || '-'}`, { indent: 10, size: 8 });
    if (f.note) w.line(f.note, { indent: 10, size: 8 });
    for (const m of f.meaning) {
      w.line(`${m.flag}${m.bugType ? ` [${m.bugType}]` : ''}: ${m.description ?? ''}`, { indent: 10, size: 7 });
      if (m.effect) w.line(`effect: ${m.effect}`, { indent: 20, size: 7 });
    }
  }
  return doc.save();
}
