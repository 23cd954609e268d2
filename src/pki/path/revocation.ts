/**
 * Revocation checking of a path that passed basic processing (RFC 5280 section 6.3 for CRLs, RFC 6960
 * for OCSP). For each certificate below the anchor: OCSP responses given, then CRLs given (complete CRLs
 * with their delta CRLs), then, if the caller supplied fetchers, the certificate's OCSP responders and CRL
 * distribution points. A definite answer ('good' or 'revoked') becomes evidence; no answer is
 * 'revocation_unknown' in hard-fail mode and a warning in soft-fail mode.
 *
 * Not supported: CRLs signed with a different key of the issuing CA than the one in the path, CRL
 * distribution points named relative to the issuer, and reason-partitioned CRLs as proof of 'good'
 * (a CRL with onlySomeReasons can still prove 'revoked').
 */
import { TrucError } from '../../errors.js';
import type { CandidatePath } from './build.js';
import type { Certificate } from './certificate.js';
import type { Anchor } from './anchor.js';
import { parseCrl, REMOVE_FROM_CRL, type Crl } from './crl.js';
import { evaluateOcsp, parseOcspResponse } from './ocsp.js';
import { encodeOcspRequest } from './ocsp-request.js';
import { checkSignature } from './signature.js';
import { generalNameKey } from './general-name.js';
import { describeName } from './name.js';
import { serialKey } from './primitives.js';
import { issuerOfCert, type IssuerInfo } from './issuer.js';
import { reject, type PathNote, type RevocationEvidence } from './result.js';
import { MAX_CRL_BYTES, MAX_OCSP_BYTES } from './limits.js';

export interface RevocationOptions {
  crls?: Uint8Array[];
  ocspResponses?: Uint8Array[];
  /** POSTs an OCSP request (DER) to a responder URL and resolves to the response DER */
  fetchOcsp?: (url: string, requestDer: Buffer) => Promise<Uint8Array>;
  fetchCrl?: (url: string) => Promise<Uint8Array>;
  mode: 'hard-fail' | 'soft-fail' | 'off';
  /** check only the target instead of every certificate below the anchor (default false) */
  targetOnly?: boolean;
}

export interface RevocationContext {
  time: Date;
  options: RevocationOptions;
  crls: Crl[];
  ocsp: { der: Buffer; parsed: Exclude<ReturnType<typeof parseOcspResponse>, string> }[];
  /** certificates that may have signed an indirect CRL */
  crlSigners: Certificate[];
  anchors: Anchor[];
  /** validates a would-be indirect CRL issuer's own path (for cRLSign, revocation off) */
  validateCrlSigner: (cert: Certificate) => Promise<boolean>;
  signatureCache: Map<string, boolean>;
  statusCache: Map<string, Status>;
}

type Status =
  | { kind: 'good' | 'revoked'; evidence: RevocationEvidence[]; revocationTime?: Date; reason?: number }
  | { kind: 'unknown'; why: string[] };

const MAX_FETCHES_PER_CERT = 3;

function isCurrent(crl: Crl, time: Date): boolean {
  return crl.thisUpdate <= time && (!crl.nextUpdate || time <= crl.nextUpdate);
}

/** Whether a CRL's scope covers the certificate: 'full', 'partial' (some reasons only) or not at all. */
function crlScope(crl: Crl, cert: Certificate): 'full' | 'partial' | null {
  const idp = crl.idp;
  const isCa = !!cert.basicConstraints?.ca;
  if (idp?.onlyAttributeCerts || (idp?.onlyUserCerts && isCa) || (idp?.onlyCACerts && !isCa)) return null;
  const direct = crl.issuer.key === cert.issuer.key;
  const dpNames = (dp: Certificate['crlDistributionPoints'][number]) =>
    new Set((dp.fullName ?? dp.crlIssuer ?? []).map(generalNameKey));
  let matched = false;
  for (const dp of cert.crlDistributionPoints) {
    const issuerOk = dp.crlIssuer
      ? !!idp?.indirectCRL && dp.crlIssuer.some((n) => n.type === 'dir' && n.value.key === crl.issuer.key)
      : direct;
    if (!issuerOk) continue;
    if (!idp?.fullName && !idp?.relativeName) {
      matched = true;
      break;
    }
    const names = dpNames(dp);
    if (idp.fullName?.some((n) => names.has(generalNameKey(n)))) {
      matched = true;
      break;
    }
  }
  if (!matched && !(direct && !idp?.fullName && !idp?.relativeName)) return null;
  return idp?.onlySomeReasons !== undefined ? 'partial' : 'full';
}

