/**
 * Finds the signatures of a PDF and what each covers: the signature fields of the AcroForm with their
 * signature dictionaries (/ByteRange, /Contents, /SubFilter, /M), the ByteRange checked to be the whole
 * revision it signs minus exactly the /Contents string, the CMS read out of /Contents (DER or BER, its
 * zero padding dropped), a digest function over the covered bytes for the CMS check, and the revisions appended
 * after: a later revision that ends where another signature's coverage ends is that signature's update;
 * any other is content added after signing. DocMDP certifications and FieldMDP field locks are checked
 * against those later revisions.
 */
import { createHash } from 'node:crypto';
import { berElementEnd } from '../cms/ber.js';
import type { DigestAlgorithm } from '../cms/signature-value.js';
import { stringDecrypter } from '../pdf/decrypt.js';
import { PdfDocument } from '../pdf/document.js';
import { decodeTextString, serialize, type PdfObject } from '../pdf/objects.js';
import { Lexer } from '../pdf/parse.js';
import { MAX_PDF_REVISIONS, MAX_PDF_SIGNATURES } from '../pdf/limits.js';
import { TrucError } from '../../errors.js';
import { changesAfter, docMdpOf, mdpViolations, permsDocMdp, type MdpPermission, type RevisionCache } from './docmdp.js';
import { fieldMdpOf, lockViolations, type FieldLock } from './fieldmdp.js';

export interface PdfSignature {
  fieldName: string;
  subFilter?: string;
  /** /M, as written */
  m?: string;
  /** /M read as a date */
  claimedSigningTime?: Date;
  reason?: string;
  byteRange: number[];
  /** why the ByteRange or /Contents cannot be trusted, when it cannot */
  formatProblem?: string;
  /** the CMS from /Contents, zero padding removed */
  cms?: Buffer;
  /** digest of the covered bytes */
  digestOf: (d: DigestAlgorithm) => Buffer;
  coverEnd: number;
  coversWholeFile: boolean;
  modifiedAfter: boolean;
  /** changes after the signature other than validation data, document time-stamps, signatures and form fills */
  changesAfter: string[];
  /**
   * the changes after the signature that alter objects of the revision it signed (a page's content, the page
   * tree, the catalog, a signature dictionary): more than DocMDP P=3 would permit — filling in, signing,
   * annotating, adding validation data. What the signer signed is no longer what the file shows.
   */
  alteredAfter: string[];
  laterSignatures: number;
  /** a certification signature (DocMDP): its permissions, and the later changes they do not allow */
  certification?: { permissions: MdpPermission; violations: string[] };
  /** internal: the certification's P, read from the signed /Reference */
  docMdp?: MdpPermission;
  /** a FieldMDP lock in the signed /Reference, and the later changes to locked fields */
  fieldLock?: FieldLock & { violations: string[] };
}

/** A PDF date D:YYYYMMDDHHmmSS+HH'mm' (fields after the year optional). */
export function parsePdfDate(s: string): Date | undefined {
  const m = /^D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:([+-Z])(\d{2})?'?(\d{2})?'?)?/.exec(s);
  if (!m) return undefined;
  const [, y, mo = '01', d = '01', h = '00', mi = '00', se = '00', sign, oh = '00', om = '00'] = m;
  const utc = Date.UTC(+y, +mo - 1, +d, +h, +mi, +se);
  const off = sign === '+' || sign === '-' ? (sign === '+' ? 1 : -1) * (+oh * 60 + +om) : 0;
  return new Date(utc - off * 60_000);
}

/** Offsets just past each `%%EOF` marker (and its end of line): where each revision of the file ends. */
function revisionEnds(bytes: Buffer): number[] {
  const out: number[] = [];
  let at = bytes.indexOf('%%EOF', 0, 'latin1');
  while (at >= 0) {
    let end = at + 5;
    if (bytes[end] === 0x0d) end++;
    if (bytes[end] === 0x0a) end++;
    out.push(end);
    at = bytes.indexOf('%%EOF', at + 5, 'latin1');
  }
  return out;
}

/**
 * The revisions after `coverEnd` that may change content, as `{ start, end }` (`start`: the end of the
 * revision before it; `ends`: the file's revision ends): revisions of only whitespace and DSS revisions
 * (validation data) are passed over. DocMDP and FieldMDP judge each of them.
 */
export function contentRevisions(bytes: Buffer, coverEnd: number, ends: number[]): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let prevEnd = coverEnd;
  for (const end of ends.filter((e) => e > coverEnd)) {
    if (bytes.subarray(prevEnd, end).every((c) => c === 0x0a || c === 0x0d || c === 0x20 || c === 0x09)) continue;
    if (!isDssRevision(bytes, prevEnd, end)) out.push({ start: prevEnd, end });
    prevEnd = end;
  }
  return out;
}

