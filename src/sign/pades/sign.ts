/**
 * Signs a PDF at PAdES baseline B-B in one call: prepare (incremental update with the placeholder, the
 * document digest, the signed attributes) → the external signer signs the attributes → embed. The input
 * is not modified; the answer is a new buffer whose first bytes are the input's.
 */
import type { ExternalSigner } from '../signer.js';
import { preparePdf, type PadesOptions } from './prepare.js';
import { embedSignature } from './embed.js';

export async function signPdf(pdf: Uint8Array, signer: ExternalSigner, opts: PadesOptions = {}): Promise<Buffer> {
  const prepared = preparePdf(pdf, signer, opts);
  const signature = await signer.sign(prepared.signedAttributes);
  return embedSignature(prepared, signature);
}
