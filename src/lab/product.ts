/**
 * The product under test, seen through one interface. Every operation takes plain values (bytes, names,
 * key material in the encodings a vector file offers) and either answers, throws `unsupported()` when the
 * product lacks the algorithm or parameter, throws `adapterError()` when the adapter itself broke (crashed
 * process, bad frame, timeout), or throws anything else, which the lab reads as the product rejecting the
 * input. Operations an adapter does not implement at all are simply absent.
 */
import { TrucError } from '../errors.js';

export type Bytes = Uint8Array;
export type HashName =
  | 'SHA-1'
  | 'SHA-224'
  | 'SHA-256'
  | 'SHA-384'
  | 'SHA-512'
  | 'SHA-512/224'
  | 'SHA-512/256'
  | 'SHA3-224'
  | 'SHA3-256'
  | 'SHA3-384'
  | 'SHA3-512'
  /** SHAKE as a fixed-length hash: 256 bits of output for SHAKE128, 512 for SHAKE256 (RFC 8692, RFC 8702). */
  | 'SHAKE128'
  | 'SHAKE256';
/** The file's algorithm name, as is: AES-GCM, AES-CCM, CHACHA20-POLY1305, AEGIS128, ARIA-GCM… The adapter decides. */
export type AeadAlg = string;
export type CipherAlg = string;
export type MacAlg = `HMAC-${HashName}` | 'AES-CMAC' | (string & {});
export type WrapAlg = 'AES-KW' | 'AES-KWP' | (string & {});
/** P-256, P-384, P-521 for the NIST curves; every other curve under its SEC 2 / RFC 5639 name (secp256k1, brainpoolP256r1…). */
export type EcCurve = 'P-256' | 'P-384' | 'P-521' | (string & {});
export type EdCurve = 'Ed25519' | 'Ed448';
export type XCurve = 'X25519' | 'X448';
export type MlKemAlg = 'ML-KEM-512' | 'ML-KEM-768' | 'ML-KEM-1024';
export type MlDsaAlg = 'ML-DSA-44' | 'ML-DSA-65' | 'ML-DSA-87';

/** A JSON Web Key as found in vector files; kept loose on purpose (the adapter decides what it can use). */
export type Jwk = Record<string, unknown>;

/** Public key material in every encoding the vector file offered; an adapter uses what suits it. */
export interface PublicKeyMaterial {
  /** SubjectPublicKeyInfo DER. */
  spki?: Bytes;
  /** Raw public key: uncompressed EC point, Ed/X key bytes, ML-DSA public key. */
  raw?: Bytes;
  jwk?: Jwk;
  rsa?: { n: Bytes; e: Bytes };
}

export interface PrivateKeyMaterial {
  pkcs8?: Bytes;
  /** Raw private key: EC scalar (big-endian, as in the file), X25519/X448 key bytes. */
  raw?: Bytes;
  jwk?: Jwk;
  rsa?: { n: Bytes; e: Bytes; d: Bytes; p: Bytes; q: Bytes; dp: Bytes; dq: Bytes; qi: Bytes };
}

export interface AeadInput { alg: AeadAlg; key: Bytes; iv: Bytes; aad: Bytes; tagSize: number /* bytes */ }
export interface CipherInput { alg: CipherAlg; key: Bytes; iv: Bytes }
export type KdfInput =
  | { alg: 'HKDF'; hash: HashName; ikm: Bytes; salt: Bytes; info: Bytes; size: number }
  | { alg: 'PBKDF2'; hash: HashName; password: Bytes; salt: Bytes; iterations: number; size: number };

