/**
 * Verifies a detached CMS SignedData over given content: brings BER to DER, walks the structure with the
 * bounded DER reader (so the signature is checked over exactly the DER that was signed), requires the signed attributes
 * and checks each — contentType is id-data, messageDigest equals the content's digest (compared in
 * constant time), signingTime is present, and signingCertificateV2, when present, names the signer's
 * certificate — then the signature with the signer's key, and, given trust anchors, the signer's path at
 * the signing time with key usage digitalSignature or nonRepudiation. Any failure throws
 * `invalid_signature` saying which check failed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { children, decodeOid, parseOne, readElement, checkTree, type Element } from '../../asn1/reader.js';
import { TrucError } from '../../errors.js';
import { checkSignature, parseCertificate, validatePath, type Certificate, type TrustAnchorInput } from '../../pki/path/index.js';
import { decodeName, nameToString } from '../../pki/index.js';
import { digestFromAlgorithmId, OIDS, type DigestName } from './attributes.js';
import { berToDer, signedAttributesOctets } from './ber.js';

/** A lab report's signature is a few kilobytes; a CMS with a long chain stays well under this. */
export const MAX_CMS_BYTES = 1 << 20;
const MAX_CERTS = 20;
const MAX_ATTRS = 32;

export interface DetachedVerifyOptions {
  /** roots to build the signer's path to; without them only the signature itself is checked */
  trustAnchors?: TrustAnchorInput[];
  /** validation time of the path; defaults to the signingTime attribute */
  at?: Date;
}

export interface DetachedVerification {
  signer: { subject: string; issuer: string; serial: string; certificate: Buffer };
  signingTime: Date;
  digest: DigestName;
  /** true when trust anchors were given and the signer's path validated against them */
  trusted: boolean;
  /** the validated path (signer first) when trusted */
  path: Buffer[];
  certificates: Buffer[];
}

const bad = (message: string, detail?: Record<string, unknown>): TrucError => new TrucError('invalid_signature', message, detail);

function expect(el: Element | undefined, tag: number, what: string): Element {
  if (!el || el.tag !== tag) throw bad(`${what}: expected tag 0x${tag.toString(16)}${el ? `, found 0x${el.tag.toString(16)}` : ''}`);
  return el;
}

function oidOf(el: Element | undefined, what: string): string {
  return decodeOid(expect(el, 0x06, what).value);
}

function dnString(c: Certificate, which: 'subject' | 'issuer'): string {
  try {
    return nameToString(decodeName(c[which].der));
  } catch {
    return c[which].der.toString('hex');
  }
}

