/**
 * X.509 v3 certificate encoding on the hot path. A `CertTemplate` precomputes, once per issuing CA and
 * profile, every byte that does not change between certificates (version, algorithm, issuer, the constant
 * extensions); issuing one certificate then only assembles serial, validity, subject, key, key identifier
 * and alternative names around it. Byte equality with the @peculiar/asn1-x509 encoder is a test.
 */
import { hash } from 'node:crypto';
import {
  TRUE,
  NULL,
  bitString,
  ctx,
  ctxPrim,
  int,
  namedBits,
  octets,
  oid,
  seq,
  tlv,
  time,
  uintFromBytes,
  writeHeader,
} from '../asn1/der.js';
import { children, parseOne } from '../asn1/reader.js';
import { TrucError } from '../errors.js';
import { KEY_USAGES, ekuOid, type KeyUsage } from './profile.js';

export const OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  cRLNumber: '2.5.29.20',
  reasonCode: '2.5.29.21',
  invalidityDate: '2.5.29.24',
  deltaCRLIndicator: '2.5.29.27',
  issuingDistributionPoint: '2.5.29.28',
  nameConstraints: '2.5.29.30',
  cRLDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  anyPolicy: '2.5.29.32.0',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  freshestCRL: '2.5.29.46',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  ocsp: '1.3.6.1.5.5.7.48.1',
  caIssuers: '1.3.6.1.5.5.7.48.2',
  ocspNoCheck: '1.3.6.1.5.5.7.48.1.5',
} as const;

export function extension(extnId: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(extnId), TRUE, octets(value)) : seq(oid(extnId), octets(value));
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bytes. */
export function keyIdentifier(spki: Buffer): Buffer {
  const [, bits] = children(parseOne(spki, 'SubjectPublicKeyInfo'), 'SubjectPublicKeyInfo', 2);
  if (!bits || bits.tag !== 0x03) throw new TrucError('malformed_der', 'SubjectPublicKeyInfo without a key');
  return hash('sha1', bits.value.subarray(1), 'buffer');
}

export const ext = {
  basicConstraints(ca: boolean, pathLen?: number | null): Buffer {
    const body = ca ? seq(TRUE, ...(pathLen !== undefined && pathLen !== null ? [int(pathLen)] : [])) : seq();
    return extension(OID.basicConstraints, true, body);
  },
  keyUsage(usages: KeyUsage[]): Buffer {
    return extension(OID.keyUsage, true, namedBits(usages.map((u) => KEY_USAGES.indexOf(u))));
  },
  extKeyUsage(names: string[], critical: boolean): Buffer {
    return extension(OID.extKeyUsage, critical, seq(...names.map((n) => oid(ekuOid(n)))));
  },
  subjectKeyIdentifier(ski: Buffer): Buffer {
    return extension(OID.subjectKeyIdentifier, false, octets(ski));
  },
  authorityKeyIdentifier(ski: Buffer): Buffer {
    return extension(OID.authorityKeyIdentifier, false, seq(ctxPrim(0, ski)));
  },
  certificatePolicies(oids: string[]): Buffer {
    return extension(OID.certificatePolicies, false, seq(...oids.map((o) => seq(oid(o)))));
  },
  crlDistributionPoints(urls: string[]): Buffer {
    // DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames { [6] URI } } }
    return extension(
      OID.cRLDistributionPoints,
      false,
      seq(...urls.map((u) => seq(ctx(0, ctx(0, ctxPrim(6, Buffer.from(u, 'ascii'))))))),
    );
  },
  freshestCrl(urls: string[]): Buffer {
    return extension(
      OID.freshestCRL,
      false,
      seq(...urls.map((u) => seq(ctx(0, ctx(0, ctxPrim(6, Buffer.from(u, 'ascii'))))))),
    );
  },
  authorityInfoAccess(ocspUrl: string | null, caIssuersUrl: string | null): Buffer {
    const ads: Buffer[] = [];
    if (ocspUrl) ads.push(seq(oid(OID.ocsp), ctxPrim(6, Buffer.from(ocspUrl, 'ascii'))));
    if (caIssuersUrl) ads.push(seq(oid(OID.caIssuers), ctxPrim(6, Buffer.from(caIssuersUrl, 'ascii'))));
    return extension(OID.authorityInfoAccess, false, seq(...ads));
  },
  ocspNoCheck(): Buffer {
    return extension(OID.ocspNoCheck, false, NULL);
  },
  subjectAltName(generalNames: Buffer, critical: boolean): Buffer {
    return extension(OID.subjectAltName, critical, generalNames);
  },
  nameConstraints(nc: NameConstraints): Buffer {
    // permittedSubtrees [0] IMPLICIT GeneralSubtrees: the SEQUENCE OF's elements under a context tag
    const subtrees = (s: NameSubtrees) => [
      ...s.dns.map((d) => seq(tlv(0x82, Buffer.from(d, 'ascii')))),
      ...s.email.map((e) => seq(tlv(0x81, Buffer.from(e, 'ascii')))),
      ...s.directoryName.map((n) => seq(ctx(4, n))),
      ...s.ip.map((cidr) => seq(tlv(0x87, cidrBytes(cidr)))),
    ];
    const parts: Buffer[] = [];
    if (nc.permitted && hasAny(nc.permitted)) parts.push(ctx(0, ...subtrees(nc.permitted)));
    if (nc.excluded && hasAny(nc.excluded)) parts.push(ctx(1, ...subtrees(nc.excluded)));
    return extension(OID.nameConstraints, true, seq(...parts));
  },
};

