/**
 * The framed channel between security servers: the same signed, framed messages as over HTTP/1.1
 * (`./message.ts`), written straight onto the mutually authenticated TLS connection, without an HTTP
 * request, response, parser or agent around each one. Chosen by ALPN: a consumer offers `truc/1` and
 * `http/1.1`; a provider that knows the channel picks `truc/1`, an older one `http/1.1` (or nothing), and
 * the message then goes as before — so servers of either kind keep talking.
 *
 * On a connection, one exchange at a time: the consumer sends a request message and reads the answer before
 * it sends the next. A message is
 *
 *   [L] [M] H B* (S | X)       a request or response; L (4 bytes: the length of the rest) when it is sent
 *                              whole, so the receiver reads it in one piece, as HTTP's Content-Length did
 *   E                          a refusal instead of a response: the problem document (JSON) the HTTP
 *                              answer's body would have been
 *
 * The reader walks frame heads only to find where a message ends (S, X or E completes it); the frames
 * themselves are checked by the message's own reader. A streamed message is handed on as a Readable with
 * the socket's back-pressure; a whole one as one buffer (a slice of the socket's chunk when it came in one).
 */
import type { TLSSocket } from 'node:tls';
import { Readable } from 'node:stream';
import { TrucError } from '../../errors.js';
import { FRAME_ABORT, FRAME_SIGNATURE, MAX_HEADER_BYTES } from './message.js';

export const ALPN_FRAMED = 'truc/1';
/** 'L': the message that follows is sent whole; payload u32 length of the rest of the message */
export const FRAME_LENGTH = 0x4c;
/** 'E': a refusal in place of a response; payload the problem document */
export const FRAME_ERROR = 0x45;

export type Inbound = { kind: 'whole'; bytes: Buffer } | { kind: 'stream'; stream: Readable } | { kind: 'error'; problem: Buffer };

/** `L` frame announcing a whole message of `length` bytes. */
export function lengthFrame(length: number): Buffer {
  const b = Buffer.allocUnsafe(9);
  b[0] = FRAME_LENGTH;
  b.writeUInt32BE(4, 1);
  b.writeUInt32BE(length, 5);
  return b;
}

type Reading =
  | null
  /** the first frame's head, not yet complete */
  | { kind: 'start'; head: Buffer; have: number }
  | { kind: 'whole'; parts: Buffer[]; have: number; length: number }
  | { kind: 'error'; parts: Buffer[]; have: number; length: number }
  | { kind: 'stream'; stream: Readable; head: Buffer; headHave: number; type: number; left: number };

/**
 * Messages arriving on one framed connection, in order. `next()` gives the next message (null once the
 * connection has closed between messages); a connection that closes inside a message fails that message's
 * stream, or `next()` with `peer_failed`.
 */
export class FramedReader {
  private reading: Reading = null;
  private ready: Inbound[] = [];
  private waiter: { resolve: (m: Inbound | null) => void; reject: (e: Error) => void } | null = null;
  private ended: Error | null | undefined = undefined;
  private broken: Error | null = null;

  constructor(
    readonly socket: TLSSocket,
    private readonly maxWhole: number,
  ) {
    socket.on('data', (c: Buffer) => {
      try {
        this.take(c);
      } catch (e) {
        // a peer that breaks the framing: the connection ends, and its reader says why
        this.broken = e as Error;
        socket.destroy();
      }
    });
    const end = (err?: Error) => {
      if (this.ended !== undefined) return;
      const mid = this.reading !== null;
      this.ended = this.broken ?? (mid ? (err instanceof TrucError ? err : new TrucError('peer_failed', `the connection closed in the middle of a message${err ? `: ${err.message}` : ''}`)) : null);
      const r = this.reading;
      this.reading = null;
      if (r?.kind === 'stream') r.stream.destroy(this.ended!);
      this.settle();
    };
    socket.on('end', () => end());
    socket.on('close', () => end());
    socket.on('error', (e) => end(e));
  }

  /** A message is being received (its end not seen yet). */
  get midMessage(): boolean {
    return this.reading !== null;
  }

