import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { PDFDict, PDFDocument, PDFName, PDFNumber, StandardFonts, degrees } from 'pdf-lib';
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
/** Page 1 rendered by pdftoppm at 72 dpi (one pixel a point), as the reader sees it (rotation applied). */
function render(lab: Lab, pdfPath: string) {
  const base = join(lab.dir, `render-${Math.random().toString(36).slice(2)}`);
  const r = spawnSync('pdftoppm', ['-png', '-r', '72', '-f', '1', '-l', '1', '-singlefile', pdfPath, base]);
  if (r.status !== 0) throw new Error(`pdftoppm: ${r.stderr}`);
  return decodePng(readFileSync(`${base}.png`));
}
const inked = (p: [number, number, number]) => p[0] + p[1] + p[2] < 600;
const red = (p: [number, number, number]) => p[0] > 150 && p[1] < 110 && p[2] < 110;

// scripts/install-deps.sh installs these (poppler-utils, qpdf, fonts-dejavu-core): missing, the tests fail, they are not skipped
const missing = [...['pdfsig', 'qpdf', 'pdftoppm'].filter((t) => spawnSync('which', [t]).status !== 0), ...(existsSync(DEFAULT_FONT) ? [] : [DEFAULT_FONT])];

describe('PAdES visible signatures', () => {
  it('has its tools and font (Vietnamese text needs a TrueType font)', () => expect(missing).toEqual([]));
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

  for (const where of ['page', 'page tree'] as const)
    it(`shows upright at the requested place on pages rotated 0, 90, 180 and 270 degrees (/Rotate on the ${where}): pixels rendered by pdftoppm`, async () => {
      const signer = await lab.signer('/CN=Vương Thị Hạnh/O=UBND tỉnh Ninh Bình/C=VN', { profile: 'agency-signing' });
      for (const rotation of [0, 90, 180, 270]) {
        const doc = await PDFDocument.create();
        const font = await doc.embedFont(StandardFonts.Helvetica);
        const page = doc.addPage([595, 842]);
        page.drawText('Quyet dinh so 9', { x: 300, y: 700, size: 14, font });
        if (where === 'page') page.setRotation(degrees(rotation));
        else doc.catalog.lookup(PDFName.of('Pages'), PDFDict).set(PDFName.of('Rotate'), PDFNumber.of(rotation));
        const unsigned = Buffer.from(await doc.save({ useObjectStreams: rotation % 180 === 0 }));
        const quarter = rotation % 180 !== 0;
        const [dw, dh] = quarter ? [842, 595] : [595, 842]; // the page as the reader sees it
        // lower left as seen, and wider than tall: a misrotated appearance cannot fit it unnoticed
        const rect: [number, number, number, number] = [60, 50, 360, 150];
        const signed = await signPdf(unsigned, signer, { visible: { rect, image: sealPng(), lines: ['TRỤC — ĐÃ KÝ'] } });
        const path = save(lab.dir, `rotated-${where.replace(' ', '-')}-${rotation}.pdf`, signed);
        expect(pdfsigValid(path).valid, pdfsigValid(path).out).toBe(1);
        expect(qpdfCheck(path).status).toBe(0);
        const before = render(lab, save(lab.dir, `rotated-${rotation}-unsigned.pdf`, unsigned));
        const after = render(lab, path);
        expect([after.width, after.height], `rotation ${rotation}`).toEqual([dw, dh]);
        // everything the signature changed lies inside the requested rectangle (72 dpi: a pixel is a point)
        const top = dh - rect[3];
        const bottom = dh - rect[1];
        let inside = 0;
        const stray: string[] = [];
        const redAt: [number, number][] = [];
        const textAt: [number, number][] = [];
        for (let y = 0; y < dh; y++)
          for (let x = 0; x < dw; x++) {
            const a = after.pixel(x, y);
            const b = before.pixel(x, y);
            if (Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2]) < 60) continue;
            if (x < rect[0] - 1 || x > rect[2] + 1 || y < top - 1 || y > bottom + 1) stray.push(`${x},${y}`);
            else inside++;
            // away from the border: the seal's red, the text's dark blue
            if (x > rect[0] + 3 && x < rect[2] - 3 && y > top + 3 && y < bottom - 3) {
              if (red(a)) redAt.push([x, y]);
              else if (a[0] + a[1] + a[2] < 300) textAt.push([x, y]);
            }
          }
        expect(stray.length, `rotation ${rotation}: changed pixels outside the rectangle, e.g. ${stray.slice(0, 5).join(' ')}`).toBe(0);
        expect(inside).toBeGreaterThan(500);
        // upright: the seal at the left, vertically centred; the single text line to its right, at the top
        const mean = (pts: [number, number][], i: 0 | 1) => pts.reduce((t, p) => t + p[i], 0) / pts.length;
        expect(redAt.length, `rotation ${rotation}`).toBeGreaterThan(200);
        expect((mean(redAt, 0) - rect[0]) / (rect[2] - rect[0]), `rotation ${rotation}: seal x`).toBeLessThan(0.25);
        expect(Math.abs((mean(redAt, 1) - top) / (bottom - top) - 0.5), `rotation ${rotation}: seal y`).toBeLessThan(0.1);
        expect(textAt.length, `rotation ${rotation}`).toBeGreaterThan(50);
        expect((mean(textAt, 0) - rect[0]) / (rect[2] - rect[0]), `rotation ${rotation}: text x`).toBeGreaterThan(0.35);
        expect((mean(textAt, 1) - top) / (bottom - top), `rotation ${rotation}: text y`).toBeLessThan(0.3);
        expect((await validatePdf(signed, { trustAnchors: [lab.root] })).signatures[0].indication).toBe('TOTAL-PASSED');
      }
    });

  it('refuses an image that is not a PNG', async () => {
    const signer = await lab.signer('/CN=Phạm Văn Dũng/O=Bộ Nội vụ/C=VN');
    await expect(signPdf(await samplePdf(true), signer, { visible: { rect: personRect, image: Buffer.from('not a png') } })).rejects.toMatchObject({ code: 'bad_request' });
  });
});
