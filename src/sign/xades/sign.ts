/**
 * XAdES baseline B-B (ETSI EN 319 132-1) in the three packagings of XML-DSig, each with SignedProperties
 * (SigningTime, SigningCertificateV2) and SignedInfo canonicalised with exclusive C14N:
 *   enveloped  a ds:Signature inside the document's root element, whose reference URI="" covers the whole
 *              document through the enveloped-signature transform, then exclusive C14N;
 *   enveloping the ds:Signature is the document: the content (an XML document) sits in a ds:Object of the
 *              signature with an Id, and the reference "#id" covers that ds:Object (exclusive C14N);
 *   detached   the ds:Signature is a document of its own and the reference names the content by a URI (its
 *              file name), the digest taken over the content's bytes as they are (no transforms), so any
 *              file can be signed; over several files, a reference each (`signXadesDetached`).
 * An enveloped signature is written into the document's own bytes, in its encoding (`edit.ts`).
 * The KeyInfo carries the signer's certificate and chain. The signature value comes from the
 * ExternalSigner through the engine in `engine.ts`; xadesjs builds and canonicalises the rest. The content
 * references of enveloping and detached signatures are digested here (exclusive C14N makes the ds:Object's
 * canonical form independent of where it ends up) and handed to xadesjs with their digests.
 */
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { XMLSerializer } from '@xmldom/xmldom';
import { CryptoConfig, Reference, Transforms, XmlDsigExcC14NTransform } from 'xmldsigjs';
import { TrucError } from '../../errors.js';
import { SCHEMES } from '../../crypto/algorithms.js';
import { externalKey, xades } from './engine.js';
import { parseXml } from './parse.js';
import { editXml } from './edit.js';
import { DS_NS, EXC_C14N, excC14n } from './c14n.js';
import type { ExternalSigner } from '../signer.js';
import { needTimeStamper, rank, type Level, type LevelContext } from '../level.js';
import { augmentXades, tokenId } from './levels.js';
import { DS, ENVELOPED, idIndex, referenceData } from './dsig/reference.js';
import type { DetachedDocument } from './detached.js';

export type XadesPackaging = 'enveloped' | 'enveloping' | 'detached';

export interface XadesOptions {
  signingTime?: Date;
  /** baseline level (default B-B); B-T and B-LT need the context's time-stamper and revocation data */
  level?: Level;
  context?: LevelContext;
  /** default enveloped; enveloping and detached make the signature a document of its own */
  packaging?: XadesPackaging;
  /** detached: the URI the reference names the content by — its file name, as the relying party will have it */
  contentUri?: string;
  /**
   * the ds:Signature's Id (SignedProperties is "xades-" + it, an enveloping ds:Object "content-" + it); by
   * default random. Two-phase signing derives it from the document and the parameters, so that the same
   * request gives the same SignedInfo to sign.
   */
  signatureId?: string;
  /**
   * a xades:AllDataObjectsTimeStamp in the signed properties (EN 319 132-1 §5.2.8.1): the context's time-stamper
   * stamps the data of every content reference, as the references give it, before the signature is made — a proof
   * that the content existed then, whenever it was signed
   */
  dataTimeStamp?: boolean;
}

const CURVES: Record<string, string> = { 'prime256v1': 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };
const NODE_HASH: Record<string, string> = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

/** A URI for a detached reference: a relative reference without a fragment, characters outside URIs escaped. */
function detachedUri(uri: string | undefined): string {
  const u = uri ?? 'content';
  if (!u || u.startsWith('#') || u.length > 1024 || /[\u0000-\u001f]/.test(u)) throw new TrucError('bad_request', 'a detached XAdES reference names its content by a non-empty URI without "#"');
  return encodeURI(u);
}

/** What the enveloped reference (URI="", enveloped-signature, exclusive C14N) gives of a document the signature is not in yet. */
function envelopedData(doc: Document): Buffer {
  const ref = parseXml(`<ds:Reference xmlns:ds="${DS}" URI=""><ds:Transforms><ds:Transform Algorithm="${ENVELOPED}"/><ds:Transform Algorithm="${EXC_C14N}"/></ds:Transforms></ds:Reference>`).documentElement;
  return referenceData(doc, ref, ref, idIndex(doc)).octets;
}

