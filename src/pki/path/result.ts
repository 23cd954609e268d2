/** What path validation answers, and the rejection it throws internally while checking one candidate path. */
import { TrucError, isTrucError } from '../../errors.js';

export type FailureReason =
  | 'malformed'
  | 'no_path'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_signature'
  | 'unsupported_algorithm'
  | 'name_mismatch'
  | 'path_length_exceeded'
  | 'not_ca'
  | 'key_usage'
  | 'extended_key_usage'
  | 'name_constraints'
  | 'policy'
  | 'unknown_critical_extension'
  | 'revoked'
  | 'revocation_unknown'
  // the peer name asked for is not among the target's names
  | 'peer_name_mismatch'
  // a path would need more intermediates than the caller allows
  | 'depth_exceeded'
  // the work budget of one validation ran out before a path was found: indeterminate, not a verdict on the certificate
  | 'budget_exceeded'
  // structure rules (./profile.ts), in every profile
  | 'bad_serial'
  | 'aki_critical'
  | 'aia_critical'
  | 'empty_eku'
  | 'empty_subject'
  | 'empty_issuer'
  // EC keys with explicit curve parameters (RFC 5480 2.1.1: MUST NOT be used)
  | 'explicit_curve'
  | 'inconsistent_ca_extensions'
  // the strict profile
  | 'aki_missing'
  | 'ski_missing'
  | 'certificate_version'
  | 'ca_as_leaf'
  | 'anchor_basic_constraints'
  | 'weak_key'
  | 'san_critical'
  | 'anchor_aki'
  | 'forbidden_key_type';

/** What one validation cost: signature verifications performed and issuer candidates looked at. */
export interface WorkDone {
  signatureChecks: number;
  candidates: number;
}

export interface RevocationEvidence {
  /** serial number of the certificate the evidence is about, hex */
  serial: string;
  subject: string;
  kind: 'crl' | 'ocsp';
  /** the CRL or OCSPResponse as received */
  der: Buffer;
  status: 'good' | 'revoked';
  thisUpdate: Date;
  nextUpdate?: Date;
  revocationTime?: Date;
  revocationReason?: number;
}

/** A warning of path validation as a code and its values: a certificate's revocation status not found (soft-fail). */
export interface PathNote {
  code: 'REVOCATION_MISSING';
  /** the certificate's subject; what each source said, when one was asked */
  params: { subject: string; detail?: string };
}

export interface ValidPath {
  valid: true;
  /** DER certificates from the target up to the trust anchor (the anchor included when it is a certificate) */
  path: Buffer[];
  revocationEvidence: RevocationEvidence[];
  /** soft-fail revocation gaps and other things a caller may want to log */
  warnings: string[];
  /** the same, coded, one for each warning in the same order (a validation report's notes, src/sign/validate/notes.ts) */
  notes: PathNote[];
  /** authority-constrained policy set: OIDs, or 'any' when any policy is acceptable */
  policies: string[] | 'any' | null;
  work?: WorkDone;
}

export interface InvalidPath {
  valid: false;
  reason: FailureReason;
  message: string;
  /** position of the certificate at fault: 0 is the target, path.length - 1 the anchor */
  index?: number;
  subject?: string;
  /** the candidate path that failed (target first), empty when none could be built */
  path: Buffer[];
  pathsTried: number;
  work?: WorkDone;
}

export type PathResult = ValidPath | InvalidPath;

/** Rejection of one candidate path; validatePath turns it into an InvalidPath. */
export function reject(reason: FailureReason, message: string, index?: number): never {
  throw new TrucError('invalid_path', message, { reason, ...(index !== undefined ? { index } : {}) });
}

export function rejectionOf(e: unknown): { reason: FailureReason; message: string; index?: number } | null {
  if (!isTrucError(e) || e.code !== 'invalid_path' || !e.detail) return null;
  const index = typeof e.detail.index === 'number' ? e.detail.index : undefined;
  return {
    reason: e.detail.reason as FailureReason,
    message: e.message,
    ...(index !== undefined ? { index } : {}),
  };
}
