/**
 * Writing to a socket-backed stream with back-pressure: waiting for 'drain' alone hangs for ever when the
 * other side dies mid-transfer (a killed peer, a client gone), since a destroyed stream never drains.
 */
import type { Writable } from 'node:stream';
import { TrucError } from '../../errors.js';

/** Writes `chunk`; when the buffer is full, waits for 'drain', and fails if the stream closes or errs first. */
export function writeChunk(out: Writable, chunk: Buffer, who: string): Promise<void> {
  if (out.destroyed || out.writableEnded) return Promise.reject(new TrucError('peer_failed', `${who} đã đóng kết nối / closed the connection`));
  if (out.write(chunk)) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      out.off('error', onError);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new TrucError('peer_failed', `${who} đã đóng kết nối giữa chừng / closed the connection mid-transfer`));
    const onError = (e: Error) => done(e instanceof TrucError ? e : new TrucError('peer_failed', `${who}: ${e.message}`));
    out.on('drain', onDrain);
    out.on('close', onClose);
    out.on('error', onError);
  });
}

/**
 * Writes a frame's 5-byte head and its payload in one go (corked: one socket write, one run of TLS records,
 * rather than a 5-byte record of its own), with the back-pressure of `writeChunk`.
 */
export function writeFrame(out: Writable, head: Buffer, payload: Buffer, who: string): Promise<void> {
  if (out.destroyed || out.writableEnded) return writeChunk(out, payload, who);
  out.cork();
  out.write(head);
  const p = writeChunk(out, payload, who);
  out.uncork();
  return p;
}

/** Writes chunks held in memory as one corked run (a single writev), then waits for the buffer to drain. */
export function writeChunks(out: Writable, chunks: Buffer[], who: string): Promise<void> {
  if (!chunks.length) return Promise.resolve();
  if (out.destroyed || out.writableEnded) return writeChunk(out, chunks[0]!, who);
  out.cork();
  for (let i = 0; i < chunks.length - 1; i++) out.write(chunks[i]!);
  const p = writeChunk(out, chunks[chunks.length - 1]!, who);
  out.uncork();
  return p;
}
