import { createPrivateKey, sign as nodeSign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SignatureScheme } from '../../src/crypto/algorithms.js';
import { signDetached, verifyDetached } from '../../src/sign/index.js';
import { openssl, opensslStatus, tmp } from '../helpers/openssl.js';

const dir = tmp('truc-cms-');
const der = (pemFile: string) => Buffer.from(readFileSync(pemFile, 'utf8').replace(/-----[^-]+-----|\s+/g, ''), 'base64');

/** A self-signed signing certificate made by openssl. */
function selfSigned(name: string, keyArgs: string[]): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  openssl(['req', '-x509', ...keyArgs, '-nodes', '-keyout', key, '-out', cert, '-subj', `/C=VN/O=Trục/CN=${name}`, '-days', '2', '-addext', 'keyUsage=critical,digitalSignature,nonRepudiation', '-utf8']);
  return { cert, key };
}

const cases: [string, string[], SignatureScheme][] = [
  ['ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], 'ecdsa-sha256'],
  ['rsa', ['-newkey', 'rsa:2048'], 'rsa-pkcs1-sha256'],
  ['rsapss', ['-newkey', 'rsa:2048'], 'rsa-pss-sha256'],
  ['ed25519', ['-newkey', 'ed25519'], 'ed25519'],
];

describe('detached CMS SignedData', () => {
  for (const [name, keyArgs, scheme] of cases) {
    it(`${scheme}: openssl cms -verify accepts ours; ours rejects a changed byte`, async () => {
      const { cert, key } = selfSigned(name, keyArgs);
      const k = createPrivateKey(readFileSync(key));
      const signFn = (data: Uint8Array) => {
        if (scheme === 'ed25519') return nodeSign(null, data, k);
        if (scheme === 'rsa-pss-sha256') return nodeSign('sha256', data, { key: k, padding: 6, saltLength: 32 });
        return nodeSign('sha256', data, k);
      };
      const content = Buffer.from('{"báo cáo":"Trục"}\n');
      const p7s = await signDetached(content, { certificate: der(cert), scheme, sign: signFn }, { signingTime: new Date('2030-06-01T12:00:00.500Z') });
      writeFileSync(join(dir, `${name}.p7s`), p7s);
      writeFileSync(join(dir, `${name}.txt`), content);
      const v = opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-in', join(dir, `${name}.p7s`), '-content', join(dir, `${name}.txt`), '-CAfile', cert, '-purpose', 'any', '-out', '/dev/null']);
      // OpenSSL before 3.2 has no EdDSA in CMS ("invalid digest"); ours is then judged by our verifier alone
      if (scheme !== 'ed25519' || !/invalid digest/.test(v.out)) expect(v.status, v.out).toBe(0);

      const ok = await verifyDetached(p7s, content, { trustAnchors: [der(cert)], at: new Date() });
      expect(ok).toMatchObject({ trusted: true, signingTime: new Date('2030-06-01T12:00:00Z') });
      expect(ok.signer.subject).toBe(`C=VN, O=Trục, CN=${name}`);
      const changed = Buffer.from(content);
      changed[3] ^= 0x20;
      await expect(verifyDetached(p7s, changed)).rejects.toMatchObject({ code: 'invalid_signature' });
    });
  }

  it('verifies a detached signature made by openssl cms -sign', async () => {
    const { cert, key } = selfSigned('openssl-signer', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384']);
    const content = join(dir, 'doc.txt');
    writeFileSync(content, 'công văn số 1\n');
    const out = join(dir, 'doc.p7s');
    openssl(['cms', '-sign', '-binary', '-in', content, '-signer', cert, '-inkey', key, '-outform', 'DER', '-out', out, '-md', 'sha384']);
    const v = await verifyDetached(readFileSync(out), readFileSync(content), { trustAnchors: [der(cert)], at: new Date() });
    expect(v.digest).toBe('sha384');
    expect(v.trusted).toBe(true);
  });

  it('refuses hostile or wrong input with invalid_signature, not a crash', async () => {
    await expect(verifyDetached(Buffer.from('3080', 'hex'), Buffer.alloc(0))).rejects.toMatchObject({ code: 'invalid_signature' });
    await expect(verifyDetached(Buffer.from('300d06092a864886f70d010701', 'hex'), Buffer.alloc(0))).rejects.toMatchObject({ code: 'invalid_signature' });
    const indefinite = Buffer.concat(Array.from({ length: 60 }, () => Buffer.from([0x30, 0x80])));
    await expect(verifyDetached(indefinite, Buffer.alloc(0))).rejects.toMatchObject({ code: 'invalid_signature' });
    await expect(verifyDetached(Buffer.alloc(2 << 20), Buffer.alloc(0))).rejects.toMatchObject({ code: 'too_large' });
  });
});
