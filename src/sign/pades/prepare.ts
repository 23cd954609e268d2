/**
 * PAdES phase one (ETSI EN 319 142-1, baseline B-B): appends to the PDF an incremental update with a
 * signature field (a widget on a page), its signature dictionary (/Filter /Adobe.PPKLite, /SubFilter
 * /ETSI.CAdES.detached, /ByteRange, /M, a /Contents placeholder of zeros) and the AcroForm with /SigFlags 3;
 * then digests the bytes the ByteRange covers and builds the CMS signed attributes to be signed —
 * content-type, message-digest and signing-certificate-v2, and no signing-time, which PAdES forbids (the
 * claimed time is /M). The placeholder is sized from a CMS built with the longest signature value the key
 * can give, plus what the caller reserves for unsigned attributes (a signature time-stamp for B-T).
 */
import { createHash } from 'node:crypto';
import { TrucError } from '../../errors.js';
import { digestFor, type DigestName } from '../cms/attributes.js';
import { maxSignatureLength, signedAttributes, signedData } from '../cades/signed-data.js';
import type { SignerIdentity } from '../signer.js';
import { PdfDocument, type Ref } from '../pdf/document.js';
import { appendUpdate, objectNumbers, type UpdateObject } from '../pdf/update.js';
import { array, decodeTextString, dict, name, num, ref, serialize, str, textString, type PdfDict, type PdfObject } from '../pdf/objects.js';
import { importAppearance, type PreparedAppearance } from './appearance.js';
import { pagePlacement, toUserSpace } from './placement.js';
import { docMdpOf, permsDocMdp } from './docmdp.js';
import { checkLock, fieldMdpReference, sigFieldLock, type FieldLock } from './fieldmdp.js';

/** P of the document's certification signature, if it is certified. */
function certification(doc: PdfDocument): 1 | 2 | 3 | undefined {
  const n = permsDocMdp(doc);
  if (n === undefined) return undefined;
  try {
    return docMdpOf(doc, doc.dictOf({ kind: 'ref', num: n, gen: 0 }, 'the certification signature'));
  } catch {
    return undefined;
  }
}

export interface PadesOptions {
  /** when the signer claims to sign: /M of the signature dictionary (default now) */
  signingTime?: Date;
  /** offset of local time from UTC in minutes for /M (default +07:00, Vietnam) */
  utcOffsetMinutes?: number;
  /** index of the page the signature field sits on (default 0) */
  page?: number;
  /** name of the new field (default Signature1, Signature2, … whichever is free) */
  fieldName?: string;
  reason?: string;
  location?: string;
  contactInfo?: string;
  /** bytes reserved in /Contents beyond the signed CMS (unsigned attributes such as a time-stamp token) */
  reserve?: number;
  /** a visible signature: the widget's rectangle and its drawn appearance (`drawAppearance`) */
  appearance?: PreparedAppearance;
  /**
   * a certification (DocMDP) signature — the document's first — permitting later: 1 no changes, 2 filling
   * in forms and signing, 3 also annotations (ISO 32000-1 §12.8.2.2)
   */
  certify?: 1 | 2 | 3;
  /** a FieldMDP lock: form fields later changes must not touch (ISO 32000-1 §12.8.2.4) */
  lock?: FieldLock;
}

export interface PreparedPdf {
  /** the whole updated file, /Contents still zeros */
  pdf: Buffer;
  byteRange: [number, number, number, number];
  /** offset of the first hex digit inside /Contents <…> and the number of hex digits */
  contentsAt: number;
  contentsHexLength: number;
  digest: DigestName;
  /** digest of the bytes the ByteRange covers: the CMS message-digest */
  documentDigest: Buffer;
  /** the DER the signer signs */
  signedAttributes: Buffer;
  identity: SignerIdentity;
  fieldName: string;
}

const MARGIN = 256;
const BR_WIDTH = 10;

