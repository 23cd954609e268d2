/**
 * Test certificates, CRLs and OCSP responses, built from scratch with the DER encoder and node:crypto so
 * every field (and every defect) is under the test's control.
 */
import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate as AsnCertificate, Name as AsnName } from '@peculiar/asn1-x509';
import {
  BasicOCSPResponse,
  CertID,
  CertStatus,
  OCSPResponse,
  OCSPResponseStatus,
  ResponderID,
  ResponseBytes,
  ResponseData,
  RevokedInfo,
  SingleResponse,
  id_pkix_ocsp_basic,
} from '@peculiar/asn1-ocsp';
import { createHash } from 'node:crypto';
import {
  bitString,
  ctx,
  ctxPrim,
  ia5,
  int,
  namedBits,
  octets,
  oid,
  printable,
  seq,
  set,
  time,
  tlv,
  utf8,
  NULL,
  TRUE,
} from '../../../src/asn1/der.js';
import { children, readElement } from '../../../src/asn1/reader.js';
import { signWith } from '../../../src/crypto/sign.js';
import { SCHEMES, type SignatureScheme } from '../../../src/crypto/algorithms.js';
import { KEY_USAGE_BITS, type KeyUsageName } from '../../../src/pki/path/oids.js';

export type KeyKind = 'ec' | 'rsa' | 'rsa-pss' | 'ed25519';
export interface Key {
  kind: KeyKind;
  privateKey: KeyObject;
  publicKey: KeyObject;
  spki: Buffer;
}

export function newKey(kind: KeyKind = 'ec'): Key {
  const { privateKey, publicKey } =
    kind === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : kind === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kind, privateKey, publicKey, spki: publicKey.export({ format: 'der', type: 'spki' }) as Buffer };
}

function scheme(k: Key): SignatureScheme {
  return k.kind === 'ec'
    ? 'ecdsa-sha256'
    : k.kind === 'ed25519'
      ? 'ed25519'
      : k.kind === 'rsa-pss'
        ? 'rsa-pss-sha256'
        : 'rsa-pkcs1-sha256';
}

export function algId(k: Key): Buffer {
  return Buffer.from(SCHEMES[scheme(k)].algorithmIdentifier);
}

export function sign(k: Key, data: Buffer): Buffer {
  return signWith(k.privateKey, scheme(k), data);
}

const ATTR: Record<string, string> = {
  CN: '2.5.4.3',
  C: '2.5.4.6',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  L: '2.5.4.7',
  emailAddress: '1.2.840.113549.1.9.1',
};

/** "CN=x, O=y, C=VN" in the order written (most significant first is the caller's job). */
export function dn(s: string): Buffer {
  const rdns = s
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const i = p.indexOf('=');
      const k = p.slice(0, i);
      const v = p.slice(i + 1);
      const val = k === 'C' ? printable(v) : k === 'emailAddress' ? ia5(v) : utf8(v);
      return set(seq(oid(ATTR[k] ?? k), val));
    });
  return seq(...rdns);
}

function ext(o: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(o), ...(critical ? [TRUE] : []), octets(value));
}

export type Subtree =
  { dns: string } | { email: string } | { ip: string } | { dir: string } | { uri: string };

function ipBytes(s: string): Buffer {
  if (s.includes(':')) {
    const [head, tail] = s.split('::');
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail ? tail.split(':') : [];
    const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    return Buffer.from(
      groups.flatMap((g) => {
        const n = parseInt(g, 16);
        return [n >> 8, n & 0xff];
      }),
    );
  }
  return Buffer.from(s.split('.').map(Number));
}

function cidr(s: string): Buffer {
  const [addr, bits] = s.split('/');
  const a = ipBytes(addr);
  const n = Number(bits);
  const mask = Buffer.alloc(a.length);
  for (let i = 0; i < n; i++) mask[i >> 3] |= 0x80 >> (i & 7);
  return Buffer.concat([a, mask]);
}

function generalName(t: Subtree | { ipAddr: string }): Buffer {
  if ('dns' in t) return ctxPrim(2, Buffer.from(t.dns));
  if ('email' in t) return ctxPrim(1, Buffer.from(t.email));
  if ('uri' in t) return ctxPrim(6, Buffer.from(t.uri));
  if ('ip' in t) return ctxPrim(7, cidr(t.ip));
  if ('ipAddr' in t) return ctxPrim(7, ipBytes(t.ipAddr));
  return ctx(4, dn(t.dir));
}

