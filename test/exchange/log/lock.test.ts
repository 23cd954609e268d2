/**
 * One writer per message log (its LOCK: src/store/process-lock.ts), and the read-only view that commands run beside
 * a serving security server use instead (`truc ss diagnose`, `truc ss register`): opening a log for writing
 * clears its spool and cuts a torn tail, which would break the writer's bodies in flight and the record it is
 * writing if a second process did it.
 */
import { describe, it, expect } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { MessageLog, verifyLog, listSegments } from '../../../src/exchange/log/index.js';
import { isTrucError } from '../../../src/errors.js';
import { STALE_MS } from '../../../src/store/process-lock.js';
import { record, logDir } from './fixtures.js';

const seg = (dir: string, no: number) => join(dir, 'segments', `${String(no).padStart(10, '0')}.seg`);

/** Waits for a condition (a heartbeat's effect) without assuming how soon a busy machine runs the timer. */
async function until(cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function refused(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a refusal');
}

/** A child appending in a loop (every 50th record with a spooled body), its acknowledged seqs as they come. */
function appender(dir: string): {
  child: ChildProcess;
  acked: () => number;
  until: (n: number) => Promise<void>;
  exited: Promise<unknown>;
  err: () => string;
} {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'append-child.ts'), dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise((r) => child.once('exit', r));
  const acked = () => Number(out.trim().split('\n').pop() || 0);
  const until = (n: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (acked() >= n) {
          clearInterval(timer);
          resolve();
        } else if (child.exitCode !== null) {
          clearInterval(timer);
          reject(new Error(`the appender exited ${child.exitCode}: ${err}`));
        }
      }, 5);
    });
  return { child, acked, until, exited, err: () => err };
}

describe('one writer per message log', () => {
  it('refuses a second writer in the same process until the first closes; the lock goes with it', async () => {
    const dir = logDir();
    const a = await MessageLog.open({ dir });
    await a.append(record(1));
    const e = await refused(MessageLog.open({ dir }));
    expect(isTrucError(e) && e.code).toBe('conflict');
    expect(e.message).toMatch(/đang được tiến trình \d+ \(chính tiến trình này\) dùng .* is in use by process \d+ \(this one\)/);
    // the refused open touched nothing: the first writer goes on
    expect((await a.append(record(2))).seq).toBe(2);
    await a.close();
    expect(existsSync(join(dir, 'LOCK'))).toBe(false);
    const b = await MessageLog.open({ dir });
    expect(b.last.seq).toBe(2);
    await b.close();
  });

  it('refuses while another process writes, names it, and takes the log over once it is killed', async () => {
    const dir = logDir();
    const w = appender(dir);
    try {
      await w.until(200);
      const e = await refused(MessageLog.open({ dir }));
      expect(isTrucError(e) && e.code).toBe('conflict');
      expect(e.message).toContain(`process ${w.child.pid}`);
      expect(e.message).toContain(`tiến trình ${w.child.pid}`);
      // the writer never noticed
      const before = w.acked();
      await w.until(before + 100);
    } finally {
      w.child.kill('SIGKILL');
      await w.exited;
    }
    const acked = w.acked();
    // its LOCK stays behind, naming a process that is gone: taken over
    expect(JSON.parse(readFileSync(join(dir, 'LOCK'), 'utf8')).pid).toBe(w.child.pid);
    const log = await MessageLog.open({ dir });
    expect(log.last.seq).toBeGreaterThanOrEqual(acked);
    expect(JSON.parse(readFileSync(join(dir, 'LOCK'), 'utf8')).pid).toBe(process.pid);
    await log.close();
    expect((await verifyLog({ dir, trustedTsaCerts: [] })).problem).toBeUndefined();
  }, 60_000);

  it('compares the process start time: a pid reused by another process does not hold the log; elsewhere, the heartbeat decides', async () => {
    const dir = logDir();
    await (await MessageLog.open({ dir })).close();
    const ns = readlinkSync('/proc/self/ns/pid');
    const lockFile = join(dir, 'LOCK');
    // a live pid (this one) in this namespace, but started at another time: the writer that left it is gone
    writeFileSync(
      lockFile,
      JSON.stringify({
        pid: process.pid,
        start: '1',
        host: hostname(),
        ns,
        since: '2026-01-01T00:00:00.000Z',
      }),
    );
    const log = await MessageLog.open({ dir });
    await log.close();
    // another host sharing the storage, another container (a recreated one has another hostname), another pid
    // namespace under this hostname: their pids mean nothing here — held while touched, taken over once
    // untouched for a minute
    for (const other of [
      { pid: 1, start: '1', host: 'may-chu-khac', ns, since: '2026-01-01T00:00:00.000Z' },
      { pid: process.pid, start: '1', host: hostname(), ns: 'pid:[1]', since: '2026-01-01T00:00:00.000Z' },
      { pid: 1, start: '1', host: 'container-cu', since: '2026-01-01T00:00:00.000Z' },
    ]) {
      writeFileSync(lockFile, JSON.stringify(other));
      const e = await refused(MessageLog.open({ dir }));
      expect(isTrucError(e) && e.code).toBe('conflict');
      expect(e.message).toContain(
        other.host === hostname() ? `process ${other.pid}` : `process 1 on ${other.host}`,
      );
      const old = new Date(Date.now() - STALE_MS - 5_000);
      utimesSync(lockFile, old, old);
      const taken = await MessageLog.open({ dir });
      expect(JSON.parse(readFileSync(lockFile, 'utf8')).pid).toBe(process.pid);
      await taken.close();
    }
    // an unreadable lock (a crash while it was written) is taken over
    writeFileSync(join(dir, 'LOCK'), '{"pid":');
    await (await MessageLog.open({ dir })).close();
  });
});

