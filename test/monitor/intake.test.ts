import { describe, it, expect, afterEach } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import { pino } from 'pino';
import { IntakeQueue, LocalHour, monitorConfig, type QueuedEvent } from '../../src/monitor/index.js';
import { SyslogServer } from '../../src/monitor/intake/syslog-server.js';

const log = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(f: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(10);
  }
}

describe('intake queue', () => {
  it('all or nothing for a batch; a full queue refuses, then takes again once drained', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const stored: QueuedEvent[] = [];
    const q = new IntakeQueue(
      async (b) => {
        await gate;
        stored.push(...b);
        return b.map((_, i) => String(stored.length - b.length + i));
      },
      { capacity: 4, batchSize: 2, flushMs: 0 },
    );
    const ev = (n: number): QueuedEvent[] => Array.from({ length: n }, () => ({ event: { '@timestamp': new Date().toISOString(), event: { action: 'x', category: [], outcome: 'unknown' } }, at: new Date(), intake: 'http' }));
    const first = q.offer(ev(3))!;
    expect(q.offer(ev(2))).toBeNull();
    expect(q.stats.refused.http).toBe(2);
    release();
    expect(await first).toEqual(['0', '1', '2']);
    expect(await q.offer(ev(4))!).toHaveLength(4);
  });

  it('a failing write is retried, never dropped', async () => {
    let fails = 2;
    const q = new IntakeQueue(
      async (b) => {
        if (fails-- > 0) throw new Error('database down');
        return b.map((_, i) => String(i));
      },
      { capacity: 10, batchSize: 10, flushMs: 0 },
    );
    const ids = await q.offer([{ event: {} as any, at: new Date(), intake: 'http' }])!;
    expect(ids).toEqual(['0']);
    expect(q.stats.writeErrors).toBe(2);
  });
});

describe('an event the database refuses for its data', () => {
  const dataError = () => Object.assign(new Error('invalid input syntax'), { code: '22P02' });
  const ev = (action: string): QueuedEvent => ({ event: { '@timestamp': new Date().toISOString(), event: { action, category: [], outcome: 'unknown' } } as any, at: new Date(), intake: 'http' });

  it('goes to quarantine alone; the rest of its batch is stored once, and the intake goes on', async () => {
    const stored: string[] = [];
    const quarantined: string[] = [];
    let calls = 0;
    const q = new IntakeQueue(
      async (b) => {
        calls++;
        if (b.some((x) => x.event.event.action === 'poison')) throw dataError();
        return b.map((x) => (stored.push(x.event.event.action), `id-${x.event.event.action}`));
      },
      { capacity: 10, batchSize: 10, flushMs: 0, quarantine: async (x, err) => (quarantined.push(`${x.event.event.action}: ${(err as Error).message}`), 'q1') },
    );
    const ids = await q.offer([ev('a'), ev('poison'), ev('b')])!;
    expect(ids).toEqual(['id-a', 'rejected:q1', 'id-b']);
    expect(stored).toEqual(['a', 'b']);
    expect(quarantined).toEqual(['poison: invalid input syntax']);
    expect(q.stats).toMatchObject({ quarantined: 1, writeErrors: 1, stored: 3 });
    expect(await q.offer([ev('c')])!).toEqual(['id-c']);
    expect(calls).toBe(5); // the batch, then a, poison, b one by one, then c
  });

  it('an outage is retried whole, and what was already written is not written twice', async () => {
    const stored: string[] = [];
    let down = false;
    const q = new IntakeQueue(
      async (b) => {
        if (b.some((x) => x.event.event.action === 'poison')) throw dataError();
        if (down) {
          down = false;
          throw new Error('connection reset');
        }
        if (b.length === 1 && b[0]!.event.event.action === 'a') down = true; // the outage begins right after a
        return b.map((x) => (stored.push(x.event.event.action), `id-${x.event.event.action}`));
      },
      { capacity: 10, batchSize: 10, flushMs: 0, quarantine: async () => 'q' },
    );
    expect(await q.offer([ev('a'), ev('poison'), ev('b')])!).toEqual(['id-a', 'rejected:q', 'id-b']);
    expect(stored).toEqual(['a', 'b']);
  });

  it('without a quarantine, or for any other error, the batch is retried and nothing is dropped', async () => {
    let fails = 1;
    const q = new IntakeQueue(
      async (b) => {
        if (fails-- > 0) throw dataError();
        return b.map((_, i) => String(i));
      },
      { capacity: 10, batchSize: 10, flushMs: 0 },
    );
    expect(await q.offer([ev('x')])!).toEqual(['0']);
    expect(q.stats).toMatchObject({ writeErrors: 1, quarantined: 0 });
  });
});