async function crlSignedFor(
  crl: Crl,
  cert: Certificate,
  issuer: IssuerInfo,
  ctx: RevocationContext,
): Promise<boolean> {
  if (!crl.signatureAlgorithmMatches) return false;
  const verifies = (spki: Buffer) => {
    const key = `${crl.fingerprint}|${spki.toString('hex')}`;
    let ok = ctx.signatureCache.get(key);
    if (ok === undefined) {
      ok = checkSignature(crl.signatureAlgorithm, spki, crl.tbs, crl.signature) === 'ok';
      ctx.signatureCache.set(key, ok);
    }
    return ok;
  };
  if (crl.issuer.key === cert.issuer.key) {
    if (issuer.cert?.keyUsage && !issuer.cert.keyUsage.has('cRLSign')) return false;
    return verifies(issuer.spki);
  }
  // indirect CRL: its issuer must be a CA we can validate, allowed to sign CRLs
  for (const a of ctx.anchors)
    if (
      a.name.key === crl.issuer.key &&
      verifies(a.spki) &&
      (!a.cert?.keyUsage || a.cert.keyUsage.has('cRLSign'))
    )
      return true;
  for (const c of ctx.crlSigners)
    if (c.subject.key === crl.issuer.key && verifies(c.spki) && (await ctx.validateCrlSigner(c))) return true;
  return false;
}

async function statusFromCrls(
  cert: Certificate,
  issuer: IssuerInfo,
  crls: Crl[],
  ctx: RevocationContext,
  why: string[],
): Promise<Status | null> {
  const usable: { crl: Crl; scope: 'full' | 'partial' }[] = [];
  for (const crl of crls) {
    const scope = crlScope(crl, cert);
    if (!scope) continue;
    if (crl.unknownCritical) {
      why.push(`CRL của ${describeName(crl.issuer)} có phần mở rộng tới hạn không được xử lý ${crl.unknownCritical} / CRL from ${describeName(crl.issuer)} has unknown critical extension ${crl.unknownCritical}`);
      continue;
    }
    if (crl.crlNumber === undefined) {
      // RFC 5280 5.2.3: conforming CRL issuers MUST include the CRL number; without it a CRL cannot be ordered
      // against others nor paired with delta CRLs, so it proves nothing
      why.push(`CRL của ${describeName(crl.issuer)} không có số CRL / CRL from ${describeName(crl.issuer)} has no CRL number`);
      continue;
    }
    if (!isCurrent(crl, ctx.time)) {
      why.push(`CRL from ${describeName(crl.issuer)} is not current at the validation time`);
      continue;
    }
    if (!(await crlSignedFor(crl, cert, issuer, ctx))) {
      why.push(
        `CRL from ${describeName(crl.issuer)} has a signature that does not verify or an unauthorised issuer`,
      );
      continue;
    }
    usable.push({ crl, scope });
  }
  const key = `${cert.serialHex}|${cert.issuer.key}`;
  const completes = usable
    .filter((u) => u.crl.baseCrlNumber === undefined)
    .sort((a, b) => +b.crl.thisUpdate - +a.crl.thisUpdate);
  const deltas = usable
    .filter((u) => u.crl.baseCrlNumber !== undefined)
    .sort((a, b) => +b.crl.thisUpdate - +a.crl.thisUpdate);
  const evidence = (
    crl: Crl,
    status: 'good' | 'revoked',
    entry?: { revocationDate: Date; reason?: number },
  ): RevocationEvidence => ({
    serial: cert.serialHex,
    subject: describeName(cert.subject),
    kind: 'crl',
    der: crl.der,
    status,
    thisUpdate: crl.thisUpdate,
    ...(crl.nextUpdate ? { nextUpdate: crl.nextUpdate } : {}),
    ...(entry ? { revocationTime: entry.revocationDate } : {}),
    ...(entry?.reason !== undefined ? { revocationReason: entry.reason } : {}),
  });
  // an authentic, current delta CRL listing the certificate proves revocation even without its base CRL
  for (const { crl } of deltas) {
    const e = crl.entries.get(key);
    if (!e) continue;
    if (e.reason !== REMOVE_FROM_CRL)
      return {
        kind: 'revoked',
        evidence: [evidence(crl, 'revoked', e)],
        revocationTime: e.revocationDate,
        ...(e.reason !== undefined ? { reason: e.reason } : {}),
      };
    break;
  }
  for (const { crl, scope } of completes) {
    const delta = deltas.find(
      (d) =>
        crl.crlNumber !== undefined &&
        d.crl.crlNumber !== undefined &&
        d.crl.baseCrlNumber! <= crl.crlNumber &&
        d.crl.crlNumber > crl.crlNumber &&
        d.crl.issuer.key === crl.issuer.key,
    );
    const dEntry = delta?.crl.entries.get(key);
    const entry = crl.entries.get(key);
    if (entry && entry.reason !== REMOVE_FROM_CRL && !(dEntry && dEntry.reason === REMOVE_FROM_CRL))
      return {
        kind: 'revoked',
        evidence: [evidence(crl, 'revoked', entry)],
        revocationTime: entry.revocationDate,
        ...(entry.reason !== undefined ? { reason: entry.reason } : {}),
      };
    if (scope === 'full')
      return {
        kind: 'good',
        evidence: [evidence(crl, 'good'), ...(delta ? [evidence(delta.crl, 'good')] : [])],
      };
  }
  return null;
}