/**
 * Signs `input`: text gives text; bytes give bytes — an enveloped signature in the document's own encoding (after
 * its byte-order mark), the document's bytes otherwise unchanged (`edit.ts`); a signature of its own in UTF-8.
 */
export async function signXades(input: string, signer: ExternalSigner, opts?: XadesOptions): Promise<string>;
export async function signXades(input: Uint8Array, signer: ExternalSigner, opts?: XadesOptions): Promise<Buffer>;
export async function signXades(input: Uint8Array | string, signer: ExternalSigner, opts?: XadesOptions): Promise<string | Buffer>;
export async function signXades(input: Uint8Array | string, signer: ExternalSigner, opts: XadesOptions = {}): Promise<string | Buffer> {
  if ((opts.packaging ?? 'enveloped') !== 'detached') return sign(input, signer, opts);
  const content = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
  const out = await sign(undefined, signer, opts, [{ name: opts.contentUri ?? 'content', content }]);
  return typeof input === 'string' ? out.toString() : Buffer.from(out);
}

/** at most this many files in one detached signature: with SignedProperties, the references an archive time-stamp takes */
export const MAX_DETACHED_FILES = 15;

/**
 * One detached signature over several files (a dossier: the decision, its annexes): a ds:Reference for each, named by
 * its `name` (the file name the relying party will have; escaped as a URI), digesting its bytes as they are.
 * Validation and augmentation take the same files (`DetachedDocument`s) and match each reference by name, or by
 * digest. B-LTA needs the files: the archive time-stamp covers them.
 */
export async function signXadesDetached(documents: readonly DetachedDocument[], signer: ExternalSigner, opts: Omit<XadesOptions, 'packaging' | 'contentUri'> = {}): Promise<Buffer> {
  if (!documents.length) throw new TrucError('bad_request', 'chữ ký tách rời cần ít nhất một tệp / a detached signature needs at least one file');
  if (documents.length > MAX_DETACHED_FILES) throw new TrucError('bad_request', `chữ ký tách rời bao phủ tối đa ${MAX_DETACHED_FILES} tệp / a detached signature covers at most ${MAX_DETACHED_FILES} files`);
  const uris = documents.map((d) => detachedUri(d.name));
  const twice = uris.find((u, i) => uris.indexOf(u) !== i);
  if (twice) throw new TrucError('bad_request', `hai tệp cùng tên "${decodeURI(twice)}" / two files are named "${decodeURI(twice)}": each reference names its file by name`);
  return Buffer.from(await sign(undefined, signer, { ...opts, packaging: 'detached' }, documents));
}

