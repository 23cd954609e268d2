import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { DEFAULT_FONT, signPdf, validatePdf } from '../../src/sign/index.js';
import { PdfDocument } from '../../src/sign/pdf/document.js';
import { openLab, samplePdf, save, type Lab } from './fixtures.js';
import { decodePng, sealPng } from './png.js';

const pdfsigValid = (path: string) => {
  const r = spawnSync('pdfsig', [path], { encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`;
  return { out, valid: (out.match(/Signature Validation: Signature is Valid\./g) ?? []).length };
};
const qpdfCheck = (path: string) => spawnSync('qpdf', ['--check', path], { encoding: 'utf8' });

/** Renders page 1 at 50 dpi and answers the pixels of a rectangle (PDF points) that match `test`. */
function countPixels(lab: Lab, pdfPath: string, rect: number[], test: (p: [number, number, number]) => boolean): number {
  const base = join(lab.dir, `render-${Math.random().toString(36).slice(2)}`);
  const r = spawnSync('pdftoppm', ['-png', '-r', '50', '-f', '1', '-l', '1', '-singlefile', pdfPath, base]);
  if (r.status !== 0) throw new Error(`pdftoppm: ${r.stderr}`);
  const img = decodePng(readFileSync(`${base}.png`));
  const k = 50 / 72;
  const pageHeight = 842;
  let n = 0;
  for (let y = Math.ceil((pageHeight - rect[3]) * k) + 1; y < Math.floor((pageHeight - rect[1]) * k) - 1; y++)
    for (let x = Math.ceil(rect[0] * k) + 1; x < Math.floor(rect[2] * k) - 1; x++) if (test(img.pixel(x, y))) n++;
  return n;
}
const inked = (p: [number, number, number]) => p[0] + p[1] + p[2] < 600;
const red = (p: [number, number, number]) => p[0] > 150 && p[1] < 110 && p[2] < 110;

const hasTools = ['pdfsig', 'qpdf', 'pdftoppm'].every((t) => spawnSync('which', [t]).status === 0);
const hasFont = existsSync(DEFAULT_FONT);
if (!hasFont) console.log(`visible signature tests skipped: no ${DEFAULT_FONT} (Vietnamese text needs a TrueType font)`);
if (!hasTools) console.log('visible signature tests skipped: pdfsig, qpdf or pdftoppm missing');

describe.skipIf(!hasFont || !hasTools)('PAdES visible signatures', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await openLab();
  });
  afterAll(async () => lab?.p.close());

  const personRect: [number, number, number, number] = [50, 80, 300, 150];
  const sealRect: [number, number, number, number] = [320, 60, 560, 160];

  it('draws signer, time and issuer with a Vietnamese font, then an organisation signature with its red seal; both stay valid', async () => {
    for (const objectStreams of [true, false]) {
      const unsigned = await samplePdf(objectStreams);
      const unsignedPath = save(lab.dir, `unsigned-${objectStreams}.pdf`, unsigned);
      const person = await lab.signer('/CN=Nguyễn Thị Hương/O=Sở Tư pháp Hà Nội/C=VN');
      const agency = await lab.signer('/CN=Ủy ban nhân dân tỉnh Bắc Ninh/O=UBND tỉnh Bắc Ninh/C=VN', { profile: 'agency-signing' });
      const once = await signPdf(unsigned, person, { visible: { rect: personRect }, reason: 'Phê duyệt' });
      const twice = await signPdf(once, agency, { visible: { rect: sealRect, image: sealPng() } });
      expect(twice.subarray(0, once.length).equals(once)).toBe(true);
      const path = save(lab.dir, `visible-${objectStreams}.pdf`, twice);

      const v = pdfsigValid(path);
      expect(v.valid, v.out).toBe(2);
      const q = qpdfCheck(path);
      expect(q.status, `${q.stdout}${q.stderr}`).toBe(0);

      // the widgets carry an /AP /N Form XObject with the font (a TrueType subset) and the image
      const doc = new PdfDocument(twice);
      const widgets = doc.fields().filter((f) => f.dict.get('FT')?.kind === 'name');
      expect(widgets).toHaveLength(2);
      for (const w of widgets) {
        const ap = doc.dictOf(w.dict.get('AP'), 'AP');
        const form = doc.resolve(ap.get('N'));
        expect(form?.kind).toBe('stream');
      }

      // pixels: blank before, ink after; the seal is red
      expect(countPixels(lab, unsignedPath, personRect, inked)).toBe(0);
      expect(countPixels(lab, path, personRect, inked)).toBeGreaterThan(100);
      expect(countPixels(lab, unsignedPath, sealRect, red)).toBe(0);
      expect(countPixels(lab, path, sealRect, red)).toBeGreaterThan(50);

      const report = await validatePdf(twice, { trustAnchors: [lab.root] });
      expect(report.signatures.map((s) => s.indication)).toEqual(['TOTAL-PASSED', 'TOTAL-PASSED']);
      // Vietnamese survives in the appearance text: pdftotext over the widget is not reliable, so check the font subset is embedded
      expect(twice.includes('FontFile2')).toBe(true);
    }
  });

  it('refuses an image that is not a PNG', async () => {
    const signer = await lab.signer('/CN=Phạm Văn Dũng/O=Bộ Nội vụ/C=VN');
    await expect(signPdf(await samplePdf(true), signer, { visible: { rect: personRect, image: Buffer.from('not a png') } })).rejects.toMatchObject({ code: 'bad_request' });
  });
});
