/**
 * Body spools: a body too large to hold in memory is written to a file in the log's `spool/` folder as it
 * arrives, hashed (SHA-256) on the way, through the cipher when there is one, and synced to disk when it is
 * finished — so that appending its record later needs only a rename into the segment's body folder, never
 * a second copy. Each `write` awaits the disk, which is the back-pressure the caller honours. Spool files
 * left behind by a crash are removed when the log opens.
 */
import { createHash, type Hash } from 'node:crypto';
import { randomPooled } from '../../crypto/random.js';
import { createReadStream } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { TrucError, isTrucError } from '../../errors.js';
import type { BodySpool, SpooledBody } from './types.js';
import { bodyAad, type BodyCipher, type BodyCipherStream } from './cipher.js';
import { writeAll } from './write.js';
import { cipherSlices } from '../../crypto/cipher-slices.js';

const WRITE_BATCH = 512 * 1024;

/** A file-system failure of the spool (no space left, an I/O error) is the message log's failure, said as such. */
function spoolFailure(e: unknown): TrucError {
  return isTrucError(e) ? e : new TrucError('log_failure', `the message log could not spool the body: ${(e as Error).message}`);
}

/** What the log needs to know of a spool it appends (beyond the public SpooledBody). */
export class LogSpooledBody implements SpooledBody {
  /** where the bytes are now: the spool folder, then the segment's body folder after append */
  path: string;
  /** the body is logged (moved into the log, or kept only as hash in metadata mode) */
  appended = false;
  /** metadata mode: the file goes once it has been read back (or discarded) */
  deleteAfterOpen = false;
  constructor(
    readonly id: string,
    path: string,
    readonly length: number,
    readonly hash: Buffer,
    readonly storedLength: number,
    readonly storedHash: Buffer,
    readonly cipher: BodyCipher | undefined,
    readonly bodyId: Buffer | undefined,
    private readonly logId: Buffer,
  ) {
    this.path = path;
  }

  open(): Readable {
    const src = createReadStream(this.path, { highWaterMark: 256 * 1024 });
    if (this.deleteAfterOpen) src.once('open', () => void unlink(this.path).catch(() => {}));
    if (!this.cipher) return src;
    const out = decryptTransform(this.cipher.decryptor(bodyAad(this.logId, this.bodyId!)));
    // a reader may stop early (only a SOAP envelope is read back, a client goes away): destroying the stream
    // it reads closes the file (a pipe alone would leave it open and paused), and a read error reaches it
    out.once('close', () => src.destroy());
    src.once('error', (e) => out.destroy(e));
    return src.pipe(out);
  }

  async discard(): Promise<void> {
    if (this.appended && !this.deleteAfterOpen) return; // it belongs to the log now
    await unlink(this.path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
}

export function decryptTransform(d: BodyCipherStream): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        for (const b of cipherSlices(d, chunk)) this.push(b);
        cb();
      } catch (e) {
        cb(new TrucError('decrypt_failed', `a logged body does not decrypt: ${(e as Error).message}`));
      }
    },
    flush(cb) {
      try {
        cb(null, d.final());
      } catch (e) {
        cb(new TrucError('decrypt_failed', `a logged body does not decrypt: ${(e as Error).message}`));
      }
    },
  });
}

export class FileSpool implements BodySpool {
  private fh: FileHandle | null = null;
  private opening: Promise<FileHandle> | null = null;
  private readonly h: Hash = createHash('sha256');
  private readonly sh: Hash | null;
  private readonly enc: BodyCipherStream | null;
  private readonly bodyId: Buffer | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private length = 0;
  private storedLength = 0;
  private pos = 0;
  private state: 'open' | 'finished' | 'discarded' = 'open';
  readonly id: string;
  readonly path: string;

  constructor(
    dir: string,
    private readonly logId: Buffer,
    private readonly cipher: BodyCipher | undefined,
    private readonly maxBytes: number,
  ) {
    this.id = randomPooled(12).toString('hex');
    this.path = join(dir, `${this.id}.spool`);
    this.bodyId = cipher ? randomPooled(16) : undefined;
    this.enc = cipher ? cipher.encryptor(bodyAad(logId, this.bodyId!)) : null;
    this.sh = cipher ? createHash('sha256') : null;
  }

  private handle(): Promise<FileHandle> {
    if (this.fh) return Promise.resolve(this.fh);
    this.opening ??= open(this.path, 'wx', 0o600).then((fh) => (this.fh = fh));
    return this.opening;
  }

  private async flushPending(): Promise<void> {
    if (!this.pendingBytes) return;
    // one writev of the chunks as they are (gathering them into one buffer first was one more pass)
    const chunks = this.pending;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    const at = this.pos;
    this.pos += bytes;
    await writeAll(await this.handle(), chunks, at);
  }

  private stored(b: Buffer): void {
    if (!b.length) return;
    this.sh?.update(b);
    this.storedLength += b.length;
    this.pending.push(b);
    this.pendingBytes += b.length;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.state !== 'open') throw new TrucError('conflict', `the body spool is ${this.state}`);
    this.length += chunk.length;
    if (this.length > this.maxBytes) throw new TrucError('too_large', `the body exceeds ${this.maxBytes} bytes`, { limit: this.maxBytes });
    this.h.update(chunk);
    // copy: the caller may reuse its buffer once the promise resolves
    if (this.enc) for (const b of cipherSlices(this.enc, chunk)) this.stored(b);
    else this.stored(Buffer.from(chunk));
    if (this.pendingBytes >= WRITE_BATCH) await this.flushPending().catch((e) => Promise.reject(spoolFailure(e)));
  }

  async finish(): Promise<SpooledBody> {
    if (this.state !== 'open') throw new TrucError('conflict', `the body spool is ${this.state}`);
    if (this.enc) this.stored(this.enc.final());
    try {
      await this.flushPending();
      const fh = await this.handle();
      // durable before any record can point at it: appending then costs only a rename
      await fh.datasync();
      await fh.close();
    } catch (e) {
      throw spoolFailure(e);
    }
    this.fh = null;
    this.state = 'finished';
    const hash = this.h.digest();
    return new LogSpooledBody(this.id, this.path, this.length, hash, this.storedLength, this.sh ? this.sh.digest() : hash, this.cipher, this.bodyId, this.logId);
  }

  async discard(): Promise<void> {
    if (this.state === 'discarded') return;
    this.state = 'discarded';
    this.pending = [];
    const fh = this.fh ?? (this.opening ? await this.opening.catch(() => null) : null);
    await fh?.close().catch(() => {});
    await unlink(this.path).catch(() => {});
  }
}

/** An inline body through the cipher, as stored bytes. */
export function encryptInline(cipher: BodyCipher, logId: Buffer, bodyId: Buffer, plain: Buffer): Buffer {
  const e = cipher.encryptor(bodyAad(logId, bodyId));
  return Buffer.concat([e.update(plain), e.final()]);
}

export function decryptInline(cipher: BodyCipher, logId: Buffer, bodyId: Buffer, stored: Buffer): Buffer {
  const d = cipher.decryptor(bodyAad(logId, bodyId));
  try {
    return Buffer.concat([d.update(stored), d.final()]);
  } catch (e) {
    throw new TrucError('decrypt_failed', `a logged body does not decrypt: ${(e as Error).message}`);
  }
}

