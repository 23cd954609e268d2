import { describe, it, expect } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { keyAlgorithmOf, parseCsr } from '../../src/pki/csr.js';
import { bitString, ctx, int, oid, seq } from '../../src/asn1/der.js';
import { encodeName } from '../../src/pki/name.js';

/** The key algorithm is read from the SPKI's fields: it must agree with what OpenSSL says of the same key. */
describe('classifying a request key from its SubjectPublicKeyInfo', () => {
  const spki = (k: ReturnType<typeof generateKeyPairSync>) => k.publicKey.export({ type: 'spki', format: 'der' }) as Buffer;

  it('names the keys a profile may allow, as OpenSSL sees them', () => {
    const cases: [string, () => ReturnType<typeof generateKeyPairSync>][] = [
      ['EC-P256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' })],
      ['EC-P384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' })],
      ['RSA-2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
      ['RSA-3072', () => generateKeyPairSync('rsa', { modulusLength: 3072 })],
      ['Ed25519', () => generateKeyPairSync('ed25519')],
    ];
    for (const [name, make] of cases) {
      const k = make();
      expect(keyAlgorithmOf(spki(k)), name).toBe(name);
      const d = k.publicKey.asymmetricKeyDetails!;
      if (name.startsWith('RSA')) expect(d.modulusLength).toBe(Number(name.slice(4)));
    }
  });

  it('refuses other curves, sizes, exponents and key types with key_not_allowed', () => {
    const refused: [RegExp, () => ReturnType<typeof generateKeyPairSync>][] = [
      [/EC curve secp521r1/, () => generateKeyPairSync('ec', { namedCurve: 'P-521' })],
      [/EC curve secp256k1/, () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' })],
      [/RSA key of 1024 bits/, () => generateKeyPairSync('rsa', { modulusLength: 1024 })],
      [/RSA key of 2047 bits/, () => generateKeyPairSync('rsa', { modulusLength: 2047 })],
      [/exponent must be 65537/, () => generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 })],
      [/key type ed448/, () => generateKeyPairSync('ed448')],
      [/key type rsa-pss/, () => generateKeyPairSync('rsa-pss', { modulusLength: 2048 })],
    ];
    for (const [message, make] of refused) {
      let err: any;
      try {
        keyAlgorithmOf(spki(make()));
      } catch (e) {
        err = e;
      }
      expect(err, String(message)).toMatchObject({ code: 'key_not_allowed', message: expect.stringMatching(message) });
    }
  });

  it('refuses a key OpenSSL cannot parse as malformed', () => {
    const bad = Buffer.from(spki(generateKeyPairSync('ec', { namedCurve: 'P-256' })));
    bad[bad.length - 10] ^= 0xff; // the point is no longer on the curve
    expect(() => keyAlgorithmOf(bad)).toThrow(expect.objectContaining({ code: 'malformed_csr' }));
  });
});

describe('RSASSA-PSS parameters of a request', () => {
  /** A CSR over a P-256 key whose signatureAlgorithm is RSASSA-PSS with the given parameters (DER). */
  function pssCsr(params: Buffer): Buffer {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const info = seq(int(0), encodeName([{ type: 'CN', value: 'x' }]), publicKey.export({ type: 'spki', format: 'der' }) as Buffer);
    return seq(info, seq(oid('1.2.840.113549.1.1.10'), params), bitString(Buffer.alloc(64, 1)));
  }

  it('refuses empty, primitive or malformed parameters as malformed_csr, never a crash', () => {
    for (const params of [
      seq(ctx(0, Buffer.alloc(0))), // [0] with nothing in it
      seq(ctx(0, seq())), // an AlgorithmIdentifier without its OID
      seq(ctx(0, seq(oid('2.16.840.1.101.3.4.2.1'))), ctx(2, Buffer.from([0x02, 0x00]))), // SHA-256, then an empty salt length INTEGER
      Buffer.from([0x05, 0x00]), // NULL instead of the parameters SEQUENCE
    ]) {
      let err: any;
      try {
        parseCsr(pssCsr(params));
      } catch (e) {
        err = e;
      }
      expect(err?.code, err?.stack).toMatch(/^malformed_(csr|der)$/);
    }
  });

  it('refuses a hash other than SHA-2 as key_not_allowed', () => {
    const sha1 = seq(ctx(0, seq(oid('1.3.14.3.2.26'))));
    expect(() => parseCsr(pssCsr(sha1))).toThrow(expect.objectContaining({ code: 'key_not_allowed' }));
  });
});
