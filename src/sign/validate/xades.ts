/**
 * Validation of XAdES signatures — enveloped, enveloping and detached — (EN 319 132-1 B-B, B-T, B-LT, B-LTA)
 * after EN 319 102-1. Each ds:Signature is checked by two independent verifiers — xadesjs (references, then
 * the signature value with the signing certificate's key only, not any key KeyInfo happens to carry) and
 * xml-crypto, or for a detached signature (whose file xml-crypto cannot resolve) our own digest of the
 * content and check of the signature value over the exclusive canonical SignedInfo — and both must agree.
 * SigningCertificateV2 must name the KeyInfo certificate by digest; the signer then goes through the same
 * path validation as CAdES and PAdES signers, and its algorithms through the algorithm policy.
 * SignatureTimeStamps (over the exclusive canonical SignatureValue) give the proof of existence;
 * CertificateValues and RevocationValues (and the TimeStampValidationData of renewals) serve offline.
 * Archive time-stamps have their imprint recomputed over the signature and the properties before each
 * (`xades/archive.ts`, with the detached content when there is one), newest first, each valid one a proof of
 * existence of what it covers — the earlier archive time-stamps included.
 *
 * Signature wrapping (`coverage`): an enveloped signature must cover the whole document (exactly one URI=""
 * reference with the enveloped-signature transform); an enveloping or detached one must be the document root,
 * sign every ds:Object it carries and name at most one detached file; every "#id" reference must name exactly
 * one element, inside the signature. Anything else is FORMAT_FAILURE, so an attacker cannot move signed
 * content aside and put other content where a reader looks. A signature method neither verifier implements
 * (RSA-PSS) is INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE.
 */
import { createHash, createPublicKey, timingSafeEqual, verify as nodeVerify, webcrypto, type KeyObject } from 'node:crypto';
import { XMLSerializer } from '@xmldom/xmldom';
import { SignedXml as XmlCryptoSignedXml } from 'xml-crypto';
import { isTrucError } from '../../errors.js';
import { parseCertificate, type Certificate } from '../../pki/path/index.js';
import type { CmsSigner } from '../cades/verify.js';
import { parseXml } from '../xades/parse.js';
import { xades } from '../xades/engine.js';
import { EXC_C14N, excC14n } from '../xades/c14n.js';
import type { SignatureReport, TimestampReport, ValidationReport } from './report.js';
import { readXadesUnsigned, signatureValueOctets } from '../xades/levels.js';
import { archiveTimeStampInput, XADES141_NS } from '../xades/archive.js';
import { verifyTimeStamp } from '../timestamp/verify.js';
import { timestampReport, withCarried, type Carried } from './timestamps.js';
import { validateSigner, type ValidationOptions } from './signer.js';

const DS = 'http://www.w3.org/2000/09/xmldsig#';
const XADES = 'http://uri.etsi.org/01903/v1.3.2#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const MAX_SIGNATURES = 50;
const MAX_ARCHIVE_TIMESTAMPS = 32;

const DIGESTS: Record<string, string> = {
  'http://www.w3.org/2000/09/xmldsig#sha1': 'sha1',
  'http://www.w3.org/2001/04/xmlenc#sha256': 'sha256',
  'http://www.w3.org/2001/04/xmldsig-more#sha384': 'sha384',
  'http://www.w3.org/2001/04/xmlenc#sha512': 'sha512',
};

const ECDSA_URIS: Record<string, string> = {
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256': 'sha256',
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384': 'sha384',
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512': 'sha512',
};

/** what both verifiers implement (xml-crypto with the ECDSA methods we add to it) */
const SIGNATURE_METHODS = new Set([
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  ...Object.keys(ECDSA_URIS),
]);

