/**
 * A PKCS#10 certification request (RFC 2986) signed by a key that never leaves its key store: the
 * CertificationRequestInfo is built here, the store signs it, and issuance then checks the proof of
 * possession like any other request.
 */
import { bitString, ctx as explicit, int, seq } from '../../asn1/der.js';
import { SCHEMES, type SignatureScheme } from '../../crypto/algorithms.js';
import type { KeyStore } from '../../crypto/keystore.js';
import { encodeName, type NameAttribute } from '../../pki/index.js';

export async function keyStoreCsr(store: KeyStore, keyId: string, spki: Buffer, scheme: SignatureScheme, subject: NameAttribute[]): Promise<Buffer> {
  // version 0, subject, subjectPKInfo, attributes [0] (none)
  const info = seq(int(0), encodeName(subject), spki, explicit(0));
  const signature = await store.sign(keyId, scheme, info);
  return seq(info, Buffer.from(SCHEMES[scheme].algorithmIdentifier), bitString(signature));
}
