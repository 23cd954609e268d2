/**
 * Validation profiles and the structure rules a conforming validator enforces on each certificate.
 *
 * `rfc5280` (the default) is RFC 5280 section 6 plus the rules of sections 4.1-4.2 whose violation makes a
 * certificate non-conforming whatever the use: serial numbers that are zero, negative or longer than 20
 * octets; an empty issuer name (4.1.2.4); a CA certificate with an empty subject (4.1.2.6); an empty subject
 * without a critical subjectAltName; a critical authority key identifier or authority information access;
 * an empty extended key usage; keyCertSign asserted without cA (4.2.1.3, 4.2.1.9); EC keys with explicit
 * curve parameters (RFC 5480 2.1.1: "MUST NOT be used"; they were the door of CVE-2020-0601). A trust
 * anchor given as a certificate meets the same rules plus: no unknown critical extension, CA extensions
 * that agree, and basicConstraints marked critical when it asserts cA (4.2.1.9).
 *
 * Deliberately not in `rfc5280`: a missing authority or subject key identifier. RFC 5280 4.2.1.1-2 puts
 * them on the issuing CA ("conforming CAs MUST"), section 6 does not use them, and older agency CAs
 * omitted them on certificates that signed documents still to be verified; `strict` refuses them.
 *
 * `strict` adds what the web PKI (CA/Browser Forum Baseline Requirements, as rustls-webpki, Go and
 * Chromium apply them) asks: version 3 only; authority key identifier on every certificate not self-issued
 * and subject key identifier on every CA; a CA certificate is never a leaf; a subjectAltName is critical
 * only when the subject is empty (BR 7.1.2.7.12); the leaf's EKU never contains anyExtendedKeyUsage
 * (BR 7.1.2.7.10); a trust anchor certificate has critical basicConstraints, no EKU (BR 7.1.2.1.2) and, if
 * it has an authority key identifier, only a keyIdentifier equal to its subject key identifier
 * (BR 7.1.2.1.3); RSA keys of at least 2048 bits with an odd public exponent of at least 3, EC keys on
 * P-256, P-384 or P-521 (no P-192), EdDSA; no DSA or other key types; and, when a purpose is asked, the
 * leaf must carry the EKU for it (no EKU, or anyExtendedKeyUsage, is not enough). SHA-1 signatures are
 * refused in both profiles (./signature.ts).
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
  checkNames(cert, index);
  // (an intermediate without cA is refused by section 6 itself, as not_ca)
  if (isTarget && cert.keyUsage?.has('keyCertSign') && !cert.basicConstraints?.ca)
    reject('inconsistent_ca_extensions', say(`${who} có keyCertSign nhưng không phải CA (basicConstraints cA)`, `${who} asserts keyCertSign without basicConstraints cA`), index);
  checkCurve(cert, index);
  if (profile !== 'strict') return;
  if (cert.version !== 3)
    reject('certificate_version', say(`${who} là chứng thư phiên bản ${cert.version}, chỉ chấp nhận phiên bản 3`, `${who} is a version ${cert.version} certificate; only version 3 is accepted`), index);
  if (!cert.selfIssued && !cert.authorityKeyId)
    reject('aki_missing', say(`${who} thiếu authorityKeyIdentifier`, `${who} has no authority key identifier`), index);
  if (!isTarget && !cert.subjectKeyId)
    reject('ski_missing', say(`CA ${who} thiếu subjectKeyIdentifier`, `the CA ${who} has no subject key identifier`), index);
  if (isTarget && cert.basicConstraints?.ca)
    reject('ca_as_leaf', say(`${who} là chứng thư CA, không dùng làm chứng thư đầu cuối`, `${who} is a CA certificate and cannot be used as a leaf`), index);
  if (cert.subject.rdns.length > 0 && cert.extensions.get(OID.subjectAltName)?.critical)
    reject('san_critical', say(`${who}: subjectAltName chỉ được đánh dấu tới hạn khi tên chủ thể trống`, `${who}: subjectAltName may be critical only when the subject is empty`), index);
  if (isTarget && cert.extKeyUsage?.includes(OID.anyExtendedKeyUsage))
    reject('extended_key_usage', say(`${who}: extendedKeyUsage của chứng thư đầu cuối không được chứa anyExtendedKeyUsage`, `${who}: an end-entity EKU must not contain anyExtendedKeyUsage`), index);
  checkKey(cert, index);
}

/** Names every certificate needs (RFC 5280 4.1.2.4, 4.1.2.6), the anchor included. */
function checkNames(cert: Certificate, index: number): void {
  if (cert.issuer.rdns.length === 0)
    reject('empty_issuer', say(`${describeName(cert.subject) || 'chứng thư'} có tên tổ chức cấp trống`, `${describeName(cert.subject) || 'a certificate'} has an empty issuer name`), index);
  if (cert.subject.rdns.length === 0) {
    if (cert.basicConstraints?.ca)
      reject('empty_subject', say('chứng thư CA phải có tên chủ thể', 'a CA certificate must have a non-empty subject'), index);
    const san = cert.extensions.get(OID.subjectAltName);
    if (!san || !san.critical)
      reject('empty_subject', say('chứng thư có tên chủ thể trống thì subjectAltName phải có và được đánh dấu tới hạn', 'a certificate with an empty subject must carry a critical subjectAltName'), index);
  }
}

