/**
 * What an operator is shown of a member's encryption certificate — the registered ones
 * (`GET /api/v1/central/encryption-certs`) and the one an `encryption-cert` request carries — decoded from
 * its DER with node:crypto: subject, serial, validity, key type, its SHA-256 (the hash the configuration
 * lists), and whether it is valid now.
 */
import { X509Certificate } from 'node:crypto';
import { sha256Hex } from '../conf/signed.js';

export type EncryptionCertStatus = 'valid' | 'expired' | 'not-yet-valid';

export interface EncryptionCertSummary {
  hash: string;
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  /** ec or rsa (with the curve or modulus size when known) */
  keyType: string;
  status: EncryptionCertStatus;
}

export function describeEncryptionCert(der: Buffer, now: Date): EncryptionCertSummary {
  const hash = sha256Hex(der);
  const x = new X509Certificate(der);
  const key = x.publicKey;
  const d = key.asymmetricKeyDetails ?? {};
  const keyType = `${key.asymmetricKeyType ?? 'unknown'}${d.namedCurve ? ` ${d.namedCurve}` : d.modulusLength ? ` ${d.modulusLength}` : ''}`;
  const notBefore = new Date(x.validFrom);
  const notAfter = new Date(x.validTo);
  const status: EncryptionCertStatus = now < notBefore ? 'not-yet-valid' : now > notAfter ? 'expired' : 'valid';
  return {
    hash,
    subject: x.subject.split('\n').join(', '),
    issuer: x.issuer.split('\n').join(', '),
    serial: x.serialNumber.toLowerCase(),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    keyType,
    status,
  };
}
