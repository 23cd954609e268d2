/**
 * Validation of XAdES and plain XML-DSig signatures — enveloped, enveloping, detached, and references to
 * elements anywhere in the document (e-invoices, tax notices) — (EN 319 132-1 B-B, B-T, B-LT, B-LTA) after
 * EN 319 102-1. The XML-DSig core is our own (`xades/dsig`): each ds:Reference dereferenced and transformed
 * as the specification says and digested, SignedInfo canonicalised, the signature value verified with the
 * signing certificate's key only (not any key KeyInfo happens to carry). Each reference is reported with what
 * it covers (`signedData`), so the user sees what the signature really signs. A digest that does not hold is
 * HASH_FAILURE and a value that does not verify SIG_CRYPTO_FAILURE — proven; what we cannot compute (an
 * algorithm or transform we lack, content not at hand) is INDETERMINATE with the reason.
 * SigningCertificateV2 must name the KeyInfo certificate by digest and be signed; the signer then goes through
 * the same path validation as CAdES and PAdES signers, and its algorithms through the algorithm policy.
 * SignatureTimeStamps (over the exclusive canonical SignatureValue) give the proof of existence;
 * CertificateValues and RevocationValues (and the TimeStampValidationData of renewals) serve offline.
 * Archive time-stamps have their imprint recomputed over the signature and the properties before each
 * (`xades/archive.ts`, with the detached content when there is one), newest first, each valid one a proof of
 * existence of what it covers — the earlier archive time-stamps included. The XAdES-C/X references to
 * validation data (CompleteCertificateRefs, CompleteRevocationRefs) are each matched against the values at hand
 * and the revocation data validation judged the signer's and TSAs' paths with, fetched ones included (`xades/refs.ts`) and reported; one that matches nothing is a warning, never the verdict. The XAdES-X time-stamps
 * (SigAndRefsTimeStamp, RefsOnlyTimeStamp, v1 and V2, explicit or with xades:Include) have their imprint recomputed (`xades/extended.ts`) and are
 * verified as the others; a valid SigAndRefsTimeStamp is a proof of existence of the signature and its signature
 * time-stamps, either kind one of the references (reported on each, `poe`). Data-object time-stamps
 * (AllDataObjectsTimeStamp, IndividualDataObjectsTimeStamp with its xades:Include list) have their imprint
 * recomputed over the data of the references they cover (`xades/data-timestamps.ts`): a valid one is a proof of
 * existence of that data, reported on each reference it covers (`poe`); an invalid one is a warning, as a CAdES
 * content time-stamp is.
 *
 * Signature wrapping is judged on coverage (`xades/dsig/wrapping.ts`), not on the references' shape: an Id
 * borne by two elements, signed content wrapped in or standing beside unsigned content of its own kind, are
 * FORMAT_FAILURE; every shape the specification allows is read.
 */
import { createHash } from 'node:crypto';
import { isTrucError } from '../../errors.js';
import { parseCertificate, type Certificate, type RevocationEvidence } from '../../pki/path/index.js';
import type { CmsSigner } from '../cades/verify.js';
import { parseXml, readXml, type ReadXmlOptions } from '../xades/parse.js';
import type { SignatureReport, SignedReference, TimestampReport, ValidationReport } from './report.js';
import { readXadesUnsigned, signatureValueOctets } from '../xades/levels.js';
import { archiveTimeStampInput } from '../xades/archive.js';
import { includedTimeStampInput, xTimeStampInput } from '../xades/extended.js';
import { dataObjectTimeStampInput, MAX_DATA_OBJECT_TIMESTAMPS, readDataObjectTimeStamps, timeStampedReferences } from '../xades/data-timestamps.js';
import { verifyCore, type CoreResult, type ReferenceResult } from '../xades/dsig/verify.js';
import { idIndex } from '../xades/dsig/reference.js';
import { wrappingProblem } from '../xades/dsig/wrapping.js';
import { checkValidationDataRefs } from '../xades/refs.js';
import { isDetachedUri, resolveDetached, type DetachedInput, type DetachedResolution } from '../xades/detached.js';
import { verifyTimeStamp } from '../timestamp/verify.js';
import { timestampReport, withCarried, type Carried } from './timestamps.js';
import { validateSigner, type ValidationOptions } from './signer.js';
import { note, withNotes, type ReportNote } from './notes.js';

