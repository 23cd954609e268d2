/**
 * A PKCS#11 token as a product (SoftHSM2 in tests, a real HSM in the lab). Test keys are imported as
 * session objects (CKA_TOKEN false) and destroyed after each test, so a run leaves nothing on the token.
 * Mechanisms the token does not list, and parameters it refuses as such, are UNSUPPORTED; every other
 * CKR_* error is the token rejecting the input. PKCS#11 signatures are raw r||s, so ECDSA runs from the
 * P1363 files; ECDH takes raw points, so an SPKI the lab cannot reduce to a point is UNSUPPORTED here.
 */
import { createHash } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import {
  adapterError,
  type Bytes,
  isAdapterError,
  isUnsupported,
  type EcCurve,
  type HashName,
  type ProductAdapter,
  labCannotAsk,
  type PublicKeyMaterial,
  unsupported,
} from '../product.js';
import { EC_FIELD_BYTES, fixedScalar, parseEcSpki } from './spki.js';

export interface Pkcs11ProductOptions {
  /** Path to the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so. */
  library: string;
  /** Token label to use; defaults to the first slot with a token. */
  tokenLabel?: string;
  pin: string;
  /** Name to report; defaults to the token's manufacturer and model. */
  name?: string;
}

const P = pkcs11js;
type Handle = Buffer;
type Template = { type: number; value?: number | boolean | string | Buffer }[];

const HASH_MECH: Partial<Record<HashName, number>> = { 'SHA-1': P.CKM_SHA_1, 'SHA-224': P.CKM_SHA224, 'SHA-256': P.CKM_SHA256, 'SHA-384': P.CKM_SHA384, 'SHA-512': P.CKM_SHA512 };
const MGF: Partial<Record<HashName, number>> = { 'SHA-1': P.CKG_MGF1_SHA1, 'SHA-224': P.CKG_MGF1_SHA224, 'SHA-256': P.CKG_MGF1_SHA256, 'SHA-384': P.CKG_MGF1_SHA384, 'SHA-512': P.CKG_MGF1_SHA512 };
const HMAC_MECH: Partial<Record<string, number>> = {
  'HMAC-SHA-1': P.CKM_SHA_1_HMAC,
  'HMAC-SHA-224': P.CKM_SHA224_HMAC,
  'HMAC-SHA-256': P.CKM_SHA256_HMAC,
  'HMAC-SHA-384': P.CKM_SHA384_HMAC,
  'HMAC-SHA-512': P.CKM_SHA512_HMAC,
};
const ECDSA_MECH: Partial<Record<HashName, number>> = {
  'SHA-1': P.CKM_ECDSA_SHA1,
  'SHA-224': P.CKM_ECDSA_SHA224,
  'SHA-256': P.CKM_ECDSA_SHA256,
  'SHA-384': P.CKM_ECDSA_SHA384,
  'SHA-512': P.CKM_ECDSA_SHA512,
};
const RSA_PKCS_MECH: Partial<Record<HashName, number>> = {
  'SHA-1': P.CKM_SHA1_RSA_PKCS,
  'SHA-224': P.CKM_SHA224_RSA_PKCS,
  'SHA-256': P.CKM_SHA256_RSA_PKCS,
  'SHA-384': P.CKM_SHA384_RSA_PKCS,
  'SHA-512': P.CKM_SHA512_RSA_PKCS,
};
const RSA_PSS_MECH: Partial<Record<HashName, number>> = {
  'SHA-1': P.CKM_SHA1_RSA_PKCS_PSS,
  'SHA-224': P.CKM_SHA224_RSA_PKCS_PSS,
  'SHA-256': P.CKM_SHA256_RSA_PKCS_PSS,
  'SHA-384': P.CKM_SHA384_RSA_PKCS_PSS,
  'SHA-512': P.CKM_SHA512_RSA_PKCS_PSS,
};
/** DER OIDs of the named curves, as CKA_EC_PARAMS. */
const EC_PARAMS: Record<EcCurve, string> = { 'P-256': '06082a8648ce3d030107', 'P-384': '06052b81040022', 'P-521': '06052b81040023' };
const NODE_HASH: Partial<Record<HashName, string>> = { 'SHA-1': 'sha1', 'SHA-224': 'sha224', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

/** Codes meaning "this token does not do that", as opposed to "this input is wrong". */
const NOT_SUPPORTED = new Set(['CKR_MECHANISM_INVALID', 'CKR_FUNCTION_NOT_SUPPORTED', 'CKR_CURVE_NOT_SUPPORTED', 'CKR_DOMAIN_PARAMS_INVALID', 'CKR_KEY_SIZE_RANGE']);

const buf = (b: Bytes): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
const u8 = (b: Buffer): Bytes => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

function ckr(e: unknown): string | undefined {
  const m = /CKR_[A-Z0-9_]+/.exec((e as Error)?.message ?? '');
  return m?.[0];
}

/** Maps a token error: unsupported, rejection (plain Error), or an adapter fault. */
function classify(e: unknown, op: string, paramInvalidIsUnsupported: boolean): Error {
  const code = ckr(e);
  if (!code) return adapterError(`${op}: ${(e as Error)?.message ?? String(e)}`, undefined, e);
  if (NOT_SUPPORTED.has(code) || (paramInvalidIsUnsupported && code === 'CKR_MECHANISM_PARAM_INVALID')) return unsupported(`${op}: ${code}`);
  return new Error(`${op}: ${code}`);
}

/** Unsigned big-endian integer without leading zeros, as PKCS#11 big integers are. */
function bigint(b: Bytes): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return buf(b.subarray(i));
}

