/** The DER inside a PEM block, bounded; used where a vector file carries keys as PEM. */
import { TrucError } from '../../errors.js';

const MAX_PEM = 64 * 1024;

export function spkiFromPem(pem: string): Uint8Array {
  if (pem.length > MAX_PEM) throw new TrucError('too_large', 'PEM block too large');
  const m = /-----BEGIN [A-Z ]+-----([\s\S]*?)-----END [A-Z ]+-----/.exec(pem);
  if (!m) throw new TrucError('malformed_pem', 'no PEM block');
  return new Uint8Array(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
}
