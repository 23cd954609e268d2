/**
 * Visible PAdES signatures. The appearance — signer's name, signing time in Vietnam time (+07:00), the
 * issuing CA, optionally a PNG such as an agency's round red seal — is drawn by pdf-lib (with fontkit and
 * an embedded TrueType subset, so Vietnamese shows) into a scratch one-page PDF the size of the widget.
 * That page's content stream and resources (font, image) are then copied as new objects into our own
 * incremental update as the widget's /AP /N Form XObject. pdf-lib never saves the signed file: it only
 * draws, and we parse what it drew with our own reader.
 */
import { existsSync, readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import fontkit from '@pdf-lib/fontkit';
import { PDFDocument, StandardFonts, rgb, type PDFFont } from 'pdf-lib';
import { TrucError } from '../../errors.js';
import { decodeName } from '../../pki/index.js';
import { parseCertificate } from '../../pki/path/index.js';
import { vietnamTime } from '../validate/text.js';
import { PdfDocument } from '../pdf/document.js';
import { decodeStream } from '../pdf/stream.js';
import { array, name, num, ref, serialize, type PdfObject } from '../pdf/objects.js';
import type { UpdateObject } from '../pdf/update.js';
import { appearanceMatrix, type Rotation } from './placement.js';

export const DEFAULT_FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const MAX_IMAGE_BYTES = 4 * 1024 * 1024;
const MAX_COPIED_OBJECTS = 200;

export interface VisibleSignature {
  /**
   * the widget rectangle (points): x1, y1, x2, y2 in the page as displayed — from its bottom-left corner,
   * after /Rotate; on an unrotated page these are the page's own coordinates (`placement.ts`)
   */
  rect: [number, number, number, number];
  /** a PNG drawn at the left (a seal, a handwritten signature) */
  image?: Uint8Array;
  /** the text lines (default: signer, time, issuer — in Vietnamese) */
  lines?: string[];
  /** a TrueType font able to show Vietnamese (default DejaVu Sans; Helvetica without diacritics when absent) */
  fontPath?: string;
}

/** What the update needs: the widget rectangle and the scratch PDF whose first page is the appearance. */
export interface PreparedAppearance {
  rect: [number, number, number, number];
  pdf: Buffer;
}

function commonName(der: Buffer): string | undefined {
  try {
    const n = decodeName(der);
    return (n.find((a) => a.type === 'CN') ?? n.find((a) => a.type === 'O'))?.value;
  } catch {
    return undefined;
  }
}

export function defaultLines(certificate: Uint8Array, when: Date): string[] {
  const c = parseCertificate(Buffer.from(certificate));
  const subject = decodeName(c.subject.der);
  const cn = subject.find((a) => a.type === 'CN')?.value ?? '?';
  const org = subject.find((a) => a.type === 'O')?.value;
  return [`Ký bởi: ${cn}`, ...(org ? [`Cơ quan: ${org}`] : []), `Thời gian: ${vietnamTime(when.toISOString())}`, `Cấp bởi: ${commonName(c.issuer.der) ?? '?'}`];
}

const ascii = (s: string) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/đ/g, 'd').replace(/Đ/g, 'D').replace(/[^\x20-\x7e]/g, '?');

