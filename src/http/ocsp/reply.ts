/**
 * The HTTP side of OCSP (RFC 6960 appendix A, RFC 5019 section 5): reading the GET form's base64 path,
 * and the caching headers of a response (max-age up to nextUpdate, ETag, Last-Modified, Expires). Shared
 * by the Fastify route and the lean standalone server.
 */
import type { OcspReply } from '../../pki/ocsp/index.js';
import { MAX_REQUEST_BYTES } from '../../pki/ocsp/index.js';

export const OCSP_RESPONSE_TYPE = 'application/ocsp-response';

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** The DER of a GET request's path segment (base64, URL-encoded or not), or null when it is not base64. */
export function decodeGetRequest(path: string): Buffer | null {
  let s = path;
  if (s.length > ((MAX_REQUEST_BYTES + 2) / 3) * 4 * 3) return null;
  if (s.includes('%')) {
    try {
      s = decodeURIComponent(s);
    } catch {
      return null;
    }
  }
  if (!s || !BASE64.test(s)) return null;
  return Buffer.from(s, 'base64');
}

/** Headers for a GET answer: cacheable until nextUpdate when the response has no nonce. */
export function cacheHeaders(reply: OcspReply, nowMs: number): Record<string, string> {
  const c = reply.cache;
  if (!c) return { 'cache-control': 'no-store' };
  const maxAge = Math.max(0, Math.floor((c.nextUpdateMs - nowMs) / 1000));
  return {
    'cache-control': `public, max-age=${maxAge}, no-transform, must-revalidate`,
    etag: c.etag,
    'last-modified': c.lastModified,
    expires: c.expires,
  };
}
