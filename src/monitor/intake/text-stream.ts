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

/** Reads `body` as UTF-8 into `write` in slices, refusing it past `max` bytes (or a declared length over it). */
export async function readTextInSlices(
  body: AsyncIterable<Uint8Array | string>,
  write: (text: string) => void,
  o: { max: number; declaredLength?: number | undefined; what: string },
): Promise<void> {
  if (o.declaredLength !== undefined && o.declaredLength > o.max) tooLargeBody(o.what, o.max);
  const slicer = new Slicer(write);
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
