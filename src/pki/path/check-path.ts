/**
 * Basic path processing (RFC 5280 section 6.1) over one candidate path, from the certificate the anchor
 * issued down to the target: signature, validity at the validation time, issuer chaining, critical
 * extensions, name constraints, policies, and for intermediates basicConstraints cA, path length and
 * keyCertSign. The anchor, when it is a certificate, also has its validity, path length, name
 * constraints and EKU applied (RFC 5937 style, and what OpenSSL does). Revocation comes after, in
 * revocation.ts, so that nothing is fetched for a path that fails on its own.
 */
import type { CandidatePath } from './build.js';
import type { Certificate, NameConstraints } from './certificate.js';
import type { Work } from './work.js';
import { checkAnchor, checkStructure, type ProfileName } from './profile.js';
import { checkNameConstraints } from './name-constraints.js';
import { PolicyState } from './policies.js';
import { describeName } from './name.js';
import { reject } from './result.js';
import { OID, UNDERSTOOD_CERT_EXTENSIONS, type KeyUsageName } from './oids.js';

export interface PathChecks {
  time: Date;
  keyUsage: KeyUsageName[];
  extendedKeyUsage: string[];
  requiredPolicies?: string[];
  /** signature checks, cached and counted across candidate paths */
  work: Work;
  profile: ProfileName;
}

function checkValidity(cert: Certificate, time: Date, index: number): void {
  if (time < cert.notBefore)
    reject(
      'not_yet_valid',
      `${describeName(cert.subject)} is not valid before ${cert.notBefore.toISOString()}`,
      index,
    );
  if (time > cert.notAfter)
    reject('expired', `${describeName(cert.subject)} expired at ${cert.notAfter.toISOString()}`, index);
}

function checkEku(cert: Certificate, wanted: string[], index: number, leafInStrict = false): void {
  if (wanted.length === 0) return;
  if (leafInStrict) {
    // the web PKI's rule: a leaf used for a purpose says so; no EKU, or anyExtendedKeyUsage alone, is not enough
    const listed = cert.extKeyUsage?.filter((e) => e !== OID.anyExtendedKeyUsage) ?? [];
    const missing = wanted.filter((w) => !listed.includes(w));
    if (missing.length > 0)
      reject(
        'extended_key_usage',
        `${describeName(cert.subject)} không ghi mục đích sử dụng khóa mở rộng ${missing.join(', ')} (hồ sơ strict) / does not list the extended key usage ${missing.join(', ')} (strict profile)`,
        index,
      );
    return;
  }
  if (!cert.extKeyUsage) return;
  if (cert.extKeyUsage.includes(OID.anyExtendedKeyUsage)) return;
  const missing = wanted.filter((w) => !cert.extKeyUsage!.includes(w));
  if (missing.length > 0)
    reject(
      'extended_key_usage',
      `${describeName(cert.subject)} does not allow extended key usage ${missing.join(', ')}`,
      index,
    );
}

/** SHA-1 and MD5 signature algorithms: refused like unknown ones, but said by name */
const WEAK_SIGNATURES: Record<string, string> = {
  '2a864886f70d010104': 'md5WithRSAEncryption',
  '2a864886f70d010105': 'sha1WithRSAEncryption',
  '2a8648ce3d0401': 'ecdsa-with-SHA1',
  '2a8648ce380403': 'dsa-with-sha1',
};

function weakSignatureName(algorithmIdentifier: Buffer): string | undefined {
  // AlgorithmIdentifier: SEQUENCE { OID, ... }; short OIDs, so the OID's content starts at byte 4
  const len = algorithmIdentifier[3];
  return algorithmIdentifier[2] === 0x06 ? WEAK_SIGNATURES[algorithmIdentifier.subarray(4, 4 + len).toString('hex')] : undefined;
}

