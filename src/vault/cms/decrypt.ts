/**
 * CMS decryption (EnvelopedData, AuthEnvelopedData) with a recipient key held by a key store (PKCS#11:
 * the RSA decryption or ECDH runs on the token) or in process. Input is BER or DER, bounded in size and
 * depth. Every failure that could tell an attacker something — wrong key, bad padding, altered content —
 * is the same `decrypt_failed`; a malformed structure is `malformed_cms`.
 */
import { createDecipheriv, randomBytes } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { oid } from '../../asn1/der.js';
import { children, parseOne } from '../../asn1/reader.js';
import { AlgorithmIdentifier, Certificate, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { ContentInfo, EncryptedContentInfo, EnvelopedData, IssuerAndSerialNumber, RecipientInfo } from '@peculiar/asn1-cms';
import { RsaEsOaepParams } from '@peculiar/asn1-rsa';
import { TrucError } from '../../errors.js';
import { berToDer } from '../../sign/cms/ber.js';
import { AuthEnvelopedData, CBC, GCM, GcmParameters, KDF_HASH, OID, WRAP } from './schema.js';
import { sharedInfo, x963Kdf } from './kdf.js';
import type { RecipientKey } from './recipient-key.js';
import type { RsaDecryptPadding } from '../../crypto/keystore.js';

export interface CmsDecryptOptions {
  /** the recipient's certificate: picks its RecipientInfo (otherwise every one of the key's kind is tried) */
  certificate?: Uint8Array;
  /** accept RSA PKCS#1 v1.5 key transport (what some senders still make); off by default */
  allowPkcs1?: boolean;
  /** refuse larger input; default 64 MiB */
  maxSize?: number;
}

export interface CmsDecrypted {
  content: Buffer;
  contentType: string;
  /** AuthEnvelopedData (integrity-protected) or EnvelopedData (CBC: confidentiality only) */
  structure: 'auth-enveloped' | 'enveloped';
}

const HASH_OF: Record<string, 'sha1' | 'sha256' | 'sha384' | 'sha512'> = {
  [OID.sha1]: 'sha1',
  [OID.sha256]: 'sha256',
  [OID.sha384]: 'sha384',
  [OID.sha512]: 'sha512',
};

const malformed = (what: string) => new TrucError('malformed_cms', `malformed CMS: ${what}`);
const failed = (what = 'no recipient information could be decrypted with this key') => new TrucError('decrypt_failed', what);

function parse<T>(der: ArrayBuffer | Uint8Array, type: new () => T, what: string): T {
  try {
    return AsnConvert.parse(der instanceof Uint8Array ? Buffer.from(der) : der, type);
  } catch {
    throw malformed(what);
  }
}

function sameIas(a: IssuerAndSerialNumber, b: IssuerAndSerialNumber): boolean {
  return Buffer.from(AsnConvert.serialize(a)).equals(Buffer.from(AsnConvert.serialize(b)));
}

function oaepPadding(alg: AlgorithmIdentifier): RsaDecryptPadding {
  if (!alg.parameters) return { oaep: 'sha1' };
  const p = parse(alg.parameters, RsaEsOaepParams, 'RSAES-OAEP parameters');
  const hash = HASH_OF[p.hashAlgorithm.algorithm];
  const mgfHash = p.maskGenAlgorithm.parameters ? HASH_OF[parse(p.maskGenAlgorithm.parameters, AlgorithmIdentifier, 'MGF1 parameters').algorithm] : 'sha1';
  if (!hash || hash !== mgfHash) throw new TrucError('unsupported', 'RSA-OAEP with this hash/MGF combination is not supported');
  // the schema fills in a default label source that is not the empty label: read it only when sent
  const sent = children(parseOne(Buffer.from(alg.parameters), 'OAEP parameters')).some((c) => c.tag === 0xa2);
  const label = sent && p.pSourceAlgorithm.parameters ? Buffer.from(parse(p.pSourceAlgorithm.parameters, OctetStringBox, 'OAEP label').buffer) : undefined;
  return { oaep: hash, ...(label?.length ? { label } : {}) };
}

// a tiny wrapper so `parse` can read an OCTET STRING
class OctetStringBox extends OctetString {}

export async function unwrapCek(ri: RecipientInfo, key: RecipientKey, certIas: IssuerAndSerialNumber | undefined, opts: CmsDecryptOptions): Promise<Buffer | null> {
  if (ri.ktri) {
    if (key.kind !== 'rsa') return null;
    const ias = ri.ktri.rid.issuerAndSerialNumber;
    if (certIas && (!ias || !sameIas(ias, certIas))) return null;
    const alg = ri.ktri.keyEncryptionAlgorithm;
    const ek = Buffer.from(ri.ktri.encryptedKey.buffer);
    if (alg.algorithm === OID.rsaesOaep) return key.rsaDecrypt(oaepPadding(alg), ek);
    if (alg.algorithm === OID.rsaEncryption) {
      if (!opts.allowPkcs1) throw new TrucError('decrypt_failed', 'RSA PKCS#1 v1.5 key transport is refused by policy (allowPkcs1)');
      // implicit rejection: a bad padding yields a random key, so the failure shows only at the content
      return key.rsaDecrypt('pkcs1', ek).catch(() => randomBytes(32));
    }
    throw new TrucError('unsupported', `key transport algorithm ${alg.algorithm} is not supported`);
  }
  if (ri.kari) {
    if (key.kind === 'rsa') return null;
    const kari = ri.kari;
    const mine = kari.recipientEncryptedKeys.find((rek) => !certIas || (rek.rid.issuerAndSerialNumber && sameIas(rek.rid.issuerAndSerialNumber, certIas)));
    if (!mine) return null;
    const hash = KDF_HASH[kari.keyEncryptionAlgorithm.algorithm];
    if (!hash) throw new TrucError('unsupported', `key agreement algorithm ${kari.keyEncryptionAlgorithm.algorithm} is not supported (dhSinglePass-stdDH-sha*kdf-scheme)`);
    if (!kari.keyEncryptionAlgorithm.parameters) throw malformed('key agreement without a key wrap algorithm');
    const wrapAlg = parse(kari.keyEncryptionAlgorithm.parameters, AlgorithmIdentifier, 'key wrap algorithm');
    const wrap = WRAP[wrapAlg.algorithm];
    if (!wrap) throw new TrucError('unsupported', `key wrap ${wrapAlg.algorithm} is not supported`);
    const ok = kari.originator.originatorKey;
    if (!ok) throw new TrucError('unsupported', 'only an ephemeral originator key is supported');
    // the originator's algorithm may come without curve parameters: the curve is ours
    const spki = Buffer.from(AsnConvert.serialize(new SubjectPublicKeyInfo({ algorithm: ok.algorithm, subjectPublicKey: ok.publicKey })));
    const z = await key.ecdh(ok.algorithm.parameters ? spki : await withCurve(spki));
    const kek = x963Kdf(hash, z, sharedInfo(wrapAlg.algorithm, wrap.bits, kari.ukm ? Buffer.from(kari.ukm.buffer) : undefined), wrap.bits / 8);
    z.fill(0);
    try {
      const d = createDecipheriv(wrap.cipher, kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
      return Buffer.concat([d.update(Buffer.from(mine.encryptedKey.buffer)), d.final()]);
    } catch {
      throw failed('the wrapped content key did not unwrap with this key');
    }
  }
  return null;
}

/** The recipient's curve added to an originator key sent without parameters. */
async function withCurve(spki: Buffer): Promise<Buffer> {
  const s = AsnConvert.parse(spki, SubjectPublicKeyInfo);
  if (s.algorithm.algorithm !== OID.ecPublicKey) return spki;
  const point = Buffer.from(s.subjectPublicKey);
  // the curve follows from the point's length (uncompressed 04 || x || y)
  const curve = point.length === 65 ? '1.2.840.10045.3.1.7' : point.length === 97 ? '1.3.132.0.34' : point.length === 133 ? '1.3.132.0.35' : null;
  if (!curve) throw failed('the originator key is not an uncompressed P-256/384/521 point');
  const params = oid(curve);
  s.algorithm = new AlgorithmIdentifier({ algorithm: OID.ecPublicKey, parameters: params.buffer.slice(params.byteOffset, params.byteOffset + params.length) as ArrayBuffer });
  return Buffer.from(AsnConvert.serialize(s));
}

function decryptContent(eci: EncryptedContentInfo, cek: Buffer, mac?: Buffer, aad?: Buffer): Buffer {
  const alg = eci.contentEncryptionAlgorithm;
  const ec = eci.encryptedContent;
  const ct = ec?.value ? Buffer.from(ec.value.buffer) : ec?.constructedValue ? Buffer.concat(ec.constructedValue.map((o) => Buffer.from(o.buffer))) : null;
  if (!ct) throw malformed('no encrypted content (detached content is not supported)');
  if (mac) {
    const g = GCM[alg.algorithm];
    if (!g) throw new TrucError('unsupported', `authenticated content algorithm ${alg.algorithm} is not supported`);
    if (!alg.parameters) throw malformed('GCM without parameters');
    const p = parse(alg.parameters, GcmParameters, 'GCM parameters');
    if (cek.length !== g.keyLength || p.icvLen !== mac.length || mac.length < 12) throw failed();
    try {
      const d = createDecipheriv(g.cipher, cek, Buffer.from(p.nonce), { authTagLength: mac.length });
      if (aad) d.setAAD(aad);
      d.setAuthTag(mac);
      return Buffer.concat([d.update(ct), d.final()]);
    } catch {
      throw failed('the content failed authentication: altered, truncated or the wrong key');
    }
  }
  const c = CBC[alg.algorithm];
  if (!c) throw new TrucError('unsupported', `content algorithm ${alg.algorithm} is not supported`);
  if (!alg.parameters) throw malformed('CBC without an IV');
  const iv = Buffer.from(parse(alg.parameters, OctetStringBox, 'CBC IV').buffer);
  if (cek.length !== c.keyLength || iv.length !== 16) throw failed();
  try {
    const d = createDecipheriv(c.cipher, cek, iv);
    return Buffer.concat([d.update(ct), d.final()]);
  } catch {
    throw failed('the content did not decrypt: altered, truncated or the wrong key');
  }
}

export async function decryptCms(input: Uint8Array, key: RecipientKey, opts: CmsDecryptOptions = {}): Promise<CmsDecrypted> {
  const max = opts.maxSize ?? 64 * 1024 * 1024;
  if (input.length > max) throw new TrucError('too_large', `CMS input larger than ${max} bytes`);
  let der: Buffer;
  try {
    der = berToDer(Buffer.from(input), 'CMS');
  } catch {
    throw malformed('not BER/DER');
  }
  const ci = parse(der, ContentInfo, 'ContentInfo');
  const certIas = opts.certificate
    ? (() => {
        const c = parse(opts.certificate!, Certificate, 'recipient certificate');
        return new IssuerAndSerialNumber({ issuer: c.tbsCertificate.issuer, serialNumber: c.tbsCertificate.serialNumber });
      })()
    : undefined;
  let infos: RecipientInfo[];
  let eci: EncryptedContentInfo;
  let mac: Buffer | undefined;
  let aad: Buffer | undefined;
  let structure: CmsDecrypted['structure'];
  if (ci.contentType === OID.envelopedData) {
    const ed = parse(ci.content, EnvelopedData, 'EnvelopedData');
    infos = [...ed.recipientInfos];
    eci = ed.encryptedContentInfo;
    structure = 'enveloped';
  } else if (ci.contentType === OID.authEnvelopedData) {
    const aed = parse(ci.content, AuthEnvelopedData, 'AuthEnvelopedData');
    infos = [...aed.recipientInfos];
    eci = aed.authEncryptedContentInfo;
    mac = Buffer.from(aed.mac.buffer);
    // authenticated attributes are MACed in their DER SET OF form (RFC 5083 §2.1)
    if (aed.authAttrs) {
      aad = Buffer.from(AsnConvert.serialize(aed.authAttrs));
      aad[0] = 0x31;
    }
    structure = 'auth-enveloped';
  } else throw malformed(`content type ${ci.contentType} is not (Auth)EnvelopedData`);
  if (infos.length > 1000) throw malformed('too many recipients');
  let lastError: unknown;
  for (const ri of infos) {
    let cek: Buffer | null;
    try {
      cek = await unwrapCek(ri, key, certIas, opts);
    } catch (e) {
      if (e instanceof TrucError && e.code !== 'decrypt_failed') throw e;
      lastError = e;
      continue;
    }
    if (!cek) continue;
    try {
      return { content: decryptContent(eci, cek, mac, aad), contentType: eci.contentType, structure };
    } finally {
      cek.fill(0);
    }
  }
  if (lastError instanceof TrucError && /policy/.test(lastError.message)) throw lastError;
  throw failed(certIas ? 'no recipient information for this certificate could be decrypted with this key' : undefined);
}
