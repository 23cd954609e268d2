/**
 * node:crypto (OpenSSL) as a product: the reference implementation for most families. What OpenSSL 3.0
 * under Node 20 lacks (ML-KEM, ML-DSA, XChaCha20-Poly1305, a CMAC API) is reported UNSUPPORTED.
 */
import * as crypto from 'node:crypto';
import { promisify } from 'node:util';
import {
  type AeadInput,
  type Bytes,
  type HashName,
  type KeyAgreeInput,
  type PrivateKeyMaterial,
  type ProductAdapter,
  type PublicKeyMaterial,
  unsupported,
} from '../product.js';
import { EC_FIELD_BYTES, fixedScalar, parseEcSpki, rawPrivateToPkcs8, rawPublicToSpki } from './spki.js';

const pbkdf2 = promisify(crypto.pbkdf2);
const hkdf = promisify(crypto.hkdf);

const NODE_HASH: Record<HashName, string> = {
  'SHA-1': 'sha1',
  'SHA-224': 'sha224',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
  'SHA3-224': 'sha3-224',
  'SHA3-256': 'sha3-256',
  'SHA3-384': 'sha3-384',
  'SHA3-512': 'sha3-512',
};
const NODE_CURVE = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' } as const;

const u8 = (b: Buffer | ArrayBuffer): Bytes => (b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength));

function aesName(key: Bytes, mode: string): string {
  if (![16, 24, 32].includes(key.length)) throw new Error(`AES key of ${key.length} bytes`);
  return `aes-${key.length * 8}-${mode}`;
}

/** Small bounded cache of imported keys: groups share one key across many tests. */
function keyCache<K>(make: (k: K) => crypto.KeyObject, id: (k: K) => string, max = 256) {
  const m = new Map<string, crypto.KeyObject>();
  return (k: K): crypto.KeyObject => {
    const i = id(k);
    let v = m.get(i);
    if (!v) {
      v = make(k);
      if (m.size >= max) m.delete(m.keys().next().value as string);
      m.set(i, v);
    }
    return v;
  };
}

const hexId = (b: Bytes | undefined): string => (b ? Buffer.from(b).toString('hex') : '');

function publicKeyOf(pk: PublicKeyMaterial, rawKind?: 'Ed25519' | 'Ed448' | 'X25519' | 'X448'): crypto.KeyObject {
  if (pk.spki) return crypto.createPublicKey({ key: Buffer.from(pk.spki), format: 'der', type: 'spki' });
  if (pk.jwk) return crypto.createPublicKey({ key: pk.jwk as crypto.JsonWebKey, format: 'jwk' });
  if (pk.raw && rawKind) return crypto.createPublicKey({ key: rawPublicToSpki(rawKind, pk.raw), format: 'der', type: 'spki' });
  throw unsupported('public key encoding');
}

const cachedPublic = keyCache<{ pk: PublicKeyMaterial; raw?: 'Ed25519' | 'Ed448' }>(
  ({ pk, raw }) => publicKeyOf(pk, raw),
  ({ pk, raw }) => `${raw ?? ''}:${hexId(pk.spki)}:${hexId(pk.raw)}:${pk.jwk ? JSON.stringify(pk.jwk) : ''}`,
);

const cachedPrivate = keyCache<PrivateKeyMaterial>(
  (k) => {
    if (k.pkcs8) return crypto.createPrivateKey({ key: Buffer.from(k.pkcs8), format: 'der', type: 'pkcs8' });
    if (k.jwk) return crypto.createPrivateKey({ key: k.jwk as crypto.JsonWebKey, format: 'jwk' });
    throw unsupported('private key encoding');
  },
  (k) => `${hexId(k.pkcs8)}:${k.jwk ? JSON.stringify(k.jwk) : ''}`,
);

function aeadCipher(p: AeadInput, decrypt: boolean): crypto.CipherGCM | crypto.DecipherGCM | crypto.CipherCCM | crypto.DecipherCCM {
  switch (p.alg) {
    case 'AES-GCM': {
      const name = aesName(p.key, 'gcm') as crypto.CipherGCMTypes;
      const o = { authTagLength: p.tagSize };
      return decrypt ? crypto.createDecipheriv(name, p.key, p.iv, o) : crypto.createCipheriv(name, p.key, p.iv, o);
    }
    case 'AES-CCM': {
      const name = aesName(p.key, 'ccm') as crypto.CipherCCMTypes;
      const o = { authTagLength: p.tagSize };
      return decrypt ? crypto.createDecipheriv(name, p.key, p.iv, o) : crypto.createCipheriv(name, p.key, p.iv, o);
    }
    case 'CHACHA20-POLY1305': {
      const o = { authTagLength: p.tagSize } as crypto.CipherGCMOptions;
      return (decrypt
        ? crypto.createDecipheriv('chacha20-poly1305' as crypto.CipherGCMTypes, p.key, p.iv, o)
        : crypto.createCipheriv('chacha20-poly1305' as crypto.CipherGCMTypes, p.key, p.iv, o));
    }
    default:
      throw unsupported(`AEAD ${p.alg}`);
  }
}

