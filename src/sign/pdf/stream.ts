/**
 * Decoding of the streams the reader itself needs — cross-reference and object streams: FlateDecode
 * (zlib, output bounded against decompression bombs) with the PNG predictors writers use for
 * cross-reference streams (§7.4.4.4). Other filters are not needed to find objects and are refused.
 */
import { constants, inflateSync } from 'node:zlib';
import type { PdfObject } from './objects.js';
import { bad } from './parse.js';
import { MAX_DECODED_STREAM } from './limits.js';

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
 * The decoded data of a stream the reader needs (cross-reference and object streams). A Flate stream cut
 * before its zlib end (no final block or Adler-32, as some producers write) is read as far as it goes, as
 * qpdf and poppler do, and said in `repairs` when given; a corrupt one is still an error.
 */
export function decodeStream(dict: Map<string, PdfObject>, data: Buffer, repairs?: string[]): Buffer {
  const f = dict.get('Filter');
  const filters = f === undefined ? [] : f.kind === 'array' ? f.items : [f];
  const p = dict.get('DecodeParms');
  const parms = p === undefined ? [] : p.kind === 'array' ? p.items : [p];
  let out = data;
  filters.forEach((filter, i) => {
    if (filter.kind !== 'name' || (filter.value !== 'FlateDecode' && filter.value !== 'Fl'))
      throw bad(`unsupported stream filter ${filter.kind === 'name' ? filter.value : filter.kind}`);
    try {
      out = inflateSync(out, { maxOutputLength: MAX_DECODED_STREAM });
    } catch (e) {
      if ((e as { code?: string }).code !== 'Z_BUF_ERROR' || !/unexpected end/i.test((e as Error).message)) throw bad(`cannot inflate stream: ${(e as Error).message}`);
      try {
        out = inflateSync(out, { maxOutputLength: MAX_DECODED_STREAM, finishFlush: constants.Z_SYNC_FLUSH });
      } catch (e2) {
        throw bad(`cannot inflate stream: ${(e2 as Error).message}`);
      }
      repairs?.push('luồng Flate thiếu phần kết zlib, đã đọc hết phần có / a Flate stream without its zlib end was read as far as it goes');
    }
    out = unpredict(out, parms[i]);
  });
  return out;
}
