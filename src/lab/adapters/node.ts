/**
 * node:crypto (OpenSSL) as a product: the reference implementation for most families. What OpenSSL 3.0
 * under Node 20 lacks (ML-KEM, ML-DSA, XChaCha20-Poly1305, a CMAC API) is reported UNSUPPORTED.
 */
import * as crypto from 'node:crypto';
import { promisify } from 'node:util';
import {
  type AeadInput,
  type Bytes,
  type EcCurve,
  type EcCurveParams,
  type HashName,
  type PbeInput,
  type KeyAgreeInput,
  type PrivateKeyMaterial,
  type ProductAdapter,
  type PublicKeyMaterial,
  adapterError,
  labCannotAsk,
  unsupported,
} from '../product.js';
import { ECParameters } from '@peculiar/asn1-ecc';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { ecPrivateKeyPkcs8, fixedScalar, rawPrivateToPkcs8, rawPublicToSpki } from './spki.js';
import { repeated } from './repeat.js';

const pbkdf2 = promisify(crypto.pbkdf2);
const hkdf = promisify(crypto.hkdf);

const NODE_HASH: Partial<Record<HashName, string>> = {
  'SHA-1': 'sha1',
  'SHA-224': 'sha224',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
  'SHA-512/224': 'sha512-224',
  'SHA-512/256': 'sha512-256',
  'SHA3-224': 'sha3-224',
  'SHA3-256': 'sha3-256',
  'SHA3-384': 'sha3-384',
  'SHA3-512': 'sha3-512',
};

/**
 * The OpenSSL name of a hash for sign/verify and HMAC. SHAKE is absent on purpose: node:crypto's sign and
 * verify cannot set an XOF's output length, and OpenSSL's default (128 or 256 bits) is not the 256 or 512
 * bits RFC 8692/8702 use — the product cannot be asked, so it is UNSUPPORTED, never a wrong answer.
 */
function nodeHash(h: HashName, where: string): string {
  const n = NODE_HASH[h];
  if (!n) throw unsupported(`${h} in ${where} (node:crypto cannot set the SHAKE output length)`);
  return n;
}

/** OpenSSL's names for the lab's NIST curve names; every other curve goes by its own name if OpenSSL has it. */
const NIST_CURVE: Record<string, string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1', secp192r1: 'prime192v1' };
let opensslCurves: Set<string> | undefined;
function nodeCurve(c: EcCurve): string {
  const n = NIST_CURVE[c] ?? c;
  opensslCurves ??= new Set(crypto.getCurves());
  if (!opensslCurves.has(n)) throw unsupported(`curve ${c} (not in this OpenSSL)`);
  return n;
}

const u8 = (b: Buffer | ArrayBuffer): Bytes => (b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength));

function aesName(key: Bytes, mode: string): string {
  if (![16, 24, 32].includes(key.length)) throw new Error(`AES key of ${key.length} bytes`);
  return `aes-${key.length * 8}-${mode}`;
}

let opensslCiphers: Set<string> | undefined;
/** OpenSSL's cipher for a block cipher family (AES, ARIA, CAMELLIA, SM4, SEED) and mode, or UNSUPPORTED. */
function blockCipherName(family: string, key: Bytes, mode: string): string {
  if (family === 'AES') return aesName(key, mode);
  opensslCiphers ??= new Set(crypto.getCiphers());
  const sized = `${family.toLowerCase()}-${key.length * 8}-${mode}`;
  const plain = `${family.toLowerCase()}-${mode}`;
  if (opensslCiphers.has(sized)) return sized;
  if (opensslCiphers.has(plain)) return plain;
  throw unsupported(`${family}-${mode.toUpperCase()} (not in this OpenSSL)`);
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

/**
 * A JWK as Node reads it: secp256k1 under its registered name. Vector files also write the draft name
 * `P-256K` (RFC 8812 registered `secp256k1` for the same curve), which Node does not know: a name, not
 * the key, so it is translated.
 */
function nodeJwk(jwk: Record<string, unknown>): crypto.JsonWebKey {
  return (jwk.crv === 'P-256K' ? { ...jwk, crv: 'secp256k1' } : jwk) as crypto.JsonWebKey;
}

function publicKeyOf(pk: PublicKeyMaterial, rawKind?: 'Ed25519' | 'Ed448' | 'X25519' | 'X448'): crypto.KeyObject {
  if (pk.spki) return crypto.createPublicKey({ key: Buffer.from(pk.spki), format: 'der', type: 'spki' });
  if (pk.jwk) return crypto.createPublicKey({ key: nodeJwk(pk.jwk), format: 'jwk' });
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
    if (k.jwk) return crypto.createPrivateKey({ key: nodeJwk(k.jwk), format: 'jwk' });
    throw unsupported('private key encoding');
  },
  (k) => `${hexId(k.pkcs8)}:${k.jwk ? JSON.stringify(k.jwk) : ''}`,
);

