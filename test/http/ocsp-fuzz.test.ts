/**
 * Hostile input to the OCSP endpoints (main app and lean server): truncated, bit-flipped and random
 * requests from a seeded PRNG. Each gets HTTP 200, application/ocsp-response and an OCSPResponse whose
 * status is an error (or, for a flip that still parses, a proper answer) — and the service keeps answering
 * a valid request afterwards. Oversized bodies and wrong content types get malformedRequest too.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { buildApp } from '../../src/http/app.js';
import { ocspServer } from '../../src/http/ocsp/serve.js';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { getCa } from '../../src/pki/index.js';
import { buildOcspRequest } from '../../src/pki/path/index.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';

/** mulberry32: a small seeded PRNG, so a failure replays. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('OCSP endpoints under hostile input', () => {
  let p: TestPlatform;
  let app: FastifyInstance;
  let lean: Server;
  let responder: OcspResponder;
  let valid: Buffer;
  let bases: string[];

  beforeAll(async () => {
    p = await testPlatform('memory://');
    const leaf = await p.issuer.issue({ profile: 'agency-auth', csr: opensslCsr(tmp(), '/C=VN/O=X/CN=Fuzz').csr }, 'test');
    const issuing = (await getCa(p.db, 'issuing'))!;
    valid = buildOcspRequest(leaf.der, issuing.certificate, { nonce: true });
    responder = new OcspResponder(p.pki, p.issuer, { validityMinutes: 60, refreshBeforeMinutes: 10, signWith: 'delegated', pollSeconds: 5 });
    await responder.start();
    app = await buildApp(p, { ocsp: responder });
    const a = await app.listen({ host: '127.0.0.1', port: 0 });
    lean = ocspServer(responder);
    await new Promise<void>((r) => lean.listen(0, '127.0.0.1', r));
    bases = [a, `http://127.0.0.1:${(lean.address() as AddressInfo).port}`];
  });
  afterAll(async () => {
    await app?.close();
    await new Promise((r) => lean?.close(r));
    await responder?.stop();
    await p?.close();
  });

  const post = async (base: string, body: Uint8Array, type = 'application/ocsp-request') => {
    const res = await fetch(`${base}/ocsp`, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': type } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/ocsp-response');
    return Buffer.from(await res.arrayBuffer());
  };
  const statusOf = (der: Buffer) => {
    expect(der[0]).toBe(0x30);
    const i = der[1] & 0x80 ? 2 + (der[1] & 0x7f) : 2;
    expect(der[i]).toBe(0x0a);
    return der[i + 2];
  };

  it('answers truncated, bit-flipped and random requests with an OCSP status, then still serves', async () => {
    const rand = prng(0x7275635f);
    const seen = new Map<number, number>();
    for (let n = 0; n < 300; n++) {
      let body: Buffer;
      const kind = n % 3;
      if (kind === 0) body = valid.subarray(0, Math.floor(rand() * valid.length));
      else if (kind === 1) {
        body = Buffer.from(valid);
        for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) body[Math.floor(rand() * body.length)] ^= 1 << Math.floor(rand() * 8);
      } else body = Buffer.from(Array.from({ length: Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)));
      const status = statusOf(await post(bases[n % 2], body));
      expect([0, 1, 6]).toContain(status); // a flip in a hash names another issuer: unauthorized
      seen.set(status, (seen.get(status) ?? 0) + 1);
    }
    expect(seen.get(1)).toBeGreaterThan(100);
    for (const b of bases) expect(statusOf(await post(b, valid))).toBe(0);
  });

  it('answers an oversized body, a wrong content type and a non-base64 GET with malformedRequest', async () => {
    for (const b of bases) {
      expect(statusOf(await post(b, Buffer.alloc(70_000, 0x30)))).toBe(1);
      const get = await fetch(`${b}/ocsp/not*base64!`);
      expect(get.status).toBe(200);
      expect(statusOf(Buffer.from(await get.arrayBuffer()))).toBe(1);
      expect(statusOf(await post(b, valid))).toBe(0);
    }
    expect(statusOf(await post(bases[0], valid, 'text/plain'))).toBe(1);
  });
});
