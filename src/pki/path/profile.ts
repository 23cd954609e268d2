/**
 * Validation profiles and the structure rules a conforming validator enforces on each certificate.
 *
 * `rfc5280` (the default) is RFC 5280 section 6 plus the rules of sections 4.1-4.2 whose violation makes a
 * certificate non-conforming whatever the use: serial numbers that are zero, negative or longer than 20
 * octets; a critical authority key identifier or authority information access; an empty extended key
 * usage; an empty subject without a critical subjectAltName; and, for a trust anchor given as a
 * certificate, unknown critical extensions and CA extensions that contradict each other.
 *
 * `strict` adds what the web PKI (CA/Browser Forum Baseline Requirements, as rustls-webpki, Go and
 * Chromium apply them) asks: version 3 only; authority key identifier on every certificate not self-issued
 * and subject key identifier on every CA; keyCertSign only with cA; a CA certificate is never a leaf; a
 * trust anchor certificate has critical basicConstraints; RSA keys of at least 2048 bits with an odd public
 * exponent of at least 3, EC keys on P-256, P-384 or P-521 with named parameters (no P-192, no explicit
 * curves); and, when a purpose is asked, the leaf must carry the EKU for it (no EKU, or anyExtendedKeyUsage,
 * is not enough). SHA-1 signatures are refused in both profiles (./signature.ts).
 */
import type { Certificate } from './certificate.js';
import { inspectKey } from './key.js';
import { describeName } from './name.js';
import { OID, UNDERSTOOD_CERT_EXTENSIONS } from './oids.js';
import { reject } from './result.js';

export const PROFILES = ['rfc5280', 'strict'] as const;
export type ProfileName = (typeof PROFILES)[number];

/** A reason's text: Vietnamese first, English beside. */
const say = (vi: string, en: string) => `${vi} / ${en}`;

const STRICT_CURVES = new Set(['P-256', 'P-384', 'P-521']);

/** Rules every certificate of the path (the anchor apart) must meet in the given profile. */
export function checkStructure(cert: Certificate, index: number, isTarget: boolean, profile: ProfileName): void {
  const who = describeName(cert.subject) || '(tên trống / empty name)';
  const s = cert.serial;
  // 20 octets of value: a positive serial whose first octet has its high bit set carries one more, the sign
  // octet (0x00), which does not count (as rustls-webpki and Go read RFC 5280 4.1.2.2)
  const octets = s.length > 1 && s[0] === 0 ? s.length - 1 : s.length;
  if (octets > 20)
    reject('bad_serial', say(`số hiệu của ${who} dài ${octets} byte, quá 20`, `the serial number of ${who} is ${octets} octets long, more than 20`), index);
  if (s[0] & 0x80) reject('bad_serial', say(`số hiệu của ${who} là số âm`, `the serial number of ${who} is negative`), index);
  if (s.every((b) => b === 0)) reject('bad_serial', say(`số hiệu của ${who} bằng 0`, `the serial number of ${who} is zero`), index);
  if (cert.extensions.get(OID.authorityKeyIdentifier)?.critical)
    reject('aki_critical', say(`${who}: phần mở rộng authorityKeyIdentifier không được đánh dấu tới hạn`, `${who}: the authority key identifier must not be critical`), index);
  if (cert.extensions.get(OID.authorityInfoAccess)?.critical)
    reject('aia_critical', say(`${who}: phần mở rộng authorityInfoAccess không được đánh dấu tới hạn`, `${who}: authority information access must not be critical`), index);
  if (cert.extKeyUsage?.length === 0)
    reject('empty_eku', say(`${who}: phần mở rộng extendedKeyUsage rỗng`, `${who}: the extended key usage extension is empty`), index);
  if (cert.subject.rdns.length === 0) {
    const san = cert.extensions.get(OID.subjectAltName);
    if (!san || !san.critical)
      reject('empty_subject', say('chứng thư có tên chủ thể trống thì subjectAltName phải có và được đánh dấu tới hạn', 'a certificate with an empty subject must carry a critical subjectAltName'), index);
  }
  if (profile !== 'strict') return;
  if (cert.version !== 3)
    reject('certificate_version', say(`${who} là chứng thư phiên bản ${cert.version}, chỉ chấp nhận phiên bản 3`, `${who} is a version ${cert.version} certificate; only version 3 is accepted`), index);
  if (!cert.selfIssued && !cert.authorityKeyId)
    reject('aki_missing', say(`${who} thiếu authorityKeyIdentifier`, `${who} has no authority key identifier`), index);
  if (!isTarget && !cert.subjectKeyId)
    reject('ski_missing', say(`CA ${who} thiếu subjectKeyIdentifier`, `the CA ${who} has no subject key identifier`), index);
  if (cert.keyUsage?.has('keyCertSign') && !cert.basicConstraints?.ca)
    reject('inconsistent_ca_extensions', say(`${who} có keyCertSign nhưng không phải CA (basicConstraints cA)`, `${who} asserts keyCertSign without basicConstraints cA`), index);
  if (isTarget && cert.basicConstraints?.ca)
    reject('ca_as_leaf', say(`${who} là chứng thư CA, không dùng làm chứng thư đầu cuối`, `${who} is a CA certificate and cannot be used as a leaf`), index);
  checkKey(cert, index);
}

