/**
 * A provider's server restarted while its message log's index cannot be read: its replay guard, which
 * remembers the ids taken over the clock-skew window from that index, would start empty — so it refuses
 * requests until the index answers (it tries again by itself), then takes new ones and still refuses a
 * message it took before the restart.
 *
 * A security server restarted while the CA's OCSP responder is away: it sends the OCSP responses it held
 * before (kept in its database, as X-Road's signer keeps them on disk) instead of having none, so its traffic
 * goes on for as long as peers accept their age. Without them (the kept rows gone) the same restart leaves it
 * unable to prove its certificates' status, and its messages are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startTestAxis, CLIENT_BNV, CLIENT_VPCP, type TestAxis } from './setup.js';
import type { MessageLogApi } from '../../../src/exchange/log/index.js';
import { SecurityServer } from '../../../src/exchange/server/server.js';

let t: TestAxis;

beforeAll(async () => {
  t = await startTestAxis();
}, 180_000);

afterAll(async () => {
  await t?.close();
});

async function call(isUrl: string) {
  const r = await fetch(`${isUrl}/r1/VN/PROV/000.00.31.H29/vanthu/thong-tin`, { headers: { 'x-road-client': CLIENT_VPCP } });
  const body = await r.text();
  return { status: r.status, error: r.headers.get('x-road-error'), body };
}

/** The consumer's server stopped and opened again on its database, log and configuration, the responder unreachable. */
async function restartWithoutResponder(): Promise<SecurityServer> {
  const m = t.axis.members[0]!;
  await m.server.stop();
  const server = await SecurityServer.open({
    id: m.id,
    db: m.db,
    keys: t.p.keys,
    conf: m.conf,
    log: m.log,
    bus: t.p.bus,
    logger: t.p.log,
    listen: { host: '127.0.0.1', isPort: 0, peerPort: 0 },
    ocspFetcher: async (url) => {
      throw new Error(`${url}: connection refused (the responder is away)`);
    },
  });
  m.server = server;
  return server;
}

describe('a provider restarted while its log index cannot be read', () => {
  it('refuses requests until its replay guard is seeded, retrying by itself; a message taken before the restart stays refused', async () => {
    // Bộ Nội vụ's server calls Hồ Chí Minh's
    const send = async (id: string) => {
      const r = await fetch(`${t.axis.members[1]!.isUrl}/r1/VN/PROV/000.00.31.H29/vanthu/thong-tin`, { headers: { 'x-road-client': CLIENT_BNV, 'x-road-id': id } });
      return { status: r.status, error: r.headers.get('x-road-error'), problem: (await r.json()) as { code?: string; message?: string; message_vi?: string } };
    };
    const before = randomUUID();
    expect((await send(before)).status).toBe(200);

    const m = t.axis.members[2]!;
    await m.server.stop();
    let failing = true;
    let attempts = 0;
    const real = m.log as MessageLogApi;
    // the same log, its index unreadable while `failing`
    const log = Object.create(real as object) as MessageLogApi;
    log.receivedSince = (since, each) => {
      attempts++;
      return failing ? Promise.reject(new Error('connection to the database lost')) : real.receivedSince!.call(real, since, each);
    };
    const port = Number(m.peerAddress.slice(m.peerAddress.lastIndexOf(':') + 1));
    const server = await SecurityServer.open({ id: m.id, db: m.db, keys: t.p.keys, conf: m.conf, log, bus: t.p.bus, logger: t.p.log, listen: { host: '127.0.0.1', isPort: 0, peerPort: port } });
    m.server = server;
    await server.start();

    // refused, said why, in Vietnamese and English: not taken unchecked
    const refused = await send(randomUUID());
    expect(refused.status).toBe(500);
    expect(refused.problem.code).toBe('database_unavailable');
    expect(refused.error).toBe('Server.ServerProxy.DatabaseError');
    expect(refused.problem.message).toMatch(/replay guard/);
    expect(refused.problem.message_vi).toMatch(/nhật ký thông điệp/);
    expect(attempts).toBeGreaterThanOrEqual(1);
    expect(server.status().replayGuard).toMatchObject({ state: 'unavailable', error: 'connection to the database lost' });

    // the index answers again: the server seeds its guard on its next try (1 s, then 2 s …) and takes messages
    failing = false;
    let fresh = 0;
    for (let i = 0; i < 100 && fresh !== 200; i++) {
      fresh = (await send(randomUUID())).status;
      if (fresh !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(fresh).toBe(200);
    expect(server.status().replayGuard).toEqual({ state: 'ready' });
    // and the message it took before the restart is still a replay
    const again = await send(before);
    expect(again.status).toBe(500);
    expect(again.error).toBe('Server.ServerProxy.InvalidMessage');
    expect(again.problem.code).toBe('replayed_message');
  });
});

describe('a restart while the OCSP responder is away', () => {
  it('keeps sending with the responses held before; without them, its messages are refused', async () => {
    expect((await call(t.axis.members[0]!.isUrl)).status).toBe(200);
    const kept = await t.axis.members[0]!.db.query<{ name: string }>('SELECT name FROM xs_own_ocsp ORDER BY name');
    expect(kept.map((r) => r.name)).toEqual(['auth', 'sign']);

    const again = await restartWithoutResponder();
    const { isUrl } = await again.start();
    const r = await call(isUrl);
    expect(r.status, r.body).toBe(200);
    expect(again.ctx.own.status().every((s) => s.fetchedAt !== null)).toBe(true);

    // the control: nothing kept, the same restart
    await t.axis.members[0]!.db.query('DELETE FROM xs_own_ocsp');
    const bare = await restartWithoutResponder();
    const second = await bare.start();
    const refused = await call(second.isUrl);
    expect(refused.status).toBe(500);
    expect(JSON.parse(refused.body).code).toBe('ocsp_stale');
    expect(bare.ctx.own.status().every((s) => s.fetchedAt === null && s.lastError?.includes('the responder is away'))).toBe(true);
  });
});
