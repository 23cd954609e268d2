/**
 * A TimeStamper backed by the platform's own time-stamping authority, in the same process: the request
 * goes through `TimeStampAuthority.stamp` exactly as it would over HTTP (parsed, logged, answered with a
 * TimeStampResp), so a token made here is the same as one fetched from /tsa.
 */
import type { TimeStampAuthority } from '../../pki/tsa/index.js';
import type { TimeStamper } from '../signer.js';
import { timeStampRequest, tokenFromResponse } from './request.js';

export function localTimeStamper(tsa: Pick<TimeStampAuthority, 'stamp'>): TimeStamper {
  return {
    async stamp(imprint, hash) {
      const req = timeStampRequest(imprint, hash);
      return tokenFromResponse(await tsa.stamp(req.der), req, imprint);
    },
  };
}
