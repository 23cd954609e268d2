/**
 * Archives: closed segments whose records are all time-stamped leave the live folder for one archive file
 * each time `archive` runs. An archive is a run of frames (format.ts): a header naming the log, the seq
 * range and the SHA-256 of the previous archive file (so archives form a chain of their own and a missing
 * or replaced one shows), the files — segments, their body files, the time-stamp batches covering them —
 * in chunks of at most 1 MiB, and a closing manifest with each file's length and SHA-256. Written to a
 * temporary name, synced, renamed; only then are the segments removed and the stamp file rewritten without
 * the batches no live record needs. Retention deletes archives older than the configured days.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { TrucError } from '../../errors.js';
import { FrameReader } from './frames.js';
import {
  encodeStampsHeader,
  frameBytes,
  genesisHash,
  recordDigest,
  Reader,
  T_ARCHIVE,
  T_ARCHIVE_END,
  T_ARCHIVE_FILE,
  T_STAMPS,
  Writer,
} from './format.js';
import { ARCHIVES, bodiesDir, readStamps, scanSegment, segName, segPath, SEGMENTS, STAMPS } from './reader.js';

const ARCHIVE_MAGIC = Buffer.from('TRUC-LOG-ARCHIVE');
const CHUNK = 1024 * 1024;

export interface ArchiveHeader {
  logId: Buffer;
  archive: number;
  /** SHA-256 of the previous archive file (genesis for the first) */
  prevHash: Buffer;
  firstSeq: number;
  lastSeq: number;
  created: Date;
}

export function encodeArchiveHeader(h: ArchiveHeader): Buffer {
  return new Writer(128).raw(ARCHIVE_MAGIC).u8(1).fixed(h.logId, 16).u64(h.archive).fixed(h.prevHash, 32).u64(h.firstSeq).u64(h.lastSeq).f64(h.created.getTime()).done();
}

export function decodeArchiveHeader(p: Buffer): ArchiveHeader {
  const r = new Reader(p);
  if (!r.fixed(16).equals(ARCHIVE_MAGIC)) throw new TrucError('bad_request', 'not a message log archive');
  if (r.u8() !== 1) throw new TrucError('unsupported', 'unknown archive version');
  const h = { logId: Buffer.from(r.fixed(16)), archive: r.u64(), prevHash: Buffer.from(r.fixed(32)), firstSeq: r.u64(), lastSeq: r.u64(), created: new Date(r.f64()) };
  r.end();
  return h;
}

export const archiveName = (no: number): string => `${String(no).padStart(8, '0')}.tlog`;

export async function listArchives(dir: string): Promise<{ no: number; path: string }[]> {
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return names
    .map((n) => /^(\d{8})\.tlog$/.exec(n))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({ no: Number(m[1]), path: join(dir, m[0]) }))
    .sort((a, b) => a.no - b.no);
}

export async function fileSha256(path: string): Promise<Buffer> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: CHUNK })) h.update(c as Buffer);
  return h.digest();
}

export interface ArchiveResult {
  /** the archive file written, if any */
  archive: string | null;
  segments: number[];
  firstSeq: number | null;
  lastSeq: number | null;
  /** archive files deleted by retention */
  deleted: string[];
}

interface LastArchive {
  no: number;
  hash: string;
  lastSeq: number;
}

/** The writer's reading of `archives/LAST`: none when it is absent or does not read (the chain then starts again). */
function readLast(dir: string): Promise<{ no: number; hash: Buffer; lastSeq: number } | null> {
  return readLastArchive(join(dir, ARCHIVES)).catch(() => null);
}

/**
 * What `archives/LAST` says of the newest archive the log made (its number, file hash and last record), for
 * the offline check; null when the log never archived. A LAST that does not read is an error, not "none".
 */
