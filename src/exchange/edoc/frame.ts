/**
 * The transport container of a package: the signed envelope, then each attachment base64-encoded (as edXML
 * carries them), in frames that can be written and read as a stream — a package of hundreds of megabytes
 * never sits in memory on either side. Media type `application/vnd.truc.edoc-frames`:
 *
 *   "EDOCF1\n"                                        magic, 7 bytes
 *   frame*:  type (1 byte: E envelope, A attachment, Z end)
 *            header length (uint16 BE) and header (UTF-8 JSON, at most 4 KiB)
 *            body length (uint64 BE) and body
 *
 * One E frame first (the envelope XML, at most MAX_ENVELOPE_BYTES), then one A frame per attachment of the
 * manifest (header `{"contentId": "…", "encoding": "base64"}`), then Z. A package encrypted end to end to
 * the recipient agency has E header `{"cms": "auth-enveloped"}` (the body: a CMS AuthEnvelopedData of the
 * envelope) and A headers `{"contentId": "…", "encoding": "cms"}` (the body: the attachment's
 * AuthEnvelopedData, binary, see `vault/cms/stream.ts`). The reader hands the envelope over
 * before any attachment is read, so a package with a bad envelope or signature is refused before its
 * attachments are spooled.
 */
import { createReadStream } from 'node:fs';
import { TrucError } from '../../errors.js';
import { MAX_ENVELOPE_BYTES } from './xml.js';

export const FRAMES_MEDIA_TYPE = 'application/vnd.truc.edoc-frames';
const MAGIC = Buffer.from('EDOCF1\n', 'latin1');
const MAX_HEADER = 4096;
/** how much of a file is read at once: a multiple of 3, so each piece encodes to base64 without padding */
const PIECE = 3 * 64 * 1024;

export interface FrameSource {
  contentId: string;
  /** `cms`: `open` yields the bytes as they travel (a CMS structure of `length` bytes), not base64-encoded */
  encoding?: 'base64' | 'cms';
  length?: number;
  /** a file on disk, or bytes in memory, or a stream of the bytes (a file kept encrypted) */
  path?: string;
  open?: () => AsyncIterable<Buffer>;
  bytes?: Uint8Array;
  size: number;
}

function frameHead(type: 'E' | 'A' | 'Z', header: object, bodyLength: number): Buffer {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const b = Buffer.alloc(1 + 2 + h.length + 8);
  b.write(type, 0, 'latin1');
  b.writeUInt16BE(h.length, 1);
  h.copy(b, 3);
  b.writeBigUInt64BE(BigInt(bodyLength), 3 + h.length);
  return b;
}

const base64Length = (n: number) => 4 * Math.ceil(n / 3);

/** The frames of a package, piece by piece (files read as they are sent). */
export async function* writeFrames(envelope: string | Uint8Array, attachments: FrameSource[], opts: { envelopeHeader?: Record<string, unknown> } = {}): AsyncGenerator<Buffer> {
  const env = typeof envelope === 'string' ? Buffer.from(envelope, 'utf8') : Buffer.from(envelope);
  yield Buffer.concat([MAGIC, frameHead('E', opts.envelopeHeader ?? {}, env.length), env]);
  for (const a of attachments) {
    if (a.encoding === 'cms') {
      const length = a.length ?? -1;
      yield frameHead('A', { contentId: a.contentId, encoding: 'cms' }, length);
      let sent = 0;
      for await (const c of a.open!()) {
        sent += c.length;
        yield c;
      }
      if (sent !== length) throw new TrucError('internal', `attachment ${a.contentId}: ${sent} bytes of CMS, ${length} announced`);
      continue;
    }
    yield frameHead('A', { contentId: a.contentId, encoding: 'base64' }, base64Length(a.size));
    let sent = 0;
    if (a.bytes) {
      for (let i = 0; i < a.bytes.length; i += PIECE) yield Buffer.from(Buffer.from(a.bytes.subarray(i, i + PIECE)).toString('base64'), 'latin1');
      sent = a.bytes.length;
    } else if (a.path || a.open) {
      let carry = Buffer.alloc(0);
      for await (const chunk of a.open ? a.open() : createReadStream(a.path!, { highWaterMark: PIECE })) {
        const c = carry.length ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
        const whole = c.length - (c.length % 3);
        if (whole) yield Buffer.from(c.subarray(0, whole).toString('base64'), 'latin1');
        carry = Buffer.from(c.subarray(whole));
        sent += (chunk as Buffer).length;
      }
      if (carry.length) yield Buffer.from(carry.toString('base64'), 'latin1');
    }
    if (sent !== a.size) throw new TrucError('internal', `attachment ${a.contentId} has ${sent} bytes, ${a.size} announced`);
  }
  yield frameHead('Z', {}, 0);
}