export interface NameSubtrees {
  dns: string[];
  email: string[];
  /** DER-encoded Names */
  directoryName: Buffer[];
  /** CIDR strings, e.g. 10.0.0.0/8 */
  ip: string[];
}
export interface NameConstraints {
  permitted?: NameSubtrees;
  excluded?: NameSubtrees;
}

const hasAny = (s: NameSubtrees) => s.dns.length + s.email.length + s.directoryName.length + s.ip.length > 0;

function cidrBytes(cidr: string): Buffer {
  const [addr, bitsStr] = cidr.split('/');
  const v4 = addr.includes('.');
  const len = v4 ? 4 : 16;
  const bits = Number(bitsStr);
  if (!Number.isInteger(bits) || bits < 0 || bits > len * 8)
    throw new TrucError('bad_request', `bad CIDR "${cidr}"`);
  let a: Buffer;
  if (v4) a = Buffer.from(addr.split('.').map(Number));
  else {
    const [h, t] = addr.includes('::') ? addr.split('::') : [addr, ''];
    const hs = h ? h.split(':') : [];
    const ts = t ? t.split(':') : [];
    const groups = [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts];
    a = Buffer.alloc(16);
    groups.forEach((g, i) => a.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  }
  const mask = Buffer.alloc(len);
  for (let i = 0; i < bits; i++) mask[i >> 3] |= 0x80 >> (i & 7);
  return Buffer.concat([a, mask]);
}

export interface TbsFields {
  serial: Buffer; // unsigned magnitude
  notBefore: Date;
  notAfter: Date;
  subject: Buffer; // Name DER
  spki: Buffer;
  extensions: Buffer[]; // Extension DERs, in order
}

const VERSION_3 = ctx(0, int(2));

export function encodeTbs(signatureAlgorithm: Uint8Array, issuer: Buffer, f: TbsFields): Buffer {
  return seq(
    VERSION_3,
    uintFromBytes(f.serial),
    Buffer.from(signatureAlgorithm),
    issuer,
    seq(time(f.notBefore), time(f.notAfter)),
    f.subject,
    f.spki,
    ctx(3, seq(...f.extensions)),
  );
}

export function encodeCertificate(tbs: Buffer, signatureAlgorithm: Uint8Array, signature: Buffer): Buffer {
  return seq(tbs, Buffer.from(signatureAlgorithm), bitString(signature));
}

/** Fields of an issued certificate that the store indexes, read back from DER. */
export function tbsOf(cert: Buffer): { tbs: Buffer; fields: Buffer[] } {
  const [tbs] = children(parseOne(cert, 'certificate'), 'certificate', 3);
  return { tbs: Buffer.from(tbs.raw), fields: children(tbs, 'tbsCertificate', 12).map((f) => Buffer.from(f.raw)) };
}

const headerSize = (n: number) => (n < 0x80 ? 2 : n < 0x100 ? 3 : n < 0x10000 ? 4 : n < 0x1000000 ? 5 : 6);
const SKI_PREFIX = extension(OID.subjectKeyIdentifier, false, octets(Buffer.alloc(20))).subarray(0, -20);
const EMPTY = Buffer.alloc(0);

/** What changes from one certificate of a template to the next. */
export interface TemplateFields {
  serial: Buffer; // unsigned magnitude
  notBefore: Date;
  notAfter: Date;
  subject: Buffer; // Name DER
  spki: Buffer;
  /** the subject key identifier, when the caller derived it already (else computed from `spki`) */
  ski?: Buffer;
  /** subjectAltName extension DER, if any; it goes last */
  subjectAltName?: Buffer | null;
}

/**
 * An issuing CA's certificates of one profile: `head` extensions, the subject key identifier, `tail`
 * extensions, then an optional subjectAltName — the order `encodeTbs` would be given. Everything else
 * constant is concatenated once; a certificate costs one allocation for its tbs and one for the whole.
 * Output is byte-equal to `encodeTbs` and `encodeCertificate` (a test holds it to that).
 */
export class CertTemplate {
  private readonly front: Buffer; // the version; the serial comes next
  private readonly sigAlg: Buffer;
  private readonly issuer: Buffer;
  private readonly head: Buffer;
  private readonly tail: Buffer;
  private lastValidity: { nb: number; na: number; der: Buffer } | null = null;

  constructor(signatureAlgorithm: Uint8Array, issuer: Buffer, head: Buffer[], tail: Buffer[]) {
    this.front = VERSION_3;
    this.sigAlg = Buffer.from(signatureAlgorithm);
    this.issuer = issuer;
    this.head = Buffer.concat(head);
    this.tail = Buffer.concat(tail);
  }

  private validity(notBefore: Date, notAfter: Date): Buffer {
    const nb = notBefore.getTime();
    const na = notAfter.getTime();
    // a batch shares its validity (whole seconds from one clock reading): encode it once
    const v = this.lastValidity;
    if (v && v.nb === nb && v.na === na) return v.der;
    const der = seq(time(notBefore), time(notAfter));
    this.lastValidity = { nb, na, der };
    return der;
  }

  tbs(f: TemplateFields): Buffer {
    const serial = uintFromBytes(f.serial);
    const validity = this.validity(f.notBefore, f.notAfter);
    const ski = f.ski ?? keyIdentifier(f.spki);
    const san = f.subjectAltName ?? EMPTY;
    const extsLen = this.head.length + SKI_PREFIX.length + ski.length + this.tail.length + san.length;
    const extSeqLen = headerSize(extsLen) + extsLen;
    const bodyLen =
      this.front.length +
      serial.length +
      this.sigAlg.length +
      this.issuer.length +
      validity.length +
      f.subject.length +
      f.spki.length +
      headerSize(extSeqLen) +
      extSeqLen;
    const out = Buffer.allocUnsafe(headerSize(bodyLen) + bodyLen);
    let at = writeHeader(out, 0, 0x30, bodyLen);
    for (const part of [this.front, serial, this.sigAlg, this.issuer, validity, f.subject, f.spki]) {
      out.set(part, at);
      at += part.length;
    }
    at = writeHeader(out, at, 0xa3, extSeqLen);
    at = writeHeader(out, at, 0x30, extsLen);
    for (const part of [this.head, SKI_PREFIX, ski, this.tail, san]) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  certificate(tbs: Buffer, signature: Buffer): Buffer {
    const bitsLen = signature.length + 1;
    const bodyLen = tbs.length + this.sigAlg.length + headerSize(bitsLen) + bitsLen;
    const out = Buffer.allocUnsafe(headerSize(bodyLen) + bodyLen);
    let at = writeHeader(out, 0, 0x30, bodyLen);
    out.set(tbs, at);
    at += tbs.length;
    out.set(this.sigAlg, at);
    at += this.sigAlg.length;
    at = writeHeader(out, at, 0x03, bitsLen);
    out[at++] = 0;
    out.set(signature, at);
    return out;
  }
}
