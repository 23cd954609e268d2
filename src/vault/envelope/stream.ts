/**
 * Streaming AEAD for objects of any size: the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár)
 * over AES-256-GCM. The plaintext is cut into segments of 2^n bytes; segment i is sealed under the nonce
 * prefix || i (32-bit big-endian) || last-flag, so that reordering, duplication, dropping or truncating
 * segments all fail authentication, and a stream cut exactly at a segment boundary fails because its final
 * segment was not sealed as the last one.
 *
 * The segment key is HKDF-SHA256(data key, salt from the header, info = label || associated data): a fresh
 * key per object version even when one data key seals several, and associated data that differs (another
 * object's identity or version) yields another key, hence a tag failure on the first segment.
 *
 * Layout: header (28 bytes: "TRV1", log2 segment size, 16-byte salt, 7-byte nonce prefix) then segments of
 * 2^n + 16 bytes, the last shorter (possibly only its 16-byte tag). Neither side holds more than one segment:
 * the encoder keeps references to the chunks it was given (no copy) until it knows whether they close the
 * stream, the decoder releases a segment's plaintext only once its tag verified.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { TrucError } from '../../errors.js';
import { cipherSlices } from '../../crypto/cipher-slices.js';

export const STREAM_MAGIC = Buffer.from('TRV1');
export const STREAM_HEADER_LENGTH = 28;
const TAG = 16;
const INFO = Buffer.from('truc-vault-stream-v1\0');

/**
 * The default segment: 256 KiB. Each segment costs a cipher context of its own (key schedule, GHASH key,
 * its nonce: ~4–5 µs, as long as AES-GCM takes over ~12 KiB on a core that does 2.5 GB/s) and a pass through
 * the stream's buffering; at 64 KiB that was 15–20 % of the time of a large object, at 256 KiB it is about 5 %.
 * The size is written in each object's header, so objects sealed with other sizes read as before.
 */
export const DEFAULT_SEGMENT_LOG = 18;

export interface StreamOptions {
  /** log2 of the segment size: 12 (4 KiB) … 24 (16 MiB); default 18 (256 KiB) */
  segmentLog?: number;
}

function checkKey(key: Uint8Array): void {
  if (key.length !== 32) throw new TrucError('internal', 'a data key is 32 bytes (AES-256)');
}

function segmentKey(dataKey: Uint8Array, salt: Buffer, ad: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, salt, Buffer.concat([INFO, ad]), 32));
}

function nonce(prefix: Buffer, counter: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0, 0, 7);
  n.writeUInt32BE(counter, 7);
  n[11] = last ? 1 : 0;
  return n;
}

/** A list of buffers read as one, without concatenating them. */
class Pieces {
  list: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    if (b.length) {
      this.list.push(b);
      this.length += b.length;
    }
  }
  /** removes and returns the first n bytes as pieces */
  take(n: number): Buffer[] {
    const out: Buffer[] = [];
    while (n > 0) {
      const b = this.list[0];
      if (b.length <= n) {
        out.push(b);
        this.list.shift();
        n -= b.length;
        this.length -= b.length;
      } else {
        out.push(b.subarray(0, n));
        this.list[0] = b.subarray(n);
        this.length -= n;
        n = 0;
      }
    }
    return out;
  }
  takeAll(): Buffer[] {
    const out = this.list;
    this.list = [];
    this.length = 0;
    return out;
  }
}

const MAX_SEGMENTS = 0xffffffff;

