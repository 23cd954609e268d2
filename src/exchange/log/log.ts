/**
 * The message log of one security server, in one folder: append-only segment files of hash-chained records
 * (group-committed: the records that arrive while a write is in flight go to disk together, with one write
 * and one fdatasync), body files for spooled bodies, a stamp file of time-stamped hash-tree batches, and an
 * index in the database for search. The segments are the truth: opening the log scans the last one, cuts a
 * torn tail left by a crash (keeping the cut bytes in `quarantine/`), and catches the index up.
 */
import { randomBytes } from 'node:crypto';
import { randomPooled } from '../../crypto/random.js';
import { mkdir, open, readdir, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { constants as fsc, existsSync } from 'node:fs';

/**
 * The open segment is written with O_DSYNC where the system has it: each write returns once its bytes (and
 * the file size) are durable, so a group commit is one call into the thread pool instead of a write and an
 * fdatasync (one hop fewer per commit, four per exchange through two servers). Elsewhere: write + fdatasync.
 */
const DSYNC = typeof fsc.O_DSYNC === 'number' && process.platform !== 'win32' ? fsc.O_DSYNC : 0;
const SEG_OPEN = DSYNC ? fsc.O_RDWR | DSYNC : 'r+';
const SEG_CREATE = DSYNC ? fsc.O_RDWR | fsc.O_CREAT | fsc.O_TRUNC | DSYNC : 'w+';
import { join } from 'node:path';
import { TrucError } from '../../errors.js';
import type { Db } from '../../store/index.js';
import { migrate } from '../../store/index.js';
import type { TimeStamper } from '../../sign/signer.js';
import { readTimeStampToken } from '../../sign/timestamp/token.js';
import type { BodyCipher } from './cipher.js';
import {
  BODY_FILE,
  BODY_INLINE,
  BODY_NONE,
  chainHash,
  encodeBatch,
  encodeRecord,
  encodeSegmentHeader,
  encodeStampsHeader,
  frame,
  frameBytes,
  frameLength,
  genesisHash,
  knownBodyHash,
  materialHash,
  MAX_MATERIAL_BYTES,
  MAX_RECORD_MATERIAL,
  recordDigest,
  sha256,
  T_BATCH,
  T_MATERIAL,
  T_RECORD,
  T_SEGMENT,
  T_STAMPS,
  type RecordMeta,
  type StoredBody,
} from './format.js';
import { merkleRoot } from './merkle.js';
import { bodyPath, bodiesDir, listSegments, readIdentity, readStamps, scanSegment, ARCHIVES, QUARANTINE, SEGMENTS, SPOOL, STAMPS, segPath } from './reader.js';
import { encryptInline, FileSpool, LogSpooledBody } from './spool.js';
import { writeAll } from './write.js';
import { dropIndexAfter, indexedThrough, insertBatch, insertRows, lastIndexedBatch, logMigrations, searchIndex, type IndexRow, type LogSearch, type LogSearchHit } from './store.js';
import type { BodySpool, LogHealth, LogMode, LogRecordInput, LoggedRecord, MessageLogApi } from './types.js';
import { archiveSegments, type ArchiveResult } from './archive.js';
import { writeArchivedEvidence, writeLiveEvidence, type EvidenceSeal } from './evidence.js';
import { verifyLog, type VerifyReport } from './verify.js';
import { ProcessLock } from '../../store/process-lock.js';
import type { Readable } from 'node:stream';

export interface LogLogger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
}

export interface LogEvent {
  type: 'timestamp_failed' | 'timestamp_recovered' | 'refusing' | 'resumed' | 'torn_tail' | 'index_failed' | 'archived' | 'retention_deleted';
  [k: string]: unknown;
}

export interface MessageLogOptions {
  /** the index's database; without one, search is unavailable (the log itself needs none) */
  db?: Db;
  dir: string;
  /** full (bodies kept) or metadata (hash and length only); default full */
  mode?: LogMode;
  clock?: () => Date;
  log?: LogLogger;
  /** protects bodies at rest; default none */
  cipher?: BodyCipher;
  /** a segment is closed once it reaches this size; default 64 MiB */
  segmentBytes?: number;
  /** largest body a spool takes; default 64 GiB */
  maxBodyBytes?: number;
  /** archives older than this are deleted by `archive` */
  retentionDays?: number;
  /** grace period before refusing (also settable by startTimestamping); default 4 h */
  graceMs?: number;
  onEvent?: (e: LogEvent) => void;
  /**
   * A view of a log another process writes (the serving security server's, read by `truc ss diagnose`):
   * nothing is created, cut, deleted or indexed, no lock is taken; append, spool, time-stamping and archive
   * refuse. Without it the opening process becomes the log's one writer (its folder's LOCK:
   * src/store/process-lock.ts).
   */
  readOnly?: boolean;
  /** how often the writer's lock is touched and checked (src/store/process-lock.ts); default 10 s */
  lockHeartbeatMs?: number;
}

export interface TimestampingOptions {
  /** approved TSAs, tried in turn */
  stampers: TimeStamper[];
  intervalMs?: number;
  graceMs?: number;
  batchLimit?: number;
  onEvent?: (e: LogEvent) => void;
}

const MAX_GROUP = 4096;
const MAX_INLINE = 32 * 1024 * 1024;
const RECENT = 1 << 17;
const INDEX_QUEUE_MAX = 200_000;
// the index is written off the request path, one COPY a second (or per 5,000 rows): each COPY into PGlite has
// a fixed cost that, at 100 ms, took ~5 % of a security server's CPU per message
const INDEX_DELAY_MS = 1000;
const INDEX_BATCH = 5000;