export async function readLastArchive(archivesDir: string): Promise<{ no: number; hash: Buffer; lastSeq: number } | null> {
  let raw: string;
  try {
    raw = await readFile(join(archivesDir, 'LAST'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let j: Partial<LastArchive>;
  try {
    j = JSON.parse(raw) as Partial<LastArchive>;
  } catch {
    j = {};
  }
  if (!Number.isSafeInteger(j.no) || !Number.isSafeInteger(j.lastSeq) || typeof j.hash !== 'string' || !/^[0-9a-f]{64}$/.test(j.hash))
    throw new TrucError('bad_request', `${join(archivesDir, 'LAST')} does not read as the log's note of its newest archive`);
  return { no: j.no!, hash: Buffer.from(j.hash, 'hex'), lastSeq: j.lastSeq! };
}

async function syncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function replaceFile(path: string, data: Buffer | string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, data);
  await syncPath(tmp);
  await rename(tmp, path);
}

class ArchiveWriter {
  private pos = 0;
  readonly manifest: { name: string; length: number; sha256: string }[] = [];
  constructor(private readonly fh: FileHandle) {}
  async frame(type: number, payload: Buffer): Promise<void> {
    const b = frameBytes(type, payload, recordDigest(type, payload));
    let off = 0;
    while (off < b.length) {
      const { bytesWritten } = await this.fh.write(b, off, b.length - off, this.pos);
      off += bytesWritten;
      this.pos += bytesWritten;
    }
  }
  async file(name: string, src: string | Buffer): Promise<void> {
    const h = createHash('sha256');
    let offset = 0;
    const emit = async (chunk: Buffer) => {
      h.update(chunk);
      await this.frame(T_ARCHIVE_FILE, new Writer(chunk.length + 64).str16(name).u64(offset).raw(chunk).done());
      offset += chunk.length;
    };
    if (Buffer.isBuffer(src)) {
      if (!src.length) await emit(src);
      for (let o = 0; o < src.length; o += CHUNK) await emit(src.subarray(o, o + CHUNK));
    } else {
      let any = false;
      for await (const c of createReadStream(src, { highWaterMark: CHUNK })) {
        any = true;
        await emit(c as Buffer);
      }
      if (!any) await emit(Buffer.alloc(0));
    }
    this.manifest.push({ name, length: offset, sha256: h.digest('hex') });
  }
}

export async function archiveSegments(o: {
  dir: string;
  logId: Buffer;
  /** closed segments, in order */
  segments: { no: number; firstSeq: number }[];
  nextFirstSeq(i: number): number;
  stampedThrough: number;
  before: Date | number;
  retentionDays: number | undefined;
  now: Date;
  stampsFh: FileHandle;
}): Promise<ArchiveResult> {
  const res: ArchiveResult = { archive: null, segments: [], firstSeq: null, lastSeq: null, deleted: [] };
  const adir = join(o.dir, ARCHIVES);
  await mkdir(adir, { recursive: true });
  const last = await readLast(o.dir);
  const chosen: { no: number; firstSeq: number; lastSeq: number }[] = [];
  const already: number[] = [];
  for (let i = 0; i < o.segments.length; i++) {
    const s = o.segments[i]!;
    const lastSeq = o.nextFirstSeq(i) - 1;
    if (last && lastSeq <= last.lastSeq) {
      already.push(s.no); // archived before a crash kept it from being removed
      continue;
    }
    if (lastSeq > o.stampedThrough) break;
    if (typeof o.before === 'number') {
      if (lastSeq >= o.before) break;
    } else {
      const scan = await scanSegment(segPath(o.dir, s.no), { logId: o.logId });
      for await (const _ of scan.records) void _;
      await scan.close();
      const t = scan.last().time;
      if (!t || t >= o.before) break;
    }
    chosen.push({ no: s.no, firstSeq: s.firstSeq, lastSeq });
  }
  if (chosen.length) {
    const no = (last?.no ?? 0) + 1;
    const prevHash = last ? last.hash : genesisHash(o.logId, 'archives');
    const firstSeq = chosen[0]!.firstSeq;
    const lastSeq = chosen[chosen.length - 1]!.lastSeq;
    const path = join(adir, archiveName(no));
    const tmp = `${path}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      const w = new ArchiveWriter(fh);
      await w.frame(T_ARCHIVE, encodeArchiveHeader({ logId: o.logId, archive: no, prevHash, firstSeq, lastSeq, created: o.now }));
      for (const s of chosen) {
        await w.file(`${SEGMENTS}/${segName(s.no)}.seg`, segPath(o.dir, s.no));
        let bodies: string[] = [];
        try {
          bodies = (await readdir(bodiesDir(o.dir, s.no))).filter((n) => /^\d+\.body$/.test(n)).sort((a, b) => parseInt(a) - parseInt(b));
        } catch {
          // no spooled bodies in this segment
        }
        for (const b of bodies) await w.file(`${SEGMENTS}/${segName(s.no)}.bodies/${b}`, join(bodiesDir(o.dir, s.no), b));
      }
      // the batches that cover these records, as a stamp file of their own
      const st = await readStamps(join(o.dir, STAMPS));
      if (!st.header) throw new TrucError('log_failure', 'the stamp file is unreadable');
      const idx = st.batches.findIndex((b) => b.batch.lastSeq >= firstSeq);
      const mine = st.batches.filter((b) => b.batch.firstSeq <= lastSeq && b.batch.lastSeq >= firstSeq);
      if (mine.length && idx >= 0) {
        const prev = idx === 0 ? st.header.prevHash : st.batches[idx - 1]!.frame.hash;
        const hp = encodeStampsHeader({ logId: o.logId, firstBatch: mine[0]!.batch.batch, prevHash: prev });
        const parts = [frameBytes(T_STAMPS, hp, recordDigest(T_STAMPS, hp)), ...mine.map((b) => frameBytes(b.frame.type, b.frame.payload, b.frame.hash))];
        await w.file(STAMPS, Buffer.concat(parts));
      }
      await w.frame(T_ARCHIVE_END, Buffer.from(JSON.stringify({ files: w.manifest })));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    await syncPath(adir);
    const hash = await fileSha256(path);
    await replaceFile(join(adir, 'LAST'), JSON.stringify({ no, hash: hash.toString('hex'), lastSeq }));
    await syncPath(adir);
    // the stamp file keeps only batches that live records still need, its chain continuing from the cut
    const st = await readStamps(join(o.dir, STAMPS));
    const keepFrom = st.batches.findIndex((b) => b.batch.lastSeq > lastSeq);
    const kept = keepFrom < 0 ? [] : st.batches.slice(keepFrom);
    const prev = keepFrom < 0 ? (st.batches.length ? st.batches[st.batches.length - 1]!.frame.hash : st.header!.prevHash) : keepFrom === 0 ? st.header!.prevHash : st.batches[keepFrom - 1]!.frame.hash;
    const firstBatch = kept.length ? kept[0]!.batch.batch : (st.batches.length ? st.batches[st.batches.length - 1]!.batch.batch : st.header!.firstBatch - 1) + 1;
    const hp = encodeStampsHeader({ logId: o.logId, firstBatch, prevHash: prev });
    await replaceFile(join(o.dir, STAMPS), Buffer.concat([frameBytes(T_STAMPS, hp, recordDigest(T_STAMPS, hp)), ...kept.map((b) => frameBytes(b.frame.type, b.frame.payload, b.frame.hash))]));
    await syncPath(o.dir);
    res.archive = path;
    res.segments = chosen.map((s) => s.no);
    res.firstSeq = firstSeq;
    res.lastSeq = lastSeq;
  }
  for (const no of [...already, ...res.segments]) {
    await rm(bodiesDir(o.dir, no), { recursive: true, force: true });
    await rm(segPath(o.dir, no), { force: true });
  }
  if (already.length || res.segments.length) await syncPath(join(o.dir, SEGMENTS));
  if (o.retentionDays !== undefined && o.retentionDays >= 0) {
    const limit = o.now.getTime() - o.retentionDays * 86_400_000;
    for (const a of await listArchives(adir)) {
      const h = await readArchiveHeader(a.path).catch(() => null);
      if (!h || h.created.getTime() >= limit) break; // oldest first: stop at the first one to keep
      await rm(a.path, { force: true });
      res.deleted.push(a.path);
    }
  }
  return res;
}

export async function readArchiveHeader(path: string): Promise<ArchiveHeader> {
  const fr = await FrameReader.open(path);
  try {
    const f = await fr.next();
    if (!f || f.type !== T_ARCHIVE || !recordDigest(f.type, f.payload).equals(f.hash)) throw new TrucError('bad_request', `${path}: bad archive header`);
    return decodeArchiveHeader(f.payload);
  } finally {
    await fr.close();
  }
}
