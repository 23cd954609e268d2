/**
 * XAdES-C references to validation data (EN 319 132-1 §5.4.1, §5.4.2; XAdES 1.3.2 CompleteCertificateRefs and
 * CompleteRevocationRefs, the V2 forms): each names a certificate, CRL or OCSP response by its digest (and an
 * issuer and serial, an issue time, a responder and production time). Each is checked against the values at
 * hand — those the signature carries (KeyInfo, CertificateValues, RevocationValues) and those validation used
 * (the path, the configured certificates and revocation data) — as EU DSS sorts references into related and
 * orphan ones: the digest of a value at hand matches (true), the value the reference names is at hand but its
 * digest differs (false), or nothing at hand matches (null). The references are unsigned properties and protect
 * nothing on their own (SigAndRefsTimeStamp does), so the result is reported, never a reason to lose the
 * signature. Work is bounded: at most MAX_REFS references are read.
 */
import { createHash } from 'node:crypto';
import { parseCertificate, parseCrl } from '../../pki/path/index.js';
import { parseOcspResponse } from '../../pki/path/ocsp.js';
import type { ValidationDataReference } from '../validate/report.js';
import { DS_NS, XADES_NS } from './c14n.js';
import { XADES141_NS } from './archive.js';
import { DIGEST_METHODS } from './dsig/digests.js';

const MAX_REFS = 500;
/** the property names whose references are checked here */
export const REFERENCE_PROPERTIES = new Set([
  'CompleteCertificateRefs',
  'CompleteCertificateRefsV2',
  'CompleteRevocationRefs',
]);

/** XAdES elements by local name in either XAdES namespace (producers mix them in the V2 forms) */
const xa = (el: Element, local: string): Element[] =>
  Array.from(el.childNodes as unknown as ArrayLike<Node>).filter(
    (n): n is Element =>
      n.nodeType === 1 &&
      ((n as Element).namespaceURI === XADES_NS || (n as Element).namespaceURI === XADES141_NS) &&
      (n as Element).localName === local,
  );
const ds = (el: Element | undefined, local: string): Element | undefined =>
  el
    ? Array.from(el.childNodes as unknown as ArrayLike<Node>).find(
        (n): n is Element =>
          n.nodeType === 1 && (n as Element).namespaceURI === DS_NS && (n as Element).localName === local,
      )
    : undefined;
const text = (el: Element | undefined) => (el?.textContent ?? '').replace(/\s+/g, '');

/** A reference read from the signature, before it is checked. */
export interface Ref {
  kind: ValidationDataReference['kind'];
  /** the XML-DSig DigestMethod URI (XAdES), or '' with `hash` given (CAdES) */
  algorithm: string;
  /** the node:crypto hash name, when the reference names its algorithm otherwise than by URI */
  hash?: string;
  digest: string;
  names?: string;
  /** whether a value at hand is the one the reference names, digest aside */
  named?: (der: Buffer) => boolean;
}

export interface Values {
  certificates: { der: Buffer; source: 'signature' | 'validation' }[];
  crls: { der: Buffer; source: 'signature' | 'validation' }[];
  ocsps: { der: Buffer; source: 'signature' | 'validation' }[];
}

const serialOf = (der: Buffer): bigint | undefined => {
  try {
    return BigInt(`0x${parseCertificate(der).serialHex || '0'}`);
  } catch {
    return undefined;
  }
};

function digestRef(
  kind: Ref['kind'],
  holder: Element | undefined,
  names?: string,
  named?: Ref['named'],
): Ref {
  return {
    kind,
    algorithm: ds(holder, 'DigestMethod')?.getAttribute('Algorithm') ?? '',
    digest: text(ds(holder, 'DigestValue')),
    ...(names ? { names } : {}),
    ...(named ? { named } : {}),
  };
}

const sameSecond = (a: Date | undefined, b: string) =>
  !!a && !Number.isNaN(Date.parse(b)) && Math.floor(a.getTime() / 1000) === Math.floor(Date.parse(b) / 1000);

