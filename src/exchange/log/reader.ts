/**
 * Read-only access to a log folder: its identity, its segments in order, the records of a segment with
 * their chain checked, and the time-stamp batches. The log itself (recovery on open), the verifier and
 * evidence all read through here, so that there is one notion of what a valid record is.
 */
import { readdir, readFile } from 'node:fs/promises';
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
  const first = await fr.next();
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
  async function* records(): AsyncGenerator<ScannedRecord> {
    if (!header) return;
    for (;;) {
      const f = await fr.next();
      if (!f) {
        if (fr.problem) stop = { offset: end, why: frameStop(fr.problem) };
        return;
      }
      if (f.type === T_MATERIAL) {
        if (!recordDigest(f.type, f.payload).equals(f.hash)) {
          stop = { offset: f.offset, why: `material before record ${seq + 1}: hash does not match its bytes` };
          return;
        }
        material.set(sha256(f.payload).toString('hex'), f.payload);
        end = f.offset + f.length;
        continue;
      }
      if (f.type !== T_RECORD) {
        stop = { offset: f.offset, why: `unexpected frame type ${f.type}` };
        return;
      }
      if (!chainHash(prev, f.type, f.payload).equals(f.hash)) {
        stop = { offset: f.offset, why: `record ${seq + 1}: chain hash does not match its bytes` };
        return;
      }
      let meta: RecordMeta;
      try {
        meta = decodeRecord(f.payload);
      } catch (e) {
        stop = { offset: f.offset, why: `record ${seq + 1}: ${(e as Error).message}` };
        return;
      }
      if (meta.seq !== seq + 1) {
        stop = { offset: f.offset, why: `record ${seq + 1} carries seq ${meta.seq}` };
        return;
      }
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
        if (fr.problem) stop = { offset: end, why: frameStop(fr.problem) };
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
