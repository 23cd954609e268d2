// TEMPORARY development double of the message log (until src/exchange/log lands); not used by final tests.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { MessageLogApi, LogRecordInput } from '../../../src/exchange/log/types.js';

export function memoryLog(): MessageLogApi & { records: LogRecordInput[] } {
  const records: LogRecordInput[] = [];
  return {
    records,
    spool() {
      const chunks: Buffer[] = [];
      const h = createHash('sha256');
      return {
        async write(c) {
          chunks.push(c);
          h.update(c);
        },
        async finish() {
          const b = Buffer.concat(chunks);
          return { id: 'x', length: b.length, hash: h.digest(), open: () => Readable.from([b]) };
        },
        async discard() {},
      };
    },
    async append(r) {
      records.push(r);
      return { seq: records.length, hash: Buffer.alloc(32) };
    },
    async timestampNow() {
      return { stamped: 0 };
    },
    health() {
      return { lastTimestampAt: null, oldestUnstampedAt: null, unstamped: 0, refusing: false };
    },
    async close() {},
  };
}