export interface Party {
  name: string;
  key: Key;
  /** SKI of the issuer, for the AKI of what it issues */
  keyId?: Buffer;
}

export interface CertSpec {
  subject: string;
  key: Key;
  issuer?: Party;
  serial?: number;
  notBefore: Date;
  notAfter: Date;
  ca?: boolean;
  /** false: no basicConstraints at all */
  basicConstraints?: boolean;
  pathLen?: number;
  keyUsage?: KeyUsageName[];
  eku?: string[];
  san?: (Subtree | { ipAddr: string })[];
  permitted?: Subtree[];
  excluded?: Subtree[];
  policies?: string[];
  policyMappings?: [string, string][];
  requireExplicitPolicy?: number;
  inhibitAnyPolicy?: number;
  crlDp?: string[];
  /** cRLIssuer of the (single) distribution point: an indirect CRL's issuer */
  crlDpIssuer?: string;
  ocspUrl?: string;
  aki?: boolean;
  extra?: { oid: string; critical: boolean; value: Buffer }[];
  /** serialNumber INTEGER content bytes, as written (zero, negative, over-long serials) */
  serialBytes?: Buffer;
  /** 1: a version 1 certificate, without extensions */
  version?: 1 | 3;
  ski?: boolean;
  akiCritical?: boolean;
  sanCritical?: boolean;
  /** false: basicConstraints written non-critical */
  bcCritical?: boolean;
  /** the SubjectPublicKeyInfo to certify instead of `key`'s (weak or odd keys nobody signs with) */
  spki?: Buffer;
  /** sign with ecdsa-with-SHA1 (an EC issuer key) */
  sha1?: boolean;
}

export function keyId(k: Key): Buffer {
  // method 1 of RFC 5280 4.2.1.2: SHA-1 of the subjectPublicKey bit string content
  const [, bits] = children(readElement(k.spki, 0));
  return createHash('sha1').update(bits.value.subarray(1)).digest();
}

let serialCounter = 1000;
export function issueCert(spec: CertSpec): Buffer {
  const issuer = spec.issuer ?? { name: spec.subject, key: spec.key };
  const exts: Buffer[] = [];
  if (spec.basicConstraints !== false && (spec.ca !== undefined || spec.pathLen !== undefined))
    exts.push(
      ext(
        '2.5.29.19',
        spec.bcCritical !== false,
        seq(...(spec.ca ? [TRUE] : []), ...(spec.pathLen !== undefined ? [int(spec.pathLen)] : [])),
      ),
    );
  if (spec.keyUsage)
    exts.push(ext('2.5.29.15', true, namedBits(spec.keyUsage.map((k) => KEY_USAGE_BITS.indexOf(k)))));
  if (spec.eku) exts.push(ext('2.5.29.37', false, seq(...spec.eku.map(oid))));
  if (spec.ski !== false) exts.push(ext('2.5.29.14', false, octets(keyId(spec.key))));
  if (spec.aki !== false)
    exts.push(ext('2.5.29.35', !!spec.akiCritical, seq(ctxPrim(0, issuer.keyId ?? keyId(issuer.key)))));
  if (spec.san) exts.push(ext('2.5.29.17', !!spec.sanCritical, seq(...spec.san.map(generalName))));
  if (spec.permitted || spec.excluded)
    exts.push(
      ext(
        '2.5.29.30',
        true,
        seq(
          ...(spec.permitted ? [ctx(0, ...spec.permitted.map((t) => seq(generalName(t))))] : []),
          ...(spec.excluded ? [ctx(1, ...spec.excluded.map((t) => seq(generalName(t))))] : []),
        ),
      ),
    );
  if (spec.policies) exts.push(ext('2.5.29.32', false, seq(...spec.policies.map((p) => seq(oid(p))))));
  if (spec.policyMappings)
    exts.push(ext('2.5.29.33', true, seq(...spec.policyMappings.map(([a, b]) => seq(oid(a), oid(b))))));
  if (spec.requireExplicitPolicy !== undefined)
    exts.push(ext('2.5.29.36', true, seq(ctxPrim(0, int(spec.requireExplicitPolicy).subarray(2)))));
  if (spec.inhibitAnyPolicy !== undefined) exts.push(ext('2.5.29.54', true, int(spec.inhibitAnyPolicy)));
  if (spec.crlDp)
    exts.push(
      ext(
        '2.5.29.31',
        false,
        seq(
          ...spec.crlDp.map((u) =>
            seq(
              ctx(0, ctx(0, ctxPrim(6, Buffer.from(u)))),
              ...(spec.crlDpIssuer ? [ctx(2, ctx(4, dn(spec.crlDpIssuer)))] : []),
            ),
          ),
        ),
      ),
    );
  if (spec.ocspUrl)
    exts.push(
      ext(
        '1.3.6.1.5.5.7.1.1',
        false,
        seq(seq(oid('1.3.6.1.5.5.7.48.1'), ctxPrim(6, Buffer.from(spec.ocspUrl)))),
      ),
    );
  for (const e of spec.extra ?? []) exts.push(ext(e.oid, e.critical, e.value));
  const alg = spec.sha1 ? seq(oid('1.2.840.10045.4.1')) : algId(issuer.key);
  const tbs = seq(
    ...(spec.version === 1 ? [] : [ctx(0, int(2))]),
    spec.serialBytes ? tlv(0x02, spec.serialBytes) : int(spec.serial ?? serialCounter++),
    alg,
    dn(issuer.name),
    seq(time(spec.notBefore), time(spec.notAfter)),
    dn(spec.subject),
    spec.spki ?? spec.key.spki,
    ...(spec.version === 1 ? [] : [ctx(3, seq(...exts))]),
  );
  const signature = spec.sha1 ? nodeSign('sha1', tbs, issuer.key.privateKey) : sign(issuer.key, tbs);
  return seq(tbs, alg, bitString(signature));
}

