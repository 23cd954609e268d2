import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { MessageLog, verifyLog } from '../../../src/exchange/log/index.js';
import { record, logDir } from './fixtures.js';

describe('large bodies', () => {
  it('spools, logs and streams back a 200 MB body with memory growth far below its size', async () => {
    const dir = logDir();
    const log = await MessageLog.open({ dir });
    const size = 200 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024);
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const h = createHash('sha256');
    const sp = log.spool();
    for (let off = 0; off < size; off += chunk.length) {
      chunk.writeUInt32BE(off / chunk.length, 0); // every chunk differs
      h.update(chunk);
      await sp.write(chunk);
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    const body = await sp.finish();
    const hash = h.digest();
    expect(body.hash.equals(hash)).toBe(true);
    await log.append(record(1, undefined, { body, bodyHash: body.hash, bodyLength: body.length }));
    const back = createHash('sha256');
    let n = 0;
    for await (const c of body.open()) {
      back.update(c as Buffer);
      n += (c as Buffer).length;
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    expect(n).toBe(size);
    expect(back.digest().equals(hash)).toBe(true);
    await log.close();
    const v = await verifyLog({ dir, trustedTsaCerts: [] });
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(v.problem).toBeUndefined();
    expect(v.bodies).toBe(1);
    // a memory bound, not a time: the body never sits whole in memory
    expect(peak - rss0).toBeLessThan(size / 3);
  }, 120_000);
});
