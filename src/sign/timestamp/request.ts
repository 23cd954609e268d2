/**
 * The client side of RFC 3161: a TimeStampReq for a message imprint (with a nonce and certReq, so the
 * token carries the TSA's certificate), and the reading of a TimeStampResp — granted with a token, or a
 * rejection whose status text becomes a `timestamp_failed` error. The token is checked to answer this
 * request (same imprint, same nonce) before it is handed back.
 */
import { randomBytes } from 'node:crypto';
import { int, octets, seq, TRUE, uintFromBytes } from '../../asn1/der.js';
import { children, parseOne } from '../../asn1/reader.js';
import { TrucError } from '../../errors.js';
import { digestAlgorithmId, type DigestName } from '../cms/attributes.js';
import { readTimeStampToken } from './token.js';

/** Bound on a TimeStampResp: a token with a certificate chain is a few kilobytes. */
export const MAX_TSA_RESPONSE_BYTES = 256 * 1024;

export interface StampRequest {
  der: Buffer;
  /** the nonce INTEGER's magnitude */
  nonce: Buffer;
}

export function timeStampRequest(imprint: Buffer, hash: DigestName): StampRequest {
  const nonce = randomBytes(12);
  nonce[0] &= 0x7f;
  nonce[0] |= 0x01; // non-zero leading byte: the magnitude is its own minimal encoding
  const der = seq(int(1), seq(digestAlgorithmId(hash), octets(imprint)), uintFromBytes(nonce), TRUE);
  return { der, nonce };
}

const STATUS = ['granted', 'grantedWithMods', 'rejection', 'waiting', 'revocationWarning', 'revocationNotification'];

/** The token of a granted TimeStampResp, checked against the request it answers. */
export function tokenFromResponse(resp: Uint8Array, req: StampRequest, imprint: Buffer): Buffer {
  const buf = Buffer.from(resp.buffer, resp.byteOffset, resp.byteLength);
  if (buf.length > MAX_TSA_RESPONSE_BYTES) throw new TrucError('timestamp_failed', `time-stamp response of ${buf.length} bytes is too large`);
  let parts;
  try {
    parts = children(parseOne(buf, 'TimeStampResp', MAX_TSA_RESPONSE_BYTES), 'TimeStampResp', 2);
  } catch (e) {
    throw new TrucError('timestamp_failed', `the time-stamp response is not DER: ${(e as Error).message}`);
  }
  const statusInfo = parts[0] ? children(parts[0], 'PKIStatusInfo', 3) : [];
  const status = statusInfo[0]?.tag === 0x02 && statusInfo[0].value.length === 1 ? statusInfo[0].value[0] : -1;
  if (status !== 0 && status !== 1) {
    const text = statusInfo[1]?.tag === 0x30 ? children(statusInfo[1]).map((s) => s.value.toString('utf8')).join('; ') : '';
    throw new TrucError('timestamp_failed', `the TSA answered ${STATUS[status] ?? `status ${status}`}${text ? `: ${text}` : ''}`, { status });
  }
  if (!parts[1]) throw new TrucError('timestamp_failed', 'the TSA granted the request but sent no token');
  const token = Buffer.from(parts[1].raw);
  const t = readTimeStampToken(token);
  if (!t.tstInfo.hashedMessage.equals(imprint)) throw new TrucError('timestamp_failed', 'the token is for another message imprint');
  if (!t.tstInfo.nonce?.equals(req.nonce)) throw new TrucError('timestamp_failed', 'the token does not echo the nonce of the request');
  return token;
}
