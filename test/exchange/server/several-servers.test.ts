/**
 * A member that runs two security servers, both serving its subsystem (Hồ Chí Minh's `ss-hcm` and `ss-hcm-2`):
 * the client's server sends to the one that connects first and remembers it, passes over one it cannot reach,
 * and never gives a message to the second once the first may have acted on it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type tls from 'node:tls';
import { CLIENT_VPCP, startTestAxis, type TestAxis } from './setup.js';
import { DEMO_AGENCIES } from '../../../src/exchange/axis.js';
import { parseService, serverText } from '../../../src/exchange/ids.js';

let t: TestAxis;
const HCM = '/r1/VN/PROV/000.00.31.H29/vanthu';

beforeAll(async () => {
  t = await startTestAxis({ agencies: [...DEMO_AGENCIES, { ...DEMO_AGENCIES[2]!, serverCode: 'ss-hcm-2' }] });
}, 180_000);

afterAll(async () => {
  await t?.close();
});

async function call(path: string, body?: string) {
  const res = await fetch(`${t.axis.members[0]!.isUrl}${path}`, {
    method: body !== undefined ? 'POST' : 'GET',
    headers: { 'x-road-client': CLIENT_VPCP },
    ...(body !== undefined ? { body } : {}),
  });
  return {
    status: res.status,
    error: res.headers.get('x-road-error'),
    body: Buffer.from(await res.arrayBuffer()).toString(),
  };
}

/** the provider's server the client's server remembers as the fastest for Hồ Chí Minh's subsystem */
function chosen(): string | undefined {
  const peers = t.axis.members[0]!.server.ctx.peers as unknown as { chosen: Map<string, { server: string }> };
  return [...peers.chosen.values()][0]?.server;
}

describe('a member with two security servers', () => {
  it('both serve the subsystem: the one that connects first is used and remembered', async () => {
    const hcm = t.axis.members.slice(2).map((m) => serverText(m.id));
    expect(hcm).toHaveLength(2);
    for (let i = 0; i < 3; i++) {
      const r = await call(`${HCM}/echo`, `lần ${i}`);
      expect(r.status, r.body).toBe(200);
      expect(r.body).toBe(`lần ${i}`);
    }
    expect(hcm).toContain(chosen());
  });

  it('a request whose service did not answer in time at one server is not sent to the other', async () => {
    let received = 0;
    const silent = http.createServer(() => {
      received++; // never answers
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const svc = 'SERVICE:VN/PROV/000.00.31.H29/vanthu/cham';
      for (const m of t.axis.members.slice(2)) {
        await m.server.store.putService(
          parseService(svc),
          `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
          2000,
        );
        await m.server.store.grant({
          service: svc,
          subject: 'SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu',
          method: '*',
          path: '*',
        });
      }
      const r = await call(`${HCM}/cham`, 'một lần thôi');
      expect(r.status).toBe(500);
      expect(r.error).toBe('Server.ServerProxy.ServiceFailed');
      await new Promise((res) => setTimeout(res, 1500));
      // the service got it once: the member's other server was not given it after the time-out
      expect(received).toBe(1);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('the remembered server gone, the other serves: a message not sent yet goes to the next', async () => {
    // (a failed exchange made the client's server forget its choice: it races them again)
    expect((await call(`${HCM}/echo`, 'trước')).status).toBe(200);
    const first = chosen()!;
    expect(first).toBeDefined();
    const gone = t.axis.members.find((m) => serverText(m.id) === first)!.server as unknown as {
      peerServer: tls.Server;
      peerSockets: Set<tls.TLSSocket>;
    };
    const closed = new Promise<void>((r) => gone.peerServer.close(() => r()));
    for (const s of gone.peerSockets) s.destroy();
    await closed;
    const r = await call(`${HCM}/echo`, 'vẫn tới nơi');
    expect(r.status, r.body).toBe(200);
    expect(r.body).toBe('vẫn tới nơi');
    expect(chosen()).not.toBe(first);
    // and again, straight to the one that answers
    const again = await call(`${HCM}/echo`, 'lần nữa');
    expect(again.body).toBe('lần nữa');
  });
});
