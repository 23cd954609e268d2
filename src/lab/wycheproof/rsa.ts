/**
 * RSA private-key families: RSAES-OAEP and RSAES-PKCS1-v1_5 decryption (the product must recover the
 * message or refuse), and RSASSA-PKCS1-v1_5 generation (deterministic, so the signature must match).
 */
import type { HashName, PrivateKeyMaterial } from '../product.js';
import { unsupported } from '../product.js';
import { attempt } from '../outcome.js';
import { type Family, hashName, hexField, need, optionalHex, sameBytes } from './family.js';
import type { WycheproofGroup } from './file.js';

function rsaPrivate(g: WycheproofGroup): PrivateKeyMaterial {
  const k = g.privateKey as Record<string, string> | undefined;
  const has = k && typeof k === 'object' && k.modulus && k.privateExponent && k.prime1;
  return {
    pkcs8: optionalHex(g, 'privateKeyPkcs8'),
    jwk: g.privateKeyJwk as Record<string, unknown> | undefined,
    rsa: has
      ? {
          n: hexField(k, 'modulus'),
          e: hexField(k, 'publicExponent'),
          d: hexField(k, 'privateExponent'),
          p: hexField(k, 'prime1'),
          q: hexField(k, 'prime2'),
          dp: hexField(k, 'exponent1'),
          dq: hexField(k, 'exponent2'),
          qi: hexField(k, 'coefficient'),
        }
      : undefined,
  };
}

export const rsaOaepDecrypt: Family<{ hash: HashName; mgfHash: HashName; privateKey: PrivateKeyMaterial }> = {
  name: 'rsa-oaep-decrypt',
  schemas: ['rsaes_oaep_decrypt_schema_v1.json'],
  group(g) {
    if (g.mgf !== 'MGF1') throw unsupported(`OAEP mask generation ${String(g.mgf)}`);
    return { hash: hashName(g.sha), mgfHash: hashName(g.mgfSha), privateKey: rsaPrivate(g) };
  },
  async test(adapter, g, t) {
    const r = await attempt(() =>
      need(adapter, 'asymDecrypt')({ alg: 'RSAES-OAEP', hash: g.hash, mgfHash: g.mgfHash, label: hexField(t, 'label'), privateKey: g.privateKey, ct: hexField(t, 'ct') }),
    );
    if (!r.ok) return { accepted: false, note: r.note };
    if (t.result !== 'valid') return { accepted: true, note: 'decryption succeeded' };
    return sameBytes(r.value, hexField(t, 'msg'), 'message');
  },
};

export const rsaPkcs1Decrypt: Family<{ privateKey: PrivateKeyMaterial }> = {
  name: 'rsa-pkcs1-decrypt',
  schemas: ['rsaes_pkcs1_decrypt_schema_v1.json'],
  group: (g) => ({ privateKey: rsaPrivate(g) }),
  async test(adapter, g, t) {
    const r = await attempt(() => need(adapter, 'asymDecrypt')({ alg: 'RSAES-PKCS1-v1_5', privateKey: g.privateKey, ct: hexField(t, 'ct') }));
    if (!r.ok) return { accepted: false, note: r.note };
    if (t.result !== 'valid') {
      // Implicit rejection (RFC 8017 errata, OpenSSL >= 3.2) answers an invalid ciphertext with a
      // pseudo-random message instead of an error; that is a refusal unless it is the test's message.
      const msg = hexField(t, 'msg');
      const same = msg.length > 0 && sameBytes(r.value, msg, 'message').accepted;
      return same ? { accepted: true, note: 'decrypted to the listed message' } : { accepted: false, note: 'implicit rejection' };
    }
    return sameBytes(r.value, hexField(t, 'msg'), 'message');
  },
};

export const rsaPkcs1Generate: Family<{ hash: HashName; privateKey: PrivateKeyMaterial }> = {
  name: 'rsa-pkcs1-sign',
  schemas: ['rsassa_pkcs1_generate_schema_v1.json'],
  group: (g) => ({ hash: hashName(g.sha), privateKey: rsaPrivate(g) }),
  async test(adapter, g, t) {
    const r = await attempt(() => need(adapter, 'sigSign')({ alg: 'RSASSA-PKCS1-v1_5', hash: g.hash, privateKey: g.privateKey, msg: hexField(t, 'msg') }));
    if (!r.ok) return { accepted: false, note: r.note };
    return sameBytes(r.value, hexField(t, 'sig'), 'signature');
  },
};
