/**
 * Validation of a time-stamp token as a proof of existence (EN 319 102-1 §5.4): the imprint is the hash
 * of what it claims to stamp, the TSA's signature verifies, signing-certificate(-v2) binds the TSA's
 * certificate, and that certificate — with a critical extended key usage of timeStamping only (RFC 3161
 * §2.3) — chains to a trust anchor by `validatePath`. The chain is validated at the validation time; when
 * the TSA's certificate has expired since, at the time of a later proof of existence the caller gives (a
 * later time-stamp over this one), else the token is INDETERMINATE. genTime is then a time at which the
 * stamped data existed. The token's own algorithms — the imprint's digest, the digests its SignerInfo relies on,
 * the TSA's key — go before the algorithm policy as a signature's do: one not allowed, or past its end with no
 * later time-stamp over the token before that end, makes the token INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE(_NO_POE)
 * and no proof of existence.
 */
import { timingSafeEqual } from 'node:crypto';
import { isTrucError } from '../../errors.js';
import { validatePath, type Certificate, type InvalidPath, type RevocationEvidence, type RevocationOptions, type TrustAnchorInput } from '../../pki/path/index.js';
import type { DigestAlgorithm } from '../cms/signature-value.js';
import { checkAlgorithms, keyAlgorithmId, type AlgorithmPolicy } from '../validate/algorithms.js';
import type { CertificateSummary, SubIndication } from '../validate/report.js';
import { note, sentenceOf, type ReportNote } from '../validate/notes.js';
import { summarise } from '../validate/signer.js';
import { readTimeStampToken, type TimeStampToken } from './token.js';

const EKU = '2.5.29.37';
const TIME_STAMPING = '1.3.6.1.5.5.7.3.8';

export interface TimeStampCheck {
  valid: boolean;
  /** why not, when not */
  problem?: string;
  /** the token's own algorithms refused by the algorithm policy (INDETERMINATE, as a signature's would be) */
  subIndication?: 'CRYPTO_CONSTRAINTS_FAILURE' | 'CRYPTO_CONSTRAINTS_FAILURE_NO_POE';
  genTime?: Date;
  policy?: string;
  serial?: string;
  tsa?: CertificateSummary;
  /** the TSA's certificate and the path validated for it (DER) */
  tsaPath: Buffer[];
  token?: TimeStampToken;
  /** the revocation data the TSA's path was judged with (configured, carried or fetched) */
  revocationEvidence?: RevocationEvidence[];
  /** the token's notes, coded (src/sign/validate/notes.ts) */
  notes: ReportNote[];
  /** the same as sentences, one for each note */
  warnings: string[];
  /** when not valid: the sub-indication its validation ends with (EN 319 102-1 §5.1.3), as a signature's would */
  failure?: SubIndication;
}

export interface TimeStampVerifyOptions {
  trustAnchors: TrustAnchorInput[];
  intermediates?: Uint8Array[];
  revocation?: RevocationOptions;
  at?: Date;
  /** a later proof of existence of this token (a time-stamp over it) */
  poe?: Date;
  /** which algorithms are reliable until when (default `DEFAULT_ALGORITHM_POLICY`) */
  algorithmPolicy?: AlgorithmPolicy;
}

/** How a TSA's path that does not validate ends a token's validation (as a signer's does, without a proof of existence). */
const PATH_FAILURE: Partial<Record<InvalidPath['reason'], SubIndication>> = {
  no_path: 'NO_CERTIFICATE_CHAIN_FOUND',
  expired: 'OUT_OF_BOUNDS_NO_POE',
  not_yet_valid: 'NOT_YET_VALID',
  revoked: 'REVOKED_NO_POE',
  revocation_unknown: 'TRY_LATER',
  unsupported_algorithm: 'CRYPTO_CONSTRAINTS_FAILURE',
  key_usage: 'CHAIN_CONSTRAINTS_FAILURE',
  extended_key_usage: 'CHAIN_CONSTRAINTS_FAILURE',
  policy: 'CHAIN_CONSTRAINTS_FAILURE',
  name_constraints: 'CHAIN_CONSTRAINTS_FAILURE',
  path_length_exceeded: 'CHAIN_CONSTRAINTS_FAILURE',
};

function tsaUsage(c: Certificate): string | null {
  const ext = c.extensions.get(EKU);
  if (!ext || !c.extKeyUsage?.includes(TIME_STAMPING)) return 'the TSA certificate has no timeStamping extended key usage';
  if (!ext.critical) return 'the TSA certificate\'s extended key usage is not critical';
  if (c.extKeyUsage.length !== 1) return 'the TSA certificate has other extended key usages besides timeStamping';
  return null;
}