export function serialOf(certDer: Buffer): number {
  const c = AsnConvert.parse(certDer, AsnCertificate);
  return Number(BigInt('0x' + Buffer.from(c.tbsCertificate.serialNumber).toString('hex')));
}

/** Flips one byte near the end of the signature. */
export function corrupt(der: Buffer): Buffer {
  const out = Buffer.from(der);
  out[out.length - 3] ^= 0x01;
  return out;
}

export interface CrlSpec {
  issuer: Party;
  thisUpdate: Date;
  nextUpdate?: Date;
  revoked?: { serial: number; date: Date; reason?: number; certificateIssuer?: string }[];
  crlNumber?: number;
  crlNumberCritical?: boolean;
  baseCrlNumber?: number;
  freshest?: string;
  idp?: { uri?: string; onlyUser?: boolean; onlyCA?: boolean; indirect?: boolean };
}

export function issueCrl(spec: CrlSpec): Buffer {
  const exts: Buffer[] = [
    seq(oid('2.5.29.35'), octets(seq(ctxPrim(0, spec.issuer.keyId ?? keyId(spec.issuer.key))))),
  ];
  if (spec.crlNumber !== undefined) exts.push(ext('2.5.29.20', !!spec.crlNumberCritical, int(spec.crlNumber)));
  if (spec.baseCrlNumber !== undefined) exts.push(ext('2.5.29.27', true, int(spec.baseCrlNumber)));
  if (spec.freshest)
    exts.push(ext('2.5.29.46', false, seq(seq(ctx(0, ctx(0, ctxPrim(6, Buffer.from(spec.freshest))))))));
  if (spec.idp) {
    const f: Buffer[] = [];
    if (spec.idp.uri) f.push(ctx(0, ctx(0, ctxPrim(6, Buffer.from(spec.idp.uri)))));
    if (spec.idp.onlyUser) f.push(ctxPrim(1, Buffer.from([0xff])));
    if (spec.idp.onlyCA) f.push(ctxPrim(2, Buffer.from([0xff])));
    if (spec.idp.indirect) f.push(ctxPrim(4, Buffer.from([0xff])));
    exts.push(ext('2.5.29.28', true, seq(...f)));
  }
  const entries = (spec.revoked ?? []).map((r) => {
    const ee: Buffer[] = [];
    if (r.reason !== undefined) ee.push(ext('2.5.29.21', false, tlv(0x0a, Buffer.from([r.reason]))));
    if (r.certificateIssuer) ee.push(ext('2.5.29.29', true, seq(ctx(4, dn(r.certificateIssuer)))));
    return seq(int(r.serial), time(r.date), ...(ee.length ? [seq(...ee)] : []));
  });
  const alg = algId(spec.issuer.key);
  const tbs = seq(
    int(1),
    alg,
    dn(spec.issuer.name),
    time(spec.thisUpdate),
    ...(spec.nextUpdate ? [time(spec.nextUpdate)] : []),
    ...(entries.length ? [seq(...entries)] : []),
    ctx(0, seq(...exts)),
  );
  return seq(tbs, alg, bitString(sign(spec.issuer.key, tbs)));
}

