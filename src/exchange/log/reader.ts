/**
 * Read-only access to a log folder: its identity, its segments in order, the records of a segment with
 * their chain checked, and the time-stamp batches. The log itself (recovery on open), the verifier and
 * evidence all read through here, so that there is one notion of what a valid record is.
 */
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TrucError } from '../../errors.js';
import { sha256 } from '../../crypto/digest.js';
import { FrameReader } from './frames.js';
import {
  chainHash,
  decodeBatch,
  decodeRecord,
  decodeSegmentHeader,
  decodeStampsHeader,
  FRAME_HEAD,
  HASH_LEN,
  MAX_FRAME_PAYLOAD,
  MAX_RECORD_MATERIAL,
  Reader,
  recordDigest,
  T_BATCH,
  T_MATERIAL,
  T_RECORD,
  T_SEGMENT,
  T_STAMPS,
  type Batch,
  type RawFrame,
  type RecordMeta,
  type SegmentHeader,
} from './format.js';

export const SEGMENTS = 'segments';
export const STAMPS = 'stamps';
export const SPOOL = 'spool';
export const ARCHIVES = 'archives';
export const QUARANTINE = 'quarantine';

export const segName = (no: number): string => String(no).padStart(10, '0');
export const segPath = (dir: string, no: number): string => join(dir, SEGMENTS, `${segName(no)}.seg`);
export const bodiesDir = (dir: string, no: number): string => join(dir, SEGMENTS, `${segName(no)}.bodies`);
export const bodyPath = (dir: string, no: number, seq: number): string => join(bodiesDir(dir, no), `${seq}.body`);

export interface LogIdentity {
  logId: Buffer;
  created: string;
}

export async function readIdentity(dir: string): Promise<LogIdentity> {
  let raw: string;
  try {
    raw = await readFile(join(dir, 'LOG'), 'utf8');
  } catch (e) {
    throw new TrucError('not_found', `${dir} không phải thư mục nhật ký thông điệp (không có tệp LOG) / ${dir} is not a message log folder (no LOG file)`, {}, { cause: e });
  }
  let j: { logId?: string; created?: string };
  try {
    j = JSON.parse(raw) as { logId?: string; created?: string };
  } catch {
    throw new TrucError('bad_request', `the LOG file of ${dir} is unreadable (not JSON): the log's identity is lost`);
  }
  if (typeof j.logId !== 'string' || !/^[0-9a-f]{32}$/.test(j.logId)) throw new TrucError('bad_request', 'the LOG file names no log id');
  return { logId: Buffer.from(j.logId, 'hex'), created: String(j.created ?? '') };
}

/**
 * Why a file of frames stopped: a frame cut short at the end is what a crash mid-write leaves (a torn write,
 * cut when the log opens); a length over the largest frame the log writes is damage, never a crash's.
 */
function frameStop(problem: 'truncated' | 'oversized'): string {
  return problem === 'oversized' ? 'a frame whose length is over the largest the log writes: damaged' : 'truncated frame (torn write)';
}

/**
 * The payload lengths a record could have, read from its own fields (every field but the optional material
 * list says its length; the list is there or not): the same walk as decodeRecord, which must stay in step.
 */
function recordLengths(p: Buffer): number[] {
  const r = new Reader(p);
  r.u64();
  r.f64();
  r.u8();
  r.u8();
  for (let i = 0; i < 5; i++) r.str16();
  r.bytes32();
  r.bytes32();
  r.fixed(32);
  r.u64();
  const store = r.u8();
  if (r.str8()) r.fixed(16);
  if (store === 1) r.bytes32();
  else if (store === 2) {
    r.u64();
    r.fixed(32);
  }
  const core = r.o;
  const n = core < p.length ? p[core]! : 0;
  return n >= 1 && n <= MAX_RECORD_MATERIAL ? [core, core + 1 + 32 * n] : [core];
}

/** The payload length a batch has, read from its own fields (as decodeBatch reads them). */
function batchLengths(p: Buffer): number[] {
  const r = new Reader(p);
  r.fixed(8 + 8 + 8 + 32 + 8);
  return [r.o + 4 + r.u32()];
}

/**
 * A frame cut short by the end of the file is what a crash mid-write leaves — or what a changed length field
 * makes of a whole frame (the frame then seems to run past the end, and every whole frame after it would be
 * dropped as a torn tail). Before calling it torn: if the bytes there read, with the length the frame's own
 * fields give, as a whole frame whose chain hash matches, the length was altered. A real torn write cannot
 * hold its own chain hash. Returns why, or null when it is a torn write.
 */