function aeadCipher(p: AeadInput, decrypt: boolean): crypto.CipherGCM | crypto.DecipherGCM | crypto.CipherCCM | crypto.DecipherCCM {
  const m = /^(AES|ARIA|CAMELLIA|SM4|SEED)-(GCM|CCM)$/.exec(p.alg);
  if (m) {
    const name = blockCipherName(m[1], p.key, m[2].toLowerCase()) as crypto.CipherGCMTypes;
    const o = { authTagLength: p.tagSize };
    return decrypt ? crypto.createDecipheriv(name, p.key, p.iv, o) : crypto.createCipheriv(name, p.key, p.iv, o);
  }
  if (p.alg === 'CHACHA20-POLY1305') {
    const o = { authTagLength: p.tagSize } as crypto.CipherGCMOptions;
    return decrypt
      ? crypto.createDecipheriv('chacha20-poly1305' as crypto.CipherGCMTypes, p.key, p.iv, o)
      : crypto.createCipheriv('chacha20-poly1305' as crypto.CipherGCMTypes, p.key, p.iv, o);
  }
  throw unsupported(`AEAD ${p.alg}`);
}

const isCcm = (alg: string): boolean => alg.endsWith('-CCM');

/** Node caps AEAD IV length (GCM IVs of 255 bytes and more are refused): a limit, not a rejection. */
function withIvLimit<T>(p: AeadInput, make: () => T): T {
  try {
    return make();
  } catch (e) {
    if (p.alg.endsWith('-GCM') && p.iv.length > 128 && /initialization vector/i.test((e as Error).message)) {
      throw unsupported(`${p.alg} IV of ${p.iv.length} bytes (Node limit)`);
    }
    throw e;
  }
}


/** Node's streaming cipher API never calls the wrap primitive on empty input and returns empty output: refused here as OpenSSL's wrap refuses it. */
function refuseEmpty(b: Bytes): void {
  if (b.length === 0) throw new Error('empty input to key wrap');
}

/** ECDH objects by private scalar: setting the key costs a scalar multiplication, and groups reuse keys. */
const ecdhCache = new Map<string, crypto.ECDH>();
function ecdhFor(curve: EcCurve, scalar: Bytes): crypto.ECDH {
  const id = `${curve}:${hexId(scalar)}`;
  let e = ecdhCache.get(id);
  if (!e) {
    e = crypto.createECDH(nodeCurve(curve));
    e.setPrivateKey(Buffer.from(scalar));
    if (ecdhCache.size >= 256) ecdhCache.delete(ecdhCache.keys().next().value as string);
    ecdhCache.set(id, e);
  }
  return e;
}

/** The private key as OpenSSL holds it, from PKCS#8, JWK or a raw scalar (wrapped in PKCS#8 with the curve's name). */
const ecPrivate = keyCache<{ curve: EcCurve; k: PrivateKeyMaterial }>(
  ({ curve, k }) => {
    if (k.pkcs8 || k.jwk) return cachedPrivate(k);
    if (!k.raw) throw unsupported('EC private key encoding');
    const der = ecPrivateKeyPkcs8(curve, k.raw);
    if (!der) throw unsupported(`curve ${curve} (no OID known to the adapter for a PKCS#8 key)`);
    return crypto.createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  },
  ({ curve, k }) => `${curve}:${hexId(k.pkcs8)}:${hexId(k.raw)}:${k.jwk ? JSON.stringify(k.jwk) : ''}`,
);

/**
 * ECDH as OpenSSL does it: the public key (SPKI, JWK) goes to OpenSSL as given — named curve, explicit
 * parameters, whatever it holds — and OpenSSL alone decides whether to derive; the adapter never checks
 * the curve first. A raw point goes to the ECDH API of the group's curve, which takes points.
 */
