/**
 * OCSP responses (RFC 6960 section 4.2, RFC 5019 profile) assembled from DER pieces: a BasicOCSPResponse
 * with a byKey ResponderID, one SingleResponse per CertID (the CertID echoed as the client sent it), the
 * nonce echoed when asked, the delegated responder's certificate in `certs`, signed by the key store.
 * Error statuses carry no responseBytes and are constants.
 */
import { createHash } from 'node:crypto';
import { bitString, ctx as explicit, enumerated, generalizedTime, oid, octets, seq, tlv } from '../../asn1/der.js';
import { OID_NONCE } from './request.js';

const OID_BASIC = '1.3.6.1.5.5.7.48.1.1';

export const OCSP_STATUS = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
} as const;

/** OCSPResponse with an error status and no body: 30 03 0a 01 nn. */
export const errorResponse = (status: number): Buffer => Buffer.from([0x30, 0x03, 0x0a, 0x01, status]);
export const MALFORMED = errorResponse(OCSP_STATUS.malformedRequest);
export const INTERNAL_ERROR = errorResponse(OCSP_STATUS.internalError);
export const UNAUTHORIZED = errorResponse(OCSP_STATUS.unauthorized);

/** Who signs responses for a CA: the CA's own key, or its delegated responder with its certificate. */
export interface ResponseSigner {
  /** DER AlgorithmIdentifier of the signature */
  algorithm: Buffer;
  sign(tbs: Uint8Array): Buffer | Promise<Buffer>;
  /** [2] EXPLICIT KeyHash: SHA-1 of the signer's public key bits */
  responderId: Buffer;
  /** [0] EXPLICIT SEQUENCE OF Certificate, or empty when the CA signs */
  certs: Buffer;
}

export function responderIdByKey(publicKeyBits: Buffer): Buffer {
  return explicit(2, octets(createHash('sha1').update(publicKeyBits).digest()));
}

export function certsField(certs: Buffer[]): Buffer {
  return certs.length ? explicit(0, seq(...certs)) : Buffer.alloc(0);
}

export interface SingleStatus {
  status: 'good' | 'revoked' | 'hold' | 'unknown';
  revokedAt?: Date | null;
  reason?: number | null;
}

/** GeneralizedTime, whole seconds, Zulu (RFC 6960 via RFC 5280 4.1.2.5.2). */
export const gtime = generalizedTime;

const GOOD = Buffer.from([0x80, 0x00]);
const UNKNOWN = Buffer.from([0x82, 0x00]);
const HOLD = 6;

function certStatus(s: SingleStatus): Buffer {
  if (s.status === 'good') return GOOD;
  if (s.status === 'unknown') return UNKNOWN;
  const reason = s.status === 'hold' ? HOLD : s.reason;
  // RevokedInfo, [1] IMPLICIT: revocationTime, then [0] EXPLICIT CRLReason (left out for unspecified)
  return tlv(0xa1, gtime(s.revokedAt ?? new Date(0)), ...(reason ? [explicit(0, enumerated(reason))] : []));
}

export function singleResponse(certId: Buffer, s: SingleStatus, thisUpdate: Buffer, nextUpdate: Buffer): Buffer {
  return seq(certId, certStatus(s), thisUpdate, nextUpdate);
}

export interface ResponseTimes {
  producedAt: Date;
  thisUpdate: Date;
  nextUpdate: Date;
}

/** A signed, successful OCSPResponse for the given CertIDs and their statuses. */
export async function signResponse(
  signer: ResponseSigner,
  singles: { certId: Buffer; status: SingleStatus }[],
  times: ResponseTimes,
  nonce: Buffer | null,
): Promise<Buffer> {
  const tbs = encodeTbs(signer, singles, times, nonce);
  return assemble(signer, tbs, await signer.sign(tbs));
}

/** The same, for signers known to be synchronous (pre-signing loops). */
export function signResponseSync(
  signer: ResponseSigner,
  singles: { certId: Buffer; status: SingleStatus }[],
  times: ResponseTimes,
): Buffer {
  const tbs = encodeTbs(signer, singles, times, null);
  const sig = signer.sign(tbs);
  if (!Buffer.isBuffer(sig)) throw new Error('signResponseSync needs a synchronous signer');
  return assemble(signer, tbs, sig);
}

function encodeTbs(
  signer: ResponseSigner,
  singles: { certId: Buffer; status: SingleStatus }[],
  times: ResponseTimes,
  nonce: Buffer | null,
): Buffer {
  const thisUpdate = gtime(times.thisUpdate);
  const nextUpdate = explicit(0, gtime(times.nextUpdate));
  const responses = seq(...singles.map((s) => singleResponse(s.certId, s.status, thisUpdate, nextUpdate)));
  const exts = nonce ? [explicit(1, seq(seq(oid(OID_NONCE), octets(nonce))))] : [];
  return seq(signer.responderId, gtime(times.producedAt), responses, ...exts);
}

const BASIC_TYPE = oid(OID_BASIC);
const SUCCESSFUL = enumerated(0);

function assemble(signer: ResponseSigner, tbs: Buffer, signature: Buffer): Buffer {
  const basic = seq(tbs, signer.algorithm, bitString(signature), signer.certs);
  return seq(SUCCESSFUL, explicit(0, seq(BASIC_TYPE, octets(basic))));
}
