/**
 * Validation-report notes carry stable codes (issue 18): the validators create each note by its code and values, the
 * catalogue gives every code its Vietnamese and English; signatures validated here — CAdES, PAdES, XAdES, sound,
 * time-stamped and damaged — come back with one coded note per warning, none of them UNCATALOGUED, each the text its
 * code and values make, the same for their time-stamps; a coded reason for every sub-indication, a time-stamp's
 * failure included; the XML report (TS 119 102-2) types its report data by code; `truc verify`'s text shows the
 * Vietnamese with the English beside it.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOMParser } from '@xmldom/xmldom';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import { inspectCms, localTimeStamper, reportXml, signCades, signPdf, signXades, validateCades, validatePdf, validateXades, reportText, VR_NS, type ValidationReport } from '../../src/sign/index.js';
import { NOTE_CATALOGUE, REASON_CATALOGUE, TIMESTAMP_REASON_CATALOGUE, note, reasonOf, sentenceOf, uncatalogued, withNotes, type CatalogueCode, type ReportNote } from '../../src/sign/validate/notes.js';
import { verifyTimeStamp } from '../../src/sign/timestamp/verify.js';
import { timestampReport } from '../../src/sign/validate/timestamps.js';
import { reportHtml } from '../../src/sign/validate/html-report.js';
import { UNSIGNED } from '../../src/sign/cades/unsigned.js';
import { writeFileSync } from 'node:fs';
import type { SignatureReport, SubIndication, TimestampReport } from '../../src/sign/validate/report.js';
import { PdfDocument } from '../../src/sign/pdf/document.js';
import { decodeTextString, dict, serialize, textString } from '../../src/sign/pdf/objects.js';
import { appendUpdate } from '../../src/sign/pdf/update.js';
import { formPdf, openLab, samplePdf, save, type Lab } from './fixtures.js';

/** `p7s` with its signature time-stamp's imprint changed: the token no longer stamps this signature value */
function breakImprint(p7s: Buffer): Buffer {
  const imprint = createHash('sha256').update(inspectCms(p7s).signers[0]!.signatureValue).digest();
  const at = p7s.indexOf(imprint);
  expect(at).toBeGreaterThan(0);
  const out = Buffer.from(p7s);
  out[at + imprint.length - 1]! ^= 1;
  return out;
}

const VI = /[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]/i;
const CONTENT = Buffer.from('Quyết định số 15/QĐ-UBND\n');

/** every note of a report (a signature's or a time-stamp's) is catalogued, the text of its code and values, and its warning is its sentence */
function expectNotes(r: { notes?: ReportNote[]; warnings?: string[] }): ReportNote[] {
  const notes = r.notes ?? [];
  expect(notes, JSON.stringify(r.warnings)).toHaveLength(r.warnings?.length ?? 0);
  for (const [i, n] of notes.entries()) {
    expect(n.code, r.warnings?.[i]).not.toBe('UNCATALOGUED');
    expect(Object.hasOwn(NOTE_CATALOGUE, n.code), n.code).toBe(true);
    expect(n).toEqual(note(n.code as CatalogueCode, n.params));
    expect(r.warnings?.[i]).toBe(sentenceOf(n));
    expect(n.vi.length && n.en.length).toBeTruthy();
  }
  return notes;
}

/** a signature's notes and reason, and its time-stamps', all coded */
function expectCoded(s: SignatureReport): ReportNote[] {
  const notes = expectNotes(s);
  if (s.subIndication) expect(s.reason).toMatchObject({ code: s.subIndication });
  else expect(s.reason).toBeUndefined();
  for (const t of s.timestamps ?? []) expectStamp(t);
  return notes;
}

function expectStamp(t: TimestampReport): ReportNote[] {
  const notes = expectNotes(t);
  if (t.valid) expect(t.reason).toBeUndefined();
  else expect(t.reason && Object.hasOwn(REASON_CATALOGUE, t.reason.code), JSON.stringify(t)).toBe(true);
  expect(t).not.toHaveProperty('failure');
  return notes;
}

/** every note of every report is coded; the codes seen */
function expectReport(r: ValidationReport, seen: Set<string> = new Set()): Set<string> {
  for (const s of r.signatures) for (const n of expectCoded(s)) seen.add(n.code);
  for (const t of r.documentTimestamps ?? []) for (const n of expectStamp(t)) seen.add(n.code);
  for (const s of r.signatures) for (const t of s.timestamps ?? []) for (const n of t.notes ?? []) seen.add(`ts:${n.code}`);
  return seen;
}