function ecdhSecret(p: Extract<KeyAgreeInput, { alg: 'ECDH' }>): Bytes {
  nodeCurve(p.curve);
  if (p.publicKey.spki || p.publicKey.jwk) {
    const publicKey = p.publicKey.spki
      ? crypto.createPublicKey({ key: Buffer.from(p.publicKey.spki), format: 'der', type: 'spki' })
      : crypto.createPublicKey({ key: nodeJwk(p.publicKey.jwk!), format: 'jwk' });
    return u8(crypto.diffieHellman({ publicKey, privateKey: ecPrivate({ curve: p.curve, k: p.privateKey }) }));
  }
  if (!p.publicKey.raw) throw unsupported('EC public key encoding');
  if (!p.privateKey.raw) throw unsupported('EC private key encoding with a raw public point');
  const size = Math.ceil((crypto.createECDH(nodeCurve(p.curve)).generateKeys().length - 1) / 2);
  return u8(ecdhFor(p.curve, fixedScalar(p.privateKey.raw, size)).computeSecret(Buffer.from(p.publicKey.raw)));
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

/** OpenSSL's cipher and IV for an unauthenticated cipher: CBC with PKCS#5 padding for any block cipher OpenSSL has (AES, ARIA, CAMELLIA…), and AES-XTS. */
function plainCipher(alg: string, key: Bytes, iv: Bytes): { name: string; iv: Bytes } {
  if (alg === 'AES-XTS') {
    // an XTS key is two AES keys; OpenSSL has XTS over AES-128 and AES-256 only
    if (key.length !== 32 && key.length !== 64) throw unsupported(`AES-XTS with ${key.length * 4}-bit AES keys (not in OpenSSL)`);
    // the file's tweak is the data unit's number in little-endian bytes (IEEE 1619), as short as it needs;
    // OpenSSL takes it as the whole 16-byte block, which is the same number zero-extended
    const tweak = iv.length < 16 ? new Uint8Array(16) : iv;
    if (iv.length < 16) tweak.set(iv);
    return { name: `aes-${key.length * 4}-xts`, iv: tweak };
  }
  const m = /^([A-Z0-9]+)-CBC-PKCS5$/.exec(alg);
  if (!m) throw unsupported(`cipher ${alg}`);
  return { name: blockCipherName(m[1], key, 'cbc'), iv };
}

/** OpenSSL 3.0 wraps with AES only (RFC 3394/5649); ARIA, CAMELLIA and SEED wraps it lacks. */
function wrapAlg(alg: string): void {
  if (alg !== 'AES-KW' && alg !== 'AES-KWP') throw unsupported(`key wrap ${alg} (not in OpenSSL)`);
}

/** What this OpenSSL under this Node has no API for at all (ML-KEM and ML-DSA come with OpenSSL 3.5 and Node 24). */
const lacks = (what: string) => unsupported(`${what} (not in node:crypto with OpenSSL ${process.versions.openssl}, Node ${process.version})`);

/** OpenSSL 3.0 has an SIV cipher, but node:crypto does not offer it (no aes-*-siv among its ciphers). */
function noSiv(alg: string): Error {
  const offered = crypto.getCiphers().filter((c) => c.endsWith('-siv'));
  // a Node that lists one is a Node this adapter was not written against: the lab's gap, not the product's
  if (offered.length) return labCannotAsk(`${alg}: bộ chuyển đổi chưa dùng mã SIV của node:crypto / the adapter does not drive node's ${offered.join(', ')}`);
  return unsupported(`${alg}: node:crypto không cung cấp mã SIV / node:crypto offers no SIV cipher (none in crypto.getCiphers())`);
}
const noBls = (): Error => unsupported('BLS12-381: OpenSSL không có chữ ký BLS và phép ghép cặp / BLS signatures and pairings are not in OpenSSL');
const noJose = (): Error => unsupported('JOSE: node:crypto chỉ có các nguyên hàm, không có JWS/JWE / node:crypto has the primitives, no JSON Web Signature or Encryption');

/** A big-endian two's complement integer. */
function signedBigInt(b: Bytes): bigint {
  const magnitude = BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);
  return b.length > 0 && b[0] & 0x80 ? magnitude - (1n << BigInt(8 * b.length)) : magnitude;
}

/**
 * PBES2 as OpenSSL's PKCS5_v2_PBE_keyivgen does it: the key from OpenSSL's PBKDF2, then OpenSSL's AES-CBC
 * with PKCS#5 padding under the given IV. Node has no call for the pair (only inside encrypted PKCS#8),
 * so the adapter makes the two OpenSSL calls RFC 8018 §6.2 prescribes, in order, and nothing else.
 */