/** Node caps AEAD IV length (GCM IVs of 255 bytes and more are refused): a limit, not a rejection. */
function withIvLimit<T>(p: AeadInput, make: () => T): T {
  try {
    return make();
  } catch (e) {
    if (p.alg === 'AES-GCM' && p.iv.length > 128 && /initialization vector/i.test((e as Error).message)) {
      throw unsupported(`AES-GCM IV of ${p.iv.length} bytes (Node limit)`);
    }
    throw e;
  }
}

/** Node's streaming cipher API never calls the wrap primitive on empty input and returns empty output. */
function refuseEmpty(b: Bytes): void {
  if (b.length === 0) throw new Error('empty input to key wrap');
}

/** ECDH objects by private scalar: setting the key costs a scalar multiplication, and groups reuse keys. */
const ecdhCache = new Map<string, crypto.ECDH>();
function ecdhFor(curve: keyof typeof NODE_CURVE, scalar: Bytes): crypto.ECDH {
  const id = `${curve}:${hexId(scalar)}`;
  let e = ecdhCache.get(id);
  if (!e) {
    e = crypto.createECDH(NODE_CURVE[curve]);
    e.setPrivateKey(Buffer.from(scalar));
    if (ecdhCache.size >= 256) ecdhCache.delete(ecdhCache.keys().next().value as string);
    ecdhCache.set(id, e);
  }
  return e;
}

