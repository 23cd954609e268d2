import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { MessageLog } from '../../../src/exchange/log/index.js';
import { BodyCollector, BodyMemory, bodyStream } from '../../../src/exchange/server/body.js';
import { logDir } from '../log/fixtures.js';

const bytes = (n: number, seed: number) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i + 4 <= n; i += 4) b.writeUInt32BE((i * 2654435761 + seed) >>> 0, i);
  return b;
};

async function collect(log: MessageLog, memory: BodyMemory, body: Buffer) {
  const c = new BodyCollector(log, 64 * 1024, 1 << 30, memory);
  for (let off = 0; off < body.length; off += 16 * 1024) await c.add(body.subarray(off, off + 16 * 1024));
  return c.finish();
}

async function read(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('bodies on their way through a server', () => {
  it('a spooled body is held in memory within the budget, read back from the log past it, the same bytes either way', async () => {
    const log = await MessageLog.open({ dir: logDir() });
    try {
      const memory = new BodyMemory(300 * 1024);
      const a = bytes(200 * 1024, 1);
      const b = bytes(200 * 1024, 2);
      const ca = await collect(log, memory, a);
      const cb = await collect(log, memory, b);
      expect(ca.held).toBeDefined();
      expect(memory.used).toBe(a.length);
      // the second did not fit: it gave back what it had taken and comes from its file
      expect(cb.held).toBeUndefined();
      expect(ca.hash.equals(createHash('sha256').update(a).digest())).toBe(true);
      expect(cb.hash.equals(createHash('sha256').update(b).digest())).toBe(true);
      expect((await read(bodyStream(ca.body, ca.held))).equals(a)).toBe(true);
      expect((await read(bodyStream(cb.body, cb.held))).equals(b)).toBe(true);
      expect((await read(bodyStream(ca.body))).equals(a)).toBe(true); // the spool file holds it too
      ca.release();
      ca.release();
      expect(memory.used).toBe(0);
      // a discarded body gives its bytes back as well
      const c = new BodyCollector(log, 64 * 1024, 1 << 30, memory);
      await c.add(bytes(100 * 1024, 3));
      expect(memory.used).toBe(100 * 1024);
      await c.discard();
      expect(memory.used).toBe(0);
    } finally {
      await log.close();
    }
  });
});
