/**
 * XML-DSig core validation (XML-DSig 1.1 §3.2), one implementation: every ds:Reference of SignedInfo
 * dereferenced, transformed and digested (`reference.ts`), then SignedInfo canonicalised with its
 * CanonicalizationMethod and the SignatureValue verified with the key the caller gives (the signing
 * certificate's, never whatever KeyInfo carries). Each outcome is kept apart — a reference that holds, one
 * that does not, one that cannot be processed (an unsupported transform or digest, content not at hand) — so
 * that a verdict can tell a proven forgery from a signature we cannot check. References of a ds:Manifest that
 * a signed reference points at are checked too and reported beside (XML-DSig leaves their weight to the
 * application).
 */
import { createHash, createPublicKey, timingSafeEqual, verify as nodeVerify, constants, type KeyObject } from 'node:crypto';
import { isTrucError } from '../../../errors.js';
import { c14nOptions, canonicalize } from './c14n.js';
import { DIGEST_METHODS } from './digests.js';
import { DS, MANIFEST_TYPE, dsChildren, referenceData, type Coverage, type DetachedContent } from './reference.js';

export { DIGEST_METHODS };

type Method = { family: 'rsa' | 'ecdsa' | 'dsa' | 'rsa-pss'; hash: string; saltLength?: number };
export const SIGNATURE_METHODS: Record<string, Method> = {
  'http://www.w3.org/2000/09/xmldsig#rsa-sha1': { family: 'rsa', hash: 'sha1' },
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha224': { family: 'rsa', hash: 'sha224' },
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256': { family: 'rsa', hash: 'sha256' },
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384': { family: 'rsa', hash: 'sha384' },
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': { family: 'rsa', hash: 'sha512' },
  'http://www.w3.org/2000/09/xmldsig#dsa-sha1': { family: 'dsa', hash: 'sha1' },
  'http://www.w3.org/2009/xmldsig11#dsa-sha256': { family: 'dsa', hash: 'sha256' },
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1': { family: 'ecdsa', hash: 'sha1' },
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha224': { family: 'ecdsa', hash: 'sha224' },
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256': { family: 'ecdsa', hash: 'sha256' },
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384': { family: 'ecdsa', hash: 'sha384' },
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512': { family: 'ecdsa', hash: 'sha512' },
  // RFC 6931 §2.3.10: PSS with MGF1 of the same hash and a salt as long as the hash
  'http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1': { family: 'rsa-pss', hash: 'sha256' },
  'http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1': { family: 'rsa-pss', hash: 'sha384' },
  'http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1': { family: 'rsa-pss', hash: 'sha512' },
};

const HASH_BYTES: Record<string, number> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64, 'sha3-224': 28, 'sha3-256': 32, 'sha3-384': 48, 'sha3-512': 64 };

const PSS_NS = 'http://www.w3.org/2007/05/xmldsig-more#';
const RSA_PSS = `${PSS_NS}rsa-pss`;
const MGF1 = `${PSS_NS}MGF1`;

/**
 * The SignatureMethod: a fixed URI, or RSASSA-PSS with its parameters (RFC 6931 §2.3.10, written by xades4j
 * and DSS): pss:RSAPSSParams may name the digest (default SHA-256), the mask generation (MGF1 only; its
 * digest must be the signature's — what OpenSSL does through node:crypto), the salt length (default the
 * digest's length) and the trailer field (1 only). A string: why it cannot be checked.
 */
