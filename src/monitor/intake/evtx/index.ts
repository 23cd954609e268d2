/**
 * Windows event log files (`.evtx`) read natively: the file header, the 64 KiB chunks with their CRC-32
 * checksums, and the binary XML of each record with its templates and substitution values, turned into
 * the same `{ Event: { System, EventData | UserData } }` object that `evtx_dump -o json` writes and our
 * JSON intake takes. Damaged files (bad checksums, cut-short chunks, dirty copies whose header counts
 * fewer chunks than they hold, garbage inside records, broken or recursive templates) are read as far as
 * they can be, with every part left out reported through `onSkip`; nothing in the file can make the
 * reader throw past its first check (not an EVTX file, too large) or loop without bound.
 */
import { open } from 'node:fs/promises';
import { TrucError } from '../../../errors.js';
import { chunkRecords, type ChunkOptions, type EvtxRecord, type EvtxSkip } from './chunk.js';
import { CHUNK_SIZE, FILE_HEADER_SIZE, isEvtx, readFileHeader, type FileHeader } from './header.js';

export { isEvtx, type FileHeader } from './header.js';
export type { EvtxRecord, EvtxSkip } from './chunk.js';

/** Largest file read by default: 16 GiB (the format allows 65,535 chunks of 64 KiB, a little over 4 GiB, with the header's 16-bit count; dirty files may hold more). */
export const MAX_EVTX_BYTES = 16 * 1024 ** 3;

export interface EvtxOptions extends ChunkOptions {
  onSkip?: (s: EvtxSkip) => void;
  /** Refuse files larger than this many bytes (default MAX_EVTX_BYTES). */
  maxBytes?: number;
}

function checkHead(head: Buffer, size: number, opts: EvtxOptions, name: string): FileHeader {
  if (!isEvtx(head)) throw new TrucError('bad_request', `${name} không phải tệp EVTX: thiếu chữ ký ElfFile (not an EVTX file: no ElfFile signature)`);
  const max = opts.maxBytes ?? MAX_EVTX_BYTES;
  if (size > max) throw new TrucError('too_large', `${name} quá lớn: ${size} byte, tối đa ${max} (EVTX file too large: ${size} bytes, at most ${max})`, { max, size });
  if (head.length < 128) throw new TrucError('bad_request', `${name}: đầu tệp EVTX bị cắt (EVTX file header cut short)`);
  const h = readFileHeader(head);
  if (!h.checksumOk)
    opts.onSkip?.({ offset: 0, reason: 'đầu tệp: tổng kiểm tra sai, vẫn đọc các khối (file header: bad checksum, chunks read anyway)' });
  if (size < FILE_HEADER_SIZE) opts.onSkip?.({ offset: size, reason: 'tệp bị cắt trước khối đầu tiên (file cut short before its first chunk)' });
  return h;
}

/**
 * The records of an EVTX file held in memory, in file order. Every chunk present is read, whatever the
 * header counts (a file copied from a live system counts fewer).
 */
export function* readEvtx(data: Buffer, opts: EvtxOptions = {}): Generator<EvtxRecord> {
  checkHead(data.subarray(0, FILE_HEADER_SIZE), data.length, opts, 'dữ liệu');
  const skip = opts.onSkip ?? (() => {});
  for (let i = 0, at = FILE_HEADER_SIZE; at < data.length; i++, at += CHUNK_SIZE)
    yield* chunkRecords(data.subarray(at, Math.min(at + CHUNK_SIZE, data.length)), i, at, opts, skip);
}

/** The records of an EVTX file on disk, read one chunk at a time: a large file is never held whole. */
export async function* readEvtxFile(path: string, opts: EvtxOptions = {}): AsyncGenerator<EvtxRecord> {
  for await (const chunk of readEvtxFileChunks(path, opts)) yield* chunk;
}

/**
 * The records of an EVTX file on disk, a chunk at a time: each value is the chunk's records, read as they
 * are iterated (skips reported through `onSkip` in their place among them). One buffer serves every chunk,
 * so each must be iterated to its end before the next is asked for. For readers that pay per step of an
 * async iteration (a hunt): one step a chunk rather than one a record.
 */
export async function* readEvtxFileChunks(path: string, opts: EvtxOptions = {}): AsyncGenerator<Iterable<EvtxRecord>> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(Math.min(FILE_HEADER_SIZE, size));
    await readFully(fh, head, 0);
    checkHead(head, size, opts, path);
    const skip = opts.onSkip ?? (() => {});
    const chunk = Buffer.alloc(CHUNK_SIZE);
    for (let i = 0, at = FILE_HEADER_SIZE; at < size; i++, at += CHUNK_SIZE) {
      const n = await readFully(fh, chunk, at);
      if (n === 0) break;
      // records are decoded to plain values as they are iterated, before the next read
      yield chunkRecords(chunk.subarray(0, n), i, at, opts, skip);
    }
  } finally {
    await fh.close();
  }
}

async function readFully(fh: Awaited<ReturnType<typeof open>>, buf: Buffer, position: number): Promise<number> {
  let n = 0;
  while (n < buf.length) {
    const { bytesRead } = await fh.read(buf, n, buf.length - n, position + n);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return n;
}