function fromOcsp(
  cert: Certificate,
  issuer: IssuerInfo,
  der: Buffer,
  parsed: Exclude<ReturnType<typeof parseOcspResponse>, string>,
  ctx: RevocationContext,
  why: string[],
): Status | null {
  const out = evaluateOcsp(parsed, cert, issuer, ctx.time);
  if (!out.ok) {
    if (!out.noMatch) why.push(out.why);
    return null;
  }
  if (out.answer.status === 'unknown') {
    why.push('OCSP responder does not know the certificate');
    return null;
  }
  const a = out.answer;
  const ev: RevocationEvidence = {
    serial: cert.serialHex,
    subject: describeName(cert.subject),
    kind: 'ocsp',
    der,
    status: a.status as 'good' | 'revoked',
    thisUpdate: a.thisUpdate,
    ...(a.nextUpdate ? { nextUpdate: a.nextUpdate } : {}),
    ...(a.revocationTime ? { revocationTime: a.revocationTime } : {}),
    ...(a.revocationReason !== undefined ? { revocationReason: a.revocationReason } : {}),
  };
  return {
    kind: ev.status,
    evidence: [ev],
    ...(a.revocationTime ? { revocationTime: a.revocationTime } : {}),
    ...(a.revocationReason !== undefined ? { reason: a.revocationReason } : {}),
  };
}

async function statusOf(cert: Certificate, issuer: IssuerInfo, ctx: RevocationContext): Promise<Status> {
  const why: string[] = [];
  for (const r of ctx.ocsp) {
    const s = fromOcsp(cert, issuer, r.der, r.parsed, ctx, why);
    if (s) return s;
  }
  const fromGiven = await statusFromCrls(cert, issuer, ctx.crls, ctx, why);
  if (fromGiven) return fromGiven;
  const { fetchOcsp, fetchCrl } = ctx.options;
  if (fetchOcsp) {
    for (const url of cert.ocspUrls.slice(0, MAX_FETCHES_PER_CERT)) {
      try {
        const der = Buffer.from(await fetchOcsp(url, encodeOcspRequest(cert, issuer, { hash: 'sha1' })));
        if (der.length > MAX_OCSP_BYTES) throw new TrucError('too_large', 'OCSP response too large');
        const parsed = parseOcspResponse(der);
        if (typeof parsed === 'string') {
          why.push(`${url}: ${parsed}`);
          continue;
        }
        const s = fromOcsp(cert, issuer, der, parsed, ctx, why);
        if (s) return s;
      } catch (e) {
        why.push(`${url}: ${(e as Error).message}`);
      }
    }
  }
  if (fetchCrl) {
    const urls = cert.crlDistributionPoints
      .flatMap((dp) => dp.fullName ?? [])
      .flatMap((n) => (n.type === 'uri' ? [n.value] : []))
      .slice(0, MAX_FETCHES_PER_CERT);
    const fetched: Crl[] = [];
    for (const url of urls) {
      try {
        const der = Buffer.from(await fetchCrl(url));
        if (der.length > MAX_CRL_BYTES) throw new TrucError('too_large', 'CRL too large');
        fetched.push(parseCrl(der));
      } catch (e) {
        why.push(`${url}: ${(e as Error).message}`);
      }
    }
    if (fetched.length > 0) {
      const s = await statusFromCrls(cert, issuer, [...fetched, ...ctx.crls], ctx, why);
      if (s) return s;
    }
  }
  return { kind: 'unknown', why };
}

const REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  '',
  'removeFromCRL',
  'privilegeWithdrawn',
  'aACompromise',
];

export async function checkRevocation(
  cand: CandidatePath,
  ctx: RevocationContext,
): Promise<{ evidence: RevocationEvidence[]; warnings: string[]; notes: PathNote[] }> {
  const evidence: RevocationEvidence[] = [];
  const warnings: string[] = [];
  const notes: PathNote[] = [];
  if (ctx.options.mode === 'off') return { evidence, warnings, notes };
  const { certs, anchor } = cand;
  const last = ctx.options.targetOnly ? 1 : certs.length;
  for (let idx = 0; idx < last; idx++) {
    const cert = certs[idx];
    const issuer = idx + 1 < certs.length ? issuerOfCert(certs[idx + 1]) : anchor;
    const cacheKey = `${cert.fingerprint}|${issuer.spki.toString('hex')}`;
    let status = ctx.statusCache.get(cacheKey);
    if (!status) {
      status = await statusOf(cert, issuer, ctx);
      ctx.statusCache.set(cacheKey, status);
    }
    if (status.kind === 'revoked') {
      const reason = status.reason !== undefined ? ` (${REASONS[status.reason] || status.reason})` : '';
      reject(
        'revoked',
        `${describeName(cert.subject)} is revoked${reason}${status.revocationTime ? ' since ' + status.revocationTime.toISOString() : ''}`,
        idx,
      );
    }
    if (status.kind === 'unknown') {
      const subject = describeName(cert.subject);
      const detail = status.why.join('; ');
      const msg = `no revocation status for ${subject}${detail ? ': ' + detail : ''}`;
      if (ctx.options.mode === 'hard-fail') reject('revocation_unknown', msg, idx);
      warnings.push(msg);
      notes.push({ code: 'REVOCATION_MISSING', params: { subject, ...(detail ? { detail } : {}) } });
      continue;
    }
    evidence.push(...status.evidence);
  }
  return { evidence, warnings, notes };
}

/**
 * When a certificate was revoked, read from the CRLs and OCSP responses at hand (path validation has established
 * that it is revoked and which CRLs and responses are authentic; this only fetches the date): for a signature's
 * proof of existence against its revocation (EN 319 102-1's REVOKED_NO_POE).
 */
export function revocationTimeOf(cert: Certificate, revocation: Pick<RevocationOptions, 'crls' | 'ocspResponses'>): Date | undefined {
  const serial = serialKey(cert.serial);
  for (const der of revocation.crls ?? []) {
    try {
      const crl = parseCrl(Buffer.from(der));
      if (crl.issuer.key !== cert.issuer.key) continue;
      for (const [key, entry] of crl.entries) if (key.split('|')[0] === serial) return entry.revocationDate;
    } catch {
      // unreadable CRLs were already ignored by path validation
    }
  }
  for (const der of revocation.ocspResponses ?? []) {
    const r = parseOcspResponse(Buffer.from(der));
    if (typeof r === 'string') continue;
    for (const one of r.basic.tbsResponseData.responses) {
      const serialOf = Buffer.from(one.certID.serialNumber);
      if (serialKey(serialOf) === serial && one.certStatus.revoked) return one.certStatus.revoked.revocationTime;
    }
  }
  return undefined;
}