function checkSignatureOf(cert: Certificate, issuerSpki: Buffer, work: Work, index: number): void {
  if (!cert.signatureAlgorithmMatches)
    reject('bad_signature', 'signature algorithm inside and outside the signed part differ', index);
  const r = work.signature(cert, issuerSpki);
  if (r === 'budget')
    reject('budget_exceeded', 'hết ngân sách kiểm tra chữ ký cho một lần xác thực / the signature-check budget of one validation is spent', index);
  const weak = r === 'unsupported_algorithm' ? weakSignatureName(cert.signatureAlgorithm) : undefined;
  if (weak)
    reject('unsupported_algorithm', `chữ ký ${weak} (SHA-1/MD5) bị từ chối / ${weak} (SHA-1/MD5) signatures are refused`, index);
  if (r === 'unsupported_algorithm')
    reject('unsupported_algorithm', 'unsupported or refused signature algorithm', index);
  if (r !== 'ok')
    reject(
      'bad_signature',
      `signature of ${describeName(cert.subject)} does not verify with its issuer's key`,
      index,
    );
}

export function checkPath(cand: CandidatePath, opts: PathChecks): string[] | 'any' | null {
  const { certs, anchor } = cand;
  const n = certs.length;
  let maxPathLength = n;
  const constraints: NameConstraints[] = [];
  if (anchor.cert) {
    checkAnchor(anchor.cert, n, opts.profile);
    checkValidity(anchor.cert, opts.time, n);
    if (anchor.cert.basicConstraints?.pathLen !== undefined)
      maxPathLength = Math.min(maxPathLength, anchor.cert.basicConstraints.pathLen);
    if (anchor.cert.nameConstraints) constraints.push(anchor.cert.nameConstraints);
    checkEku(anchor.cert, opts.extendedKeyUsage, n);
  }
  const policies = new PolicyState(n, opts.requiredPolicies);
  let workingKey = anchor.spki;
  let workingName = anchor.name;
  for (let idx = n - 1; idx >= 0; idx--) {
    const cert = certs[idx];
    const i = n - idx;
    checkSignatureOf(cert, workingKey, opts.work, idx);
    checkValidity(cert, opts.time, idx);
    checkStructure(cert, idx, idx === 0, opts.profile);
    if (cert.issuer.key !== workingName.key)
      reject(
        'name_mismatch',
        `issuer of ${describeName(cert.subject)} is not ${describeName(workingName)}`,
        idx,
      );
    for (const [oid, ext] of cert.extensions)
      if (ext.critical && !UNDERSTOOD_CERT_EXTENSIONS.has(oid))
        reject(
          'unknown_critical_extension',
          `${describeName(cert.subject)} has an unknown critical extension ${oid}`,
          idx,
        );
    if (idx === 0 || !cert.selfIssued) checkNameConstraints(cert, idx, idx === 0, constraints);
    policies.process(cert, i, idx);
    if (idx > 0) {
      if (cert.version !== 3 || !cert.basicConstraints?.ca)
        reject('not_ca', `${describeName(cert.subject)} is not a CA certificate (basicConstraints cA)`, idx);
      if (!cert.selfIssued) {
        if (maxPathLength <= 0)
          reject(
            'path_length_exceeded',
            `path length constraint exceeded at ${describeName(cert.subject)}`,
            idx,
          );
        maxPathLength--;
      }
      if (cert.basicConstraints.pathLen !== undefined)
        maxPathLength = Math.min(maxPathLength, cert.basicConstraints.pathLen);
      if (cert.keyUsage && !cert.keyUsage.has('keyCertSign'))
        reject('key_usage', `${describeName(cert.subject)} lacks keyCertSign`, idx);
      if (cert.nameConstraints) constraints.push(cert.nameConstraints);
      policies.prepare(cert, idx);
      checkEku(cert, opts.extendedKeyUsage, idx);
      workingKey = cert.spki;
      workingName = cert.subject;
    } else {
      const missing = cert.keyUsage ? opts.keyUsage.filter((k) => !cert.keyUsage!.has(k)) : [];
      if (missing.length > 0)
        reject(
          'key_usage',
          `${describeName(cert.subject)} does not allow key usage ${missing.join(', ')}`,
          idx,
        );
      checkEku(cert, opts.extendedKeyUsage, idx, opts.profile === 'strict');
    }
  }
  return policies.finish(certs[0]);
}
