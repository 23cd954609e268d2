/**
 * A message body on its way through: kept in memory while small and spooled through the message log's spool
 * once it outgrows the inline limit, so memory stays bounded whatever its size. It is hashed once: a small
 * body whole at the end, a spooled one by the spool as it writes (the spool hashes every byte it is given,
 * and it is given every byte, the ones held in memory first).
 *
 * A spooled body is also held in memory (the chunks as they came, not copied) while the server's budget for
 * such bodies allows: it is then delivered from memory once logged, and the log's file is written once and
 * never read back (nor decrypted) on the message path. Past the budget a body is delivered from its file.
 */
import { Readable, type Writable } from 'node:stream';
import { TrucError } from '../../errors.js';
import type { BodySpool, MessageLogApi, SpooledBody } from '../log/types.js';
import { bodyHash as hashBody } from '../log/format.js';
import type { MimeParts } from './mime-parts.js';
import { FRAME_BODY, MAX_CHUNK_BYTES, frameHead } from './message.js';
import { writeFrame } from './write.js';

/** Bytes of spooled bodies held in memory for delivery, across one server: memory stays bounded under any load. */
export class BodyMemory {
  used = 0;
  constructor(readonly max: number) {}
  take(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
}

export interface CollectedBody {
  hash: Buffer;
  length: number;
  body: Buffer | SpooledBody;
  /** a spooled body's bytes, when they were also held in memory (deliver these, then `release`) */
  held?: Buffer[];
  /** gives the held bytes back to the server's budget (idempotent) */
  release(): void;
}

const noop = () => {};

export class BodyCollector {
  private chunks: Buffer[] = [];
  private length = 0;
  private spool: BodySpool | null = null;
  private held: Buffer[] | null = null;
  private heldBytes = 0;

  constructor(
    private readonly log: MessageLogApi,
    private readonly inlineLimit: number,
    private readonly maxBytes: number,
    private readonly memory?: BodyMemory,
  ) {}

  get size(): number {
    return this.length;
  }

  async add(chunk: Buffer): Promise<void> {
    this.length += chunk.length;
    if (this.length > this.maxBytes) throw new TrucError('too_large', `the message body exceeds ${this.maxBytes} bytes`, { limit: this.maxBytes });
    if (!this.spool && this.length <= this.inlineLimit) {
      this.chunks.push(chunk);
      return;
    }
    if (!this.spool) {
      this.spool = this.log.spool();
      if (this.memory?.take(this.length)) {
        this.held = this.chunks.slice();
        this.heldBytes = this.length;
        this.held.push(chunk);
      }
      for (const c of this.chunks) await this.spool.write(c);
      this.chunks = [];
      await this.spool.write(chunk);
      return;
    }
    if (this.held) {
      if (this.memory!.take(chunk.length)) {
        this.held.push(chunk);
        this.heldBytes += chunk.length;
      } else this.drop();
    }
    await this.spool.write(chunk);
  }

  private drop(): void {
    if (this.heldBytes) this.memory?.give(this.heldBytes);
    this.held = null;
    this.heldBytes = 0;
  }

  async finish(): Promise<CollectedBody> {
    if (this.spool) {
      const s = await this.spool.finish();
      this.spool = null;
      const held = this.held;
      const bytes = this.heldBytes;
      this.held = null;
      this.heldBytes = 0;
      if (!held) return { hash: s.hash, length: this.length, body: s, release: noop };
      let given = false;
      return {
        hash: s.hash,
        length: this.length,
        body: s,
        held,
        release: () => {
          if (given) return;
          given = true;
          this.memory?.give(bytes);
        },
      };
    }
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.length);
    this.chunks = [];
    return { hash: hashBody(body), length: this.length, body, release: noop };
  }

  async discard(): Promise<void> {
    this.chunks = [];
    this.drop();
    const s = this.spool;
    this.spool = null;
    if (s) await s.discard().catch(() => {});
  }
}

/** The body's bytes for delivery: from memory when held, else read back from the log (decrypted). */
export function bodyStream(b: Buffer | SpooledBody, held?: Buffer[]): Readable {
  if (held) return Readable.from(held, { objectMode: false });
  return Buffer.isBuffer(b) ? Readable.from(b.length ? [b] : []) : b.open();
}

/**
 * Forwards a body to the other server as body frames of at most MAX_CHUNK_BYTES while `collector` spools
 * it: each chunk is written (its frame head in the same write) and collected at the same time, so the
 * network and the disk each take their turn once. `parts` counts a SOAP message's attachments as they pass.
 */
export async function forwardFramed(src: AsyncIterable<Buffer | Uint8Array>, out: Writable, who: string, collector: BodyCollector, parts?: MimeParts | null): Promise<void> {
  for await (const c of src) {
    const chunk = c as Buffer;
    parts?.feed(chunk);
    for (let off = 0; off < chunk.length; off += MAX_CHUNK_BYTES) {
      const part = off === 0 && chunk.length <= MAX_CHUNK_BYTES ? chunk : chunk.subarray(off, off + MAX_CHUNK_BYTES);
      const sent = writeFrame(out, frameHead(FRAME_BODY, part.length), part, who);
      sent.catch(() => {});
      await collector.add(part);
      await sent;
    }
  }
}