export interface OcspSpec {
  cert: Buffer;
  issuerCert: Buffer;
  signer: Key;
  /** the responder's certificate, enclosed in the response (absent when the CA signs) */
  signerCert?: Buffer;
  responderName: string;
  status: 'good' | 'revoked' | 'unknown';
  thisUpdate: Date;
  nextUpdate?: Date;
  revocationTime?: Date;
  hash?: 'sha1' | 'sha256';
  byKey?: boolean;
}

/** A BasicOCSPResponse built with @peculiar/asn1-ocsp and signed by `signer`. */
export function issueOcsp(spec: OcspSpec): Buffer {
  const cert = AsnConvert.parse(spec.cert, AsnCertificate);
  const issuer = AsnConvert.parse(spec.issuerCert, AsnCertificate);
  const h = spec.hash ?? 'sha1';
  const hashOid = h === 'sha1' ? '1.3.14.3.2.26' : '2.16.840.1.101.3.4.2.1';
  const issuerNameDer = Buffer.from(AsnConvert.serialize(cert.tbsCertificate.issuer));
  const issuerKeyBits = Buffer.from(issuer.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey);
  const certID = new CertID({
    hashAlgorithm: new AlgorithmIdentifier({
      algorithm: hashOid,
      parameters: NULL.buffer.slice(NULL.byteOffset, NULL.byteOffset + 2) as ArrayBuffer,
    }),
    issuerNameHash: new OctetString(createHash(h).update(issuerNameDer).digest()),
    issuerKeyHash: new OctetString(createHash(h).update(issuerKeyBits).digest()),
    serialNumber: cert.tbsCertificate.serialNumber,
  });
  const certStatus =
    spec.status === 'good'
      ? new CertStatus({ good: null })
      : spec.status === 'revoked'
        ? new CertStatus({
            revoked: new RevokedInfo({ revocationTime: spec.revocationTime ?? spec.thisUpdate }),
          })
        : new CertStatus({ unknown: null });
  const signerSpkiKeyId = keyId(spec.signer);
  const responderID = spec.byKey
    ? new ResponderID({ byKey: new OctetString(signerSpkiKeyId) })
    : new ResponderID({ byName: AsnConvert.parse(dn(spec.responderName), AsnName) });
  const data = new ResponseData({
    responderID,
    producedAt: spec.thisUpdate,
    responses: [
      new SingleResponse({
        certID,
        certStatus,
        thisUpdate: spec.thisUpdate,
        ...(spec.nextUpdate ? { nextUpdate: spec.nextUpdate } : {}),
      }),
    ],
  });
  const tbs = Buffer.from(AsnConvert.serialize(data));
  const alg = AsnConvert.parse(algId(spec.signer), AlgorithmIdentifier);
  const basic = new BasicOCSPResponse({
    tbsResponseData: data,
    signatureAlgorithm: alg,
    signature: new Uint8Array(sign(spec.signer, tbs)).buffer,
    ...(spec.signerCert ? { certs: [AsnConvert.parse(spec.signerCert, AsnCertificate)] } : {}),
  });
  const resp = new OCSPResponse({
    responseStatus: OCSPResponseStatus.successful,
    responseBytes: new ResponseBytes({
      responseType: id_pkix_ocsp_basic,
      response: new OctetString(AsnConvert.serialize(basic)),
    }),
  });
  return Buffer.from(AsnConvert.serialize(resp));
}
