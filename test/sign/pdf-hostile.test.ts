import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { signPdf, validateFile } from '../../src/sign/index.js';
import { PdfDocument } from '../../src/sign/pdf/document.js';
import { array, dict, ref, serialize, type PdfObject } from '../../src/sign/pdf/objects.js';
import { appendUpdate, type UpdateObject } from '../../src/sign/pdf/update.js';
import { MAX_PDF_REVISIONS, MAX_PDF_SIGNATURES } from '../../src/sign/pdf/limits.js';
import { openLab, samplePdf, type Lab } from './fixtures.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** An update adding `n` signature fields that all point at the first field's signature dictionary. */
function cloneSignatureFields(pdf: Buffer, n: number): Buffer {
  const doc = new PdfDocument(pdf);
  const v = doc.fields()[0].dict.get('V')!;
  const first = doc.size;
  const objects: UpdateObject[] = Array.from({ length: n }, (_, i) => ({ num: first + i, gen: 0, body: serialize(dict({ FT: { kind: 'name', value: 'Sig' }, T: { kind: 'str', bytes: Buffer.from(`copy${i}`) }, V: v })) }));
  const acro = doc.catalog.get('AcroForm')!;
  const form = new Map(doc.dictOf(acro, 'the form'));
  const fields = doc.resolve(form.get('Fields')) as Extract<PdfObject, { kind: 'array' }>;
  form.set('Fields', array([...fields.items, ...objects.map((o) => ref(o.num))]));
  if (acro.kind === 'ref') objects.push({ num: acro.num, gen: acro.gen, body: serialize(dict(form)) });
  else objects.push({ num: doc.rootRef.num, gen: doc.rootRef.gen, body: serialize(dict(new Map([...doc.catalog, ['AcroForm', dict(form)]]))) });
  return appendUpdate(doc, objects).bytes;
}

describe('hostile signed PDFs: a clear report or error, bounded time, the input untouched', () => {
  let lab: Lab;
  let signed: Buffer;
  beforeAll(async () => {
    lab = await openLab();
    signed = await signPdf(await samplePdf(false), await lab.signer('/CN=Kiều Văn Minh/O=Sở Tư pháp/C=VN'));
  });
  afterAll(async () => lab?.p.close());

  it('garbage in /Contents: TOTAL-FAILED / FORMAT_FAILURE naming the problem', async () => {
    const text = signed.toString('latin1');
    const at = text.indexOf('/Contents <') + '/Contents <'.length;
    const end = text.indexOf('>', at);
    const garbage = Buffer.from(text.slice(0, at) + '3084ffffffff' + 'ab'.repeat((end - at - 12) / 2) + text.slice(end), 'latin1');
    const before = sha(garbage);
    const r = await validateFile(garbage, { trustAnchors: [lab.root] });
    expect(r.signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE', message: expect.stringMatching(/\/Contents is neither DER nor BER/) });
    expect(sha(garbage)).toBe(before);
  });

  it('a broken cross-reference offset: malformed_pdf saying where', async () => {
    const cut = signed.lastIndexOf('startxref');
    const broken = Buffer.concat([signed.subarray(0, cut), Buffer.from('startxref\n120\n%%EOF\n')]);
    const before = sha(broken);
    await expect(validateFile(broken, { trustAnchors: [lab.root] })).rejects.toMatchObject({ code: 'malformed_pdf', message: expect.stringMatching(/cross-reference|xref/) });
    expect(sha(broken)).toBe(before);
  });

  it(`more than ${MAX_PDF_SIGNATURES} signatures (fields sharing one signature) or ${MAX_PDF_REVISIONS} revisions: too_large at once`, async () => {
    const many = cloneSignatureFields(signed, MAX_PDF_SIGNATURES);
    // refused by the count before any signature is validated (a runaway is the test's time-out: tests assert no time)
    await expect(validateFile(many, { trustAnchors: [lab.root] })).rejects.toMatchObject({ code: 'too_large', message: expect.stringMatching(/signatures; at most 100/) });

    let revised = signed;
    for (let i = 0; i < MAX_PDF_REVISIONS; i++) {
      const doc = new PdfDocument(revised);
      revised = appendUpdate(doc, [{ num: doc.size, gen: 0, body: Buffer.from(`(r${i})`) }]).bytes;
    }
    await expect(validateFile(revised, { trustAnchors: [lab.root] })).rejects.toMatchObject({ code: 'too_large', message: expect.stringMatching(/revisions/) });
  });
});