/** RFC 5480 2.1.1: an EC key names its curve; specifiedCurve "MUST NOT be used" (every profile). */
function checkCurve(cert: Certificate, index: number): void {
  const k = inspectKey(cert.spki);
  if (k.kind === 'ec' && (k.explicit || k.curve === null))
    reject('explicit_curve', say(`khóa EC của ${describeName(cert.subject) || 'chứng thư'} dùng tham số đường cong tường minh thay vì tên đường cong`, `the EC key of ${describeName(cert.subject) || 'a certificate'} has explicit curve parameters instead of a named curve`), index);
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
    if (k.explicit || k.curve === null) return checkCurve(cert, index);
    if (!STRICT_CURVES.has(k.curve))
      reject('weak_key', say(`đường cong ${k.curve} của ${who} không được chấp nhận (chỉ P-256, P-384, P-521)`, `the curve ${k.curve} of ${who} is not accepted (P-256, P-384, P-521 only)`), index);
  } else if (k.kind === 'unreadable') reject('weak_key', say(`không đọc được khóa công khai của ${who}`, `the public key of ${who} cannot be read`), index);
  else if (k.kind === 'other')
    reject('forbidden_key_type', say(`loại khóa ${k.oid} của ${who} không được chấp nhận (chỉ RSA, ECDSA, EdDSA)`, `the key type ${k.oid} of ${who} is not accepted (RSA, ECDSA, EdDSA only)`), index);
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
  const bcExt = cert.extensions.get(OID.basicConstraints);
  if (bc?.ca && !bcExt?.critical)
    reject('anchor_basic_constraints', say(`neo tin cậy ${who} phải đánh dấu basicConstraints là tới hạn`, `the trust anchor ${who} must mark basicConstraints critical`), index);
  if (cert.extensions.get(OID.authorityKeyIdentifier)?.critical)
    reject('aki_critical', say(`${who}: phần mở rộng authorityKeyIdentifier không được đánh dấu tới hạn`, `${who}: the authority key identifier must not be critical`), index);
  checkNames(cert, index);
  checkCurve(cert, index);
  if (profile !== 'strict') return;
  if (!bcExt || !bcExt.critical || !bc?.ca)
    reject('anchor_basic_constraints', say(`neo tin cậy ${who} phải có basicConstraints cA, đánh dấu tới hạn`, `the trust anchor ${who} must carry critical basicConstraints with cA`), index);
  if (!cert.subjectKeyId)
    reject('ski_missing', say(`neo tin cậy ${who} thiếu subjectKeyIdentifier`, `the trust anchor ${who} has no subject key identifier`), index);
  if (cert.extKeyUsage)
    reject('extended_key_usage', say(`neo tin cậy ${who} không được có extendedKeyUsage`, `the trust anchor ${who} must not carry an extended key usage`), index);
  if (cert.extensions.has(OID.authorityKeyIdentifier) && (cert.authorityKeyIdByIssuer || !cert.authorityKeyId || !cert.authorityKeyId.equals(cert.subjectKeyId)))
    reject('anchor_aki', say(`neo tin cậy ${who}: authorityKeyIdentifier chỉ được chứa keyIdentifier, bằng subjectKeyIdentifier`, `the trust anchor ${who}: the authority key identifier must hold only a keyIdentifier equal to the subject key identifier`), index);
  checkKey(cert, index);
}
