/**
 * Fan-out: one call sends a decision to sixty-three provinces. The receiving side here is one small HTTP
 * server standing where the sender's security server would be: it reads each package's frames to the end
 * (as a real provider must before answering), answers 503 to a few agencies' first attempt, and counts the
 * deliveries in flight — so the test sees the concurrency limit and per-recipient retries.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { openNetwork, until, AGENCIES, type Network } from './fixture.js';
import { FrameReader } from '../../../src/exchange/edoc/frame.js';
import { parseEnvelope } from '../../../src/exchange/edoc/xml.js';

const PROVINCES = Array.from({ length: 63 }, (_, i) => ({ id: `000.00.${String(i + 1).padStart(2, '0')}.H${String(i + 1).padStart(2, '0')}`, name: `UBND tỉnh số ${i + 1}`, client: `VN/PROV/000.00.${String(i + 1).padStart(2, '0')}.H${String(i + 1).padStart(2, '0')}/vanthu` }));

describe('fan-out to sixty-three agencies', () => {
  let net: Network;
  let server: http.Server;
  let inFlight = 0;
  let maxInFlight = 0;
  const taken = new Map<string, number>();
  const refusedOnce = new Set(PROVINCES.slice(0, 5).map((p) => p.id));
  const seen = new Set<string>();

  beforeAll(async () => {
    server = http.createServer(async (req, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        const member = decodeURIComponent((req.url ?? '').split('/')[4] ?? '');
        const r = new FrameReader(req as AsyncIterable<Buffer>);
        const env = parseEnvelope(await r.envelope());
        for (;;) {
          const f = await r.next();
          if (f.type === 'Z') break;
          for await (const _ of r.body());
        }
        await new Promise((ok) => setTimeout(ok, 30));
        if (refusedOnce.has(member) && !seen.has(member)) {
          seen.add(member);
          res.writeHead(503, { 'x-road-error': 'service_failed', 'content-type': 'application/problem+json' });
          res.end('{"code":"service_failed"}');
          return;
        }
        taken.set(member, (taken.get(member) ?? 0) + 1);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: member, documentId: env.header.documentId, duplicate: false }));
      } finally {
        inFlight--;
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    net = await openNetwork(AGENCIES.slice(0, 1), { recipients: () => PROVINCES, ssUrl: url, concurrency: 8, retry: { firstMs: 50, maxMs: 200 } });
  }, 60_000);
  afterAll(async () => {
    await net?.close();
    server?.closeAllConnections();
    await new Promise<void>((r) => server?.close(() => r()));
  });

  it('one call, one signed package, a delivery per agency, at most 8 at once, retried where refused for a while, each taken once', async () => {
    const desk = net.desks[0]!.desk;
    const sent = await desk.send(
      {
        to: PROVINCES.map((p) => p.id),
        code: { number: '63', notation: 'QĐ-TTg' },
        promulgation: { place: 'Hà Nội', date: '2026-12-02' },
        documentType: { type: 2, typeName: 'Quyết định' },
        subject: 'Quyết định giao chỉ tiêu kế hoạch năm 2027 cho các tỉnh, thành phố',
        signer: { competence: 'THỦ TƯỚNG', fullName: 'Phạm Minh Chính' },
        attachments: [{ name: 'phu-luc.txt', bytes: Buffer.from('Chỉ tiêu từng tỉnh'.repeat(1000)) }],
      },
      'clerk',
    );
    expect(sent.recipients).toHaveLength(63);
    await until(async () => (await desk.recipientStatuses(sent.id)).every((r) => r.delivery?.state === 'delivered'), 50_000, 'all 63 delivered');
    expect(taken.size).toBe(63);
    expect([...taken.values()].every((n) => n === 1)).toBe(true);
    expect(maxInFlight).toBeLessThanOrEqual(8);
    expect(maxInFlight).toBeGreaterThan(1);
    const views = await desk.recipientStatuses(sent.id);
    for (const v of views) expect(v.delivery!.attempts).toBe(refusedOnce.has(v.organId) ? 2 : 1);
    // one envelope for all: signed once, To names every province
    const env = parseEnvelope(await desk.envelope(sent.id));
    expect(env.header.to).toHaveLength(63);
  }, 60_000);
});
