import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { appendFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MessageLog, verifyLog, listSegments } from '../../../src/exchange/log/index.js';
import { record, logDir } from './fixtures.js';

const seg = (dir: string, no: number) => join(dir, 'segments', `${String(no).padStart(10, '0')}.seg`);

describe('crash recovery', () => {
  it('cuts a torn tail written by hand, keeps it in quarantine, and goes on with the chain', async () => {
    const dir = logDir();
    const log = await MessageLog.open({ dir });
    for (let i = 1; i <= 5; i++) await log.append(record(i));
    await log.close();
    const size = statSync(seg(dir, 1)).size;
    // half a frame: a length prefix announcing more than follows
    appendFileSync(seg(dir, 1), Buffer.from([0, 0, 1, 0, 2, 9, 9, 9]));
    const before = await verifyLog({ dir, trustedTsaCerts: [] });
    expect(before.problem).toBeUndefined();
    expect(before.warnings.join(' ')).toMatch(/torn write/);
    const again = await MessageLog.open({ dir });
    expect(again.recovered.tornBytes).toBe(8);
    expect(statSync(seg(dir, 1)).size).toBe(size);
    expect(readdirSync(join(dir, 'quarantine')).length).toBe(2);
    expect((await again.append(record(6))).seq).toBe(6);
    await again.close();
    // a whole frame of zeros (size updated, data never written) is cut the same way
    appendFileSync(seg(dir, 1), Buffer.alloc(300));
    const third = await MessageLog.open({ dir });
    expect(third.last.seq).toBe(6);
    await third.close();
    const v = await verifyLog({ dir, trustedTsaCerts: [] });
    expect(v.problem).toBeUndefined();
    expect(v.records).toBe(6);
    // a segment whose header never reached the disk (crash while rolling over) goes
    appendFileSync(seg(dir, 2), Buffer.from([0, 0]));
    const fourth = await MessageLog.open({ dir });
    expect(fourth.last.seq).toBe(6);
    expect((await fourth.append(record(7))).seq).toBe(7);
    await fourth.close();
    expect((await verifyLog({ dir, trustedTsaCerts: [] })).records).toBe(7);
  });

  it('loses nothing acknowledged when a child appending in a loop is killed with SIGKILL', async () => {
    const dir = logDir();
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'append-child.ts'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      // wait until it has acknowledged a good number of records, then kill it mid-flight
      const target = (round + 1) * 400;
      await new Promise<void>((resolve, reject) => {
        const timer = setInterval(() => {
          const last = Number(out.trim().split('\n').pop() ?? 0);
          if (last >= target) {
            clearInterval(timer);
            child.kill('SIGKILL');
            resolve();
          }
        }, 5);
        child.once('exit', (code) => {
          clearInterval(timer);
          if (code !== null) reject(new Error(`child exited ${code}: ${err}`));
        });
      });
      await new Promise((r) => child.once('close', r));
      const acked = out.trim().split('\n').filter(Boolean).map(Number);
      const maxAcked = Math.max(...acked);
      const log = await MessageLog.open({ dir });
      // every acknowledged record is there (more may be: written but not yet acknowledged)
      expect(log.last.seq).toBeGreaterThanOrEqual(maxAcked);
      await log.close();
      const v = await verifyLog({ dir, trustedTsaCerts: [] });
      expect(v.problem).toBeUndefined();
      expect(v.records).toBeGreaterThanOrEqual(maxAcked);
      expect(readdirSync(join(dir, 'spool')).length).toBe(0);
    }
    expect((await listSegments(join(dir, 'segments'))).length).toBeGreaterThan(1);
  }, 120_000);
});
