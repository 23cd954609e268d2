/**
 * The HTTP intake of Windows XML exports checks its bounds as the body arrives: an oversized or hostile
 * body is refused once it passes a bound, before the rest of it is read (it used to be taken in whole, up
 * to 32 MiB, before the XML was looked at).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { MonitorService, monitorConfig } from '../../src/monitor/index.js';
import { testDatabaseUrls } from '../helpers/db.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';

const event = (i: number) =>
  `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Security-Auditing"/>` +
  `<EventID>4625</EventID><TimeCreated SystemTime="${new Date().toISOString()}"/><Channel>Security</Channel><Computer>ws${i}</Computer></System>` +
  `<EventData><Data Name="TargetUserName">u${i}</Data><Data Name="IpAddress">198.51.100.${i % 250}</Data><Data Name="Pad">${'p'.repeat(300)}</Data></EventData></Event>\n`;

for (const { name, url } of testDatabaseUrls()) {
  describe(`Windows XML over HTTP, bounds checked as the body arrives, on ${name}`, () => {
    let p: TestPlatform;
    let m: MonitorService;
    let app: FastifyInstance;
    let port: number;
    let token: string;
    const served: { status: number; body: string }[] = [];

    beforeAll(async () => {
      p = await testPlatform(await url());
      m = await MonitorService.start({ db: p.db, bus: p.bus, log: pino({ level: 'silent' }), config: monitorConfig({ http: { maxEvents: 100 } }) });
      app = await buildApp(p, { monitor: m });
      // what the server answered, as it sent it: a reset that overtakes the answer on the wire (below) loses it
      // for the client, not for the server
      app.addHook('onSend', async (req, reply, payload) => {
        if (req.url === '/api/v1/events/windows') served.push({ status: reply.statusCode, body: typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '' });
        return payload;
      });
      port = new URL(await app.listen({ host: '127.0.0.1', port: 0 })).port as unknown as number;
      token = (await createToken(p.db, 'event-sender', ['event-sender'])).token;
    });
    afterAll(async () => {
      await app?.close();
      await m?.stop();
      await p?.close();
    });

    /**
     * Sends a chunked body piece by piece until the server answers or the pieces run out; returns the
     * answer and how many bytes had been handed to the socket by then.
     */
    async function send(pieces: Iterable<string>, headers: Record<string, string> = {}): Promise<{ status: number; body: string; sent: number }> {
      const req = http.request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/v1/events/windows',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/xml', ...headers },
      });
      req.on('error', () => {}); // the server may close the connection while we still write: expected
      let answered = false;
      const answer = new Promise<{ status: number; body: string }>((resolve) => {
        // a connection closed with no answer read (a reset that overtook it) is status 0, not a hang
        req.on('close', () => setTimeout(() => resolve({ status: 0, body: '' }), 100));
        req.on('response', (res) => {
          answered = true;
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
      });
      let sent = 0;
      for (const piece of pieces) {
        if (answered || req.destroyed) break;
        sent += Buffer.byteLength(piece);
        // not events.once: it would reject on the EPIPE of a connection the server closed after answering
        if (!req.write(piece)) await Promise.race([new Promise((r) => req.once('drain', r)), answer, new Promise((r) => req.once('close', r))]);
        // lockstep: each piece flushed and given time to be read before the next, so that when the server
        // answers and closes nothing of ours is left unread in its socket — unread data makes the close a
        // reset, which can drop the answer before we read it
        await new Promise((r) => setTimeout(r, 3));
      }
      if (!answered && !req.destroyed) req.end();
      return { ...(await answer), sent };
    }

    it('takes a well-formed export in bounds', async () => {
      const r = await send(['<Events>', event(1), event(2), '</Events>']);
      expect(r.status).toBe(202);
      expect(JSON.parse(r.body).accepted).toBe(2);
    });

    it('refuses an export with more events than a request carries as soon as it passes the bound, not after reading it all', async () => {
      const total = 50_000; // about 20 MB, under the 32 MiB byte bound
      function* pieces() {
        yield '<Events>';
        for (let i = 0; i < total; i += 20) yield Array.from({ length: 20 }, (_, k) => event(i + k)).join('');
        yield '</Events>';
      }
      const size = 8 + total * Buffer.byteLength(event(1)) + 9;
      served.length = 0;
      const r = await send(pieces());
      // the server answers 413 and closes at the piece that passes the bound; on a loaded machine the rest of
      // that piece, unread in its socket, can make the close a reset that drops the answer before the client
      // reads it (status 0) — then the answer is the one the server sent
      expect([413, 0]).toContain(r.status);
      const answer = r.status === 413 ? r : served.at(-1)!;
      expect(served.map((x) => x.status)).toEqual([413]);
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.body)).toMatchObject({ code: 'too_large' });
      expect(answer.body).toMatch(/more than 100 events/);
      // answered long before the body was all sent (socket buffers hold a few megabytes at most)
      expect(r.sent).toBeLessThan(size / 3);
    });

    it('refuses a body growing past 32 MiB once it does, and a declared length over it before reading', async () => {
      // one endless value: no event ends, so only the byte bound can stop it
      function* endless() {
        yield '<Events><Event><EventData><Data Name="x">';
        for (let i = 0; i < 256; i++) yield 'x'.repeat(256 * 1024); // 64 MiB planned
      }
      served.length = 0;
      const r = await send(endless());
      // The server answers 413 and closes at the piece that passes the bound; the rest of that piece, unread
      // in its socket, makes the close a reset that may drop the answer before the client reads it. Either
      // way it stopped reading at the bound (the parser's own test pins that to the byte, with the message).
      expect([413, 0]).toContain(r.status);
      if (r.status === 413) expect(r.body).toMatch(/XML larger than 33554432 bytes/);
      expect(served.map((x) => x.status)).toEqual([413]);
      expect(served[0]!.body).toMatch(/XML larger than 33554432 bytes/);
      expect(r.sent).toBeLessThan(48 * 1024 * 1024);

      // a declared length over the bound: answered at once, with nothing of the body sent
      const sock = net.connect(port, '127.0.0.1');
      sock.on('error', () => {}); // the server closes after answering
      await once(sock, 'connect');
      sock.write(
        `POST /api/v1/events/windows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/xml\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n<Events>`,
      );
      let head = '';
      sock.setEncoding('utf8');
      for await (const d of sock) {
        head += d as string;
        if (head.includes('\r\n\r\n')) break;
      }
      sock.destroy();
      expect(head).toMatch(/^HTTP\/1\.1 413/);
    });
  });
}