async function alteredLength(path: string, offset: number, prev: Buffer, type: number, lengths: (p: Buffer) => number[]): Promise<string | null> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return null;
  }
  try {
    const size = (await fh.stat()).size;
    const have = Math.min(size - offset, FRAME_HEAD + MAX_FRAME_PAYLOAD + HASH_LEN);
    if (have <= FRAME_HEAD + HASH_LEN) return null;
    const b = Buffer.alloc(have);
    const { bytesRead } = await fh.read(b, 0, have, offset);
    if (bytesRead < have || b[4] !== type) return null;
    const said = b.readUInt32BE(0);
    let candidates: number[];
    try {
      candidates = lengths(b.subarray(FRAME_HEAD));
    } catch {
      return null; // its fields do not read: no whole frame there
    }
    for (const len of candidates) {
      if (len === said || FRAME_HEAD + len + HASH_LEN > have) continue;
      const payload = b.subarray(FRAME_HEAD, FRAME_HEAD + len);
      if (chainHash(prev, type, payload).equals(b.subarray(FRAME_HEAD + len, FRAME_HEAD + len + HASH_LEN)))
        return `its length field says ${said} bytes, but a whole frame of ${len} bytes with a matching chain hash is there: the length was altered (the whole frames after it would pass for a crash's leftover)`;
    }
    return null;
  } finally {
    await fh.close();
  }
}