function ecdhSecret(p: Extract<KeyAgreeInput, { alg: 'ECDH' }>): Bytes {
  if (p.publicKey.jwk && p.privateKey.jwk) {
    const publicKey = crypto.createPublicKey({ key: p.publicKey.jwk as crypto.JsonWebKey, format: 'jwk' });
    return u8(crypto.diffieHellman({ publicKey, privateKey: cachedPrivate(p.privateKey) }));
  }
  if (!p.privateKey.raw) throw unsupported('EC private key encoding');
  let point: Buffer;
  if (p.publicKey.spki) {
    // RFC 5480: PKIX EC keys name their curve. OpenSSL 3.0 also takes explicit parameters and then ignores
    // a wrong or missing cofactor (Wycheproof NoCofactor/LargeCofactor), so a product must insist on a name.
    if (parseEcSpki(p.publicKey.spki).curve !== p.curve) throw new Error(`public key does not name curve ${p.curve}`);
    const key = crypto.createPublicKey({ key: Buffer.from(p.publicKey.spki), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== NODE_CURVE[p.curve]) {
      throw new Error(`public key is not on ${p.curve}`);
    }
    const jwk = key.export({ format: 'jwk' });
    point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  } else if (p.publicKey.raw) {
    point = Buffer.from(p.publicKey.raw);
  } else {
    throw unsupported('EC public key encoding');
  }
  return u8(ecdhFor(p.curve, fixedScalar(p.privateKey.raw, EC_FIELD_BYTES[p.curve])).computeSecret(point));
}

function xdhSecret(p: Extract<KeyAgreeInput, { alg: 'XDH' }>): Bytes {
  const publicKey = publicKeyOf(p.publicKey, p.curve);
  let privateKey: crypto.KeyObject;
  if (p.privateKey.raw) {
    privateKey = crypto.createPrivateKey({ key: rawPrivateToPkcs8(p.curve, p.privateKey.raw), format: 'der', type: 'pkcs8' });
  } else {
    privateKey = cachedPrivate(p.privateKey);
  }
  return u8(crypto.diffieHellman({ publicKey, privateKey }));
}

export function nodeCryptoProduct(): ProductAdapter {
  return {
    info: { name: 'OpenSSL via node:crypto', version: `OpenSSL ${process.versions.openssl}, Node ${process.version}`, adapter: 'node' },

    async aeadEncrypt(p) {
      const c = withIvLimit(p, () => aeadCipher(p, false)) as crypto.CipherGCM;
      if (p.alg === 'AES-CCM') (c as unknown as crypto.CipherCCM).setAAD(p.aad, { plaintextLength: p.msg.length });
      else c.setAAD(p.aad);
      const ct = Buffer.concat([c.update(p.msg), c.final()]);
      return { ct: u8(ct), tag: u8(c.getAuthTag()) };
    },

    async aeadDecrypt(p) {
      const d = withIvLimit(p, () => aeadCipher(p, true)) as crypto.DecipherGCM;
      d.setAuthTag(p.tag);
      if (p.alg === 'AES-CCM') (d as unknown as crypto.DecipherCCM).setAAD(p.aad, { plaintextLength: p.ct.length });
      else d.setAAD(p.aad);
      return u8(Buffer.concat([d.update(p.ct), d.final()]));
    },

    async cipherEncrypt(p) {
      if (p.alg !== 'AES-CBC-PKCS5') throw unsupported(p.alg);
      const c = crypto.createCipheriv(aesName(p.key, 'cbc'), p.key, p.iv);
      return u8(Buffer.concat([c.update(p.msg), c.final()]));
    },

    async cipherDecrypt(p) {
      if (p.alg !== 'AES-CBC-PKCS5') throw unsupported(p.alg);
      const d = crypto.createDecipheriv(aesName(p.key, 'cbc'), p.key, p.iv);
      return u8(Buffer.concat([d.update(p.ct), d.final()]));
    },

    async macCompute(p) {
      if (!p.alg.startsWith('HMAC-')) throw unsupported(`MAC ${p.alg}`);
      const h = NODE_HASH[p.alg.slice(5) as HashName];
      if (!h) throw unsupported(`MAC ${p.alg}`);
      return u8(crypto.createHmac(h, p.key).update(p.msg).digest());
    },

    async hash(p) {
      const h = NODE_HASH[p.alg];
      if (!h) throw unsupported(`hash ${p.alg}`);
      return u8(crypto.createHash(h).update(p.msg).digest());
    },

    async kdf(p) {
      const h = NODE_HASH[p.hash];
      if (!h) throw unsupported(`hash ${p.hash}`);
      if (p.alg === 'HKDF') return u8(await hkdf(h, p.ikm, p.salt, p.info, p.size));
      return u8(await pbkdf2(p.password, p.salt, p.iterations, p.size, h));
    },

    async keyWrap(p) {
      refuseEmpty(p.msg);
      const mode = p.alg === 'AES-KW' ? 'wrap' : 'wrap-pad';
      const iv = Buffer.from(p.alg === 'AES-KW' ? 'a6a6a6a6a6a6a6a6' : 'a65959a6', 'hex');
      const c = crypto.createCipheriv(`id-aes${p.key.length * 8}-${mode}`, p.key, iv);
      return u8(Buffer.concat([c.update(p.msg), c.final()]));
    },

    async keyUnwrap(p) {
      refuseEmpty(p.ct);
      const mode = p.alg === 'AES-KW' ? 'wrap' : 'wrap-pad';
      const iv = Buffer.from(p.alg === 'AES-KW' ? 'a6a6a6a6a6a6a6a6' : 'a65959a6', 'hex');
      const d = crypto.createDecipheriv(`id-aes${p.key.length * 8}-${mode}`, p.key, iv);
      return u8(Buffer.concat([d.update(p.ct), d.final()]));
    },

    async sigVerify(p) {
      switch (p.alg) {
        case 'ECDSA': {
          const key = cachedPublic({ pk: p.publicKey });
          if (key.asymmetricKeyDetails?.namedCurve !== NODE_CURVE[p.curve]) throw new Error('key is not on the group curve');
          const dsaEncoding = p.encoding === 'der' ? 'der' : 'ieee-p1363';
          return crypto.verify(NODE_HASH[p.hash], p.msg, { key, dsaEncoding }, p.sig);
        }
        case 'EdDSA':
          return crypto.verify(null, p.msg, cachedPublic({ pk: p.publicKey, raw: p.curve }), p.sig);
        case 'RSASSA-PKCS1-v1_5':
          return crypto.verify(NODE_HASH[p.hash], p.msg, { key: cachedPublic({ pk: p.publicKey }), padding: crypto.constants.RSA_PKCS1_PADDING }, p.sig);
        case 'RSASSA-PSS':
          // OpenSSL through Node ties the MGF1 hash to the message hash.
          if (p.mgfHash !== p.hash) throw unsupported('PSS with an MGF1 hash different from the message hash');
          return crypto.verify(
            NODE_HASH[p.hash],
            p.msg,
            { key: cachedPublic({ pk: p.publicKey }), padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: p.saltLength },
            p.sig,
          );
        default:
          throw unsupported(`signature ${p.alg}`);
      }
    },

    async sigSign(p) {
      if (p.alg !== 'RSASSA-PKCS1-v1_5') throw unsupported(p.alg);
      return u8(crypto.sign(NODE_HASH[p.hash], p.msg, { key: cachedPrivate(p.privateKey), padding: crypto.constants.RSA_PKCS1_PADDING }));
    },

    async keyAgree(p) {
      return p.alg === 'ECDH' ? ecdhSecret(p) : xdhSecret(p);
    },

    async asymDecrypt(p) {
      const key = cachedPrivate(p.privateKey);
      if (p.alg === 'RSAES-OAEP') {
        if (p.mgfHash !== p.hash) throw unsupported('OAEP with an MGF1 hash different from the label hash');
        return u8(crypto.privateDecrypt({ key, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: NODE_HASH[p.hash], oaepLabel: p.label }, p.ct));
      }
      try {
        return u8(crypto.privateDecrypt({ key, padding: crypto.constants.RSA_PKCS1_PADDING }, p.ct));
      } catch (e) {
        // Node refuses PKCS#1 v1.5 decryption outright (CVE-2023-46809) unless OpenSSL does implicit rejection.
        if (/no longer supported/i.test((e as Error).message)) throw unsupported('RSAES-PKCS1-v1_5 decryption (disabled in Node)');
        throw e;
      }
    },
  };
}