/** DER OCTET STRING around a point, the form CKA_EC_POINT takes. */
function octetString(b: Bytes): Buffer {
  const len = b.length < 128 ? Buffer.from([b.length]) : b.length < 256 ? Buffer.from([0x81, b.length]) : Buffer.from([0x82, b.length >> 8, b.length & 0xff]);
  return Buffer.concat([Buffer.from([0x04]), len, buf(b)]);
}

function ecPoint(curve: EcCurve, pk: PublicKeyMaterial): Bytes {
  if (pk.raw) return pk.raw;
  if (pk.spki) {
    let s;
    try {
      s = parseEcSpki(pk.spki);
    } catch (e) {
      throw unsupported(`SPKI the token cannot take (${(e as Error).message})`);
    }
    if (s.curve !== curve) throw unsupported('SPKI without the named curve; the token takes raw points');
    return s.key;
  }
  if (pk.jwk && typeof pk.jwk.x === 'string' && typeof pk.jwk.y === 'string') {
    if (pk.jwk.crv !== curve) throw new Error('JWK on another curve');
    return new Uint8Array(Buffer.concat([Buffer.from([4]), Buffer.from(pk.jwk.x, 'base64url'), Buffer.from(pk.jwk.y, 'base64url')]));
  }
  throw unsupported('EC public key encoding');
}