describe('a writer that loses its lock', () => {
  it('stops writing when its heartbeat finds the lock another’s (taken over while it stalled), and leaves that lock alone', async () => {
    const dir = logDir();
    const log = await MessageLog.open({ dir, lockHeartbeatMs: 20 });
    await log.append(record(1));
    // its lock file is touched while it lives
    const lockFile = join(dir, 'LOCK');
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(lockFile, old, old);
    await until(() => statSync(lockFile).mtimeMs > Date.now() - 60_000);
    expect(statSync(lockFile).mtimeMs).toBeGreaterThan(Date.now() - 60_000);
    const other = JSON.stringify({
      pid: 1,
      start: '1',
      host: 'may-chu-khac',
      since: new Date().toISOString(),
    });
    writeFileSync(lockFile, other);
    // the next beat finds it another's: a hundred beats' time, for a busy machine (an append to test sooner
    // would write if it came first)
    await new Promise((r) => setTimeout(r, 2000));
    const e = await refused(log.append(record(2)));
    expect(isTrucError(e) && e.code).toBe('log_failure');
    expect(e.message).toContain('another process took the log');
    // nor does it time-stamp: the stamps file is the other writer's
    const stamping = await refused(log.timestampNow({ stamp: async () => Buffer.alloc(0) } as never));
    expect(stamping.message).toContain('another process took the log');
    await log.close();
    expect(readFileSync(lockFile, 'utf8')).toBe(other);
    // nothing was written after the loss
    const v = await MessageLog.open({ dir, readOnly: true });
    expect(v.last.seq).toBe(1);
    await v.close();
  });
});

describe('a read-only view of a log another process writes', () => {
  it('reads beside the writer without touching its spool, refuses writes, and ends at the last whole record', async () => {
    const dir = logDir();
    const w = appender(dir);
    let viewed = 0;
    try {
      await w.until(120);
      // each view clears nothing: the writer's spooled bodies (every 50th record) keep landing
      for (let i = 0; i < 5; i++) {
        const v = await MessageLog.open({ dir, readOnly: true });
        expect(v.readOnly).toBe(true);
        viewed = v.last.seq;
        expect(viewed).toBeGreaterThan(0);
        expect(v.health().unstamped).toBe(viewed);
        expect((await refused(v.append(record(1)))).message).toMatch(
          /chỉ được mở để đọc .* open for reading only/,
        );
        expect(() => v.spool()).toThrow(/open for reading only/);
        expect(() => v.startTimestamping({ stampers: [] })).toThrow(/open for reading only/);
        await v.close();
        await w.until(w.acked() + 60);
      }
      expect(w.child.exitCode).toBeNull();
    } finally {
      w.child.kill('SIGKILL');
      await w.exited;
    }
    expect(w.err()).toBe('');
    const acked = w.acked();
    expect(acked).toBeGreaterThan(viewed);
    // what the kill left is recovered by a writer first (a segment being rolled over when it died goes)
    await (await MessageLog.open({ dir })).close();
    // a torn tail: a view stops before it and leaves it; the next writer cuts it
    const segs = await listSegments(join(dir, 'segments'));
    const last = seg(dir, segs[segs.length - 1]!);
    appendFileSync(last, Buffer.from([0, 0, 1, 0, 2, 9, 9, 9]));
    const size = statSync(last).size;
    const v = await MessageLog.open({ dir, readOnly: true });
    expect(v.last.seq).toBeGreaterThanOrEqual(acked);
    await v.close();
    expect(statSync(last).size).toBe(size);
    expect(existsSync(join(dir, 'quarantine'))).toBe(false);
    const log = await MessageLog.open({ dir });
    expect(log.recovered.tornBytes).toBe(8);
    expect(log.last.seq).toBe(v.last.seq);
    await log.close();
    expect(readdirSync(join(dir, 'spool'))).toEqual([]);
    const report = await verifyLog({ dir, trustedTsaCerts: [] });
    expect(report.problem).toBeUndefined();
    expect(report.records).toBeGreaterThanOrEqual(acked);
  }, 60_000);

  it('says there is no log yet rather than making one', async () => {
    const dir = logDir();
    const e = await refused(MessageLog.open({ dir, readOnly: true }));
    expect(isTrucError(e) && e.code).toBe('not_found');
    expect(existsSync(join(dir, 'LOG'))).toBe(false);
    // once there is one, a view gives what the writer wrote: a message's evidence, its body inside
    const w = await MessageLog.open({ dir });
    const body = Buffer.from('Công văn số 1 — bằng chứng');
    await w.append(record(1, body));
    const v = await MessageLog.open({ dir, readOnly: true });
    expect(v.last.seq).toBe(1);
    const chunks: Buffer[] = [];
    for await (const c of await v.evidence('msg-1')) chunks.push(c as Buffer);
    const zip = Buffer.concat(chunks);
    expect(zip.subarray(0, 2).toString('latin1')).toBe('PK');
    expect(zip.includes(body)).toBe(true);
    await v.close();
    await w.close();
  });
});