function readTime(el: Element): Date {
  const s = el.value.toString('ascii');
  const m = el.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) throw bad('signingTime is not a UTCTime or GeneralizedTime in Zulu');
  let y = Number(m[1]);
  if (el.tag === 0x17) y += y < 50 ? 2000 : 1900;
  return new Date(Date.UTC(y, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

export async function verifyDetached(cms: Uint8Array, content: Uint8Array, opts: DetachedVerifyOptions = {}): Promise<DetachedVerification> {
  const input = Buffer.from(cms.buffer, cms.byteOffset, cms.byteLength);
  if (input.length > MAX_CMS_BYTES) throw new TrucError('too_large', `signature of ${input.length} bytes exceeds ${MAX_CMS_BYTES}`);
  let buf: Buffer;
  try {
    buf = berToDer(input, 'CMS', 40);
    checkTree(buf, 'CMS', 40);
  } catch (e) {
    throw bad(`neither DER nor BER: ${(e as Error).message}`);
  }
  const ci = children(parseOne(buf, 'CMS', MAX_CMS_BYTES));
  if (oidOf(ci[0], 'contentType') !== OIDS.signedData) throw bad('not a CMS SignedData');
  const sd = children(expect(children(expect(ci[1], 0xa0, 'content'))[0], 0x30, 'SignedData'));
  let i = 0;
  expect(sd[i++], 0x02, 'SignedData.version');
  expect(sd[i++], 0x31, 'digestAlgorithms');
  const encap = children(expect(sd[i++], 0x30, 'encapContentInfo'));
  if (oidOf(encap[0], 'eContentType') !== OIDS.data) throw bad('eContentType is not id-data');
  if (encap.length > 1) throw bad('the content is embedded: expected a detached signature');
  const certificates: Buffer[] = [];
  if (sd[i]?.tag === 0xa0) {
    const certs = children(sd[i++], 'certificates', MAX_CERTS);
    for (const c of certs) if (c.tag === 0x30) certificates.push(Buffer.from(c.raw));
  }
  if (sd[i]?.tag === 0xa1) i++; // CRLs: not used for the verdict here
  const signerInfos = children(expect(sd[i], 0x31, 'signerInfos'));
  if (signerInfos.length !== 1) throw bad(`expected one signer, found ${signerInfos.length}`);

  const si = children(expect(signerInfos[0], 0x30, 'SignerInfo'));
  let j = 0;
  const version = expect(si[j++], 0x02, 'SignerInfo.version');
  const sid = si[j++];
  let signerCert: Certificate | undefined;
  const parsed = certificates.map((c) => {
    try {
      return parseCertificate(c);
    } catch (e) {
      throw bad(`a certificate in the signature is malformed: ${(e as Error).message}`);
    }
  });
  if (sid?.tag === 0x30 && version.value.equals(Buffer.from([1]))) {
    const [issuer, serial] = children(sid, 'sid');
    signerCert = parsed.find((c) => c.issuer.der.equals(issuer.raw) && serial?.tag === 0x02 && c.serial.equals(serial.value));
  } else if (sid?.tag === 0x80 && version.value.equals(Buffer.from([3]))) {
    signerCert = parsed.find((c) => c.subjectKeyId?.equals(sid.value));
  } else throw bad('SignerInfo: version and signer identifier do not agree');
  if (!signerCert) throw bad("the signer's certificate is not in the signature");

  const digest = digestFromAlgorithmId(Buffer.from(expect(si[j++], 0x30, 'digestAlgorithm').raw));
  if (!digest) throw bad('unsupported digest algorithm');
  const attrsEl = si[j]?.tag === 0xa0 ? si[j++] : undefined;
  if (!attrsEl) throw bad('no signed attributes');
  const sigAlg = Buffer.from(expect(si[j++], 0x30, 'signatureAlgorithm').raw);
  const signature = Buffer.from(expect(si[j++], 0x04, 'signature').value);

  const attrs = new Map<string, Element[]>();
  for (const a of children(attrsEl, 'signedAttrs', MAX_ATTRS)) {
    const [type, values] = children(expect(a, 0x30, 'Attribute'));
    const t = oidOf(type, 'attrType');
    if (attrs.has(t)) throw bad(`signed attribute ${t} appears twice`);
    attrs.set(t, children(expect(values, 0x31, 'attrValues')));
  }
  const single = (t: string, name: string): Element => {
    const v = attrs.get(t);
    if (!v) throw bad(`signed attribute ${name} is missing`);
    if (v.length !== 1) throw bad(`signed attribute ${name} must have one value`);
    return v[0];
  };
  if (oidOf(single(OIDS.contentType, 'contentType'), 'contentType') !== OIDS.data) throw bad('contentType attribute is not id-data');
  const md = expect(single(OIDS.messageDigest, 'messageDigest'), 0x04, 'messageDigest').value;
  const actual = createHash(digest).update(content).digest();
  if (md.length !== actual.length || !timingSafeEqual(md, actual)) throw bad('the content does not match the signed message digest');
  const signingTime = readTime(single(OIDS.signingTime, 'signingTime'));
  if (attrs.has(OIDS.signingCertificateV2)) {
    const sc = children(expect(single(OIDS.signingCertificateV2, 'signingCertificateV2'), 0x30, 'SigningCertificateV2'));
    const first = children(expect(children(expect(sc[0], 0x30, 'certs'))[0], 0x30, 'ESSCertIDv2'));
    let k = 0;
    let hashName: DigestName | undefined = 'sha256';
    if (first[k]?.tag === 0x30) hashName = digestFromAlgorithmId(Buffer.from(first[k++].raw));
    if (!hashName) throw bad('signingCertificateV2: unsupported hash');
    const certHash = expect(first[k], 0x04, 'certHash').value;
    if (!createHash(hashName).update(signerCert.der).digest().equals(certHash))
      throw bad('signingCertificateV2 does not name the signer certificate');
  }

  // The signature covers the DER attributes as a SET OF (tag 0x31), not as carried under [0].
  const check = checkSignature(normaliseRsa(sigAlg, digest), signerCert.spki, signedAttributesOctets(attrsEl, !buf.equals(input)), signature);
  if (check !== 'ok') throw bad(`signature check failed: ${check}`);

  let trusted = false;
  let path: Buffer[] = [];
  if (opts.trustAnchors?.length) {
    const r = await validatePath({
      target: signerCert.der,
      intermediates: certificates.filter((c) => !c.equals(signerCert!.der)),
      trustAnchors: opts.trustAnchors,
      time: opts.at ?? signingTime,
    });
    if (!r.valid) throw bad(`the signer's certificate is not trusted: ${r.message}`, { reason: r.reason });
    const ku = signerCert.keyUsage;
    if (ku && !ku.has('digitalSignature') && !ku.has('nonRepudiation')) throw bad("the signer's certificate is not for signing");
    trusted = true;
    path = r.path;
  }
  return {
    signer: { subject: dnString(signerCert, 'subject'), issuer: dnString(signerCert, 'issuer'), serial: signerCert.serialHex, certificate: signerCert.der },
    signingTime,
    digest,
    trusted,
    path,
    certificates,
  };
}

/** rsaEncryption in SignerInfo (common in CMS) means PKCS#1 v1.5 with the SignerInfo's digest. */
function normaliseRsa(alg: Buffer, digest: DigestName): Buffer {
  const el = readElement(alg);
  const oid = decodeOid(children(el)[0].value);
  if (oid !== '1.2.840.113549.1.1.1') return alg;
  const ids = { sha256: '300d06092a864886f70d01010b0500', sha384: '300d06092a864886f70d01010c0500', sha512: '300d06092a864886f70d01010d0500' };
  return Buffer.from(ids[digest], 'hex');
}
