import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { reportHtml, reportText, signPdf, validatePdf } from '../../src/sign/index.js';
import { PdfDocument } from '../../src/sign/pdf/document.js';
import { array, decodeTextString, dict, ref, serialize, textString } from '../../src/sign/pdf/objects.js';
import { appendUpdate } from '../../src/sign/pdf/update.js';
import { formPdf, openLab, samplePdf, save, type Lab } from './fixtures.js';

const FORGED = 'BT /Helvetica 14 Tf 50 780 Td (So 999/GIA-MAO) Tj ET';
const stream = (data: string) => Buffer.from(`<</Length ${Buffer.byteLength(data, 'latin1')}>>\nstream\n${data}\nendstream`, 'latin1');

/** An incremental update that rewrites the first page's content stream in place (same object number). */
function rewritePageContent(pdf: Buffer): { bytes: Buffer; contentsNum: number } {
  const doc = new PdfDocument(pdf);
  const first = doc.pageRefs()[0];
  const page = doc.dictOf(ref(first.num, first.gen), 'page 1');
  const contents = page.get('Contents');
  const r = contents?.kind === 'array' ? contents.items[0] : contents;
  if (r?.kind !== 'ref') throw new Error('page 1 has no content stream reference');
  return { bytes: appendUpdate(doc, [{ num: r.num, gen: r.gen, body: stream(FORGED) }]).bytes, contentsNum: r.num };
}

/** An incremental update that adds a second page (a new page object, the page tree's /Kids and /Count changed). */
function addPage(pdf: Buffer): Buffer {
  const doc = new PdfDocument(pdf);
  const pagesRef = doc.catalog.get('Pages');
  if (pagesRef?.kind !== 'ref') throw new Error('no page tree');
  const pages = new Map(doc.dictOf(pagesRef, 'pages'));
  const kids = doc.resolve(pages.get('Kids'));
  const n = doc.size;
  pages.set('Kids', array([...(kids?.kind === 'array' ? kids.items : []), ref(n)]));
  pages.set('Count', { kind: 'num', value: 3, raw: '3' });
  return appendUpdate(doc, [
    { num: pagesRef.num, gen: 0, body: serialize(dict(pages)) },
    { num: n, gen: 0, body: Buffer.from(`<</Type/Page/Parent ${pagesRef.num} 0 R/MediaBox[0 0 595 842]/Contents ${n + 1} 0 R>>`, 'latin1') },
    { num: n + 1, gen: 0, body: stream(FORGED) },
  ]).bytes;
}

const qpdfOk = (path: string) => spawnSync('qpdf', ['--check', path], { encoding: 'utf8' }).status === 0;
const pdfsigValid = (path: string) => (spawnSync('pdfsig', [path], { encoding: 'utf8' }).stdout.match(/Signature is Valid/g) ?? []).length;