export async function drawAppearance(v: VisibleSignature, certificate: Uint8Array, when: Date): Promise<PreparedAppearance> {
  const [x1, y1, x2, y2] = v.rect;
  const w = x2 - x1;
  const h = y2 - y1;
  if (!(w > 0 && h > 0)) throw new TrucError('bad_request', 'the signature rectangle is empty');
  const doc = await PDFDocument.create();
  doc.registerFontkit(fontkit);
  const fontPath = v.fontPath ?? DEFAULT_FONT;
  let font: PDFFont;
  let shape = (s: string) => s;
  if (existsSync(fontPath)) font = await doc.embedFont(readFileSync(fontPath), { subset: true });
  else {
    font = await doc.embedFont(StandardFonts.Helvetica);
    shape = ascii; // WinAnsi cannot show Vietnamese: better plain letters than missing glyphs
  }
  const page = doc.addPage([w, h]);
  page.drawRectangle({ x: 0.5, y: 0.5, width: w - 1, height: h - 1, borderColor: rgb(0.1, 0.3, 0.6), borderWidth: 1 });
  let textX = 4;
  if (v.image) {
    if (v.image.length > MAX_IMAGE_BYTES) throw new TrucError('too_large', `the appearance image exceeds ${MAX_IMAGE_BYTES} bytes`);
    let png;
    try {
      png = await doc.embedPng(v.image);
    } catch (e) {
      throw new TrucError('bad_request', `the appearance image is not a readable PNG: ${(e as Error).message}`);
    }
    const side = h - 6;
    const scale = Math.min(side / png.width, side / png.height);
    page.drawImage(png, { x: 3, y: (h - png.height * scale) / 2, width: png.width * scale, height: png.height * scale });
    textX = 6 + side;
  }
  const lines = (v.lines ?? defaultLines(certificate, when)).map(shape);
  const room = w - textX - 4;
  let size = Math.min(12, (h - 6) / (lines.length * 1.25));
  for (const l of lines) size = Math.min(size, room / Math.max(1, font.widthOfTextAtSize(l, 1)));
  size = Math.max(size, 3);
  const lead = size * 1.25;
  let y = h - 3 - size;
  for (const l of lines) {
    page.drawText(l, { x: textX, y, size, font, color: rgb(0.05, 0.05, 0.3) });
    y -= lead;
  }
  return { rect: v.rect, pdf: Buffer.from(await doc.save({ useObjectStreams: false })) };
}

/**
 * Copies the scratch PDF's page into the update: the resources with everything they refer to as new objects
 * (numbers from `next`), and the page content as a Form XObject — with a /Matrix undoing the page's
 * rotation, so that it shows upright. Answers the form's object number.
 */
export function importAppearance(a: PreparedAppearance, next: () => number, rotation: Rotation = 0): { form: number; objects: UpdateObject[] } {
  const src = new PdfDocument(a.pdf);
  const [pageRef] = src.pageRefs();
  const page = src.dictOf(ref(pageRef.num, pageRef.gen), 'the appearance page');
  const renumbered = new Map<number, number>();
  const objects: UpdateObject[] = [];
  const queue: number[] = [];
  const copy = (o: PdfObject, depth = 0): PdfObject => {
    if (depth > 32) throw new TrucError('malformed_pdf', 'appearance resources nest too deep');
    switch (o.kind) {
      case 'ref': {
        let n = renumbered.get(o.num);
        if (n === undefined) {
          if (renumbered.size >= MAX_COPIED_OBJECTS) throw new TrucError('too_large', 'the appearance has too many objects');
          n = next();
          renumbered.set(o.num, n);
          queue.push(o.num);
        }
        return ref(n);
      }
      case 'array':
        return array(o.items.map((i) => copy(i, depth + 1)));
      case 'dict':
        return { kind: 'dict', entries: new Map([...o.entries].map(([k, v]) => [k, copy(v, depth + 1)])) };
      case 'stream':
        return { kind: 'stream', dict: new Map([...o.dict].filter(([k]) => k !== 'Length').map(([k, v]) => [k, copy(v, depth + 1)])), data: o.data };
      default:
        return o;
    }
  };
  const resources = copy(src.resolve(page.get('Resources')) ?? { kind: 'dict', entries: new Map() });
  const contents = src.resolve(page.get('Contents'));
  const parts = contents?.kind === 'array' ? contents.items.map((i) => src.resolve(i)) : [contents];
  const content = Buffer.concat(
    parts.map((s) => {
      if (s?.kind !== 'stream') throw new TrucError('malformed_pdf', 'the appearance page has no content stream');
      return Buffer.concat([decodeStream(s.dict, s.data), Buffer.from('\n')]);
    }),
  );
  while (queue.length) {
    const old = queue.shift()!;
    objects.push({ num: renumbered.get(old)!, gen: 0, body: serialize(copy(src.get(old))) });
  }
  const [x1, y1, x2, y2] = a.rect;
  const form = next();
  const formDict = new Map<string, PdfObject>([
    ['Type', name('XObject')],
    ['Subtype', name('Form')],
    ['BBox', array([num(0), num(0), num(x2 - x1), num(y2 - y1)])],
    ['Resources', resources],
    ['Filter', name('FlateDecode')],
  ]);
  const matrix = appearanceMatrix(rotation);
  if (matrix) formDict.set('Matrix', array(matrix.map((n) => num(n))));
  objects.push({ num: form, gen: 0, body: serialize({ kind: 'stream', dict: formDict, data: deflateSync(content) }) });
  return { form, objects };
}