export type SigVerifyInput =
  | {
      alg: 'ECDSA';
      curve: EcCurve;
      hash: HashName;
      encoding: 'der' | 'p1363';
      publicKey: PublicKeyMaterial;
      msg: Bytes;
      sig: Bytes;
      /** Bitcoin's rule (BIP 146): a signature whose s is above n/2 is invalid. */
      lowS?: boolean;
    }
  | { alg: 'DSA'; hash: HashName; encoding: 'der' | 'p1363'; publicKey: PublicKeyMaterial; msg: Bytes; sig: Bytes }
  | { alg: 'EdDSA'; curve: EdCurve; publicKey: PublicKeyMaterial; msg: Bytes; sig: Bytes }
  | { alg: 'RSASSA-PKCS1-v1_5'; hash: HashName; publicKey: PublicKeyMaterial; msg: Bytes; sig: Bytes }
  | { alg: 'RSASSA-PSS'; hash: HashName; mgfHash: HashName; saltLength: number; publicKey: PublicKeyMaterial; msg: Bytes; sig: Bytes }
  | { alg: MlDsaAlg; publicKey: PublicKeyMaterial; msg: Bytes; sig: Bytes; context: Bytes };

/**
 * ML-DSA signing from the 32-byte seed (key generation first) or the expanded private key, as given. The
 * message goes either as `msg` with its context (ML-DSA.Sign) or as the 64-byte representative `mu`
 * (Sign_internal with external µ). `rnd` is the 32-byte randomness of hedged signing; absent, it is the
 * all-zero value of deterministic signing.
 */
export type MlDsaSignInput = { alg: MlDsaAlg; rnd?: Bytes } & ({ seed: Bytes } | { privateKey: Bytes }) & ({ msg: Bytes; context: Bytes } | { mu: Bytes });

export type SigSignInput = { alg: 'RSASSA-PKCS1-v1_5'; hash: HashName; privateKey: PrivateKeyMaterial; msg: Bytes };

export type KeyAgreeInput =
  | { alg: 'ECDH'; curve: EcCurve; publicKey: PublicKeyMaterial; privateKey: PrivateKeyMaterial }
  | { alg: 'XDH'; curve: XCurve; publicKey: PublicKeyMaterial; privateKey: PrivateKeyMaterial };

export type AsymDecryptInput =
  | { alg: 'RSAES-OAEP'; hash: HashName; mgfHash: HashName; label: Bytes; privateKey: PrivateKeyMaterial; ct: Bytes }
  | { alg: 'RSAES-PKCS1-v1_5'; privateKey: PrivateKeyMaterial; ct: Bytes };

/** PBES2 (RFC 8018 §6.2): PBKDF2 with HMAC over `prf` derives the key of `cipher` (AES-128-CBC…), padded as PKCS#5 says. */
export interface PbeInput { alg: 'PBES2'; prf: HashName; cipher: string; password: Bytes; salt: Bytes; iterations: number; iv: Bytes }

/**
 * Format-preserving encryption (NIST SP 800-38G): AES-FF1, FF3-1. The message is a list of digits below
 * `radix`, or a string over `alphabet` — passed as the file writes it, for the product to take or refuse.
 */
export interface FpeInput { alg: string; key: Bytes; tweak: Bytes; radix: number; alphabet?: string }
export type FpeText = string | number[];

/** Curve parameters as a product holds them (unsigned big-endian integers; the point G affine). */
export interface EcCurveParams { p: Bytes; a: Bytes; b: Bytes; gx: Bytes; gy: Bytes; n: Bytes; h: number }

/** A JOSE key: a JWK, or a JWK Set (`{"keys": [...]}`) as the file gives it. */
export type JoseKey = Record<string, unknown>;

export interface ProductInfo {
  /** Product name as registered, e.g. "OpenSSL via node:crypto". */
  name: string;
  version: string;
  /** Adapter kind: node, noble, pkcs11, stdio, http. */
  adapter: string;
  /** Requests the product can usefully take at once; the runner never exceeds it. */
  concurrency?: number;
}

