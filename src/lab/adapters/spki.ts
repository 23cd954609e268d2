/**
 * Just enough strict DER to take a SubjectPublicKeyInfo apart (algorithm OID, named-curve OID, key bits)
 * and to wrap raw Edwards/Montgomery keys for OpenSSL. Adapters whose product takes raw points use it;
 * anything not minimal DER is refused, bounded by the input length and without recursion.
 */
/** Named-curve OIDs (RFC 5480, SEC 2, RFC 5639), DER contents in hex, by the lab's curve name. */
const CURVE_OIDS: Record<string, string> = {
  'P-256': '2a8648ce3d030107',
  'P-384': '2b81040022',
  'P-521': '2b81040023',
  secp192r1: '2a8648ce3d030101',
  secp224r1: '2b81040021',
  secp160k1: '2b81040009',
  secp160r1: '2b81040008',
  secp160r2: '2b8104001e',
  secp192k1: '2b8104001f',
  secp224k1: '2b81040020',
  secp256k1: '2b8104000a',
  sect283k1: '2b81040010',
  sect283r1: '2b81040011',
  sect409k1: '2b81040024',
  sect409r1: '2b81040025',
  sect571k1: '2b81040026',
  sect571r1: '2b81040027',
  brainpoolP224r1: '2b2403030208010105',
  brainpoolP256r1: '2b2403030208010107',
  brainpoolP320r1: '2b2403030208010109',
  brainpoolP384r1: '2b240303020801010b',
  brainpoolP512r1: '2b240303020801010d',
};

const OIDS: Record<string, string> = {
  '2a8648ce3d0201': 'ecPublicKey',
  ...Object.fromEntries(Object.entries(CURVE_OIDS).map(([name, oid]) => [oid, name])),
};

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}

function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

/**
 * A raw EC private scalar as PKCS#8 (RFC 5208 around RFC 5915's ECPrivateKey, without the optional public
 * key) naming its curve, so an API that takes only encoded keys can be handed the scalar unchanged.
 * Undefined when the curve has no OID here.
 */
export function ecPrivateKeyPkcs8(curve: string, raw: Uint8Array): Uint8Array | undefined {
  const oid = CURVE_OIDS[curve];
  if (!oid) return undefined;
  let i = 0;
  while (i < raw.length - 1 && raw[i] === 0) i++;
  const ecPrivateKey = tlv(0x30, Buffer.from([0x02, 0x01, 0x01]), tlv(0x04, raw.subarray(i)));
  const alg = tlv(0x30, tlv(0x06, Buffer.from('2a8648ce3d0201', 'hex')), tlv(0x06, Buffer.from(oid, 'hex')));
  return new Uint8Array(tlv(0x30, Buffer.from([0x02, 0x01, 0x00]), alg, tlv(0x04, ecPrivateKey)));
}

interface Tlv {
  tag: number;
  value: Uint8Array;
  end: number;
}

function readTlv(b: Uint8Array, at: number): Tlv {
  if (at + 2 > b.length) throw new Error('DER: truncated');
  const tag = b[at];
  let len = b[at + 1];
  let off = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || off + n > b.length) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | b[off + i];
    if (len < 0x80 || b[off] === 0) throw new Error('DER: non-minimal length');
    off += n;
  }
  if (off + len > b.length) throw new Error('DER: truncated value');
  return { tag, value: b.subarray(off, off + len), end: off + len };
}

export interface Spki {
  algorithm: string;
  /** Named curve for EC keys, if the parameters are a known OID. */
  curve?: string;
  key: Uint8Array;
}

/** Parses an EC SubjectPublicKeyInfo; throws on anything but strict DER with a named curve. */
export function parseEcSpki(der: Uint8Array): Spki {
  const outer = readTlv(der, 0);
  if (outer.tag !== 0x30 || outer.end !== der.length) throw new Error('SPKI: not a single SEQUENCE');
  const algId = readTlv(outer.value, 0);
  if (algId.tag !== 0x30) throw new Error('SPKI: no AlgorithmIdentifier');
  const bits = readTlv(outer.value, algId.end);
  if (bits.tag !== 0x03 || bits.end !== outer.value.length) throw new Error('SPKI: no BIT STRING');
  if (bits.value.length < 1 || bits.value[0] !== 0) throw new Error('SPKI: unused bits');
  const oid = readTlv(algId.value, 0);
  if (oid.tag !== 0x06) throw new Error('SPKI: no algorithm OID');
  const algorithm = OIDS[Buffer.from(oid.value).toString('hex')] ?? 'unknown';
  let curve: string | undefined;
  if (oid.end < algId.value.length) {
    const p = readTlv(algId.value, oid.end);
    if (p.end !== algId.value.length) throw new Error('SPKI: trailing parameters');
    if (p.tag === 0x06) curve = OIDS[Buffer.from(p.value).toString('hex')];
  }
  return { algorithm, curve, key: bits.value.subarray(1) };
}

const PREFIX = {
  Ed25519: { spki: '302a300506032b6570032100' },
  Ed448: { spki: '3043300506032b6571033a00' },
  X25519: { spki: '302a300506032b656e032100', pkcs8: '302e020100300506032b656e04220420' },
  X448: { spki: '3042300506032b656f033900', pkcs8: '3046020100300506032b656f043a0438' },
} as const;

const SIZE = { Ed25519: 32, Ed448: 57, X25519: 32, X448: 56 } as const;

/** SPKI DER for a raw Ed/X public key; throws when the length is wrong (the product would too). */
export function rawPublicToSpki(curve: keyof typeof PREFIX, raw: Uint8Array): Buffer {
  if (raw.length !== SIZE[curve]) throw new Error(`${curve}: public key must be ${SIZE[curve]} bytes`);
  return Buffer.concat([Buffer.from(PREFIX[curve].spki, 'hex'), raw]);
}

export function rawPrivateToPkcs8(curve: 'X25519' | 'X448', raw: Uint8Array): Buffer {
  if (raw.length !== SIZE[curve]) throw new Error(`${curve}: private key must be ${SIZE[curve]} bytes`);
  return Buffer.concat([Buffer.from(PREFIX[curve].pkcs8, 'hex'), raw]);
}

/** Field size in bytes of a NIST curve (and secp256k1). */
export const EC_FIELD_BYTES: Record<string, number> = { 'P-256': 32, 'P-384': 48, 'P-521': 66, secp256k1: 32 };

/** A big-endian scalar from a vector file (maybe with a leading zero) as exactly `size` bytes. */
export function fixedScalar(raw: Uint8Array, size: number): Uint8Array {
  let i = 0;
  while (i < raw.length - 1 && raw[i] === 0) i++;
  const s = raw.subarray(i);
  if (s.length > size) throw new Error('private scalar longer than the field');
  const out = new Uint8Array(size);
  out.set(s, size - s.length);
  return out;
}