describe('PDF changes after a signature', () => {
  let lab: Lab;
  let official: Awaited<ReturnType<Lab['signer']>>;
  let other: Awaited<ReturnType<Lab['signer']>>;
  beforeAll(async () => {
    lab = await openLab();
    official = await lab.signer('/CN=Đặng Văn Phúc/O=UBND tỉnh Hà Nam/C=VN');
    other = await lab.signer('/CN=Ngô Thị Yến/O=UBND tỉnh Hà Nam/C=VN');
  });
  afterAll(async () => lab?.p.close());

  for (const objectStreams of [false, true]) {
    it(`reports an incremental update that rewrites a page's content stream (${objectStreams ? 'xref streams' : 'xref table'}), in JSON, text and HTML`, async () => {
      const signed = await signPdf(await samplePdf(objectStreams), official);
      const { bytes, contentsNum } = rewritePageContent(signed);
      const path = save(lab.dir, `rewritten-${objectStreams}.pdf`, bytes);
      expect(qpdfOk(path)).toBe(true);
      // the signature itself is intact (pdfsig agrees): what changed lies outside what it covers
      expect(pdfsigValid(path)).toBe(1);
      const report = await validatePdf(bytes, { trustAnchors: [lab.root] });
      const s = report.signatures[0];
      expect(s.checks.integrity).toBe(true);
      // pdfsig calls it valid (the signed bytes hold) and so says nothing of the forged page; the signed content
      // is no longer what the file shows, so the signature does not confirm this document: INDETERMINATE
      expect(s).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'SIG_CONSTRAINTS_FAILURE' });
      expect(s.message).toMatch(/changed after this signature in what it signed: object \d+ \(a stream: page content/);
      expect(s.pdf).toMatchObject({ coversWholeFile: false, modifiedAfter: true, laterSignatures: 0 });
      expect(s.pdf!.changesAfter).toEqual([`object ${contentsNum} (a stream: page content, image or the like) was changed`]);
      expect(s.warnings.join('\n')).toMatch(/changed after this signature: object \d+ \(a stream: page content/);
      expect(reportText(report, 'vi')).toMatch(/Bị thay đổi sau khi ký: có — object \d+ \(a stream: page content/);
      expect(reportHtml(report, 'vi')).toMatch(/<th>Bị thay đổi sau khi ký<\/th><td>có — object \d+ \(a stream: page content/);
    });
  }

  it('reports a content change slipped into the same revision as a later signature (no %%EOF between them)', async () => {
    const signed = await signPdf(await samplePdf(true), official);
    const { bytes, contentsNum } = rewritePageContent(signed);
    // drop the update's own end marker, so the change and the next signature read as one revision
    const tail = bytes.lastIndexOf('%%EOF');
    const merged = Buffer.concat([bytes.subarray(0, tail), bytes.subarray(tail + 5)]);
    const twice = await signPdf(merged, other);
    const path = save(lab.dir, 'slipped.pdf', twice);
    expect(qpdfOk(path)).toBe(true);
    const report = await validatePdf(twice, { trustAnchors: [lab.root] });
    // the first signature's content was altered (in the second's revision): INDETERMINATE; the second holds
    expect(report.signatures.map((s) => s.indication)).toEqual(['INDETERMINATE', 'TOTAL-PASSED']);
    const [first, second] = report.signatures;
    expect(first.pdf).toMatchObject({ laterSignatures: 1, modifiedAfter: true });
    expect(first.pdf!.changesAfter).toContain(`object ${contentsNum} (a stream: page content, image or the like) was changed`);
    // the second signature covers the whole file: nothing after it
    expect(second.pdf).toMatchObject({ coversWholeFile: true, modifiedAfter: false, changesAfter: [] });
  });

  it('reports a page added after signing', async () => {
    const signed = await signPdf(await samplePdf(false), official);
    const added = addPage(signed);
    expect(qpdfOk(save(lab.dir, 'added-page.pdf', added))).toBe(true);
    const s = (await validatePdf(added, { trustAnchors: [lab.root] })).signatures[0];
    expect(s.pdf?.modifiedAfter).toBe(true);
    expect(s.pdf!.changesAfter.join('\n')).toMatch(/object \d+ was changed/);
    // the page tree the signer signed was rewritten: not what was signed
    expect(s).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'SIG_CONSTRAINTS_FAILURE' });
  });

  it('an annotation added after signing (a reviewer\'s comment) is reported, and leaves the signature TOTAL-PASSED', async () => {
    const signed = await signPdf(await samplePdf(false), official);
    const doc = new PdfDocument(signed);
    const first = doc.pageRefs()[0];
    const page = new Map(doc.dictOf(ref(first.num, first.gen), 'page 1'));
    const n = doc.size;
    const annots = doc.resolve(page.get('Annots'));
    page.set('Annots', array([...(annots?.kind === 'array' ? annots.items : []), ref(n)]));
    const bytes = appendUpdate(doc, [
      { num: first.num, gen: first.gen, body: serialize(dict(page)) },
      { num: n, gen: 0, body: Buffer.from('<</Type/Annot/Subtype/Text/Rect[50 50 80 80]/Contents(Da xem)>>', 'latin1') },
    ]).bytes;
    expect(qpdfOk(save(lab.dir, 'annotated.pdf', bytes))).toBe(true);
    const s = (await validatePdf(bytes, { trustAnchors: [lab.root] })).signatures[0];
    expect(s.pdf!.changesAfter).toContain('an annotation was added or changed');
    expect(s.indication).toBe('TOTAL-PASSED');
    expect(s.warnings.join('\n')).toMatch(/an annotation was added/);
  });

  it('does not report what a signed document is expected to receive: a later signature, a form fill', async () => {
    const form = await formPdf(false);
    const signed = await signPdf(form, official);
    // fill the free note field by incremental update
    const doc = new PdfDocument(signed);
    const f = doc.fields().find((x) => decodeTextString(Buffer.from(x.name, 'latin1')) === 'ghiChu')!;
    const d = new Map(f.dict);
    d.set('V', textString('Da xem'));
    const filled = appendUpdate(doc, [{ num: f.ref!.num, gen: f.ref!.gen, body: serialize(dict(d)) }]).bytes;
    const twice = await signPdf(filled, other);
    const report = await validatePdf(twice, { trustAnchors: [lab.root] });
    const [first, second] = report.signatures;
    expect(first, JSON.stringify(first.pdf)).toMatchObject({ indication: 'TOTAL-PASSED', pdf: { laterSignatures: 1, changesAfter: [] } });
    expect(first.warnings.join('\n')).toMatch(/form fields filled in or objects added, no other change/);
    expect(reportText(report, 'en')).toMatch(/Changed after signing: yes \(form fields filled in or objects added only\)/);
    expect(second.pdf).toMatchObject({ modifiedAfter: false, changesAfter: [] });
  });
});
