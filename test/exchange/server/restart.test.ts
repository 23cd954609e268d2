/**
 * A security server restarted while the CA's OCSP responder is away: it sends the OCSP responses it held
 * before (kept in its database, as X-Road's signer keeps them on disk) instead of having none, so its traffic
 * goes on for as long as peers accept their age. Without them (the kept rows gone) the same restart leaves it
 * unable to prove its certificates' status, and its messages are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAxis, CLIENT_VPCP, type TestAxis } from './setup.js';
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
