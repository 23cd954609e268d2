/**
 * validatePath: builds candidate paths from the target to a trust anchor and validates them in order
 * (RFC 5280 section 6.1, then revocation), answering with the first path that holds or, when none does,
 * with the failure of the first (most preferred) candidate. Hostile inputs are bounded: sizes and counts
 * beyond the limits are refused with a `too_large` TrucError; an unreadable target is an invalid result;
 * unreadable pool certificates, CRLs and OCSP responses are ignored.
 */
import { TrucError } from '../../errors.js';
import { parseCertificate, type Certificate } from './certificate.js';
import { readAnchor, type TrustAnchorInput } from './anchor.js';
import { buildPaths, reachableFromAnchors, type BuildStats } from './build.js';
import { checkPath } from './check-path.js';
import { Work } from './work.js';
import { PROFILES, type ProfileName } from './profile.js';
import { checkPeerName, referenceOf, type PeerName } from './peer-name.js';
import { checkRevocation, type RevocationContext, type RevocationOptions } from './revocation.js';
import { parseCrl, type Crl } from './crl.js';
import { parseOcspResponse } from './ocsp.js';
import { resolvePurpose, type Purpose } from './purpose.js';
import { describeName } from './name.js';
import { rejectionOf, type InvalidPath, type PathResult } from './result.js';
import {
  MAX_CERT_BYTES,
  MAX_CRL_BYTES,
  MAX_CRLS,
  MAX_INTERMEDIATES,
  MAX_OCSP_BYTES,
  MAX_OCSP_RESPONSES,
  MAX_PATH_DEPTH,
  MAX_PATHS_TRIED,
  MAX_TRUST_ANCHORS,
} from './limits.js';

export interface ValidatePathInput {
  target: Uint8Array;
  intermediates?: Uint8Array[];
  trustAnchors: TrustAnchorInput[];
  /** validation time; a past time validates as of then (certificates, CRLs and OCSP answers alike) */
  time?: Date;
  purpose?: Purpose;
  /** policies the caller accepts; giving any also requires an explicit policy on every certificate */
  requiredPolicies?: string[];
  revocation?: RevocationOptions;
  /** `rfc5280` (default) or the stricter web-PKI-style `strict` (./profile.ts) */
  profile?: ProfileName;
  /**
   * most intermediate certificates a path may have between the target and the trust anchor (neither
   * counts, as with `openssl verify -verify_depth`); 0 to MAX_PATH_DEPTH - 1, the default
   */
  maxDepth?: number;
  /** the DNS name, IP address or e-mail address the target must be valid for (./peer-name.ts) */
  peerName?: PeerName;
}

function capCount(what: string, n: number, max: number): void {
  if (n > max) throw new TrucError('too_large', `${n} ${what} exceeds the limit of ${max}`, { limit: max });
}

function capSize(what: string, items: Uint8Array[], max: number): void {
  for (const b of items)
    if (b.length > max)
      throw new TrucError('too_large', `a ${what} of ${b.length} bytes exceeds ${max}`, { limit: max });
}

