/**
 * The abuse suite's hostile inputs, made in memory: DER (deep, indefinite, impossible lengths, truncated,
 * identifier bombs, millions of tiny elements) and PDFs (deep objects, cross-reference loops, streams
 * declaring or inflating to far more than they carry, object-stream bombs, a signature whose CMS is
 * hostile, a truncated file). Shared by the tests in test/abuse and by bench/abuse.ts, which sends the
 * whole set with bigger bombs.
 */
import { constants, deflateRawSync } from 'node:zlib';

const MB = 1024 * 1024;

/** A DER element of any length (long-form lengths up to four octets). */
export function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : n < 0x1000000 ? [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff] : [0x84, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), content]);
}

/** SEQUENCE { SEQUENCE { … NULL … } } `depth` deep, definite lengths, written in one pass (not re-copied per level). */
export function deepSequence(depth: number): Buffer {
  const heads: Buffer[] = [];
  let size = 2;
  for (let i = 0; i < depth; i++) {
    const len = size < 0x80 ? [size] : size < 0x100 ? [0x81, size] : size < 0x10000 ? [0x82, size >> 8, size & 0xff] : [0x83, size >> 16, (size >> 8) & 0xff, size & 0xff];
    heads.push(Buffer.from([0x30, ...len]));
    size += 1 + len.length;
  }
  return Buffer.concat([...heads.reverse(), Buffer.from([0x05, 0x00])]);
}

export function hostileDer(truncatedCert: Buffer): { name: string; der: Buffer }[] {
  const deep = deepSequence(50_000);
  return [
    { name: 'SEQUENCE 50,000 deep', der: deep },
    { name: 'indefinite lengths 20,000 deep', der: Buffer.concat([Buffer.from('3080'.repeat(20_000), 'hex'), Buffer.alloc(40_000)]) },
    { name: 'a length of 2 GiB', der: Buffer.concat([Buffer.from('30847fffffff', 'hex'), Buffer.alloc(64, 0x30)]) },
    { name: 'a length of 2^64', der: Buffer.concat([Buffer.from('3088ffffffffffffffff', 'hex'), Buffer.alloc(64, 0x02)]) },
    { name: 'a truncated certificate', der: truncatedCert },
    { name: 'an identifier of 40,000 octets', der: der(0x30, der(0x06, Buffer.concat([Buffer.alloc(39_999, 0xff), Buffer.from([0x7f])]))) },
    { name: '100,000 NULLs', der: der(0x30, Buffer.from('0500'.repeat(100_000), 'hex')) },
  ];
}

