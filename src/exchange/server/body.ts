/**
 * A message body on its way through: kept in memory while small and spooled through the message log's spool
 * once it outgrows the inline limit, so memory stays bounded whatever its size. It is hashed once: a small
 * body whole at the end, a spooled one by the spool as it writes (the spool hashes every byte it is given,
 * and it is given every byte, the ones held in memory first).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { TrucError } from '../../errors.js';
import type { BodySpool, MessageLogApi, SpooledBody } from '../log/types.js';

export interface CollectedBody {
  hash: Buffer;
  length: number;
  body: Buffer | SpooledBody;
}

export class BodyCollector {
  private chunks: Buffer[] = [];
  private length = 0;
  private spool: BodySpool | null = null;

  constructor(
    private readonly log: MessageLogApi,
    private readonly inlineLimit: number,
    private readonly maxBytes: number,
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
      for (const c of this.chunks) await this.spool.write(c);
      this.chunks = [];
    }
    await this.spool.write(chunk);
  }

  async finish(): Promise<CollectedBody> {
    if (this.spool) {
      const s = await this.spool.finish();
      this.spool = null;
      return { hash: s.hash, length: this.length, body: s };
    }
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.length);
    this.chunks = [];
    return { hash: createHash('sha256').update(body).digest(), length: this.length, body };
  }

  async discard(): Promise<void> {
    this.chunks = [];
    const s = this.spool;
    this.spool = null;
    if (s) await s.discard().catch(() => {});
  }
}

export function bodyStream(b: Buffer | SpooledBody): Readable {
  return Buffer.isBuffer(b) ? Readable.from(b.length ? [b] : []) : b.open();
}
