/**
 * Decoding of the streams the reader itself needs — cross-reference and object streams: FlateDecode
 * (zlib, output bounded against decompression bombs) with the PNG predictors writers use for
 * cross-reference streams (§7.4.4.4). Other filters are not needed to find objects and are refused.
 */
import { constants, inflateSync } from 'node:zlib';
import type { PdfObject } from './objects.js';
import { bad } from './parse.js';
import { MAX_DECODED_PER_FILE, MAX_DECODED_STREAM } from './limits.js';

function intOf(o: PdfObject | undefined, dflt: number): number {
  return o?.kind === 'num' && Number.isInteger(o.value) ? o.value : dflt;
}

function unpredict(data: Buffer, parms: PdfObject | undefined): Buffer {
  if (parms?.kind !== 'dict') return data;
  const predictor = intOf(parms.entries.get('Predictor'), 1);
  if (predictor === 1) return data;
  if (predictor < 10) throw bad(`unsupported predictor ${predictor}`);
  const colors = intOf(parms.entries.get('Colors'), 1);
  const bpc = intOf(parms.entries.get('BitsPerComponent'), 8);
  const columns = intOf(parms.entries.get('Columns'), 1);
  if (colors < 1 || colors > 32 || ![1, 2, 4, 8, 16].includes(bpc) || columns < 1 || columns > 1 << 20) throw bad('bad predictor parameters');
  const bpp = Math.max(1, (colors * bpc) >> 3);
  const rowLen = (colors * bpc * columns + 7) >> 3;
  const rows = Math.floor(data.length / (rowLen + 1));
  const out = Buffer.alloc(rows * rowLen);
  let prev = Buffer.alloc(rowLen);
  for (let r = 0; r < rows; r++) {
    const type = data[r * (rowLen + 1)];
    const src = data.subarray(r * (rowLen + 1) + 1, (r + 1) * (rowLen + 1));
    const row = out.subarray(r * rowLen, (r + 1) * rowLen);
    for (let i = 0; i < rowLen; i++) {
      const left = i >= bpp ? row[i - bpp] : 0;
      const up = prev[i];
      const upLeft = i >= bpp ? prev[i - bpp] : 0;
      let v: number;
      switch (type) {
        case 0:
          v = src[i];
          break;
        case 1:
          v = src[i] + left;
          break;
        case 2:
          v = src[i] + up;
          break;
        case 3:
          v = src[i] + ((left + up) >> 1);
          break;
        case 4: {
          const p = left + up - upLeft;
          const pa = Math.abs(p - left);
          const pb = Math.abs(p - up);
          const pc = Math.abs(p - upLeft);
          v = src[i] + (pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft);
          break;
        }
        default:
          throw bad(`bad PNG predictor row type ${type}`);
      }
      row[i] = v & 0xff;
    }
    prev = row;
  }
  return out;
}

/**
 * What the streams of one file decode to, shared by every reading of its bytes. Validation opens a
 * PdfDocument per revision (over prefixes of the same bytes), each decoding the object streams it touches
 * anew: a file of many object streams each inflating to the per-stream bound (64 MiB from 64 KB) made one
 * request inflate gigabytes (3.5 GB and two minutes for 60 of them). Keyed by the memory the stream's
 * bytes lie in, each stream is decoded once however many documents read it, and all the file's streams
 * together within MAX_DECODED_PER_FILE. The reader never changes the bytes it reads, so a place in that
 * memory always holds the same stream.
 */
interface FileDecodes {
  used: number;
  streams: Map<string, { out: Buffer; repair: boolean }>;
}
const decodedByFile = new WeakMap<ArrayBufferLike, FileDecodes>();

const CUT_FLATE = 'luồng Flate thiếu phần kết zlib, đã đọc hết phần có / a Flate stream without its zlib end was read as far as it goes';

/**
 * The decoded data of a stream the reader needs (cross-reference and object streams). A Flate stream cut
 * before its zlib end (no final block or Adler-32, as some producers write) is read as far as it goes, as
 * qpdf and poppler do, and said in `repairs` when given; a corrupt one is still an error.
 */
export function decodeStream(dict: Map<string, PdfObject>, data: Buffer, repairs?: string[]): Buffer {
  let file = decodedByFile.get(data.buffer);
  if (!file) decodedByFile.set(data.buffer, (file = { used: 0, streams: new Map() }));
  const key = `${data.byteOffset}:${data.length}`;
  const hit = file.streams.get(key);
  if (hit) {
    if (hit.repair) repairs?.push(CUT_FLATE);
    return hit.out;
  }
  const notes: string[] = [];
  const out = decode(dict, data, notes, MAX_DECODED_PER_FILE - file.used);
  file.used += out.length;
  file.streams.set(key, { out, repair: notes.length > 0 });
  repairs?.push(...notes);
  return out;
}

function decode(dict: Map<string, PdfObject>, data: Buffer, repairs: string[], left: number): Buffer {
  const f = dict.get('Filter');
  const filters = f === undefined ? [] : f.kind === 'array' ? f.items : [f];
  const p = dict.get('DecodeParms');
  const parms = p === undefined ? [] : p.kind === 'array' ? p.items : [p];
  const max = Math.min(MAX_DECODED_STREAM, left);
  const over = () => bad(`the file's streams decode to more than ${MAX_DECODED_PER_FILE} bytes in all`);
  if (max <= 0) throw over();
  const code = (e: unknown) => (e as { code?: string }).code;
  let out = data;
  filters.forEach((filter, i) => {
    if (filter.kind !== 'name' || (filter.value !== 'FlateDecode' && filter.value !== 'Fl'))
      throw bad(`unsupported stream filter ${filter.kind === 'name' ? filter.value : filter.kind}`);
    const inflate = (finishFlush?: number) => {
      try {
        return inflateSync(out, { maxOutputLength: max, ...(finishFlush === undefined ? {} : { finishFlush }) });
      } catch (e) {
        // past the file's budget rather than the stream's own bound: say which
        if (code(e) === 'ERR_BUFFER_TOO_LARGE' && max < MAX_DECODED_STREAM) throw over();
        throw e;
      }
    };
    try {
      out = inflate();
    } catch (e) {
      if (code(e) === 'malformed_pdf') throw e;
      if (code(e) !== 'Z_BUF_ERROR' || !/unexpected end/i.test((e as Error).message)) throw bad(`cannot inflate stream: ${(e as Error).message}`);
      try {
        out = inflate(constants.Z_SYNC_FLUSH);
      } catch (e2) {
        if (code(e2) === 'malformed_pdf') throw e2;
        throw bad(`cannot inflate stream: ${(e2 as Error).message}`);
      }
      repairs.push(CUT_FLATE);
    }
    out = unpredict(out, parms[i]);
  });
  return out;
}
