/**
 * The per-signer part of basic signature validation (EN 319 102-1 §5.3): identification of the signing
 * certificate, cryptographic verification, X.509 validation of the signer's path with `validatePath`
 * (trust anchors given by the caller, revocation as the caller configures it plus the CRLs the signature
 * carries), signature acceptance (key usage, algorithm policy) — each mapped to an indication and
 * sub-indication. Without a proof of existence (a time-stamp, from B-T on) the validation time is now,
 * so a certificate expired or revoked since signing is INDETERMINATE, not failed.
 */
import { decodeName, nameToString } from '../../pki/name.js';
import { revocationTimeOf, validatePath, type Certificate, type RevocationEvidence, type RevocationOptions, type TrustAnchorInput } from '../../pki/path/index.js';
import type { CmsSigner } from '../cades/verify.js';
import type { CertificateSummary, Indication, SignatureReport, SubIndication } from './report.js';
import { checkAlgorithms, keyAlgorithmId, type AlgorithmPolicy } from './algorithms.js';
import { note } from './notes.js';

export interface ValidationOptions {
  /** roots the signer's path must reach */
  trustAnchors: TrustAnchorInput[];
  /** revocation checking for the path (default soft-fail with the CRLs the signature carries) */
  revocation?: RevocationOptions;
  /** validation time (default now) */
  at?: Date;
  /** more certificates to build paths with (besides those the signature carries) */
  intermediates?: Uint8Array[];
  /** which algorithms are reliable until when (default `DEFAULT_ALGORITHM_POLICY`) */
  algorithmPolicy?: AlgorithmPolicy;
}

function dn(der: Buffer): string {
  try {
    return nameToString(decodeName(der));
  } catch {
    return der.toString('hex');
  }
}

export function summarise(c: Certificate): CertificateSummary {
  let commonName: string | undefined;
  try {
    commonName = decodeName(c.subject.der).find((a) => a.type === 'CN')?.value;
  } catch {
    commonName = undefined;
  }
  return {
    subject: dn(c.subject.der),
    ...(commonName ? { commonName } : {}),
    issuer: dn(c.issuer.der),
    serial: c.serialHex,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
  };
}

/** What the signature carries beyond its CMS certificates and CRLs, and its proof of existence. */
export interface SignerEvidence {
  /** OCSPResponses (DSS, revocation-values) */
  ocsps?: Buffer[];
  /** certificates (DSS, certificate-values) */
  certs?: Buffer[];
  /** best signature time: the earliest genTime of a valid time-stamp over the signature */
  poe?: Date;
  /**
   * filled by validation with the revocation data the signer's path was judged with — configured, carried, or fetched
   * then from the certificates' OCSP responders and CRL distribution points (XAdES-C references are matched against it)
   */
  used?: RevocationEvidence[];
}

type Verdict = { indication: Indication; subIndication?: SubIndication; message?: string };