  next(): Promise<Inbound | null> {
    const m = this.ready.shift();
    if (m) return Promise.resolve(m);
    if (this.ended !== undefined) return this.ended ? Promise.reject(this.ended) : Promise.resolve(null);
    if (this.waiter) return Promise.reject(new TrucError('internal', 'a framed connection has one reader at a time'));
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  private deliver(m: Inbound): void {
    this.ready.push(m);
    this.settle();
  }

  private settle(): void {
    const w = this.waiter;
    if (!w) return;
    const m = this.ready.shift();
    if (m) {
      this.waiter = null;
      w.resolve(m);
    } else if (this.ended !== undefined) {
      this.waiter = null;
      if (this.ended) w.reject(this.ended);
      else w.resolve(null);
    }
  }

  private take(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      const r = this.reading;
      if (r === null || r.kind === 'start') {
        // the first frame's head decides what the message is
        let t: number;
        let len: number;
        if (r === null && chunk.length - off >= 5) {
          t = chunk[off]!;
          len = chunk.readUInt32BE(off + 1);
          off += 5;
        } else {
          const s = r ?? { kind: 'start' as const, head: Buffer.allocUnsafe(5), have: 0 };
          const n = Math.min(5 - s.have, chunk.length - off);
          chunk.copy(s.head, s.have, off, off + n);
          s.have += n;
          off += n;
          if (s.have < 5) {
            this.reading = s;
            return;
          }
          t = s.head[0]!;
          len = s.head.readUInt32BE(1);
        }
        this.reading = null;
        if (t === FRAME_LENGTH) {
          if (len !== 4) throw new TrucError('bad_message', 'a length frame holds 4 bytes');
          // the 4 length bytes may straddle chunks: read them as the start of a 'whole' of unknown length
          if (chunk.length - off >= 4) {
            const length = chunk.readUInt32BE(off);
            off += 4;
            off = this.startWhole(chunk, off, length);
          } else {
            this.reading = { kind: 'whole', parts: [chunk.subarray(off)], have: chunk.length - off, length: -1 };
            off = chunk.length;
          }
          continue;
        }
        if (t === FRAME_ERROR) {
          if (len > MAX_HEADER_BYTES) throw new TrucError('bad_message', `a refusal of ${len} bytes exceeds ${MAX_HEADER_BYTES}`);
          this.reading = { kind: 'error', parts: [], have: 0, length: len };
          continue;
        }
        // a streamed message: the stream gets the head just read, then everything up to its end
        // a larger buffer than the default 16 KiB: fewer pauses of the socket for a body of many TLS records
        const stream = new Readable({ highWaterMark: 256 * 1024, read: () => this.socket.resume() });
        // a message refused before it was read has no reader: its failure when the connection goes must not
        // be an unhandled 'error' (a reader, when there is one, still gets it through its own listener)
        stream.on('error', () => {});
        const head = Buffer.allocUnsafe(5);
        head[0] = t;
        head.writeUInt32BE(len, 1);
        this.reading = { kind: 'stream', stream, head: Buffer.allocUnsafe(5), headHave: 0, type: t, left: len };
        this.deliver({ kind: 'stream', stream });
        if (!stream.push(head)) this.socket.pause();
        if (len === 0) off = this.frameDone(off);
        continue;
      }
      if (r.kind === 'whole' || r.kind === 'error') {
        if (r.kind === 'whole' && r.length < 0) {
          // still reading the length itself
          const n = Math.min(4 - r.have, chunk.length - off);
          r.parts.push(chunk.subarray(off, off + n));
          r.have += n;
          off += n;
          if (r.have < 4) continue;
          const length = Buffer.concat(r.parts, 4).readUInt32BE(0);
          this.reading = null;
          off = this.startWhole(chunk, off, length);
          continue;
        }
        const n = Math.min(r.length - r.have, chunk.length - off);
        r.parts.push(chunk.subarray(off, off + n));
        r.have += n;
        off += n;
        if (r.have === r.length) {
          this.reading = null;
          const bytes = r.parts.length === 1 ? r.parts[0]! : Buffer.concat(r.parts, r.length);
          this.deliver(r.kind === 'whole' ? { kind: 'whole', bytes } : { kind: 'error', problem: bytes });
        }
        continue;
      }
      // streaming: walk frame heads to find the end, pass the bytes on as they are
      if (r.left > 0) {
        const n = Math.min(r.left, chunk.length - off);
        if (!r.stream.push(chunk.subarray(off, off + n))) this.socket.pause();
        r.left -= n;
        off += n;
        if (r.left === 0) off = this.frameDone(off);
        continue;
      }
      const n = Math.min(5 - r.headHave, chunk.length - off);
      chunk.copy(r.head, r.headHave, off, off + n);
      if (!r.stream.push(chunk.subarray(off, off + n))) this.socket.pause();
      r.headHave += n;
      off += n;
      if (r.headHave < 5) continue;
      r.headHave = 0;
      r.type = r.head[0]!;
      r.left = r.head.readUInt32BE(1);
      if (r.left === 0) off = this.frameDone(off);
    }
  }

  /** A whole message of `length` bytes starts at `off`: a slice when the chunk holds it all. */
  private startWhole(chunk: Buffer, off: number, length: number): number {
    if (length > this.maxWhole) throw new TrucError('bad_message', `a whole message of ${length} bytes exceeds ${this.maxWhole}; larger ones stream`);
    if (chunk.length - off >= length) {
      this.deliver({ kind: 'whole', bytes: chunk.subarray(off, off + length) });
      return off + length;
    }
    this.reading = { kind: 'whole', parts: [chunk.subarray(off)], have: chunk.length - off, length };
    return chunk.length;
  }

  /** The current frame of a streamed message is complete: a signature or abort frame ends the message. */
  private frameDone(off: number): number {
    const r = this.reading;
    if (r?.kind !== 'stream') return off;
    if (r.type === FRAME_SIGNATURE || r.type === FRAME_ABORT) {
      this.reading = null;
      r.stream.push(null);
      // the ended stream asks for nothing more: the next message must not wait on it
      this.socket.resume();
    }
    return off;
  }
}