function read(properties: Element[]): Ref[] {
  const out: Ref[] = [];
  for (const p of properties) {
    for (const cert of xa(p, 'CertRefs').flatMap((c) => xa(c, 'Cert'))) {
      const serialText = text(ds(xa(cert, 'IssuerSerial')[0], 'X509SerialNumber'));
      const serial = /^\d{1,80}$/.test(serialText) ? BigInt(serialText) : undefined;
      out.push(
        digestRef(
          'certificate',
          xa(cert, 'CertDigest')[0],
          serial !== undefined ? `serial ${serial}` : undefined,
          serial !== undefined ? (der) => serialOf(der) === serial : undefined,
        ),
      );
    }
    for (const r of xa(p, 'CRLRefs').flatMap((c) => xa(c, 'CRLRef'))) {
      const issued = (xa(xa(r, 'CRLIdentifier')[0] ?? r, 'IssueTime')[0]?.textContent ?? '').trim();
      out.push(
        digestRef(
          'crl',
          xa(r, 'DigestAlgAndValue')[0],
          issued ? `CRL issued ${issued}` : undefined,
          issued
            ? (der) => {
                try {
                  return sameSecond(parseCrl(der).thisUpdate, issued);
                } catch {
                  return false;
                }
              }
            : undefined,
        ),
      );
    }
    for (const r of xa(p, 'OCSPRefs').flatMap((c) => xa(c, 'OCSPRef'))) {
      const id = xa(r, 'OCSPIdentifier')[0] ?? r;
      const produced = (xa(id, 'ProducedAt')[0]?.textContent ?? '').trim();
      // the responder, when named by its key's hash: a response of the same second from another responder is not the one
      const byKey = text(xa(xa(id, 'ResponderID')[0] ?? id, 'ByKey')[0]);
      const named = produced
        ? (der: Buffer) => {
            const parsed = parseOcspResponse(der);
            if (typeof parsed === 'string') return false;
            const tbs = parsed.basic.tbsResponseData;
            if (byKey && tbs.responderID.byKey && Buffer.from(tbs.responderID.byKey.buffer).toString('base64') !== byKey) return false;
            return sameSecond(tbs.producedAt, produced);
          }
        : undefined;
      const dv = xa(r, 'DigestAlgAndValue')[0];
      // the digest is optional for an OCSP reference: then its identifier alone names the response
      if (dv) out.push(digestRef('ocsp', dv, produced ? `OCSP produced ${produced}` : undefined, named));
      else
        out.push({
          kind: 'ocsp',
          algorithm: '',
          digest: '',
          ...(produced ? { names: `OCSP produced ${produced}` } : {}),
          ...(named ? { named } : {}),
        });
    }
    out.push(...xa(p, 'OtherRefs').map((): Ref => ({ kind: 'other', algorithm: '', digest: '' })));
    if (out.length >= MAX_REFS) return out.slice(0, MAX_REFS);
  }
  return out;
}

const WHAT: Record<Ref['kind'], string> = {
  certificate: 'chứng thư / certificate',
  crl: 'CRL',
  ocsp: 'OCSP',
  other: 'khác / other',
};

/** Each reference of the given CompleteCertificateRefs(V2) / CompleteRevocationRefs properties, checked against `values`. */
export function checkValidationDataRefs(properties: Element[], values: Values): ValidationDataReference[] {
  return matchValidationDataRefs(read(properties), values);
}

/** Each reference (XAdES's or CAdES's, `cades/refs.ts`) checked against `values`. */
export function matchValidationDataRefs(refs: Ref[], values: Values): ValidationDataReference[] {
  return refs.slice(0, MAX_REFS).map((ref) => {
    const base = { kind: ref.kind, ...(ref.names ? { names: ref.names } : {}) };
    if (ref.kind === 'other')
      return {
        ...base,
        matches: null,
        problem: 'OtherRefs are not checked / tham chiếu dạng khác không được kiểm tra',
      };
    const pool =
      ref.kind === 'certificate' ? values.certificates : ref.kind === 'crl' ? values.crls : values.ocsps;
    if (!ref.digest) {
      const hit = ref.named ? pool.find((v) => ref.named!(v.der)) : undefined;
      return hit
        ? { ...base, matches: true, source: hit.source }
        : {
            ...base,
            matches: null,
            problem: `no ${WHAT[ref.kind]} at hand is the one named / không có giá trị được tham chiếu`,
          };
    }
    const hash = ref.hash ?? DIGEST_METHODS[ref.algorithm];
    if (!hash)
      return {
        ...base,
        matches: null,
        problem: `digest method ${ref.algorithm || '(none)'} is not supported / thuật toán băm chưa được hỗ trợ`,
      };
    const hit = pool.find((v) => createHash(hash).update(v.der).digest('base64') === ref.digest);
    if (hit) return { ...base, matches: true, source: hit.source };
    // the value the reference names is at hand with another digest — when it names exactly one: an OCSP response is
    // named by its responder and production time only, and several of the same second are not the same one
    const namedAll = ref.named ? pool.filter((v) => ref.named!(v.der)) : [];
    const namedOne = ref.kind !== 'ocsp' || new Set(namedAll.map((v) => v.der.toString('base64'))).size === 1 ? namedAll[0] : undefined;
    if (namedOne)
      return {
        ...base,
        matches: false,
        source: namedOne.source,
        problem: `the ${WHAT[ref.kind]} the reference names is at hand with another digest / giá trị băm của ${WHAT[ref.kind]} được tham chiếu không khớp`,
      };
    return {
      ...base,
      matches: null,
      problem: `no ${WHAT[ref.kind]} at hand has the referenced digest / không có ${WHAT[ref.kind]} nào khớp giá trị băm được tham chiếu`,
    };
  });
}