function signatureMethod(el: Element | undefined): Method | string {
  const uri = el?.getAttribute('Algorithm') ?? '';
  if (uri !== RSA_PSS) return SIGNATURE_METHODS[uri] ?? `the signature method ${uri || '(none)'} is not supported`;
  const params = dsChildren(el!, 'RSAPSSParams', PSS_NS)[0];
  const digestUri = params ? dsChildren(params, 'DigestMethod')[0]?.getAttribute('Algorithm') : undefined;
  const hash = digestUri === undefined ? 'sha256' : DIGEST_METHODS[digestUri ?? ''];
  if (!hash) return `RSA-PSS with the digest ${digestUri || '(none)'} is not supported`;
  const mgf = params ? dsChildren(params, 'MaskGenerationFunction', PSS_NS)[0] : undefined;
  if (mgf) {
    if ((mgf.getAttribute('Algorithm') ?? MGF1) !== MGF1) return `RSA-PSS mask generation ${mgf.getAttribute('Algorithm')} is not supported`;
    const mgfDigest = dsChildren(mgf, 'DigestMethod')[0]?.getAttribute('Algorithm');
    if (mgfDigest && DIGEST_METHODS[mgfDigest] !== hash) return `RSA-PSS with MGF1 over ${mgfDigest} and the digest ${hash} is not supported`;
  }
  const number = (name: string) => {
    const t = params ? dsChildren(params, name, PSS_NS)[0]?.textContent?.trim() : undefined;
    return t === undefined ? undefined : /^\d{1,4}$/.test(t) ? Number(t) : NaN;
  };
  const salt = number('SaltLength') ?? HASH_BYTES[hash];
  const trailer = number('TrailerField') ?? 1;
  if (!Number.isInteger(salt) || salt === undefined) return 'RSA-PSS: the salt length cannot be read';
  if (trailer !== 1) return `RSA-PSS with the trailer field ${trailer} is not supported`;
  return { family: 'rsa-pss', hash, saltLength: salt };
}

export interface ReferenceResult {
  uri: string | null;
  type?: string;
  digestAlgorithm: string;
  /** true: the digest holds; false: it does not (proven); null: not computed, see `problem` */
  digestMatches: boolean | null;
  problem?: string;
  coverage?: Coverage;
  detached: boolean;
  /** the reference cannot name its data unambiguously (an Id borne by several elements): a format failure */
  malformed?: boolean;
  /** a transform, URI form or digest method we do not implement: neither proven good nor broken */
  unsupported?: boolean;
  /** the references of a ds:Manifest this reference signs */
  manifest?: ReferenceResult[];
}

export interface CoreResult {
  references: ReferenceResult[];
  /** true / false (proven) / null (cannot be checked: see `signatureProblem`) */
  signatureValue: boolean | null;
  signatureProblem?: string;
  /** the value could not be checked because of an algorithm (method, canonicalisation, key) we do not implement */
  signatureUnsupported?: boolean;
  signatureMethod: string;
  signatureHash?: string;
}

const b64text = (el: Element | undefined) => Buffer.from((el?.textContent ?? '').replace(/\s+/g, ''), 'base64');

function checkReference(doc: Document, sig: Element, ref: Element, ids: Map<string, Element[]>, content: DetachedContent | undefined, depth: number): ReferenceResult {
  const uri = ref.getAttribute('URI');
  const type = ref.getAttribute('Type') ?? undefined;
  const alg = dsChildren(ref, 'DigestMethod')[0]?.getAttribute('Algorithm') ?? '';
  const base: ReferenceResult = { uri, ...(type ? { type } : {}), digestAlgorithm: alg, digestMatches: null, detached: false };
  const hash = DIGEST_METHODS[alg];
  let data;
  try {
    data = referenceData(doc, sig, ref, ids, content);
  } catch (e) {
    if (!isTrucError(e)) throw e;
    return { ...base, problem: e.message, ...(e.code === 'malformed_xml' ? { malformed: true } : e.code === 'unsupported' ? { unsupported: true } : {}) };
  }
  base.detached = data.detached;
  if (data.coverage) base.coverage = data.coverage;
  if (!hash) return { ...base, unsupported: true, problem: `digest method ${alg || '(none)'} is not supported` };
  const want = b64text(dsChildren(ref, 'DigestValue')[0]);
  const have = createHash(hash).update(data.octets).digest();
  base.digestMatches = want.length === have.length && timingSafeEqual(want, have);
  if (!base.digestMatches) base.problem = `the digest of ${uri === '' ? 'the document' : uri === null ? 'the content' : `"${uri}"`} does not match`;
  // a signed ds:Manifest: its references too, one level deep
  if (type === MANIFEST_TYPE && depth === 0 && data.coverage?.elements.length === 1) {
    const manifest = data.coverage.elements[0];
    if (manifest.namespaceURI === DS && manifest.localName === 'Manifest') base.manifest = dsChildren(manifest, 'Reference').slice(0, 64).map((r) => checkReference(doc, sig, r, ids, content, 1));
  }
  return base;
}