const elements = (root: Document | Element, ns: string, local: string): Element[] => Array.from(root.getElementsByTagNameNS(ns, local) as unknown as ArrayLike<Element>);
const childElements = (el: Element, ns: string, local: string): Element[] =>
  Array.from(el.childNodes as unknown as ArrayLike<Node>).filter((n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === local);
const text = (el: Element | undefined): string => (el?.textContent ?? '').replace(/\s+/g, '');

function contains(outer: Element, inner: Element): boolean {
  for (let n: Node | null = inner; n; n = n.parentNode) if (n === outer) return true;
  return false;
}

type Coverage = { problem: string } | { packaging: 'enveloped' | 'enveloping' | 'detached'; external?: Element };

/**
 * What the signature covers, or why it cannot be trusted to cover what a reader would take for the signed
 * content (signature wrapping):
 *   enveloped   exactly one URI="" reference (enveloped-signature transform), the signature inside the root;
 *   enveloping  the signature is the document root and its content references are "#id"s of its own
 *               ds:Objects; a ds:Object it does not sign (other than the one holding the properties) is
 *               refused, since a reader could take it for signed content;
 *   detached    the signature is the document root and exactly one reference names the content by a URI
 *               outside the document, without transforms.
 * In every packaging each "#id" must name exactly one element, inside the signature.
 */
function coverage(doc: Document, sig: Element, ids: Map<string, Element[]>): Coverage {
  const fail = (problem: string): Coverage => ({ problem });
  const signedInfo = childElements(sig, DS, 'SignedInfo')[0];
  if (!signedInfo) return fail('no SignedInfo');
  const refs = childElements(signedInfo, DS, 'Reference');
  const whole = refs.filter((r) => r.getAttribute('URI') === '');
  const external = refs.filter((r) => { const u = r.getAttribute('URI'); return u !== '' && !u?.startsWith('#'); });
  const targets: Element[] = [];
  for (const r of refs) {
    const uri = r.getAttribute('URI');
    if (uri === null) return fail('a reference without a URI is not allowed');
    if (!uri.startsWith('#')) continue;
    const found = ids.get(uri.slice(1)) ?? [];
    if (found.length !== 1) return fail(`the reference "${uri}" names ${found.length} elements`);
    if (!contains(sig, found[0])) return fail(`the reference "${uri}" points outside the signature: a signature over part of the document is refused`);
    targets.push(found[0]);
  }
  if (whole.length) {
    if (whole.length !== 1) return fail(`the signature has ${whole.length} references to the whole document (URI=""); it must have exactly one`);
    if (external.length) return fail('a signature over the whole document and a detached file at once is not supported');
    const transforms = childElements(whole[0], DS, 'Transforms')[0];
    const algs = transforms ? childElements(transforms, DS, 'Transform').map((t) => t.getAttribute('Algorithm')) : [];
    if (!algs.includes(ENVELOPED)) return fail('the reference to the document has no enveloped-signature transform');
    if (!contains(doc.documentElement, sig)) return fail('the signature is not inside the document root');
    return { packaging: 'enveloped' };
  }
  if (doc.documentElement !== sig) return fail('a signature without a reference to the whole document (URI="") must be the document itself (enveloping or detached)');
  const objects = childElements(sig, DS, 'Object');
  const signedObjects = objects.filter((o) => targets.some((t) => contains(o, t)) && !o.getElementsByTagNameNS(XADES, 'QualifyingProperties').length);
  const unsigned = objects.filter((o) => !targets.some((t) => contains(o, t)));
  if (unsigned.length) return fail(`${unsigned.length} ds:Object(s) of the signature are not signed: unsigned content beside signed content is refused`);
  if (external.length) {
    if (external.length !== 1) return fail(`the signature names ${external.length} detached files; one is supported`);
    if (signedObjects.length) return fail('a signature over a detached file and enveloped content at once is not supported');
    if (childElements(external[0], DS, 'Transforms').length) return fail('transforms on a detached reference are not supported');
    return { packaging: 'detached', external: external[0] };
  }
  if (!signedObjects.length) return fail('the signature signs nothing but its own properties');
  return { packaging: 'enveloping' };
}

/**
 * Our own check of a signature value (the second opinion for detached signatures, which xml-crypto cannot
 * resolve): SignedInfo in exclusive C14N, verified with the signing certificate's key.
 */
function signatureValueCheck(sig: Element, cert: Certificate): { ok: boolean; problem?: string } {
  const signedInfo = childElements(sig, DS, 'SignedInfo')[0];
  const c14n = childElements(signedInfo, DS, 'CanonicalizationMethod')[0]?.getAttribute('Algorithm');
  if (c14n !== EXC_C14N) return { ok: false, problem: `canonicalization ${c14n ?? '(none)'} is not supported for detached signatures (exclusive C14N is)` };
  const method = childElements(signedInfo, DS, 'SignatureMethod')[0]?.getAttribute('Algorithm') ?? '';
  const m = /#(rsa|ecdsa)-(sha256|sha384|sha512)$/.exec(method);
  if (!m) return { ok: false, problem: `signature method ${method || '(none)'} is not supported` };
  const key = createPublicKey({ key: cert.spki, format: 'der', type: 'spki' });
  const value = Buffer.from(text(childElements(sig, DS, 'SignatureValue')[0]), 'base64');
  const data = excC14n(signedInfo);
  const ok = m[1] === 'ecdsa' ? nodeVerify(m[2], data, { key, dsaEncoding: 'ieee-p1363' }, value) : nodeVerify(m[2], data, key, value);
  return ok ? { ok } : { ok, problem: 'the signature value does not verify over the exclusive canonical SignedInfo' };
}

function idIndex(doc: Document): Map<string, Element[]> {
  const out = new Map<string, Element[]>();
  const all = Array.from(doc.getElementsByTagName('*') as unknown as ArrayLike<Element>);
  for (const el of all)
    for (const a of ['Id', 'ID', 'id']) {
      const v = el.getAttribute(a);
      if (v) out.set(v, [...(out.get(v) ?? []), el]);
    }
  return out;
}

/**
 * The signature as xadesjs is given it: xadesjs knows ArchiveTimeStamp only in the XAdES 1.3.2 namespace
 * and refuses the xadesv141 one; unsigned properties take no part in the core signature, so the 1.4.1
 * ones (ArchiveTimeStamp, TimeStampValidationData) are left out of its copy. We check them ourselves.
 */
function withoutV141(sig: Element): Element {
  const copy = sig.cloneNode(true) as Element;
  for (const usp of elements(copy, XADES, 'UnsignedSignatureProperties'))
    for (const n of Array.from(usp.childNodes as unknown as ArrayLike<Node>)) if (n.nodeType === 1 && (n as Element).namespaceURI === XADES141_NS) usp.removeChild(n);
  return copy;
}

async function webKey(cert: Certificate): Promise<{ key: CryptoKey; namedCurve?: string }> {
  const k = createPublicKey({ key: cert.spki, format: 'der', type: 'spki' });
  const curve = k.asymmetricKeyDetails?.namedCurve;
  const alg =
    k.asymmetricKeyType === 'ec'
      ? { name: 'ECDSA', namedCurve: { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' }[curve ?? ''] ?? 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const key = (await webcrypto.subtle.importKey('spki', cert.spki, alg, true, ['verify'])) as CryptoKey;
  return { key, ...('namedCurve' in alg ? { namedCurve: alg.namedCurve } : {}) };
}

/** The second verifier: xml-crypto, given only the signing certificate (ECDSA added: XML-DSig's r‖s). */
function xmlCryptoCheck(xml: string, sig: Element, key: KeyObject): { ok: boolean; problem?: string } {
  const sx = new XmlCryptoSignedXml({ publicCert: key.export({ type: 'spki', format: 'pem' }) as string, getCertFromKeyInfo: () => null });
  for (const [uri, hash] of Object.entries(ECDSA_URIS))
    (sx.SignatureAlgorithms as Record<string, unknown>)[uri] = class {
      verifySignature(material: string, publicKey: string, signatureValue: string): boolean {
        return nodeVerify(hash, Buffer.from(material), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signatureValue, 'base64'));
      }
      getAlgorithmName(): string {
        return uri;
      }
    };
  try {
    sx.loadSignature(new XMLSerializer().serializeToString(sig as never));
    const ok = sx.checkSignature(xml);
    return ok ? { ok } : { ok, problem: 'xml-crypto does not verify the signature' };
  } catch (e) {
    return { ok: false, problem: `xml-crypto: ${(e as Error).message.split('\n')[0]}` };
  }
}

/** The second verifier for a detached signature: the content's digest, then the signature value, both our own. */
function detachedCheck(sig: Element, cert: Certificate, reference: Element, content: Buffer): { ok: boolean; problem?: string } {
  const alg = DIGESTS[childElements(reference, DS, 'DigestMethod')[0]?.getAttribute('Algorithm') ?? ''];
  if (!alg) return { ok: false, problem: 'the detached reference has an unknown digest method' };
  const want = Buffer.from(text(childElements(reference, DS, 'DigestValue')[0]), 'base64');
  const have = createHash(alg).update(content).digest();
  if (want.length !== have.length || !timingSafeEqual(want, have)) return { ok: false, problem: 'the detached content does not match its reference digest' };
  return signatureValueCheck(sig, cert);
}

function signingCertificateV2(sig: Element, cert: Certificate): 'ok' | 'mismatch' | 'absent' {
  const scv2 = elements(sig, XADES, 'SigningCertificateV2')[0];
  if (!scv2) return 'absent';
  for (const c of childElements(scv2, XADES, 'Cert')) {
    const cd = childElements(c, XADES, 'CertDigest')[0];
    if (!cd) continue;
    const alg = DIGESTS[childElements(cd, DS, 'DigestMethod')[0]?.getAttribute('Algorithm') ?? ''];
    const value = text(childElements(cd, DS, 'DigestValue')[0]);
    if (alg && alg !== 'sha1' && createHash(alg).update(cert.der).digest('base64') === value) return 'ok';
  }
  return 'mismatch';
}

function emptyChecks(): SignatureReport['checks'] {
  return { integrity: null, signatureValue: null, signingCertificateReference: null, certificateChain: null, certificateValidAtSigningTime: null };
}

export async function validateXades(input: Uint8Array | string, opts: ValidationOptions & { content?: Uint8Array }): Promise<ValidationReport> {
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
    ...extra,
  });
  let doc: Document;
  try {
    doc = parseXml(bytes);
  } catch (e) {
    if (!isTrucError(e)) throw e;
    report.signatures.push(failed(0, e.message));
    return report;
  }
  const xml = bytes.toString('utf8');
  const sigs = elements(doc, DS, 'Signature');
  if (sigs.length > MAX_SIGNATURES) {
    report.signatures.push(failed(0, `more than ${MAX_SIGNATURES} signatures`));
    return report;
  }
  const ids = idIndex(doc);
  const x = xades();
  for (const [index, sig] of sigs.entries()) {
    const covering = coverage(doc, sig, ids);
    if ('problem' in covering) {
      report.signatures.push(failed(index, `signature wrapping defence: ${covering.problem}`));
      continue;
    }
    const detached = covering.packaging === 'detached' ? covering.external : undefined;
    // a method neither verifier implements is not a forgery: the signature cannot be judged (EN 319 102-1 §5.2.8)
    const method = childElements(childElements(sig, DS, 'SignedInfo')[0], DS, 'SignatureMethod')[0]?.getAttribute('Algorithm') ?? '';
    if (!SIGNATURE_METHODS.has(method)) {
      report.signatures.push(failed(index, `the signature method ${method || '(none)'} is not supported (RSA PKCS#1 v1.5 or ECDSA with SHA-256, SHA-384 or SHA-512)`, { indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE' }));
      continue;
    }
    const certs = elements(sig, DS, 'X509Certificate').map((c) => Buffer.from(text(c), 'base64'));
    let cert: Certificate | undefined;
    try {
      cert = certs[0] ? parseCertificate(certs[0]) : undefined;
    } catch (e) {
      report.signatures.push(failed(index, `the KeyInfo certificate cannot be read: ${(e as Error).message}`));
      continue;
    }
    const signingTimeText = elements(sig, XADES, 'SigningTime')[0]?.textContent?.trim();
    const signingTime = signingTimeText && !Number.isNaN(Date.parse(signingTimeText)) ? new Date(signingTimeText) : undefined;
    let digestMatches: boolean | undefined;
    let signatureValid = false;
    let signatureProblem: string | undefined;
    const warnings: string[] = [];
    if (cert && detached && !opts.content) {
      // the content is not here: the signature value is still checked, the references cannot be
      const own = signatureValueCheck(sig, cert);
      signatureValid = own.ok;
      if (!own.ok) signatureProblem = own.problem;
    } else if (cert) {
      const signed = new x.SignedXml(doc as never);
      const detachedUri = detached?.getAttribute('URI');
      if (detached && opts.content) {
        const content = Buffer.from(opts.content);
        // xadesjs digests the detached reference over the bytes we give it for that URI
        signed.contentHandler = async (ref: { Uri?: string }) => (ref.Uri === detachedUri ? (content as never) : null);
      }
      try {
        signed.LoadXml(withoutV141(sig) as never);
        const { key, namedCurve } = await webKey(cert);
        // xmldsigjs re-imports the key with the SignatureMethod's parameters, which lack the curve
        if (namedCurve && signed.Algorithm) signed.Algorithm = { ...signed.Algorithm, namedCurve } as never;
        // references first (a digest mismatch throws), then the value with the signing certificate's key only
        signatureValid = await signed.Verify({ key } as never);
        digestMatches = true;
        if (!signatureValid) signatureProblem = 'xadesjs: the signature value does not verify with the KeyInfo certificate';
      } catch (e) {
        const m = (e as Error).message;
        if (/Invalid digest/i.test(m)) digestMatches = false;
        else {
          report.signatures.push(failed(index, `the signature cannot be processed: ${m.split('\n')[0]}`));
          continue;
        }
        signatureProblem = `xadesjs: ${m.split('\n')[0]}`;
      }
      if (digestMatches && signatureValid) {
        const second = detached ? detachedCheck(sig, cert, detached, Buffer.from(opts.content!)) : xmlCryptoCheck(xml, sig, createPublicKey({ key: cert.spki, format: 'der', type: 'spki' }));
        if (!second.ok) {
          signatureValid = false;
          signatureProblem = `the two verifiers disagree — ${second.problem}`;
        }
      }
    }
    // the digests the signature relies on, for the algorithm policy: SignatureMethod's, then each Reference's
    const signedInfo = childElements(sig, DS, 'SignedInfo')[0];
    const hashOf = (uri: string | null | undefined): string => DIGESTS[uri ?? ''] ?? /#(?:[a-z-]+-)?(sha(?:1|224|256|384|512))(?:-|$)/.exec(uri ?? '')?.[1] ?? uri ?? '(none)';
    const methodDigest = hashOf(childElements(signedInfo, DS, 'SignatureMethod')[0]?.getAttribute('Algorithm'));
    const refDigests = childElements(signedInfo, DS, 'Reference').map((r) => hashOf(childElements(r, DS, 'DigestMethod')[0]?.getAttribute('Algorithm')));
    const signer: CmsSigner = {
      digest: (['sha256', 'sha384', 'sha512'].includes(methodDigest) ? methodDigest : 'sha256') as CmsSigner['digest'],
      otherDigests: [methodDigest, ...refDigests],
      certificate: cert,
      ...(signingTime ? { signingTime } : {}),
      contentType: 'xml',
      digestMatches,
      signingCertificate: cert ? signingCertificateV2(sig, cert) : 'absent',
      signatureValid,
      ...(signatureProblem ? { signatureProblem } : {}),
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
    if (unsigned.others.length) warnings.push(`unsigned properties not validated: ${unsigned.others.join(', ')}`);
    const carried: Carried = { certs: unsigned.certs, crls: unsigned.crls, ocsps: unsigned.ocsps };
    const tctx = withCarried({ ...opts, at }, carried);
    tctx.intermediates.push(...certs);
    // B-LTA: archive time-stamps, newest first — a valid later one proves the earlier ones existed when it was made
    const archiveReports: TimestampReport[] = [];
    let later: Date | undefined;
    let archivePoe: Date | undefined;
    for (const a of [...unsigned.archives].reverse()) {
      let input: Buffer;
      try {
        input = archiveTimeStampInput(doc, sig, a.element, a.c14n, opts.content);
      } catch (e) {
        if (!isTrucError(e)) throw e;
        archiveReports.unshift({ type: 'archive', valid: false, problem: e.message, sha256: createHash('sha256').update(a.token).digest('hex') });
        continue;
      }
      const c = await verifyTimeStamp(a.token, (h) => createHash(h).update(input).digest(), { trustAnchors: opts.trustAnchors, at, ...tctx, ...(later ? { poe: later } : {}) });
      archiveReports.unshift(timestampReport('archive', c, undefined, a.token));
      if (c.valid && c.genTime) {
        later = c.genTime;
        if (!archivePoe || c.genTime < archivePoe) archivePoe = c.genTime;
      }
    }
    const stamps: TimestampReport[] = [];
    let poe: Date | undefined;
    for (const t of unsigned.timestamps) {
      let octets: Buffer;
      try {
        octets = signatureValueOctets(sig, t.c14n);
      } catch (e) {
        if (!isTrucError(e)) throw e;
        stamps.push({ type: 'signature', valid: false, problem: e.message });
        continue;
      }
      const c = await verifyTimeStamp(t.token, (h) => createHash(h).update(octets).digest(), { trustAnchors: opts.trustAnchors, at, ...tctx, ...(archivePoe ? { poe: archivePoe } : {}) });
      stamps.push(timestampReport('signature', c, undefined, t.token));
      if (c.valid && c.genTime && (!poe || c.genTime < poe)) poe = c.genTime;
    }
    if (archivePoe && (!poe || archivePoe < poe)) poe = archivePoe;
    const timed = unsigned.timestamps.length > 0;
    const longTerm = timed && (unsigned.crls.length + unsigned.ocsps.length > 0 || elements(sig, XADES, 'RevocationValues').length > 0);
    const level = longTerm && unsigned.archives.length ? 'B-LTA' : longTerm ? 'B-LT' : timed ? 'B-T' : 'B-B';
    if (!signingTime) warnings.push('no SigningTime (required by XAdES baseline)');
    const r = await validateSigner(
      signer,
      certs.slice(1),
      unsigned.crls,
      { index, format: 'XAdES', level, ...(signingTime ? { claimedSigningTime: signingTime } : {}) },
      { ...opts, at },
      { ocsps: unsigned.ocsps, certs: unsigned.certs, ...(poe ? { poe } : {}) },
    );
    if (stamps.length || archiveReports.length) r.timestamps = [...stamps, ...archiveReports];
    if (longTerm) r.embeddedEvidence = { certificates: unsigned.certs.length, crls: unsigned.crls.length, ocspResponses: unsigned.ocsps.length };
    for (const t of stamps) if (!t.valid) warnings.push(`a signature time-stamp is not valid: ${t.problem}`);
    for (const t of archiveReports) if (!t.valid) warnings.push(`an archive time-stamp is not valid: ${t.problem}`);
    if (poe && signingTime && signingTime.getTime() > poe.getTime() + 60_000) warnings.push('the claimed signing time is after the signature time-stamp');
    r.warnings.unshift(...warnings);
    report.signatures.push(r);
  }
  return report;
}
