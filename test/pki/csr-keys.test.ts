import { describe, it, expect } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { keyAlgorithmOf } from '../../src/pki/csr.js';

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