async function pbes2(p: PbeInput, data: Bytes, decrypt: boolean): Promise<Bytes> {
  const m = /^AES-(128|192|256)-CBC$/.exec(p.cipher);
  if (p.alg !== 'PBES2' || !m) throw unsupported(`PBE ${p.alg} ${p.cipher}`);
  const key = await pbkdf2(p.password, p.salt, p.iterations, Number(m[1]) / 8, nodeHash(p.prf, 'PBKDF2'));
  const c = decrypt ? crypto.createDecipheriv(`aes-${m[1]}-cbc`, key, p.iv) : crypto.createCipheriv(`aes-${m[1]}-cbc`, key, p.iv);
  return u8(Buffer.concat([c.update(data), c.final()]));
}

/** A DER INTEGER's value as unsigned bytes (the field's prime is carried as one inside FieldID). */
function derIntegerValue(der: ArrayBuffer): Bytes {
  const b = new Uint8Array(der);
  if (b[0] !== 0x02 || b.length < 3) throw adapterError('FieldID parameters: not an INTEGER');
  let len = b[1];
  let at = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[at + i];
    at += n;
  }
  return b.subarray(at, at + len);
}

function cofactorOf(h: ArrayBuffer | number | undefined): number {
  if (h === undefined) return Number.NaN;
  return typeof h === 'number' ? h : Number(BigInt(`0x${Buffer.from(h).toString('hex') || '0'}`));
}

/**
 * The parameters OpenSSL holds for a named curve, in its own words: a key generated on the curve and
 * exported with explicit parameters (X9.62 SpecifiedECDomain: prime, a, b, uncompressed G, n, h).
 */
function opensslCurveParams(curve: EcCurve): EcCurveParams {
  const { publicKey } = crypto.generateKeyPairSync('ec', {
    namedCurve: nodeCurve(curve),
    paramEncoding: 'explicit',
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  });
  // what follows reads OpenSSL's own export: a failure here is the adapter's, never a verdict on the curve
  const d = (() => {
    try {
      const spki = AsnConvert.parse(publicKey, SubjectPublicKeyInfo);
      return AsnConvert.parse(spki.algorithm.parameters!, ECParameters).specifiedCurve;
    } catch (e) {
      throw adapterError(`curve ${curve}: cannot read OpenSSL's explicit parameters (${(e as Error).message})`, undefined, e);
    }
  })();
  if (!d) throw adapterError(`curve ${curve}: OpenSSL did not export explicit parameters`);
  if (d.fieldID.fieldType !== '1.2.840.10045.1.1') throw unsupported(`curve ${curve} over a field other than a prime field`);
  const g = new Uint8Array(d.base.buffer);
  if (g[0] !== 0x04) throw adapterError(`curve ${curve}: OpenSSL's base point is not uncompressed`);
  const half = (g.length - 1) / 2;
  return {
    p: derIntegerValue(d.fieldID.parameters),
    a: new Uint8Array(d.curve.a),
    b: new Uint8Array(d.curve.b),
    gx: g.subarray(1, 1 + half),
    gy: g.subarray(1 + half),
    n: new Uint8Array(d.order),
    // the schema reads a small INTEGER as a number, a large one as bytes; absent, X9.62 leaves it unsaid
    h: cofactorOf(d.cofactor as ArrayBuffer | number | undefined),
  };
}

