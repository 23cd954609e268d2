import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import { addDocumentTimeStamp, localTimeStamper, readPdfSignatures, reportHtml, signPdf, validatePdf } from '../../src/sign/index.js';
import { PdfDocument } from '../../src/sign/pdf/document.js';
import { appendUpdate, objectNumbers } from '../../src/sign/pdf/update.js';
import { array, dict, name, num, ref, serialize, str, type PdfObject } from '../../src/sign/pdf/objects.js';
import { openLab, samplePdf, save, type Lab } from './fixtures.js';

function pdfsig(path: string): { out: string; valid: number } {
  const r = spawnSync('pdfsig', [path], { encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`;
  return { out, valid: (out.match(/Signature Validation: Signature is Valid\./g) ?? []).length };
}

/** An incremental update adding a FreeText annotation to page 1 (a change P=3 permits and P=1, P=2 do not). */
function addAnnotation(pdf: Buffer): Buffer {
  const doc = new PdfDocument(pdf);
  const next = objectNumbers(doc);
  const page = doc.pageRefs()[0];
  const pd = new Map(doc.dictOf({ kind: 'ref', num: page.num, gen: page.gen }, 'page'));
  const annot = next();
  const old = doc.resolve(pd.get('Annots'));
  const items: PdfObject[] = old?.kind === 'array' ? old.items : [];
  pd.set('Annots', array([...items, ref(annot)]));
  const changed = [
    { num: annot, gen: 0, body: serialize(dict({ Type: name('Annot'), Subtype: name('FreeText'), Rect: array([num(50), num(50), num(250), num(90)]), Contents: str('Đã xem') , DA: str('/Helv 12 Tf 0 g') })) },
  ];
  if (pd.get('Annots')?.kind === 'array' && doc.dictOf({ kind: 'ref', num: page.num, gen: page.gen }, 'page').get('Annots')?.kind === 'ref') {
    const r = doc.dictOf({ kind: 'ref', num: page.num, gen: page.gen }, 'page').get('Annots') as { num: number; gen: number };
    changed.push({ num: r.num, gen: r.gen, body: serialize(array([...items, ref(annot)])) });
  } else changed.push({ num: page.num, gen: page.gen, body: serialize(dict(pd)) });
  return appendUpdate(doc, changed).bytes;
}

/** An incremental update rotating page 1: a change of content no permission allows. */
function rotatePage(pdf: Buffer): Buffer {
  const doc = new PdfDocument(pdf);
  const page = doc.pageRefs()[0];
  const pd = new Map(doc.dictOf({ kind: 'ref', num: page.num, gen: page.gen }, 'page'));
  pd.set('Rotate', num(90));
  return appendUpdate(doc, [{ num: page.num, gen: page.gen, body: serialize(dict(pd)) }]).bytes;
}

describe('PAdES certification (DocMDP)', () => {
  let lab: Lab;
  let tsa: TimeStampAuthority;
  let official: Awaited<ReturnType<Lab['signer']>>;
  let approver: Awaited<ReturnType<Lab['signer']>>;
  beforeAll(async () => {
    lab = await openLab();
    tsa = new TimeStampAuthority(lab.p.pki, lab.p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
    await tsa.start();
    official = await lab.signer('/CN=Văn thư UBND/O=UBND tỉnh Hà Nam/C=VN');
    approver = await lab.signer('/CN=Lê Minh Tuấn/O=UBND tỉnh Hà Nam/C=VN');
  });
  afterAll(async () => lab?.p.close());

  for (const objectStreams of [true, false]) {
    it(`P=2 (${objectStreams ? 'xref streams' : 'xref table'}): /Reference DocMDP and /Perms; pdfsig valid; a later approval signature is permitted, an annotation or a page change is not`, async () => {
      const certified = await signPdf(await samplePdf(objectStreams), official, { certify: 2 });
      const doc = new PdfDocument(certified);
      const perms = doc.dictOf(doc.catalog.get('Perms'), 'perms').get('DocMDP');
      expect(perms?.kind).toBe('ref');
      const sigDict = doc.dictOf(perms, 'sig');
      expect(serialize(sigDict.get('Reference')!).toString('latin1')).toMatch(/\/TransformMethod\s*\/DocMDP/);
      expect(serialize(sigDict.get('Reference')!).toString('latin1')).toMatch(/\/P 2/);
      const v = pdfsig(save(lab.dir, `cert-${objectStreams}.pdf`, certified));
      expect(v.valid, v.out).toBe(1);
      const r = (await validatePdf(certified, { trustAnchors: [lab.root] })).signatures[0];
      expect(r).toMatchObject({ indication: 'TOTAL-PASSED', pdf: { certification: { permissions: 2, violations: [] } } });

      const approved = await signPdf(certified, approver);
      const v2 = pdfsig(save(lab.dir, `cert-approved-${objectStreams}.pdf`, approved));
      expect(v2.valid, v2.out).toBe(2);
      const r2 = await validatePdf(approved, { trustAnchors: [lab.root] });
      expect(r2.signatures.map((s) => s.indication)).toEqual(['TOTAL-PASSED', 'TOTAL-PASSED']);
      expect(r2.signatures[0].pdf!.certification!.violations).toEqual([]);

      const annotated = addAnnotation(approved);
      const r3 = (await validatePdf(annotated, { trustAnchors: [lab.root] })).signatures[0];
      expect(r3, JSON.stringify(r3.pdf)).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'SIG_CONSTRAINTS_FAILURE' });
      expect(r3.pdf!.certification!.violations).toContain('an annotation was added or changed');
      expect(r3.message).toMatch(/DocMDP P=2/);

      const rotated = rotatePage(certified);
      const r4 = (await validatePdf(rotated, { trustAnchors: [lab.root] })).signatures[0];
      expect(r4.pdf!.certification!.violations.join('\n')).toMatch(/page object \d+: \/Rotate changed/);
      expect(r4.indication).toBe('INDETERMINATE');
    });
  }

  it('P=3 permits annotations; P=1 refuses a further signature but permits a document time-stamp', async () => {
    const p3 = await signPdf(await samplePdf(true), official, { certify: 3 });
    const annotated = addAnnotation(p3);
    const r = (await validatePdf(annotated, { trustAnchors: [lab.root] })).signatures[0];
    expect(r, JSON.stringify(r.pdf)).toMatchObject({ indication: 'TOTAL-PASSED', pdf: { certification: { permissions: 3, violations: [] }, modifiedAfter: true } });

    const p1 = await signPdf(await samplePdf(true), official, { certify: 1 });
    await expect(signPdf(p1, approver)).rejects.toThrow(/DocMDP P=1/);
    const stamped = await addDocumentTimeStamp(p1, localTimeStamper(tsa));
    const v = pdfsig(save(lab.dir, 'p1-ts.pdf', stamped));
    expect(v.valid, v.out).toBe(1);
    const rs = (await validatePdf(stamped, { trustAnchors: [lab.root] })).signatures[0];
    expect(rs, JSON.stringify(rs.pdf)).toMatchObject({ indication: 'TOTAL-PASSED', pdf: { certification: { permissions: 1, violations: [] } } });
    const annotated1 = addAnnotation(p1);
    const r1 = (await validatePdf(annotated1, { trustAnchors: [lab.root] })).signatures[0];
    expect(r1.pdf!.certification!.violations.length).toBeGreaterThan(0);
    expect(r1.indication).toBe('INDETERMINATE');
    // a certification must be the first signature
    const signed = await signPdf(await samplePdf(true), approver);
    await expect(signPdf(signed, official, { certify: 2 })).rejects.toThrow(/first signature/);
    expect(readPdfSignatures(stamped).length).toBe(2);
    expect(reportHtml(await validatePdf(stamped, { trustAnchors: [lab.root] }))).toMatch(/DocMDP P=1/);
  });
});
