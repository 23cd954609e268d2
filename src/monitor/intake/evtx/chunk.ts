/**
 * The records of one 64 KiB chunk: checked header, records walked from offset 512 to the free-space
 * offset, each record checked (signature, size, the size repeated at its end) before its binary XML is
 * read. What cannot be read is reported and stepped over: a damaged record by its size, a damaged size by
 * searching for the next record signature. With `carve`, records left in the slack space after the last
 * one (older events of a reused chunk) are read too.
 */
import { BinXmlError, BinXmlReader, RECORD_BUDGET } from './binxml.js';
import { allZero, CHUNK_HEADER_SIZE, CHUNK_SIZE, hasChunkMagic, readChunkHeader } from './header.js';
import { JsonRenderer } from './json.js';

export interface EvtxRecord {
  recordId: number;
  /** Index of the chunk in the file, from 0. */
  chunk: number;
  event: Record<string, unknown>;
  /** Found in a chunk's slack space, not among its live records (only with `carve`). */
  carved?: boolean;
}

export interface EvtxSkip {
  chunk?: number;
  /** Byte offset in the file. */
  offset: number;
  /** What was wrong, Vietnamese first, English beside. */
  reason: string;
  recordId?: number;
}

export interface ChunkOptions {
  /** Skip a chunk whose header or record checksum is wrong instead of reading it with care. */
  strict?: boolean;
  /** Read records carved from slack space. */
  carve?: boolean;
  /**
   * Keep strings exactly as recorded, trailing white space included. By default they are written as
   * `evtx_dump -o json` writes them, without it, so an event read here equals the JSON export of it.
   */
  exactStrings?: boolean;
}

const RECORD_MAGIC = Buffer.from([0x2a, 0x2a, 0x00, 0x00]);

/**
 * Work one chunk may cost (tokens and nodes, as counted by BinXmlReader.spend): a record has its own bound,
 * but thousands of tiny records each expanding a large cached template would multiply it. A full chunk of
 * real events costs under 8,000 (the regression recordings' chunks, filled).
 */
export const CHUNK_BUDGET = 1 << 19;

/** Damage reports one chunk may give one by one; the rest are counted in one last report. */
export const REPORTS_PER_CHUNK = 32;
const RECORD_MIN = 24 + 4 + 4; // header, fragment header, size copy

function u64(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 4294967296;
}

