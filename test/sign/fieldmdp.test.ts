import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readPdfSignatures, reportText, signPdf, validatePdf } from '../../src/sign/index.js';
import { PdfDocument } from '../../src/sign/pdf/document.js';
import { decodeTextString, dict, serialize, textString } from '../../src/sign/pdf/objects.js';
import { appendUpdate } from '../../src/sign/pdf/update.js';
import { formPdf, openLab, save, type Lab } from './fixtures.js';

/** Fills a text field by incremental update: its /V (on the field dictionary, wherever the form keeps it). */
function fill(pdf: Buffer, field: string, value: string): Buffer {
  const doc = new PdfDocument(pdf);
  const f = doc.fields().find((x) => decodeTextString(Buffer.from(x.name, 'latin1')) === field);
  if (!f?.ref) throw new Error(`no field ${field}`);
  const d = new Map(f.dict);
  d.set('V', textString(value));
  return appendUpdate(doc, [{ num: f.ref.num, gen: f.ref.gen, body: serialize(dict(d)) }]).bytes;
}

const pdfsigValid = (path: string) => (spawnSync('pdfsig', [path], { encoding: 'utf8' }).stdout.match(/Signature is Valid/g) ?? []).length;

describe('PAdES FieldMDP field locks', () => {
  let lab: Lab;
  let official: Awaited<ReturnType<Lab['signer']>>;
  let second: Awaited<ReturnType<Lab['signer']>>;
  beforeAll(async () => {
    lab = await openLab();
    official = await lab.signer('/CN=Bùi Thị Thu/O=UBND huyện Gia Lâm/C=VN');
    second = await lab.signer('/CN=Phan Văn Tài/O=UBND huyện Gia Lâm/C=VN');
  });
  afterAll(async () => lab?.p.close());

  for (const objectStreams of [true, false]) {
    it(`Include (${objectStreams ? 'xref streams' : 'xref table'}): /Reference FieldMDP and the field's /Lock; filling a free field is permitted, a locked one is not`, async () => {
      const signed = await signPdf(await formPdf(objectStreams), official, { lock: { action: 'Include', fields: ['soHieu', 'nguoiNhan'] } });
      expect(pdfsigValid(save(lab.dir, `lock-${objectStreams}.pdf`, signed))).toBe(1);
      const doc = new PdfDocument(signed);
      const sigField = doc.fields().find((f) => f.dict.get('FT')?.kind === 'name' && (f.dict.get('FT') as { value: string }).value === 'Sig')!;
      expect(serialize(sigField.dict.get('Lock')!).toString('latin1')).toMatch(/^<<\/Type \/SigFieldLock\/Action \/Include\/Fields \[<[0-9a-f]+> <[0-9a-f]+>\]>>$/);
      const sigDict = doc.dictOf(sigField.dict.get('V'), 'sig');
      const reference = serialize(sigDict.get('Reference')!).toString('latin1');
      expect(reference).toMatch(/\/TransformMethod \/FieldMDP/);
      expect(reference).toContain(Buffer.from('soHieu').toString('hex'));
      // the /Reference is inside the signed bytes, not in the /Contents gap
      const [sig] = readPdfSignatures(signed);
      const [, b, c, d] = sig.byteRange;
      const at = signed.indexOf('/FieldMDP', 0, 'latin1');
      expect(at < b || (at >= c && at < c + d)).toBe(true);
      expect(sig.fieldLock).toMatchObject({ action: 'Include', fields: ['soHieu', 'nguoiNhan'], violations: [] });

      const noted = fill(signed, 'ghiChu', 'Da xem, dong y');
      const ok = (await validatePdf(noted, { trustAnchors: [lab.root] })).signatures[0];
      expect(ok, JSON.stringify(ok.pdf)).toMatchObject({ indication: 'TOTAL-PASSED', pdf: { modifiedAfter: true, fieldLock: { action: 'Include', violations: [] } } });
      expect(pdfsigValid(save(lab.dir, `noted-${objectStreams}.pdf`, noted))).toBe(1);

      const changed = fill(noted, 'soHieu', '13/PT-UBND');
      const bad = (await validatePdf(changed, { trustAnchors: [lab.root] })).signatures[0];
      expect(bad).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'SIG_CONSTRAINTS_FAILURE', pdf: { fieldLock: { violations: ['the locked field "soHieu" was changed'] } } });
      expect(bad.message).toMatch(/FieldMDP Include/);
      expect(reportText({ validationTime: new Date().toISOString(), document: { kind: 'pdf', bytes: 1, sha256: '' }, signatures: [bad] }, 'en')).toMatch(/Field lock: FieldMDP Include \[soHieu, nguoiNhan\] — the locked field "soHieu" was changed/);
    });
  }

  it('Exclude leaves only the named fields free; All locks every field; a later signature in a new field is permitted by both', async () => {
    const excl = await signPdf(await formPdf(true), official, { lock: { action: 'Exclude', fields: ['ghiChu'] } });
    const r1 = (await validatePdf(fill(excl, 'ghiChu', 'ok'), { trustAnchors: [lab.root] })).signatures[0];
    expect(r1).toMatchObject({ indication: 'TOTAL-PASSED', pdf: { fieldLock: { action: 'Exclude', fields: ['ghiChu'], violations: [] } } });
    const r2 = (await validatePdf(fill(excl, 'nguoiNhan', 'Ai khac'), { trustAnchors: [lab.root] })).signatures[0];
    expect(r2).toMatchObject({ indication: 'INDETERMINATE', pdf: { fieldLock: { violations: ['the locked field "nguoiNhan" was changed'] } } });

    const all = await signPdf(await formPdf(false), official, { lock: { action: 'All' } });
    const r3 = (await validatePdf(fill(all, 'ghiChu', 'ok'), { trustAnchors: [lab.root] })).signatures[0];
    expect(r3).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'SIG_CONSTRAINTS_FAILURE', pdf: { fieldLock: { action: 'All', violations: ['the locked field "ghiChu" was changed'] } } });

    for (const locked of [excl, all]) {
      const countersigned = await signPdf(locked, second);
      const path = save(lab.dir, `countersigned-${locked === all ? 'all' : 'excl'}.pdf`, countersigned);
      expect(pdfsigValid(path)).toBe(2);
      const r = await validatePdf(countersigned, { trustAnchors: [lab.root] });
      expect(r.signatures.map((s) => s.indication)).toEqual(['TOTAL-PASSED', 'TOTAL-PASSED']);
      expect(r.signatures[0].pdf!.fieldLock!.violations).toEqual([]);
    }
  });

  it('refuses a lock that names no field, or a field the form does not have', async () => {
    const form = await formPdf(true);
    await expect(signPdf(form, official, { lock: { action: 'Include', fields: [] } })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(signPdf(form, official, { lock: { action: 'Include', fields: ['soHieu', 'khongCo'] } })).rejects.toThrow(/"khongCo"/);
  });
});