/** Reads exact byte counts from a stream without holding more than one incoming chunk beyond what is asked. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer | Uint8Array | string>;
  private done = false;
  constructor(src: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>) {
    this.it = Symbol.asyncIterator in src ? src[Symbol.asyncIterator]() : (async function* () { yield* src; })();
  }
  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    const c = typeof r.value === 'string' ? Buffer.from(r.value) : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
    return true;
  }
  async exact(n: number): Promise<Buffer> {
    while (this.buf.length < n) if (!(await this.fill())) throw new TrucError('bad_package', `gói tin bị cắt cụt / the package ends early (${n - this.buf.length} bytes missing)`, { field: 'frames' });
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  /** `n` bytes as pieces, as they arrive */
  async *pieces(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!this.buf.length && !(await this.fill())) throw new TrucError('bad_package', `gói tin bị cắt cụt / the package ends early (${left} bytes missing)`, { field: 'frames' });
      const take = Math.min(left, this.buf.length);
      const piece = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      left -= take;
      yield piece;
    }
  }
  /** drains the rest, up to `max` bytes (so the sender sees its answer rather than a reset); how much there was */
  async rest(max = Infinity): Promise<number> {
    let n = this.buf.length;
    this.buf = Buffer.alloc(0);
    while (n <= max && (await this.fill())) {
      n += this.buf.length;
      this.buf = Buffer.alloc(0);
    }
    return n;
  }
}

export interface Frame {
  type: 'E' | 'A' | 'Z';
  header: Record<string, unknown>;
  length: number;
}

/** The reading side: `envelope()` first, then `next()` until Z, each A's body through `body()`. */
export class FrameReader {
  private readonly r: ByteReader;
  private pending = 0;
  /** the envelope frame's header, once read (`{cms: "auth-enveloped"}` for a package encrypted end to end) */
  envelopeHeader: Record<string, unknown> = {};
  constructor(src: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>) {
    this.r = new ByteReader(src);
  }

  private async head(): Promise<Frame> {
    if (this.pending) throw new TrucError('internal', 'the body of the previous frame was not read');
    const t = (await this.r.exact(1)).toString('latin1');
    if (t !== 'E' && t !== 'A' && t !== 'Z') throw new TrucError('bad_package', `loại khung không xác định / unknown frame type 0x${Buffer.from(t, 'latin1').toString('hex')}`, { field: 'frames' });
    const hl = (await this.r.exact(2)).readUInt16BE(0);
    if (hl > MAX_HEADER) throw new TrucError('bad_package', `tiêu đề khung quá dài / a frame header of ${hl} bytes (at most ${MAX_HEADER})`, { field: 'frames' });
    let header: Record<string, unknown>;
    try {
      header = JSON.parse((await this.r.exact(hl)).toString('utf8')) as Record<string, unknown>;
      if (!header || typeof header !== 'object' || Array.isArray(header)) throw new Error('not an object');
    } catch (e) {
      if (e instanceof TrucError) throw e;
      throw new TrucError('bad_package', 'tiêu đề khung không phải đối tượng JSON / a frame header is not a JSON object', { field: 'frames' });
    }
    const big = (await this.r.exact(8)).readBigUInt64BE(0);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new TrucError('too_large', 'khung dài quá mọi tệp / a frame longer than any file');
    const length = Number(big);
    this.pending = length;
    return { type: t, header, length };
  }

  /** The magic and the envelope frame; the envelope's bytes. */
  async envelope(): Promise<Buffer> {
    const magic = await this.r.exact(MAGIC.length);
    if (!magic.equals(MAGIC)) throw new TrucError('bad_package', `thân yêu cầu không phải dạng khung edoc / not an edoc frames body (${FRAMES_MEDIA_TYPE})`, { field: 'frames' });
    const f = await this.head();
    if (f.type !== 'E') throw new TrucError('bad_package', 'khung đầu tiên không phải phong bì / the first frame is not the envelope', { field: 'frames' });
    // an encrypted envelope is the envelope and a CMS structure around it (a few hundred bytes)
    if (f.length > MAX_ENVELOPE_BYTES + 64 * 1024) throw new TrucError('too_large', `phong bì quá lớn / an envelope of ${f.length} bytes (at most ${MAX_ENVELOPE_BYTES})`);
    this.envelopeHeader = f.header;
    this.pending = 0;
    return Buffer.from(await this.r.exact(f.length));
  }

  /** The next frame's head (A or Z); an A's body must be read with `body()` before the next call. */
  async next(): Promise<Frame> {
    const f = await this.head();
    if (f.type === 'E') throw new TrucError('bad_package', 'có hai khung phong bì / a second envelope frame', { field: 'frames' });
    if (f.type === 'Z') {
      if (f.length) throw new TrucError('bad_package', 'khung kết thúc có nội dung / the end frame has a body', { field: 'frames' });
      this.pending = 0;
    }
    return f;
  }

  /** The current A frame's body, decoded from base64, as pieces. */
  async *body(): AsyncGenerator<Buffer> {
    const n = this.pending;
    this.pending = 0;
    let carry = '';
    for await (const piece of this.r.pieces(n)) {
      const s = carry + piece.toString('latin1');
      const whole = s.length - (s.length % 4);
      carry = s.slice(whole);
      if (!whole) continue;
      const part = s.slice(0, whole);
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(part)) throw new TrucError('bad_package', 'tệp đính kèm không phải base64 hợp lệ / an attachment is not valid base64', { field: 'frames' });
      yield Buffer.from(part, 'base64');
    }
    if (carry) throw new TrucError('bad_package', 'tệp đính kèm không phải base64 hợp lệ / an attachment is not valid base64 (its length is not a multiple of 4)', { field: 'frames' });
  }

  /** The current A frame's body as it travelled (an `encoding: "cms"` attachment), as pieces. */
  raw(): AsyncGenerator<Buffer> {
    const n = this.pending;
    this.pending = 0;
    return this.r.pieces(n);
  }

  rest(max?: number): Promise<number> {
    return this.r.rest(max);
  }
}
