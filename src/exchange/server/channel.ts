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
 *
 * `truc/2` is `truc/1` with confirmations. A message sent whole may go out as soon as it is signed, while
 * its sender's log writes it: it is then preceded by P, and followed by one frame from its sender once that
 * write is over —
 *
 *   P [L] M? H B* S            (P empty) this whole message is not yet in its sender's log
 *   D                          (empty) the message marked P is in the sender's message log, on disk
 *   X                          the sender could not log it (payload: the error's code); it is void
 *
 * The receiver checks the message and logs it meanwhile, and gives it to its information system (or client)
 * only after D: nothing reaches an information system before both servers hold it, as with `truc/1`, but the
 * two durable writes of the message overlap instead of following each other. A message without P is in its
 * sender's log already, as every message of `truc/1`: streamed ones always, whole ones when the sender is busy
 * (a confirmation is one more write and read on each side, which a loaded server spends better elsewhere).
 */
import type { TLSSocket } from 'node:tls';
import { Readable } from 'node:stream';
import { TrucError, isTrucError } from '../../errors.js';
import { FRAME_ABORT, FRAME_SIGNATURE, MAX_HEADER_BYTES, frame } from './message.js';

export const ALPN_FRAMED = 'truc/1';
/** the framed channel with confirmations of whole messages (D or X after each) */
export const ALPN_FRAMED_CONFIRMED = 'truc/2';
/** 'D': the whole message just sent is in its sender's message log; empty */
export const FRAME_DURABLE = 0x44;
/** 'P': the whole message that follows is not yet in its sender's log (D or X will say); empty */
export const FRAME_PENDING = 0x50;
/** 'L': the message that follows is sent whole; payload u32 length of the rest of the message */
export const FRAME_LENGTH = 0x4c;
/** 'E': a refusal in place of a response; payload the problem document */
export const FRAME_ERROR = 0x45;

export type Inbound =
  /** `pending`: sent while its sender logs it (truc/2, after P): D or X follows */
  | { kind: 'whole'; bytes: Buffer; pending?: boolean }
  | { kind: 'stream'; stream: Readable }
  | { kind: 'error'; problem: Buffer }
  /** truc/2: the sender's word on the whole message it sent last (`code`: why it could not log it) */
  | { kind: 'confirm'; code?: string };

/** P: the whole message after it is not yet in its sender's log */
export const PENDING_FRAME = frame(FRAME_PENDING, Buffer.alloc(0));
const DURABLE_FRAME = frame(FRAME_DURABLE, Buffer.alloc(0));

/** The sender's word on the pending message it sent last: D, or X with the code of why its log could not take it (void). */
export function confirmationFrame(code?: string): Buffer {
  return code ? frame(FRAME_ABORT, Buffer.from(code.slice(0, 64), 'utf8')) : DURABLE_FRAME;
}

/** `L` frame announcing a whole message of `length` bytes. */
export function lengthFrame(length: number): Buffer {
  const b = Buffer.allocUnsafe(9);
  b[0] = FRAME_LENGTH;
  b.writeUInt32BE(4, 1);
  b.writeUInt32BE(length, 5);
  return b;
}

/** how long a receiver waits for the sender's confirmation of a whole message (its log's write) */
export const CONFIRM_WAIT_MS = 30_000;

/**
 * truc/2: the sender's confirmation of the whole message just read from `reader` — resolves on D; on X the
 * message is void (`log_failure` with `voided`, the sender's log could not hold it: the connection is clean for
 * the next message); a connection that ends, anything else
 * in its place, or nothing within `ms` is the sender's failure (`peer_failed`; the connection is closed).
 */
export async function confirmation(reader: FramedReader, sender: { en: string; vi: string }, origin: 'provider' | 'consumer', ms = CONFIRM_WAIT_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let m: Inbound | null;
  try {
    m = await Promise.race([
      reader.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TrucError('peer_failed', `${sender.en} did not confirm within ${ms} ms that it logged the message`, { reason_vi: `${sender.vi} không xác nhận đã ghi nhật ký thông điệp trong ${ms} ms` })), ms);
      }),
    ]);
  } catch (e) {
    reader.socket.destroy();
    throw isTrucError(e) && e.code === 'peer_failed' ? e : new TrucError('peer_failed', `${sender.en} went away before confirming that it logged the message: ${(e as Error).message}`, { reason_vi: `${sender.vi} ngắt kết nối trước khi xác nhận đã ghi nhật ký thông điệp` });
  } finally {
    clearTimeout(timer);
  }
  if (m?.kind === 'confirm' && !m.code) return;
  if (m?.kind === 'confirm')
    throw new TrucError('log_failure', `${sender.en} could not log the message (${m.code}): it is void`, { origin, voided: true, reason_vi: `${sender.vi} không ghi được thông điệp vào nhật ký (${m.code}): thông điệp bị hủy` });
  reader.socket.destroy();
  throw new TrucError('peer_failed', `${sender.en} ${m ? 'sent another message' : 'closed the connection'} instead of confirming that it logged the message`, { reason_vi: `${sender.vi} không xác nhận đã ghi nhật ký thông điệp` });
}

