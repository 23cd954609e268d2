/**
 * CMS names and the one structure @peculiar/asn1-cms lacks: AuthEnvelopedData (RFC 5083), with the GCM
 * parameters (RFC 5084) and the ECC-CMS-SharedInfo of the X9.63 key derivation (RFC 5753 §7.2).
 */
import { AsnArray, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { Attribute, EncryptedContentInfo, OriginatorInfo, RecipientInfos } from '@peculiar/asn1-cms';

export const OID = {
  data: '1.2.840.113549.1.7.1',
  envelopedData: '1.2.840.113549.1.7.3',
  authEnvelopedData: '1.2.840.113549.1.9.16.1.23',
  aes128cbc: '2.16.840.1.101.3.4.1.2',
  aes192cbc: '2.16.840.1.101.3.4.1.22',
  aes256cbc: '2.16.840.1.101.3.4.1.42',
  aes128gcm: '2.16.840.1.101.3.4.1.6',
  aes192gcm: '2.16.840.1.101.3.4.1.26',
  aes256gcm: '2.16.840.1.101.3.4.1.46',
  aes128wrap: '2.16.840.1.101.3.4.1.5',
  aes192wrap: '2.16.840.1.101.3.4.1.25',
  aes256wrap: '2.16.840.1.101.3.4.1.45',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsaesOaep: '1.2.840.113549.1.1.7',
  mgf1: '1.2.840.113549.1.1.8',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  ecPublicKey: '1.2.840.10045.2.1',
  // RFC 5753 / SEC 1: dhSinglePass-stdDH-sha*kdf-scheme
  stdDhSha1Kdf: '1.3.133.16.840.63.0.2',
  stdDhSha224Kdf: '1.3.132.1.11.0',
  stdDhSha256Kdf: '1.3.132.1.11.1',
  stdDhSha384Kdf: '1.3.132.1.11.2',
  stdDhSha512Kdf: '1.3.132.1.11.3',
  // RFC 8418: X25519 with HKDF is not used; openssl uses dhSinglePass-stdDH with X25519 too
  x25519: '1.3.101.110',
} as const;

export const KDF_HASH: Record<string, 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512'> = {
  [OID.stdDhSha1Kdf]: 'sha1',
  [OID.stdDhSha224Kdf]: 'sha224',
  [OID.stdDhSha256Kdf]: 'sha256',
  [OID.stdDhSha384Kdf]: 'sha384',
  [OID.stdDhSha512Kdf]: 'sha512',
};

export const WRAP: Record<string, { bits: 128 | 192 | 256; cipher: string }> = {
  [OID.aes128wrap]: { bits: 128, cipher: 'id-aes128-wrap' },
  [OID.aes192wrap]: { bits: 192, cipher: 'id-aes192-wrap' },
  [OID.aes256wrap]: { bits: 256, cipher: 'id-aes256-wrap' },
};

export const CBC: Record<string, { cipher: string; keyLength: number }> = {
  [OID.aes128cbc]: { cipher: 'aes-128-cbc', keyLength: 16 },
  [OID.aes192cbc]: { cipher: 'aes-192-cbc', keyLength: 24 },
  [OID.aes256cbc]: { cipher: 'aes-256-cbc', keyLength: 32 },
};

export const GCM: Record<string, { cipher: 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm'; keyLength: number }> = {
  [OID.aes128gcm]: { cipher: 'aes-128-gcm', keyLength: 16 },
  [OID.aes192gcm]: { cipher: 'aes-192-gcm', keyLength: 24 },
  [OID.aes256gcm]: { cipher: 'aes-256-gcm', keyLength: 32 },
};

/** GCMParameters ::= SEQUENCE { aes-nonce OCTET STRING, aes-ICVlen INTEGER DEFAULT 12 } */
export class GcmParameters {
  @AsnProp({ type: AsnPropTypes.OctetString })
  nonce: ArrayBuffer = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.Integer, defaultValue: 12 })
  icvLen = 12;
  constructor(p: Partial<GcmParameters> = {}) {
    Object.assign(this, p);
  }
}

@AsnType({ type: AsnTypeTypes.Set, itemType: Attribute })
export class AuthAttributes extends AsnArray<Attribute> {}

/** AuthEnvelopedData (RFC 5083 §2.1) */
export class AuthEnvelopedData {
  @AsnProp({ type: AsnPropTypes.Integer })
  version = 0;
  @AsnProp({ type: OriginatorInfo, context: 0, implicit: true, optional: true })
  originatorInfo?: OriginatorInfo;
  @AsnProp({ type: RecipientInfos })
  recipientInfos = new RecipientInfos();
  @AsnProp({ type: EncryptedContentInfo })
  authEncryptedContentInfo = new EncryptedContentInfo();
  @AsnProp({ type: AuthAttributes, context: 1, implicit: true, optional: true })
  authAttrs?: AuthAttributes;
  @AsnProp({ type: OctetString })
  mac = new OctetString();
  @AsnProp({ type: AuthAttributes, context: 2, implicit: true, optional: true })
  unauthAttrs?: AuthAttributes;
  constructor(p: Partial<AuthEnvelopedData> = {}) {
    Object.assign(this, p);
  }
}

/** ECC-CMS-SharedInfo (RFC 5753 §7.2) */
export class EccCmsSharedInfo {
  @AsnProp({ type: AlgorithmIdentifier })
  keyInfo = new AlgorithmIdentifier();
  @AsnProp({ type: OctetString, context: 0, optional: true })
  entityUInfo?: OctetString;
  @AsnProp({ type: OctetString, context: 2 })
  suppPubInfo = new OctetString();
  constructor(p: Partial<EccCmsSharedInfo> = {}) {
    Object.assign(this, p);
  }
}