/** A PDF with a classic cross-reference table over `objects` (numbered from 1) and the given trailer. */
export function pdf(objects: (string | Buffer)[], trailer: (xrefAt: number, size: number) => string = (at, size) => `trailer\n<< /Size ${size} /Root 1 0 R >>\nstartxref\n${at}\n%%EOF\n`): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.7\n')];
  let length = parts[0]!.length;
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(length);
    const b = Buffer.concat([Buffer.from(`${i + 1} 0 obj\n`), Buffer.isBuffer(o) ? o : Buffer.from(o, 'latin1'), Buffer.from('\nendobj\n')]);
    parts.push(b);
    length += b.length;
  });
  const xref = `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  parts.push(Buffer.from(xref + trailer(length, objects.length + 1), 'latin1'));
  return Buffer.concat(parts);
}

const PAGES = ['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [3 0 R] /Count 1 >>', '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>'];
const stream = (dict: string, data: Buffer) => Buffer.concat([Buffer.from(`<< ${dict} /Length ${data.length} >>\nstream\n`), data, Buffer.from('\nendstream')]);

/** A PDF whose one signature field holds `cms` as its /Contents, its byte range exact. */
export function signedWith(cms: Buffer): Buffer {
  const hex = cms.toString('hex').toUpperCase();
  const placeholder = '/ByteRange [0 0000000000 0000000000 0000000000]';
  const sig = `<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached ${placeholder} /Contents <${hex}> >>`;
  const file = pdf([
    '<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /SigFlags 3 >> >>',
    PAGES[1]!,
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [5 0 R] >>',
    sig,
    '<< /FT /Sig /T (Chu ky) /V 4 0 R /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R >>',
  ]);
  const text = file.toString('latin1');
  const start = text.indexOf(`/Contents <${hex}>`) + '/Contents '.length;
  const end = start + hex.length + 2;
  const range = `/ByteRange [0 ${String(start).padStart(10, '0')} ${String(end).padStart(10, '0')} ${String(file.length - end).padStart(10, '0')}]`;
  return Buffer.from(text.replace(placeholder, range), 'latin1');
}

/** The hostile PDFs; bench/abuse.ts asks for a bomb of a gigabyte. */
export function hostilePdfs(real: Buffer, deepCms: Buffer, inflated = 128 * MB): { name: string; pdf: Buffer }[] {
  const loopA = (at: number, size: number) => `trailer\n<< /Size ${size} /Root 1 0 R /Prev ${at} >>\nstartxref\n${at}\n%%EOF\n`;
  // two cross-reference sections, each the other's /Prev
  const base = pdf([...PAGES, stream('', Buffer.from('BT ET'))]);
  const firstAt = base.toString('latin1').lastIndexOf('\nxref\n') + 1;
  // the first section's trailer names a /Prev of 10 digits, so that the part's length does not depend on it
  const first = (prev: number) => Buffer.from(base.toString('latin1').replace(/startxref\n\d+/, `startxref\n${firstAt}`).replace('/Root 1 0 R >>', `/Root 1 0 R /Prev ${String(prev).padStart(10, '0')} >>`), 'latin1');
  const second = first(0).length;
  const pingPong = Buffer.concat([first(second), Buffer.from(`xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 5 /Root 1 0 R /Prev ${firstAt} >>\nstartxref\n${second}\n%%EOF\n`, 'latin1')]);
  // a page whose content inflates to `inflated` bytes: one sync-flushed megabyte of zeros repeated (back
  // references still find zeros), no end — as readers take it
  const mb = deflateRawSync(Buffer.alloc(MB), { level: 9, finishFlush: constants.Z_SYNC_FLUSH });
  const bomb = Buffer.concat([Buffer.from([0x78, 0xda]), ...Array.from({ length: Math.round(inflated / MB) }, () => mb)]);
  return [
    { name: 'arrays 100,000 deep', pdf: pdf([`<< /Type /Catalog /Pages 2 0 R /X ${'['.repeat(100_000)}${']'.repeat(100_000)} >>`, ...PAGES.slice(1), stream('', Buffer.from('BT ET'))]) },
    { name: 'dictionaries 200,000 deep', pdf: pdf([`<< /Type /Catalog /Pages 2 0 R /X ${'<< /A '.repeat(200_000)}1${' >>'.repeat(200_000)} >>`, ...PAGES.slice(1), stream('', Buffer.from('BT ET'))]) },
    { name: 'a cross-reference section that is its own /Prev', pdf: pdf([...PAGES, stream('', Buffer.from('BT ET'))], loopA) },
    { name: 'two cross-reference sections, each the other’s /Prev', pdf: pingPong },
    { name: 'a stream declaring a terabyte', pdf: pdf([...PAGES, Buffer.from('<< /Length 1099511627776 >>\nstream\nBT ET\nendstream')]) },
    { name: `a content stream inflating to ${Math.round(inflated / MB)} MiB`, pdf: pdf([...PAGES, stream('/Filter /FlateDecode', bomb)]) },
    { name: 'object streams inflating to 5 × 60 MB', pdf: objectStreamBomb(5, 60_000_000) },
    { name: 'a signature whose CMS is nested 20,000 deep', pdf: signedWith(deepCms) },
    { name: 'a truncated PDF', pdf: real.subarray(0, Math.floor(real.length / 2)) },
  ];
}

/**
 * A PDF whose form fields each live in an object stream inflating to `pad` bytes (from a few KB each): the
 * streams are zlib without their end (a header, then sync-flushed blocks), which readers take as far as
 * it goes — so one compressed padding serves every stream.
 */
export function objectStreamBomb(count: number, pad: number): Buffer {
  const padding = deflateRawSync(Buffer.alloc(pad, 0x20), { finishFlush: constants.Z_SYNC_FLUSH });
  const parts: Buffer[] = [Buffer.from('%PDF-1.7\n')];
  let length = parts[0].length;
  const offsets = new Map<number, number>();
  const add = (num: number, body: Buffer) => {
    offsets.set(num, length);
    const b = Buffer.concat([Buffer.from(`${num} 0 obj\n`), body, Buffer.from('\nendobj\n')]);
    parts.push(b);
    length += b.length;
  };
  const fields = Array.from({ length: count }, (_, i) => `${10 + i} 0 R`).join(' ');
  add(1, Buffer.from(`<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [${fields}] /SigFlags 3 >> >>`));
  add(2, Buffer.from('<< /Type /Pages /Kids [] /Count 0 >>'));
  for (let i = 0; i < count; i++) {
    const head = `${10 + i} 0 `;
    const data = Buffer.concat([
      Buffer.from([0x78, 0x9c]),
      deflateRawSync(Buffer.from(`${head}<< /FT /Sig /T (s${i}) >>`), {
        finishFlush: constants.Z_SYNC_FLUSH,
      }),
      padding,
    ]);
    add(
      1000 + i,
      Buffer.concat([
        Buffer.from(
          `<< /Type /ObjStm /N 1 /First ${head.length} /Filter /FlateDecode /Length ${data.length} >>\nstream\n`,
        ),
        data,
        Buffer.from('\nendstream'),
      ]),
    );
  }
  const row = (t: number, a: number, b: number) => {
    const r = Buffer.alloc(7);
    r[0] = t;
    r.writeUInt32BE(a, 1);
    r.writeUInt16BE(b, 5);
    return r;
  };
  const xrefAt = length;
  const rows = [row(0, 0, 65535), row(1, offsets.get(1)!, 0), row(1, offsets.get(2)!, 0)];
  for (let i = 0; i < count; i++) rows.push(row(2, 1000 + i, 0));
  for (let i = 0; i < count; i++) rows.push(row(1, offsets.get(1000 + i)!, 0));
  rows.push(row(1, xrefAt, 0));
  const x = Buffer.concat(rows);
  const index = `0 3 10 ${count} 1000 ${count + 1}`;
  parts.push(
    Buffer.from(
      `${1000 + count} 0 obj\n<< /Type /XRef /Size ${1001 + count} /W [1 4 2] /Index [${index}] /Root 1 0 R /Length ${x.length} >>\nstream\n`,
    ),
    x,
    Buffer.from(`\nendstream\nendobj\nstartxref\n${xrefAt}\n%%EOF\n`),
  );
  return Buffer.concat(parts);
}

export interface StreamedBody {
  name: string;
  length: number;
  /** the body in pieces, made as they are sent (50 MB bodies are never held whole) */
  pieces(): Iterable<Buffer>;
}

const whole = (name: string, text: string): StreamedBody => {
  const b = Buffer.from(text);
  return { name, length: b.length, pieces: () => [b] };
};

/** `head`, then `fill` repeated to `size` bytes in 1 MB pieces, then `tail`. */
function repeated(name: string, head: string, fill: string, size: number, tail: string): StreamedBody {
  const count = Math.floor(size / fill.length);
  const perPiece = Math.floor(MB / fill.length);
  const piece = Buffer.from(fill.repeat(perPiece));
  return {
    name,
    length: head.length + count * fill.length + tail.length,
    *pieces() {
      yield Buffer.from(head);
      let left = count;
      while (left >= perPiece) {
        yield piece;
        left -= perPiece;
      }
      if (left) yield Buffer.from(fill.repeat(left));
      yield Buffer.from(tail);
    },
  };
}

/** Hostile JSON bodies: deep, huge, many members, repeated members, prototype poisoning. */
export function hostileJson(): StreamedBody[] {
  return [
  whole('arrays 100,000 deep', '['.repeat(100_000) + ']'.repeat(100_000)),
  whole('objects 100,000 deep', '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)),
  repeated('50 MB of tiny values', '[', '0,', 50 * MB, '0]'),
  repeated('a string of 50 MB', '{"file":"', 'A', 50 * MB, '"}'),
  whole('150,000 members in one object', `{${Array.from({ length: 150_000 }, (_, i) => `"k${i}":0`).join(',')}}`),
  whole('a member named twice', '{"profile":"official-signing","profile":"tls-server","csr":"x"}'),
  whole('a member named twice, once escaped', '{"product":"a","\\u0070roduct":"b"}'),
  whole('__proto__', '{"__proto__":{"admin":true},"name":"x"}'),
  whole('__proto__ escaped', '{"\\u005f_proto__":{"admin":true}}'),
  whole('constructor.prototype', '{"name":"x","constructor":{"prototype":{"admin":true}}}'),
];
}
