/**
 * A cipher stream over large chunks without the allocator's page churn. Node's `Cipher.update` answers in a
 * new zero-filled buffer — for AES-GCM two: its first guess is a byte too long and is copied into a second.
 * jemalloc (which serving processes preload, docs/operations.md) zeroes a large (> 14 KiB) allocation it
 * reuses by handing its pages back to the kernel (`MADV_DONTNEED`), so every page is faulted in again: on a
 * 2-core server AES-256-GCM ran at 860–950 MiB/s over 16 KiB–1 MiB updates and at 2,080–2,370 over 12 KiB
 * ones, whose buffers come from its small size classes, reused and zeroed in cache. glibc's malloc keeps large
 * buffers in its heap once its thresholds have adapted, and there any slicing costs more in calls than it saves
 * (the vault's 100 MB objects in 1 MiB chunks: 2,510–2,520 MB/s whole, 2,020–2,170 in 64 KiB slices): a chunk
 * goes whole. docs/PERFORMANCE.md (exchange, session 28) has the measurements.
 */
import { readFileSync } from 'node:fs';

/** Bytes given to a cipher's `update` at a time where jemalloc is the allocator. */
export const CIPHER_SLICE = 12 * 1024;
/** … and under any other (glibc's): whole chunks. */
export const CIPHER_SLICE_OTHER = Number.POSITIVE_INFINITY;

let slice: number | undefined;

/** The slice for this process's allocator: jemalloc is seen among the mapped libraries (Linux), or not. */
export function cipherSliceBytes(): number {
  if (slice === undefined) {
    let jemalloc = false;
    try {
      jemalloc = readFileSync('/proc/self/maps', 'latin1').includes('jemalloc');
    } catch {
      // not Linux: no /proc, and no preloaded jemalloc either
    }
    slice = jemalloc ? CIPHER_SLICE : CIPHER_SLICE_OTHER;
  }
  return slice;
}

/** What `cipherSlices` needs of a cipher: node's Cipher and Decipher, or a stream shaped like them. */
export interface UpdatingCipher {
  update(data: Uint8Array): Buffer;
}

/** The answers of `c.update` over `chunk`, `size` bytes at a time (an answer may be empty). */
export function* cipherSlices(c: UpdatingCipher, chunk: Uint8Array, size = cipherSliceBytes()): Generator<Buffer> {
  if (chunk.length <= size) {
    yield c.update(chunk);
    return;
  }
  for (let at = 0; at < chunk.length; at += size) yield c.update(chunk.subarray(at, at + size));
}
