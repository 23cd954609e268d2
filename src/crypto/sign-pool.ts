/**
 * A pool of signing threads for software keys. Bulk issuance hands it a batch of messages; the pool splits
 * it over its workers and gives back the signatures in order. The private key travels to the workers once,
 * inside the process, when a batch signer is made; it never leaves the process.
 */
import { Worker } from 'node:worker_threads';
import { constants, type KeyObject } from 'node:crypto';
import { SCHEMES, type SignatureScheme } from './algorithms.js';

interface Waiting {
  resolve: (sigs: Buffer[]) => void;
  reject: (e: Error) => void;
}

/** Messages laid end to end in one fresh buffer, with n + 1 offsets. */
export function pack(items: readonly Uint8Array[]): { data: Uint8Array<ArrayBuffer>; offsets: Uint32Array<ArrayBuffer> } {
  const offsets = new Uint32Array(items.length + 1);
  for (let i = 0; i < items.length; i++) offsets[i + 1] = offsets[i] + items[i].byteLength;
  const data = new Uint8Array(offsets[items.length]);
  for (let i = 0; i < items.length; i++) data.set(items[i], offsets[i]);
  return { data, offsets };
}

/** The messages of a packed buffer, as views on it. */
export function unpack(data: Uint8Array, offsets: Uint32Array): Buffer[] {
  const out = new Array<Buffer>(offsets.length - 1);
  for (let i = 0; i < out.length; i++)
    out[i] = Buffer.from(data.buffer, data.byteOffset + offsets[i], offsets[i + 1] - offsets[i]);
  return out;
}

export class SignPool {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, Waiting>();
  private seq = 0;
  private next = 0;
  private readonly loaded = new Set<string>();

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL('./sign-worker.mjs', import.meta.url));
      w.unref();
      w.on('message', (m: { seq: number; data?: Uint8Array; offsets?: Uint32Array; error?: string }) => {
        const h = this.waiting.get(m.seq);
        if (!h) return;
        this.waiting.delete(m.seq);
        if (m.error) h.reject(new Error(m.error));
        else h.resolve(unpack(m.data!, m.offsets!));
      });
      w.on('error', (e) => {
        for (const h of this.waiting.values()) h.reject(e);
        this.waiting.clear();
      });
      this.workers.push(w);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** Sends the key to every worker (once per key and scheme). */
  load(id: string, key: KeyObject, scheme: SignatureScheme): string {
    const handle = `${id}/${scheme}`;
    if (this.loaded.has(handle)) return handle;
    const info = SCHEMES[scheme];
    const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
    const msg = {
      type: 'key',
      id: handle,
      pkcs8,
      hash: info.hash,
      padding:
        info.family === 'rsa-pss'
          ? constants.RSA_PKCS1_PSS_PADDING
          : info.family === 'rsa-pkcs1'
            ? constants.RSA_PKCS1_PADDING
            : 0,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    };
    for (const w of this.workers) w.postMessage(msg);
    pkcs8.fill(0);
    this.loaded.add(handle);
    return handle;
  }

  private ask(w: Worker, id: string, items: Uint8Array[]): Promise<Buffer[]> {
    return new Promise((resolve, reject) => {
      const seq = ++this.seq;
      this.waiting.set(seq, { resolve, reject });
      // one buffer and its offsets, moved rather than copied: a message of many small views would clone
      // each view's whole backing store (an 8 KiB pool slab for most small Buffers)
      const { data, offsets } = pack(items);
      w.postMessage({ type: 'sign', seq, id, data, offsets }, [data.buffer, offsets.buffer]);
    });
  }

  /** Signs `items` in order, spread over the workers in contiguous chunks. */
  async sign(handle: string, items: Uint8Array[]): Promise<Buffer[]> {
    if (items.length === 0) return [];
    const n = Math.min(this.workers.length, Math.ceil(items.length / 32));
    const per = Math.ceil(items.length / n);
    const parts: Promise<Buffer[]>[] = [];
    for (let i = 0; i < n; i++) {
      const w = this.workers[this.next++ % this.workers.length];
      parts.push(this.ask(w, handle, items.slice(i * per, (i + 1) * per)));
    }
    return (await Promise.all(parts)).flat();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
