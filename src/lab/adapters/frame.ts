/**
 * The framing of the stdio product protocol (docs/lab-protocol.md): each message is a 4-byte big-endian
 * length followed by that many bytes of UTF-8 JSON. A reader refuses frames over a bound so a confused or
 * hostile product cannot make the lab buffer without limit.
 */
export const MAX_FRAME = 16 * 1024 * 1024;

export function encodeFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  if (body.length > MAX_FRAME) throw new Error(`frame of ${body.length} bytes exceeds ${MAX_FRAME}`);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** Accumulates stream chunks and returns the complete JSON messages they finish. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly max = MAX_FRAME) {}

  push(chunk: Buffer): unknown[] {
    this.chunks.push(chunk);
    this.size += chunk.length;
    const out: unknown[] = [];
    for (;;) {
      if (this.size < 4) break;
      const buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
      this.chunks = [buf];
      const len = buf.readUInt32BE(0);
      if (len > this.max) throw new Error(`frame of ${len} bytes exceeds ${this.max}`);
      if (buf.length < 4 + len) break;
      out.push(JSON.parse(buf.subarray(4, 4 + len).toString('utf8')));
      const rest = buf.subarray(4 + len);
      this.chunks = rest.length ? [rest] : [];
      this.size = rest.length;
    }
    return out;
  }
}
