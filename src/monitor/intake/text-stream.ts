/**
 * A request body read as UTF-8 text in slices, for the intakes that parse as bytes arrive (Windows XML,
 * JSON batches): a declared length over the bound is refused before a byte is read, the bytes are counted
 * as they come, and the event loop is given back whenever a slice of parsing ran long — so a hostile body
 * is refused after reading no more than the bound, and never holds other callers for long.
 */
import { TrucError } from '../../errors.js';

const SLICE_CHARS = 64 * 1024;
const SLICE_MS = 8;

/** Hands text to `write` in slices, yielding to the event loop when the current slice ran past SLICE_MS. */
export class Slicer {
  private slice = performance.now();
  constructor(private readonly write: (text: string) => void) {}
  async feed(text: string): Promise<void> {
    for (let at = 0; at < text.length; at += SLICE_CHARS) {
      this.write(text.slice(at, at + SLICE_CHARS));
      if (performance.now() - this.slice > SLICE_MS) {
        await new Promise<void>((r) => setImmediate(r));
        this.slice = performance.now();
      }
    }
  }
}

/** A body over `max` bytes, in the words of the format that refused it. */
export function tooLargeBody(what: string, max: number): never {
  throw new TrucError('too_large', `${what} lớn quá ${max} byte (${what} larger than ${max} bytes)`, { max });
}

interface FlowingBody {
  on(e: 'data', f: (c: Uint8Array | string) => void): unknown;
  on(e: 'end', f: () => void): unknown;
  on(e: 'error', f: (err: Error) => void): unknown;
  off(e: string, f: (...a: never[]) => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

const isFlowing = (b: unknown): b is FlowingBody =>
  typeof (b as FlowingBody).on === 'function' && typeof (b as FlowingBody).pause === 'function' && typeof (b as FlowingBody).resume === 'function';

/**
 * A stream read in order, each piece fed to `feed` before the next is taken. On a refusal a request's body
 * is not destroyed — iterating it with for-await would, and a destroyed request takes its socket with it,
 * so the 413 was never written — but left flowing with no listener: Node drops the rest of the body while
 * the answer is written (Fastify then closes the connection). Any other stream (a file) is destroyed.
 */
function readFlowing(body: FlowingBody, feed: (chunk: Uint8Array | string) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const queue: (Uint8Array | string)[] = [];
    let ended = false;
    let busy = false;
    let settled = false;
    const stop = (e?: unknown) => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      if (e === undefined) return resolve();
      // a request's body is left to flow (its answer must reach the caller); a file is simply closed
      if ('headers' in body) body.resume();
      else (body as { destroy?: () => void }).destroy?.();
      reject(e);
    };
    const drain = async () => {
      if (busy) return;
      busy = true;
      try {
        while (queue.length && !settled) {
          body.pause();
          await feed(queue.shift()!);
          if (!settled) body.resume();
        }
        if (ended && !queue.length) stop();
      } catch (e) {
        stop(e);
      } finally {
        busy = false;
      }
    };
    const onData = (c: Uint8Array | string) => {
      queue.push(c);
      void drain();
    };
    const onEnd = () => {
      ended = true;
      void drain();
    };
    const onError = (err: Error) => stop(err);
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.resume();
  });
}

/** Reads `body` as UTF-8 into `write` in slices, refusing it past `max` bytes (or a declared length over it). */
export async function readTextInSlices(
  body: AsyncIterable<Uint8Array | string>,
  write: (text: string) => void,
  o: { max: number; declaredLength?: number | undefined; what: string },
): Promise<void> {
  if (o.declaredLength !== undefined && o.declaredLength > o.max) tooLargeBody(o.what, o.max);
  const slicer = new Slicer(write);
  if (isFlowing(body)) {
    const utf8 = new TextDecoder('utf-8');
    let bytes = 0;
    await readFlowing(body, async (chunk) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      bytes += b.length;
      if (bytes > o.max) tooLargeBody(o.what, o.max);
      await slicer.feed(utf8.decode(b, { stream: true }));
    });
    await slicer.feed(utf8.decode());
    return;
  }
  const utf8 = new TextDecoder('utf-8');
  let bytes = 0;
  for await (const chunk of body) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    bytes += b.length;
    if (bytes > o.max) tooLargeBody(o.what, o.max);
    await slicer.feed(utf8.decode(b, { stream: true }));
  }
  await slicer.feed(utf8.decode());
}