export function nodeCryptoProduct(): ProductAdapter {
  return {
    info: { name: 'OpenSSL via node:crypto', version: `OpenSSL ${process.versions.openssl}, Node ${process.version}`, adapter: 'node' },

    async aeadEncrypt(p) {
      const c = withIvLimit(p, () => aeadCipher(p, false)) as crypto.CipherGCM;
      if (isCcm(p.alg)) (c as unknown as crypto.CipherCCM).setAAD(p.aad, { plaintextLength: p.msg.length });
      else c.setAAD(p.aad);
      const ct = Buffer.concat([c.update(p.msg), c.final()]);
      return { ct: u8(ct), tag: u8(c.getAuthTag()) };
    },

    async aeadDecrypt(p) {
      const d = withIvLimit(p, () => aeadCipher(p, true)) as crypto.DecipherGCM;
      d.setAuthTag(p.tag);
      if (isCcm(p.alg)) (d as unknown as crypto.DecipherCCM).setAAD(p.aad, { plaintextLength: p.ct.length });
      else d.setAAD(p.aad);
      return u8(Buffer.concat([d.update(p.ct), d.final()]));
    },

    async cipherEncrypt(p) {
      const { name, iv } = plainCipher(p.alg, p.key, p.iv);
      const c = crypto.createCipheriv(name, p.key, iv);
      return u8(Buffer.concat([c.update(p.msg), c.final()]));
    },

    async cipherDecrypt(p) {
      const { name, iv } = plainCipher(p.alg, p.key, p.iv);
      const d = crypto.createDecipheriv(name, p.key, iv);
      return u8(Buffer.concat([d.update(p.ct), d.final()]));
    },

    async macCompute(p) {
      if (!p.alg.startsWith('HMAC-')) throw unsupported(`MAC ${p.alg} (node:crypto has no API for it)`);
      const name = p.alg.slice(5);
      const h = NODE_HASH[name as HashName] ?? (name === 'SM3' && crypto.getHashes().includes('sm3') ? 'sm3' : undefined);
      if (!h) throw unsupported(`MAC ${p.alg}`);
      return u8(crypto.createHmac(h, p.key).update(p.msg).digest());
    },

    async macWithIv(p) {
      // GMAC is GCM with the message as associated data and nothing to encrypt (NIST SP 800-38D)
      if (p.alg !== 'AES-GMAC') throw unsupported(`MAC ${p.alg} (not in OpenSSL)`);
      const c = withIvLimit({ alg: 'AES-GCM', key: p.key, iv: p.iv, aad: p.msg, tagSize: 16 }, () =>
        crypto.createCipheriv(aesName(p.key, 'gcm') as crypto.CipherGCMTypes, p.key, p.iv, { authTagLength: 16 }),
      );
      c.setAAD(p.msg);
      c.final();
      return u8(c.getAuthTag());
    },

    async daeadEncrypt(p) {
      throw noSiv(p.alg);
    },

    async daeadDecrypt(p) {
      throw noSiv(p.alg);
    },

    pbeEncrypt: (p) => pbes2(p, p.msg, false),

    pbeDecrypt: (p) => pbes2(p, p.ct, true),

    async fpeEncrypt(p) {
      throw unsupported(`${p.alg}: OpenSSL không có mã hoá bảo toàn định dạng / format-preserving encryption is not in OpenSSL`);
    },

    async fpeDecrypt(p) {
      throw unsupported(`${p.alg}: OpenSSL không có mã hoá bảo toàn định dạng / format-preserving encryption is not in OpenSSL`);
    },

    async ecCurveParams(p) {
      return opensslCurveParams(p.name);
    },

    async blsVerify() {
      throw noBls();
    },

    async blsAggregateVerify() {
      throw noBls();
    },

    async blsHashToG2() {
      throw noBls();
    },

    async jwsVerify() {
      throw noJose();
    },

    async jweDecrypt() {
      throw noJose();
    },

    async chunkedDecrypt(p) {
      throw unsupported(`${p.alg}: node:crypto không có mã hoá theo khối C2SP / C2SP chunked encryption is not in node:crypto`);
    },

    async isPrime(p) {
      // node:crypto reads bytes as an unsigned magnitude; a negative value (two's complement in the file)
      // goes as a negative bigint, for Node to answer as it does
      return crypto.checkPrimeSync(p.value.length > 0 && p.value[0] & 0x80 ? signedBigInt(p.value) : p.value);
    },

    async mlDsaSign() {
      throw lacks('ML-DSA');
    },

    async kemEncaps() {
      throw lacks('ML-KEM');
    },

    async kemKeygen() {
      throw lacks('ML-KEM');
    },

    async kemDecaps() {
      throw lacks('ML-KEM');
    },

    async hash(p) {
      const h = p.alg === 'SHAKE128' || p.alg === 'SHAKE256' ? p.alg.toLowerCase() : NODE_HASH[p.alg];
      if (!h) throw unsupported(`hash ${p.alg}`);
      const outputLength = p.alg === 'SHAKE128' ? 32 : p.alg === 'SHAKE256' ? 64 : undefined;
      return u8(crypto.createHash(h, outputLength ? { outputLength } : {}).update(p.msg).digest());
    },

    async hashLarge(p) {
      const h = NODE_HASH[p.alg];
      if (!h) throw unsupported(`hash ${p.alg}`);
      const hash = crypto.createHash(h);
      for (const chunk of repeated(p.content, p.fullBytes)) {
        p.signal?.throwIfAborted();
        hash.update(chunk);
        // let timers (the run limit) fire between megabytes
        await new Promise<void>((r) => setImmediate(r));
      }
      return u8(hash.digest());
    },

    async kdf(p) {
      const h = NODE_HASH[p.hash];
      if (!h) throw unsupported(`KDF with ${p.hash}`);
      if (p.alg === 'HKDF') return u8(await hkdf(h, p.ikm, p.salt, p.info, p.size));
      return u8(await pbkdf2(p.password, p.salt, p.iterations, p.size, h));
    },

    async keyWrap(p) {
      wrapAlg(p.alg);
      refuseEmpty(p.msg);
      const mode = p.alg === 'AES-KW' ? 'wrap' : 'wrap-pad';
      const iv = Buffer.from(p.alg === 'AES-KW' ? 'a6a6a6a6a6a6a6a6' : 'a65959a6', 'hex');
      const c = crypto.createCipheriv(`id-aes${p.key.length * 8}-${mode}`, p.key, iv);
      return u8(Buffer.concat([c.update(p.msg), c.final()]));
    },

    async keyUnwrap(p) {
      wrapAlg(p.alg);
      refuseEmpty(p.ct);
      const mode = p.alg === 'AES-KW' ? 'wrap' : 'wrap-pad';
      const iv = Buffer.from(p.alg === 'AES-KW' ? 'a6a6a6a6a6a6a6a6' : 'a65959a6', 'hex');
      const d = crypto.createDecipheriv(`id-aes${p.key.length * 8}-${mode}`, p.key, iv);
      return u8(Buffer.concat([d.update(p.ct), d.final()]));
    },

    async sigVerify(p) {
      switch (p.alg) {
        case 'ECDSA': {
          nodeCurve(p.curve);
          if (p.lowS) throw unsupported('ECDSA với quy tắc s thấp của Bitcoin: OpenSSL không có / ECDSA verification with the low-S rule (OpenSSL has none)');
          const key = cachedPublic({ pk: p.publicKey });
          return crypto.verify(nodeHash(p.hash, 'ECDSA'), p.msg, { key, dsaEncoding: p.encoding === 'der' ? 'der' : 'ieee-p1363' }, p.sig);
        }
        case 'DSA': {
          const key = cachedPublic({ pk: p.publicKey });
          return crypto.verify(nodeHash(p.hash, 'DSA'), p.msg, { key, dsaEncoding: p.encoding === 'der' ? 'der' : 'ieee-p1363' }, p.sig);
        }
        case 'EdDSA':
          return crypto.verify(null, p.msg, cachedPublic({ pk: p.publicKey, raw: p.curve }), p.sig);
        case 'RSASSA-PKCS1-v1_5':
          return crypto.verify(nodeHash(p.hash, 'RSASSA-PKCS1-v1_5'), p.msg, { key: cachedPublic({ pk: p.publicKey }), padding: crypto.constants.RSA_PKCS1_PADDING }, p.sig);
        case 'RSASSA-PSS':
          // OpenSSL through Node ties the MGF1 hash to the message hash.
          if (p.mgfHash !== p.hash) throw unsupported('PSS with an MGF1 hash different from the message hash');
          return crypto.verify(
            nodeHash(p.hash, 'RSASSA-PSS'),
            p.msg,
            { key: cachedPublic({ pk: p.publicKey }), padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: p.saltLength },
            p.sig,
          );
        default:
          throw lacks(p.alg);
      }
    },

    async sigSign(p) {
      if (p.alg !== 'RSASSA-PKCS1-v1_5') throw unsupported(p.alg);
      return u8(crypto.sign(nodeHash(p.hash, 'RSASSA-PKCS1-v1_5'), p.msg, { key: cachedPrivate(p.privateKey), padding: crypto.constants.RSA_PKCS1_PADDING }));
    },

    async keyAgree(p) {
      return p.alg === 'ECDH' ? ecdhSecret(p) : xdhSecret(p);
    },

    async asymDecrypt(p) {
      const key = cachedPrivate(p.privateKey);
      if (p.alg === 'RSAES-OAEP') {
        if (p.mgfHash !== p.hash) throw unsupported('OAEP with an MGF1 hash different from the label hash');
        return u8(crypto.privateDecrypt({ key, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: nodeHash(p.hash, 'RSAES-OAEP'), oaepLabel: p.label }, p.ct));
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