function publicKey(spki: Uint8Array): KeyObject | string {
  try {
    return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (e) {
    return `the signer's key cannot be used here: ${(e as Error).message}`;
  }
}

/** Core validation of `sig` (a ds:Signature of `doc`), with the signer's public key (SPKI DER) when known. */
export function verifyCore(doc: Document, sig: Element, ids: Map<string, Element[]>, spki: Uint8Array | undefined, content?: DetachedContent): CoreResult {
  const signedInfo = dsChildren(sig, 'SignedInfo')[0];
  const methodUri = signedInfo ? dsChildren(signedInfo, 'SignatureMethod')[0]?.getAttribute('Algorithm') ?? '' : '';
  const out: CoreResult = { references: [], signatureValue: null, signatureMethod: methodUri };
  if (!signedInfo) return { ...out, signatureValue: false, signatureProblem: 'the signature has no SignedInfo' };
  out.references = dsChildren(signedInfo, 'Reference').slice(0, 256).map((r) => checkReference(doc, sig, r, ids, content, 0));
  const method = signatureMethod(dsChildren(signedInfo, 'SignatureMethod')[0]);
  if (typeof method === 'string') return { ...out, signatureUnsupported: true, signatureProblem: method };
  out.signatureHash = method.hash;
  if (!spki) return { ...out, signatureProblem: "the signer's certificate is not in the signature" };
  const cm = dsChildren(signedInfo, 'CanonicalizationMethod')[0];
  let octets: Buffer;
  try {
    const prefixes = cm ? dsChildren(cm, 'InclusiveNamespaces', 'http://www.w3.org/2001/10/xml-exc-c14n#')[0]?.getAttribute('PrefixList')?.split(/\s+/).filter(Boolean) : undefined;
    const opts = c14nOptions(cm?.getAttribute('Algorithm') ?? '', prefixes);
    octets = canonicalize({ doc, has: (n) => (opts.comments || n.nodeType !== 8) && inside(signedInfo, n) }, opts);
  } catch (e) {
    if (!isTrucError(e)) throw e;
    return { ...out, signatureUnsupported: true, signatureProblem: e.message };
  }
  const key = publicKey(spki);
  if (typeof key === 'string') return { ...out, signatureUnsupported: true, signatureProblem: key };
  const value = b64text(dsChildren(sig, 'SignatureValue')[0]);
  const kt = key.asymmetricKeyType;
  const fits = method.family === 'ecdsa' ? kt === 'ec' : method.family === 'dsa' ? kt === 'dsa' : kt === 'rsa' || kt === 'rsa-pss';
  if (!fits) return { ...out, signatureValue: false, signatureProblem: `the signature method ${methodUri} does not fit the signer's ${kt ?? 'unknown'} key` };
  try {
    const ok =
      method.family === 'rsa'
        ? nodeVerify(method.hash, octets, key, value)
        : method.family === 'rsa-pss'
          ? nodeVerify(method.hash, octets, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: method.saltLength ?? HASH_BYTES[method.hash] }, value)
          : nodeVerify(method.hash, octets, { key, dsaEncoding: 'ieee-p1363' }, value);
    out.signatureValue = ok;
    if (!ok) out.signatureProblem = 'the signature value does not verify over the canonical SignedInfo with the signer\'s key';
  } catch (e) {
    // OpenSSL refusing the operation (a curve or size it does not do) is not a forgery
    return { ...out, signatureUnsupported: true, signatureProblem: `the signature value cannot be checked: ${(e as Error).message}` };
  }
  return out;
}

function inside(root: Node, n: Node): boolean {
  let x: Node | null = n.nodeType === 2 ? (n as Attr).ownerElement : n;
  for (; x; x = x.parentNode) if (x === root) return true;
  return false;
}
