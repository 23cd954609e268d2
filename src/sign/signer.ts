/**
 * What the signature formats ask of the outside world. A signer is "hash in, signature out": the formats
 * prepare the bytes to be signed (the DER of the CMS signed attributes, or XAdES SignedInfo), the signer —
 * a key store, a PKCS#11 token, a remote signing service — returns the signature value, and the format
 * embeds it. A time-stamper turns a message imprint into an RFC 3161 TimeStampToken (for B-T and up).
 */
import type { SignatureScheme } from '../crypto/algorithms.js';

export interface SignerIdentity {
  /** the signer's certificate, DER */
  certificate: Uint8Array;
  /** CA certificates above it (issuing CA first), DER, carried so relying parties can build the path */
  chain?: Uint8Array[];
  scheme: SignatureScheme;
}

export interface ExternalSigner extends SignerIdentity {
  /** signs the whole message per the scheme (the key store's `sign`); ECDSA answers in DER */
  sign(data: Uint8Array): Promise<Buffer> | Buffer;
}

export interface TimeStamper {
  stamp(messageImprint: Buffer, hash: 'sha256'): Promise<Buffer /* TimeStampToken DER */>;
}