/**
 * Whether the revision ending at `end` (after the one ending at `prevEnd`) only adds validation data: every
 * object it writes is the DSS, something reachable from the DSS, its own cross-reference stream, or the
 * catalog with nothing changed but /DSS. Such a revision (PAdES B-LT) is not a change of content.
 */
const dssRevisions = new WeakMap<Buffer, Map<string, boolean>>();

export function isDssRevision(bytes: Buffer, prevEnd: number, end: number): boolean {
  // asked for each signature about every revision after it: answered once per file and revision
  let known = dssRevisions.get(bytes);
  if (!known) dssRevisions.set(bytes, (known = new Map()));
  const key = `${prevEnd}-${end}`;
  const hit = known.get(key);
  if (hit !== undefined) return hit;
  const answer = dssRevisionUncached(bytes, prevEnd, end);
  known.set(key, answer);
  return answer;
}

function dssRevisionUncached(bytes: Buffer, prevEnd: number, end: number): boolean {
  try {
    const before = new PdfDocument(bytes.subarray(0, prevEnd));
    const after = new PdfDocument(bytes.subarray(0, end));
    const dss = after.catalog.get('DSS');
    if (!dss) return false;
    const allowed = new Set<number>();
    const stack: { o: PdfObject; depth: number }[] = [{ o: dss, depth: 0 }];
    while (stack.length) {
      const { o, depth } = stack.pop()!;
      if (depth > 4 || allowed.size > 2000) return false;
      if (o.kind === 'ref') {
        if (allowed.has(o.num)) continue;
        allowed.add(o.num);
        const v = after.get(o.num);
        if (v.kind !== 'stream') stack.push({ o: v, depth: depth + 1 });
      } else if (o.kind === 'array') for (const i of o.items) stack.push({ o: i, depth: depth + 1 });
      else if (o.kind === 'dict') for (const v of o.entries.values()) stack.push({ o: v, depth: depth + 1 });
    }
    const root = after.rootRef.num;
    for (const [n, e] of after.xref.entries) {
      const old = before.xref.entries.get(n);
      if (old && JSON.stringify(old) === JSON.stringify(e)) continue;
      if (allowed.has(n)) continue;
      if (n === root) {
        const a = new Map(after.catalog);
        const b = new Map(before.catalog);
        a.delete('DSS');
        b.delete('DSS');
        if (a.size !== b.size || [...a].some(([k, v]) => !b.has(k) || !serialize(v).equals(serialize(b.get(k)!)))) return false;
        continue;
      }
      const v = after.get(n);
      if (v.kind === 'stream' && v.dict.get('Type')?.kind === 'name' && (v.dict.get('Type') as { value: string }).value === 'XRef') continue;
      return false;
    }
    return true;
  } catch {
    return false;
  }
}

const isBlank = (b: Buffer) => b.every((c) => c === 0x0a || c === 0x0d || c === 0x20 || c === 0x09 || c === 0x00);

