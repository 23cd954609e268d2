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