export interface ProductAdapter {
  readonly info: ProductInfo;
  aeadEncrypt?(p: AeadInput & { msg: Bytes }): Promise<{ ct: Bytes; tag: Bytes }>;
  /** Returns the plaintext; throws when the product refuses the ciphertext. */
  aeadDecrypt?(p: AeadInput & { ct: Bytes; tag: Bytes }): Promise<Bytes>;
  cipherEncrypt?(p: CipherInput & { msg: Bytes }): Promise<Bytes>;
  cipherDecrypt?(p: CipherInput & { ct: Bytes }): Promise<Bytes>;
  /** Returns a tag of at least `tagSize` bytes; the lab compares the leading `tagSize` bytes. */
  macCompute?(p: { alg: MacAlg; key: Bytes; msg: Bytes; tagSize: number }): Promise<Bytes>;
  hash?(p: { alg: HashName; msg: Bytes }): Promise<Bytes>;
  /**
   * The hash of `content` repeated until `fullBytes` bytes (ACVP's large-data test, "repeating" expansion:
   * gigabytes no frame carries, so the product streams it itself). `fullBytes` is a whole number of bytes;
   * `signal` aborts it when the run's time is up.
   */
  hashLarge?(p: { alg: HashName; content: Bytes; fullBytes: number; signal?: AbortSignal }): Promise<Bytes>;
  kdf?(p: KdfInput): Promise<Bytes>;
  keyWrap?(p: { alg: WrapAlg; key: Bytes; msg: Bytes }): Promise<Bytes>;
  keyUnwrap?(p: { alg: WrapAlg; key: Bytes; ct: Bytes }): Promise<Bytes>;
  sigVerify?(p: SigVerifyInput): Promise<boolean>;
  sigSign?(p: SigSignInput): Promise<Bytes>;
  keyAgree?(p: KeyAgreeInput): Promise<Bytes>;
  asymDecrypt?(p: AsymDecryptInput): Promise<Bytes>;
  /** A MAC that takes a nonce (AES-GMAC, VMAC); the lab compares the leading `tagSize` bytes. */
  macWithIv?(p: { alg: string; key: Bytes; iv: Bytes; msg: Bytes; tagSize: number }): Promise<Bytes>;
  /** Whether the integer (big-endian two's complement, as in the vector file) is prime. */
  isPrime?(p: { value: Bytes }): Promise<boolean>;
  /** ML-DSA signing (FIPS 204) with the given randomness; returns the signature. */
  mlDsaSign?(p: MlDsaSignInput): Promise<Bytes>;
  /** ML-KEM encapsulation (FIPS 203 Encaps_internal) with the given randomness m; returns the ciphertext and the shared key. */
  kemEncaps?(p: { alg: MlKemAlg; ek: Bytes; m: Bytes }): Promise<{ c: Bytes; K: Bytes }>;
  /** Key generation from a seed (d||z); returns the encapsulation key and the expanded decapsulation key. */
  kemKeygen?(p: { alg: MlKemAlg; seed: Bytes }): Promise<{ ek: Bytes; dk: Bytes }>;
  /** Decapsulation with the key pair derived from the seed, or with the expanded decapsulation key `dk` as given. */
  kemDecaps?(p: { alg: MlKemAlg; ct: Bytes } & ({ seed: Bytes } | { dk: Bytes })): Promise<Bytes>;
  /** Deterministic AEAD (RFC 5297 AES-SIV with one associated-data string, no nonce); returns the whole output, the SIV first. */
  daeadEncrypt?(p: { alg: string; key: Bytes; aad: Bytes; msg: Bytes }): Promise<Bytes>;
  /** Returns the plaintext; throws when the product refuses the ciphertext. */
  daeadDecrypt?(p: { alg: string; key: Bytes; aad: Bytes; ct: Bytes }): Promise<Bytes>;
  /** Password-based encryption (PBES2); returns the ciphertext. */
  pbeEncrypt?(p: PbeInput & { msg: Bytes }): Promise<Bytes>;
  pbeDecrypt?(p: PbeInput & { ct: Bytes }): Promise<Bytes>;
  /** Format-preserving encryption; the answer is of the message's kind (digits or a string). */
  fpeEncrypt?(p: FpeInput & { msg: FpeText }): Promise<FpeText>;
  fpeDecrypt?(p: FpeInput & { ct: FpeText }): Promise<FpeText>;
  /** The parameters the product holds for a named curve (name and OID as the file gives them). */
  ecCurveParams?(p: { name: string; oid: string }): Promise<EcCurveParams>;
  /** BLS signature verification (draft-irtf-cfrg-bls-signature) under the named ciphersuite. */
  blsVerify?(p: { ciphersuite: string; publicKey: Bytes; msg: Bytes; sig: Bytes }): Promise<boolean>;
  /** BLS AggregateVerify: one signature over n (public key, message) pairs. */
  blsAggregateVerify?(p: { ciphersuite: string; publicKeys: Bytes[]; messages: Bytes[]; sig: Bytes }): Promise<boolean>;
  /** hash_to_curve onto G2 of BLS12-381 with the domain separation tag; returns the compressed point. */
  blsHashToG2?(p: { dst: string; msg: Bytes }): Promise<Bytes>;
  /** JSON Web Signature verification (compact or JSON serialization, as given) with a JWK or JWK Set; returns the payload, throws on refusal. */
  jwsVerify?(p: { jws: string; key: JoseKey }): Promise<Bytes>;
  /** JSON Web Encryption decryption with a JWK or JWK Set; returns the plaintext, throws on refusal. */
  jweDecrypt?(p: { jwe: string; key: JoseKey }): Promise<Bytes>;
  /** C2SP chunked encryption (Cobblestone): the whole plaintext, or a refusal. */
  chunkedDecrypt?(p: { alg: string; aead: string; hash: HashName; key: Bytes; ctx: Bytes; ct: Bytes }): Promise<Bytes>;
  /** Whole ACVP vector set in, ACVP response out; products that speak ACVP natively offer this. */
  acvp?(prompt: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Stop the product at once (the run's time is up): a process product's group is killed, requests in flight fail. */
  halt?(reason: string): Promise<void>;
  close?(): Promise<void>;
}

export type OperationName = Exclude<keyof ProductAdapter, 'info' | 'close' | 'halt'>;

/** Who a test was not asked of: the product lacks it, or the lab cannot put the question. */
export type UnsupportedBy = 'product' | 'lab';

/** The product lacks this algorithm or parameter: reported as UNSUPPORTED, not as a failure. */
export function unsupported(what: string): TrucError {
  return new TrucError('lab_unsupported', `unsupported: ${what}`, { what, by: 'product' satisfies UnsupportedBy });
}

/**
 * The lab cannot put this question to any product (no family for the schema, an encoding no operation
 * carries): UNSUPPORTED too, but the report says it is the lab's gap, not the product's.
 */
export function labCannotAsk(what: string): TrucError {
  return new TrucError('lab_unsupported', `lab cannot ask: ${what}`, { what, by: 'lab' satisfies UnsupportedBy });
}

/** Whose gap an unsupported error records ('product' unless the lab said it was its own). */
export function unsupportedBy(e: unknown): UnsupportedBy {
  return e instanceof TrucError && (e.detail as { by?: string } | undefined)?.by === 'lab' ? 'lab' : 'product';
}

/** The adapter (not the product's cryptography) broke: reported as ERROR. */
export function adapterError(message: string, detail?: Record<string, unknown>, cause?: unknown): TrucError {
  return new TrucError('lab_adapter', message, detail, { cause });
}

/**
 * The product must not be asked again this run (it broke a whole-run limit, e.g. its total output): an
 * ERROR for the test that hit it, and the run stops there with a partial report.
 */
export function productHalted(message: string, halt: 'output-limit', detail?: Record<string, unknown>): TrucError {
  return new TrucError('lab_adapter', message, { ...detail, halt });
}

export function isUnsupported(e: unknown): boolean {
  return e instanceof TrucError && e.code === 'lab_unsupported';
}

export function isAdapterError(e: unknown): boolean {
  return e instanceof TrucError && e.code === 'lab_adapter';
}
