import { describe, it, expect } from 'vitest';
import { deflateSync } from 'node:zlib';
import { PdfDocument } from '../../src/sign/pdf/document.js';
import { readXref } from '../../src/sign/pdf/xref.js';
import { handPdf, samplePdf } from './fixtures.js';

const basic = ['<</Type/Catalog/Pages 2 0 R>>', '<</Type/Pages/Kids[3 0 R]/Count 1>>', '<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>'];

describe('PDF reader', () => {
  it('reads a hand-written file: catalog, pages, literal and hex strings, names with #xx', () => {
    const doc = new PdfDocument(handPdf([...basic, '<</A (a\\(b\\)c\\101) /B <48 69> /C /x#20y /D [1 -2.5 +3 .5] /E true /F null>>']));
    expect(doc.pageRefs()).toEqual([{ num: 3, gen: 0 }]);
    const d = doc.dictOf({ kind: 'ref', num: 4, gen: 0 }, 'test');
    expect(d.get('A')).toEqual({ kind: 'str', bytes: Buffer.from('a(b)cA') });
    expect(d.get('B')).toEqual({ kind: 'str', bytes: Buffer.from('Hi') });
    expect(d.get('C')).toEqual({ kind: 'name', value: 'x y' });
    expect(d.has('F')).toBe(false);
  });

  it('reads pdf-lib files with object streams and with classic tables', async () => {
    for (const os of [true, false]) {
      const doc = new PdfDocument(await samplePdf(os));
      expect(doc.xrefKind).toBe(os ? 'stream' : 'table');
      expect(doc.pageRefs()).toHaveLength(2);
    }
  });

  it.each([
    ['not a PDF', Buffer.from('hello world, no header here')],
    ['no startxref', Buffer.from('%PDF-1.7\n1 0 obj <<>> endobj\n')],
    ['startxref past the end', Buffer.from('%PDF-1.7\nstartxref\n999999\n%%EOF\n')],
    ['startxref at garbage', Buffer.from('%PDF-1.7\ngarbage here\nstartxref\n9\n%%EOF\n')],
    ['a truncated file', handPdf(basic).subarray(0, 120)],
  ])('refuses %s with malformed_pdf', (_name, bytes) => {
    expect(() => new PdfDocument(bytes).pageRefs()).toThrow(expect.objectContaining({ code: 'malformed_pdf' }));
  });

  it('refuses a /Prev chain that loops, without hanging', () => {
    expect(() => readXref(handPdf(basic, '', { prevSelf: true }))).toThrow(/loops/);
  });

  it('bounds nesting depth and refuses a page tree that loops', () => {
    const deep = handPdf([...basic, '['.repeat(100_000) + ']'.repeat(100_000)]);
    const doc = new PdfDocument(deep);
    expect(() => doc.get(4)).toThrow(/nesting deeper/);
    const loop = handPdf(['<</Type/Catalog/Pages 2 0 R>>', '<</Type/Pages/Kids[2 0 R]/Count 1>>']);
    expect(() => new PdfDocument(loop).pageRefs()).toThrow(/loops/);
  });

  it('bounds the inflated size of a cross-reference stream (decompression bomb)', () => {
    const bomb = deflateSync(Buffer.alloc(200 * 1024 * 1024));
    const head = '%PDF-1.7\n';
    const obj = Buffer.concat([Buffer.from(`1 0 obj\n<</Type/XRef/Size 2/W[1 4 2]/Filter/FlateDecode/Length ${bomb.length}>>\nstream\n`), bomb, Buffer.from('\nendstream\nendobj\n')]);
    const pdf = Buffer.concat([Buffer.from(head), obj, Buffer.from(`startxref\n${head.length}\n%%EOF\n`)]);
    // refused once the inflated size passes the bound, not after 200 MB (a runaway is the test's time-out: tests assert no time)
    expect(() => new PdfDocument(pdf)).toThrow(expect.objectContaining({ code: 'malformed_pdf' }));
  });

  it('refuses an object whose cross-reference entry points at another object', () => {
    const pdf = handPdf(basic);
    const text = pdf.toString('latin1').replace('2 0 obj', '7 0 obj');
    expect(() => new PdfDocument(Buffer.from(text, 'latin1')).pageRefs()).toThrow(/points at object 7/);
  });
});