/** Encrypts a stream: plaintext in, header + sealed segments out. */
export function encryptStream(dataKey: Uint8Array, ad: Uint8Array, opts: StreamOptions = {}): Transform {
  checkKey(dataKey);
  const log = opts.segmentLog ?? DEFAULT_SEGMENT_LOG;
  if (!Number.isInteger(log) || log < 12 || log > 24)
    throw new TrucError('bad_request', `segment size 2^${log} is outside 2^12 … 2^24`);
  const size = 2 ** log;
  const salt = randomBytes(16);
  const prefix = randomBytes(7);
  const header = Buffer.concat([STREAM_MAGIC, Buffer.from([log]), salt, prefix]);
  const key = segmentKey(dataKey, salt, ad);
  const pending = new Pieces();
  let counter = 0;
  let headerSent = false;
  const seal = (t: Transform, parts: Buffer[], last: boolean) => {
    if (counter >= MAX_SEGMENTS) throw new TrucError('too_large', 'object exceeds 2^32 segments');
    const c = createCipheriv('aes-256-gcm', key, nonce(prefix, counter++, last));
    c.setAAD(header);
    for (const p of parts) for (const b of cipherSlices(c, p)) t.push(b);
    c.final();
    t.push(c.getAuthTag());
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      try {
        if (!headerSent) {
          this.push(header);
          headerSent = true;
        }
        pending.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
        // a full segment is sealed as not-last only once a byte beyond it proves the stream goes on
        while (pending.length > size) seal(this, pending.take(size), false);
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
    flush(cb: TransformCallback) {
      try {
        if (!headerSent) this.push(header);
        seal(this, pending.takeAll(), true);
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
  });
}

function failed(detail: string): TrucError {
  return new TrucError('decrypt_failed', `ciphertext failed authentication (${detail}): tampered, truncated, reordered or the wrong key`, { reason: detail });
}

/** Decrypts a stream made by `encryptStream` with the same data key and associated data. */
export function decryptStream(dataKey: Uint8Array, ad: Uint8Array): Transform {
  checkKey(dataKey);
  // the segment key is derived once the header arrives: keep our own copies (callers wipe theirs)
  dataKey = Buffer.from(dataKey);
  ad = Buffer.from(ad);
  const pending = new Pieces();
  let header: Buffer | undefined;
  let key: Buffer | undefined;
  let prefix: Buffer | undefined;
  let size = 0;
  let counter = 0;
  let done = false;
  const open = (t: Transform, parts: Buffer[], total: number, last: boolean) => {
    if (counter >= MAX_SEGMENTS) throw failed('too many segments');
    // the tag is the segment's last 16 bytes, possibly across pieces
    const bodyLen = total - TAG;
    const d = createDecipheriv('aes-256-gcm', key!, nonce(prefix!, counter++, last));
    d.setAAD(header!);
    const out: Buffer[] = [];
    const tagParts: Buffer[] = [];
    let at = 0;
    for (const p of parts) {
      const end = at + p.length;
      if (at < bodyLen) for (const b of cipherSlices(d, end <= bodyLen ? p : p.subarray(0, bodyLen - at))) out.push(b);
      if (end > bodyLen) tagParts.push(at >= bodyLen ? p : p.subarray(bodyLen - at));
      at = end;
    }
    d.setAuthTag(tagParts.length === 1 ? tagParts[0] : Buffer.concat(tagParts));
    try {
      d.final();
    } catch {
      throw failed(`segment ${counter - 1}`);
    }
    for (const o of out) if (o.length) t.push(o);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      try {
        if (done) throw failed('data after the last segment');
        pending.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
        if (!header) {
          if (pending.length < STREAM_HEADER_LENGTH) return cb();
          header = Buffer.concat(pending.take(STREAM_HEADER_LENGTH));
          if (!header.subarray(0, 4).equals(STREAM_MAGIC)) throw new TrucError('decrypt_failed', 'not a vault stream (bad magic)');
          const log = header[4];
          if (log < 12 || log > 24) throw new TrucError('decrypt_failed', `bad segment size 2^${log}`);
          size = 2 ** log + TAG;
          key = segmentKey(dataKey, header.subarray(5, 21), ad);
          prefix = header.subarray(21, 28);
        }
        while (pending.length > size) open(this, pending.take(size), size, false);
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
    flush(cb: TransformCallback) {
      try {
        if (!header) throw failed('truncated header');
        if (pending.length < TAG) throw failed('truncated final segment');
        const total = pending.length;
        open(this, pending.takeAll(), total, true);
        done = true;
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
  });
}

/** Whole-buffer forms, for small objects. */
export function sealBuffer(dataKey: Uint8Array, ad: Uint8Array, plaintext: Uint8Array, opts: StreamOptions = {}): Promise<Buffer> {
  return runTransform(encryptStream(dataKey, ad, opts), plaintext);
}

export function openBuffer(dataKey: Uint8Array, ad: Uint8Array, sealed: Uint8Array): Promise<Buffer> {
  return runTransform(decryptStream(dataKey, ad), sealed);
}

function runTransform(t: Transform, input: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    t.on('data', (b: Buffer) => out.push(b));
    t.on('error', reject);
    t.on('end', () => resolve(Buffer.concat(out)));
    t.end(Buffer.from(input.buffer, input.byteOffset, input.byteLength));
  });
}
