/**
 * The framed channel with confirmations (truc/2): a whole message goes while its sender's log writes it, and
 * its receiver gives it to an information system (or client) only once its sender has confirmed — so the two
 * servers' durable writes overlap and nothing is delivered before both logs hold it. Beside a server of the
 * previous release (truc/1), which is spoken to as before. On a real axis: Văn phòng Chính phủ and Bộ Nội vụ
 * of this release, Hồ Chí Minh's server speaking truc/1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { CLIENT_BNV, CLIENT_HCM, CLIENT_VPCP, alpnOf, startTestAxis, type TestAxis } from './setup.js';
import { ALPN_FRAMED, ALPN_FRAMED_CONFIRMED } from '../../../src/exchange/server/channel.js';
import { parseService } from '../../../src/exchange/ids.js';
import type { LogRecordInput } from '../../../src/exchange/log/index.js';

let t: TestAxis;
let tap: http.Server;
/** what the test service received: its path, and whether the client's server's log held the request then */
const received: { path: string; at: number; id: string }[] = [];

const VPCP = '/r1/VN/GOV/000.00.00.G22/vanthu';
const BNV = '/r1/VN/GOV/000.00.00.G09/vanthu';
const HCM = '/r1/VN/PROV/000.00.31.H29/vanthu';

beforeAll(async () => {
  // Hồ Chí Minh's server speaks the framed channel as the previous release did: no confirmations
  t = await startTestAxis({ framedV1: ['ss-hcm'] });
  tap = http.createServer((req, res) => {
    received.push({ path: req.url ?? '', at: Date.now(), id: String(req.headers['x-road-id'] ?? '') });
    req.resume();
    req.on('end', () => res.end('đã nhận'));
  });
  await new Promise<void>((r) => tap.listen(0, '127.0.0.1', r));
  const bnv = t.axis.members[1]!.server;
  const svc = 'SERVICE:VN/GOV/000.00.00.G09/vanthu/tap';
  await bnv.store.putService(parseService(svc), `http://127.0.0.1:${(tap.address() as AddressInfo).port}`);
  await bnv.store.grant({
    service: svc,
    subject: 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu',
    method: '*',
    path: '*',
  });
}, 180_000);

afterAll(async () => {
  tap?.close();
  await t?.close();
});

async function call(memberIndex: number, client: string, path: string, body?: Buffer | string, id?: string) {
  const m = t.axis.members[memberIndex]!;
  const res = await fetch(`${m.isUrl}${path}`, {
    method: body !== undefined ? 'POST' : 'GET',
    headers: { 'x-road-client': client, 'content-type': 'application/octet-stream', ...(id ? { 'x-road-id': id } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : new Uint8Array(body) } : {}),
  });
  return {
    status: res.status,
    error: res.headers.get('x-road-error'),
    id: res.headers.get('x-road-id'),
    body: Buffer.from(await res.arrayBuffer()),
    at: Date.now(),
  };
}

/**
 * Wraps a server's log: `each` is told of every append (its record, when it was asked) and may hold its
 * result back or fail it; the log itself is restored by the returned function.
 */
