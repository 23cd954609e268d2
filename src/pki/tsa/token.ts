/**
 * Time-stamp tokens (RFC 3161 section 2.4.2): a TSTInfo inside CMS SignedData (RFC 5652), signed by the
 * TSA's key with signed attributes contentType, messageDigest, signingTime and signingCertificateV2
 * (RFC 5816: an ESSCertIDv2 with SHA-256, the default algorithm, so left out). Everything that does not
 * change between tokens — the SignerIdentifier, the ESS attribute, the certificate set — is encoded once
 * per signer.
 */
import { createHash } from 'node:crypto';
import { ctx as explicit, int, octets, oid, seq, set, setOf, time, tlv, uintFromBytes } from '../../asn1/der.js';
import { children, parseOne } from '../../asn1/reader.js';
import { SCHEMES, type SignatureScheme } from '../../crypto/algorithms.js';
import { CMS_OIDS } from '../../asn1/oids.js';

const OID = CMS_OIDS;

export interface TokenSigner {
  scheme: SignatureScheme;
  certificate: Buffer;
  sign(data: Uint8Array): Buffer | Promise<Buffer>;
}

/** What is constant for one signer. */
export interface PreparedSigner {
  signer: TokenSigner;
  digest: 'sha256' | 'sha384' | 'sha512';
  digestAlgorithm: Buffer;
  sid: Buffer;
  essAttribute: Buffer;
  contentTypeAttribute: Buffer;
  certificates: Buffer;
}

const attribute = (type: string, value: Buffer) => seq(oid(type), set(value));

export function prepareSigner(signer: TokenSigner): PreparedSigner {
  const digest = SCHEMES[signer.scheme].hash ?? 'sha512';
  const cert = parseOne(signer.certificate, 'TSA certificate');
  const tbs = children(children(cert, 'TSA certificate', 3)[0], 'tbsCertificate', 12);
  const [serial, , issuer] = tbs[0].tag === 0xa0 ? tbs.slice(1) : tbs;
  const issuerSerial = seq(seq(explicit(4, issuer.raw)), serial.raw);
  const essCertId = seq(octets(createHash('sha256').update(signer.certificate).digest()), issuerSerial);
  return {
    signer,
    digest,
    digestAlgorithm: seq(oid(OID[digest])),
    sid: seq(issuer.raw, serial.raw),
    essAttribute: attribute(OID.signingCertificateV2, seq(seq(essCertId))),
    contentTypeAttribute: attribute(OID.contentType, oid(OID.tstInfo)),
    certificates: explicit(0, signer.certificate),
  };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** GeneralizedTime; with a fraction of a second (trailing zeros dropped, as DER wants) when asked. */
export function genTime(d: Date, fraction: boolean): Buffer {
  let s =
    pad(d.getUTCFullYear(), 4) +
    pad(d.getUTCMonth() + 1) +
    pad(d.getUTCDate()) +
    pad(d.getUTCHours()) +
    pad(d.getUTCMinutes()) +
    pad(d.getUTCSeconds());
  const ms = d.getUTCMilliseconds();
  if (fraction && ms) s += '.' + pad(ms, 3).replace(/0+$/, '');
  return tlv(0x18, Buffer.from(s + 'Z', 'ascii'));
}

export function accuracy(ms: number): Buffer {
  const seconds = Math.floor(ms / 1000);
  const millis = ms % 1000;
  return seq(...(seconds ? [int(seconds)] : []), ...(millis ? [tlv(0x80, int(millis).subarray(2))] : []));
}

export interface TstFields {
  policy: string;
  messageImprint: Buffer;
  serial: Buffer;
  genTime: Date;
  accuracyMs: number;
  nonce: Buffer | null;
}

export function encodeTstInfo(f: TstFields): Buffer {
  return seq(
    int(1),
    oid(f.policy),
    f.messageImprint,
    uintFromBytes(f.serial),
    genTime(f.genTime, f.accuracyMs < 1000),
    accuracy(f.accuracyMs),
    ...(f.nonce ? [f.nonce] : []),
  );
}

/** ContentInfo(SignedData) around a TSTInfo: the TimeStampToken. */
export async function signToken(p: PreparedSigner, tstInfo: Buffer, at: Date, includeCert: boolean): Promise<Buffer> {
  const digest = createHash(p.digest).update(tstInfo).digest();
  const attrs = setOf([
    p.contentTypeAttribute,
    attribute(OID.signingTime, time(at)),
    attribute(OID.messageDigest, octets(digest)),
    p.essAttribute,
  ]);
  const signature = await p.signer.sign(attrs);
  // the signature is over the attributes as a SET (0x31); in SignerInfo they are [0] IMPLICIT
  const signedAttrs = Buffer.from(attrs);
  signedAttrs[0] = 0xa0;
  const signerInfo = seq(
    int(1),
    p.sid,
    p.digestAlgorithm,
    signedAttrs,
    Buffer.from(SCHEMES[p.signer.scheme].algorithmIdentifier),
    octets(signature),
  );
  const signedData = seq(
    int(3),
    set(p.digestAlgorithm),
    seq(oid(OID.tstInfo), explicit(0, octets(tstInfo))),
    ...(includeCert ? [p.certificates] : []),
    set(signerInfo),
  );
  return seq(oid(OID.signedData), explicit(0, signedData));
}
