/** The issuer of a certificate as revocation checking sees it: a name and a key, and the certificate when there is one. */
import type { Certificate } from './certificate.js';
import type { DistinguishedName } from './name.js';

export interface IssuerInfo {
  name: DistinguishedName;
  spki: Buffer;
  publicKeyBits: Buffer;
  cert?: Certificate;
}

export function issuerOfCert(cert: Certificate): IssuerInfo {
  return { name: cert.subject, spki: cert.spki, publicKeyBits: cert.publicKeyBits, cert };
}
