/** TimeStampResp (RFC 3161 section 2.4.2): granted with a token, or rejection with a PKIFailureInfo. */
import { int, namedBits, seq, utf8 } from '../../asn1/der.js';
import { FAILURE_BITS, type FailureInfo } from './request.js';

const GRANTED = seq(int(0));

export function grantedResponse(token: Buffer): Buffer {
  return seq(GRANTED, token);
}

export function rejectionResponse(failInfo: FailureInfo, text: string): Buffer {
  return seq(seq(int(2), seq(utf8(text.slice(0, 200))), namedBits([FAILURE_BITS[failInfo]])));
}