type Reading =
  | null
  /** the first frame's head, not yet complete */
  | { kind: 'start'; head: Buffer; have: number }
  | { kind: 'whole'; parts: Buffer[]; have: number; length: number }
  | { kind: 'error'; parts: Buffer[]; have: number; length: number }
  | { kind: 'void'; parts: Buffer[]; have: number; length: number }
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
  /** truc/2: a P frame was read; the whole message after it is pending */
  private pendingNext = false;

  constructor(
    readonly socket: TLSSocket,
    private readonly maxWhole: number,
    /** truc/2: D and X frames between messages are the sender's confirmations */
    readonly confirmed = false,
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
      // a connection ended on purpose with a reason (silent too long while an answer was awaited) says so: it
      // is not a peer that closed between messages, whose request may be sent again
      this.ended = this.broken ?? (err instanceof TrucError ? err : mid ? new TrucError('peer_failed', `the connection closed in the middle of a message${err ? `: ${err.message}` : ''}`) : null);
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
        if (this.confirmed && t === FRAME_PENDING) {
          if (len !== 0 || this.pendingNext) throw new TrucError('bad_message', 'a pending frame is empty and comes once before a whole message');
          this.pendingNext = true;
          continue;
        }
        if (this.pendingNext && t !== FRAME_LENGTH) throw new TrucError('bad_message', 'a pending frame comes only before a whole message');
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
        if (this.confirmed && t === FRAME_DURABLE) {
          if (len !== 0) throw new TrucError('bad_message', 'a confirmation frame is empty');
          this.deliver({ kind: 'confirm' });
          continue;
        }
        if (this.confirmed && t === FRAME_ABORT) {
          if (len > 64 * 4) throw new TrucError('bad_message', `a void frame of ${len} bytes is too long`);
          if (len === 0) this.deliver({ kind: 'confirm', code: 'log_failure' });
          else this.reading = { kind: 'void', parts: [], have: 0, length: len };
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
      if (r.kind === 'whole' || r.kind === 'error' || r.kind === 'void') {
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
          this.deliver(r.kind === 'whole' ? this.wholeMessage(bytes) : r.kind === 'error' ? { kind: 'error', problem: bytes } : { kind: 'confirm', code: bytes.toString('utf8').replace(/[^a-z_]/g, '').slice(0, 64) || 'log_failure' });
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

  private wholeMessage(bytes: Buffer): Inbound {
    if (!this.pendingNext) return { kind: 'whole', bytes };
    this.pendingNext = false;
    return { kind: 'whole', bytes, pending: true };
  }

  /** A whole message of `length` bytes starts at `off`: a slice when the chunk holds it all. */
  private startWhole(chunk: Buffer, off: number, length: number): number {
    if (length > this.maxWhole) throw new TrucError('bad_message', `a whole message of ${length} bytes exceeds ${this.maxWhole}; larger ones stream`);
    if (chunk.length - off >= length) {
      this.deliver(this.wholeMessage(chunk.subarray(off, off + length)));
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