describe('the catalogue of report notes', () => {
  it('every code has non-empty Vietnamese and English text, and its sentence, made of its example values', () => {
    const codes = Object.keys(NOTE_CATALOGUE) as CatalogueCode[];
    expect(codes.length).toBeGreaterThan(35);
    for (const code of codes) {
      const n = note(code, NOTE_CATALOGUE[code].example);
      expect(n.code).toBe(code);
      expect(n.params).toEqual(NOTE_CATALOGUE[code].example);
      expect(n.vi.trim(), code).not.toBe('');
      expect(n.vi, code).toMatch(VI);
      expect(n.en.trim(), code).not.toBe('');
      // the English is English: no Vietnamese letters besides the values it names
      expect(Object.values(n.params).reduce((en, v) => en.split(v).join(''), n.en), code).not.toMatch(VI);
      expect(n.vi, code).not.toBe(n.en);
      // no value left out of the text, none undefined
      for (const v of Object.values(n.params)) expect(n.vi + n.en, `${code}: ${v}`).toContain(v.split(' / ').pop());
      expect(n.vi + n.en + sentenceOf(n), code).not.toMatch(/undefined|\[object/);
      expect(sentenceOf(n).trim(), code).not.toBe('');
    }
  });

  it('a note is made of its code and values: a revocation status missing gives the subject and the detail', () => {
    const n = note('REVOCATION_MISSING', { subject: 'CN=Nguyễn Văn A, O=UBND', detail: 'OCSP responder does not know the certificate' });
    expect(n).toEqual({
      code: 'REVOCATION_MISSING',
      vi: 'không có thông tin thu hồi cho CN=Nguyễn Văn A, O=UBND: OCSP responder does not know the certificate',
      en: 'no revocation status for CN=Nguyễn Văn A, O=UBND: OCSP responder does not know the certificate',
      params: { subject: 'CN=Nguyễn Văn A, O=UBND', detail: 'OCSP responder does not know the certificate' },
    });
    expect(sentenceOf(n)).toBe('no revocation status for CN=Nguyễn Văn A, O=UBND: OCSP responder does not know the certificate');
    expect(note('CERTIFICATE_REVOKED_AFTER_POE', { where: 'certificate 2 of the path', revoked: '2026-02-01T00:00:00.000Z', poe: '2026-01-01T00:00:00.000Z' }).vi).toMatch(/^chứng thư thứ 2 của chuỗi bị thu hồi/);
    // a value not given is left out, not written "undefined"
    expect(note('REVOCATION_MISSING', { subject: 'CN=A', detail: undefined })).toEqual({ code: 'REVOCATION_MISSING', vi: 'không có thông tin thu hồi cho CN=A', en: 'no revocation status for CN=A', params: { subject: 'CN=A' } });
  });

  it('a sentence from a report written before codes is UNCATALOGUED, kept whole, its English part as English', () => {
    expect(uncatalogued('something new the validator says')).toMatchObject({ code: 'UNCATALOGUED', en: 'something new the validator says' });
    expect(uncatalogued('điều mới / something new')).toEqual({ code: 'UNCATALOGUED', vi: 'điều mới / something new', en: 'something new', params: {} });
  });

  it('the validators write no sentence of their own: every note in src/sign comes from note(code, …)', () => {
    // warnings are written from notes (withNotes, the time-stamp check); a raw sentence pushed to warnings would be UNCATALOGUED
    const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
    const raw = files('src/sign').flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .map((line, i) => ({ at: `${f}:${i + 1}`, line }))
        .filter(({ line }) => /\b(warnings|notes)( \?\?= \[\]\))?\.(push|unshift)\(\s*[`'"]/.test(line) || /\bwarnings: \[\s*[`'"]/.test(line)),
    );
    expect(raw.map((r) => r.at)).toEqual([]);
    // UNCATALOGUED is made only where a report written before codes is read back (its warnings without notes)
    const readers = files('src')
      .filter((f) => /\buncatalogued\b|code: 'UNCATALOGUED'/.test(readFileSync(f, 'utf8')))
      .sort();
    expect(readers).toEqual(['src/sign/validate/notes.ts', 'src/sign/validate/text.ts', 'src/sign/validate/xml-report.ts']);
  });

  it('every sub-indication has its reason in both languages', () => {
    const subs: SubIndication[] = Object.keys(REASON_CATALOGUE) as SubIndication[];
    expect(subs.length).toBe(17);
    for (const sub of subs) {
      expect(REASON_CATALOGUE[sub].vi, sub).toMatch(VI);
      expect(REASON_CATALOGUE[sub].en, sub).not.toMatch(VI);
    }
    // a time-stamp's reason says it of the time-stamp and its TSA, in both languages, never in a signature's words
    for (const sub of subs) {
      const t = TIMESTAMP_REASON_CATALOGUE[sub];
      expect(t.vi, sub).toMatch(/dấu thời gian/);
      expect(t.en, sub).toMatch(/time-stamp|TSA/);
      expect(t.en, sub).not.toMatch(VI);
      expect(t.vi, sub).not.toBe(REASON_CATALOGUE[sub].vi);
      expect(t.en, sub).not.toBe(REASON_CATALOGUE[sub].en);
    }
    expect(TIMESTAMP_REASON_CATALOGUE.SIG_CRYPTO_FAILURE).toEqual({ vi: 'chữ ký của đơn vị cấp dấu thời gian trên dấu thời gian không đúng', en: "the TSA's signature over the time-stamp does not verify" });
    expect(reasonOf({ subIndication: 'SIG_CRYPTO_FAILURE', message: 'bad signature' }, 'timestamp')).toEqual({
      code: 'SIG_CRYPTO_FAILURE',
      vi: 'chữ ký của đơn vị cấp dấu thời gian trên dấu thời gian không đúng: bad signature',
      en: "the TSA's signature over the time-stamp does not verify: bad signature",
      params: { detail: 'bad signature' },
    });
    // a signature's reason is unchanged
    expect(reasonOf({ subIndication: 'SIG_CRYPTO_FAILURE' })).toEqual({ code: 'SIG_CRYPTO_FAILURE', vi: 'giá trị chữ ký không đúng', en: 'the signature value does not verify', params: {} });
    expect(reasonOf({ subIndication: 'HASH_FAILURE', message: 'không khớp giá trị băm / the digest does not hold: #a' })).toEqual({
      code: 'HASH_FAILURE',
      vi: 'nội dung đã ký không khớp giá trị băm: không khớp giá trị băm / the digest does not hold: #a',
      en: 'the signed data does not match its digest: the digest does not hold: #a',
      params: { detail: 'không khớp giá trị băm / the digest does not hold: #a' },
    });
  });
});

/**
 * The tables of docs/signatures.md ("Report notes and their codes"), made from the catalogue: each note code with its
 * parameters and its example in both languages, then each reason code in both languages, a signature's and a
 * time-stamp's. `TRUC_WRITE_DOCS=1 npx vitest run test/sign/report-notes.test.ts -t docs` writes them there.
 */
function catalogueTables(): string {
  const notes = (Object.keys(NOTE_CATALOGUE) as CatalogueCode[]).map((code) => {
    const example = NOTE_CATALOGUE[code].example as Record<string, string>;
    const n = note(code, example);
    const params = Object.keys(example).map((k) => `\`${k}\``).join(', ') || '—';
    return `| \`${code}\` | ${params} | ${n.vi} | ${n.en} |`;
  });
  const reasons = (Object.keys(REASON_CATALOGUE) as SubIndication[]).map(
    (sub) => `| \`${sub}\` | ${REASON_CATALOGUE[sub].vi} | ${REASON_CATALOGUE[sub].en} | ${TIMESTAMP_REASON_CATALOGUE[sub].vi} | ${TIMESTAMP_REASON_CATALOGUE[sub].en} |`,
  );
  return [
    '| code | parameters | Vietnamese (example) | English (example) |',
    '|---|---|---|---|',
    ...notes,
    '',
    '| reason code (sub-indication) | Vietnamese (a signature) | English (a signature) | Vietnamese (a time-stamp) | English (a time-stamp) |',
    '|---|---|---|---|---|',
    ...reasons,
  ].join('\n');
}

describe('docs/signatures.md', () => {
  it('docs: its tables of note and reason codes are the catalogue', () => {
    const path = 'docs/signatures.md';
    const doc = readFileSync(path, 'utf8');
    const start = doc.indexOf('| code | parameters | Vietnamese (example) |');
    expect(start).toBeGreaterThan(0);
    // the tables run to the first line after them that is neither a table row nor the blank line between them
    const lines = doc.slice(start).split('\n');
    let n = 0;
    while (n < lines.length && (lines[n]!.startsWith('|') || (lines[n] === '' && lines[n + 1]?.startsWith('|')))) n++;
    const current = lines.slice(0, n).join('\n');
    if (process.env.TRUC_WRITE_DOCS === '1') writeFileSync(path, doc.slice(0, start) + catalogueTables() + doc.slice(start + current.length));
    else expect(current).toBe(catalogueTables());
  });
});

describe('the validators write only catalogued notes', () => {
  let lab: Lab;
  let tsa: TimeStampAuthority;
  beforeAll(async () => {
    lab = await openLab();
    tsa = new TimeStampAuthority(lab.p.pki, lab.p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
    await tsa.start();
  }, 60_000);
  afterAll(async () => {
    await lab?.p.close();
  });

  it('CAdES: sound, padded, over other content — each note coded, the reason coded', async () => {
    const signer = await lab.signer('/C=VN/O=UBND tỉnh Hà Giang/CN=Nguyễn Văn An');
    const p7s = await signCades(CONTENT, signer);
    const seen = new Set<string>();
    for (const [bytes, content] of [
      [p7s, CONTENT],
      [Buffer.concat([p7s, Buffer.alloc(64)]), CONTENT],
      [p7s, Buffer.from('another text')],
    ] as const) {
      const r = await validateCades(bytes, { content, trustAnchors: [lab.root] });
      for (const s of r.signatures) for (const n of expectCoded(s)) seen.add(n.code);
    }
    expect(seen.has('CMS_PADDING_IGNORED')).toBe(true);
    // no CRL nor OCSP at hand (soft-fail): the issue's own example, coded, the subject a parameter
    const sound = (await validateCades(p7s, { content: CONTENT, trustAnchors: [lab.root] })).signatures[0]!;
    expect(sound.notes).toContainEqual({
      code: 'REVOCATION_MISSING',
      vi: 'không có thông tin thu hồi cho C=VN, O=UBND tỉnh Hà Giang, CN=Nguyễn Văn An',
      en: 'no revocation status for C=VN, O=UBND tỉnh Hà Giang, CN=Nguyễn Văn An',
      params: { subject: 'C=VN, O=UBND tỉnh Hà Giang, CN=Nguyễn Văn An' },
    });
    const failed = await validateCades(p7s, { content: Buffer.from('another text'), trustAnchors: [lab.root] });
    expect(failed.signatures[0]!.reason).toMatchObject({ code: 'HASH_FAILURE', vi: expect.stringMatching(/^nội dung đã ký không khớp giá trị băm/) });
    // no trust anchor for the path: the reason says so in both languages
    const untrusted = await validateCades(p7s, { content: CONTENT, trustAnchors: [] });
    expect(expectCoded(untrusted.signatures[0]!)).toBeDefined();
    expect(untrusted.signatures[0]!.reason?.code).toBe('NO_CERTIFICATE_CHAIN_FOUND');
  }, 60_000);

  it('PAdES: a form filled and a page added after signing — coded notes, Vietnamese first in the text report', async () => {
    const signer = await lab.signer('/C=VN/O=Sở Nội vụ/CN=Trần Thị Bình');
    const signed = await signPdf(await formPdf(false), signer);
    const doc = new PdfDocument(signed);
    const f = doc.fields().find((x) => decodeTextString(Buffer.from(x.name, 'latin1')) === 'ghiChu')!;
    const d = new Map(f.dict);
    d.set('V', textString('Da xem'));
    const filled = appendUpdate(doc, [{ num: f.ref!.num, gen: f.ref!.gen, body: serialize(dict(d)) }]).bytes;
    const r = await validatePdf(filled, { trustAnchors: [lab.root] });
    const codes = expectCoded(r.signatures[0]!).map((n) => n.code);
    expect(codes).toContain('DOCUMENT_FILLED_AFTER');
    const vi = reportText(r, 'vi');
    expect(vi).toMatch(/Ghi chú:\n(?:.*\n)*? {4}- \[DOCUMENT_FILLED_AFTER\] tài liệu được cập nhật sau chữ ký này chỉ bằng việc điền biểu mẫu hoặc thêm đối tượng, không thay đổi gì khác \(the document was updated after this signature with form fields filled in or objects added, no other change\)/);
    expect(reportText(r, 'en')).toMatch(/- \[DOCUMENT_FILLED_AFTER\] the document was updated after this signature/);
    expect(reportText(r, 'en')).not.toMatch(/tài liệu được cập nhật/);
    // truc verify: the note in Vietnamese with its English beside it; --lang en: English alone; JSON: coded
    const file = save(lab.dir, 'filled.pdf', filled);
    const env = { ...process.env, TRUC_DATA_DIR: join(lab.dir, 'cli-data'), TRUC_LOG_LEVEL: 'warn' };
    const truc = (...args: string[]) => spawnSync(process.execPath, ['bin/truc.js', 'verify', file, '--anchor', lab.rootPath, ...args], { env, encoding: 'utf8', timeout: 120_000 });
    const text = truc();
    expect(text.stdout, text.stderr).toMatch(/- \[DOCUMENT_FILLED_AFTER\] tài liệu được cập nhật sau chữ ký này .* \(the document was updated after this signature/);
    expect(truc('--lang', 'en').stdout).toMatch(/- \[DOCUMENT_FILLED_AFTER\] the document was updated after this signature/);
    const json = JSON.parse(truc('--report', 'json').stdout) as { signatures: SignatureReport[] };
    expect(json.signatures[0]!.notes).toEqual(r.signatures[0]!.notes);
    // a plain PDF signed twice: both signatures coded
    const twice = await signPdf(await signPdf(await samplePdf(false), signer), signer);
    for (const s of (await validatePdf(twice, { trustAnchors: [lab.root] })).signatures) expectCoded(s);
  }, 60_000);

  it('XAdES: sound, and over content it does not sign — each note coded', async () => {
    const signer = await lab.signer('/C=VN/O=Sở Tư pháp/CN=Lê Văn Cường');
    const xml = await signXades(Buffer.from('<?xml version="1.0" encoding="UTF-8"?><ThongBao><So>12/TB</So><NoiDung>Lịch họp</NoiDung></ThongBao>'), signer);
    const r = await validateXades(xml, { trustAnchors: [lab.root] });
    for (const s of r.signatures) expectCoded(s);
    const broken = Buffer.from(Buffer.from(xml).toString('utf8').replace('Lịch họp', 'Lịch nghỉ'));
    const b = await validateXades(broken, { trustAnchors: [lab.root] });
    expectCoded(b.signatures[0]!);
    expect(b.signatures[0]!.reason?.code).toBe('HASH_FAILURE');
    expect(reportText(b, 'vi')).toMatch(/nội dung đã ký không khớp giá trị băm: không khớp giá trị băm \/ the digest does not hold/);
  }, 60_000);
  it('time-stamped signatures: the time-stamps carry coded notes, a broken one a coded reason, and the XML report types its data by code', async () => {
    const signer = await lab.signer('/C=VN/O=Văn phòng UBND/CN=Phạm Thị Dung');
    const context = { timeStamper: localTimeStamper(tsa) };
    const seen = new Set<string>();
    const p7s = await signCades(CONTENT, signer, { level: 'B-T', context });
    const timed = await validateCades(p7s, { content: CONTENT, trustAnchors: [lab.root] });
    expectReport(timed, seen);
    // the TSA's path without revocation data at hand (soft-fail): a note of the time-stamp, coded where path validation found it
    const stamp = timed.signatures[0]!.timestamps![0]!;
    expect(stamp.valid).toBe(true);
    expect(stamp.notes?.map((n) => n.code)).toContain('REVOCATION_MISSING');
    const pdf = await signPdf(await samplePdf(false), signer, { level: 'B-T', context });
    expectReport(await validatePdf(pdf, { trustAnchors: [lab.root] }), seen);
    const xml = await signXades(Buffer.from('<?xml version="1.0" encoding="UTF-8"?><CongVan><So>7</So></CongVan>'), signer, { level: 'B-T', context });
    expectReport(await validateXades(xml, { trustAnchors: [lab.root] }), seen);
    // a time-stamp whose imprint is not the signature value's: not valid, HASH_FAILURE as its reason, SIGNATURE_TS_INVALID on the signature
    const swapped = await validateCades(breakImprint(p7s), { content: CONTENT, trustAnchors: [lab.root] });
    expectReport(swapped, seen);
    const bad = swapped.signatures[0]!.timestamps!.find((t) => !t.valid)!;
    expect(bad.reason).toMatchObject({
      code: 'HASH_FAILURE',
      vi: expect.stringMatching(/^dữ liệu được đóng dấu thời gian không khớp giá trị băm trong dấu thời gian: /),
      en: expect.stringMatching(/^the time-stamped data does not match the digest in the time-stamp: .*message imprint/),
    });
    // the text and HTML reports list each time-stamp, its reason when not valid, and its notes, in the language asked for
    const vi = reportText(swapped, 'vi');
    expect(vi).toMatch(/\n {2}Dấu thời gian:\n {4}- dấu thời gian chữ ký: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+07:00(?:, đơn vị cấp dấu thời gian [^\n—]*)? — không hợp lệ — \[HASH_FAILURE\] dữ liệu được đóng dấu thời gian không khớp giá trị băm trong dấu thời gian: .* \(the time-stamped data does not match the digest in the time-stamp: /);
    const en = reportText(swapped, 'en');
    expect(en).toMatch(/\n {2}Time-stamps:\n {4}- signature time-stamp: [^\n—]* — not valid — \[HASH_FAILURE\] the time-stamped data does not match the digest in the time-stamp: the message imprint/);
    expect(en).not.toMatch(/dấu thời gian/);
    const timedText = reportText(timed, 'vi');
    expect(timedText).toMatch(/- dấu thời gian chữ ký: .* — hợp lệ\n {8}- \[REVOCATION_MISSING\] không có thông tin thu hồi cho .* \(no revocation status for /);
    expect(reportText(timed, 'en')).toMatch(/- signature time-stamp: .* — valid\n {8}- \[REVOCATION_MISSING\] no revocation status for /);
    const html = reportHtml(swapped, 'vi');
    expect(html).toMatch(/<p>Dấu thời gian:<\/p><ul><li class="bad">dấu thời gian chữ ký: .* — không hợp lệ — \[HASH_FAILURE\] dữ liệu được đóng dấu thời gian không khớp/);
    expect(reportHtml(timed, 'en')).toMatch(/<p>Time-stamps:<\/p><ul><li class="ok">signature time-stamp: .* — valid<ul><li>\[REVOCATION_MISSING\] no revocation status for /);
    // truc verify: the same, Vietnamese with English beside it; --lang en: English alone
    const p7m = breakImprint(await signCades(CONTENT, signer, { level: 'B-T', context, packaging: 'enveloping' }));
    const file = save(lab.dir, 'stamped-broken.p7m', p7m);
    const env = { ...process.env, TRUC_DATA_DIR: join(lab.dir, 'cli-data-ts'), TRUC_LOG_LEVEL: 'warn' };
    const truc = (...args: string[]) => spawnSync(process.execPath, ['bin/truc.js', 'verify', file, '--anchor', lab.rootPath, ...args], { env, encoding: 'utf8', timeout: 120_000 });
    const cliVi = truc();
    expect(cliVi.stdout, cliVi.stderr).toMatch(/Dấu thời gian:\n {4}- dấu thời gian chữ ký: .* — không hợp lệ — \[HASH_FAILURE\] dữ liệu được đóng dấu thời gian không khớp giá trị băm trong dấu thời gian: .* \(the time-stamped data does not match/);
    const cliEn = truc('--lang', 'en');
    expect(cliEn.stdout, cliEn.stderr).toMatch(/Time-stamps:\n {4}- signature time-stamp: .* — not valid — \[HASH_FAILURE\] the time-stamped data does not match the digest in the time-stamp: /);
    expect(cliEn.stdout).not.toMatch(/dấu thời gian/);
    expect(swapped.signatures[0]!.notes?.map((n) => n.code)).toContain('SIGNATURE_TS_INVALID');
    expect([...seen]).toEqual(expect.arrayContaining(['REVOCATION_MISSING', 'ts:REVOCATION_MISSING', 'SIGNATURE_TS_INVALID']));
    // the XML report: the reason and each note typed by code, Vietnamese / English as the value; the time-stamp's own ValidationReport
    const doc = new DOMParser().parseFromString(reportXml(swapped), 'application/xml');
    const data = Array.from(doc.getElementsByTagNameNS(VR_NS, 'ReportData')).map((d) => ({
      type: d.getElementsByTagNameNS(VR_NS, 'Type')[0]!.textContent,
      value: d.getElementsByTagNameNS(VR_NS, 'Value')[0]!.textContent,
    }));
    expect(data).toContainEqual({ type: 'urn:truc:reportdata:note:SIGNATURE_TS_INVALID', value: expect.stringMatching(/^dấu thời gian chữ ký không hợp lệ: .* \/ a signature time-stamp is not valid: /) });
    expect(data).toContainEqual({ type: 'urn:truc:reportdata:note:REVOCATION_MISSING', value: expect.stringMatching(/^không có thông tin thu hồi cho .* \/ no revocation status for /) });
    const objects = Array.from(doc.getElementsByTagNameNS(VR_NS, 'ValidationObject')).filter((o) => o.getElementsByTagNameNS(VR_NS, 'ObjectType')[0]!.textContent === 'urn:etsi:019102:validationObject:timestamp');
    const stampStatus = objects.map((o) => {
      const r = o.getElementsByTagNameNS(VR_NS, 'ValidationReport')[0]!;
      return { main: r.getElementsByTagNameNS(VR_NS, 'MainIndication')[0]!.textContent, sub: r.getElementsByTagNameNS(VR_NS, 'SubIndication')[0]?.textContent, types: Array.from(r.getElementsByTagNameNS(VR_NS, 'Type')).map((t) => t.textContent) };
    });
    expect(stampStatus).toContainEqual({ main: 'urn:etsi:019102:mainindication:total-failed', sub: 'urn:etsi:019102:subindication:HASH_FAILURE', types: ['urn:truc:reportdata:reason:HASH_FAILURE'] });
  }, 120_000);

  it('a time-stamp made after the validation time: INDETERMINATE / SIG_CONSTRAINTS_FAILURE, said of the time-stamp in both languages', async () => {
    const signer = await lab.signer('/C=VN/O=Văn phòng UBND/CN=Đỗ Văn Em');
    const p7s = await signCades(CONTENT, signer, { level: 'B-T', context: { timeStamper: localTimeStamper(tsa) } });
    const cms = inspectCms(p7s);
    const s = cms.signers[0]!;
    const intermediates = cms.certificates;
    const token = s.unsignedAttributes.get(UNSIGNED.signatureTimeStamp)![0]!;
    const imprint = (h: string) => createHash(h).update(s.signatureValue).digest();
    const genTime = (await verifyTimeStamp(token, imprint, { trustAnchors: [lab.root], intermediates })).genTime!;
    // validated as of a time before the token was made: it proves nothing then — not valid, not a proof of existence
    const before = new Date(genTime.getTime() - 60_000);
    const c = await verifyTimeStamp(token, imprint, { trustAnchors: [lab.root], intermediates, at: before });
    expect(c).toMatchObject({ valid: false, failure: 'SIG_CONSTRAINTS_FAILURE' });
    expect(c.problem).toBe(`thời điểm đóng dấu ${genTime.toISOString()} muộn hơn thời điểm kiểm tra ${before.toISOString()} / genTime ${genTime.toISOString()} is after the validation time ${before.toISOString()}`);
    const t = timestampReport('signature', c, undefined, token);
    withNotes({ signatures: [], documentTimestamps: [t] } as unknown as ValidationReport);
    expect(t.reason).toEqual({
      code: 'SIG_CONSTRAINTS_FAILURE',
      vi: `dấu thời gian không đáp ứng ràng buộc: ${c.problem}`,
      en: `the time-stamp does not meet its constraints: genTime ${genTime.toISOString()} is after the validation time ${before.toISOString()}`,
      params: { detail: c.problem },
    });
    // the signature's note about it reads Vietnamese first, the English alone in English
    const n = note('SIGNATURE_TS_INVALID', { problem: c.problem });
    expect(n.vi).toBe(`dấu thời gian chữ ký không hợp lệ: thời điểm đóng dấu ${genTime.toISOString()} muộn hơn thời điểm kiểm tra ${before.toISOString()}`);
    expect(n.en).toBe(`a signature time-stamp is not valid: genTime ${genTime.toISOString()} is after the validation time ${before.toISOString()}`);
    // at the time it was made, or after, the same token is valid
    const then = await verifyTimeStamp(token, imprint, { trustAnchors: [lab.root], intermediates, at: genTime });
    expect(then.valid, then.problem).toBe(true);
  }, 60_000);
});
