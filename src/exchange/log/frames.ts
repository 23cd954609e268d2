/**
 * Reading frames back from a log file in order, with a bounded buffer (a segment may be large; a frame is at
 * most MAX_FRAME_PAYLOAD). The reader stops at the end of the file or at the first frame that cannot be
 * whole — a torn tail after a crash, or damage — and says which.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { FRAME_HEAD, HASH_LEN, MAX_FRAME_PAYLOAD, type RawFrame } from './format.js';

const CHUNK = 1024 * 1024;

export class FrameReader {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  private pos: number;
  /** why reading stopped before the end of the file, if it did */
  problem: 'truncated' | 'oversized' | null = null;
  /** offset just past the last whole frame returned */
  goodEnd: number;

  private constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
    start: number,
  ) {
    this.pos = start;
    this.bufStart = start;
    this.goodEnd = start;
  }

  static async open(path: string, start = 0, end?: number): Promise<FrameReader> {
    const fh = await open(path, 'r');
    const size = end ?? (await fh.stat()).size;
    return new FrameReader(fh, size, start);
  }

  get fileSize(): number {
    return this.size;
  }

  private async fill(upTo: number): Promise<boolean> {
    // keep buf covering [pos, upTo)
    if (this.bufStart + this.buf.length >= upTo) return true;
    if (upTo > this.size) return false;
    const keepFrom = this.pos - this.bufStart;
    const want = Math.max(upTo - this.pos, CHUNK);
    const readLen = Math.min(want, this.size - this.pos);
    const next = Buffer.allocUnsafe(readLen);
    const have = this.buf.subarray(keepFrom);
    have.copy(next, 0);
    let off = have.length;
    while (off < readLen) {
      const { bytesRead } = await this.fh.read(next, off, readLen - off, this.pos + off);
      if (bytesRead === 0) return false;
      off += bytesRead;
    }
    this.buf = next;
    this.bufStart = this.pos;
    return this.bufStart + this.buf.length >= upTo;
  }

  async next(): Promise<RawFrame | null> {
    if (this.problem || this.pos >= this.size) return null;
    if (!(await this.fill(this.pos + FRAME_HEAD))) {
      this.problem = 'truncated';
      return null;
    }
    const o = this.pos - this.bufStart;
    const len = this.buf.readUInt32BE(o);
    const type = this.buf[o + 4]!;
    if (len > MAX_FRAME_PAYLOAD) {
      this.problem = 'oversized';
      return null;
    }
    const total = FRAME_HEAD + len + HASH_LEN;
    if (!(await this.fill(this.pos + total))) {
      this.problem = 'truncated';
      return null;
    }
    const p = this.pos - this.bufStart;
    // copies, so that frames outlive the buffer
    const payload = Buffer.from(this.buf.subarray(p + FRAME_HEAD, p + FRAME_HEAD + len));
    const hash = Buffer.from(this.buf.subarray(p + FRAME_HEAD + len, p + total));
    const f: RawFrame = { type, payload, hash, offset: this.pos, length: total };
    this.pos += total;
    this.goodEnd = this.pos;
    return f;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