/** The last records' chain hashes and times, so that time-stamping rarely reads the segments back. */
class Recent {
  private readonly hashes = Buffer.alloc(RECENT * 32);
  private readonly times = new Float64Array(RECENT);
  lo = 1;
  hi = 0;
  reset(next: number) {
    this.lo = next;
    this.hi = next - 1;
  }
  put(seq: number, hash: Buffer, time: number) {
    const i = seq % RECENT;
    hash.copy(this.hashes, i * 32);
    this.times[i] = time;
    this.hi = seq;
    if (this.hi - this.lo + 1 > RECENT) this.lo = this.hi - RECENT + 1;
  }
  has(from: number, to: number) {
    return from >= this.lo && to <= this.hi;
  }
  hash(seq: number) {
    const i = seq % RECENT;
    return Buffer.from(this.hashes.subarray(i * 32, i * 32 + 32));
  }
  time(seq: number) {
    return this.times[seq % RECENT]!;
  }
}

interface Pending {
  rec: LogRecordInput;
  stored: StoredBody;
  spooled?: LogSpooledBody;
  resolve(r: LoggedRecord): void;
  reject(e: unknown): void;
}

interface Segment {
  no: number;
  firstSeq: number;
}

interface LiveBatch {
  batch: number;
  firstSeq: number;
  lastSeq: number;
}

