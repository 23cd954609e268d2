/**
 * One entry for raising whatever signed file arrives (the CLI's `truc augment`, HTTP `POST /api/v1/augment`)
 * to a higher baseline level, or for renewing its archive time-stamp: the format told from the first bytes,
 * the file validated first — a signature that is TOTAL-FAILED is not time-stamped (that would lend a broken
 * signature a proof of existence), and the report tells the level each signature has — then `augmentPdf`,
 * `augmentCades` or `augmentXades` (or `renew…Archive`) for every signature below the level asked.
 *
 * Refusals, before any time-stamp is taken: not a PDF, CMS or XML signature (`unsupported`, `malformed_*`,
 * `bad_request` when no signature is found); a TOTAL-FAILED signature (`invalid_signature`); every signature
 * already above the level asked, or a renewal of a signature that is not B-LTA (`conflict`); B-LTA or a
 * renewal of a detached CAdES or XAdES signature without its content, or content given for a PDF or an
 * enveloping CAdES signature (`bad_request`). A file already at the level asked comes back unchanged.
 */
import { pemFirstBody, toPem } from '../asn1/der.js';
import { TrucError } from '../errors.js';
import { augmentCades, renewCadesArchive } from './cades/augment.js';
import { inspectCms } from './cades/verify.js';
import { rank, type Level, type LevelContext } from './level.js';
import { augmentPdf, renewPdfArchive } from './pades/augment.js';
import { detectFormat, validateFile, type SignedKind } from './validate/file.js';
import type { ValidationOptions } from './validate/signer.js';
import { augmentXades, renewXadesArchive } from './xades/levels.js';
import type { DetachedInput } from './xades/detached.js';

export interface AugmentFileOptions {
  /** B-T, B-LT or B-LTA; with `renew`, B-LTA or nothing */
  level?: Level;
  /** add a further archive time-stamp to a B-LTA signature, after fresh validation data */
  renew?: boolean;
  /**
   * the signed content of a detached CAdES or XAdES signature (needed for B-LTA and renewal): one file, or the named
   * files of a detached XAdES signature over several (each matched to its reference by name or digest)
   */
  content?: DetachedInput;
  /** the time-stamper, revocation data and trust anchors the new level needs */
  context: LevelContext;
  /** how the file is validated first */
  validation: ValidationOptions;
}

export interface AugmentFileResult {
  kind: SignedKind;
  bytes: Buffer;
  /** the lowest level among the file's signatures before */
  from: Level;
  /** the level asked (B-LTA for a renewal) */
  to: Level;
  /** false when the file already was at the level asked, and comes back as it was */
  changed: boolean;
  renewed: boolean;
  signatures: number;
  /** CMS: a detached signature (its content travels apart) */
  detached?: boolean;
}