/** Segment numbers present in a segments folder, ascending. */
export async function listSegments(segmentsDir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(segmentsDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names
    .map((n) => /^(\d{10})\.seg$/.exec(n))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

export interface ScannedRecord {
  meta: RecordMeta;
  frame: RawFrame;
  /** chain hash before this record */
  prev: Buffer;
}

export interface SegmentScan {
  header: SegmentHeader | null;
  records: AsyncGenerator<ScannedRecord>;
  /** after `records` is exhausted: where and why reading stopped early, if it did */
  stop(): { offset: number; why: string } | null;
  /**
   * material items read so far in this segment, by SHA-256 hex of their bytes: complete when `records` is
   * exhausted, and holding at each record what was written before it
   */
  material: Map<string, Buffer>;
  /** after `records` is exhausted: the chain hash and seq of the last good record (the header's when none) */
  last(): { seq: number; hash: Buffer; end: number; time: Date | null };
  close(): Promise<void>;
}

/** Reads a segment's header and then its records, checking each chain hash, seq and decoding. */
export async function scanSegment(path: string, expect?: { logId?: Buffer; segment?: number }): Promise<SegmentScan> {
  const fr = await FrameReader.open(path);
  let stop: { offset: number; why: string } | null = null;
  let header: SegmentHeader | null = null;
  let first;
  try {
    first = await fr.next();
  } catch (e) {
    // not a file one can read (a folder, a device): nothing is returned to close it, so close it here
    await fr.close().catch(() => {});
    throw e;
  }
  if (!first) stop = { offset: 0, why: fr.problem ? `segment header ${fr.problem}` : 'empty segment file' };
  else if (first.type !== T_SEGMENT || !recordDigest(first.type, first.payload).equals(first.hash)) stop = { offset: 0, why: 'bad segment header' };
  else {
    try {
      header = decodeSegmentHeader(first.payload);
      if (expect?.logId && !header.logId.equals(expect.logId)) stop = { offset: 0, why: 'segment of another log' };
      else if (expect?.segment !== undefined && header.segment !== expect.segment) stop = { offset: 0, why: `segment header says ${header.segment}` };
    } catch (e) {
      stop = { offset: 0, why: `bad segment header: ${(e as Error).message}` };
    }
  }
  if (stop) header = null;
  let prev = header?.prevHash ?? Buffer.alloc(32);
  let seq = header ? header.firstSeq - 1 : 0;
  let end = first && header ? first.offset + first.length : 0;
  let time: Date | null = null;
  const material = new Map<string, Buffer>();
  // material frames read since the last record: the writer puts each item just before the first record of the
  // segment that names it, in the same write, so they count only once that record names them (a material
  // frame is outside the chain: anyone could add one that no record vouches for)
  let pending: { key: string; payload: Buffer; offset: number }[] = [];
  // where a stop cuts: before the material waiting for its record, which goes with it
  const at = (offset: number): number => (pending.length ? pending[0]!.offset : offset);
  async function* records(): AsyncGenerator<ScannedRecord> {
    if (!header) return;
    for (;;) {
      const f = await fr.next();
      if (!f) {
        // `end` is the last record's: material with no record after it goes with the torn tail
        if (fr.problem) {
          const altered = fr.problem === 'truncated' ? await alteredLength(path, fr.goodEnd, prev, T_RECORD, recordLengths) : null;
          stop = altered ? { offset: at(fr.goodEnd), why: `record ${seq + 1}: ${altered}` } : { offset: end, why: frameStop(fr.problem) };
        } else if (pending.length) stop = { offset: end, why: `material at ${pending[0]!.offset} with no record after it (torn write)` };
        return;
      }
      if (f.type === T_MATERIAL) {
        if (!recordDigest(f.type, f.payload).equals(f.hash)) {
          stop = { offset: at(f.offset), why: `material before record ${seq + 1}: hash does not match its bytes` };
          return;
        }
        pending.push({ key: sha256(f.payload).toString('hex'), payload: f.payload, offset: f.offset });
        continue;
      }
      if (f.type !== T_RECORD) {
        stop = { offset: at(f.offset), why: `unexpected frame type ${f.type}` };
        return;
      }
      if (!chainHash(prev, f.type, f.payload).equals(f.hash)) {
        stop = { offset: at(f.offset), why: `record ${seq + 1}: chain hash does not match its bytes` };
        return;
      }
      let meta: RecordMeta;
      try {
        meta = decodeRecord(f.payload);
      } catch (e) {
        stop = { offset: at(f.offset), why: `record ${seq + 1}: ${(e as Error).message}` };
        return;
      }
      if (meta.seq !== seq + 1) {
        stop = { offset: at(f.offset), why: `record ${seq + 1} carries seq ${meta.seq}` };
        return;
      }
      const named = new Set((meta.material ?? []).map((h) => h.toString('hex')));
      const stray = pending.find((p) => !named.has(p.key));
      if (stray) {
        stop = { offset: at(stray.offset), why: `material at ${stray.offset} is not named by record ${meta.seq}, the record after it (added?)` };
        return;
      }
      for (const p of pending) material.set(p.key, p.payload);
      pending = [];
      const r = { meta, frame: f, prev };
      prev = f.hash;
      seq = meta.seq;
      end = f.offset + f.length;
      time = meta.time;
      yield r;
    }
  }
  return {
    header,
    records: records(),
    material,
    stop: () => stop,
    last: () => ({ seq, hash: prev, end, time }),
    close: () => fr.close(),
  };
}

export interface StampsHeader {
  logId: Buffer;
  /** the first batch this file holds */
  firstBatch: number;
  /** chain hash before it */
  prevHash: Buffer;
}

export interface ScannedBatch {
  batch: Batch;
  frame: RawFrame;
}

/** Reads a stamp file: batches with their chain checked; stops at the first bad frame. */
export async function readStamps(path: string): Promise<{ header: StampsHeader | null; batches: ScannedBatch[]; stop: { offset: number; why: string } | null; end: number; last: Buffer }> {
  const fr = await FrameReader.open(path);
  try {
    const first = await fr.next();
    if (!first || first.type !== T_STAMPS || !recordDigest(first.type, first.payload).equals(first.hash))
      return { header: null, batches: [], stop: { offset: 0, why: 'bad stamp file header' }, end: 0, last: Buffer.alloc(32) };
    let header: StampsHeader;
    try {
      header = decodeStampsHeader(first.payload);
    } catch (e) {
      return { header: null, batches: [], stop: { offset: 0, why: (e as Error).message }, end: 0, last: Buffer.alloc(32) };
    }
    const batches: ScannedBatch[] = [];
    let prev = header.prevHash;
    let end = first.length;
    let stop: { offset: number; why: string } | null = null;
    for (;;) {
      const f = await fr.next();
      if (!f) {
        if (fr.problem) {
          const altered = fr.problem === 'truncated' ? await alteredLength(path, end, prev, T_BATCH, batchLengths) : null;
          stop = { offset: end, why: altered ? `batch ${header.firstBatch + batches.length}: ${altered}` : frameStop(fr.problem) };
        }
        break;
      }
      if (f.type !== T_BATCH || !chainHash(prev, f.type, f.payload).equals(f.hash)) {
        stop = { offset: f.offset, why: `batch ${header.firstBatch + batches.length}: chain hash does not match its bytes` };
        break;
      }
      let b: Batch;
      try {
        b = decodeBatch(f.payload);
      } catch (e) {
        stop = { offset: f.offset, why: (e as Error).message };
        break;
      }
      if (b.batch !== header.firstBatch + batches.length) {
        stop = { offset: f.offset, why: `batch ${header.firstBatch + batches.length} carries number ${b.batch}` };
        break;
      }
      batches.push({ batch: b, frame: f });
      prev = f.hash;
      end = f.offset + f.length;
    }
    return { header, batches, stop, end, last: prev };
  } finally {
    await fr.close();
  }
}
