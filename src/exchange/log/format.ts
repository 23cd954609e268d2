/**
 * The bytes of the message log on disk. Every file of the log (segments, the stamp file, archives) is a run
 * of frames:
 *
 *   u32 BE payload length · u8 type · payload · 32-byte hash
 *
 * For a record the hash is its chain hash, `chain_n = SHA-256(chain_{n-1} || SHA-256(type || payload))`, so
 * one SHA-256 pass both links the record to everything before it and detects a torn or altered frame (it
 * doubles as the frame's checksum). Headers carry `SHA-256(type || payload)` alone. Payloads are a small
 * binary encoding (length-prefixed fields, big-endian), read with bounds checks everywhere: the verifier
 * reads files that may have been tampered with.
 */
import { TrucError } from '../../errors.js';
import { sha256 } from '../../crypto/digest.js';

export const FRAME_HEAD = 5;
export const HASH_LEN = 32;
/** no frame of ours is larger: records hold metadata and inline bodies only; large bodies live in files */
export const MAX_FRAME_PAYLOAD = 64 * 1024 * 1024;

export const T_SEGMENT = 0x01;
export const T_RECORD = 0x02;
export const T_STAMPS = 0x03;
export const T_BATCH = 0x04;
export const T_ARCHIVE = 0x05;
export const T_ARCHIVE_FILE = 0x06;
export const T_ARCHIVE_END = 0x07;
/**
 * A certificate or OCSP response that records of this segment name by hash (their `material`): written once
 * per segment, before the first record that names it, instead of inside every message header. Not part of
 * the chain — it is bound by content: the records name SHA-256 of its payload, and the signed message
 * headers name the same hashes. The frame's hash is `recordDigest(T_MATERIAL, payload)`.
 */
export const T_MATERIAL = 0x08;
/** at most this many material items per record, each at most MAX_MATERIAL_BYTES */
export const MAX_RECORD_MATERIAL = 8;
export const MAX_MATERIAL_BYTES = 64 * 1024;

export const BODY_NONE = 0;
export const BODY_INLINE = 1;
export const BODY_FILE = 2;

export { sha256 };

const bodyHashes = new WeakMap<Buffer, Buffer>();
/**
 * SHA-256 of a message body held whole, remembered for the body's Buffer: a security server hashes a body
 * to sign or check it and then logs it, and the log, which checks that a record's body matches its hash,
 * takes the remembered one instead of hashing the bytes again. The body must not be changed afterwards.
 */
export function bodyHash(body: Buffer): Buffer {
  const h = sha256(body);
  bodyHashes.set(body, h);
  return h;
}

/** The hash {@link bodyHash} took of this Buffer, if it did. */
export function knownBodyHash(body: Buffer): Buffer | undefined {
  return bodyHashes.get(body);
}

/** SHA-256(type || payload): what the chain takes of a record. */
const materialHashes = new WeakMap<Buffer, Buffer>();
/**
 * SHA-256 of a material item, remembered per Buffer object: a server names the same certificate and OCSP
 * objects in thousands of records. The items must not be changed after they are first hashed.
 */
export function materialHash(item: Buffer): Buffer {
  let h = materialHashes.get(item);
  if (!h) {
    h = sha256(item);
    materialHashes.set(item, h);
  }
  return h;
}

export function recordDigest(type: number, payload: Buffer): Buffer {
  return sha256(Buffer.of(type), payload);
}

export function chainHash(prev: Buffer, type: number, payload: Buffer): Buffer {
  return sha256(prev, recordDigest(type, payload));
}

/** The chain's starting point for a log: bound to its identity so two logs never share a chain. */
export function genesisHash(logId: Buffer, what: 'records' | 'stamps' | 'archives'): Buffer {
  return sha256(Buffer.from(`TRUC-LOG-GENESIS:${what}:`), logId);
}

export function frame(type: number, payload: Buffer, hash: Buffer): Buffer[] {
  const head = Buffer.allocUnsafe(FRAME_HEAD);
  head.writeUInt32BE(payload.length, 0);
  head[4] = type;
  return [head, payload, hash];
}

