/**
 * CMS encryption to recipients' certificates: AuthEnvelopedData with AES-256-GCM (RFC 5083/5084, the
 * default) or EnvelopedData with AES-256-CBC (RFC 5652), one RecipientInfo per certificate — RSA keys by
 * RSAES-OAEP key transport (SHA-256, RFC 8017/4055), EC keys (P-256/384/521) and X25519 by ephemeral-static
 * ECDH with the X9.63 KDF and AES key wrap (RFC 5753), each EC recipient with its own ephemeral key.
 * X25519 (RFC 8418) is not offered: OpenSSL 3.0, the judge of interoperability here, has no X25519 in CMS.
 */
import { createCipheriv, createPublicKey, generateKeyPairSync, randomBytes, diffieHellman, publicEncrypt, constants } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import {
  ContentInfo,
  EncryptedContent,
  EncryptedContentInfo,
  EnvelopedData,
  IssuerAndSerialNumber,
  KeyAgreeRecipientIdentifier,
  KeyAgreeRecipientInfo,
  KeyTransRecipientInfo,
  OriginatorIdentifierOrKey,
  OriginatorPublicKey,
  RecipientEncryptedKey,
  RecipientEncryptedKeys,
  RecipientIdentifier,
  RecipientInfo,
  RecipientInfos,
} from '@peculiar/asn1-cms';
import { RsaEsOaepParams, id_mgf1 } from '@peculiar/asn1-rsa';
import { TrucError } from '../../errors.js';
import { AuthEnvelopedData, GcmParameters, OID } from './schema.js';
import { sharedInfo, x963Kdf } from './kdf.js';

export interface CmsEncryptOptions {
  /** AuthEnvelopedData with AES-256-GCM (default) or EnvelopedData with AES-256-CBC */
  mode?: 'auth-enveloped' | 'enveloped';
  /**
   * RSA-OAEP hash for RSA recipients (default sha256). SHA-1 exists for tokens that decrypt nothing else
   * (SoftHSM2 2.6 accepts OAEP only with SHA-1); OAEP's security does not rest on collision resistance.
   */
  rsaOaepHash?: 'sha1' | 'sha256' | 'sha384' | 'sha512';
}

const HASH_OID = { sha1: OID.sha1, sha256: OID.sha256, sha384: OID.sha384, sha512: OID.sha512 } as const;

const CURVE_KDF: Record<string, { kdf: string; hash: string }> = {
  prime256v1: { kdf: OID.stdDhSha256Kdf, hash: 'sha256' },
  secp384r1: { kdf: OID.stdDhSha384Kdf, hash: 'sha384' },
  secp521r1: { kdf: OID.stdDhSha512Kdf, hash: 'sha512' },
};

function parseCert(der: Uint8Array): Certificate {
  try {
    return AsnConvert.parse(Buffer.from(der), Certificate);
  } catch {
    throw new TrucError('bad_request', 'a recipient certificate is not a DER X.509 certificate');
  }
}