export async function validatePath(input: ValidatePathInput): Promise<PathResult> {
  const intermediates = input.intermediates ?? [];
  const rev = input.revocation ?? { mode: 'off' as const };
  capCount('intermediate certificates', intermediates.length, MAX_INTERMEDIATES);
  capCount('trust anchors', input.trustAnchors.length, MAX_TRUST_ANCHORS);
  capCount('CRLs', rev.crls?.length ?? 0, MAX_CRLS);
  capCount('OCSP responses', rev.ocspResponses?.length ?? 0, MAX_OCSP_RESPONSES);
  capSize('certificate', [input.target, ...intermediates], MAX_CERT_BYTES);
  capSize('CRL', rev.crls ?? [], MAX_CRL_BYTES);
  capSize('OCSP response', rev.ocspResponses ?? [], MAX_OCSP_BYTES);
  const time = input.time ?? new Date();
  const purpose = resolvePurpose(input.purpose);
  const profile = input.profile ?? 'rfc5280';
  if (!PROFILES.includes(profile))
    throw new TrucError('bad_request', `unknown validation profile "${String(profile)}"`, { allowed: PROFILES });
  const maxDepth = input.maxDepth ?? MAX_PATH_DEPTH - 1;
  if (!Number.isInteger(maxDepth) || maxDepth < 0 || maxDepth > MAX_PATH_DEPTH - 1)
    throw new TrucError('bad_request', `maxDepth must be an integer from 0 to ${MAX_PATH_DEPTH - 1}`, { max: MAX_PATH_DEPTH - 1 });
  const peer = input.peerName ? referenceOf(input.peerName) : undefined;
  const work = new Work();
  const works = [work];
  const done = () => ({
    signatureChecks: works.reduce((n, w) => n + w.signatureChecks, 0),
    candidates: works.reduce((n, w) => n + w.candidates, 0),
  });

  let target: Certificate;
  try {
    target = parseCertificate(Buffer.from(input.target));
  } catch (e) {
    return {
      valid: false,
      reason: 'malformed',
      message: `target: ${(e as Error).message}`,
      index: 0,
      path: [Buffer.from(input.target)],
      pathsTried: 0,
    };
  }
  const pool: Certificate[] = [];
  for (const der of intermediates) {
    try {
      pool.push(parseCertificate(Buffer.from(der)));
    } catch {
      // a bad certificate in the pool cannot be on a valid path; others may still build one
    }
  }
  const anchors = input.trustAnchors.map(readAnchor);

  // the target is itself trusted
  const self = anchors.find((a) => a.cert?.der.equals(target.der));
  if (self) {
    if (time < target.notBefore || time > target.notAfter)
      return {
        valid: false,
        reason: time < target.notBefore ? 'not_yet_valid' : 'expired',
        message: 'the trusted target is outside its validity period',
        index: 0,
        subject: describeName(target.subject),
        path: [target.der],
        pathsTried: 1,
        work: done(),
      };
    if (peer) {
      try {
        checkPeerName(target, peer, profile);
      } catch (e) {
        const r = rejectionOf(e);
        if (!r) throw e;
        return { valid: false, reason: r.reason, message: r.message, index: 0, subject: describeName(target.subject), path: [target.der], pathsTried: 1, work: done() };
      }
    }
    return { valid: true, path: [target.der], revocationEvidence: [], warnings: [], notes: [], policies: 'any', work: done() };
  }

  const crls: Crl[] = [];
  for (const der of rev.crls ?? []) {
    try {
      crls.push(parseCrl(Buffer.from(der)));
    } catch {
      // an unreadable CRL is no evidence
    }
  }
  const ocsp: RevocationContext['ocsp'] = [];
  for (const der of rev.ocspResponses ?? []) {
    const parsed = parseOcspResponse(Buffer.from(der));
    if (typeof parsed !== 'string') ocsp.push({ der: Buffer.from(der), parsed });
  }
  const revCtx: RevocationContext = {
    time,
    options: rev,
    crls,
    ocsp,
    crlSigners: pool,
    anchors,
    signatureCache: new Map(),
    statusCache: new Map(),
    validateCrlSigner: async (c) =>
      (
        await validatePath({
          target: c.der,
          intermediates,
          trustAnchors: input.trustAnchors,
          time,
          purpose: { keyUsage: ['cRLSign'] },
          revocation: { mode: 'off' },
        })
      ).valid,
  };

  /** One pass of building and checking; a valid result, or what it saw of the failures. */
  const attempt = async (w: Work, reachable?: Set<string>) => {
    const stats: BuildStats = { depthLimitHit: false, stepLimitHit: false, yielded: 0 };
    let first: InvalidPath | undefined;
    let tried = 0;
    for (const cand of buildPaths(target, pool, anchors, stats, w, time, maxDepth + 1, reachable)) {
      if (tried >= MAX_PATHS_TRIED) break;
      tried++;
      const path = [...cand.certs.map((c) => c.der), ...(cand.anchor.cert ? [cand.anchor.cert.der] : [])];
      try {
        const policies = checkPath(cand, {
          time,
          keyUsage: purpose.keyUsage,
          extendedKeyUsage: purpose.extendedKeyUsage,
          ...(input.requiredPolicies ? { requiredPolicies: input.requiredPolicies } : {}),
          work: w,
          profile,
        });
        // before revocation: nothing is fetched for a certificate presented under a name it does not have
        if (peer) checkPeerName(target, peer, profile);
        const { evidence, warnings, notes } = await checkRevocation(cand, revCtx);
        return { valid: { valid: true as const, path, revocationEvidence: evidence, warnings, notes, policies, work: done() }, first, tried, stats, exhausted: false };
      } catch (e) {
        const r = rejectionOf(e);
        if (!r) throw e;
        if (!first) {
          const at = r.index !== undefined ? (cand.certs[r.index] ?? cand.anchor.cert) : undefined;
          first = {
            valid: false,
            reason: r.reason,
            message: r.message,
            ...(r.index !== undefined ? { index: r.index } : {}),
            ...(at ? { subject: describeName(at.subject) } : {}),
            path,
            pathsTried: 0,
          };
        }
      }
    }
    return { valid: undefined, first, tried, stats, exhausted: stats.stepLimitHit || w.exhausted };
  };

  let pass = await attempt(work);
  if (pass.valid) return pass.valid;
  if (pass.exhausted) {
    // the search from the target ran out of budget: find, from the anchors' side and with a budget of its
    // own, which certificates a chain of signatures links to an anchor, and build again among those only
    const second = work.fork();
    works.push(second);
    const reachable = reachableFromAnchors(pool, anchors, second);
    if (reachable) {
      const again = await attempt(second, reachable);
      if (again.valid) return again.valid;
      if (!again.exhausted) pass = { ...again, first: again.first ?? pass.first };
    }
  }
  const { stats, first, tried } = pass;
  if (pass.exhausted) {
    // the search stopped before it was complete: what was not looked at might have made a valid path
    const spent = done();
    return {
      valid: false,
      reason: 'budget_exceeded',
      message:
        `không xác định được: đã dừng sau ${spent.signatureChecks} lần kiểm tra chữ ký và ${spent.candidates} ứng viên / ` +
        `indeterminate: path building stopped after ${spent.signatureChecks} signature checks and ${spent.candidates} candidates` +
        (first ? ` (first failure: ${first.reason}: ${first.message})` : ''),
      index: 0,
      subject: describeName(target.subject),
      path: first?.path ?? [],
      pathsTried: tried,
      work: spent,
    };
  }
  if (first) return { ...first, pathsTried: tried, work: done() };
  if (stats.depthLimitHit)
    return {
      valid: false,
      reason: 'depth_exceeded',
      message: `không có đường dẫn nào trong giới hạn ${maxDepth} chứng thư trung gian / no path to a trust anchor within ${maxDepth} intermediate certificates (the depth limit)`,
      index: 0,
      subject: describeName(target.subject),
      path: [],
      pathsTried: 0,
      work: done(),
    };
  const dangling = stats.dangling ?? target;
  const why = `no issuer leading to a trust anchor found for ${describeName(dangling.subject)} (issuer ${describeName(dangling.issuer)})`;
  return {
    valid: false,
    reason: 'no_path',
    message: `no path to a trust anchor: ${why}`,
    index: 0,
    subject: describeName(target.subject),
    path: [],
    pathsTried: 0,
    work: done(),
  };
}