/** A PDF date: D:YYYYMMDDHHmmSS+HH'mm' in the given offset from UTC. */
export function pdfDate(d: Date, offsetMinutes: number): string {
  const local = new Date(d.getTime() + offsetMinutes * 60_000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const sign = offsetMinutes >= 0 ? '+' : '-';
  const off = Math.abs(offsetMinutes);
  return `D:${p(local.getUTCFullYear(), 4)}${p(local.getUTCMonth() + 1)}${p(local.getUTCDate())}${p(local.getUTCHours())}${p(local.getUTCMinutes())}${p(local.getUTCSeconds())}${sign}${p(Math.floor(off / 60))}'${p(off % 60)}'`;
}

function appendTo(o: PdfObject | undefined, doc: PdfDocument, item: PdfObject, owner: PdfDict, key: string, changed: UpdateObject[]): void {
  if (o?.kind === 'ref') {
    const target = doc.get(o.num);
    if (target.kind !== 'array') throw new TrucError('malformed_pdf', `/${key} does not refer to an array`);
    changed.push({ num: o.num, gen: o.gen, body: serialize(array([...target.items, item])) });
    return;
  }
  owner.set(key, array([...(o?.kind === 'array' ? o.items : []), item]));
}

export interface FieldOptions {
  /** /Sig (a signature) or /DocTimeStamp (a document time-stamp) */
  type: 'Sig' | 'DocTimeStamp';
  subFilter: string;
  /** bytes of the /Contents placeholder */
  contentsBytes: number;
  /** further entries of the signature dictionary (/M, /Reason, …) */
  entries?: [string, PdfObject][];
  fieldName?: string;
  page?: number;
  digest: DigestName;
  appearance?: PreparedAppearance;
  /** DocMDP: the signature dictionary gets a /Reference to the DocMDP transform, the catalog /Perms /DocMDP */
  certify?: 1 | 2 | 3;
  /** FieldMDP: a /Reference to the FieldMDP transform, and the field's /Lock */
  lock?: FieldLock;
}

export interface PlacedField {
  pdf: Buffer;
  byteRange: [number, number, number, number];
  contentsAt: number;
  contentsHexLength: number;
  documentDigest: Buffer;
  fieldName: string;
}

/**
 * Appends an incremental update with an invisible signature field on a page, its signature dictionary with
 * a zero /Contents placeholder and the final /ByteRange, and the AcroForm (/SigFlags 3); digests what the
 * ByteRange covers. Shared by signatures and document time-stamps.
 */
export function appendSignatureField(input: Uint8Array, opts: FieldOptions): PlacedField {
  const original = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const doc = new PdfDocument(original);
  const next = objectNumbers(doc);
  const contentsBytes = opts.contentsBytes;
  const used = new Set(doc.fields().map((f) => f.name));
  let fieldName = opts.fieldName;
  if (fieldName && used.has(fieldName)) throw new TrucError('conflict', `the PDF already has a field named ${fieldName}`);
  for (let i = 1; !fieldName; i++) if (!used.has(`Signature${i}`)) fieldName = `Signature${i}`;

  const pages = doc.pageRefs();
  const pageIndex = opts.page ?? 0;
  const pageRef: Ref | undefined = pages[pageIndex];
  if (!pageRef) throw new TrucError('bad_request', `the PDF has no page ${pageIndex + 1}`, { pages: pages.length });

  const sigNum = next();
  const widgetNum = next();
  const entries: [string, PdfObject][] = [...(opts.entries ?? [])];
  const certifiedWith = certification(doc);
  if (opts.type === 'Sig' && certifiedWith === 1) throw new TrucError('conflict', 'the document is certified with no changes permitted (DocMDP P=1): another signature would break the certification');
  if (opts.certify) {
    if (doc.fields().some((f) => f.dict.get('FT')?.kind === 'name' && (f.dict.get('FT') as { value: string }).value === 'Sig' && f.dict.has('V')))
      throw new TrucError('conflict', 'a certification signature must be the first signature of the document');
    if (![1, 2, 3].includes(opts.certify)) throw new TrucError('bad_request', 'DocMDP permissions are 1, 2 or 3');
  }
  const references: PdfObject[] = [];
  if (opts.certify) {
    const params = dict({ Type: name('TransformParams'), P: num(opts.certify), V: name('1.2') });
    references.push(dict({ Type: name('SigRef'), TransformMethod: name('DocMDP'), TransformParams: params }));
  }
  if (opts.lock) {
    if (opts.type !== 'Sig') throw new TrucError('bad_request', 'only a signature locks fields');
    checkLock(opts.lock, [...used].map((n) => decodeTextString(Buffer.from(n, 'latin1'))));
    references.push(fieldMdpReference(opts.lock));
  }
  if (references.length) entries.push(['Reference', array(references)]);
  const placeholder = `[0 ${'0'.repeat(BR_WIDTH)} ${'0'.repeat(BR_WIDTH)} ${'0'.repeat(BR_WIDTH)}]`;
  const sigBody = Buffer.concat([
    Buffer.from(`<</Type/${opts.type}/Filter/Adobe.PPKLite/SubFilter/${opts.subFilter}/ByteRange ${placeholder}/Contents <`, 'latin1'),
    Buffer.alloc(contentsBytes * 2, '0'),
    Buffer.from('>', 'latin1'),
    serialize(dict(new Map<string, PdfObject>(entries))).subarray(2),
  ]);

  const changed: UpdateObject[] = [{ num: sigNum, gen: 0, body: sigBody }];
  // a visible signature sits where the reader sees the rectangle, upright, whatever the page's /Rotate
  const placement = opts.appearance ? pagePlacement(doc, pageRef) : undefined;
  const visible = opts.appearance && placement ? importAppearance(opts.appearance, next, placement.rotation) : undefined;
  if (visible) changed.push(...visible.objects);
  const widget = dict({
    Type: name('Annot'),
    Subtype: name('Widget'),
    FT: name('Sig'),
    T: textString(fieldName),
    V: ref(sigNum),
    F: num(132), // print, locked
    Rect: array((opts.appearance && placement ? toUserSpace(opts.appearance.rect, placement) : [0, 0, 0, 0]).map((n) => num(n))),
    P: ref(pageRef.num, pageRef.gen),
    ...(visible ? { AP: dict({ N: ref(visible.form) }) } : {}),
    ...(opts.lock ? { Lock: sigFieldLock(opts.lock) } : {}),
  });
  changed.push({ num: widgetNum, gen: 0, body: serialize(widget) });

  // the page lists the widget among its annotations
  const page = new Map(doc.dictOf(ref(pageRef.num, pageRef.gen), 'the page'));
  const annots = page.get('Annots');
  appendTo(annots, doc, ref(widgetNum), page, 'Annots', changed);
  if (annots?.kind !== 'ref') changed.push({ num: pageRef.num, gen: pageRef.gen, body: serialize(dict(page)) });

  // the AcroForm lists the field and says the document has signatures, changed by appending (SigFlags 3)
  const root = doc.rootRef;
  const catalog = new Map(doc.catalog);
  const af = catalog.get('AcroForm');
  const acro: PdfDict = af ? new Map(doc.dictOf(af, 'the AcroForm')) : new Map();
  appendTo(acro.get('Fields'), doc, ref(widgetNum), acro, 'Fields', changed);
  acro.set('SigFlags', num(3));
  let catalogChanged = false;
  if (af?.kind === 'ref') changed.push({ num: af.num, gen: af.gen, body: serialize(dict(acro)) });
  else {
    if (af) catalog.set('AcroForm', dict(acro));
    else {
      const acroNum = next();
      changed.push({ num: acroNum, gen: 0, body: serialize(dict(acro)) });
      catalog.set('AcroForm', ref(acroNum));
    }
    catalogChanged = true;
  }
  if (opts.certify) {
    const perms = catalog.get('Perms');
    const p: PdfDict = perms ? new Map(doc.dictOf(perms, 'the /Perms')) : new Map();
    p.set('DocMDP', ref(sigNum));
    if (perms?.kind === 'ref') changed.push({ num: perms.num, gen: perms.gen, body: serialize(dict(p)) });
    else {
      catalog.set('Perms', dict(p));
      catalogChanged = true;
    }
  }
  if (catalogChanged) changed.push({ num: root.num, gen: root.gen, body: serialize(dict(catalog)) });

  const { bytes, offsets } = appendUpdate(doc, changed);
  const sigAt = offsets.get(sigNum)!;
  const brAt = bytes.indexOf('/ByteRange [', sigAt, 'latin1') + '/ByteRange '.length;
  const contentsAt = bytes.indexOf('/Contents <', sigAt, 'latin1') + '/Contents <'.length;
  const contentsEnd = contentsAt + contentsBytes * 2 + 1;
  const byteRange: [number, number, number, number] = [0, contentsAt - 1, contentsEnd, bytes.length - contentsEnd];
  const brText = `[${byteRange.join(' ')}]`;
  if (brText.length > placeholder.length) throw new TrucError('too_large', 'the PDF is too large for the ByteRange placeholder');
  bytes.write(brText.slice(0, -1) + ' '.repeat(placeholder.length - brText.length) + ']', brAt, 'latin1');

  const h = createHash(opts.digest);
  h.update(bytes.subarray(0, byteRange[1]));
  h.update(bytes.subarray(byteRange[2], byteRange[2] + byteRange[3]));
  const documentDigest = h.digest();
  return { pdf: bytes, byteRange, contentsAt, contentsHexLength: contentsBytes * 2, documentDigest, fieldName };
}

export function preparePdf(input: Uint8Array, identity: SignerIdentity, opts: PadesOptions = {}): PreparedPdf {
  const digest = digestFor(identity.scheme);
  const when = opts.signingTime ?? new Date();
  // /Contents sized from a CMS with a signature of the longest length the key gives
  const dummyAttrs = signedAttributes({ certificate: identity.certificate, messageDigest: Buffer.alloc(createHash(digest).digest().length) });
  const cmsMax = signedData({ identity, digest, signedAttrs: dummyAttrs, signature: Buffer.alloc(maxSignatureLength(identity.certificate)) }).length;
  const entries: [string, PdfObject][] = [['M', str(pdfDate(when, opts.utcOffsetMinutes ?? 420))]];
  if (opts.reason) entries.push(['Reason', textString(opts.reason)]);
  if (opts.location) entries.push(['Location', textString(opts.location)]);
  if (opts.contactInfo) entries.push(['ContactInfo', textString(opts.contactInfo)]);
  const placed = appendSignatureField(input, {
    type: 'Sig',
    subFilter: 'ETSI.CAdES.detached',
    contentsBytes: cmsMax + MARGIN + (opts.reserve ?? 0),
    entries,
    fieldName: opts.fieldName,
    page: opts.page,
    digest,
    ...(opts.appearance ? { appearance: opts.appearance } : {}),
    ...(opts.certify ? { certify: opts.certify } : {}),
    ...(opts.lock ? { lock: opts.lock } : {}),
  });
  return {
    ...placed,
    digest,
    signedAttributes: signedAttributes({ certificate: identity.certificate, messageDigest: placed.documentDigest }),
    identity,
  };
}
