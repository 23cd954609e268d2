/**
 * TimeStampReq parsing (RFC 3161 section 2.4.1). Failures carry the PKIFailureInfo the reply must name:
 * badAlg for a hash we do not accept (SHA-1, MD5, anything but SHA-256/384/512), badDataFormat for bytes
 * that are not a request or a digest of the wrong length, unacceptedPolicy for a policy we do not serve,
 * unacceptedExtension for any extension (we support none).
 */
import { TrucError } from '../../errors.js';
import { children, decodeOid, parseOne, type Element } from '../../asn1/reader.js';

export const MAX_TSA_REQUEST_BYTES = 64 * 1024;

export const TSA_HASHES: Record<string, { name: 'sha256' | 'sha384' | 'sha512'; size: number }> = {
  '2.16.840.1.101.3.4.2.1': { name: 'sha256', size: 32 },
  '2.16.840.1.101.3.4.2.2': { name: 'sha384', size: 48 },
  '2.16.840.1.101.3.4.2.3': { name: 'sha512', size: 64 },
};

export type FailureInfo =
  | 'badAlg'
  | 'badRequest'
  | 'badDataFormat'
  | 'timeNotAvailable'
  | 'unacceptedPolicy'
  | 'unacceptedExtension'
  | 'addInfoNotAvailable'
  | 'systemFailure';

export const FAILURE_BITS: Record<FailureInfo, number> = {
  badAlg: 0,
  badRequest: 2,
  badDataFormat: 5,
  timeNotAvailable: 14,
  unacceptedPolicy: 15,
  unacceptedExtension: 16,
  addInfoNotAvailable: 17,
  systemFailure: 25,
};

export interface TimeStampRequest {
  /** the MessageImprint element as sent (the token echoes it) */
  messageImprint: Buffer;
  hashAlgorithm: 'sha256' | 'sha384' | 'sha512';
  hashedMessage: Buffer;
  policy: string | null;
  /** the nonce INTEGER element as sent */
  nonce: Buffer | null;
  certReq: boolean;
}

export function rejection(failInfo: FailureInfo, message: string): TrucError {
  return new TrucError('bad_request', `time-stamp request: ${message}`, { failInfo });
}

function want(el: Element | undefined, tag: number, what: string): Element {
  if (!el || el.tag !== tag) throw rejection('badDataFormat', `${what} missing or of the wrong type`);
  return el;
}

export function parseTimeStampRequest(der: Buffer, acceptedPolicies: string[]): TimeStampRequest {
  if (der.length > MAX_TSA_REQUEST_BYTES) throw rejection('badDataFormat', `larger than ${MAX_TSA_REQUEST_BYTES} bytes`);
  let fields: Element[];
  try {
    fields = children(want(parseOne(der, 'TimeStampReq', MAX_TSA_REQUEST_BYTES), 0x30, 'TimeStampReq'), 'TimeStampReq', 6);
  } catch (e) {
    if (e instanceof TrucError && e.detail?.failInfo) throw e;
    throw rejection('badDataFormat', (e as Error).message);
  }
  try {
    const version = want(fields[0], 0x02, 'version');
    if (version.value.length !== 1 || version.value[0] !== 1) throw rejection('badDataFormat', 'version must be 1');
    const imprint = want(fields[1], 0x30, 'messageImprint');
    const [alg, hashed, extra] = children(imprint, 'messageImprint', 2);
    if (extra) throw rejection('badDataFormat', 'messageImprint has extra fields');
    const [algOid, params] = children(want(alg, 0x30, 'hashAlgorithm'), 'hashAlgorithm', 2);
    const oid = decodeOid(want(algOid, 0x06, 'hash algorithm OID').value);
    if (params && params.tag !== 0x05) throw rejection('badDataFormat', 'hash algorithm parameters must be absent or NULL');
    const h = TSA_HASHES[oid];
    if (!h) throw rejection('badAlg', `hash algorithm ${oid} is not accepted (SHA-256, SHA-384, SHA-512)`);
    const digest = want(hashed, 0x04, 'hashedMessage').value;
    if (digest.length !== h.size) throw rejection('badDataFormat', `a ${h.name} digest is ${h.size} bytes, not ${digest.length}`);
    let i = 2;
    let policy: string | null = null;
    if (fields[i]?.tag === 0x06) {
      policy = decodeOid(fields[i++].value);
      if (!acceptedPolicies.includes(policy)) throw rejection('unacceptedPolicy', `policy ${policy} is not served here`);
    }
    let nonce: Buffer | null = null;
    if (fields[i]?.tag === 0x02) {
      const n = fields[i++];
      if (n.value.length === 0 || n.value.length > 64) throw rejection('badDataFormat', 'nonce must be 1 to 64 octets');
      nonce = n.raw;
    }
    let certReq = false;
    if (fields[i]?.tag === 0x01) {
      const b = fields[i++];
      if (b.value.length !== 1 || (b.value[0] !== 0 && b.value[0] !== 0xff)) throw rejection('badDataFormat', 'certReq is not a DER BOOLEAN');
      certReq = b.value[0] === 0xff;
    }
    if (fields[i]?.tag === 0xa0) throw rejection('unacceptedExtension', 'extensions are not supported');
    if (i !== fields.length) throw rejection('badDataFormat', 'unexpected fields');
    return { messageImprint: imprint.raw, hashAlgorithm: h.name, hashedMessage: digest, policy, nonce, certReq };
  } catch (e) {
    if (e instanceof TrucError && e.detail?.failInfo) throw e;
    throw rejection('badDataFormat', (e as Error).message);
  }
}