export function readPdfSignatures(pdf: Uint8Array): PdfSignature[] {
  // the file as the reader reads it: from the %PDF- header on when junk precedes it (see PdfDocument)
  const doc = new PdfDocument(Buffer.from(pdf.buffer, pdf.byteOffset, pdf.byteLength));
  const bytes = doc.bytes;
  const found: PdfSignature[] = [];
  // an encrypted file (standard handler, empty user password): names, /M and /Reason are shown decrypted
  const decrypt = stringDecrypter(doc);
  const fields = doc.fields(decrypt);
  for (const f of fields) {
    const ft = f.dict.get('FT');
    if (ft?.kind !== 'name' || ft.value !== 'Sig') continue;
    const v = f.dict.get('V');
    if (!v) continue;
    const sig = doc.dictOf(v, `the signature of field ${f.name}`);
    const plain = (b: Buffer) => (decrypt && v.kind === 'ref' ? decrypt(b, v.num, v.gen) : b);
    const text = (o: PdfObject | undefined) => (o?.kind === 'str' ? decodeTextString(plain(o.bytes)) : undefined);
    const sf = sig.get('SubFilter');
    const br = doc.resolve(sig.get('ByteRange'));
    const byteRange = br?.kind === 'array' ? br.items.map((x) => (x.kind === 'num' ? x.value : NaN)) : [];
    const m = text(sig.get('M'));
    const mdp = docMdpOf(doc, sig);
    const lock = fieldMdpOf(doc, sig);
    const s: PdfSignature = {
      ...(mdp ? { docMdp: mdp } : {}),
      ...(lock ? { fieldLock: { ...lock, violations: [] } } : {}),
      fieldName: decodeTextString(Buffer.from(f.name, 'latin1')),
      subFilter: sf?.kind === 'name' ? sf.value : undefined,
      ...(m ? { m, claimedSigningTime: parsePdfDate(m) } : {}),
      reason: text(sig.get('Reason')),
      byteRange,
      digestOf: () => Buffer.alloc(0),
      coverEnd: 0,
      coversWholeFile: false,
      modifiedAfter: false,
      changesAfter: [],
      alteredAfter: [],
      laterSignatures: 0,
    };
    const [a, b, c, d] = byteRange;
    if (byteRange.length !== 4 || byteRange.some((x) => !Number.isInteger(x) || x < 0) || a !== 0 || b >= c || c + d > bytes.length) {
      s.formatProblem = 'the ByteRange is not [0 a b c] inside the file';
    } else if (bytes[b] !== 0x3c || bytes[c - 1] !== 0x3e) {
      s.formatProblem = 'the ByteRange gap is not exactly the /Contents string';
    } else {
      // /Contents as the gap holds it: the hex string the ByteRange leaves out, and nothing else
      const lx = new Lexer(bytes, b, c);
      const tok = lx.next();
      const contents = sig.get('Contents');
      if (tok.t !== 'str' || lx.pos !== c || contents?.kind !== 'str' || !tok.bytes.equals(contents.bytes)) s.formatProblem = 'the ByteRange gap is not the /Contents of this signature';
      else {
        try {
          // the CMS, DER or BER (indefinite lengths end where their end-of-contents says), then zero padding
          s.cms = Buffer.from(tok.bytes.subarray(0, berElementEnd(tok.bytes, 0, 'CMS')));
        } catch (e) {
          s.formatProblem = `/Contents is neither DER nor BER: ${(e as Error).message}`;
        }
      }
      s.coverEnd = c + d;
      s.digestOf = (dg) => createHash(dg).update(bytes.subarray(0, b)).update(bytes.subarray(c, c + d)).digest();
    }
    found.push(s);
  }
  const ends = revisionEnds(bytes);
  // each signature is validated, and each revision after it compared with the one before: bounded work
  if (found.length > MAX_PDF_SIGNATURES) throw new TrucError('too_large', `the PDF has ${found.length} signatures; at most ${MAX_PDF_SIGNATURES} are validated in one file`);
  if (found.length && ends.length > MAX_PDF_REVISIONS) throw new TrucError('too_large', `the PDF has ${ends.length} revisions; a signed file of at most ${MAX_PDF_REVISIONS} is validated`);
  const covers = new Set(found.map((s) => s.coverEnd).filter((e) => e > 0));
  const docTsEnds = new Set(found.filter((x) => x.subFilter === 'ETSI.RFC3161').map((x) => x.coverEnd));
  const cache: RevisionCache = new Map();
  for (const s of found) {
    if (!s.coverEnd) continue;
    const rest = bytes.subarray(s.coverEnd);
    s.coversWholeFile = isBlank(rest);
    const later = ends.filter((e) => e > s.coverEnd && !isBlank(bytes.subarray(s.coverEnd, e)));
    s.laterSignatures = later.filter((e) => covers.has(e)).length;
    const lastEnd = ends[ends.length - 1] ?? 0;
    const prevOf = (e: number) => ends.filter((x) => x < e).pop() ?? 0;
    s.changesAfter = changesAfter(bytes, s.coverEnd, ends, docTsEnds, cache);
    // the revisions are classified once (cache): judging them against P=3 as well costs no second read
    s.alteredAfter = mdpViolations(bytes, s.coverEnd, 3, ends, docTsEnds, cache);
    if (!s.coversWholeFile && !isBlank(bytes.subarray(Math.max(lastEnd, s.coverEnd)))) s.changesAfter.push('bytes were appended after the last revision');
    // a later signature's revision may carry other changes too: those count as content changed after signing
    s.modifiedAfter = later.some((e) => !covers.has(e) && !isDssRevision(bytes, prevOf(e), e)) || s.changesAfter.length > 0;
    if (s.fieldLock) s.fieldLock.violations = lockViolations(bytes, s.coverEnd, s.fieldLock, ends);
    if (s.docMdp) {
      const violations = mdpViolations(bytes, s.coverEnd, s.docMdp, ends, docTsEnds, cache);
      if (!s.coversWholeFile && !isBlank(bytes.subarray(Math.max(lastEnd, s.coverEnd)))) violations.push('bytes were appended after the last revision');
      // the certified revision's catalog must name this signature in /Perms /DocMDP (a first signature only)
      const certified = new PdfDocument(bytes.subarray(0, s.coverEnd));
      const v = fields.find((f) => decodeTextString(Buffer.from(f.name, 'latin1')) === s.fieldName)?.dict.get('V');
      if (v?.kind !== 'ref' || permsDocMdp(certified) !== v.num) violations.push('the catalog /Perms /DocMDP of the certified revision does not name this signature');
      if (found.some((o) => o !== s && o.coverEnd > 0 && o.coverEnd < s.coverEnd)) violations.push('a certification signature must be the first signature of the document');
      s.certification = { permissions: s.docMdp, violations };
    }
  }
  return found;
}
