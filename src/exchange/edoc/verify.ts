/**
 * The signature of an arriving envelope or status packet. Our packages carry an enveloped XAdES signature
 * (validated by `validateXades`: the platform's XML-DSig core, the signer's path to our trust anchors, the
 * algorithm policy); every signature must be TOTAL-PASSED. Older systems send plain XML-DSig with rsa-sha1:
 * such a signature must cover the whole document (one URI="" reference with the enveloped-signature
 * transform, nothing else — the desk's own wrapping rule for signatures without signed properties), is
 * verified here with the same XML-DSig core (`verifyCore`, the KeyInfo certificate's key only) and the
 * signer's path, and then judged by the algorithm policy — refused under the default policy (SHA-1 ended in
 * 2013), accepted where the operator's policy still allows it, the verdict kept either way. A digest that
 * does not hold is HASH_FAILURE, a value that does not verify SIG_CRYPTO_FAILURE; what the core cannot check
 * is INDETERMINATE with its reason. A package without a signature, or whose signature fails, is
 * `invalid_signature` with the report in the detail.
 *
 * Either kind must sign the whole document: a XAdES signature too must have a reference to the whole
 * document (URI="", or the root element's Id, with the enveloped-signature transform and a canonicalization,
 * nothing else), whose digest holds and which leaves out only the signature itself. A signature over the edXMLHeader alone (URI="#id")
 * would leave the manifest — the attachments' hashes — and the body free to be swapped on the way.
 */
import { TrucError } from '../../errors.js';
import { parseCertificate, validatePath, type Certificate } from '../../pki/path/index.js';
import { decodeName } from '../../pki/index.js';
import { validateXades, checkAlgorithms, DEFAULT_ALGORITHM_POLICY, type ValidationOptions, type ValidationReport, type Indication, type SubIndication } from '../../sign/index.js';
import type { SignedReference } from '../../sign/validate/report.js';
import { keyAlgorithmId } from '../../sign/validate/algorithms.js';
import { sentenceOf } from '../../sign/validate/notes.js';
import { summarise } from '../../sign/validate/signer.js';
import { parseXml } from '../../sign/xades/parse.js';
import { verifyCore } from '../../sign/xades/dsig/verify.js';
import { idIndex } from '../../sign/xades/dsig/reference.js';
import { C14N_ALGORITHMS } from '../../sign/xades/dsig/c14n.js';

const DS = 'http://www.w3.org/2000/09/xmldsig#';
const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

export interface SignatureVerdict {
  kind: 'xades' | 'legacy-xmldsig';
  accepted: boolean;
  indication: Indication;
  subIndication?: SubIndication;
  message?: string;
  /** the signer's subject (distinguished name) */
  signer?: string;
  signerCommonName?: string;
  /** the full report (XAdES) */
  report?: ValidationReport;
  /** the member the signing certificate names (subject serialNumber `INSTANCE/CLASS/CODE`, the exchange's convention) */
  signerMember?: string;
  warnings: string[];
}