export function frameBytes(type: number, payload: Buffer, hash: Buffer): Buffer {
  return Buffer.concat(frame(type, payload, hash));
}

export function frameLength(payloadLength: number): number {
  return FRAME_HEAD + payloadLength + HASH_LEN;
}

// ---- encoding ---------------------------------------------------------------------------------------------

export class Writer {
  private buf: Buffer;
  private o = 0;
  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }
  private room(n: number) {
    if (this.o + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.o + n));
    this.buf.copy(next, 0, 0, this.o);
    this.buf = next;
  }
  u8(v: number): this {
    this.room(1);
    this.buf[this.o++] = v;
    return this;
  }
  u16(v: number): this {
    this.room(2);
    this.o = this.buf.writeUInt16BE(v, this.o);
    return this;
  }
  u32(v: number): this {
    this.room(4);
    this.o = this.buf.writeUInt32BE(v, this.o);
    return this;
  }
  /** a safe integer as u64 */
  u64(v: number): this {
    this.room(8);
    const hi = Math.floor(v / 4_294_967_296);
    this.o = this.buf.writeUInt32BE(hi, this.o);
    this.o = this.buf.writeUInt32BE(v - hi * 4_294_967_296, this.o);
    return this;
  }
  f64(v: number): this {
    this.room(8);
    this.o = this.buf.writeDoubleBE(v, this.o);
    return this;
  }
  raw(b: Buffer): this {
    this.room(b.length);
    b.copy(this.buf, this.o);
    this.o += b.length;
    return this;
  }
  fixed(b: Buffer, n: number): this {
    if (b.length !== n) throw new TrucError('bad_request', `expected ${n} bytes, got ${b.length}`);
    return this.raw(b);
  }
  /** a string with a u16 length; undefined is 0xffff */
  str16(s: string | undefined): this {
    if (s === undefined) return this.u16(0xffff);
    const b = Buffer.from(s, 'utf8');
    if (b.length >= 0xffff) throw new TrucError('bad_request', 'a log field is longer than 65,534 bytes');
    return this.u16(b.length).raw(b);
  }
  str8(s: string): this {
    const b = Buffer.from(s, 'utf8');
    if (b.length > 255) throw new TrucError('bad_request', 'a log label is longer than 255 bytes');
    return this.u8(b.length).raw(b);
  }
  bytes32(b: Buffer): this {
    return this.u32(b.length).raw(b);
  }
  done(): Buffer {
    return this.buf.subarray(0, this.o);
  }
}

