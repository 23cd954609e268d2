/**
 * The framed channel beside HTTP/1.1: servers of this release talk framed to each other, and over HTTP/1.1
 * to a server that speaks only that (as an earlier release does), in both directions — small and streamed
 * bodies, refusals with their codes, a streamed request refused before it was read — on a real axis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import tls from 'node:tls';
import { CLIENT_BNV, CLIENT_HCM, CLIENT_VPCP, alpnOf, startTestAxis, type TestAxis } from './setup.js';
import { ALPN_FRAMED, ALPN_FRAMED_CONFIRMED } from '../../../src/exchange/server/channel.js';
import { splitAddress } from '../../../src/exchange/server/peers.js';
import { parseService } from '../../../src/exchange/ids.js';
import { openssl, tmp } from '../../helpers/openssl.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

let t: TestAxis;

beforeAll(async () => {
  // Hồ Chí Minh's server speaks only HTTP/1.1 between servers
  t = await startTestAxis({ httpOnly: ['ss-hcm'] });
}, 180_000);

afterAll(async () => {
  await t?.close();
});

const HCM = '/r1/VN/PROV/000.00.31.H29/vanthu';
const BNV = '/r1/VN/GOV/000.00.00.G09/vanthu';
const VPCP = '/r1/VN/GOV/000.00.00.G22/vanthu';

async function call(memberIndex: number, client: string, path: string, body?: Buffer | string, method?: string) {
  const m = t.axis.members[memberIndex]!;
  const res = await fetch(`${m.isUrl}${path}`, {
    method: method ?? (body !== undefined ? 'POST' : 'GET'),
    headers: { 'x-road-client': client, 'content-type': 'application/octet-stream' },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : new Uint8Array(body) } : {}),
  });
  const b = Buffer.from(await res.arrayBuffer());
  return { status: res.status, error: res.headers.get('x-road-error'), body: b };
}

function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i + 4 <= n; i += 4096) b.writeUInt32BE(i, i);
  return b;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('the framed channel and HTTP/1.1 between security servers', () => {
  it('a server of this release picks truc/1 when offered no more (truc/2 otherwise); one that speaks only HTTP/1.1 picks that', async () => {
    expect(await alpnOf(t, 1, [ALPN_FRAMED, 'http/1.1'])).toBe(ALPN_FRAMED);
    expect(await alpnOf(t, 2, [ALPN_FRAMED, 'http/1.1'])).toBe('http/1.1');
    // the connection test of `truc ss diagnose` says which one a peer speaks
    const vpcp = t.axis.members[0]!.server;
    expect(await vpcp.testPeer(t.axis.members[1]!.id)).toMatchObject({ reachable: true, pinned: true, channel: ALPN_FRAMED_CONFIRMED });
    expect(await vpcp.testPeer(t.axis.members[2]!.id)).toMatchObject({ reachable: true, pinned: true, channel: 'http/1.1' });
  });

  it('framed both ways: small and streamed bodies intact, many at once on the kept connections', async () => {
    const small = await call(0, CLIENT_VPCP, `${BNV}/echo`, 'tin nhắn nhỏ');
    expect(small.status, small.body.toString()).toBe(200);
    expect(small.body.toString()).toBe('tin nhắn nhỏ');
    const big = pattern(3 * 1024 * 1024 + 5);
    const r = await call(0, CLIENT_VPCP, `${BNV}/echo`, big);
    expect(r.status, r.body.subarray(0, 200).toString()).toBe(200);
    expect(sha(r.body)).toBe(sha(big));
    const many = await Promise.all(Array.from({ length: 60 }, (_, i) => call(1, CLIENT_BNV, `${VPCP}/echo`, i % 10 === 0 ? pattern(200 * 1024 + i) : `thư ${i}`)));
    many.forEach((x, i) => {
      expect(x.status).toBe(200);
      if (i % 10 === 0) expect(sha(x.body)).toBe(sha(pattern(200 * 1024 + i)));
      else expect(x.body.toString()).toBe(`thư ${i}`);
    });
  });

  it('to and from the HTTP-only server: small and streamed bodies intact', async () => {
    const out = await call(0, CLIENT_VPCP, `${HCM}/echo`, 'gửi đến máy chủ cũ');
    expect(out.status, out.body.toString()).toBe(200);
    expect(out.body.toString()).toBe('gửi đến máy chủ cũ');
    const big = pattern(2 * 1024 * 1024 + 3);
    const r = await call(0, CLIENT_VPCP, `${HCM}/echo`, big);
    expect(r.status).toBe(200);
    expect(sha(r.body)).toBe(sha(big));
    const back = await call(2, CLIENT_HCM, `${VPCP}/echo`, big);
    expect(back.status, back.body.subarray(0, 200).toString()).toBe(200);
    expect(sha(back.body)).toBe(sha(big));
  });

  it('refusals keep their codes on both channels, and the connection serves the next exchange', async () => {
    for (const [consumer, client, path, provider] of [
      [0, CLIENT_VPCP, `${BNV}/khong-ton-tai`, 1],
      [0, CLIENT_VPCP, `${HCM}/khong-ton-tai`, 2],
    ] as const) {
      // connections the provider's peer listener accepts from here on: a refusal read through leaves the
      // connection open for the next message (a new TLS connection per refusal tripled a refusal's cost)
      const listener = (t.axis.members[provider]!.server as unknown as { peerServer: import('node:net').Server }).peerServer;
      await call(consumer, client, `${path.replace('khong-ton-tai', 'echo')}`, 'trước');
      let accepted = 0;
      const count = () => accepted++;
      listener.on('secureConnection', count);
      try {
        for (let i = 0; i < 3; i++) {
          const r = await call(consumer, client, path);
          expect(r.status).toBe(500);
          expect(r.error).toBe('Server.ServerProxy.UnknownService');
          expect(JSON.parse(r.body.toString())).toMatchObject({ code: 'unknown_service', status: 404 });
          const ok = await call(consumer, client, `${path.replace('khong-ton-tai', 'echo')}`, 'sau lỗi');
          expect(ok.body.toString()).toBe('sau lỗi');
        }
      } finally {
        listener.off('secureConnection', count);
      }
      expect(accepted, `${path}: connections opened across 3 refusals and 3 answers`).toBe(0);
    }
    // a streamed request refused by access rights before its body was read: the provider says why and
    // closes that connection; the next exchange goes through on another
    for (const [i, base] of [
      [1, BNV],
      [2, HCM],
    ] as const) {
      const provider = t.axis.members[i]!;
      await provider.server.store.putService(parseService(`SERVICE:${base.slice(4)}/kin`), provider.serviceUrl!);
      const denied = await call(0, CLIENT_VPCP, `${base}/kin/x`, pattern(4 * 1024 * 1024));
      expect(denied.error).toBe('Server.ServerProxy.AccessDenied');
      expect(JSON.parse(denied.body.toString())).toMatchObject({ code: 'access_denied', status: 403 });
      const after = await call(0, CLIENT_VPCP, `${base}/echo`, 'vẫn chạy');
      expect(after.body.toString()).toBe('vẫn chạy');
    }
  });

  it('over HTTP/1.1 too, a request that is out waits for a service slower than a silent peer is given', async () => {
    const http = await import('node:http');
    const slow = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => setTimeout(() => res.end('chậm mà chắc'), 6000));
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const hcm = t.axis.members[2]!.server.store;
    const svc = 'SERVICE:VN/PROV/000.00.31.H29/vanthu/cham';
    await hcm.putService(parseService(svc), `http://127.0.0.1:${(slow.address() as import('node:net').AddressInfo).port}`, 10_000);
    await hcm.grant({ service: svc, subject: `SUBSYSTEM:${CLIENT_VPCP}`, method: '*', path: '*' });
    const limits = t.axis.members[0]!.server.ctx.limits;
    const old = limits.timeoutMs;
    // a peer silent for 2.5 s would be given up (room for a busy machine's connection set-up), but the service
    // may take 10 s at its provider
    limits.timeoutMs = 2500;
    try {
      const r = await call(0, CLIENT_VPCP, `${HCM}/cham`, 'x');
      expect([r.status, r.body.toString()]).toEqual([200, 'chậm mà chắc']);
    } finally {
      limits.timeoutMs = old;
      slow.close();
    }
  });

  it('a framed connection whose certificate is no registered server’s is refused with the reason and closed', async () => {
    const dir = tmp('stranger-');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=stranger', '-days', '1', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')]);
    const { host, port } = splitAddress(t.axis.members[1]!.peerAddress);
    const s = tls.connect({ host, port, key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')), rejectUnauthorized: false, minVersion: 'TLSv1.3', ALPNProtocols: [ALPN_FRAMED] });
    await new Promise((r, j) => (s.once('secureConnect', r), s.once('error', j)));
    expect(s.alpnProtocol).toBe(ALPN_FRAMED);
    // refused as soon as the handshake is done, before it sends anything (a stranger does not get to hold
    // the connection until a first message is due)
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => {});
    // the provider ends the connection after its refusal
    await new Promise((r) => s.once('close', r));
    const got = Buffer.concat(chunks);
    expect(got[0]).toBe(0x45); // E
    const problem = JSON.parse(got.subarray(5, 5 + got.readUInt32BE(1)).toString());
    // and says so, so that a consumer does not keep it
    expect(problem).toMatchObject({ code: 'cert_invalid', status: expect.any(Number), closing: true });
  });
});
