/**
 * Validation-report notes carry stable codes (issue 18): the catalogue has Vietnamese and English for every code and
 * recognises each sentence the validators write; signatures validated here — CAdES, PAdES, XAdES, sound and
 * damaged — come back with one coded note per warning, none of them UNCATALOGUED, and a coded reason for every
 * sub-indication; `truc verify`'s text shows the Vietnamese with the English beside it.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { signCades, signPdf, signXades, validateCades, validatePdf, validateXades, reportText } from '../../src/sign/index.js';
import { NOTE_CATALOGUE, REASON_CATALOGUE, noteOf, reasonOf, type ReportNote } from '../../src/sign/validate/notes.js';
import type { SignatureReport, SubIndication } from '../../src/sign/validate/report.js';
import { PdfDocument } from '../../src/sign/pdf/document.js';
import { decodeTextString, dict, serialize, textString } from '../../src/sign/pdf/objects.js';
import { appendUpdate } from '../../src/sign/pdf/update.js';
import { formPdf, openLab, samplePdf, save, type Lab } from './fixtures.js';

const VI = /[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]/i;
const CONTENT = Buffer.from('Quyết định số 15/QĐ-UBND\n');

/** every note of a signature is coded, catalogued and the same sentence as its warning */
function expectCoded(s: SignatureReport): ReportNote[] {
  expect(s.notes, JSON.stringify(s.warnings)).toHaveLength(s.warnings.length);
  for (const [i, n] of (s.notes ?? []).entries()) {
    expect(n.code, s.warnings[i]).not.toBe('UNCATALOGUED');
    expect(Object.hasOwn(NOTE_CATALOGUE, n.code), n.code).toBe(true);
    expect(n).toEqual(noteOf(s.warnings[i]!));
    expect(n.vi.length && n.en.length).toBeTruthy();
  }
  if (s.subIndication) expect(s.reason).toMatchObject({ code: s.subIndication });
  else expect(s.reason).toBeUndefined();
  return s.notes ?? [];
}

describe('the catalogue of report notes', () => {
  it('every code has Vietnamese and English text, and recognises its own example with its parameters', () => {
    const codes = Object.keys(NOTE_CATALOGUE) as (keyof typeof NOTE_CATALOGUE)[];
    expect(codes.length).toBeGreaterThan(30);
    for (const code of codes) {
      const n = noteOf(NOTE_CATALOGUE[code].example);
      expect(n.code, NOTE_CATALOGUE[code].example).toBe(code);
      expect(n.vi, code).toMatch(VI);
      expect(n.en.trim(), code).not.toBe('');
      // the English is English: no Vietnamese letters besides the values it names
      expect(Object.values(n.params).reduce((en, v) => en.split(v).join(''), n.en), code).not.toMatch(VI);
      expect(n.vi, code).not.toBe(n.en);
    }
  });

  it('names the values of a sentence: a revocation status missing gives the subject and the detail', () => {
    const n = noteOf('no revocation status for CN=Nguyễn Văn A, O=UBND: OCSP responder does not know the certificate');
    expect(n).toEqual({
      code: 'REVOCATION_MISSING',
      vi: 'không có thông tin thu hồi cho CN=Nguyễn Văn A, O=UBND: OCSP responder does not know the certificate',
      en: 'no revocation status for CN=Nguyễn Văn A, O=UBND: OCSP responder does not know the certificate',
      params: { subject: 'CN=Nguyễn Văn A, O=UBND', detail: 'OCSP responder does not know the certificate' },
    });
    expect(noteOf('certificate 2 of the path was revoked at 2026-02-01T00:00:00.000Z, after the proof of existence at 2026-01-01T00:00:00.000Z').vi).toMatch(/^chứng thư thứ 2 của chuỗi bị thu hồi/);
  });

  it('a sentence no entry knows is UNCATALOGUED, kept whole', () => {
    expect(noteOf('something new the validator says')).toMatchObject({ code: 'UNCATALOGUED', en: 'something new the validator says' });
  });

  it('every sub-indication has its reason in both languages', () => {
    const subs: SubIndication[] = Object.keys(REASON_CATALOGUE) as SubIndication[];
    expect(subs.length).toBe(17);
    for (const sub of subs) {
      expect(REASON_CATALOGUE[sub].vi, sub).toMatch(VI);
      expect(REASON_CATALOGUE[sub].en, sub).not.toMatch(VI);
    }
    expect(reasonOf({ subIndication: 'HASH_FAILURE', message: 'không khớp giá trị băm / the digest does not hold: #a' })).toEqual({
      code: 'HASH_FAILURE',
      vi: 'nội dung đã ký không khớp giá trị băm: không khớp giá trị băm / the digest does not hold: #a',
      en: 'the signed data does not match its digest: the digest does not hold: #a',
      params: { detail: 'không khớp giá trị băm / the digest does not hold: #a' },
    });
  });
});

describe('the validators write only catalogued notes', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await openLab();
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
});