/** The strict profile's key rules. */
export function checkKey(cert: Certificate, index: number): void {
  const who = describeName(cert.subject) || '(tên trống / empty name)';
  const k = inspectKey(cert.spki);
  if (k.kind === 'rsa') {
    if (k.bits < 2048)
      reject('weak_key', say(`khóa RSA ${k.bits} bit của ${who} ngắn hơn 2048 bit`, `the ${k.bits}-bit RSA key of ${who} is shorter than 2048 bits`), index);
    if (k.exponent < 3n || k.exponent % 2n === 0n)
      reject('weak_key', say(`số mũ công khai RSA ${k.exponent} của ${who} không hợp lệ (phải lẻ và ≥ 3)`, `the RSA public exponent ${k.exponent} of ${who} is not odd and at least 3`), index);
  } else if (k.kind === 'ec') {
    if (k.explicit || k.curve === null)
      reject('explicit_curve', say(`khóa EC của ${who} dùng tham số đường cong tường minh thay vì tên đường cong`, `the EC key of ${who} has explicit curve parameters instead of a named curve`), index);
    if (!STRICT_CURVES.has(k.curve))
      reject('weak_key', say(`đường cong ${k.curve} của ${who} không được chấp nhận (chỉ P-256, P-384, P-521)`, `the curve ${k.curve} of ${who} is not accepted (P-256, P-384, P-521 only)`), index);
  } else if (k.kind === 'unreadable') reject('weak_key', say(`không đọc được khóa công khai của ${who}`, `the public key of ${who} cannot be read`), index);
}

/**
 * Rules for a trust anchor given as a certificate. An anchor is trusted for its name and key, but its
 * certificate is what the operator chose to trust: one that no conforming CA could have issued is refused.
 */
export function checkAnchor(cert: Certificate, index: number, profile: ProfileName): void {
  const who = describeName(cert.subject);
  for (const [oid, ext] of cert.extensions)
    if (ext.critical && !UNDERSTOOD_CERT_EXTENSIONS.has(oid))
      reject('unknown_critical_extension', say(`neo tin cậy ${who} có phần mở rộng tới hạn không xác định ${oid}`, `the trust anchor ${who} has an unknown critical extension ${oid}`), index);
  const bc = cert.basicConstraints;
  if (cert.keyUsage?.has('keyCertSign') && !bc?.ca)
    reject('inconsistent_ca_extensions', say(`neo tin cậy ${who} có keyCertSign nhưng không có basicConstraints cA`, `the trust anchor ${who} asserts keyCertSign without basicConstraints cA`), index);
  if (bc && !bc.ca && bc.pathLen !== undefined)
    reject('inconsistent_ca_extensions', say(`neo tin cậy ${who} có pathLenConstraint nhưng không phải CA`, `the trust anchor ${who} has a path length constraint without cA`), index);
  if (bc?.ca && cert.keyUsage && !cert.keyUsage.has('keyCertSign'))
    reject('inconsistent_ca_extensions', say(`neo tin cậy ${who} là CA nhưng keyUsage không cho phép keyCertSign`, `the trust anchor ${who} is a CA whose key usage does not allow keyCertSign`), index);
  if (profile !== 'strict') return;
  const bcExt = cert.extensions.get(OID.basicConstraints);
  if (!bcExt || !bcExt.critical || !bc?.ca)
    reject('anchor_basic_constraints', say(`neo tin cậy ${who} phải có basicConstraints cA, đánh dấu tới hạn`, `the trust anchor ${who} must carry critical basicConstraints with cA`), index);
  if (!cert.subjectKeyId)
    reject('ski_missing', say(`neo tin cậy ${who} thiếu subjectKeyIdentifier`, `the trust anchor ${who} has no subject key identifier`), index);
  checkKey(cert, index);
}
