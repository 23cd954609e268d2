/**
 * A TimeStamper over HTTP (RFC 3161 §3.4): POST application/timestamp-query, read
 * application/timestamp-reply. Bounded in time and size; any TSA that speaks the protocol will do (ours at
 * /tsa, or a qualified provider's).
 */
import { TrucError } from '../../errors.js';
import type { TimeStamper } from '../signer.js';
import { MAX_TSA_RESPONSE_BYTES, timeStampRequest, tokenFromResponse } from './request.js';

export interface HttpTimeStamperOptions {
  timeoutMs?: number;
  /** extra headers (a TSA that wants Basic authentication) */
  headers?: Record<string, string>;
  fetch?: typeof globalThis.fetch;
}

export function httpTimeStamper(url: string, opts: HttpTimeStamperOptions = {}): TimeStamper {
  const doFetch = opts.fetch ?? globalThis.fetch;
  return {
    async stamp(imprint, hash) {
      const req = timeStampRequest(imprint, hash);
      let res: Response;
      try {
        res = await doFetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/timestamp-query', accept: 'application/timestamp-reply', ...opts.headers },
          body: new Uint8Array(req.der),
          signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
        });
      } catch (e) {
        throw new TrucError('timestamp_failed', `the TSA at ${url} could not be reached: ${(e as Error).message}`);
      }
      if (!res.ok) throw new TrucError('timestamp_failed', `the TSA at ${url} answered HTTP ${res.status}`);
      const declared = Number(res.headers.get('content-length') ?? 0);
      if (declared > MAX_TSA_RESPONSE_BYTES) throw new TrucError('timestamp_failed', `the TSA's answer of ${declared} bytes is too large`);
      const body = Buffer.from(await res.arrayBuffer());
      return tokenFromResponse(body, req, imprint);
    },
  };
}
