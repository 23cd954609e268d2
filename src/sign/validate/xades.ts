/**
 * Validation of enveloped XAdES signatures (EN 319 132-1 B-B, B-T, B-LT, B-LTA) after EN 319 102-1. Each ds:Signature is
 * checked by two independent verifiers — xadesjs (references, then the signature value with the signing
 * certificate's key only, not any key KeyInfo happens to carry) and xml-crypto — and both must agree.
 * SigningCertificateV2 must name the KeyInfo certificate by digest; the signer then goes through the same
 * path validation as CAdES and PAdES signers. SignatureTimeStamps (over the exclusive canonical
 * SignatureValue) give the proof of existence; CertificateValues and RevocationValues (and the
 * TimeStampValidationData of renewals) serve offline. Archive time-stamps have their imprint recomputed
 * over the signature and the properties before each (`xades/archive.ts`), newest first, each valid one a
 * proof of existence of what it covers — the earlier archive time-stamps included.
 *
 * Signature wrapping: a signature is accepted only when it covers the whole document — exactly one
 * Reference with URI="" (the document root, enveloped-signature transform) and every other Reference a
 * "#id" of an element inside the signature itself (its SignedProperties); Id values must be unique in the
 * document. A signature over a fragment (URI="#…" outside it) is FORMAT_FAILURE, so an attacker cannot
 * move signed content aside and put other content at the root.
 */
import { createHash, createPublicKey, verify as nodeVerify, webcrypto, type KeyObject } from 'node:crypto';
import { XMLSerializer } from '@xmldom/xmldom';
import { SignedXml as XmlCryptoSignedXml } from 'xml-crypto';
import { isTrucError } from '../../errors.js';
import { parseCertificate, type Certificate } from '../../pki/path/index.js';
import type { CmsSigner } from '../cades/verify.js';
import { parseXml } from '../xades/parse.js';
import { xades } from '../xades/engine.js';
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

const elements = (root: Document | Element, ns: string, local: string): Element[] => Array.from(root.getElementsByTagNameNS(ns, local) as unknown as ArrayLike<Element>);
const childElements = (el: Element, ns: string, local: string): Element[] =>
  Array.from(el.childNodes as unknown as ArrayLike<Node>).filter((n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === local);
const text = (el: Element | undefined): string => (el?.textContent ?? '').replace(/\s+/g, '');

function contains(outer: Element, inner: Element): boolean {
  for (let n: Node | null = inner; n; n = n.parentNode) if (n === outer) return true;
  return false;
}

/** Why the signature does not cover the document as a whole, or null when it does. */
function coverageProblem(doc: Document, sig: Element, ids: Map<string, Element[]>): string | null {
  const signedInfo = childElements(sig, DS, 'SignedInfo')[0];
  if (!signedInfo) return 'no SignedInfo';
  const refs = childElements(signedInfo, DS, 'Reference');
  const whole = refs.filter((r) => r.getAttribute('URI') === '');
  if (whole.length !== 1) return `the signature has ${whole.length} references to the whole document (URI=""); it must have exactly one`;
  const transforms = childElements(whole[0], DS, 'Transforms')[0];
  const algs = transforms ? childElements(transforms, DS, 'Transform').map((t) => t.getAttribute('Algorithm')) : [];
  if (!algs.includes(ENVELOPED)) return 'the reference to the document has no enveloped-signature transform';
  if (!contains(doc.documentElement, sig)) return 'the signature is not inside the document root';
  for (const r of refs) {
    const uri = r.getAttribute('URI');
    if (uri === '') continue;
    if (!uri?.startsWith('#')) return `a reference to "${uri ?? '(no URI)'}" is not allowed (only the document and the signature's own properties)`;
    const targets = ids.get(uri.slice(1)) ?? [];
    if (targets.length !== 1) return `the reference "${uri}" names ${targets.length} elements`;
    if (!contains(sig, targets[0])) return `the reference "${uri}" points outside the signature: a signature over part of the document is refused`;
  }
  return null;
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

export async function validateXades(input: Uint8Array | string, opts: ValidationOptions): Promise<ValidationReport> {
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
    const covering = coverageProblem(doc, sig, ids);
    if (covering) {
      report.signatures.push(failed(index, `signature wrapping defence: ${covering}`));
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
    if (cert) {
      const signed = new x.SignedXml(doc as never);
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
        const second = xmlCryptoCheck(xml, sig, createPublicKey({ key: cert.spki, format: 'der', type: 'spki' }));
        if (!second.ok) {
          signatureValid = false;
          signatureProblem = `the two verifiers disagree — ${second.problem}`;
        }
      }
    }
    const signer: CmsSigner = {
      digest: 'sha256',
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
        input = archiveTimeStampInput(doc, sig, a.element, a.c14n);
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
