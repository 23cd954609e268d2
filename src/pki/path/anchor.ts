/** Trust anchors: a certificate, or just a name and a public key (RFC 5280 section 6.1.1 (d)). */
import { createHash } from 'node:crypto';
import { TrucError } from '../../errors.js';
import { children, parseOne } from '../../asn1/reader.js';
import { parseCertificate, type Certificate } from './certificate.js';
import { parseName, type DistinguishedName } from './name.js';
import { readBitString } from './primitives.js';
import { MAX_CERT_BYTES } from './limits.js';

export type TrustAnchorInput = Uint8Array | { name: Uint8Array; spki: Uint8Array };

export interface Anchor {
  name: DistinguishedName;
  spki: Buffer;
  publicKeyBits: Buffer;
  /** SHA-1 of the public key bits: the usual key identifier (RFC 5280 4.2.1.2 method 1) */
  keyIdSha1: Buffer;
  cert?: Certificate;
}

export function readAnchor(input: TrustAnchorInput): Anchor {
  if (input instanceof Uint8Array) {
    const cert = parseCertificate(Buffer.from(input));
    return {
      name: cert.subject,
      spki: cert.spki,
      publicKeyBits: cert.publicKeyBits,
      keyIdSha1: createHash('sha1').update(cert.publicKeyBits).digest(),
      cert,
    };
  }
  const spki = Buffer.from(input.spki);
  const spkiEl = parseOne(spki, 'trust anchor key', MAX_CERT_BYTES);
  const parts = children(spkiEl, 'trust anchor key', 2);
  if (spkiEl.tag !== 0x30 || parts.length !== 2)
    throw new TrucError('malformed_der', 'trust anchor key: not an SPKI');
  const bits = readBitString(parts[1], 'trust anchor key').bytes;
  return {
    name: parseName(Buffer.from(input.name), 'trust anchor name'),
    spki,
    publicKeyBits: bits,
    keyIdSha1: createHash('sha1').update(bits).digest(),
  };
}