const DS = 'http://www.w3.org/2000/09/xmldsig#';
const XADES = 'http://uri.etsi.org/01903/v1.3.2#';
const MAX_SIGNATURES = 50;
const MAX_ARCHIVE_TIMESTAMPS = 32;

const DIGESTS: Record<string, string> = {
  'http://www.w3.org/2000/09/xmldsig#sha1': 'sha1',
  'http://www.w3.org/2001/04/xmldsig-more#sha224': 'sha224',
  'http://www.w3.org/2001/04/xmlenc#sha256': 'sha256',
  'http://www.w3.org/2001/04/xmldsig-more#sha384': 'sha384',
  'http://www.w3.org/2001/04/xmlenc#sha512': 'sha512',
  'http://www.w3.org/2007/05/xmldsig-more#sha3-256': 'sha3-256',
  'http://www.w3.org/2007/05/xmldsig-more#sha3-384': 'sha3-384',
  'http://www.w3.org/2007/05/xmldsig-more#sha3-512': 'sha3-512',
};

const elements = (root: Document | Element, ns: string, local: string): Element[] => Array.from(root.getElementsByTagNameNS(ns, local) as unknown as ArrayLike<Element>);
const childElements = (el: Element, ns: string, local: string): Element[] =>
  Array.from(el.childNodes as unknown as ArrayLike<Node>).filter((n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === local);
const text = (el: Element | undefined): string => (el?.textContent ?? '').replace(/\s+/g, '');

/** A reference as the report shows it: what it covers and whether its digest holds. */
function signedReference(r: ReferenceResult): SignedReference {
  return {
    uri: r.uri,
    ...(r.type ? { type: r.type } : {}),
    digestMatches: r.digestMatches,
    ...(r.problem ? { problem: r.problem } : {}),
    ...(r.coverage ? { covers: r.coverage.covers, excludes: r.coverage.excludes, wholeDocument: r.coverage.wholeDocument } : {}),
    ...(r.detached ? { detached: true } : {}),
    ...(r.manifest ? { manifest: r.manifest.map(signedReference) } : {}),
  };
}

const referencesOf = (sig: Element): Element[] => {
  const signedInfo = childElements(sig, DS, 'SignedInfo')[0];
  return signedInfo ? childElements(signedInfo, DS, 'Reference') : [];
};

/**
 * The signing certificate's binding: SigningCertificateV2 (EN 319 132-1), or the SigningCertificate of XAdES
 * 1.3.2/1.4.1 that many producers still write (a digest, often SHA-1, and the issuer and serial) — a
 * certificate named by digest, inside what a reference of the signature covers (the SignedProperties), or
 * it binds nothing. The v1 form is accepted with a note: its SHA-1 digest identifies, it does not protect.
 */
function signingCertificateRef(sig: Element, cert: Certificate, core: CoreResult, notes: ReportNote[]): 'ok' | 'mismatch' | 'absent' | 'unsigned' {
  const v2 = elements(sig, XADES, 'SigningCertificateV2')[0];
  const v1 = v2 ? undefined : elements(sig, XADES, 'SigningCertificate')[0];
  const sc = v2 ?? v1;
  if (!sc) return 'absent';
  if (!core.references.some((r) => r.digestMatches !== false && r.coverage?.has(sc))) return 'unsigned';
  for (const c of childElements(sc, XADES, 'Cert')) {
    const cd = childElements(c, XADES, 'CertDigest')[0];
    if (!cd) continue;
    const alg = DIGESTS[childElements(cd, DS, 'DigestMethod')[0]?.getAttribute('Algorithm') ?? ''];
    const value = text(childElements(cd, DS, 'DigestValue')[0]);
    if (!alg || (v2 && alg === 'sha1') || createHash(alg).update(cert.der).digest('base64') !== value) continue;
    if (v1) {
      // IssuerSerial, when it is there, must name the same certificate (the serial; the issuer's spelling varies)
      const serial = text(childElements(childElements(c, XADES, 'IssuerSerial')[0] ?? c, DS, 'X509SerialNumber')[0]);
      if (serial && /^\d+$/.test(serial) && BigInt(serial) !== BigInt(`0x${cert.serialHex || '0'}`)) return 'mismatch';
      notes.push(note('SIGNING_CERTIFICATE_XADES_V1', { digest: alg }));
    }
    return 'ok';
  }
  return 'mismatch';
}

function emptyChecks(): SignatureReport['checks'] {
  return { integrity: null, signatureValue: null, signingCertificateReference: null, certificateChain: null, certificateValidAtSigningTime: null };
}

export async function validateXades(input: Uint8Array | string, opts: ValidationOptions & { content?: DetachedInput }): Promise<ValidationReport> {
  const report = await validateRead(input, opts, {});
  // windows-1258 is read in Normalization Form C (Canonical XML 1.0 §2.1, as xmlsec1 reads it); a signer whose
  // decoder kept a letter and its tone mark apart digested the two characters: a digest broken in NFC is tried again
  // on the document as decoded, and that reading is the signature's when its digests hold there
  if (typeof input === 'string' || !readXml(input).encoding.composed || !report.signatures.some((s) => s.subIndication === 'HASH_FAILURE')) return withNotes(report);
  const again = await validateRead(input, opts, { asDecoded: true });
  report.signatures = report.signatures.map((s, i) => {
    const other = again.signatures[i];
    if (s.subIndication !== 'HASH_FAILURE' || !other || other.index !== s.index || other.checks.integrity !== true) return s;
    return { ...other, notes: [...(other.notes ?? []), note('WINDOWS_1258_AS_DECODED')] };
  });
  return withNotes(report);
}

async function validateRead(input: Uint8Array | string, opts: ValidationOptions & { content?: DetachedInput }, reading: ReadXmlOptions): Promise<ValidationReport> {
  const at = opts.at ?? new Date();
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
  const report: ValidationReport = {
    validationTime: at.toISOString(),
    document: { kind: 'xml', bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') },
    signatures: [],
  };
  const failed = (index: number, message: string, extra: Partial<SignatureReport> = {}): SignatureReport => ({
    index,
    format: 'XAdES',
    level: 'unknown',
    indication: 'TOTAL-FAILED',
    subIndication: 'FORMAT_FAILURE',
    message,
    checks: emptyChecks(),
    certificatePath: [],
    warnings: [],
    notes: [],
    ...extra,
  });
  let doc: Document;
  try {
    doc = parseXml(bytes, reading);
  } catch (e) {
    if (!isTrucError(e)) throw e;
    report.signatures.push(failed(0, e.message));
    return report;
  }
  const sigs = elements(doc, DS, 'Signature');
  if (sigs.length > MAX_SIGNATURES) {
    report.signatures.push(failed(0, `more than ${MAX_SIGNATURES} signatures`));
    return report;
  }
  const ids = idIndex(doc);
  // the XML-DSig core of every signature first: what each covers judges the others' wrapping
  type Read = { cert?: Certificate; certs: Buffer[]; core: CoreResult; detached: DetachedResolution } | { problem: string };
  const read: Read[] = sigs.map((sig) => {
    const certs = elements(sig, DS, 'X509Certificate').map((c) => Buffer.from(text(c), 'base64'));
    let cert: Certificate | undefined;
    try {
      cert = certs[0] ? parseCertificate(certs[0]) : undefined;
    } catch (e) {
      return { problem: `the KeyInfo certificate cannot be read: ${(e as Error).message}` };
    }
    // the detached documents the caller gives, each matched to the reference that names it (or has its digest)
    const detached = resolveDetached(opts.content, referencesOf(sig));
    return { cert, certs, core: verifyCore(doc, sig, ids, cert?.spki, detached.content), detached };
  });
  const allCoverage = read.flatMap((r) => ('core' in r ? r.core.references.flatMap((x) => (x.coverage ? [x.coverage] : [])) : []));
  for (const [index, sig] of sigs.entries()) {
    const one = read[index];
    if ('problem' in one) {
      report.signatures.push(failed(index, one.problem));
      continue;
    }
    const { cert, certs, core, detached } = one;
    const refElements = referencesOf(sig);
    const signedData = core.references.map((r, i) => {
      const m = refElements[i] ? detached.matches.get(refElements[i]) : undefined;
      return { ...signedReference(r), ...(m ? { file: m.file, matchedBy: m.by } : {}) };
    });
    const warnings: ReportNote[] = [];
    const unused = detached.unused();
    if (unused.length && refElements.some((r) => isDetachedUri(r.getAttribute('URI'))))
      warnings.push(note('CONTENT_UNMATCHED', { files: unused.join(', ') }));
    for (const r of core.references)
      for (const m of r.manifest ?? [])
        if (m.digestMatches !== true) warnings.push(note('MANIFEST_REFERENCE_UNCHECKED', { uri: m.uri ?? '(no URI)', problem: m.problem ?? 'not checked' }));
    const malformed = core.references.find((r) => r.malformed);
    const wrapping = malformed ? `signature wrapping defence: ${malformed.problem}` : (() => {
      const own = core.references.flatMap((r) => (r.coverage && r.digestMatches !== false ? [r.coverage] : []));
      const problem = wrappingProblem(doc, own, allCoverage);
      return problem ? `signature wrapping defence: ${problem}` : undefined;
    })();
    if (wrapping) {
      // the digests and the value are still reported: the signature may hold, the document deceives
      const checks = { ...emptyChecks(), integrity: core.references.every((r) => r.digestMatches === true) ? true : core.references.some((r) => r.digestMatches === false) ? false : null, signatureValue: core.signatureValue };
      report.signatures.push(failed(index, wrapping, { checks, signedData, notes: warnings }));
      continue;
    }
    const signingTimeText = elements(sig, XADES, 'SigningTime')[0]?.textContent?.trim();
    const signingTime = signingTimeText && !Number.isNaN(Date.parse(signingTimeText)) ? new Date(signingTimeText) : undefined;
    // integrity: a digest that does not hold is proven; one we could not compute leaves the question open
    const broken = core.references.filter((r) => r.digestMatches === false);
    const unsupportedRef = core.references.find((r) => r.digestMatches === null && r.unsupported);
    const missing = core.references.find((r) => r.digestMatches === null && !r.unsupported);
    const digestMatches = broken.length ? false : unsupportedRef || missing ? undefined : true;
    const signatureValid = core.signatureValue === true;
    let unsupportedAlgorithm: string | undefined;
    let why: string | undefined;
    if (core.signatureValue === null && core.signatureUnsupported) why = core.signatureProblem;
    else if (unsupportedRef && core.signatureValue !== false) why = unsupportedRef.problem;
    if (why) unsupportedAlgorithm = why.replace(/ is not supported$/, '');
    const signingCertificate = cert ? signingCertificateRef(sig, cert, core, warnings) : 'absent';
    if (signingCertificate === 'unsigned') warnings.push(note('SIGNING_CERTIFICATE_UNSIGNED'));
    // the digests the signature relies on, for the algorithm policy: SignatureMethod's, then each Reference's
    const signedInfo = childElements(sig, DS, 'SignedInfo')[0];
    const hashOf = (uri: string | null | undefined): string => DIGESTS[uri ?? ''] ?? /#(?:[a-z-]+-)?(sha(?:1|224|256|384|512))(?:-|$)/.exec(uri ?? '')?.[1] ?? uri ?? '(none)';
    // the core's reading first: RSA-PSS names its digest in RSAPSSParams, not in the URI
    const methodDigest = core.signatureHash ?? hashOf(childElements(signedInfo, DS, 'SignatureMethod')[0]?.getAttribute('Algorithm'));
    const refDigests = childElements(signedInfo, DS, 'Reference').map((r) => hashOf(childElements(r, DS, 'DigestMethod')[0]?.getAttribute('Algorithm')));
    const signer: CmsSigner = {
      digest: (['sha256', 'sha384', 'sha512'].includes(methodDigest) ? methodDigest : 'sha256') as CmsSigner['digest'],
      otherDigests: [methodDigest, ...refDigests],
      certificate: cert,
      ...(signingTime ? { signingTime } : {}),
      contentType: 'xml',
      digestMatches,
      signingCertificate: signingCertificate === 'unsigned' ? 'absent' : signingCertificate,
      signatureValid,
      ...(core.signatureProblem ? { signatureProblem: core.signatureProblem } : {}),
      ...(unsupportedAlgorithm ? { unsupportedAlgorithm } : {}),
      signedAttributes: [],
      unsignedAttributes: new Map(),
      signatureValue: Buffer.from(text(childElements(sig, DS, 'SignatureValue')[0]), 'base64'),
    };
    // B-T / B-LT: signature time-stamps over the canonical SignatureValue, carried validation data
    const unsigned = readXadesUnsigned(sig);
    if (unsigned.archives.length > MAX_ARCHIVE_TIMESTAMPS) {
      // each one canonicalises the whole document again: bounded work on hostile input
      report.signatures.push(failed(index, `more than ${MAX_ARCHIVE_TIMESTAMPS} archive time-stamps`));
      continue;
    }
    if (unsigned.others.length) warnings.push(note('UNSIGNED_PROPERTIES_NOT_VALIDATED', { names: unsigned.others.join(', ') }));
    const carried: Carried = { certs: unsigned.certs, crls: unsigned.crls, ocsps: unsigned.ocsps };
    const tctx = withCarried({ ...opts, at }, carried);
    tctx.intermediates.push(...certs);
    // the revocation data validation judges the signer's and the TSAs' paths with, fetched ones included
    const used: RevocationEvidence[] = [];
    const tsaPaths: Buffer[] = [];
    // B-LTA: archive time-stamps, newest first — a valid later one proves the earlier ones existed when it was made
    const archiveReports: TimestampReport[] = [];
    let later: Date | undefined;
    let archivePoe: Date | undefined;
    for (const a of [...unsigned.archives].reverse()) {
      let input: Buffer;
      try {
        input = archiveTimeStampInput(doc, sig, a.element, a.c14n, detached.content);
      } catch (e) {
        if (!isTrucError(e)) throw e;
        archiveReports.unshift({ type: 'archive', valid: false, failure: 'FORMAT_FAILURE', problem: e.message, sha256: createHash('sha256').update(a.token).digest('hex') });
        continue;
      }
      const c = await verifyTimeStamp(a.token, (h) => createHash(h).update(input).digest(), { trustAnchors: opts.trustAnchors, at, ...tctx, ...(later ? { poe: later } : {}) });
      archiveReports.unshift(timestampReport('archive', c, undefined, a.token));
      used.push(...(c.revocationEvidence ?? []));
      tsaPaths.push(...c.tsaPath);
      if (c.valid && c.genTime) {
        later = c.genTime;
        if (!archivePoe || c.genTime < archivePoe) archivePoe = c.genTime;
      }
    }
    // XAdES-X: SigAndRefsTimeStamp(V2) over the signature value, its time-stamps and the references; RefsOnlyTimeStamp(V2)
    // over the references alone — a valid one is a proof of existence of what it covers (EU DSS), an archive
    // time-stamp after it one of the token itself
    const xReports: TimestampReport[] = [];
    let sigAndRefsPoe: Date | undefined;
    let refsPoe: Date | undefined;
    for (const x of unsigned.xTimestamps) {
      const sha256 = createHash('sha256').update(x.token).digest('hex');
      let input: Buffer;
      try {
        // the distributed form names its inputs with xades:Include
        input = x.distributed ? includedTimeStampInput(sig, unsigned.properties!, x.element, x.kind, x.c14n) : xTimeStampInput(sig, unsigned.properties!, x.kind, x.c14n);
      } catch (e) {
        if (!isTrucError(e)) throw e;
        xReports.push({ type: x.kind, valid: false, failure: 'FORMAT_FAILURE', problem: `${x.name}: ${e.message}`, sha256 });
        continue;
      }
      const c = await verifyTimeStamp(x.token, (h) => createHash(h).update(input).digest(), { trustAnchors: opts.trustAnchors, at, ...tctx, ...(archivePoe ? { poe: archivePoe } : {}) });
      xReports.push(timestampReport(x.kind, c, undefined, x.token));
      used.push(...(c.revocationEvidence ?? []));
      tsaPaths.push(...c.tsaPath);
      if (c.valid && c.genTime) {
        if (!refsPoe || c.genTime < refsPoe) refsPoe = c.genTime;
        if (x.kind === 'sig-and-refs' && (!sigAndRefsPoe || c.genTime < sigAndRefsPoe)) sigAndRefsPoe = c.genTime;
      }
    }
    // what proves the signature time-stamps existed: a SigAndRefsTimeStamp or an archive time-stamp over them
    const stampsPoe = [sigAndRefsPoe, archivePoe].reduce<Date | undefined>((a, b) => (!a ? b : b && b < a ? b : a), undefined);
    const stamps: TimestampReport[] = [];
    let poe: Date | undefined;
    for (const t of unsigned.timestamps) {
      let octets: Buffer;
      try {
        octets = signatureValueOctets(sig, t.c14n);
      } catch (e) {
        if (!isTrucError(e)) throw e;
        stamps.push({ type: 'signature', valid: false, failure: 'FORMAT_FAILURE', problem: e.message });
        continue;
      }
      const c = await verifyTimeStamp(t.token, (h) => createHash(h).update(octets).digest(), { trustAnchors: opts.trustAnchors, at, ...tctx, ...(stampsPoe ? { poe: stampsPoe } : {}) });
      stamps.push(timestampReport('signature', c, undefined, t.token));
      used.push(...(c.revocationEvidence ?? []));
      tsaPaths.push(...c.tsaPath);
      if (c.valid && c.genTime && (!poe || c.genTime < poe)) poe = c.genTime;
    }
    if (stampsPoe && (!poe || stampsPoe < poe)) poe = stampsPoe;
    // data-object time-stamps (signed properties, taken before signing): each over the data of the references it
    // covers — a proof of existence of that data; the signature's proof of existence is one of the tokens themselves
    const contentReports: TimestampReport[] = [];
    const dataObjectStamps = readDataObjectTimeStamps(sig);
    const referenceCache = new Map<Element, Map<string, Buffer>>();
    if (dataObjectStamps.length > MAX_DATA_OBJECT_TIMESTAMPS) warnings.push(note('DATA_TS_LIMIT', { max: MAX_DATA_OBJECT_TIMESTAMPS }));
    for (const d of dataObjectStamps.slice(0, MAX_DATA_OBJECT_TIMESTAMPS)) {
      let covered: Element[] = [];
      let input: Buffer | undefined;
      let problem: string | undefined;
      try {
        covered = timeStampedReferences(sig, d);
        input = dataObjectTimeStampInput(doc, sig, d, ids, detached.content, referenceCache);
      } catch (e) {
        if (!isTrucError(e)) throw e;
        problem = `${d.name}: ${e.message}`;
      }
      const about = { property: d.name, references: covered.map((c) => c.getAttribute('URI')) };
      if (!d.tokens.length) problem ??= `${d.name} carries no EncapsulatedTimeStamp (an XMLTimeStamp is not supported)`;
      for (const token of d.tokens.length ? d.tokens : [undefined]) {
        const sha256 = token ? createHash('sha256').update(token).digest('hex') : undefined;
        if (problem || !input || !token) {
          contentReports.push({ type: 'content', valid: false, failure: 'FORMAT_FAILURE', problem: problem ?? `${d.name}: no time-stamp token`, ...about, ...(sha256 ? { sha256 } : {}) });
          continue;
        }
        const data = input;
        const c = await verifyTimeStamp(token, (h) => createHash(h).update(data).digest(), { trustAnchors: opts.trustAnchors, at, ...tctx, ...(poe ? { poe } : {}) });
        contentReports.push({ ...timestampReport('content', c, undefined, token), ...about });
        used.push(...(c.revocationEvidence ?? []));
        tsaPaths.push(...c.tsaPath);
        if (c.valid && c.genTime) {
          for (const ref of covered) {
            const entry = signedData[refElements.indexOf(ref)];
            if (entry && (!entry.poe || c.genTime.toISOString() < entry.poe)) entry.poe = c.genTime.toISOString();
          }
          if (poe && c.genTime > poe) warnings.push(note('DATA_TS_AFTER_SIGNATURE_TS', { property: d.name }));
          if (signingTime && c.genTime.getTime() > signingTime.getTime() + 60_000) warnings.push(note('SIGNING_TIME_BEFORE_DATA_TS', { property: d.name }));
        }
      }
    }
    if (archivePoe && (!refsPoe || archivePoe < refsPoe)) refsPoe = archivePoe;
    const timed = unsigned.timestamps.length > 0;
    const longTerm = timed && (unsigned.crls.length + unsigned.ocsps.length > 0 || elements(sig, XADES, 'RevocationValues').length > 0);
    const level = longTerm && unsigned.archives.length ? 'B-LTA' : longTerm ? 'B-LT' : timed ? 'B-T' : 'B-B';
    if (!signingTime) warnings.push(note('SIGNING_TIME_MISSING', { format: 'XAdES' }));
    const r = await validateSigner(
      signer,
      certs.slice(1),
      unsigned.crls,
      { index, format: 'XAdES', level, ...(signingTime ? { claimedSigningTime: signingTime } : {}) },
      { ...opts, at },
      { ocsps: unsigned.ocsps, certs: unsigned.certs, used, ...(poe ? { poe } : {}) },
    );
    r.signedData = signedData;
    // the value was checked even where a reference could not be (an XPointer or transform we lack): say so
    if (r.checks.signatureValue === null && core.signatureValue !== null) r.checks.signatureValue = core.signatureValue;
    if (unsigned.references.length) {
      // XAdES-C/X: each reference to validation data against the values at hand (DSS's related / orphan references)
      const from = (source: 'signature' | 'validation', ders: readonly Uint8Array[]) => ders.map((der) => ({ der: Buffer.from(der), source }));
      const anchors = opts.trustAnchors.filter((a): a is Uint8Array => a instanceof Uint8Array);
      const refs = checkValidationDataRefs(unsigned.references, {
        certificates: [...from('signature', [...certs, ...unsigned.certs]), ...from('validation', [...r.certificatePath.map((c) => Buffer.from(c, 'base64')), ...tsaPaths, ...(opts.intermediates ?? []), ...anchors])],
        crls: [...from('signature', unsigned.crls), ...from('validation', [...(opts.revocation?.crls ?? []), ...used.filter((e) => e.kind === 'crl').map((e) => e.der)])],
        ocsps: [...from('signature', unsigned.ocsps), ...from('validation', [...(opts.revocation?.ocspResponses ?? []), ...used.filter((e) => e.kind === 'ocsp').map((e) => e.der)])],
      });
      if (refsPoe) for (const x of refs) x.poe = refsPoe.toISOString();
      r.validationDataReferences = refs;
      for (const [i, x] of refs.entries())
        if (x.matches !== true) warnings.push(note('VALIDATION_DATA_REFERENCE_UNMATCHED', { n: i + 1, kind: x.kind, names: x.names, problem: x.problem }));
    }
    // the XML-DSig reasons, named by reference, in place of the CMS wording
    if (r.subIndication === 'HASH_FAILURE') r.message = `không khớp giá trị băm / the digest does not hold: ${broken.map((b) => b.problem).join('; ')}`;
    else if (r.subIndication === 'CRYPTO_CONSTRAINTS_FAILURE' && why) r.message = `không kiểm tra được chữ ký: thuật toán chưa được hỗ trợ / the signature cannot be checked: ${why}`;
    else if (r.subIndication === 'SIGNED_DATA_NOT_FOUND' && missing) r.message = `không tìm thấy dữ liệu được ký / the signed data is not available: ${missing.problem}`;
    if (contentReports.length || stamps.length || xReports.length || archiveReports.length) r.timestamps = [...contentReports, ...stamps, ...xReports, ...archiveReports];
    if (longTerm) r.embeddedEvidence = { certificates: unsigned.certs.length, crls: unsigned.crls.length, ocspResponses: unsigned.ocsps.length };
    for (const t of contentReports) if (!t.valid) warnings.push(note('DATA_TS_INVALID', { property: t.property, problem: t.problem }));
    for (const t of stamps) if (!t.valid) warnings.push(note('SIGNATURE_TS_INVALID', { problem: t.problem }));
    for (const t of xReports)
      if (!t.valid) warnings.push(note('X_TS_INVALID', { type: t.type === 'sig-and-refs' ? 'SigAndRefsTimeStamp' : 'RefsOnlyTimeStamp', problem: t.problem }));
    for (const t of archiveReports) if (!t.valid) warnings.push(note('ARCHIVE_TS_INVALID', { problem: t.problem }));
    if (poe && signingTime && signingTime.getTime() > poe.getTime() + 60_000) warnings.push(note('SIGNING_TIME_AFTER_TS'));
    r.notes = [...warnings, ...(r.notes ?? [])];
    report.signatures.push(r);
  }
  return report;
}