async function sign(input: Uint8Array | string | undefined, signer: ExternalSigner, opts: XadesOptions, documents?: readonly DetachedDocument[]): Promise<string | Buffer> {
  const packaging = opts.packaging ?? 'enveloped';
  if (!['enveloped', 'enveloping', 'detached'].includes(packaging)) throw new TrucError('bad_request', `unknown XAdES packaging "${packaging}" (enveloped, enveloping, detached)`);
  // RSA-PSS in XML-DSig (RFC 6931 …#rsa-pss) is unknown to xmlsec1 1.2 and most XML-DSig verifiers: a relying party could
  // not check it, so XAdES is made with PKCS#1 v1.5 or ECDSA (CAdES and PAdES take PSS)
  if (SCHEMES[signer.scheme]?.family === 'rsa-pss') throw new TrucError('unsupported', 'XAdES signatures are made with RSA PKCS#1 v1.5 or ECDSA: RSA-PSS is not supported by common XML-DSig verifiers');
  const x = xades();
  const cert = new X509Certificate(Buffer.from(signer.certificate));
  const curve = cert.publicKey.asymmetricKeyDetails?.namedCurve;
  const { algorithm, key } = externalKey(signer, curve ? CURVES[curve] : undefined);
  const b64 = Buffer.from(signer.certificate).toString('base64');
  const hash = (algorithm.hash as { name: string }).name;
  const signed = new x.SignedXml();
  if (opts.signatureId) {
    if (!/^[A-Za-z_][\w.-]{0,100}$/.test(opts.signatureId)) throw new TrucError('bad_request', 'a signature Id is an XML NCName of at most 100 characters');
    signed.XmlSignature.Id = opts.signatureId;
    signed.Properties!.Target = `#${opts.signatureId}`;
    signed.Properties!.SignedProperties.Id = `xades-${opts.signatureId}`;
  }
  signed.XmlSignature.SignedInfo.CanonicalizationMethod.Algorithm = EXC_C14N;

  let doc: Document;
  let object: Element | undefined;
  const edit = packaging === 'enveloped' ? editXml(input!) : undefined;
  if (edit) doc = edit.doc;
  else if (documents) {
    // detached: a reference to each file, its bytes digested as they are (no transforms)
    doc = parseXml('<detached/>');
    for (const d of documents) {
      const ref = new Reference();
      ref.DigestMethod.Algorithm = CryptoConfig.GetHashAlgorithm(hash).namespaceURI;
      ref.Uri = detachedUri(d.name);
      ref.DigestValue = createHash(NODE_HASH[hash]).update(d.content).digest();
      signed.XmlSignature.SignedInfo.References.Add(ref);
    }
  } else {
    const ref = new Reference();
    ref.DigestMethod.Algorithm = CryptoConfig.GetHashAlgorithm(hash).namespaceURI;
    // enveloping: the content in a ds:Object of the signature
    const content = parseXml(input!);
    const id = `content-${opts.signatureId ?? randomBytes(8).toString('hex')}`;
    doc = parseXml(`<ds:Object xmlns:ds="${DS_NS}" Id="${id}"/>`);
    object = doc.documentElement;
    object.appendChild(doc.importNode(content.documentElement, true));
    ref.Uri = `#${id}`;
    const transforms = new Transforms();
    transforms.Add(new XmlDsigExcC14NTransform());
    ref.Transforms = transforms;
    ref.DigestValue = createHash(NODE_HASH[hash]).update(excC14n(object)).digest();
    signed.XmlSignature.SignedInfo.References.Add(ref);
  }
  if (opts.dataTimeStamp) {
    // the data each content reference will give, in SignedInfo's order: the document without the signature in
    // exclusive canonical form (enveloped; a document without it yet), the ds:Object's exclusive canonical form
    // (enveloping), each file's bytes (detached) — what `data-timestamps.ts` recomputes on validation
    const data = edit ? envelopedData(doc) : object ? excC14n(object) : Buffer.concat((documents ?? []).map((d) => Buffer.from(d.content)));
    const token = await needTimeStamper(opts.context ?? {}).stamp(createHash('sha256').update(data).digest(), 'sha256');
    const ts = new x.xml.AllDataObjectsTimeStamp();
    ts.Id = tokenId(token, 'DTS');
    ts.CanonicalizationMethod.Algorithm = EXC_C14N;
    const enc = new x.xml.EncapsulatedTimeStamp();
    enc.Value = new Uint8Array(token);
    ts.EncapsulatedTimeStamp.Add(enc);
    signed.Properties!.SignedProperties.SignedDataObjectProperties.AllDataObjectsTimeStamps.Add(ts);
  }
  await signed.Sign(algorithm as never, key, doc as never, {
    ...(packaging === 'enveloped' ? { references: [{ uri: '', hash, transforms: ['enveloped', 'exc-c14n'] }] } : {}),
    x509: [b64, ...(signer.chain ?? []).map((c) => Buffer.from(c).toString('base64'))],
    signingCertificateV2: b64,
    signingTime: { value: opts.signingTime ?? new Date() },
  } as never);
  let bb: string | Buffer;
  if (edit) {
    doc.documentElement.appendChild(signed.GetXml() as never);
    bb = edit.output();
  } else {
    const out = parseXml(new XMLSerializer().serializeToString(signed.GetXml() as never));
    if (object) out.documentElement.appendChild(out.importNode(object, true));
    const text = new XMLSerializer().serializeToString(out as never);
    bb = typeof input === 'string' ? text : Buffer.from(text, 'utf8');
  }
  if (rank(opts.level ?? 'B-B') === 0) return bb;
  // enveloped: ours is the root's last child, so the last in document order; otherwise it is the root, the first
  const index = edit ? doc.getElementsByTagNameNS(DS_NS, 'Signature').length - 1 : 0;
  return augmentXades(bb, opts.level!, opts.context ?? {}, index, documents ? (documents.length === 1 ? documents[0].content : documents) : undefined);
}