export async function openPkcs11Product(o: Pkcs11ProductOptions): Promise<ProductAdapter> {
  const p = new P.PKCS11();
  p.load(o.library);
  p.C_Initialize();
  let session!: Handle;
  let slot: Handle | undefined;
  try {
    for (const s of p.C_GetSlotList(true)) {
      const label = p.C_GetTokenInfo(s).label.trim();
      if (!o.tokenLabel || label === o.tokenLabel) {
        slot = s;
        break;
      }
    }
    if (!slot) throw adapterError(`no token${o.tokenLabel ? ` labelled ${o.tokenLabel}` : ''} in ${o.library}`);
    session = p.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
    p.C_Login(session, P.CKU_USER, o.pin);
  } catch (e) {
    p.C_Finalize();
    throw e instanceof Error && 'code' in e && (e as { code: string }).code === 'lab_adapter' ? e : adapterError(`PKCS#11 open: ${(e as Error).message}`, undefined, e);
  }
  const mechs = new Set(p.C_GetMechanismList(slot));
  const token = p.C_GetTokenInfo(slot);
  const module = p.C_GetInfo();

  const has = (m: number | undefined, what: string): number => {
    if (m === undefined || !mechs.has(m)) throw unsupported(`${what} (mechanism not listed by the token)`);
    return m;
  };

  // After a failed call some tokens leave the operation active (CKR_OPERATION_ACTIVE on the next Init);
  // PKCS#11 2.40 has no portable cancel, so the session is replaced once the test's objects are gone.
  let dirty = false;
  let depth = 0;
  const renewSession = (): void => {
    // Open the new session before closing the old: closing an application's last session logs it out.
    const old = session;
    session = p.C_OpenSession(slot!, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
    try {
      p.C_CloseSession(old);
    } catch {
      /* already gone */
    }
    dirty = false;
  };

  // pkcs11js passes an empty Buffer as NULL, which tokens refuse (CKR_ARGUMENTS_BAD); an empty message is
  // therefore sent as Init + Final with no data, which PKCS#11 defines as the same operation.
  const sign = (data: Bytes, size: number): Bytes =>
    u8(data.length ? p.C_Sign(session, buf(data), Buffer.alloc(size)) : p.C_SignFinal(session, Buffer.alloc(size)));
  const verify = (data: Bytes, sig: Bytes): boolean => (data.length ? p.C_Verify(session, buf(data), buf(sig)) : p.C_VerifyFinal(session, buf(sig)));
  const encrypt = (data: Bytes, size: number): Bytes =>
    u8(data.length ? p.C_Encrypt(session, buf(data), Buffer.alloc(size)) : p.C_EncryptFinal(session, Buffer.alloc(size)));

  /** Creates a session object for the duration of `use`, then destroys it. */
  const withObject = async <T>(template: Template, what: string, use: (h: Handle) => T): Promise<T> => {
    let h: Handle;
    try {
      h = p.C_CreateObject(session, [{ type: P.CKA_TOKEN, value: false }, ...template]);
    } catch (e) {
      // A key the token will not hold (size, curve, empty value) is a limit of the product.
      throw unsupported(`${what} import: ${ckr(e) ?? (e as Error).message}`);
    }
    depth++;
    try {
      return await use(h);
    } finally {
      depth--;
      try {
        p.C_DestroyObject(session, h);
      } catch {
        dirty = true;
      }
      if (depth === 0 && dirty) renewSession();
    }
  };

  const secret = (keyType: number, value: Bytes, attrs: Template): Template => [
    { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
    { type: P.CKA_KEY_TYPE, value: keyType },
    { type: P.CKA_VALUE, value: buf(value) },
    ...attrs,
  ];
  const aesKey = (key: Bytes): Template =>
    secret(P.CKK_AES, key, [
      { type: P.CKA_ENCRYPT, value: true },
      { type: P.CKA_DECRYPT, value: true },
      { type: P.CKA_WRAP, value: true },
      { type: P.CKA_UNWRAP, value: true },
      { type: P.CKA_SIGN, value: true },
    ]);
  const extractable: Template = [
    { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
    { type: P.CKA_KEY_TYPE, value: P.CKK_GENERIC_SECRET },
    { type: P.CKA_TOKEN, value: false },
    { type: P.CKA_SENSITIVE, value: false },
    { type: P.CKA_EXTRACTABLE, value: true },
  ];

  const run = <T>(op: string, paramInvalidIsUnsupported: boolean, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      dirty = true;
      if (isUnsupported(e) || isAdapterError(e)) throw e;
      throw classify(e, op, paramInvalidIsUnsupported);
    }
  };

  /** An *Init the token refuses sets up nothing: the mechanism or its parameters are beyond it. */
  const init = (op: string, f: () => void): void => {
    try {
      f();
    } catch (e) {
      dirty = true;
      const code = ckr(e);
      if (code === 'CKR_ARGUMENTS_BAD' || code === 'CKR_MECHANISM_PARAM_INVALID') throw unsupported(`${op}: token refuses the parameters (${code})`);
      throw classify(e, op, true);
    }
  };

  const readValue = (h: Handle): Bytes => {
    const [a] = p.C_GetAttributeValue(session, h, [{ type: P.CKA_VALUE }]);
    return u8(a.value as Buffer);
  };

  const gcmParams = (iv: Bytes, aad: Bytes, tagSize: number) => ({
    mechanism: P.CKM_AES_GCM,
    parameter: { type: P.CK_PARAMS_AES_GCM_v240, iv: buf(iv), ivBits: iv.length * 8, aad: buf(aad), tagBits: tagSize * 8 },
  });

  const rsaPublic = (pk: PublicKeyMaterial): Template => {
    if (!pk.rsa) throw unsupported('RSA public key without modulus/exponent');
    return [
      { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
      { type: P.CKA_MODULUS, value: bigint(pk.rsa.n) },
      { type: P.CKA_PUBLIC_EXPONENT, value: bigint(pk.rsa.e) },
      { type: P.CKA_VERIFY, value: true },
    ];
  };

  const verifyWith = (mech: { mechanism: number; parameter?: unknown }, template: Template, data: Bytes, sig: Bytes, what: string) =>
    withObject(template, what, (h) =>
      run(what, true, () => {
        init('C_VerifyInit', () => p.C_VerifyInit(session, mech as pkcs11js.Mechanism, h));
        return verify(data, sig);
      }),
    );

  const noBls = (): Error => unsupported('BLS: PKCS#11 không định nghĩa cơ chế BLS / PKCS#11 defines no BLS mechanism');
  /** PBES2 needs CKM_PKCS5_PBKD2; a token that lists it cannot be asked through pkcs11js, which has no CK_PKCS5_PBKD2_PARAMS. */
  const pbe = (): Error => {
    has(P.CKM_PKCS5_PBKD2, 'PBKDF2 (CKM_PKCS5_PBKD2)');
    return labCannotAsk('PBES2: pkcs11js không truyền được CK_PKCS5_PBKD2_PARAMS / pkcs11js cannot pass CK_PKCS5_PBKD2_PARAMS');
  };

  const adapter: ProductAdapter = {
    info: {
      name: o.name ?? `${token.manufacturerID.trim()} ${token.model.trim()}`,
      version: `${module.libraryDescription.trim()} ${module.libraryVersion.major}.${module.libraryVersion.minor}, firmware ${token.firmwareVersion.major}.${token.firmwareVersion.minor}`,
      adapter: 'pkcs11',
      concurrency: 1,
    },

    async aeadEncrypt(a) {
      if (a.alg !== 'AES-GCM') throw unsupported(`AEAD ${a.alg}`);
      has(P.CKM_AES_GCM, 'AES-GCM');
      return withObject(aesKey(a.key), 'AES key', (h) =>
        run('AES-GCM encrypt', true, () => {
          init('C_EncryptInit', () => p.C_EncryptInit(session, gcmParams(a.iv, a.aad, a.tagSize), h));
          const out = Buffer.from(encrypt(a.msg, a.msg.length + a.tagSize + 16));
          return { ct: u8(out.subarray(0, out.length - a.tagSize)), tag: u8(out.subarray(out.length - a.tagSize)) };
        }),
      );
    },

    async aeadDecrypt(a) {
      if (a.alg !== 'AES-GCM') throw unsupported(`AEAD ${a.alg}`);
      has(P.CKM_AES_GCM, 'AES-GCM');
      if (a.tag.length !== a.tagSize) throw new Error('tag of wrong length');
      return withObject(aesKey(a.key), 'AES key', (h) =>
        run('AES-GCM decrypt', true, () => {
          init('C_DecryptInit', () => p.C_DecryptInit(session, gcmParams(a.iv, a.aad, a.tagSize), h));
          return u8(p.C_Decrypt(session, Buffer.concat([buf(a.ct), buf(a.tag)]), Buffer.alloc(a.ct.length + a.tag.length + 16)));
        }),
      );
    },

    async cipherEncrypt(a) {
      const m = has(P.CKM_AES_CBC_PAD, 'AES-CBC-PAD');
      return withObject(aesKey(a.key), 'AES key', (h) =>
        run('AES-CBC encrypt', true, () => {
          init('C_EncryptInit', () => p.C_EncryptInit(session, { mechanism: m, parameter: buf(a.iv) }, h));
          return encrypt(a.msg, a.msg.length + 32);
        }),
      );
    },

    async cipherDecrypt(a) {
      const m = has(P.CKM_AES_CBC_PAD, 'AES-CBC-PAD');
      return withObject(aesKey(a.key), 'AES key', (h) =>
        run('AES-CBC decrypt', true, () => {
          init('C_DecryptInit', () => p.C_DecryptInit(session, { mechanism: m, parameter: buf(a.iv) }, h));
          return u8(p.C_Decrypt(session, buf(a.ct), Buffer.alloc(a.ct.length + 32)));
        }),
      );
    },

    async macCompute(a) {
      if (a.alg === 'AES-CMAC') {
        const m = has(P.CKM_AES_CMAC, 'AES-CMAC');
        return withObject(aesKey(a.key), 'AES key', (h) =>
          run('AES-CMAC', true, () => {
            init('C_SignInit', () => p.C_SignInit(session, { mechanism: m }, h));
            return sign(a.msg, 16);
          }),
        );
      }
      const m = has(HMAC_MECH[a.alg], a.alg);
      const t = secret(P.CKK_GENERIC_SECRET, a.key, [{ type: P.CKA_SIGN, value: true }]);
      return withObject(t, 'HMAC key', (h) =>
        run(a.alg, true, () => {
          init('C_SignInit', () => p.C_SignInit(session, { mechanism: m }, h));
          return sign(a.msg, 64);
        }),
      );
    },

    async keyWrap(a) {
      const m = has(a.alg === 'AES-KW' ? P.CKM_AES_KEY_WRAP : P.CKM_AES_KEY_WRAP_PAD, a.alg);
      return withObject(aesKey(a.key), 'KEK', (kek) =>
        withObject(secret(P.CKK_GENERIC_SECRET, a.msg, [{ type: P.CKA_EXTRACTABLE, value: true }, { type: P.CKA_SENSITIVE, value: false }]), 'key to wrap', (k) =>
          run(`${a.alg} wrap`, true, () => u8(p.C_WrapKey(session, { mechanism: m }, kek, k, Buffer.alloc(a.msg.length + 16)))),
        ),
      );
    },

    async keyUnwrap(a) {
      const m = has(a.alg === 'AES-KW' ? P.CKM_AES_KEY_WRAP : P.CKM_AES_KEY_WRAP_PAD, a.alg);
      return withObject(aesKey(a.key), 'KEK', (kek) =>
        run(`${a.alg} unwrap`, false, () => {
          const h = p.C_UnwrapKey(session, { mechanism: m }, kek, buf(a.ct), extractable);
          try {
            return readValue(h);
          } finally {
            p.C_DestroyObject(session, h);
          }
        }),
      );
    },

    async sigVerify(a) {
      switch (a.alg) {
        case 'ECDSA': {
          if (a.encoding !== 'p1363') throw unsupported('DER-encoded ECDSA signatures (PKCS#11 takes raw r||s)');
          const template: Template = [
            { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
            { type: P.CKA_KEY_TYPE, value: P.CKK_EC },
            { type: P.CKA_EC_PARAMS, value: Buffer.from(EC_PARAMS[a.curve], 'hex') },
            { type: P.CKA_EC_POINT, value: octetString(ecPoint(a.curve, a.publicKey)) },
            { type: P.CKA_VERIFY, value: true },
          ];
          const combined = ECDSA_MECH[a.hash];
          if (combined !== undefined && mechs.has(combined)) return verifyWith({ mechanism: combined }, template, a.msg, a.sig, `ECDSA-${a.hash}`);
          const raw = has(P.CKM_ECDSA, 'ECDSA');
          const h = NODE_HASH[a.hash];
          if (!h) throw unsupported(`ECDSA with ${a.hash}`);
          return verifyWith({ mechanism: raw }, template, createHash(h).update(a.msg).digest(), a.sig, 'ECDSA');
        }
        case 'RSASSA-PKCS1-v1_5':
          return verifyWith({ mechanism: has(RSA_PKCS_MECH[a.hash], `RSA PKCS#1 ${a.hash}`) }, rsaPublic(a.publicKey), a.msg, a.sig, 'RSA PKCS#1 verify');
        case 'RSASSA-PSS': {
          const mech = {
            mechanism: has(RSA_PSS_MECH[a.hash], `RSA-PSS ${a.hash}`),
            parameter: { type: P.CK_PARAMS_RSA_PSS, hashAlg: has(HASH_MECH[a.hash], a.hash), mgf: MGF[a.mgfHash] ?? -1, saltLen: a.saltLength },
          };
          if (mech.parameter.mgf === -1) throw unsupported(`MGF1 with ${a.mgfHash}`);
          return verifyWith(mech, rsaPublic(a.publicKey), a.msg, a.sig, 'RSA-PSS verify');
        }
        default:
          throw unsupported(`signature ${a.alg}`);
      }
    },

    async asymDecrypt(a) {
      const k = a.privateKey.rsa;
      if (!k) throw unsupported('RSA private key without components');
      const template: Template = [
        { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY },
        { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
        { type: P.CKA_PRIVATE, value: true },
        { type: P.CKA_SENSITIVE, value: true },
        { type: P.CKA_DECRYPT, value: true },
        { type: P.CKA_MODULUS, value: bigint(k.n) },
        { type: P.CKA_PUBLIC_EXPONENT, value: bigint(k.e) },
        { type: P.CKA_PRIVATE_EXPONENT, value: bigint(k.d) },
        { type: P.CKA_PRIME_1, value: bigint(k.p) },
        { type: P.CKA_PRIME_2, value: bigint(k.q) },
        { type: P.CKA_EXPONENT_1, value: bigint(k.dp) },
        { type: P.CKA_EXPONENT_2, value: bigint(k.dq) },
        { type: P.CKA_COEFFICIENT, value: bigint(k.qi) },
      ];
      const mech =
        a.alg === 'RSAES-OAEP'
          ? {
              mechanism: has(P.CKM_RSA_PKCS_OAEP, 'RSA-OAEP'),
              parameter: {
                type: P.CK_PARAMS_RSA_OAEP,
                hashAlg: has(HASH_MECH[a.hash], a.hash),
                mgf: MGF[a.mgfHash] ?? 0,
                source: 1 /* CKZ_DATA_SPECIFIED */,
                sourceData: a.label.length ? buf(a.label) : undefined,
              },
            }
          : { mechanism: has(P.CKM_RSA_PKCS, 'RSA PKCS#1 v1.5') };
      return withObject(template, 'RSA private key', (h) =>
        run(a.alg, true, () => {
          init('C_DecryptInit', () => p.C_DecryptInit(session, mech as pkcs11js.Mechanism, h));
          return u8(p.C_Decrypt(session, buf(a.ct), Buffer.alloc(a.ct.length + 16)));
        }),
      );
    },

    async keyAgree(a) {
      if (a.alg !== 'ECDH') throw unsupported(`key agreement ${a.alg}`);
      const m = has(P.CKM_ECDH1_DERIVE, 'ECDH');
      const n = EC_FIELD_BYTES[a.curve];
      const d = a.privateKey.raw ?? (typeof a.privateKey.jwk?.d === 'string' ? Buffer.from(a.privateKey.jwk.d, 'base64url') : undefined);
      if (!d) throw unsupported('EC private key encoding');
      const point = ecPoint(a.curve, a.publicKey);
      const template: Template = [
        { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY },
        { type: P.CKA_KEY_TYPE, value: P.CKK_EC },
        { type: P.CKA_EC_PARAMS, value: Buffer.from(EC_PARAMS[a.curve], 'hex') },
        { type: P.CKA_VALUE, value: buf(fixedScalar(d, n)) },
        { type: P.CKA_DERIVE, value: true },
      ];
      return withObject(template, 'EC private key', (h) =>
        // A bad peer point arrives as a mechanism parameter: its refusal is a rejection, not a limit.
        run('ECDH derive', false, () => {
          const mech = { mechanism: m, parameter: { type: P.CK_PARAMS_EC_DH, kdf: P.CKD_NULL, publicData: buf(point) } };
          const derived = p.C_DeriveKey(session, mech, h, [...extractable, { type: P.CKA_VALUE_LEN, value: n }]);
          try {
            return readValue(derived);
          } finally {
            p.C_DestroyObject(session, derived);
          }
        }),
      );
    },

    // PKCS#11 (2.40 and 3.x) defines no mechanism for format-preserving encryption or for BLS
    async fpeEncrypt(a) {
      throw unsupported(`${a.alg}: PKCS#11 không định nghĩa cơ chế mã hoá bảo toàn định dạng / PKCS#11 defines no format-preserving encryption mechanism`);
    },

    async fpeDecrypt(a) {
      throw unsupported(`${a.alg}: PKCS#11 không định nghĩa cơ chế mã hoá bảo toàn định dạng / PKCS#11 defines no format-preserving encryption mechanism`);
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

    async pbeEncrypt() {
      throw pbe();
    },

    async pbeDecrypt() {
      throw pbe();
    },

    async close() {
      try {
        p.C_Logout(session);
        p.C_CloseSession(session);
      } finally {
        p.C_Finalize();
      }
    },
  };
  return adapter;
}
