import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { signPdf, preparePdf, embedSignature, validatePdf, readPdfSignatures, reportText } from '../../src/sign/index.js';
import { PdfDocument } from '../../src/sign/pdf/document.js';
import { handPdf, openLab, samplePdf, save, type Lab } from './fixtures.js';

/** pdfsig's verdicts: its exit status is 0 even for a bad digest, so its text is what counts. */
function pdfsig(path: string): { out: string; valid: number; commonNames: string[] } {
  const r = spawnSync('pdfsig', [path], { encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`;
  return {
    out,
    valid: (out.match(/Signature Validation: Signature is Valid\./g) ?? []).length,
    commonNames: [...out.matchAll(/Signer Certificate Common Name: (.*)/g)].map((m) => m[1].trim()),
  };
}

function qpdfCheck(path: string): { status: number; out: string } {
  const r = spawnSync('qpdf', ['--check', path], { encoding: 'utf8' });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe('PAdES B-B', () => {
  let lab: Lab;
  let official: Awaited<ReturnType<Lab['signer']>>;
  let agency: Awaited<ReturnType<Lab['signer']>>;

  beforeAll(async () => {
    lab = await openLab();
    official = await lab.signer('/CN=Nguyễn Văn An/O=Bộ Tư pháp/C=VN');
    agency = await lab.signer('/CN=Bộ Tư pháp/O=Bộ Tư pháp/C=VN', { profile: 'agency-signing', keyArgs: ['-newkey', 'rsa:2048'] });
  });
  afterAll(async () => lab?.p.close());

  for (const objectStreams of [true, false]) {
    const form = objectStreams ? 'cross-reference streams' : 'a classic xref table';
    it(`signs a PDF with ${form}: pdfsig says valid, qpdf --check passes, the original bytes are kept`, async () => {
      const pdf = await samplePdf(objectStreams);
      expect(new PdfDocument(pdf).xrefKind).toBe(objectStreams ? 'stream' : 'table');
      const signed = await signPdf(pdf, official, { reason: 'Phê duyệt', location: 'Hà Nội' });
      expect(signed.subarray(0, pdf.length).equals(pdf)).toBe(true);
      const path = save(lab.dir, `one-${objectStreams}.pdf`, signed);
      const v = pdfsig(path);
      expect(v.valid, v.out).toBe(1);
      expect(v.commonNames).toEqual(['Nguyễn Văn An']);
      expect(v.out).toMatch(/Signature Type: ETSI.CAdES.detached/);
      expect(v.out).toMatch(/Total document signed/);
      expect(qpdfCheck(path).status, qpdfCheck(path).out).toBe(0);
      // the update uses the same kind of cross-reference as the original
      expect(new PdfDocument(signed).xrefKind).toBe(objectStreams ? 'stream' : 'table');
    });

    it(`keeps the first signature valid when a second is appended (${form})`, async () => {
      const once = await signPdf(await samplePdf(objectStreams), official);
      const twice = await signPdf(once, agency, { page: 1 });
      const path = save(lab.dir, `two-${objectStreams}.pdf`, twice);
      const v = pdfsig(path);
      expect(v.valid, v.out).toBe(2);
      expect(v.commonNames).toEqual(['Nguyễn Văn An', 'Bộ Tư pháp']);
      expect(qpdfCheck(path).status).toBe(0);
      const report = await validatePdf(twice, { trustAnchors: [lab.root] });
      expect(report.signatures.map((s) => [s.indication, s.pdf?.fieldName, s.pdf?.modifiedAfter, s.pdf?.laterSignatures])).toEqual([
        ['TOTAL-PASSED', 'Signature1', false, 1],
        ['TOTAL-PASSED', 'Signature2', false, 0],
      ]);
    });
  }

  it('signs what qpdf rewrote: object streams disabled, and a linearized file', async () => {
    const src = save(lab.dir, 'src.pdf', await samplePdf(true));
    for (const args of [['--object-streams=disable'], ['--linearize'], ['--object-streams=generate']]) {
      const out = `${lab.dir}/q${args[0].replace(/\W/g, '')}.pdf`;
      execFileSync('qpdf', [...args, src, out]);
      const signed = await signPdf(readFileSync(out), official);
      const path = save(lab.dir, `signed-q${args[0].replace(/\W/g, '')}.pdf`, signed);
      expect(pdfsig(path).valid, `${args}: ${pdfsig(path).out}`).toBe(1);
      expect(qpdfCheck(path).status, `${args}: ${qpdfCheck(path).out}`).toBe(0);
    }
  });

  it('signs a file whose AcroForm and /Annots are inline, and keeps its other annotations', async () => {
    const pdf = handPdf([
      '<</Type/Catalog/Pages 2 0 R/AcroForm <</Fields [] /DA (/Helv 0 Tf 0 g)>>>>',
      '<</Type/Pages/Kids[3 0 R]/Count 1>>',
      '<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Annots [4 0 R]>>',
      '<</Type/Annot/Subtype/Text/Rect[10 10 30 30]/Contents (ghi chú)>>',
    ]);
    const signed = await signPdf(pdf, official);
    const path = save(lab.dir, 'inline.pdf', signed);
    expect(pdfsig(path).valid, pdfsig(path).out).toBe(1);
    expect(qpdfCheck(path).status, qpdfCheck(path).out).toBe(0);
    const doc = new PdfDocument(signed);
    const page = doc.dictOf({ kind: 'ref', num: 3, gen: 0 }, 'page');
    expect(page.get('Annots')).toMatchObject({ kind: 'array', items: [{ kind: 'ref', num: 4 }, { kind: 'ref', num: 6 }] });
    expect(doc.catalog.get('AcroForm')).toMatchObject({ kind: 'dict' });
  });

  it('leaves the input buffer as it was', async () => {
    const pdf = await samplePdf(true);
    const copy = Buffer.from(pdf);
    await signPdf(pdf, official);
    expect(pdf.equals(copy)).toBe(true);
  });

  it('reports a digest mismatch after one byte inside the signed range changes', async () => {
    const signed = await signPdf(await samplePdf(false), official);
    const [sig] = readPdfSignatures(signed);
    const tampered = Buffer.from(signed);
    // the binary comment on the second line: the file still parses, only the digest changes
    const at = signed.indexOf('\n%', 0, 'latin1') + 2;
    expect(at).toBeGreaterThan(2);
    expect(at).toBeLessThan(sig.byteRange[1]);
    tampered[at] ^= 1;
    const v = pdfsig(save(lab.dir, 'tampered.pdf', tampered));
    expect(v.valid).toBe(0);
    expect(v.out).toMatch(/Digest Mismatch/i);
    const report = await validatePdf(tampered, { trustAnchors: [lab.root] });
    expect(report.signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
  });

  it('signs in two phases: the signer sees only the signed attributes, and there is no signing-time attribute', async () => {
    const when = new Date('2025-03-01T07:05:09Z');
    const prepared = preparePdf(await samplePdf(true), official, { signingTime: when });
    expect(prepared.pdf.toString('latin1')).toContain("/M <443a32303235303330313134303530392b303727303027>"); // D:20250301140509+07'00'
    const signature = await official.sign(prepared.signedAttributes);
    const signed = embedSignature(prepared, signature);
    const report = await validatePdf(signed, { trustAnchors: [lab.root] });
    const [s] = report.signatures;
    expect(s).toMatchObject({ indication: 'TOTAL-PASSED', format: 'PAdES', level: 'B-B', claimedSigningTime: when.toISOString() });
    expect(s.warnings.filter((w) => !/no revocation status/.test(w))).toEqual([]);
    expect(s.signer?.commonName).toBe('Nguyễn Văn An');
    expect(reportText(report, 'vi')).toMatch(/Thời gian ký \(khai báo\): 2025-03-01 14:05:09 \+07:00/);
  });

  it('says when content was added after a signature', async () => {
    const signed = await signPdf(await samplePdf(false), official);
    // an incremental update that is not a signature: a new object and a new xref section
    const doc = new PdfDocument(signed);
    const { appendUpdate } = await import('../../src/sign/pdf/update.js');
    const { bytes } = appendUpdate(doc, [{ num: doc.size, gen: 0, body: Buffer.from('(added later)') }]);
    expect(qpdfCheck(save(lab.dir, 'added.pdf', bytes)).status).toBe(0);
    const report = await validatePdf(bytes, { trustAnchors: [lab.root] });
    expect(report.signatures[0].indication).toBe('TOTAL-PASSED');
    expect(report.signatures[0].pdf).toMatchObject({ coversWholeFile: false, modifiedAfter: true, laterSignatures: 0 });
  });

  it('does not trust a signer whose root is not a trust anchor', async () => {
    const signed = await signPdf(await samplePdf(true), official);
    const report = await validatePdf(signed, { trustAnchors: [agency.certificate] });
    expect(report.signatures[0]).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'NO_CERTIFICATE_CHAIN_FOUND' });
  });
});