export async function validateSigner(
  s: CmsSigner,
  certificates: Buffer[],
  crls: Buffer[],
  base: Pick<SignatureReport, 'index' | 'format' | 'level'> & { claimedSigningTime?: Date },
  opts: ValidationOptions,
  extra: SignerEvidence = {},
): Promise<SignatureReport> {
  const report: SignatureReport = {
    index: base.index,
    format: base.format,
    level: base.level,
    indication: 'INDETERMINATE',
    ...(base.claimedSigningTime ? { claimedSigningTime: base.claimedSigningTime.toISOString() } : {}),
    checks: {
      integrity: s.digestMatches ?? null,
      signatureValue: s.certificate && !s.unsupportedAlgorithm ? s.signatureValid : null,
      signingCertificateReference: s.signingCertificate,
      certificateChain: null,
      certificateValidAtSigningTime: null,
    },
    certificatePath: [],
    warnings: [],
    notes: [...(s.notes ?? [])],
  };
  const notes = report.notes!;
  const done = (v: Verdict): SignatureReport => Object.assign(report, v);
  if (s.certificate) report.signer = summarise(s.certificate);
  // integrity before the signer's identification: a broken signature is reported broken, not unbound — a digest
  // that does not hold is proven without any certificate
  if (s.digestMatches === false) return done({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE', message: 'the signed data does not match the message-digest' });
  if (!s.certificate) return done({ indication: 'INDETERMINATE', subIndication: 'NO_SIGNING_CERTIFICATE_FOUND', message: "the signer's certificate is not in the signature" });
  // an algorithm we cannot compute proves nothing either way (EN 319 102-1 §5.2.7: INDETERMINATE)
  if (s.unsupportedAlgorithm)
    return done({ indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE', message: `không kiểm tra được chữ ký: thuật toán chưa được hỗ trợ / the signature cannot be checked: ${s.unsupportedAlgorithm} is not supported` });
  // a signature value that does not verify fails whether or not the signed data can be found
  if (!s.signatureValid) return done({ indication: 'TOTAL-FAILED', subIndication: 'SIG_CRYPTO_FAILURE', message: `the signature value does not verify: ${s.signatureProblem ?? 'bad signature'}` });
  if (s.signingCertificate !== 'ok')
    return done({
      indication: 'INDETERMINATE',
      subIndication: 'NO_SIGNING_CERTIFICATE_FOUND',
      message: s.signingCertificate === 'absent' ? 'no signing-certificate-v2 attribute binds the certificate' : 'signing-certificate-v2 names another certificate',
    });
  if (s.digestMatches === undefined)
    return done({ indication: 'INDETERMINATE', subIndication: 'SIGNED_DATA_NOT_FOUND', message: 'the signed data is not available: a detached signature is validated with the content it signs' });

  // the algorithms at the validation time, or at the proof of existence when one of them has expired since
  let keyId: string;
  try {
    keyId = keyAlgorithmId(s.certificate);
  } catch (e) {
    return done({ indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE', message: `unreadable key: ${(e as Error).message}` });
  }
  const algs = checkAlgorithms([s.digest, ...(s.otherDigests ?? []), keyId], opts.at ?? new Date(), extra.poe, opts.algorithmPolicy);
  if (!algs.ok) {
    if (extra.poe) report.bestSignatureTime = extra.poe.toISOString();
    return done({ indication: 'INDETERMINATE', subIndication: algs.subIndication, message: algs.message });
  }
  notes.push(...algs.notes);
  const ku = s.certificate.keyUsage;
  if (ku && !ku.has('digitalSignature') && !ku.has('nonRepudiation'))
    return done({ indication: 'INDETERMINATE', subIndication: 'SIG_CONSTRAINTS_FAILURE', message: "the signer's certificate is not for signing (key usage)" });

  const at = opts.at ?? new Date();
  const revocation: RevocationOptions = {
    mode: 'soft-fail',
    ...opts.revocation,
    crls: [...(opts.revocation?.crls ?? []), ...crls],
    ocspResponses: [...(opts.revocation?.ocspResponses ?? []), ...(extra.ocsps ?? [])],
  };
  const intermediates = [...certificates, ...(extra.certs ?? [])].filter((c) => !c.equals(s.certificate!.der));
  intermediates.push(...(opts.intermediates ?? []).map((c) => Buffer.from(c)));
  const carriedCrls = crls.map((c) => c.toString('base64'));
  const carriedOcsps = (extra.ocsps ?? []).map((c) => c.toString('base64'));
  if (carriedCrls.length || carriedOcsps.length) report.revocationData = { crls: carriedCrls, ocspResponses: carriedOcsps };
  const poe = extra.poe;
  if (poe) report.bestSignatureTime = poe.toISOString();
  /** the path as it was at the proof of existence (revocation judged from the evidence at hand, below) */
  const validAtPoe = async () => !!poe && (await validatePath({ target: s.certificate!.der, intermediates, trustAnchors: opts.trustAnchors, time: poe, revocation: { mode: 'off' } })).valid;
  const path = await validatePath({ target: s.certificate.der, intermediates, trustAnchors: opts.trustAnchors, time: at, revocation });
  if (base.claimedSigningTime) {
    const then = await validatePath({ target: s.certificate.der, intermediates, trustAnchors: opts.trustAnchors, time: base.claimedSigningTime, revocation });
    report.checks.certificateValidAtSigningTime = then.valid;
  }
  report.checks.certificateChain = path.valid;
  if (path.valid) extra.used?.push(...path.revocationEvidence);
  if (path.valid) {
    report.certificatePath = path.path.map((c) => c.toString('base64'));
    for (const n of path.notes) notes.push(note(n.code, n.params));
    return done({ indication: 'TOTAL-PASSED' });
  }
  report.certificatePath = path.path.map((c) => c.toString('base64'));
  const where = path.index === 0 ? "the signer's certificate" : `certificate ${path.index ?? '?'} of the path`;
  switch (path.reason) {
    case 'no_path':
      return done({ indication: 'INDETERMINATE', subIndication: 'NO_CERTIFICATE_CHAIN_FOUND', message: path.message });
    case 'expired': {
      if (await validAtPoe()) {
        const rev = revocationTimeOf(s.certificate, revocation);
        if (rev && rev <= poe!) return done({ indication: 'TOTAL-FAILED', subIndication: 'REVOKED', message: `${where} was revoked at ${rev.toISOString()}, before the proof of existence` });
        notes.push(note('CERTIFICATE_EXPIRED_AFTER_POE', { where, poe: poe!.toISOString(), revoked: rev?.toISOString() }));
        return done({ indication: 'TOTAL-PASSED' });
      }
      return done({ indication: 'INDETERMINATE', subIndication: 'OUT_OF_BOUNDS_NO_POE', message: `${where} has expired and nothing proves the signature existed before: ${path.message}` });
    }
    case 'not_yet_valid':
      return done({ indication: 'INDETERMINATE', subIndication: 'NOT_YET_VALID', message: path.message });
    case 'revoked': {
      // a claimed signing time after the revocation is the signer's own admission: failed, not indeterminate
      const rev = revocationTimeOf(s.certificate, revocation);
      if (rev && poe && poe < rev && (await validAtPoe())) {
        notes.push(note('CERTIFICATE_REVOKED_AFTER_POE', { where, revoked: rev.toISOString(), poe: poe.toISOString() }));
        return done({ indication: 'TOTAL-PASSED' });
      }
      if (rev && poe && rev <= poe) return done({ indication: 'TOTAL-FAILED', subIndication: 'REVOKED', message: `${where} was revoked at ${rev.toISOString()}, before the proof of existence at ${poe.toISOString()}` });
      if (rev && base.claimedSigningTime && base.claimedSigningTime >= rev)
        return done({ indication: 'TOTAL-FAILED', subIndication: 'REVOKED', message: `${where} was revoked at ${rev.toISOString()}, before the claimed signing time` });
      return done({ indication: 'INDETERMINATE', subIndication: 'REVOKED_NO_POE', message: `${where} is revoked and nothing proves the signature existed before: ${path.message}` });
    }
    case 'revocation_unknown':
      return done({ indication: 'INDETERMINATE', subIndication: 'TRY_LATER', message: path.message });
    case 'unsupported_algorithm':
      return done({ indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE', message: path.message });
    case 'key_usage':
    case 'extended_key_usage':
    case 'policy':
    case 'name_constraints':
    case 'path_length_exceeded':
      return done({ indication: 'INDETERMINATE', subIndication: 'CHAIN_CONSTRAINTS_FAILURE', message: path.message });
    default:
      return done({ indication: 'INDETERMINATE', subIndication: 'CERTIFICATE_CHAIN_GENERAL_FAILURE', message: path.message });
  }
}