export class Reader {
  o = 0;
  constructor(private readonly b: Buffer) {}
  private need(n: number) {
    if (n < 0 || this.o + n > this.b.length) throw new TrucError('bad_request', 'truncated log payload');
  }
  u8(): number {
    this.need(1);
    return this.b[this.o++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.b.readUInt16BE(this.o);
    this.o += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.b.readUInt32BE(this.o);
    this.o += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const hi = this.b.readUInt32BE(this.o);
    const lo = this.b.readUInt32BE(this.o + 4);
    this.o += 8;
    if (hi >= 0x200000) throw new TrucError('bad_request', 'a log integer exceeds 2^53');
    return hi * 4_294_967_296 + lo;
  }
  f64(): number {
    this.need(8);
    const v = this.b.readDoubleBE(this.o);
    this.o += 8;
    return v;
  }
  fixed(n: number): Buffer {
    this.need(n);
    const v = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }
  str16(): string | undefined {
    const n = this.u16();
    if (n === 0xffff) return undefined;
    return this.fixed(n).toString('utf8');
  }
  str8(): string {
    return this.fixed(this.u8()).toString('utf8');
  }
  bytes32(): Buffer {
    return this.fixed(this.u32());
  }
  end(): void {
    if (this.o !== this.b.length) throw new TrucError('bad_request', 'trailing bytes in a log payload');
  }
}

// ---- segment header ---------------------------------------------------------------------------------------

const SEG_MAGIC = Buffer.from('TRUC-LOG-SEGMENT');
export interface SegmentHeader {
  logId: Buffer;
  segment: number;
  firstSeq: number;
  /** the chain hash before this segment's first record */
  prevHash: Buffer;
}

export function encodeSegmentHeader(h: SegmentHeader): Buffer {
  return new Writer(80).raw(SEG_MAGIC).u8(1).fixed(h.logId, 16).u32(h.segment).u64(h.firstSeq).fixed(h.prevHash, 32).done();
}

export function decodeSegmentHeader(p: Buffer): SegmentHeader {
  const r = new Reader(p);
  if (!r.fixed(16).equals(SEG_MAGIC)) throw new TrucError('bad_request', 'not a message log segment');
  if (r.u8() !== 1) throw new TrucError('unsupported', 'unknown segment version');
  const h = { logId: Buffer.from(r.fixed(16)), segment: r.u32(), firstSeq: r.u64(), prevHash: Buffer.from(r.fixed(32)) };
  r.end();
  return h;
}

// ---- records ----------------------------------------------------------------------------------------------

export interface StoredBody {
  store: typeof BODY_NONE | typeof BODY_INLINE | typeof BODY_FILE;
  /** the cipher that protects it ('' = stored in the clear) */
  cipher: string;
  /** bound into the cipher's associated data; present when cipher is set */
  bodyId?: Buffer;
  /** inline: the stored bytes */
  inline?: Buffer;
  /** file: stored length and SHA-256 of the stored bytes (the ciphertext when protected) */
  storedLength?: number;
  storedHash?: Buffer;
}

export interface RecordMeta {
  seq: number;
  time: Date;
  messageId: string;
  kind: 'request' | 'response';
  side: 'consumer' | 'provider';
  client: string;
  service: string;
  userId?: string;
  issue?: string;
  header: Buffer;
  signature: Buffer;
  bodyHash: Buffer;
  bodyLength: number;
  body: StoredBody;
  /** SHA-256 of each material item (certificate, OCSP response) the record's header names; in the segment */
  material?: Buffer[];
}

/** What a record says of its message, as `truc log export` prints it and an evidence container's record.json holds it. */
export function recordSummary(m: RecordMeta): Record<string, string | number> {
  return {
    seq: m.seq,
    messageId: m.messageId,
    kind: m.kind,
    side: m.side,
    client: m.client,
    service: m.service,
    ...(m.userId !== undefined ? { userId: m.userId } : {}),
    ...(m.issue !== undefined ? { issue: m.issue } : {}),
    time: m.time.toISOString(),
    bodyHash: m.bodyHash.toString('hex'),
    bodyLength: m.bodyLength,
  };
}

export function encodeRecord(m: RecordMeta): Buffer {
  const w = new Writer(256 + m.header.length + m.signature.length + (m.body.inline?.length ?? 0));
  w.u64(m.seq).f64(m.time.getTime()).u8(m.kind === 'request' ? 0 : 1).u8(m.side === 'consumer' ? 0 : 1);
  w.str16(m.messageId).str16(m.client).str16(m.service).str16(m.userId).str16(m.issue);
  w.bytes32(m.header).bytes32(m.signature).fixed(m.bodyHash, 32).u64(m.bodyLength);
  const b = m.body;
  w.u8(b.store).str8(b.cipher);
  if (b.cipher) w.fixed(b.bodyId!, 16);
  if (b.store === BODY_INLINE) w.bytes32(b.inline!);
  else if (b.store === BODY_FILE) w.u64(b.storedLength!).fixed(b.storedHash!, 32);
  // optional trailer (records written before it have none): the material the record names
  if (m.material?.length) {
    if (m.material.length > MAX_RECORD_MATERIAL) throw new TrucError('bad_request', `a log record names at most ${MAX_RECORD_MATERIAL} material items`);
    w.u8(m.material.length);
    for (const h of m.material) w.fixed(h, 32);
  }
  return w.done();
}

export function decodeRecord(p: Buffer): RecordMeta {
  const r = new Reader(p);
  const seq = r.u64();
  const time = new Date(r.f64());
  const k = r.u8();
  const s = r.u8();
  if (k > 1 || s > 1) throw new TrucError('bad_request', 'bad record kind or side');
  const messageId = r.str16();
  const client = r.str16();
  const service = r.str16();
  if (messageId === undefined || client === undefined || service === undefined) throw new TrucError('bad_request', 'record without id, client or service');
  const userId = r.str16();
  const issue = r.str16();
  const header = r.bytes32();
  const signature = r.bytes32();
  const bodyHash = r.fixed(32);
  const bodyLength = r.u64();
  const store = r.u8();
  if (store > 2) throw new TrucError('bad_request', 'bad body store');
  const body: StoredBody = { store: store as StoredBody['store'], cipher: r.str8() };
  if (body.cipher) body.bodyId = r.fixed(16);
  if (store === BODY_INLINE) body.inline = r.bytes32();
  else if (store === BODY_FILE) {
    body.storedLength = r.u64();
    body.storedHash = r.fixed(32);
  }
  let material: Buffer[] | undefined;
  if (r.o < p.length) {
    const n = r.u8();
    if (n < 1 || n > MAX_RECORD_MATERIAL) throw new TrucError('bad_request', 'bad record material count');
    material = [];
    for (let i = 0; i < n; i++) material.push(r.fixed(32));
  }
  r.end();
  return {
    seq,
    time,
    messageId,
    kind: k === 0 ? 'request' : 'response',
    side: s === 0 ? 'consumer' : 'provider',
    client,
    service,
    ...(userId !== undefined ? { userId } : {}),
    ...(issue !== undefined ? { issue } : {}),
    header,
    signature,
    bodyHash,
    bodyLength,
    body,
    ...(material ? { material } : {}),
  };
}

// ---- time-stamp batches -----------------------------------------------------------------------------------

const STAMPS_MAGIC = Buffer.from('TRUC-LOG-STAMPS!');
export function encodeStampsHeader(h: { logId: Buffer; firstBatch: number; prevHash: Buffer }): Buffer {
  return new Writer(80).raw(STAMPS_MAGIC).u8(1).fixed(h.logId, 16).u64(h.firstBatch).fixed(h.prevHash, 32).done();
}
export function decodeStampsHeader(p: Buffer): { logId: Buffer; firstBatch: number; prevHash: Buffer } {
  const r = new Reader(p);
  if (!r.fixed(16).equals(STAMPS_MAGIC)) throw new TrucError('bad_request', 'not a message log stamp file');
  if (r.u8() !== 1) throw new TrucError('unsupported', 'unknown stamp file version');
  const h = { logId: Buffer.from(r.fixed(16)), firstBatch: r.u64(), prevHash: Buffer.from(r.fixed(32)) };
  r.end();
  return h;
}

export interface Batch {
  /** batch number, from 1 */
  batch: number;
  firstSeq: number;
  lastSeq: number;
  /** hash-tree root over the chain hashes of records firstSeq..lastSeq */
  root: Buffer;
  /** RFC 3161 TimeStampToken (DER) whose SHA-256 message imprint is the root itself */
  token: Buffer;
  stampedAt: Date;
}

export function encodeBatch(b: Batch): Buffer {
  return new Writer(128 + b.token.length).u64(b.batch).u64(b.firstSeq).u64(b.lastSeq).fixed(b.root, 32).f64(b.stampedAt.getTime()).bytes32(b.token).done();
}
export function decodeBatch(p: Buffer): Batch {
  const r = new Reader(p);
  const b = { batch: r.u64(), firstSeq: r.u64(), lastSeq: r.u64(), root: Buffer.from(r.fixed(32)), stampedAt: new Date(r.f64()), token: Buffer.from(r.bytes32()) };
  r.end();
  if (b.lastSeq < b.firstSeq) throw new TrucError('bad_request', 'batch with an empty range');
  return b;
}

// ---- frame scanning ---------------------------------------------------------------------------------------

export interface RawFrame {
  type: number;
  payload: Buffer;
  hash: Buffer;
  /** offset of the frame in its file */
  offset: number;
  length: number;
}