/** `imprintOf` gives the hash, with the token's algorithm, of the data the token should stamp. */
export async function verifyTimeStamp(der: Uint8Array, imprintOf: (hash: DigestAlgorithm) => Buffer, opts: TimeStampVerifyOptions): Promise<TimeStampCheck> {
  const out: TimeStampCheck = { valid: false, tsaPath: [], notes: [], warnings: [] };
  const add = (n: ReportNote) => {
    out.notes.push(n);
    out.warnings.push(sentenceOf(n));
  };
  const fail = (failure: SubIndication, problem: string): TimeStampCheck => ({ ...out, failure, problem });
  let t: TimeStampToken;
  try {
    t = readTimeStampToken(der);
  } catch (e) {
    if (!isTrucError(e)) throw e;
    return fail(e.code === 'unsupported' ? 'CRYPTO_CONSTRAINTS_FAILURE' : 'FORMAT_FAILURE', e.message);
  }
  Object.assign(out, { token: t, genTime: t.tstInfo.genTime, policy: t.tstInfo.policy, serial: t.tstInfo.serialHex });
  const expected = imprintOf(t.tstInfo.hash);
  if (expected.length !== t.tstInfo.hashedMessage.length || !timingSafeEqual(expected, t.tstInfo.hashedMessage))
    return fail('HASH_FAILURE', 'the message imprint is not the hash of the stamped data');
  const s = t.signer;
  if (!s.certificate) return fail('NO_SIGNING_CERTIFICATE_FOUND', "the TSA's certificate is not in the token");
  out.tsa = summarise(s.certificate);
  if (s.digestMatches !== true) return fail('HASH_FAILURE', 'the TSTInfo does not match the token\'s message-digest');
  if (!s.signatureValid) return fail('SIG_CRYPTO_FAILURE', `the TSA's signature does not verify: ${s.signatureProblem ?? 'bad signature'}`);
  if (s.signingCertificate === 'mismatch') return fail('NO_SIGNING_CERTIFICATE_FOUND', 'signing-certificate-v2 names another certificate than the TSA\'s');
  if (s.signingCertificate === 'absent') add(note('TSA_SIGNING_CERTIFICATE_V1'));
  const usage = tsaUsage(s.certificate);
  if (usage) return fail('CHAIN_CONSTRAINTS_FAILURE', usage);
  const at = opts.at ?? new Date();
  // a token made after the validation time proves nothing at that time: INDETERMINATE (a later validation may use
  // it), not NOT_YET_VALID — that sub-indication is about a certificate's validity and ends in TOTAL-FAILED
  if (t.tstInfo.genTime > at)
    return fail('SIG_CONSTRAINTS_FAILURE', `thời điểm đóng dấu ${t.tstInfo.genTime.toISOString()} muộn hơn thời điểm kiểm tra ${at.toISOString()} / genTime ${t.tstInfo.genTime.toISOString()} is after the validation time ${at.toISOString()}`);
  const input = {
    target: s.certificate.der,
    intermediates: [...t.cms.certificates.filter((c) => !c.equals(s.certificate!.der)), ...(opts.intermediates ?? [])],
    trustAnchors: opts.trustAnchors,
    purpose: { extendedKeyUsage: ['timeStamping'] },
    revocation: opts.revocation ?? { mode: 'soft-fail' as const },
  };
  let path = await validatePath({ ...input, time: at });
  if (!path.valid && path.reason === 'expired' && opts.poe) {
    // the token existed at the later proof's time, when its TSA certificate was still valid
    path = await validatePath({ ...input, time: opts.poe, revocation: { mode: 'off' } });
    if (path.valid) add(note('TSA_CERTIFICATE_EXPIRED_AFTER_POE', { poe: opts.poe.toISOString() }));
  }
  out.tsaPath = path.path;
  if (!path.valid) return fail(PATH_FAILURE[path.reason] ?? 'CERTIFICATE_CHAIN_GENERAL_FAILURE', `the TSA's certificate is not valid: ${path.message}`);
  for (const n of path.notes) add(note(n.code, n.params));
  if (path.revocationEvidence.length) out.revocationEvidence = path.revocationEvidence;
  // the token's own algorithms, judged as a signature's are (EN 319 102-1 §5.2.8): its imprint's digest, its
  // SignerInfo's digests and the TSA's key — at the validation time, or at a later time-stamp's over the token
  let keyId: string;
  try {
    keyId = keyAlgorithmId(s.certificate);
  } catch (e) {
    return { ...out, subIndication: 'CRYPTO_CONSTRAINTS_FAILURE', failure: 'CRYPTO_CONSTRAINTS_FAILURE', problem: `khoá của TSA không đọc được / the TSA's key cannot be read: ${(e as Error).message}` };
  }
  const algs = checkAlgorithms([t.tstInfo.hash, ...(s.digest === 'unknown' ? [] : [s.digest]), ...(s.otherDigests ?? []), keyId], at, opts.poe, opts.algorithmPolicy);
  if (!algs.ok) return { ...out, subIndication: algs.subIndication, failure: algs.subIndication, problem: `thuật toán của dấu thời gian không được chính sách chấp nhận / the time-stamp's own algorithms: ${algs.message}` };
  for (const n of algs.notes) add(n);
  return { ...out, valid: true };
}
