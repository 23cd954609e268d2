/**
 * The monitor's bus intake when the monitor stops. NATS hands a consumer the events it had buffered even
 * after the subscription was stopped; the handler used to loop `offer` (null: the queue is closed) and
 * `room()` (resolved at once: the queue is closed) in microtasks for ever — the worker of the relay-kill
 * fault test spun at full CPU with no timer firing whenever the test failed while the monitor was still
 * ingesting. Waiting for room now ends with `intake_closed`, and a producer is released, not retried.
 *
 * The spin is bounded here by a guard around `room()` (an error after 1,000 calls), so that the code
 * before the fix fails these tests instead of hanging them.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { pino } from 'pino';
import { openDb, migrate, type Db } from '../../src/store/index.js';
import { makeEvent, type EventHandler } from '../../src/bus/index.js';
import { NatsBus } from '../../src/bus/nats.js';
import { IntakeQueue, MonitorService, monitorConfig, monitorMigrations, type QueuedEvent } from '../../src/monitor/index.js';

const ev = (n: number): QueuedEvent => ({ event: makeEvent('pki', 'certificate.issued', 'success', { truc: { n } }), at: new Date(), intake: 'bus' });

/** Counts the calls of `q.room` and ends a runaway loop with an error rather than a hung process. */
function guardRoom(q: IntakeQueue): { calls: () => number } {
  let calls = 0;
  const room = q.room.bind(q);
  q.room = (n?: number) => {
    if (++calls > 1000) return Promise.reject(new Error(`room() called ${calls} times: a producer spins on a queue that cannot move`));
    return room(n);
  };
  return { calls: () => calls };
}

describe('the intake queue once closed', () => {
  it('room() rejects with intake_closed; offer() refuses', async () => {
    const q = new IntakeQueue(async (b) => b.map((_, i) => String(i)), { capacity: 2, batchSize: 2, flushMs: 0 });
    expect(await q.offer([ev(0)])!).toEqual(['0']);
    await q.close();
    expect(q.isClosed).toBe(true);
    await expect(q.room()).rejects.toMatchObject({ code: 'intake_closed' });
    expect(q.offer([ev(1)])).toBeNull();
  });

  it('room() for more than the queue can ever hold rejects at once instead of waiting for ever', async () => {
    const q = new IntakeQueue(async (b) => b.map(() => 'x'), { capacity: 3, batchSize: 3, flushMs: 0 });
    await expect(q.room(4)).rejects.toMatchObject({ code: 'too_large' });
    await expect(q.room(3)).resolves.toBeUndefined();
  });

  it('put() keeps the callers’ order while the queue is full, and releases with intake_closed those the close left out', async () => {
    const order: number[] = [];
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    const q = new IntakeQueue(
      async (b) => {
        await gate;
        for (const e of b) order.push((e.event.truc as { n: number }).n);
        return b.map(() => 'id');
      },
      { capacity: 2, batchSize: 2, flushMs: 0 },
    );
    const g = guardRoom(q);
    // the first two fill the queue; the others wait their turn, in turn
    const puts = Array.from({ length: 6 }, (_, n) => q.put([ev(n)]));
    await new Promise((r) => setTimeout(r, 20));
    release();
    await Promise.all(puts);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);

    gate = new Promise<void>((r) => (release = r));
    const last = [6, 7, 8].map((n) => q.put([ev(n)]));
    await new Promise((r) => setTimeout(r, 20));
    const closing = q.close(); // what was taken is stored first; 8 never got in
    release();
    await closing;
    await expect(Promise.all(last.slice(0, 2))).resolves.toHaveLength(2);
    await expect(last[2]).rejects.toMatchObject({ code: 'intake_closed' });
    await expect(q.put([ev(9)])).rejects.toMatchObject({ code: 'intake_closed' });
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(g.calls()).toBeLessThan(20);
  });
});

describe('a bus event that reaches a stopped monitor', () => {
  let db: Db;
  beforeAll(async () => {
    db = await openDb({ url: 'memory://' });
    await migrate(db, monitorMigrations);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('is refused (left unacknowledged for the next consumer), not retried in a loop that starves the process', async () => {
    // a NATS bus stand-in: the monitor subscribes through it; the test plays the consumer
    let handler: EventHandler | undefined;
    let options: { inflight?: number } | undefined;
    const bus = Object.assign(Object.create(NatsBus.prototype) as NatsBus, {
      subscribe: (_p: string, h: EventHandler, o?: { inflight?: number }) => {
        handler = h;
        options = o;
        return () => {};
      },
      close: async () => {},
    });
    const m = await MonitorService.start({
      db,
      bus,
      log: pino({ level: 'silent' }),
      config: monitorConfig({ builtinRules: false, queue: { flushMs: 0 } }),
      listen: false,
      scanner: null,
    });
    const g = guardRoom(m.queue);
    expect(handler).toBeDefined();
    // stored while running
    await handler!('truc.pki.certificate.issued', makeEvent('pki', 'certificate.issued', 'success', { truc: { n: 1 } }));
    expect(m.queue.stats.stored).toBe(1);
    await m.stop();
    // a buffered event handed over after the stop
    const late = handler!('truc.pki.certificate.issued', makeEvent('pki', 'certificate.issued', 'success', { truc: { n: 2 } }));
    await expect(late).rejects.toMatchObject({ code: 'intake_closed' });
    expect(g.calls()).toBeLessThanOrEqual(2);
    expect(m.queue.stats.stored).toBe(1);
    // and while it runs, many events are in flight at once (stored in batches, not one transaction each)
    expect(options?.inflight).toBeGreaterThan(1);
  });
});
