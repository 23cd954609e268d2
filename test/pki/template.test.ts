import { describe, it, expect } from 'vitest';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { CertTemplate, encodeCertificate, encodeTbs, ext, keyIdentifier } from '../../src/pki/certificate.js';
import { SCHEMES } from '../../src/crypto/algorithms.js';
import { encodeName } from '../../src/pki/name.js';
import { newSerial } from '../../src/pki/serial.js';

describe('certificate template', () => {
  it('assembles tbs and certificate byte-equal to encodeTbs and encodeCertificate, short and long lengths alike', () => {
    const keys = [
      generateKeyPairSync('ec', { namedCurve: 'P-256' }),
      generateKeyPairSync('ec', { namedCurve: 'P-384' }),
      generateKeyPairSync('ed25519'),
      generateKeyPairSync('rsa', { modulusLength: 2048 }),
    ].map((k) => k.publicKey.export({ type: 'spki', format: 'der' }));
    const alg = SCHEMES['ecdsa-sha256'].algorithmIdentifier;
    for (let i = 0; i < 200; i++) {
      const spki = keys[i % keys.length];
      const head = [ext.basicConstraints(false), ext.keyUsage(['digitalSignature'])];
      // from no tail at all to a tail long enough for three-byte lengths
      const tail =
        i % 2
          ? [
              ext.authorityKeyIdentifier(randomBytes(20)),
              ext.crlDistributionPoints([`http://x/${'a'.repeat(i * 3)}`]),
            ]
          : [];
      const issuer = encodeName([{ type: 'CN', value: `Issuing CA ${'x'.repeat(i % 50)}` }]);
      const subject = encodeName([
        { type: 'CN', value: `Nguyễn Văn ${'y'.repeat(i % 50)}` },
        { type: 'O', value: 'Bộ Nội vụ' },
      ]);
      const san = i % 4 ? ext.subjectAltName(Buffer.from([0x30, 0x03, 0x82, 0x01, 0x61]), i % 8 === 1) : null;
      // serials with a high bit (a leading zero byte) and with leading zeros to strip
      const serial =
        i % 5 === 0 ? Buffer.from([0x80 | i, 1, 2]) : i % 5 === 1 ? Buffer.from([0, 0, 5, i]) : newSerial();
      const f = {
        serial,
        notBefore: new Date(Date.UTC(2025, 0, 1) + i * 1000),
        notAfter: new Date(Date.UTC(2049 + (i % 3), 11, 31, 23, 59, 59)),
        subject,
        spki,
      };
      const extensions = [
        ...head,
        ext.subjectKeyIdentifier(keyIdentifier(spki)),
        ...tail,
        ...(san ? [san] : []),
      ];
      const t = new CertTemplate(alg, issuer, head, tail);
      const tbs = t.tbs({ ...f, subjectAltName: san });
      expect(tbs.equals(encodeTbs(alg, issuer, { ...f, extensions }))).toBe(true);
      const signature = randomBytes(64 + (i % 300));
      expect(t.certificate(tbs, signature).equals(encodeCertificate(tbs, alg, signature))).toBe(true);
    }
  });
});