async function fsyncDir(path: string): Promise<void> {
  const d = await open(path, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** Moves the bytes from `offset` to the end of a file into quarantine/, then cuts the file there. */
async function cutTail(dir: string, path: string, offset: number, why: string, name: string): Promise<number> {
  const fh = await open(path, 'r+');
  try {
    const size = (await fh.stat()).size;
    if (size <= offset) return 0;
    const tail = Buffer.alloc(size - offset);
    await fh.read(tail, 0, tail.length, offset);
    await mkdir(join(dir, QUARANTINE), { recursive: true });
    const q = join(dir, QUARANTINE, `${name}.${offset}.${Date.now()}.tail`);
    await writeFile(q, tail);
    await writeFile(`${q}.why`, `${why}\n`);
    await fh.truncate(offset);
    await fh.datasync();
    return tail.length;
  } finally {
    await fh.close();
  }
}

/** records read a query at a time by `receivedSince` */
const RECEIVED_PAGE = 20_000;

export class MessageLog implements MessageLogApi {
  readonly logId: Buffer;
  readonly logIdHex: string;
  readonly mode: LogMode;
  private readonly clock: () => Date;
  private readonly cipher: BodyCipher | undefined;
  private readonly segmentBytes: number;
  private readonly maxBodyBytes: number;
  private graceMs: number;
  private batchLimit = 10_000;
  private onEvent: ((e: LogEvent) => void) | undefined;

  private segments: Segment[] = [];
  private fh!: FileHandle;
  private segSize = 0;
  /** material items (by SHA-256, latin1) already written in the current segment */
  private segMaterial = new Set<string>();
  private head: { seq: number; hash: Buffer } = { seq: 0, hash: Buffer.alloc(32) };
  private readonly recent = new Recent();
  private pending: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private broken: Error | null = null;
  private closed = false;

  private stampsFh!: FileHandle;
  private stampsSize = 0;
  private stampsLast: Buffer = Buffer.alloc(32);
  private lastBatch = 0;
  private stampedThrough = 0;
  private liveBatches: LiveBatch[] = [];
  private lastTimestampAt: Date | null = null;
  private oldestUnstampedAt: Date | null = null;
  private lastError: string | undefined;
  private stampLock: Promise<unknown> = Promise.resolve();

  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private failing = false;
  private wasRefusing = false;
  private tsOpts: TimestampingOptions | null = null;

  private indexQueue: IndexRow[] = [];
  private indexCatchUp = false;
  private indexed = 0;
  private indexTimer: NodeJS.Timeout | null = null;
  private indexing: Promise<void> | null = null;

  /** records cut from the tail when the log opened (a crash mid-write) */
  readonly recovered: { tornBytes: number; why?: string };
  /** a view of a log another process writes (MessageLogOptions.readOnly) */
  readonly readOnly: boolean;
  /** the writer's lock (none for a view) */
  private lock: ProcessLock | null = null;

  private constructor(
    /** the log's folder (segments, spool, stamps, archives) */
    readonly dir: string,
    private readonly db: Db | undefined,
    private readonly logger: LogLogger | undefined,
    o: MessageLogOptions,
    id: Buffer,
  ) {
    this.logId = id;
    this.logIdHex = id.toString('hex');
    this.mode = o.mode ?? 'full';
    this.clock = o.clock ?? (() => new Date());
    this.cipher = o.cipher;
    this.segmentBytes = o.segmentBytes ?? 64 * 1024 * 1024;
    this.maxBodyBytes = o.maxBodyBytes ?? 64 * 1024 * 1024 * 1024;
    this.graceMs = o.graceMs ?? 4 * 3600_000;
    this.onEvent = o.onEvent;
    this.retentionDays = o.retentionDays;
    this.recovered = { tornBytes: 0 };
    this.readOnly = o.readOnly === true;
  }
  private readonly retentionDays: number | undefined;

  static async open(o: MessageLogOptions): Promise<MessageLog> {
    const dir = o.dir;
    if (o.cipher && (!o.cipher.id || Buffer.byteLength(o.cipher.id) > 255)) throw new TrucError('invalid_config', 'a body cipher needs an id of 1 to 255 bytes');
    if (o.readOnly) return MessageLog.openView(o);
    for (const d of [dir, join(dir, SEGMENTS), join(dir, SPOOL), join(dir, ARCHIVES)]) await mkdir(d, { recursive: true });
    // one writer: what follows (the spool cleared, a torn tail cut, the index caught up) is the writer's alone
    let log: MessageLog | undefined;
    const lock = await ProcessLock.acquire(join(dir, 'LOCK'), {
      what: { vi: `nhật ký thông điệp ${dir}`, en: `the message log ${dir}` },
      hint: 'một tiến trình ghi mỗi lúc — dừng nó trước, hoặc đọc nhật ký (truc log verify, evidence) / one writer at a time: stop it first, or read the log (truc log verify, evidence)',
      ...(o.lockHeartbeatMs ? { heartbeatMs: o.lockHeartbeatMs } : {}),
      // another process writes the folder now (it found this one stalled past the heartbeat's bound): this
      // one stops writing rather than interleave with it
      onLost: (h) => {
        const why = new Error(`another process took the log's lock${h ? ` (process ${h.pid} on ${h.host})` : ''}`);
        o.log?.error({ holder: h }, 'message log: its lock was taken by another process; no more writes');
        if (log) {
          log.broken ??= why;
          // nor does it time-stamp: the stamps file is the other writer's now
          log.stopTimestamping();
        }
      },
    });
    try {
      log = await MessageLog.openWriter(o);
      log.lock = lock;
      return log;
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  /** A view of the log as its writer has left it so far (MessageLogOptions.readOnly). */
  private static async openView(o: MessageLogOptions): Promise<MessageLog> {
    if (!existsSync(join(o.dir, 'LOG'))) throw new TrucError('not_found', `không có nhật ký thông điệp ở ${o.dir} / there is no message log in ${o.dir} yet`);
    const log = new MessageLog(o.dir, undefined, o.log, o, (await readIdentity(o.dir)).logId);
    await log.openSegments();
    await log.openStamps();
    return log;
  }

  private static async openWriter(o: MessageLogOptions): Promise<MessageLog> {
    const dir = o.dir;
    let logId: Buffer;
    if (!existsSync(join(dir, 'LOG'))) {
      logId = randomBytes(16);
      const tmp = join(dir, 'LOG.tmp');
      await writeFile(tmp, `${JSON.stringify({ logId: logId.toString('hex'), created: new Date().toISOString(), format: 1 })}\n`);
      const fh = await open(tmp, 'r+');
      await fh.sync();
      await fh.close();
      await rename(tmp, join(dir, 'LOG'));
      await fsyncDir(dir);
    } else logId = (await readIdentity(dir)).logId;
    const log = new MessageLog(dir, o.db, o.log, o, logId);
    // spool files of a previous run belong to messages that were never logged
    for (const f of await readdir(join(dir, SPOOL))) await rm(join(dir, SPOOL, f), { force: true });
    await log.openSegments();
    await log.openStamps();
    if (o.db) {
      await migrate(o.db, logMigrations);
      await log.catchUpIndexAtOpen();
    }
    return log;
  }

  // ---- opening ----------------------------------------------------------------------------------------

  private event(e: LogEvent): void {
    try {
      (this.tsOpts?.onEvent ?? this.onEvent)?.(e);
    } catch {
      // a listener's failure is not the log's
    }
  }

  private async createSegment(no: number, firstSeq: number, prevHash: Buffer): Promise<void> {
    const payload = encodeSegmentHeader({ logId: this.logId, segment: no, firstSeq, prevHash });
    const bytes = frameBytes(T_SEGMENT, payload, recordDigest(T_SEGMENT, payload));
    const fh = await open(segPath(this.dir, no), SEG_CREATE);
    await fh.write(bytes, 0, bytes.length, 0);
    if (!DSYNC) await fh.datasync();
    await fsyncDir(join(this.dir, SEGMENTS));
    this.fh = fh;
    this.segSize = bytes.length;
    this.segMaterial = new Set();
    this.segments.push({ no, firstSeq });
  }

  private async openSegments(): Promise<void> {
    const nos = await listSegments(join(this.dir, SEGMENTS));
    for (const no of nos) {
      const s = await scanSegment(segPath(this.dir, no), { logId: this.logId, segment: no });
      await s.close();
      if (s.header) this.segments.push({ no, firstSeq: s.header.firstSeq });
      else if (no === nos[nos.length - 1] && nos.length > 1) {
        // a segment whose header never reached the disk: the crash came while rolling over (or, seen from
        // a view, the writer is rolling over now: it is left alone)
        if (this.readOnly) continue;
        await cutTail(this.dir, segPath(this.dir, no), 0, s.stop()?.why ?? 'bad header', `${no}`);
        await rm(segPath(this.dir, no), { force: true });
        this.event({ type: 'torn_tail', segment: no, bytes: 0, why: 'segment header not written' });
      } else throw new TrucError('log_failure', `message log segment ${no} is unreadable: ${s.stop()?.why}`, { segment: no });
    }
    if (!this.segments.length) {
      if (this.readOnly) throw new TrucError('log_failure', `the message log in ${this.dir} has no segment yet`);
      await this.createSegment(1, 1, genesisHash(this.logId, 'records'));
      this.head = { seq: 0, hash: genesisHash(this.logId, 'records') };
      this.recent.reset(1);
      return;
    }
    const last = this.segments[this.segments.length - 1]!;
    const path = segPath(this.dir, last.no);
    const scan = await scanSegment(path, { logId: this.logId });
    const firstRecent = Math.max(last.firstSeq, 1);
    this.recent.reset(firstRecent);
    for await (const r of scan.records) this.recent.put(r.meta.seq, r.frame.hash, r.meta.time.getTime());
    await scan.close();
    const end = scan.last();
    const stop = scan.stop();
    // a view ends where the writer's last whole record does (a record being written is not cut)
    if (stop && !this.readOnly) {
      const bytes = await cutTail(this.dir, path, stop.offset, stop.why, `${last.no}`);
      (this.recovered as { tornBytes: number; why?: string }).tornBytes = bytes;
      (this.recovered as { why?: string }).why = stop.why;
      this.logger?.warn({ segment: last.no, offset: stop.offset, bytes, why: stop.why }, 'message log: torn tail cut after a crash (kept in quarantine/)');
      this.event({ type: 'torn_tail', segment: last.no, offset: stop.offset, bytes, why: stop.why });
    }
    this.head = { seq: end.seq, hash: end.hash };
    this.fh = await open(path, this.readOnly ? 'r' : SEG_OPEN);
    this.segSize = (await this.fh.stat()).size;
  }

  private async openStamps(): Promise<void> {
    const path = join(this.dir, STAMPS);
    const firstLive = this.segments[0]!.firstSeq;
    if (!existsSync(path)) {
      if (this.readOnly) throw new TrucError('log_failure', `the message log in ${this.dir} has no stamp file yet`);
      const payload = encodeStampsHeader({ logId: this.logId, firstBatch: 1, prevHash: genesisHash(this.logId, 'stamps') });
      const bytes = frameBytes(T_STAMPS, payload, recordDigest(T_STAMPS, payload));
      await writeFile(path, bytes);
      const fh = await open(path, 'r+');
      await fh.datasync();
      await fh.close();
      await fsyncDir(this.dir);
    }
    const st = await readStamps(path);
    if (!st.header) throw new TrucError('log_failure', `the message log's stamp file is unreadable: ${st.stop?.why}`);
    if (st.stop && !this.readOnly) {
      const bytes = await cutTail(this.dir, path, st.stop.offset, st.stop.why, 'stamps');
      this.event({ type: 'torn_tail', file: 'stamps', offset: st.stop.offset, bytes, why: st.stop.why });
    }
    this.stampsFh = await open(path, this.readOnly ? 'r' : 'r+');
    this.stampsSize = (await this.stampsFh.stat()).size;
    this.stampsLast = st.last;
    this.lastBatch = st.header.firstBatch - 1;
    this.stampedThrough = firstLive - 1;
    for (const { batch: b } of st.batches) {
      this.liveBatches.push({ batch: b.batch, firstSeq: b.firstSeq, lastSeq: b.lastSeq });
      this.lastBatch = b.batch;
      this.stampedThrough = Math.max(this.stampedThrough, b.lastSeq);
      this.lastTimestampAt = b.stampedAt;
    }
    if (this.stampedThrough > this.head.seq) {
      this.logger?.error({ stampedThrough: this.stampedThrough, head: this.head.seq }, 'message log: time-stamps cover records that are no longer in the segments');
      this.event({ type: 'torn_tail', file: 'segments', why: 'time-stamped records missing', stampedThrough: this.stampedThrough, head: this.head.seq });
    }
    this.oldestUnstampedAt = this.stampedThrough < this.head.seq ? new Date((await this.readChain(this.stampedThrough + 1, this.stampedThrough + 1)).times[0]!) : null;
  }

  private async catchUpIndexAtOpen(): Promise<void> {
    const db = this.db!;
    const have = await indexedThrough(db, this.logIdHex);
    if (have > this.head.seq) {
      this.logger?.error({ indexed: have, head: this.head.seq }, 'message log: the index lists records the segments no longer hold');
      await dropIndexAfter(db, this.logIdHex, this.head.seq);
    }
    this.indexed = Math.min(have, this.head.seq);
    await this.catchUpIndex();
    const lastB = await lastIndexedBatch(db, this.logIdHex);
    if (lastB < this.lastBatch) {
      const st = await readStamps(join(this.dir, STAMPS));
      for (const { batch } of st.batches) if (batch.batch > lastB) await insertBatch(db, this.logIdHex, batch);
    }
  }

  /** Indexes records from the segments, from what the index holds to the head. */
  private async catchUpIndex(): Promise<void> {
    const db = this.db!;
    this.indexed = await indexedThrough(db, this.logIdHex);
    const target = this.head.seq;
    if (this.indexed >= target) return;
    let rows: IndexRow[] = [];
    for (const seg of this.segmentsFrom(this.indexed + 1)) {
      const scan = await scanSegment(segPath(this.dir, seg.no), { logId: this.logId });
      try {
        for await (const r of scan.records) {
          if (r.meta.seq <= this.indexed) continue;
          if (r.meta.seq > target) break;
          rows.push(this.indexRow(r.meta, seg.no, r.frame.offset));
          if (rows.length >= 5000) {
            await insertRows(db, rows);
            this.indexed = rows[rows.length - 1]![1];
            rows = [];
          }
        }
      } finally {
        await scan.close();
      }
    }
    await insertRows(db, rows);
    if (rows.length) this.indexed = rows[rows.length - 1]![1];
  }

  private indexRow(m: { seq: number; messageId: string; kind: string; side: string; client: string; service: string; time: Date; bodyHash: Buffer; bodyLength: number }, segment: number, offset: number): IndexRow {
    return [this.logIdHex, m.seq, m.messageId, m.kind, m.side, m.client, m.service, m.time, segment, offset, m.bodyHash, m.bodyLength];
  }

  private segmentsFrom(seq: number): Segment[] {
    let i = this.segments.length - 1;
    while (i > 0 && this.segments[i]!.firstSeq > seq) i--;
    return this.segments.slice(i);
  }

  // ---- appending --------------------------------------------------------------------------------------

  /** refuses a write on a view: the log has another writer */
  private viewOnly(): TrucError {
    return new TrucError('log_failure', `nhật ký thông điệp ${this.dir} chỉ được mở để đọc / the message log ${this.dir} is open for reading only (another process writes it)`);
  }

  spool(): BodySpool {
    if (this.closed) throw new TrucError('log_failure', 'the message log is closed');
    if (this.readOnly) throw this.viewOnly();
    return new FileSpool(join(this.dir, SPOOL), this.logId, this.cipher, this.maxBodyBytes);
  }

  append(rec: LogRecordInput): Promise<LoggedRecord> {
    if (this.closed) return Promise.reject(new TrucError('log_failure', 'the message log is closed'));
    if (this.readOnly) return Promise.reject(this.viewOnly());
    if (this.broken) return Promise.reject(new TrucError('log_failure', `the message log cannot write: ${this.broken.message}`));
    let stored: StoredBody;
    let spooled: LogSpooledBody | undefined;
    try {
      if (!(rec.time instanceof Date) || Number.isNaN(rec.time.getTime())) throw new TrucError('bad_request', 'log record: bad time');
      if (!Buffer.isBuffer(rec.bodyHash) || rec.bodyHash.length !== 32) throw new TrucError('bad_request', 'log record: bodyHash must be 32 bytes');
      if (!Number.isSafeInteger(rec.bodyLength) || rec.bodyLength < 0) throw new TrucError('bad_request', 'log record: bad bodyLength');
      if (!Buffer.isBuffer(rec.header) || !Buffer.isBuffer(rec.signature)) throw new TrucError('bad_request', 'log record: header and signature are bytes');
      if (rec.material !== undefined) {
        if (!Array.isArray(rec.material) || rec.material.length > MAX_RECORD_MATERIAL) throw new TrucError('bad_request', `log record: at most ${MAX_RECORD_MATERIAL} material items`);
        for (const m of rec.material) if (!Buffer.isBuffer(m) || !m.length || m.length > MAX_MATERIAL_BYTES) throw new TrucError('bad_request', `log record: a material item is 1 to ${MAX_MATERIAL_BYTES} bytes`);
      }
      const b = rec.body;
      if (b !== undefined && !Buffer.isBuffer(b)) {
        if (!(b instanceof LogSpooledBody)) throw new TrucError('bad_request', 'log record: a spooled body must come from this log\'s spool()');
        if (b.appended) throw new TrucError('conflict', 'log record: this spooled body is already logged');
        if (!b.hash.equals(rec.bodyHash) || b.length !== rec.bodyLength) throw new TrucError('bad_request', 'log record: the spooled body does not match bodyHash/bodyLength');
      } else if (b !== undefined) {
        if (b.length !== rec.bodyLength || !(knownBodyHash(b) ?? sha256(b)).equals(rec.bodyHash)) throw new TrucError('bad_request', 'log record: the body does not match bodyHash/bodyLength');
        if (b.length > MAX_INLINE) throw new TrucError('too_large', `log record: an inline body is limited to ${MAX_INLINE} bytes; spool larger ones`);
      }
      if (b === undefined || this.mode === 'metadata') {
        stored = { store: BODY_NONE, cipher: '' };
        if (b instanceof LogSpooledBody) {
          b.appended = true;
          b.deleteAfterOpen = true;
        }
      } else if (Buffer.isBuffer(b)) {
        if (this.cipher) {
          const bodyId = randomPooled(16);
          stored = { store: BODY_INLINE, cipher: this.cipher.id, bodyId, inline: encryptInline(this.cipher, this.logId, bodyId, b) };
        } else stored = { store: BODY_INLINE, cipher: '', inline: b };
      } else {
        spooled = b;
        b.appended = true; // claimed now: a second append of it is refused
        stored = { store: BODY_FILE, cipher: b.cipher?.id ?? '', ...(b.bodyId ? { bodyId: b.bodyId } : {}), storedLength: b.storedLength, storedHash: b.storedHash };
      }
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<LoggedRecord>((resolve, reject) => {
      this.pending.push({ rec, stored, ...(spooled ? { spooled } : {}), resolve, reject });
      // records appended in the same tick, or while a commit is in flight, share the next commit
      if (!this.flushing) this.flushing = new Promise<void>((r) => setImmediate(() => void this.flushLoop().finally(r)));
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length) {
        const group = this.pending.splice(0, MAX_GROUP);
        await this.commit(group);
      }
    } finally {
      this.flushing = null;
    }
  }

  private async commit(group: Pending[]): Promise<void> {
    if (this.broken) {
      for (const p of group) p.reject(new TrucError('log_failure', `the message log cannot write: ${this.broken.message}`));
      return;
    }
    const seg = this.segments[this.segments.length - 1]!;
    const start = this.segSize;
    let off = start;
    let prev = this.head.hash;
    let seq = this.head.seq;
    const bufs: Buffer[] = [];
    const done: { seq: number; hash: Buffer; offset: number; meta: RecordMeta; p: Pending }[] = [];
    const moves: { from: string; to: string; body: LogSpooledBody }[] = [];
    const fresh = new Set<string>();
    try {
      for (const p of group) {
        seq++;
        const r = p.rec;
        let material: Buffer[] | undefined;
        if (r.material?.length) {
          material = [];
          for (const item of r.material) {
            const h = materialHash(item);
            material.push(h);
            const k = h.toString('latin1');
            if (this.segMaterial.has(k) || fresh.has(k)) continue;
            // the first record of this segment to name it: the item goes just before it
            fresh.add(k);
            bufs.push(...frame(T_MATERIAL, item, recordDigest(T_MATERIAL, item)));
            off += frameLength(item.length);
          }
        }
        const meta: RecordMeta = {
          seq,
          time: r.time,
          messageId: r.messageId,
          kind: r.kind,
          side: r.side,
          client: r.client,
          service: r.service,
          ...(r.userId !== undefined ? { userId: r.userId } : {}),
          ...(r.issue !== undefined ? { issue: r.issue } : {}),
          header: r.header,
          signature: r.signature,
          bodyHash: r.bodyHash,
          bodyLength: r.bodyLength,
          body: p.stored,
          ...(material ? { material } : {}),
        };
        const payload = encodeRecord(meta);
        const hash = chainHash(prev, T_RECORD, payload);
        bufs.push(...frame(T_RECORD, payload, hash));
        if (p.spooled) moves.push({ from: p.spooled.path, to: bodyPath(this.dir, seg.no, seq), body: p.spooled });
        done.push({ seq, hash, offset: off, meta, p });
        off += frameLength(payload.length);
        prev = hash;
      }
    } catch (e) {
      // an encoding failure (a field too long) fails the whole group before anything is written; retry the others alone
      for (const p of group) if (p.spooled) p.spooled.appended = false;
      if (group.length === 1) {
        group[0]!.reject(e);
        return;
      }
      for (const p of group) await this.commit([p]);
      return;
    }
    try {
      if (moves.length) {
        await mkdir(bodiesDir(this.dir, seg.no), { recursive: true });
        for (const m of moves) {
          await rename(m.from, m.to);
          // a write failing after this leaves the file here: its discard must find it (no orphan body)
          m.body.path = m.to;
        }
        await fsyncDir(bodiesDir(this.dir, seg.no));
        await fsyncDir(join(this.dir, SEGMENTS));
      }
      await writeAll(this.fh, bufs, start);
      if (!DSYNC) await this.fh.datasync();
    } catch (e) {
      this.logger?.error({ err: e }, 'message log: write failed');
      try {
        await this.fh.truncate(start);
        await this.fh.datasync();
      } catch (e2) {
        this.broken = e2 as Error;
      }
      for (const d of done) {
        if (d.p.spooled) d.p.spooled.appended = false;
        d.p.reject(new TrucError('log_failure', `the message log could not write: ${(e as Error).message}`));
      }
      return;
    }
    this.segSize = off;
    for (const k of fresh) this.segMaterial.add(k);
    const wasCaughtUp = this.stampedThrough === this.head.seq;
    this.head = { seq, hash: prev };
    if (wasCaughtUp && done.length) this.oldestUnstampedAt = done[0]!.meta.time;
    for (const d of done) {
      this.recent.put(d.seq, d.hash, d.meta.time.getTime());
      if (this.db) this.indexQueue.push(this.indexRow(d.meta, seg.no, d.offset));
      d.p.resolve({ seq: d.seq, hash: d.hash });
    }
    if (this.db) {
      if (this.indexQueue.length > INDEX_QUEUE_MAX) {
        this.indexQueue = [];
        this.indexCatchUp = true;
      }
      this.scheduleIndex();
    }
    if (this.segSize >= this.segmentBytes) {
      try {
        const old = this.fh;
        await this.createSegment(seg.no + 1, this.head.seq + 1, this.head.hash);
        await old.close();
      } catch (e) {
        this.broken = e as Error;
        this.logger?.error({ err: e }, 'message log: could not start a new segment');
      }
    }
  }

  /** The head of the chain: the last durable record. */
  get last(): LoggedRecord {
    return { seq: this.head.seq, hash: Buffer.from(this.head.hash) };
  }

  // ---- reading back -----------------------------------------------------------------------------------

  /** Chain hashes and times of records from..to (durable ones), from memory when recent, else from the segments. */
  async readChain(from: number, to: number): Promise<{ hashes: Buffer[]; times: number[] }> {
    const hashes: Buffer[] = [];
    const times: number[] = [];
    if (this.recent.has(from, to)) {
      for (let s = from; s <= to; s++) {
        hashes.push(this.recent.hash(s));
        times.push(this.recent.time(s));
      }
      return { hashes, times };
    }
    for (const seg of this.segmentsFrom(from)) {
      if (seg.firstSeq > to) break;
      const scan = await scanSegment(segPath(this.dir, seg.no), { logId: this.logId });
      try {
        for await (const r of scan.records) {
          if (r.meta.seq < from) continue;
          if (r.meta.seq > to) break;
          hashes.push(r.frame.hash);
          times.push(r.meta.time.getTime());
        }
      } finally {
        await scan.close();
      }
    }
    if (hashes.length !== to - from + 1) throw new TrucError('log_failure', `message log: records ${from}..${to} could not be read back (${hashes.length} found)`);
    return { hashes, times };
  }

  // ---- index ------------------------------------------------------------------------------------------

  private scheduleIndex(): void {
    if (this.indexTimer || this.indexing || this.closed) return;
    this.indexTimer = setTimeout(() => {
      this.indexTimer = null;
      void this.flushIndex().catch(() => {});
    }, this.indexQueue.length >= INDEX_BATCH ? 0 : INDEX_DELAY_MS);
    this.indexTimer.unref();
  }

  /** Writes what the index lacks (the queue, or a catch-up from the segments after a failure). */
  flushIndex(): Promise<void> {
    if (!this.db) return Promise.resolve();
    if (this.indexing) return this.indexing.then(() => (this.indexQueue.length || this.indexCatchUp ? this.flushIndex() : undefined));
    this.indexing = (async () => {
      // the body below may finish without awaiting anything: yield first, so that its `finally` clears
      // `indexing` after it was set, not before (a stale promise there would stop the index for good)
      await null;
      try {
        if (this.indexCatchUp) {
          this.indexCatchUp = false;
          this.indexQueue = [];
          await this.catchUpIndex();
        }
        const rows = this.indexQueue.splice(0).filter((r) => r[1] > this.indexed);
        if (rows.length) {
          await insertRows(this.db!, rows);
          this.indexed = rows[rows.length - 1]![1];
        }
      } catch (e) {
        this.indexCatchUp = true;
        this.logger?.warn({ err: e }, 'message log: index not written; retried from the segments');
        this.event({ type: 'index_failed', error: (e as Error).message });
        if (!this.closed) {
          const t = setTimeout(() => void this.flushIndex().catch(() => {}), 5000);
          t.unref();
        }
        throw e;
      } finally {
        this.indexing = null;
      }
      if (this.indexQueue.length) this.scheduleIndex();
    })();
    return this.indexing;
  }

  async search(q: LogSearch): Promise<LogSearchHit[]> {
    if (!this.db) throw new TrucError('unsupported', 'this message log has no database index');
    await this.flushIndex();
    return searchIndex(this.db, this.logIdHex, q);
  }

  /**
   * The requests this log received as a provider's (side provider, kind request) logged since `since`, each
   * given to `each` (client, message id), a page at a time from the index; their count. A security server
   * seeds its replay guard with them when it starts, so that a restart does not reopen the replay window.
   * Without an index, none.
   */
  async receivedSince(since: Date, each: (client: string, messageId: string) => void): Promise<number> {
    if (!this.db) return 0;
    await this.flushIndex();
    const [first] = await this.db.query<{ seq: string | null }>('SELECT min(seq) AS seq FROM xl_record WHERE log_id = $1 AND time >= $2', [this.logIdHex, since]);
    if (first?.seq === null || first?.seq === undefined) return 0;
    let n = 0;
    for (let lo = Number(first.seq); lo <= this.head.seq; lo += RECEIVED_PAGE) {
      const rows = await this.db.query<{ client: string; message_id: string }>(
        `SELECT client, message_id FROM xl_record WHERE log_id = $1 AND seq >= $2 AND seq < $3 AND side = 'provider' AND kind = 'request'`,
        [this.logIdHex, lo, lo + RECEIVED_PAGE],
      );
      for (const r of rows) each(r.client, r.message_id);
      n += rows.length;
    }
    return n;
  }

  // ---- time-stamping ----------------------------------------------------------------------------------

  timestampNow(stamper: TimeStamper, limit = this.batchLimit): Promise<{ stamped: number }> {
    if (this.readOnly) return Promise.reject(this.viewOnly());
    const run = this.stampLock.then(() => this.stampOnce(stamper, limit));
    this.stampLock = run.catch(() => {});
    return run;
  }

  private async stampOnce(stamper: TimeStamper, limit: number): Promise<{ stamped: number }> {
    if (this.closed) throw new TrucError('log_failure', 'the message log is closed');
    if (this.broken) throw new TrucError('log_failure', `the message log cannot write: ${this.broken.message}`);
    const from = this.stampedThrough + 1;
    const to = Math.min(this.head.seq, from + Math.max(1, Math.min(limit, 100_000)) - 1);
    if (to < from) return { stamped: 0 };
    const { hashes } = await this.readChain(from, to);
    const root = merkleRoot(hashes);
    let token: Buffer;
    try {
      token = await stamper.stamp(root, 'sha256');
      const t = readTimeStampToken(token);
      if (t.tstInfo.hash !== 'sha256' || !t.tstInfo.hashedMessage.equals(root)) throw new Error('the token does not stamp the batch root');
    } catch (e) {
      this.lastError = (e as Error).message;
      throw new TrucError('timestamp_failed', `time-stamping records ${from}..${to} failed: ${(e as Error).message}`, { from, to }, { cause: e });
    }
    const stampedAt = this.clock();
    const batch = { batch: this.lastBatch + 1, firstSeq: from, lastSeq: to, root, token, stampedAt };
    const payload = encodeBatch(batch);
    const hash = chainHash(this.stampsLast, T_BATCH, payload);
    const bytes = frameBytes(T_BATCH, payload, hash);
    try {
      await writeAll(this.stampsFh, [bytes], this.stampsSize);
      await this.stampsFh.datasync();
    } catch (e) {
      await this.stampsFh.truncate(this.stampsSize).catch(() => {});
      throw new TrucError('log_failure', `the time-stamp could not be stored: ${(e as Error).message}`);
    }
    this.stampsSize += bytes.length;
    this.stampsLast = hash;
    this.lastBatch = batch.batch;
    this.liveBatches.push({ batch: batch.batch, firstSeq: from, lastSeq: to });
    this.stampedThrough = to;
    this.lastTimestampAt = stampedAt;
    this.lastError = undefined;
    this.oldestUnstampedAt = to < this.head.seq ? new Date((await this.readChain(to + 1, to + 1)).times[0]!) : null;
    if (this.db) void insertBatch(this.db, this.logIdHex, batch).catch((e) => this.logger?.warn({ err: e }, 'message log: batch not indexed'));
    return { stamped: to - from + 1 };
  }

  health(now: Date = this.clock()): LogHealth {
    const unstamped = this.head.seq - this.stampedThrough;
    let refusing = false;
    if (unstamped > 0 && this.oldestUnstampedAt) {
      // waiting since the oldest record, or since the last success if one came later (a batch at a time catches up)
      const since = Math.max(this.oldestUnstampedAt.getTime(), this.lastTimestampAt?.getTime() ?? -Infinity);
      refusing = now.getTime() - since > this.graceMs;
    }
    return {
      lastTimestampAt: this.lastTimestampAt,
      oldestUnstampedAt: unstamped > 0 ? this.oldestUnstampedAt : null,
      unstamped: Math.max(0, unstamped),
      refusing,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Time-stamps on a schedule with the approved TSAs, tried in turn; reports failures and recovery. */
  startTimestamping(o: TimestampingOptions): void {
    if (this.readOnly) throw this.viewOnly();
    this.stopTimestamping();
    this.tsOpts = o;
    if (o.graceMs !== undefined) this.graceMs = o.graceMs;
    if (o.batchLimit !== undefined) this.batchLimit = Math.max(1, Math.min(o.batchLimit, 100_000));
    this.timer = setInterval(() => void this.tick(), o.intervalMs ?? 60_000);
    this.timer.unref();
    setImmediate(() => void this.tick());
  }

  stopTimestamping(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One scheduled round: stamps batch after batch while full ones come, then checks the grace period. */
  tick(): Promise<void> {
    if (this.tickRun) return this.tickRun;
    const run = this.tickOnce().finally(() => {
      this.tickRun = null;
    });
    this.tickRun = run;
    return run;
  }

  private tickRun: Promise<void> | null = null;

  private async tickOnce(): Promise<void> {
    const o = this.tsOpts;
    if (!o || this.ticking || this.closed) return;
    this.ticking = true;
    try {
      for (let round = 0; round < 1000 && this.head.seq > this.stampedThrough; round++) {
        let stamped = -1;
        const errors: string[] = [];
        for (const st of o.stampers) {
          try {
            stamped = (await this.timestampNow(st, this.batchLimit)).stamped;
            break;
          } catch (e) {
            errors.push((e as Error).message);
          }
        }
        if (stamped < 0) {
          this.lastError = errors.length ? errors.join('; ') : 'no approved time-stamping authority';
          this.failing = true;
          const h = this.health();
          this.logger?.warn({ error: this.lastError, unstamped: h.unstamped }, 'message log: time-stamping failed');
          this.event({ type: 'timestamp_failed', error: this.lastError, unstamped: h.unstamped, oldestUnstampedAt: h.oldestUnstampedAt?.toISOString() ?? null });
          break;
        }
        if (this.failing) {
          this.failing = false;
          this.logger?.info({}, 'message log: time-stamping works again');
          this.event({ type: 'timestamp_recovered', unstamped: this.health().unstamped });
        }
        if (stamped < this.batchLimit) break;
      }
    } finally {
      this.ticking = false;
    }
    const refusing = this.health().refusing;
    if (refusing !== this.wasRefusing) {
      this.wasRefusing = refusing;
      if (refusing) this.logger?.error({ graceMs: this.graceMs }, 'message log: records wait for a time-stamp past the grace period; new messages are refused');
      this.event(refusing ? { type: 'refusing', graceMs: this.graceMs, lastError: this.lastError ?? null } : { type: 'resumed' });
    }
  }

  // ---- archives and evidence --------------------------------------------------------------------------

  /**
   * Moves closed segments whose records are all time-stamped (and older than `before`: a time or a seq)
   * into hash-linked archive files, then deletes archives past the retention period.
   */
  async archive(o: { before?: Date | number; retentionDays?: number } = {}): Promise<ArchiveResult> {
    if (this.readOnly) throw this.viewOnly();
    const run = this.stampLock.then(async () => {
      const closed = this.segments.slice(0, -1);
      const res = await archiveSegments({
        dir: this.dir,
        logId: this.logId,
        segments: closed,
        nextFirstSeq: (i) => (this.segments[i + 1]?.firstSeq ?? this.head.seq + 1),
        stampedThrough: this.stampedThrough,
        before: o.before ?? this.clock(),
        retentionDays: o.retentionDays ?? this.retentionDays,
        now: this.clock(),
        stampsFh: this.stampsFh,
      });
      if (res.segments.length) {
        this.segments = this.segments.filter((s) => !res.segments.includes(s.no));
        // the stamp file was rewritten without the archived batches
        await this.stampsFh.close();
        this.stampsFh = await open(join(this.dir, STAMPS), 'r+');
        this.stampsSize = (await this.stampsFh.stat()).size;
        this.liveBatches = this.liveBatches.filter((b) => b.lastSeq >= this.segments[0]!.firstSeq);
        this.event({ type: 'archived', archive: res.archive, segments: res.segments, firstSeq: res.firstSeq, lastSeq: res.lastSeq });
      }
      if (res.deleted.length) this.event({ type: 'retention_deleted', archives: res.deleted });
      return res;
    });
    this.stampLock = run.catch(() => {});
    return run;
  }

  /** Per-message evidence as an ASiC-E container (a ZIP stream): records, bodies, chain, hash-tree paths, time-stamps. */
  /**
   * Checks the whole log as `truc log verify` does — records, chain, hash trees, time-stamps, archives,
   * every body against its hash (decrypted with this log's cipher) — while it keeps running: records
   * appended meanwhile may show as a torn tail (a warning).
   */
  async verify(o: { trustedTsaCerts: Uint8Array[]; intermediates?: Uint8Array[]; checkBodies?: boolean }): Promise<VerifyReport> {
    return verifyLog({ dir: this.dir, trustedTsaCerts: o.trustedTsaCerts, ...(o.intermediates ? { intermediates: o.intermediates } : {}), ...(this.cipher ? { cipher: this.cipher } : {}), checkBodies: o.checkBodies !== false });
  }

  async evidence(messageId: string, opts: { seal?: EvidenceSeal } = {}): Promise<Readable> {
    let segments: number[] | undefined;
    let seqs: number[] | undefined;
    if (this.db) {
      const hits = await this.search({ messageId, limit: 100 });
      if (!hits.length) throw new TrucError('not_found', `no logged message ${messageId}`);
      segments = [...new Set(hits.map((h) => h.segment))];
      seqs = hits.map((h) => h.seq);
    }
    try {
      return await writeLiveEvidence({ dir: this.dir, messageId, ...(segments ? { segments } : {}), ...(this.cipher ? { cipher: this.cipher } : {}), maxSeq: this.head.seq, ...(opts.seal ? { seal: opts.seal } : {}) });
    } catch (e) {
      if (!(e instanceof TrucError && e.code === 'not_found')) throw e;
      // archived since: from the archive file that holds it
      return writeArchivedEvidence({ dir: this.dir, messageId, ...(seqs ? { seqs } : {}), ...(this.cipher ? { cipher: this.cipher } : {}), ...(opts.seal ? { seal: opts.seal } : {}) });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.stopTimestamping();
    await this.tickRun?.catch(() => {});
    while (this.flushing) await this.flushing;
    this.closed = true;
    await this.stampLock;
    if (this.indexTimer) clearTimeout(this.indexTimer);
    this.indexTimer = null;
    if (this.db) {
      this.closed = false;
      await this.flushIndex().catch(() => {});
      this.closed = true;
    }
    await this.fh.close().catch(() => {});
    await this.stampsFh.close().catch(() => {});
    await this.lock?.release();
    this.lock = null;
  }
}
