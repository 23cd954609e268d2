/**
 * Signs a PDF in one call: prepare (incremental update with the placeholder, the document digest, the
 * signed attributes) → the external signer signs the attributes → embed. At B-T and above the signature
 * value is time-stamped and the token goes into the CMS as a signature-time-stamp (the placeholder is
 * sized for it); B-LT and B-LTA then append the DSS and the document time-stamp (`augmentPdf`). The input
 * is not modified; the answer is a new buffer whose first bytes are the input's.
 */
import { createHash } from 'node:crypto';
import type { ExternalSigner } from '../signer.js';
import { signatureTimeStampAttribute } from '../cades/unsigned.js';
import { needTimeStamper, rank, type Level, type LevelContext } from '../level.js';
import { preparePdf, type PadesOptions } from './prepare.js';
import { embedSignature } from './embed.js';
import { augmentPdf } from './augment.js';
import { drawAppearance, type VisibleSignature } from './appearance.js';

/** Room in /Contents for a signature time-stamp token with its TSA certificate. */
export const TIMESTAMP_RESERVE = 12_000;

export interface SignPdfOptions extends PadesOptions {
  level?: Level;
  context?: LevelContext;
  /** a visible signature on `page`: its appearance is drawn here (signer, time, issuer, optional PNG) */
  visible?: VisibleSignature;
}

export async function signPdf(pdf: Uint8Array, signer: ExternalSigner, opts: SignPdfOptions = {}): Promise<Buffer> {
  const level = opts.level ?? 'B-B';
  const ctx = opts.context ?? {};
  const timed = rank(level) >= rank('B-T');
  const stamper = timed ? needTimeStamper(ctx) : undefined;
  const signingTime = opts.signingTime ?? new Date();
  const appearance = opts.visible ? await drawAppearance(opts.visible, signer.certificate, signingTime) : opts.appearance;
  const prepared = preparePdf(pdf, signer, { ...opts, signingTime, ...(appearance ? { appearance } : {}), reserve: opts.reserve ?? (timed ? TIMESTAMP_RESERVE : 0) });
  const signature = await signer.sign(prepared.signedAttributes);
  if (!stamper) return embedSignature(prepared, signature);
  const token = await stamper.stamp(createHash('sha256').update(signature).digest(), 'sha256');
  const signed = embedSignature(prepared, signature, [signatureTimeStampAttribute(token)]);
  return rank(level) >= rank('B-LT') ? augmentPdf(signed, level, ctx) : signed;
}
