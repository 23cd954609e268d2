/**
 * A NATS subscription's handler calls, on a NATS server of the test's own: with `inflight`, handlers are
 * called in the stream's order without waiting for each other, and every event is acknowledged once its
 * handler resolved; once stopped, the events the client had buffered are not handed to the handler (they
 * used to be — to a monitor whose queue was closed, which then spun); an event that is not JSON is dropped
 * once, with a word in the log, not redelivered every second for ever.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { connect } from 'nats';
import { makeEvent, type SecurityEvent } from '../../src/bus/index.js';
import { NatsBus, type BusLog } from '../../src/bus/nats.js';
import { OwnNats, NATS_SERVER } from '../faults/nats-server.js';

const until = async (what: string, cond: () => Promise<boolean> | boolean, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
const n = (e: SecurityEvent) => (e.truc as { n: number }).n;

describe.skipIf(!NATS_SERVER && process.env.CI !== 'true')('NATS subscription handlers', () => {
  let nats: OwnNats;
  const open: NatsBus[] = [];
  beforeAll(async () => {
    nats = await OwnNats.start();
  }, 30_000);
  afterAll(async () => {
    for (const b of open.reverse()) await b.close().catch(() => {});
    await nats?.stop();
  });

  const fresh = async (count: number, log?: BusLog) => {
    const stream = `TRUC_S_${randomBytes(3).toString('hex').toUpperCase()}`;
    const prefix = `ts${randomBytes(3).toString('hex')}`;
    const pub = await NatsBus.connect({ servers: nats.url, stream, subjectPrefix: prefix });
    open.push(pub);
    await Promise.all(Array.from({ length: count }, (_, i) => pub.publish('truc.pki.certificate.issued', makeEvent('pki', 'certificate.issued', 'success', { truc: { n: i } }))));
    const sub = await NatsBus.connect({ servers: nats.url, stream, subjectPrefix: prefix, ...(log ? { log } : {}) });
    open.push(sub);
    return sub;
  };

  it('inflight: called in order without waiting, each acknowledged once its handler resolved', async () => {
    const sub = await fresh(600);
    const called: number[] = [];
    let running = 0;
    let most = 0;
    sub.subscribe(
      'truc.>',
      async (_s, e) => {
        called.push(n(e));
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 1 + (n(e) % 7)));
        running--;
      },
      { durable: 'd', inflight: 64 },
    );
    await until('every event handled', () => called.length >= 600);
    expect(called).toEqual(Array.from({ length: 600 }, (_, i) => i));
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(64);
    await until('every event acknowledged', async () => {
      const c = (await sub.health()).consumers[0]!;
      return c.pending === 0 && c.ackPending === 0 && c.delivered === 600;
    });
  });

  it('an event that is not JSON is dropped once and said, and the events after it are handled', async () => {
    const warned: string[] = [];
    const sub = await fresh(0, { info() {}, error() {}, warn: (_o: object, msg: string) => void warned.push(msg) });
    const raw = await connect({ servers: nats.url });
    const js = raw.jetstream();
    await js.publish(`${sub.subjectPrefix}.pki.certificate.issued`, new TextEncoder().encode('{not json'));
    await js.publish(`${sub.subjectPrefix}.pki.certificate.issued`, new TextEncoder().encode(JSON.stringify(makeEvent('pki', 'certificate.issued', 'success', { truc: { n: 7 } }))));
    await raw.drain();
    const got: number[] = [];
    sub.subscribe('truc.>', (_s, e) => void got.push(n(e)), { durable: 'd', inflight: 8 });
    await until('the valid event', () => got.length === 1);
    await until('nothing left to deliver or acknowledge', async () => {
      const c = (await sub.health()).consumers[0]!;
      return c.pending === 0 && c.ackPending === 0;
    });
    await new Promise((r) => setTimeout(r, 1500)); // past the 1 s a refused event waits before it comes again
    expect(got).toEqual([7]);
    expect(warned.filter((w) => /not JSON/.test(w))).toHaveLength(1);
    expect((await sub.health()).consumers[0]!.lastError).toMatch(/undecodable/);
  });

  it('stopped: no buffered event reaches the handler; the unhandled are delivered to the next subscriber', async () => {
    const sub = await fresh(600);
    const first: number[] = [];
    let afterStop = 0;
    let stopped = false;
    const stop = sub.subscribe(
      'truc.>',
      async (_s, e) => {
        if (stopped) afterStop++;
        first.push(n(e));
        if (first.length === 20) {
          stopped = true;
          stop();
        }
        await new Promise((r) => setTimeout(r, 2));
      },
      { durable: 'd', inflight: 1 },
    );
    await until('the first subscriber to stop', () => stopped);
    await new Promise((r) => setTimeout(r, 300));
    expect(afterStop).toBe(0);
    expect(first).toEqual(Array.from({ length: 20 }, (_, i) => i));

    const again = await NatsBus.connect({ servers: nats.url, stream: sub.stream, subjectPrefix: sub.subjectPrefix });
    open.push(again);
    const rest = new Set<number>();
    again.subscribe('truc.>', (_s, e) => void rest.add(n(e)), { durable: 'd', inflight: 64 });
    // what the first had buffered is given back at once (negatively acknowledged), not after the consumer's
    // ack_wait (30 s); only the few the server sent while the unsubscription was on its way wait for that
    await until('the rest at the next subscriber', () => rest.size >= 550, 10_000);
    expect([...rest].every((x) => x >= 20)).toBe(true);
  });
});
