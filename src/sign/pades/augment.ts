/**
 * Raising the level of a PDF's signatures without re-signing (EN 319 142-1 §5.4, §6), by incremental
 * updates only, so every earlier signature keeps its bytes:
 *   B-T   — a document time-stamp when some signature has no signature-time-stamp (the CMS in /Contents
 *           is never rewritten);
 *   B-LT  — a DSS with the certificates and revocation data of every signer's path and every TSA's path;
 *   B-LTA — then a document time-stamp over all of it.
 * A file already at the level asked is returned as it is; renewing the archive time-stamp — a fresh DSS
 * and a new document time-stamp — is `renewPdfArchive`.
 */
import { TrucError } from '../../errors.js';
import { inspectCms } from '../cades/verify.js';
import { UNSIGNED } from '../cades/unsigned.js';
import { collectEvidence } from '../evidence/collect.js';
import { needEvidence, needTimeStamper, rank, type Level, type LevelContext } from '../level.js';
import { PdfDocument } from '../pdf/document.js';
import { readTimeStampToken, type TimeStampToken } from '../timestamp/token.js';
import { addDocumentTimeStamp } from './doc-timestamp.js';
import { appendDss, dssOffset } from './dss.js';
import { readPdfSignatures, type PdfSignature } from './verify.js';

const isDocTs = (s: PdfSignature) => s.subFilter === 'ETSI.RFC3161';

function tokensOf(s: PdfSignature): { certs: Buffer[]; tsa: Buffer[]; signer?: Buffer } {
  if (!s.cms) return { certs: [], tsa: [] };
  if (isDocTs(s)) {
    const t = readTimeStampToken(s.cms);
    return { certs: t.cms.certificates, tsa: t.signer.certificate ? [t.signer.certificate.der] : [] };
  }
  const cms = inspectCms(s.cms, () => Buffer.alloc(0));
  const signer = cms.signers[0];
  const tokens: TimeStampToken[] = (signer?.unsignedAttributes.get(UNSIGNED.signatureTimeStamp) ?? []).map((t) => readTimeStampToken(t));
  return {
    certs: [...cms.certificates, ...tokens.flatMap((t) => t.cms.certificates)],
    tsa: tokens.flatMap((t) => (t.signer.certificate ? [t.signer.certificate.der] : [])),
    ...(signer?.certificate ? { signer: signer.certificate.der } : {}),
  };
}

export async function augmentPdf(bytes: Uint8Array, level: Level, ctx: LevelContext): Promise<Buffer> {
  let pdf: Buffer = Buffer.from(bytes);
  const sigs = readPdfSignatures(pdf).filter((s) => s.cms && !s.formatProblem);
  const signatures = sigs.filter((s) => !isDocTs(s));
  if (!signatures.length) throw new TrucError('bad_request', 'the PDF has no signature to augment');
  const docTs = sigs.filter(isDocTs);
  // already there: a DSS after every signature (B-LT), followed by a document time-stamp over the whole file (B-LTA)
  const dssAt = dssOffset(new PdfDocument(pdf));
  const lastSig = Math.max(...sigs.map((s) => s.coverEnd));
  const hasLt = dssAt !== undefined && dssAt > Math.max(...signatures.map((s) => s.coverEnd));
  if (level === 'B-LT' && hasLt && dssAt! > lastSig) return pdf;
  if (level === 'B-LTA' && hasLt && docTs.some((d) => d.coversWholeFile && d.coverEnd > dssAt!)) return pdf;

  if (rank(level) >= rank('B-T')) {
    const untimed = signatures.filter((s) => {
      const signer = inspectCms(s.cms!, () => Buffer.alloc(0)).signers[0];
      return !signer?.unsignedAttributes.has(UNSIGNED.signatureTimeStamp) && !docTs.some((d) => d.coverEnd >= s.coverEnd);
    });
    if (untimed.length) pdf = await addDocumentTimeStamp(pdf, needTimeStamper(ctx));
  }
  if (rank(level) >= rank('B-LT')) pdf = await appendValidationData(pdf, ctx);
  if (rank(level) >= rank('B-LTA')) pdf = await addDocumentTimeStamp(pdf, needTimeStamper(ctx));
  return pdf;
}

/** The DSS updated with the paths and fresh revocation data of every signer and every TSA in the file. */
async function appendValidationData(pdf: Buffer, ctx: LevelContext): Promise<Buffer> {
  const all = readPdfSignatures(pdf).filter((s) => s.cms && !s.formatProblem);
  const parts = all.map(tokensOf);
  const targets = parts.flatMap((p) => [...(p.signer ? [p.signer] : []), ...p.tsa]);
  const pool = parts.flatMap((p) => p.certs);
  return appendDss(pdf, await collectEvidence(targets, pool, needEvidence(ctx)));
}

/**
 * Renews the archive time-stamp of a B-LTA PDF (EN 319 142-1 §5.5, ISO 32000-2 §12.8.5): the DSS gets the
 * validation data of the last document time-stamp's TSA (and fresh revocation data for every other
 * certificate in the file), then a new document time-stamp covers the whole file — the earlier
 * time-stamps and the DSS included. Two incremental updates: every earlier signature and time-stamp keeps
 * its bytes and stays valid.
 */
export async function renewPdfArchive(bytes: Uint8Array, ctx: LevelContext): Promise<Buffer> {
  const pdf = Buffer.from(bytes);
  const sigs = readPdfSignatures(pdf).filter((s) => s.cms && !s.formatProblem);
  const dssAt = dssOffset(new PdfDocument(pdf));
  const signatures = sigs.filter((s) => !isDocTs(s));
  if (!signatures.length || dssAt === undefined || !sigs.some((s) => isDocTs(s) && s.coverEnd > dssAt))
    throw new TrucError('bad_request', 'the PDF has no archive (document) time-stamp after its validation data to renew (raise it to B-LTA first)');
  return addDocumentTimeStamp(await appendValidationData(pdf, ctx), needTimeStamper(ctx));
}
