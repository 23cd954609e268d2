/**
 * The @noble libraries (pure JavaScript, audited) as a product: the second reference, and the one that
 * covers what OpenSSL 3.0 lacks (ML-KEM, ML-DSA, XChaCha20-Poly1305, AES-CMAC). No RSA, no AES-CCM.
 */
import { aeskw, aeskwp, aessiv, cbc, cmac, gcm, gcmsiv } from '@noble/ciphers/aes.js';
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { ed448, x448 } from '@noble/curves/ed448.js';
import { brainpoolP256r1, brainpoolP384r1, brainpoolP512r1 } from '@noble/curves/misc.js';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import type { CHash } from '@noble/hashes/utils.js';
import { sha1 } from '@noble/hashes/legacy.js';
import { pbkdf2Async } from '@noble/hashes/pbkdf2.js';
import { sha224, sha256, sha384, sha512, sha512_224, sha512_256 } from '@noble/hashes/sha2.js';
import { sha3_224, sha3_256, sha3_384, sha3_512, shake128_32, shake256_64 } from '@noble/hashes/sha3.js';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { ml_kem1024, ml_kem512, ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { type Bytes, type EcCurve, type HashName, type PbeInput, type ProductAdapter, type PublicKeyMaterial, unsupported } from '../product.js';
import { fixedScalar, parseEcSpki } from './spki.js';
import { repeated } from './repeat.js';

const HASH: Record<HashName, CHash> = {
  'SHA-1': sha1,
  'SHA-224': sha224,
  'SHA-256': sha256,
  'SHA-384': sha384,
  'SHA-512': sha512,
  'SHA-512/224': sha512_224,
  'SHA-512/256': sha512_256,
  'SHA3-224': sha3_224,
  'SHA3-256': sha3_256,
  'SHA3-384': sha3_384,
  'SHA3-512': sha3_512,
  // fixed-length SHAKE as ECDSA and RSA-PSS use it (RFC 8692): 256 and 512 bits
  SHAKE128: shake128_32,
  SHAKE256: shake256_64,
};
const EC_CURVES = { 'P-256': p256, 'P-384': p384, 'P-521': p521, secp256k1, brainpoolP256r1, brainpoolP384r1, brainpoolP512r1 } as const;
type NobleCurve = (typeof EC_CURVES)[keyof typeof EC_CURVES];

/** The noble curve for a lab curve name; the others (secp224r1, brainpoolP224r1, binary curves…) noble lacks. */
function ecOf(c: EcCurve): NobleCurve {
  const curve = (EC_CURVES as Record<string, NobleCurve>)[c];
  if (!curve) throw unsupported(`curve ${c} (not in @noble/curves)`);
  return curve;
}

/** Field size in bytes, from the curve itself. */
const fieldBytes = (c: EcCurve): number => ecOf(c).Point.Fp.BYTES;
const KEM = { 'ML-KEM-512': ml_kem512, 'ML-KEM-768': ml_kem768, 'ML-KEM-1024': ml_kem1024 } as const;
const DSA = { 'ML-DSA-44': ml_dsa44, 'ML-DSA-65': ml_dsa65, 'ML-DSA-87': ml_dsa87 } as const;

function hashOf(h: HashName) {
  const f = HASH[h];
  if (!f) throw unsupported(`hash ${h}`);
  return f;
}

/** Uncompressed point from whichever encoding the file gave, insisting on the expected curve. */
function ecPoint(curve: EcCurve, pk: PublicKeyMaterial): Bytes {
  if (pk.raw) return pk.raw;
  // noble takes points only: the SPKI is unwrapped here, and a key naming another curve (or none) is
  // refused by the adapter on noble's behalf, which has no way to be handed one
  if (pk.spki) {
    const s = parseEcSpki(pk.spki);
    if (s.algorithm !== 'ecPublicKey' || s.curve !== curve) throw new Error(`public key does not name curve ${curve}`);
    return s.key;
  }
  if (pk.jwk) {
    const { crv, x, y } = pk.jwk as { crv?: string; x?: string; y?: string };
    if (crv !== (curve === 'secp256k1' ? 'secp256k1' : curve) && !(curve === 'secp256k1' && crv === 'P-256K')) throw new Error('JWK: wrong curve');
    if (typeof x !== 'string' || typeof y !== 'string') throw new Error('JWK: wrong curve or missing coordinates');
    const n = fieldBytes(curve);
    const X = Buffer.from(x, 'base64url');
    const Y = Buffer.from(y, 'base64url');
    if (X.length !== n || Y.length !== n) throw new Error('JWK: coordinate of wrong length');
    return new Uint8Array(Buffer.concat([Buffer.from([4]), X, Y]));
  }
  throw unsupported('EC public key encoding');
}

function ecScalar(curve: EcCurve, k: { raw?: Bytes; jwk?: Record<string, unknown> }): Bytes {
  if (k.raw) return fixedScalar(k.raw, fieldBytes(curve));
  if (k.jwk && typeof k.jwk.d === 'string') return fixedScalar(Buffer.from(k.jwk.d, 'base64url'), fieldBytes(curve));
  throw unsupported('EC private key encoding');
}

/** PBES2 (RFC 8018 §6.2) from noble's PBKDF2 and AES-CBC, the two calls in the order the RFC gives. */
async function pbes2(p: PbeInput, data: Bytes, decrypt: boolean): Promise<Bytes> {
  const m = /^AES-(128|192|256)-CBC$/.exec(p.cipher);
  if (p.alg !== 'PBES2' || !m) throw unsupported(`PBE ${p.alg} ${p.cipher}`);
  const key = await pbkdf2Async(hashOf(p.prf), p.password, p.salt, { c: p.iterations, dkLen: Number(m[1]) / 8 });
  return decrypt ? cbc(key, p.iv).decrypt(data) : cbc(key, p.iv).encrypt(data);
}

/**
 * The BLS ciphersuites of draft-irtf-cfrg-bls-signature noble's long signatures (public keys in G1,
 * signatures in G2) implement: Basic and proof of possession, whose domain separation tag is the
 * ciphersuite's name.
 */
const BLS_SUITES = new Set(['BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_', 'BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_']);
function blsSuite(ciphersuite: string): string {
  if (!BLS_SUITES.has(ciphersuite)) throw unsupported(`BLS ${ciphersuite}: không có trong @noble/curves / not in @noble/curves`);
  return ciphersuite;
}

function bigBytes(v: bigint): Bytes {
  const h = v.toString(16);
  return new Uint8Array(Buffer.from(h.length % 2 ? `0${h}` : h, 'hex'));
}

export function nobleProduct(): ProductAdapter {
  return {
    info: { name: 'noble (pure JavaScript)', version: '@noble/curves 2.2, @noble/ciphers 2, @noble/hashes 2, @noble/post-quantum 0.7', adapter: 'noble' },

    async macWithIv(p) {
      if (p.alg !== 'AES-GMAC') throw unsupported(`MAC ${p.alg} (not in @noble/ciphers)`);
      return gcm(p.key, p.iv, p.msg).encrypt(new Uint8Array(0));
    },

    async mlDsaSign(p) {
      const dsa = DSA[p.alg];
      const secretKey = 'seed' in p ? dsa.keygen(p.seed).secretKey : p.privateKey;
      // no rnd is FIPS 204's deterministic variant, which signs with 32 zero bytes (noble's `false`)
      const extraEntropy = p.rnd ?? false;
      return 'mu' in p ? dsa.internal.sign(p.mu, secretKey, { externalMu: true, extraEntropy }) : dsa.sign(p.msg, secretKey, { context: p.context, extraEntropy });
    },

    async daeadEncrypt(p) {
      if (p.alg !== 'AES-SIV-CMAC') throw unsupported(`${p.alg}: không có trong @noble/ciphers / not in @noble/ciphers`);
      // RFC 5297 with one associated-data string and no nonce; noble's output is V || C, the RFC's
      return aessiv(p.key, p.aad).encrypt(p.msg);
    },

    async daeadDecrypt(p) {
      if (p.alg !== 'AES-SIV-CMAC') throw unsupported(`${p.alg}: không có trong @noble/ciphers / not in @noble/ciphers`);
      return aessiv(p.key, p.aad).decrypt(p.ct);
    },

    pbeEncrypt: (p) => pbes2(p, p.msg, false),

    pbeDecrypt: (p) => pbes2(p, p.ct, true),

    async fpeEncrypt(p) {
      throw unsupported(`${p.alg}: @noble/ciphers không có mã hoá bảo toàn định dạng / format-preserving encryption is not in @noble/ciphers`);
    },

    async fpeDecrypt(p) {
      throw unsupported(`${p.alg}: @noble/ciphers không có mã hoá bảo toàn định dạng / format-preserving encryption is not in @noble/ciphers`);
    },

    async ecCurveParams(p) {
      const c = ecOf(p.name).Point.CURVE();
      return { p: bigBytes(c.p), a: bigBytes(c.a), b: bigBytes(c.b), gx: bigBytes(c.Gx), gy: bigBytes(c.Gy), n: bigBytes(c.n), h: Number(c.h) };
    },

    async blsVerify(p) {
      const sigs = bls12_381.longSignatures;
      return sigs.verify(p.sig, sigs.hash(p.msg, blsSuite(p.ciphersuite)), p.publicKey);
    },

    async blsAggregateVerify(p) {
      const sigs = bls12_381.longSignatures;
      const dst = blsSuite(p.ciphersuite);
      // noble's AggregateVerify takes (message, key) pairs: lists of different lengths cannot be handed to it
      if (p.publicKeys.length !== p.messages.length) {
        throw unsupported(`BLS AggregateVerify với ${p.publicKeys.length} khoá và ${p.messages.length} thông điệp: @noble/curves nhận từng cặp / with ${p.publicKeys.length} keys and ${p.messages.length} messages: @noble/curves takes pairs`);
      }
      return sigs.verifyBatch(p.sig, p.messages.map((m, i) => ({ message: sigs.hash(m, dst), publicKey: p.publicKeys[i] })));
    },

    async blsHashToG2(p) {
      return bls12_381.G2.hashToCurve(p.msg, { DST: p.dst }).toBytes(true);
    },

    async jwsVerify() {
      throw unsupported('JOSE: không có gói @noble nào làm JWS/JWE / no @noble package does JSON Web Signature or Encryption');
    },

    async jweDecrypt() {
      throw unsupported('JOSE: không có gói @noble nào làm JWS/JWE / no @noble package does JSON Web Signature or Encryption');
    },

    async chunkedDecrypt(p) {
      throw unsupported(`${p.alg}: không có gói @noble nào làm mã hoá theo khối C2SP / no @noble package does C2SP chunked encryption`);
    },

    async isPrime() {
      throw unsupported('primality testing (no @noble package has one)');
    },

    async kemEncaps(p) {
      const r = KEM[p.alg].encapsulate(p.ek, p.m);
      return { c: r.cipherText, K: r.sharedSecret };
    },

    async aeadEncrypt(p) {
      if (p.tagSize !== 16) throw unsupported(`${p.alg} with a ${p.tagSize}-byte tag`);
      const out = aeadOf(p.alg, p.key, p.iv, p.aad).encrypt(p.msg);
      // SIV puts its tag (the synthetic IV) before the ciphertext, every other AEAD after it
      if (p.alg === 'AEAD-AES-SIV-CMAC') return { ct: out.subarray(16), tag: out.subarray(0, 16) };
      return { ct: out.subarray(0, out.length - 16), tag: out.subarray(out.length - 16) };
    },

    async aeadDecrypt(p) {
      if (p.tagSize !== 16) throw unsupported(`${p.alg} with a ${p.tagSize}-byte tag`);
      if (p.tag.length !== 16) throw new Error('tag of wrong length');
      const joined = new Uint8Array(p.ct.length + 16);
      const tagFirst = p.alg === 'AEAD-AES-SIV-CMAC';
      joined.set(p.ct, tagFirst ? 16 : 0);
      joined.set(p.tag, tagFirst ? 0 : p.ct.length);
      return aeadOf(p.alg, p.key, p.iv, p.aad).decrypt(joined);
    },

    async cipherEncrypt(p) {
      if (p.alg !== 'AES-CBC-PKCS5') throw unsupported(`cipher ${p.alg} (not in @noble/ciphers)`);
      return cbc(p.key, p.iv).encrypt(p.msg);
    },

    async cipherDecrypt(p) {
      if (p.alg !== 'AES-CBC-PKCS5') throw unsupported(`cipher ${p.alg} (not in @noble/ciphers)`);
      return cbc(p.key, p.iv).decrypt(p.ct);
    },

    async macCompute(p) {
      if (p.alg === 'AES-CMAC') return cmac(p.msg, p.key);
      if (!p.alg.startsWith('HMAC-')) throw unsupported(`MAC ${p.alg} (not in @noble)`);
      return hmac(hashOf(p.alg.slice(5) as HashName), p.key, p.msg);
    },

    async hash(p) {
      return hashOf(p.alg)(p.msg);
    },

    async hashLarge(p) {
      const h = hashOf(p.alg).create();
      for (const chunk of repeated(p.content, p.fullBytes)) {
        p.signal?.throwIfAborted();
        h.update(chunk);
        // let timers (the run limit) fire between megabytes
        await new Promise<void>((r) => setImmediate(r));
      }
      return h.digest();
    },

    async kdf(p) {
      if (p.alg === 'HKDF') return hkdf(hashOf(p.hash), p.ikm, p.salt, p.info, p.size);
      return pbkdf2Async(hashOf(p.hash), p.password, p.salt, { c: p.iterations, dkLen: p.size });
    },

    async keyWrap(p) {
      if (p.alg !== 'AES-KW' && p.alg !== 'AES-KWP') throw unsupported(`key wrap ${p.alg} (not in @noble/ciphers)`);
      return (p.alg === 'AES-KW' ? aeskw : aeskwp)(p.key).encrypt(p.msg);
    },

    async keyUnwrap(p) {
      if (p.alg !== 'AES-KW' && p.alg !== 'AES-KWP') throw unsupported(`key wrap ${p.alg} (not in @noble/ciphers)`);
      return (p.alg === 'AES-KW' ? aeskw : aeskwp)(p.key).decrypt(p.ct);
    },

    async sigVerify(p) {
      switch (p.alg) {
        case 'ECDSA': {
          const curve = ecOf(p.curve);
          const digest = hashOf(p.hash)(p.msg);
          return curve.verify(p.sig, digest, ecPoint(p.curve, p.publicKey), {
            prehash: false,
            lowS: p.lowS === true,
            format: p.encoding === 'der' ? 'der' : 'compact',
          });
        }
        case 'EdDSA': {
          if (!p.publicKey.raw) throw unsupported('EdDSA public key encoding');
          return p.curve === 'Ed25519' ? ed25519.verify(p.sig, p.msg, p.publicKey.raw, { zip215: false }) : ed448.verify(p.sig, p.msg, p.publicKey.raw);
        }
        case 'ML-DSA-44':
        case 'ML-DSA-65':
        case 'ML-DSA-87': {
          if (!p.publicKey.raw) throw unsupported('ML-DSA public key encoding');
          return DSA[p.alg].verify(p.sig, p.msg, p.publicKey.raw, { context: p.context });
        }
        default:
          throw unsupported(`signature ${p.alg}`);
      }
    },

    async keyAgree(p) {
      if (p.alg === 'ECDH') {
        const shared = ecOf(p.curve).getSharedSecret(ecScalar(p.curve, p.privateKey), ecPoint(p.curve, p.publicKey), true);
        return shared.subarray(1);
      }
      if (!p.publicKey.raw || !p.privateKey.raw) throw unsupported('XDH key encoding');
      return (p.curve === 'X25519' ? x25519 : x448).getSharedSecret(p.privateKey.raw, p.publicKey.raw);
    },

    async kemKeygen(p) {
      const { publicKey, secretKey } = KEM[p.alg].keygen(p.seed);
      return { ek: publicKey, dk: secretKey };
    },

    async kemDecaps(p) {
      const kem = KEM[p.alg];
      return kem.decapsulate(p.ct, 'dk' in p ? p.dk : kem.keygen(p.seed).secretKey);
    },
  };
}

function aeadOf(alg: string, key: Bytes, iv: Bytes, aad: Bytes): { encrypt(b: Bytes): Bytes; decrypt(b: Bytes): Bytes } {
  switch (alg) {
    case 'AES-GCM':
      // noble refuses GCM nonces shorter than 8 bytes by design: a limit, not a verdict on the input.
      if (iv.length > 0 && iv.length < 8) throw unsupported(`AES-GCM nonce of ${iv.length} bytes`);
      return gcm(key, iv, aad);
    case 'CHACHA20-POLY1305':
      return chacha20poly1305(key, iv, aad);
    case 'XCHACHA20-POLY1305':
      return xchacha20poly1305(key, iv, aad);
    case 'AES-GCM-SIV':
      return gcmsiv(key, iv, aad);
    case 'AEAD-AES-SIV-CMAC':
      // RFC 5297 as an AEAD (RFC 5116 §5): the nonce is the last associated-data component
      return aessiv(key, aad, iv);
    default:
      throw unsupported(`AEAD ${alg}`);
  }
}
