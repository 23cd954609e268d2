/**
 * The TSA over HTTP with openssl ts as the client and the judge: SHA-256/384/512 queries with and without
 * nonce and certReq, replies that `openssl ts -verify` accepts against the CA chain, ESSCertIDv2; SHA-1 refused with badAlg, malformed input with
 * badDataFormat — as TimeStampResp with HTTP 200; tokens logged; fuzzed input answered and survived.
 * (Accuracy 250 ms here, so genTime carries milliseconds; openssl's -verify parses it.)
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { buildApp } from '../../../src/http/app.js';
import { TimeStampAuthority, getToken } from '../../../src/pki/tsa/index.js';
import { getCa } from '../../../src/pki/index.js';
import { toPem } from '../../../src/asn1/der.js';
import { testDatabaseUrls } from '../../helpers/db.js';
import { testPlatform, type TestPlatform } from '../../helpers/platform.js';
import { openssl, opensslAsync, tmp } from '../../helpers/openssl.js';

for (const { name, url } of testDatabaseUrls()) {
  describe(`time-stamping authority on ${name}`, () => {
    let p: TestPlatform;
    let app: FastifyInstance;
    let tsa: TimeStampAuthority;
    let base: string;
    const dir = tmp();
    const f = (n: string) => join(dir, n);

    beforeAll(async () => {
      p = await testPlatform(await url());
      tsa = new TimeStampAuthority(p.pki, p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 250 });
      await tsa.start();
      app = await buildApp(p, { tsa });
      base = await app.listen({ host: '127.0.0.1', port: 0 });
      const root = (await getCa(p.db, 'root'))!;
      const issuing = (await getCa(p.db, 'issuing'))!;
      writeFileSync(f('chain.pem'), toPem('CERTIFICATE', root.certificate) + toPem('CERTIFICATE', issuing.certificate));
      writeFileSync(f('tsa.pem'), toPem('CERTIFICATE', tsa.certificate()));
      writeFileSync(f('data.bin'), randomBytes(1000));
    });
    afterAll(async () => {
      await app?.close();
      await p?.close();
    });

    const stamp = async (query: Buffer, type = 'application/timestamp-query') => {
      const res = await fetch(`${base}/tsa`, { method: 'POST', body: new Uint8Array(query), headers: { 'content-type': type } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/timestamp-reply');
      return Buffer.from(await res.arrayBuffer());
    };

    for (const [hash, certReq, nonce] of [
      ['sha256', true, true],
      ['sha256', false, false],
      ['sha384', true, false],
      ['sha512', false, true],
    ] as const) {
      it(`stamps a ${hash} query (certReq ${certReq}, nonce ${nonce}) that openssl ts -verify accepts`, async () => {
        const q = f(`${hash}-${certReq}-${nonce}.tsq`);
        openssl(['ts', '-query', '-data', f('data.bin'), `-${hash}`, ...(certReq ? ['-cert'] : []), ...(nonce ? [] : ['-no_nonce']), '-out', q]);
        const reply = await stamp(readFileSync(q));
        const r = f(`${hash}-${certReq}-${nonce}.tsr`);
        writeFileSync(r, reply);
        const text = openssl(['ts', '-reply', '-in', r, '-text']);
        expect(text).toMatch(/Status: Granted/);
        expect(text).toMatch(/Policy OID: 2\.16\.704\.1\.101\.1\.6\.1/);
        expect(text).toMatch(new RegExp(`Hash Algorithm: ${hash}`));
        expect(text).toMatch(/Accuracy: unspecified seconds, 0xFA millis/);
        expect(text).toMatch(nonce ? /Nonce: 0x[0-9A-F]+/ : /Nonce: unspecified/);
        const v = await opensslAsync([
          'ts', '-verify', '-data', f('data.bin'), '-in', r, '-CAfile', f('chain.pem'),
          ...(certReq ? [] : ['-untrusted', f('tsa.pem')]),
        ]);
        expect(v.out).toMatch(/Verification: OK/);
        // a different document must not verify against this token
        writeFileSync(f('other.bin'), 'other');
        const wrong = await opensslAsync(['ts', '-verify', '-data', f('other.bin'), '-in', r, '-CAfile', f('chain.pem'), '-untrusted', f('tsa.pem')]);
        expect(wrong.out).not.toMatch(/Verification: OK/);
        const serial = /Serial number: 0x([0-9A-F]+)/.exec(text)![1].toLowerCase();
        const row = await getToken(p.db, serial.padStart(32, '0'));
        expect(row).toMatchObject({ hashAlgorithm: hash, policy: '2.16.704.1.101.1.6.1' });
      });
    }

    it('refuses SHA-1 with badAlg, and unreadable or wrong-length input with badDataFormat', async () => {
      const q = f('sha1.tsq');
      openssl(['ts', '-query', '-data', f('data.bin'), '-sha1', '-out', q]);
      writeFileSync(f('sha1.tsr'), await stamp(readFileSync(q)));
      const t = openssl(['ts', '-reply', '-in', f('sha1.tsr'), '-text']);
      expect(t).toMatch(/Status: Rejected/);
      expect(t).toMatch(/Failure info:\s*unrecognized or unsupported algorithm identifier/);
      writeFileSync(f('junk.tsr'), await stamp(Buffer.from('not a request')));
      expect(openssl(['ts', '-reply', '-in', f('junk.tsr'), '-text'])).toMatch(/the data submitted has the wrong format/);
      // a SHA-256 query whose digest is 31 bytes
      const good = readFileSync(f('sha256-true-true.tsq'));
      const short = Buffer.from(good);
      const at = short.indexOf(Buffer.from('0420', 'hex'));
      short[at + 1] = 0x1f;
      const fixed = Buffer.concat([short.subarray(0, at + 2 + 31), short.subarray(at + 2 + 32)]);
      fixed[1] -= 1;
      fixed[at - 15 + 1] -= 1; // MessageImprint length (30 31 … at offset at-15)
      writeFileSync(f('short.tsr'), await stamp(fixed));
      expect(openssl(['ts', '-reply', '-in', f('short.tsr'), '-text'])).toMatch(/Status: Rejected[\s\S]*wrong format/);
      writeFileSync(f('big.tsr'), await stamp(Buffer.alloc(70_000, 0x30)));
      expect(openssl(['ts', '-reply', '-in', f('big.tsr'), '-text'])).toMatch(/Status: Rejected/);
    });

    it('answers fuzzed queries with a TimeStampResp and keeps granting good ones', async () => {
      const good = readFileSync(f('sha256-true-true.tsq'));
      let seed = 0x54534131;
      const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
      let granted = 0;
      for (let n = 0; n < 200; n++) {
        let body: Buffer;
        if (n % 3 === 0) body = good.subarray(0, Math.floor(rand() * good.length));
        else if (n % 3 === 1) {
          body = Buffer.from(good);
          body[Math.floor(rand() * body.length)] ^= 1 << Math.floor(rand() * 8);
        } else body = Buffer.from(Array.from({ length: Math.floor(rand() * 120) }, () => Math.floor(rand() * 256)));
        const reply = await stamp(body);
        expect(reply[0]).toBe(0x30);
        const i = reply[1] & 0x80 ? 2 + (reply[1] & 0x7f) : 2;
        expect(reply[i]).toBe(0x30); // PKIStatusInfo
        const status = reply[i + 4];
        expect([0, 2]).toContain(status);
        if (status === 0) granted++;
      }
      expect(granted).toBeLessThan(100);
      const ok = await stamp(good);
      writeFileSync(f('after.tsr'), ok);
      expect(openssl(['ts', '-reply', '-in', f('after.tsr'), '-text'])).toMatch(/Status: Granted/);
    });
  });
}