export async function augmentFile(bytes: Uint8Array, o: AugmentFileOptions): Promise<AugmentFileResult> {
  const kind = detectFormat(bytes);
  if (!kind) throw new TrucError('unsupported', 'not a PDF, CMS or XML signature');
  const renew = !!o.renew;
  if (renew && o.level && o.level !== 'B-LTA') throw new TrucError('bad_request', `a renewal adds an archive time-stamp to a B-LTA signature; level ${o.level} does not go with it`);
  const to: Level = renew ? 'B-LTA' : (o.level ?? 'B-B');
  if (rank(to) < rank('B-T')) throw new TrucError('bad_request', 'augmenting raises a signature to B-T, B-LT or B-LTA', { allowed: ['B-T', 'B-LT', 'B-LTA'] });
  if (o.content && kind === 'pdf') throw new TrucError('bad_request', 'content is only for a detached CAdES or XAdES signature');
  // a CMS signature signs one content
  const many = o.content && !(o.content instanceof Uint8Array) ? o.content : undefined;
  if (kind === 'cms' && many && many.length !== 1) throw new TrucError('bad_request', 'a CMS signature signs one content; give one file / chữ ký CMS chỉ ký một nội dung');
  const oneContent = o.content instanceof Uint8Array ? o.content : many?.length === 1 ? many[0].content : undefined;

  // a CMS signature is raised in DER; one that came as PEM goes back as PEM
  let pemLabel: string | undefined;
  let der: Buffer | undefined;
  let detached: boolean | undefined;
  if (kind === 'cms') {
    const buf = Buffer.from(bytes);
    if (buf[0] === 0x30) der = buf;
    else {
      const pem = pemFirstBody(buf.toString('utf8'), ['CMS', 'PKCS7']);
      if (!pem) throw new TrucError('malformed_cms', 'no CMS or PKCS7 PEM block');
      pemLabel = pem.label;
      der = Buffer.from(pem.body, 'base64');
    }
    detached = !inspectCms(der, () => Buffer.alloc(0)).content;
    if (o.content && !detached) throw new TrucError('bad_request', 'the CMS signature carries its content (enveloping); content is only for a detached one');
    if (detached && !o.content && rank(to) >= rank('B-LTA'))
      throw new TrucError('bad_request', `the signed content is needed for ${renew ? 'renewing the archive time-stamp of' : 'B-LTA on'} a detached CAdES signature`);
  }

  const report = await validateFile(der ?? bytes, { ...o.validation, ...(o.content ? { content: o.content } : {}) });
  const sigs = report.signatures;
  if (!sigs.length) throw new TrucError('bad_request', `the ${kind === 'pdf' ? 'PDF' : kind === 'cms' ? 'CMS' : 'XML'} file has no signature to augment`);
  const failed = sigs.find((s) => s.indication === 'TOTAL-FAILED' || s.level === 'unknown');
  if (failed)
    throw new TrucError('invalid_signature', `signature #${failed.index + 1} is ${failed.indication}${failed.subIndication ? `/${failed.subIndication}` : ''}${failed.message ? ` (${failed.message})` : ''}: it is not augmented`, {
      index: failed.index,
      indication: failed.indication,
      ...(failed.subIndication ? { subIndication: failed.subIndication } : {}),
    });
  // a detached XAdES signature validated without its content: its archive time-stamp would have to cover it
  // (or with files none of which a reference names or digests)
  if (kind === 'xml' && rank(to) >= rank('B-LTA') && sigs.some((s) => s.subIndication === 'SIGNED_DATA_NOT_FOUND'))
    throw new TrucError('bad_request', `the signed content is needed for ${renew ? 'renewing the archive time-stamp of' : 'B-LTA on'} a detached XAdES signature${o.content ? ': a reference of it matches none of the files given' : ''}`);
  const levels = sigs.map((s) => s.level as Level);
  const from = levels.reduce((a, b) => (rank(b) < rank(a) ? b : a));
  const result = (out: Buffer, changed: boolean): AugmentFileResult => ({ kind, bytes: out, from, to, changed, renewed: renew && changed, signatures: sigs.length, ...(detached !== undefined ? { detached } : {}) });

  if (renew) {
    if (from !== 'B-LTA') throw new TrucError('conflict', `the signature is at ${from}; only a B-LTA signature has an archive time-stamp to renew (augment it to B-LTA first)`, { level: from });
  } else {
    if (rank(from) > rank(to)) throw new TrucError('conflict', `the signature is already at ${from}, above the ${to} asked`, { level: from });
    if (from === to) return result(Buffer.from(bytes), false);
  }

  const ctx = o.context;
  let out: Buffer;
  if (kind === 'pdf') out = renew ? await renewPdfArchive(bytes, ctx) : await augmentPdf(bytes, to, ctx);
  else if (kind === 'cms') {
    let cms = der!;
    for (const [i, s] of sigs.entries()) {
      if (renew) cms = await renewCadesArchive(cms, ctx, s.index, oneContent);
      else if (rank(levels[i]) < rank(to)) cms = await augmentCades(cms, to, ctx, s.index, oneContent);
    }
    out = pemLabel ? Buffer.from(toPem(pemLabel, cms)) : cms;
  } else {
    // the document's bytes, in its encoding, with the new properties written in
    let xml: Buffer = Buffer.from(bytes);
    for (const [i, s] of sigs.entries()) {
      if (renew) xml = await renewXadesArchive(xml, ctx, s.index, o.content);
      else if (rank(levels[i]) < rank(to)) xml = await augmentXades(xml, to, ctx, s.index, o.content);
    }
    out = xml;
  }
  return result(out, true);
}
