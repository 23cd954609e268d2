/**
 * The incremental-update writer (§7.5.6): appends new and changed objects, a cross-reference section of
 * the same kind the file already ends with (a classic table, or a cross-reference stream) chained to the
 * previous one by /Prev, and a new trailer — after the original bytes, which stay exactly as they were.
 * Earlier signatures cover those bytes, so they stay valid.
 */
import { deflateSync } from 'node:zlib';
import { TrucError } from '../../errors.js';
import { serialize, type PdfObject } from './objects.js';
import type { PdfDocument } from './document.js';

export interface UpdateObject {
  num: number;
  gen: number;
  /** the serialised value (a stream with its data) */
  body: Buffer;
}

export interface Update {
  /** the whole new file: the original bytes, then the update */
  bytes: Buffer;
  /** where each appended object's `n g obj` header starts, in `bytes` */
  offsets: Map<number, number>;
}

/** Allocates object numbers for new objects after those the document already uses. */
export function objectNumbers(doc: PdfDocument): () => number {
  let next = doc.size;
  return () => next++;
}

const TRAILER_KEYS = ['Root', 'Info', 'ID'] as const;

/** Runs of consecutive object numbers, for xref subsections and /Index. */
function runs(nums: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const n of nums) {
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === n) last[1]++;
    else out.push([n, 1]);
  }
  return out;
}

export function appendUpdate(doc: PdfDocument, objects: UpdateObject[]): Update {
  if (doc.xref.trailer.has('Encrypt')) throw new TrucError('unsupported', 'signing encrypted PDFs is not supported');
  const original = doc.bytes;
  const chunks: Buffer[] = [original];
  let pos = original.length;
  const push = (b: Buffer) => {
    chunks.push(b);
    pos += b.length;
  };
  // an update starts on a new line even when the original's last line has no EOL
  const last = original[original.length - 1];
  if (last !== 0x0a && last !== 0x0d) push(Buffer.from('\n'));

  const offsets = new Map<number, number>();
  for (const o of [...objects].sort((a, b) => a.num - b.num)) {
    offsets.set(o.num, pos);
    push(Buffer.concat([Buffer.from(`${o.num} ${o.gen} obj\n`), o.body, Buffer.from('\nendobj\n')]));
  }
  const prev = doc.xref.startxref;
  const trailer = new Map<string, PdfObject>();
  for (const k of TRAILER_KEYS) {
    const v = doc.xref.trailer.get(k);
    if (v) trailer.set(k, v);
  }
  const gens = new Map(objects.map((o) => [o.num, o.gen]));
  let size = Math.max(doc.size, ...objects.map((o) => o.num + 1));
  const xrefAt = pos;

  if (doc.xrefKind === 'table') {
    const nums = [...offsets.keys()].sort((a, b) => a - b);
    let table = 'xref\n';
    let i = 0;
    for (const [first, count] of runs(nums)) {
      table += `${first} ${count}\n`;
      for (let k = 0; k < count; k++, i++) {
        const n = nums[i];
        table += `${String(offsets.get(n)).padStart(10, '0')} ${String(gens.get(n)).padStart(5, '0')} n\r\n`;
      }
    }
    const t = new Map<string, PdfObject>([['Size', { kind: 'num', value: size, raw: String(size) }], ...trailer, ['Prev', { kind: 'num', value: prev, raw: String(prev) }]]);
    push(Buffer.from(table + 'trailer\n', 'latin1'));
    push(serialize({ kind: 'dict', entries: t }));
  } else {
    const self = size++;
    offsets.set(self, xrefAt);
    gens.set(self, 0);
    const nums = [...offsets.keys()].sort((a, b) => a - b);
    const rows = Buffer.alloc(nums.length * 7);
    nums.forEach((n, i) => {
      rows[i * 7] = 1;
      rows.writeUInt32BE(offsets.get(n)!, i * 7 + 1);
      rows.writeUInt16BE(gens.get(n)!, i * 7 + 5);
    });
    const numObj = (n: number): PdfObject => ({ kind: 'num', value: n, raw: String(n) });
    const dict = new Map<string, PdfObject>([
      ['Type', { kind: 'name', value: 'XRef' }],
      ['Size', numObj(size)],
      ['W', { kind: 'array', items: [numObj(1), numObj(4), numObj(2)] }],
      ['Index', { kind: 'array', items: runs(nums).flatMap(([a, c]) => [numObj(a), numObj(c)]) }],
      ...trailer,
      ['Prev', numObj(prev)],
      ['Filter', { kind: 'name', value: 'FlateDecode' }],
    ]);
    push(Buffer.concat([Buffer.from(`${self} 0 obj\n`), serialize({ kind: 'stream', dict, data: deflateSync(rows) }), Buffer.from('\nendobj\n')]));
  }
  push(Buffer.from(`\nstartxref\n${xrefAt}\n%%EOF\n`));
  return { bytes: Buffer.concat(chunks, pos), offsets };
}