describe('syslog listeners under back-pressure', () => {
  let server: SyslogServer | undefined;
  afterEach(async () => server?.stop());

  function setup(capacity: number, delayMs: number) {
    const stored: QueuedEvent[] = [];
    const q = new IntakeQueue(
      async (b) => {
        await sleep(delayMs);
        stored.push(...b);
        return b.map(() => '1');
      },
      { capacity, batchSize: 5, flushMs: 0 },
    );
    const cfg = monitorConfig({ syslog: { udp: { host: '127.0.0.1', port: 0 }, tcp: { host: '127.0.0.1', port: 0 } } });
    server = new SyslogServer(cfg, q, new LocalHour(cfg.timezone), log);
    return { q, stored };
  }

  it('TCP pauses the socket when the queue is full and loses nothing', async () => {
    const { q, stored } = setup(10, 5);
    const addr = await server!.start();
    const sock = net.connect(addr.tcp!.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const lines = Array.from({ length: 300 }, (_, i) => `<38>1 2026-03-02T03:00:00Z web01 sshd 1 - - Failed password for root from 10.9.9.${i % 250} port ${i} ssh2`);
    // half octet-counted, half newline-framed
    sock.write(lines.slice(0, 150).map((l) => `${Buffer.byteLength(l)} ${l}`).join(''));
    sock.write(lines.slice(150).join('\n') + '\n');
    await until(() => stored.length === 300);
    expect(q.stats.refused).toEqual({});
    expect(stored[0]!.event.event).toMatchObject({ action: 'ssh_login', outcome: 'failure' });
    expect(stored.map((s) => (s.event.source as any).port)).toEqual(lines.map((_, i) => i));
    sock.destroy();
  });

  it('TCP holds at most syslog.maxConnections connections; the ones beyond are closed and counted, the held ones still carry messages', async () => {
    const { q, stored } = setup(100, 0);
    (server as unknown as { cfg: { syslog: { maxConnections: number } } }).cfg.syslog.maxConnections = 3;
    const addr = await server!.start();
    const open = (): Promise<net.Socket> =>
      new Promise((resolve, reject) => {
        const s = net.connect(addr.tcp!.port, '127.0.0.1', () => resolve(s));
        s.on('error', reject);
      });
    const held = [await open(), await open(), await open()];
    // a fourth connects at the TCP level, then the server closes it
    const extra = await open();
    await new Promise((r) => extra.once('close', r));
    await until(() => q.stats.refused['syslog-tcp-connection'] === 1);
    held[2]!.write('<38>1 2026-03-02T03:00:00Z web01 sshd 1 - - Failed password for root from 10.9.9.9 port 22 ssh2\n');
    await until(() => stored.length === 1);
    // one goes, another may come
    held[0]!.destroy();
    await until(() => (server as unknown as { sockets: Set<unknown> }).sockets.size === 2);
    const again = await open();
    again.write('<38>1 2026-03-02T03:00:00Z web01 sshd 1 - - Failed password for root from 10.9.9.9 port 23 ssh2\n');
    await until(() => stored.length === 2);
    for (const s of [...held, again]) s.destroy();
  });

  it('UDP counts what a full queue could not take', async () => {
    const { q, stored } = setup(5, 200);
    const addr = await server!.start();
    const c = dgram.createSocket('udp4');
    for (let i = 0; i < 40; i++) c.send(`<38>Mar  2 10:00:00 web01 sshd[1]: Failed password for root from 10.0.0.1 port ${i} ssh2`, addr.udp!.port, '127.0.0.1');
    await until(() => stored.length + (q.stats.refused['syslog-udp'] ?? 0) === 40);
    c.close();
    expect(q.stats.refused['syslog-udp']).toBeGreaterThan(0);
    expect(stored.length).toBe(q.stats.accepted);
  });
});
