/**
 * Writing a list of buffers at a position with `writev`, whatever the kernel takes in one call: at most 1,024
 * buffers a call (IOV_MAX), and after a partial write what went out is dropped and the rest written — one
 * pass, no gathering copy. Used by the log's segments and by the body spools.
 */
import type { FileHandle } from 'node:fs/promises';

export async function writeAll(fh: FileHandle, bufs: Buffer[], position: number): Promise<void> {
  let pos = position;
  let rest = bufs;
  while (rest.length) {
    const total = rest.reduce((n, b) => n + b.length, 0);
    const { bytesWritten } = await fh.writev(rest.slice(0, 1024), pos);
    pos += bytesWritten;
    if (bytesWritten === total) return;
    // partial write: drop what went out and go on
    let skip = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      next.push(skip ? b.subarray(skip) : b);
      skip = 0;
    }
    rest = next;
  }
}
