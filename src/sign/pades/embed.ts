/**
 * PAdES phase three: wraps the signature value from the external signer into the CMS SignedData (with
 * the signer's certificate and chain, and any unsigned attributes such as a signature time-stamp) and
 * writes it in hex into the /Contents placeholder. Only the placeholder's bytes change: the digest the
 * signature covers stays what phase one computed.
 */
import { TrucError } from '../../errors.js';
import { signedData } from '../cades/signed-data.js';
import type { PreparedPdf } from './prepare.js';

export function embedSignature(prepared: PreparedPdf, signature: Buffer, unsignedAttrs: Buffer[] = []): Buffer {
  const cms = signedData({ identity: prepared.identity, digest: prepared.digest, signedAttrs: prepared.signedAttributes, signature, unsignedAttrs });
  return embedCms(prepared, cms);
}

/** Places a ready CMS into the placeholder (for signers that return a whole SignedData). */
export function embedCms(prepared: Pick<PreparedPdf, 'pdf' | 'contentsAt' | 'contentsHexLength'>, cms: Buffer): Buffer {
  const hex = cms.toString('hex');
  if (hex.length > prepared.contentsHexLength)
    throw new TrucError('too_large', `the CMS of ${cms.length} bytes does not fit the ${prepared.contentsHexLength / 2}-byte placeholder`, {
      cms: cms.length,
      placeholder: prepared.contentsHexLength / 2,
    });
  const out = Buffer.from(prepared.pdf);
  out.write(hex, prepared.contentsAt, 'latin1');
  return out;
}
