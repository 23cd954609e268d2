/**
 * check-evidence judges a sender's signing certificate at the message's time, by the OCSP response the
 * sender carried with it: good then (even if revoked since) is proven good; revoked before the message is a
 * broken piece of evidence, not an unchecked one; a message the sender dates before a revocation its own
 * response reports is not proven (its time-stamp comes after), nor broken. The messages are signed as a security server signs them
 * (a hash-tree batch signature over the header and body digest) with a key certified by the platform's CA.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createPrivateKey, createHash, sign as nodeSign } from 'node:crypto';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { MessageLog, checkEvidence } from '../../../src/exchange/log/index.js';
import { BatchSigner } from '../../../src/exchange/server/batch-sign.js';
import { signMessage } from '../../../src/exchange/server/message.js';
import { OcspResponder } from '../../../src/pki/ocsp/index.js';
import { revoke } from '../../../src/pki/index.js';
import { toPem } from '../../../src/asn1/der.js';
import { openssl, opensslCsr, tmp } from '../../helpers/openssl.js';
import { logDir, testTsa, type TestTsa } from './fixtures.js';

let t: TestTsa;
let ocsp: OcspResponder;

beforeAll(async () => {
  t = await testTsa();
  ocsp = new OcspResponder(t.p.pki, t.p.issuer, t.p.config.ocsp, t.p.log);
  await ocsp.start();
}, 60_000);

afterAll(async () => {
  await ocsp?.stop();
  await t?.p.close();
});

describe('check-evidence: the sender’s certificate at the message’s time', () => {
  it('proves a certificate good by the OCSP response sent with the message, and finds one revoked before the message', async () => {
    const dir = tmp('truc-evidence-revoked-');
    const { csr, keyPath } = opensslCsr(dir, '/C=VN/O=Bộ Nội vụ/CN=Máy chủ an ninh ss-bnv');
    const issued = await t.p.issuer.issue({ profile: 'agency-signing', csr }, 'ra');
    const key = createPrivateKey(readFileSync(keyPath));
    const signer = new BatchSigner(
      (data) => nodeSign('sha256', data, { key, dsaEncoding: 'der' }),
      'ecdsa-sha256',
    );
    writeFileSync(join(dir, 'cert.pem'), toPem('CERTIFICATE', issued.der));
    writeFileSync(join(dir, 'issuing.pem'), toPem('CERTIFICATE', t.issuing));
    openssl([
      'ocsp',
      '-issuer',
      join(dir, 'issuing.pem'),
      '-cert',
      join(dir, 'cert.pem'),
      '-no_nonce',
      '-reqout',
      join(dir, 'req.der'),
    ]);
    const status = async () => (await ocsp.respond(readFileSync(join(dir, 'req.der')))).der;
    const good = await status();
    const revokedAt = Date.now();
    await revoke(t.p.pki, { serial: issued.serial, reason: 'keyCompromise' }, 'ra');
    const revoked = await status();
    expect(revoked.equals(good)).toBe(false);

    const log = await MessageLog.open({ dir: logDir() });
    // a message as a security server logs it: its header naming the signing certificate and its status
    const message = async (id: string, at: Date, ocspDer: Buffer) => {
      const body = Buffer.from(`{"van_ban":"Công văn ${id}"}`);
      const header = Buffer.from(
        JSON.stringify({
          v: 2,
          kind: 'request',
          id,
          client: 'SUBSYSTEM:VN/GOV/000.00.00.G09/vanthu',
          service: 'SERVICE:VN/PROV/000.00.31.H29/vanthu/echo',
          time: at.toISOString(),
          signCert: issued.der.toString('base64'),
          signOcsp: ocspDer.toString('base64'),
        }),
      );
      const bodyHash = createHash('sha256').update(body).digest();
      const sig = await signMessage(signer, header, bodyHash, body.length);
      await log.append({
        messageId: id,
        kind: 'request',
        side: 'consumer',
        client: 'SUBSYSTEM:VN/GOV/000.00.00.G09/vanthu',
        service: 'SERVICE:VN/PROV/000.00.31.H29/vanthu/echo',
        time: at,
        header,
        signature: sig.bytes,
        bodyHash,
        bodyLength: body.length,
        body,
      });
    };
    // before the revocation, with the response of then; after it, with the response saying so; dated before
    // it, but carrying the later response
    await message('truoc-thu-hoi', new Date(revokedAt - 60_000), good);
    await message('sau-thu-hoi', new Date(Date.now() + 1000), revoked);
    await message('truoc-thu-hoi-phan-hoi-sau', new Date(revokedAt - 60_000), revoked);
    await log.timestampNow(t.stamper);
    const check = async (id: string) => {
      const file = join(dir, `${id}.asice`);
      await pipeline(await log.evidence(id), createWriteStream(file));
      return checkEvidence(file, { trust: [t.root], intermediates: [t.issuing] });
    };
    try {
      const before = await check('truoc-thu-hoi');
      expect(before.problems).toEqual([]);
      expect(before.records.map((r) => r.signerStatus)).toEqual(['good (OCSP)']);
      const after = await check('sau-thu-hoi');
      expect(after.problems).toHaveLength(1);
      expect(after.problems[0]).toMatch(
        /chứng thư ký đã bị thu hồi vào thời điểm của thông điệp: .* \/ the signing certificate was revoked at the message's time/,
      );
      expect(after.records[0]!.signerStatus).toBeUndefined();
      // dated before the revocation by the sender, carrying a response that says revoked, time-stamped after:
      // nothing proves it was signed before (not broken, not proven either)
      const later = await check('truoc-thu-hoi-phan-hoi-sau');
      expect(later.problems).toEqual([]);
      expect(later.incomplete).toHaveLength(1);
      expect(later.incomplete[0]).toMatch(
        /chứng thư ký bị thu hồi lúc .* không chứng minh được chữ ký có trước khi thu hồi \/ the signing certificate was revoked at .*nothing proves it was signed before the revocation/,
      );
      expect(later.records[0]!.signerStatus).toBeUndefined();
    } finally {
      await log.close();
    }
  }, 60_000);
});