function detail(e: unknown): string {
  if (e instanceof BinXmlError) return e.message;
  if (e instanceof RangeError) return `đọc ngoài giới hạn (read out of bounds): ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Yields the records of chunk `index`, whose bytes are `c` (64 KiB, shorter when the file is cut) found at
 * byte `fileOffset` of the file.
 */
export function* chunkRecords(c: Buffer, index: number, fileOffset: number, opts: ChunkOptions, skip: (s: EvtxSkip) => void): Generator<EvtxRecord> {
  let reports = 0;
  let unreported = 0;
  const report = (at: number, reason: string, recordId?: number) => {
    if (++reports > REPORTS_PER_CHUNK) unreported++;
    else skip({ chunk: index, offset: fileOffset + at, reason, ...(recordId !== undefined ? { recordId } : {}) });
  };
  try {
    yield* walk(c, index, opts, report);
  } finally {
    if (unreported)
      skip({
        chunk: index,
        offset: fileOffset,
        reason: `khối ${index}: thêm ${unreported} phần hỏng bị bỏ qua, không kể từng phần (chunk ${index}: ${unreported} more damaged parts skipped, not listed one by one)`,
      });
  }
}

function* walk(c: Buffer, index: number, opts: ChunkOptions, report: (at: number, reason: string, recordId?: number) => void): Generator<EvtxRecord> {
  if (!hasChunkMagic(c)) {
    if (!allZero(c)) report(0, `bỏ qua khối ${index}: không có chữ ký ElfChnk (chunk ${index} skipped: no ElfChnk signature)`);
    return;
  }
  if (c.length < CHUNK_HEADER_SIZE) {
    report(0, `bỏ qua khối ${index}: đầu khối bị cắt (chunk ${index} skipped: header cut short)`);
    return;
  }
  const h = readChunkHeader(c);
  const truncated = c.length < CHUNK_SIZE;
  if (truncated) report(c.length, `khối ${index} bị cắt còn ${c.length} byte, đọc đến đó (chunk ${index} cut short at ${c.length} bytes, read up to there)`);
  if (!h.headerChecksumOk) {
    if (opts.strict) return report(0, `bỏ qua khối ${index}: tổng kiểm tra đầu khối sai (chunk ${index} skipped: bad header checksum)`);
    report(0, `khối ${index}: tổng kiểm tra đầu khối sai, đọc thận trọng (chunk ${index}: bad header checksum, read with care)`);
  }
  const freeOk = h.freeSpaceOffset >= CHUNK_HEADER_SIZE && h.freeSpaceOffset <= CHUNK_SIZE;
  if (!h.dataChecksumOk && !(truncated && freeOk && h.freeSpaceOffset > c.length)) {
    if (opts.strict) return report(CHUNK_HEADER_SIZE, `bỏ qua khối ${index}: tổng kiểm tra bản ghi sai (chunk ${index} skipped: bad record checksum)`);
    report(CHUNK_HEADER_SIZE, `khối ${index}: tổng kiểm tra bản ghi sai, đọc thận trọng (chunk ${index}: bad record checksum, read with care)`);
  }
  const end = freeOk ? Math.min(h.freeSpaceOffset, c.length) : c.length;
  const reader = new BinXmlReader(c, opts.exactStrings === true);
  const renderer = new JsonRenderer(reader);

  let pos = CHUNK_HEADER_SIZE;
  let budget = CHUNK_BUDGET;
  // each turn either yields or reports and moves forward by at least one byte
  while (pos + RECORD_MIN <= end) {
    if (budget <= 0) {
      report(pos, `khối ${index}: vượt giới hạn xử lý, bỏ qua phần còn lại (chunk ${index}: work bound reached, the rest skipped)`);
      return;
    }
    if (c.readUInt32LE(pos) !== 0x00002a2a) {
      if (allZero(c, pos, end)) break;
      const next = c.indexOf(RECORD_MAGIC, pos + 1);
      report(pos, `khối ${index}: dữ liệu lạ thay cho bản ghi, bỏ qua ${(next < 0 || next >= end ? end : next) - pos} byte (chunk ${index}: garbage where a record should be, ${(next < 0 || next >= end ? end : next) - pos} bytes skipped)`);
      if (next < 0 || next >= end) break;
      pos = next;
      continue;
    }
    const size = c.readUInt32LE(pos + 4);
    const recordId = pos + 16 <= c.length ? u64(c, pos + 8) : undefined;
    if (size < RECORD_MIN || pos + size > c.length || c.readUInt32LE(pos + size - 4) !== size) {
      const next = c.indexOf(RECORD_MAGIC, pos + 4);
      report(pos, `khối ${index}: bản ghi ${recordId} có kích thước sai, bỏ qua (chunk ${index}: record ${recordId} has a bad size, skipped)`, recordId);
      if (next < 0 || next >= end) break;
      pos = next;
      continue;
    }
    const r = read(renderer, reader, c, pos, size, budget);
    budget -= Math.min(budget, RECORD_BUDGET) - Math.max(0, reader.budget);
    if (r instanceof Error) report(pos, `khối ${index}: bản ghi ${recordId} hỏng, bỏ qua: ${r.message} (chunk ${index}: record ${recordId} damaged, skipped)`, recordId);
    else yield { recordId: recordId!, chunk: index, event: r };
    pos += size;
  }
  if (opts.carve) yield* carve(c, index, Math.max(pos, end), renderer, reader);
}

function read(renderer: JsonRenderer, reader: BinXmlReader, c: Buffer, pos: number, size: number, budget = RECORD_BUDGET): Record<string, unknown> | Error {
  reader.budget = Math.min(budget, RECORD_BUDGET);
  try {
    return renderer.record(pos + 24, pos + size - 4);
  } catch (e) {
    return new Error(detail(e));
  }
}

/** Records in the slack space after `from`: whole ones only (size repeated at the end), read if they can be. */
function* carve(c: Buffer, index: number, from: number, renderer: JsonRenderer, reader: BinXmlReader): Generator<EvtxRecord> {
  let pos = c.indexOf(RECORD_MAGIC, from);
  let budget = CHUNK_BUDGET;
  while (pos >= 0 && pos + RECORD_MIN <= c.length && budget > 0) {
    const size = c.readUInt32LE(pos + 4);
    if (size >= RECORD_MIN && pos + size <= c.length && c.readUInt32LE(pos + size - 4) === size) {
      const r = read(renderer, reader, c, pos, size, budget);
      budget -= Math.min(budget, RECORD_BUDGET) - Math.max(0, reader.budget);
      if (!(r instanceof Error)) {
        yield { recordId: u64(c, pos + 8), chunk: index, event: r, carved: true };
        pos = c.indexOf(RECORD_MAGIC, pos + size);
        continue;
      }
    }
    pos = c.indexOf(RECORD_MAGIC, pos + 1);
  }
}