function spyLog(
  memberIndex: number,
  each: (rec: LogRecordInput, logged: Promise<unknown>) => Promise<unknown>,
): () => void {
  const log = t.axis.members[memberIndex]!.server.ctx.log as unknown as {
    append: (r: LogRecordInput) => Promise<unknown>;
  };
  const orig = log.append.bind(log);
  log.append = (rec) => each(rec, orig(rec));
  return () => delete (log as { append?: unknown }).append;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function signal(): { fired: Promise<void>; fire(): void } {
  let fire!: () => void;
  const fired = new Promise<void>((r) => (fire = r));
  return { fired, fire };
}

/** Runs `fn` after a first exchange on the channel; says how many connections Bộ Nội vụ's server accepted during it. */
async function newConnectionsDuring(fn: () => Promise<void>): Promise<number> {
  await call(0, CLIENT_VPCP, `${BNV}/tap/truoc`, 'trước');
  const peerServer = (t.axis.members[1]!.server as unknown as { peerServer: import('node:net').Server })
    .peerServer;
  let accepted = 0;
  const count = () => accepted++;
  peerServer.on('secureConnection', count);
  try {
    await fn();
  } finally {
    peerServer.off('secureConnection', count);
  }
  return accepted;
}
const pattern = (n: number) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i + 4 <= n; i += 4096) b.writeUInt32BE(i, i);
  return b;
};
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('the framed channel with confirmations (truc/2)', () => {
  it('servers of this release pick truc/2; one of the previous release truc/1, and both say so', async () => {
    expect(await alpnOf(t, 1, [ALPN_FRAMED_CONFIRMED, ALPN_FRAMED, 'http/1.1'])).toBe(ALPN_FRAMED_CONFIRMED);
    expect(await alpnOf(t, 2, [ALPN_FRAMED_CONFIRMED, ALPN_FRAMED, 'http/1.1'])).toBe(ALPN_FRAMED);
    const vpcp = t.axis.members[0]!.server;
    expect(await vpcp.testPeer(t.axis.members[1]!.id)).toMatchObject({
      reachable: true,
      pinned: true,
      channel: ALPN_FRAMED_CONFIRMED,
    });
    expect(await vpcp.testPeer(t.axis.members[2]!.id)).toMatchObject({
      reachable: true,
      pinned: true,
      channel: ALPN_FRAMED,
    });
  });

  it('a whole message goes while its sender logs it, and reaches the service (and the client) only once both logs hold it', async () => {
    // the client's server's write of the request is held until the provider's server has begun logging it, and
    // the provider's server's write of the response until the client's server has (10 s at most: a sender that
    // waited for its own write would never let the other begin, and the order asserted below would fail) — no
    // fixed delay, so a busy machine cannot turn the order round
    const consumerDurable = new Map<string, number>();
    const providerCalled = new Map<string, number>();
    const providerDurable = new Map<string, number>();
    const consumerCalled = new Map<string, number>();
    const began = { provider: signal(), consumer: signal() };
    const undo = [
      spyLog(0, async (rec, logged) => {
        if (rec.side === 'consumer' && rec.kind === 'response') {
          consumerCalled.set(rec.messageId, Date.now());
          began.consumer.fire();
        }
        const r = await logged;
        if (rec.side === 'consumer' && rec.kind === 'request') {
          await Promise.race([began.provider.fired, sleep(10_000)]);
          await sleep(50);
          consumerDurable.set(rec.messageId, Date.now());
        }
        return r;
      }),
      spyLog(1, async (rec, logged) => {
        if (rec.side === 'provider' && rec.kind === 'request') {
          providerCalled.set(rec.messageId, Date.now());
          began.provider.fire();
        }
        const r = await logged;
        if (rec.side === 'provider' && rec.kind === 'response') {
          await Promise.race([began.consumer.fired, sleep(10_000)]);
          await sleep(50);
          providerDurable.set(rec.messageId, Date.now());
        }
        return r;
      }),
    ];
    try {
      const r = await call(0, CLIENT_VPCP, `${BNV}/tap/song-song`, 'yêu cầu nhỏ');
      expect(r.status, r.body.toString()).toBe(200);
      expect(r.body.toString()).toBe('đã nhận');
      const id = r.id!;
      const got = received.find((x) => x.id === id)!;
      expect(got.path).toBe('/song-song');
      // the request was with the provider's server, and being logged there, before the client's server's
      // log held it; the service got it only after
      expect(providerCalled.get(id)!).toBeLessThan(consumerDurable.get(id)!);
      expect(got.at).toBeGreaterThanOrEqual(consumerDurable.get(id)!);
      // and the response the same way back
      expect(consumerCalled.get(id)!).toBeLessThan(providerDurable.get(id)!);
      expect(r.at).toBeGreaterThanOrEqual(providerDurable.get(id)!);
    } finally {
      undo.forEach((u) => u());
    }
  });

  it("a request its client's server could not log is void: the service never sees it, the client is told, and the connection serves the next", async () => {
    const providerLogged: string[] = [];
    let fail = true;
    const undo = [
      spyLog(0, async (rec, logged) => {
        const r = await logged;
        if (
          fail &&
          rec.side === 'consumer' &&
          rec.kind === 'request' &&
          Buffer.isBuffer(rec.body) &&
          rec.body.toString() === 'hỏng'
        ) {
          await sleep(200);
          throw new Error('the disk said no');
        }
        return r;
      }),
      spyLog(1, async (rec, logged) => {
        if (rec.side === 'provider' && rec.kind === 'request') providerLogged.push(rec.messageId);
        return logged;
      }),
    ];
    try {
      const accepted = await newConnectionsDuring(async () => {
        const before = received.length;
        const id = `vo-hieu-${Date.now()}`;
        const r = await call(0, CLIENT_VPCP, `${BNV}/tap/vo-hieu`, 'hỏng', id);
        expect(r.status, `${r.error} ${r.body}`).toBe(500);
        expect(r.error).toBe('Server.ClientProxy.LoggingFailed');
        expect(JSON.parse(r.body.toString())).toMatchObject({ code: 'log_failure' });
        // the provider's server had it (it went while being logged) and never gave it to the service
        expect(providerLogged).toContain(r.id);
        // this server's own failure: the provider's server is not counted as failing for it
        const failedAt = (t.axis.members[0]!.server.ctx.peers as unknown as { failedAt: Map<string, number> })
          .failedAt;
        expect([...failedAt.keys()].filter((k) => k.includes('000.00.00.G09'))).toEqual([]);
        await sleep(300);
        expect(received.slice(before).map((x) => x.path)).not.toContain('/vo-hieu');
        const next = await call(0, CLIENT_VPCP, `${BNV}/tap/sau`, 'sau');
        expect(next.status, next.body.toString()).toBe(200);
        // it was not delivered: the client may send it again under its own id, and this time it goes
        fail = false;
        const again = await call(0, CLIENT_VPCP, `${BNV}/tap/vo-hieu`, 'hỏng', id);
        expect(again.status, `${again.error} ${again.body}`).toBe(200);
        expect(received.slice(before).filter((x) => x.path === '/vo-hieu')).toHaveLength(1);
      });
      expect(accepted, 'connections opened for the next exchange').toBe(0);
    } finally {
      undo.forEach((u) => u());
    }
  });

  it("a response its provider's server could not log is void: the client is told so, and the connection serves the next", async () => {
    const undo = [
      spyLog(1, async (rec, logged) => {
        const r = await logged;
        if (rec.side === 'provider' && rec.kind === 'response' && received.at(-1)?.path === '/tra-loi-hong') {
          await sleep(200);
          throw new Error('the disk said no');
        }
        return r;
      }),
    ];
    try {
      const accepted = await newConnectionsDuring(async () => {
        const r = await call(0, CLIENT_VPCP, `${BNV}/tap/tra-loi-hong`, 'x');
        expect(r.status, `${r.error} ${r.body}`).toBe(500);
        expect(r.error).toBe('Server.ServerProxy.LoggingFailed');
        expect(r.body.toString()).not.toContain('đã nhận');
        const next = await call(0, CLIENT_VPCP, `${BNV}/tap/sau`, 'sau');
        expect(next.status, next.body.toString()).toBe(200);
        expect(next.body.toString()).toBe('đã nhận');
      });
      expect(accepted, 'connections opened for the next exchange').toBe(0);
    } finally {
      undo.forEach((u) => u());
    }
  });

  it('many at once (past the number a server sends while logging), small and streamed, and to and from the truc/1 server', async () => {
    const many = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        call(1, CLIENT_BNV, `${VPCP}/echo`, i % 10 === 0 ? pattern(200 * 1024 + i) : `thư ${i}`),
      ),
    );
    many.forEach((x, i) => {
      expect(x.status, x.body.subarray(0, 200).toString()).toBe(200);
      if (i % 10 === 0) expect(sha(x.body)).toBe(sha(pattern(200 * 1024 + i)));
      else expect(x.body.toString()).toBe(`thư ${i}`);
    });
    for (const [from, client, to] of [
      [0, CLIENT_VPCP, HCM],
      [2, CLIENT_HCM, VPCP],
    ] as const) {
      const small = await call(from, client, `${to}/echo`, 'tin nhắn nhỏ');
      expect(small.status, small.body.toString()).toBe(200);
      expect(small.body.toString()).toBe('tin nhắn nhỏ');
      const big = pattern(2 * 1024 * 1024 + 7);
      const r = await call(from, client, `${to}/echo`, big);
      expect(r.status, r.body.subarray(0, 200).toString()).toBe(200);
      expect(sha(r.body)).toBe(sha(big));
    }
  });
});