/** The member a signing certificate names in its subject serialNumber, as the exchange writes it. */
export function memberOfCertificate(der: Uint8Array): string | undefined {
  try {
    const v = decodeName(parseCertificate(Buffer.from(der)).subject.der).find((a) => a.type === 'serialNumber')?.value;
    return v && /^[^/]+\/[^/]+\/[^/]+$/.test(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function firstCertificate(sig: Element): Buffer | undefined {
  const c = sig.getElementsByTagNameNS(DS, 'X509Certificate')[0];
  return c ? Buffer.from((c.textContent ?? '').replace(/\s+/g, ''), 'base64') : undefined;
}

const childEls = (e: Element, local: string): Element[] =>
  Array.from(e.childNodes as unknown as ArrayLike<Node>).filter((n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === DS && (n as Element).localName === local);

function refuse(v: SignatureVerdict, what: string): never {
  throw new TrucError('invalid_signature', `chữ ký số không được chấp nhận / ${what}: ${v.message ?? v.indication}`, { verdict: v });
}

/** Verifies and judges the signature(s) of `xml`; throws `invalid_signature` when not accepted. */
export async function verifySigned(xml: Buffer, opts: ValidationOptions, what = 'the package'): Promise<SignatureVerdict> {
  const doc = parseXml(xml);
  const sigs = Array.from(doc.getElementsByTagNameNS(DS, 'Signature') as unknown as ArrayLike<Element>);
  if (!sigs.length) refuse({ kind: 'xades', accepted: false, indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE', message: 'no signature (ds:Signature) — the sending agency must sign the package', warnings: [] }, what);
  const methods = sigs.map((s) => childEls(childEls(s, 'SignedInfo')[0] ?? s, 'SignatureMethod')[0]?.getAttribute('Algorithm'));
  if (methods.every((m) => m === RSA_SHA1)) {
    if (sigs.length !== 1) refuse({ kind: 'legacy-xmldsig', accepted: false, indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE', message: 'more than one legacy signature', warnings: [] }, what);
    const v = await legacy(doc, sigs[0]!, opts);
    if (!v.accepted) refuse(v, what);
    const member = firstCertificate(sigs[0]!);
    return { ...v, ...(member && memberOfCertificate(member) ? { signerMember: memberOfCertificate(member)! } : {}) };
  }
  const report = await validateXades(xml, opts);
  const bad = report.signatures.find((s) => s.indication !== 'TOTAL-PASSED');
  const first = report.signatures[0];
  const v: SignatureVerdict = {
    kind: 'xades',
    accepted: !bad && report.signatures.length > 0,
    indication: bad?.indication ?? 'TOTAL-PASSED',
    ...(bad?.subIndication ? { subIndication: bad.subIndication } : {}),
    ...(bad?.message ? { message: bad.message } : {}),
    ...(first?.signer ? { signer: first.signer.subject, ...(first.signer.commonName ? { signerCommonName: first.signer.commonName } : {}) } : {}),
    report,
    warnings: report.signatures.flatMap((s) => s.warnings),
  };
  if (!v.accepted) refuse(v, what);
  for (const [i, sig] of sigs.entries()) {
    const why = wholeDocumentProblem(sig, (report.signatures.find((s) => s.index === i) ?? report.signatures[i])?.signedData);
    if (why) refuse({ ...v, accepted: false, indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE', message: why }, what);
  }
  // every signature must name the same member for the verdict to name one
  const members = new Set(sigs.map((s) => { const c = firstCertificate(s); return c ? memberOfCertificate(c) : undefined; }));
  if (members.size === 1) {
    const [m] = [...members];
    if (m) v.signerMember = m;
  }
  return v;
}

/**
 * Why a XAdES signature does not sign the whole document, or undefined: it needs a reference to the document
 * (URI="", or "#id" of the root element) whose transforms are the enveloped-signature transform and
 * canonicalizations only (nothing that could cut parts out, as an XPath transform could), whose digest
 * holds, covering the root and leaving out only one element (the signature itself).
 */
function wholeDocumentProblem(sig: Element, signedData: SignedReference[] | undefined): string | undefined {
  const refs = childEls(childEls(sig, 'SignedInfo')[0] ?? sig, 'Reference');
  const candidates = refs.flatMap((r, i) => {
    const uri = r.getAttribute('URI');
    if (uri === null || (uri !== '' && !uri.startsWith('#'))) return [];
    const algs = childEls(childEls(r, 'Transforms')[0] ?? r, 'Transform').map((t) => t.getAttribute('Algorithm'));
    if (!algs.includes(ENVELOPED) || algs.some((a) => a !== ENVELOPED && !C14N_ALGORITHMS.has(a ?? ''))) return [];
    return [i];
  });
  const covers = candidates.some((i) => {
    const d = signedData?.[i];
    return d?.digestMatches === true && d.wholeDocument === true && d.excludes?.length === 1;
  });
  if (covers) return undefined;
  const uris = refs.map((r) => `"${r.getAttribute('URI') ?? '(none)'}"`).join(', ') || 'none';
  return `the signature does not sign the whole document: it needs a reference to it (URI="") with the enveloped-signature transform and a canonicalization only, leaving out nothing but the signature; its references are ${uris}`;
}

async function legacy(doc: Document, sig: Element, opts: ValidationOptions): Promise<SignatureVerdict> {
  const at = opts.at ?? new Date();
  const fail = (subIndication: SubIndication, message: string, extra: Partial<SignatureVerdict> = {}): SignatureVerdict => ({ kind: 'legacy-xmldsig', accepted: false, indication: 'TOTAL-FAILED', subIndication, message, warnings: [], ...extra });
  // the signature must cover the whole document: one URI="" reference with the enveloped transform
  const refs = childEls(childEls(sig, 'SignedInfo')[0]!, 'Reference');
  if (refs.length !== 1 || refs[0]!.getAttribute('URI') !== '') return fail('FORMAT_FAILURE', 'a legacy signature must have exactly one reference, to the whole document (URI="")');
  const algs = childEls(childEls(refs[0]!, 'Transforms')[0] ?? refs[0]!, 'Transform').map((t) => t.getAttribute('Algorithm'));
  if (!algs.includes(ENVELOPED)) return fail('FORMAT_FAILURE', 'the reference has no enveloped-signature transform');
  // nothing may cut parts of the document out of what is signed (an XPath transform could): the enveloped
  // signature and a canonicalization only
  const other = algs.find((a) => a !== ENVELOPED && !C14N_ALGORITHMS.has(a ?? ''));
  if (other !== undefined) return fail('FORMAT_FAILURE', `a legacy signature's reference may only have the enveloped-signature transform and a canonicalization, not ${other ?? '(none)'}`);
  if (sig === doc.documentElement) return fail('FORMAT_FAILURE', 'the signature is not inside the document');
  const certs = Array.from(sig.getElementsByTagNameNS(DS, 'X509Certificate') as unknown as ArrayLike<Element>).map((c) => Buffer.from((c.textContent ?? '').replace(/\s+/g, ''), 'base64'));
  if (!certs.length) return fail('NO_SIGNING_CERTIFICATE_FOUND', 'no certificate in KeyInfo');
  let cert: Certificate;
  try {
    cert = parseCertificate(certs[0]!);
  } catch (e) {
    return fail('FORMAT_FAILURE', `the KeyInfo certificate cannot be read: ${(e as Error).message}`);
  }
  const who = summarise(cert);
  const signer = { signer: who.subject, ...(who.commonName ? { signerCommonName: who.commonName } : {}) };
  const core = verifyCore(doc, sig, idIndex(doc), cert.spki);
  const ref = core.references[0]!;
  if (ref.digestMatches === false) return fail('HASH_FAILURE', `the document was changed after signing: ${ref.problem ?? 'the digest does not match'}`, signer);
  if (core.signatureValue === false) return fail('SIG_CRYPTO_FAILURE', `the signature does not verify: ${core.signatureProblem ?? 'the signature value does not verify'}`, signer);
  if (ref.digestMatches !== true || core.signatureValue !== true) {
    // an algorithm the core does not implement: neither proven good nor broken
    const why = ref.digestMatches !== true ? ref.problem : core.signatureProblem;
    return { ...fail('CRYPTO_CONSTRAINTS_FAILURE', `the signature cannot be checked: ${why ?? 'unknown'}`, signer), indication: 'INDETERMINATE' };
  }
  if (!ref.coverage?.wholeDocument || ref.coverage.excludes.length !== 1) return fail('FORMAT_FAILURE', 'a legacy signature must cover the whole document but itself', signer);
  const path = await validatePath({ target: cert.der, intermediates: [...certs.slice(1), ...(opts.intermediates ?? [])], trustAnchors: opts.trustAnchors, time: at, ...(opts.revocation ? { revocation: opts.revocation } : {}) });
  if (!path.valid) return { ...fail('CERTIFICATE_CHAIN_GENERAL_FAILURE', `the signer's certificate: ${path.message}`, signer), indication: 'INDETERMINATE' };
  const algo = checkAlgorithms(['sha1', keyAlgorithmId(cert)], at, undefined, opts.algorithmPolicy ?? DEFAULT_ALGORITHM_POLICY);
  if (!algo.ok) return { ...fail(algo.subIndication, `legacy XML-DSig with rsa-sha1: ${algo.message}`, signer), indication: 'INDETERMINATE' };
  return { kind: 'legacy-xmldsig', accepted: true, indication: 'TOTAL-PASSED', message: 'legacy XML-DSig (rsa-sha1) accepted by the algorithm policy in force', ...signer, warnings: [...algo.notes.map(sentenceOf), ...path.warnings, 'legacy signature: plain XML-DSig with SHA-1, no signed signing time'] };
}
