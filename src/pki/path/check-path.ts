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
import { checkSignature } from './signature.js';
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
  /** signature results by certificate fingerprint and issuer key, shared across candidate paths */
  signatureCache: Map<string, ReturnType<typeof checkSignature>>;
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

function checkEku(cert: Certificate, wanted: string[], index: number): void {
  if (!cert.extKeyUsage || wanted.length === 0) return;
  if (cert.extKeyUsage.includes(OID.anyExtendedKeyUsage)) return;
  const missing = wanted.filter((w) => !cert.extKeyUsage!.includes(w));
  if (missing.length > 0)
    reject(
      'extended_key_usage',
      `${describeName(cert.subject)} does not allow extended key usage ${missing.join(', ')}`,
      index,
    );
}

/** Signature check of a certificate with a would-be issuer key, remembered for the other candidate paths. */
export function cachedSignature(
  cert: Certificate,
  issuerSpki: Buffer,
  cache: PathChecks['signatureCache'],
): ReturnType<typeof checkSignature> {
  const key = `${cert.fingerprint}|${issuerSpki.toString('hex')}`;
  let r = cache.get(key);
  if (!r) {
    r = checkSignature(cert.signatureAlgorithm, issuerSpki, cert.tbs, cert.signature);
    cache.set(key, r);
  }
  return r;
}

function checkSignatureOf(
  cert: Certificate,
  issuerSpki: Buffer,
  cache: PathChecks['signatureCache'],
  index: number,
): void {
  if (!cert.signatureAlgorithmMatches)
    reject('bad_signature', 'signature algorithm inside and outside the signed part differ', index);
  const r = cachedSignature(cert, issuerSpki, cache);
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
    checkSignatureOf(cert, workingKey, opts.signatureCache, idx);
    checkValidity(cert, opts.time, idx);
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
      checkEku(cert, opts.extendedKeyUsage, idx);
    }
  }
  return policies.finish(certs[0]);
}