function wrap(kek: Buffer, cek: Buffer): Buffer {
  const c = createCipheriv('id-aes256-wrap', kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
  return Buffer.concat([c.update(cek), c.final()]);
}

export function recipientInfo(certDer: Uint8Array, cek: Buffer, oaepHash: NonNullable<CmsEncryptOptions['rsaOaepHash']>): RecipientInfo {
  const cert = parseCert(certDer);
  const tbs = cert.tbsCertificate;
  const ias = new IssuerAndSerialNumber({ issuer: tbs.issuer, serialNumber: tbs.serialNumber });
  const spkiDer = Buffer.from(AsnConvert.serialize(tbs.subjectPublicKeyInfo));
  const pub = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  const type = pub.asymmetricKeyType;
  if (type === 'rsa') {
    const encryptedKey = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, cek);
    const hashId = new AlgorithmIdentifier({ algorithm: HASH_OID[oaepHash], parameters: null });
    // SHA-1 with MGF1-SHA-1 is the DEFAULT: encoded as empty parameters (DER leaves defaults out)
    const params =
      oaepHash === 'sha1'
        ? new RsaEsOaepParams()
        : new RsaEsOaepParams({
            hashAlgorithm: hashId,
            maskGenAlgorithm: new AlgorithmIdentifier({ algorithm: id_mgf1, parameters: AsnConvert.serialize(hashId) }),
          });
    return new RecipientInfo({
      ktri: new KeyTransRecipientInfo({
        version: 0,
        rid: new RecipientIdentifier({ issuerAndSerialNumber: ias }),
        keyEncryptionAlgorithm: new AlgorithmIdentifier({ algorithm: OID.rsaesOaep, parameters: AsnConvert.serialize(params) }),
        encryptedKey: new OctetString(encryptedKey),
      }),
    });
  }
  let eph;
  let kdf: { kdf: string; hash: string };
  if (type === 'ec') {
    const curve = pub.asymmetricKeyDetails?.namedCurve ?? '';
    const k = CURVE_KDF[curve];
    if (!k) throw new TrucError('unsupported', `recipient curve ${curve} is not supported (P-256, P-384, P-521)`);
    eph = generateKeyPairSync('ec', { namedCurve: curve });
    kdf = k;
  } else throw new TrucError('unsupported', `a ${type} recipient key cannot receive encrypted documents`);
  const z = diffieHellman({ privateKey: eph.privateKey, publicKey: pub });
  const kek = x963Kdf(kdf.hash, z, sharedInfo(OID.aes256wrap, 256), 32);
  z.fill(0);
  const ephSpki = AsnConvert.parse(eph.publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
  return new RecipientInfo({
    kari: new KeyAgreeRecipientInfo({
      version: 3,
      originator: new OriginatorIdentifierOrKey({
        // the algorithm without curve parameters (RFC 5753 §3.1.1: absent is allowed; the curve is the recipient's)
        originatorKey: new OriginatorPublicKey({ algorithm: new AlgorithmIdentifier({ algorithm: ephSpki.algorithm.algorithm }), publicKey: ephSpki.subjectPublicKey }),
      }),
      keyEncryptionAlgorithm: new AlgorithmIdentifier({ algorithm: kdf.kdf, parameters: AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: OID.aes256wrap })) }),
      recipientEncryptedKeys: new RecipientEncryptedKeys([
        new RecipientEncryptedKey({ rid: new KeyAgreeRecipientIdentifier({ issuerAndSerialNumber: ias }), encryptedKey: new OctetString(wrap(kek, cek)) }),
      ]),
    }),
  });
}

/** Encrypts `content` to every certificate in `recipients`; returns a DER ContentInfo. */
export function encryptCms(content: Uint8Array, recipients: Uint8Array[], opts: CmsEncryptOptions = {}): Buffer {
  if (recipients.length === 0) throw new TrucError('bad_request', 'at least one recipient certificate is needed');
  if (recipients.length > 1000) throw new TrucError('bad_request', 'at most 1000 recipients');
  const cek = randomBytes(32);
  try {
    const infos = new RecipientInfos(recipients.map((r) => recipientInfo(r, cek, opts.rsaOaepHash ?? 'sha256')));
    if (opts.mode === 'enveloped') {
      const iv = randomBytes(16);
      const c = createCipheriv('aes-256-cbc', cek, iv);
      const ct = Buffer.concat([c.update(content), c.final()]);
      const ed = new EnvelopedData({
        version: infos.some((i) => i.kari) ? 2 : 0,
        recipientInfos: infos,
        encryptedContentInfo: new EncryptedContentInfo({
          contentType: OID.data,
          contentEncryptionAlgorithm: new AlgorithmIdentifier({ algorithm: OID.aes256cbc, parameters: AsnConvert.serialize(new OctetString(iv)) }),
          encryptedContent: new EncryptedContent({ value: new OctetString(ct) }),
        }),
      });
      return Buffer.from(AsnConvert.serialize(new ContentInfo({ contentType: OID.envelopedData, content: AsnConvert.serialize(ed) })));
    }
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', cek, nonce);
    const ct = Buffer.concat([c.update(content), c.final()]);
    const aed = new AuthEnvelopedData({
      version: 0,
      recipientInfos: infos,
      authEncryptedContentInfo: new EncryptedContentInfo({
        contentType: OID.data,
        contentEncryptionAlgorithm: new AlgorithmIdentifier({ algorithm: OID.aes256gcm, parameters: AsnConvert.serialize(new GcmParameters({ nonce: new Uint8Array(nonce).buffer, icvLen: 16 })) }),
        encryptedContent: new EncryptedContent({ value: new OctetString(ct) }),
      }),
      mac: new OctetString(c.getAuthTag()),
    });
    return Buffer.from(AsnConvert.serialize(new ContentInfo({ contentType: OID.authEnvelopedData, content: AsnConvert.serialize(aed) })));
  } finally {
    cek.fill(0);
  }
}
