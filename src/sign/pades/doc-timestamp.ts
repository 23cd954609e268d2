/**
 * A document time-stamp (EN 319 142-1 §5.4, ISO 32000-2 §12.8.5): a signature field whose dictionary is
 * /Type /DocTimeStamp /SubFilter /ETSI.RFC3161 and whose /Contents is an RFC 3161 token over the digest of
 * the ByteRange — the whole file before it, earlier signatures and the DSS included. That makes it the
 * archive time-stamp of PAdES B-LTA, and a way to bring a B-B signature to B-T without touching it.
 */
import type { TimeStamper } from '../signer.js';
import { embedCms } from './embed.js';
import { appendSignatureField } from './prepare.js';

/** Room for a token with its TSA certificate (and a chain, from other TSAs). */
const DEFAULT_RESERVE = 12_000;

export async function addDocumentTimeStamp(pdf: Uint8Array, stamper: TimeStamper, opts: { reserve?: number; fieldName?: string } = {}): Promise<Buffer> {
  const placed = appendSignatureField(pdf, {
    type: 'DocTimeStamp',
    subFilter: 'ETSI.RFC3161',
    contentsBytes: opts.reserve ?? DEFAULT_RESERVE,
    digest: 'sha256',
    fieldName: opts.fieldName,
  });
  const token = await stamper.stamp(placed.documentDigest, 'sha256');
  return embedCms(placed, token);
}
