/**
 * Refusals toward information systems, in X-Road's REST form: an `X-Road-Error` header naming where it
 * failed and a stable code (`Server.ClientProxy.access_denied` when this server refused,
 * `Server.ServerProxy.…` when the provider's did), and a problem document (RFC 9457) with the same code.
 */
import type { ServerResponse } from 'node:http';
import { TrucError, isTrucError, toProblem } from '../../errors.js';

export type ErrorOrigin = 'ClientProxy' | 'ServerProxy';

export function xroadErrorCode(origin: ErrorOrigin, code: string): string {
  return `Server.${origin}.${code}`;
}

export function sendXroadError(res: ServerResponse, e: unknown, origin: ErrorOrigin, extra: Record<string, string> = {}): void {
  const problem = toProblem(e);
  const body = Buffer.from(JSON.stringify({ ...problem, xroadError: xroadErrorCode(origin, problem.code) }));
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(problem.status, {
    'content-type': 'application/problem+json',
    'content-length': body.length,
    'x-road-error': xroadErrorCode(origin, problem.code),
    ...extra,
  });
  res.end(body);
}

/** Reads a provider-side refusal (a problem document) back into a TrucError. */
export function errorFromProblem(status: number, body: Buffer): TrucError {
  try {
    const p = JSON.parse(body.toString('utf8'));
    if (p && typeof p.code === 'string') {
      const e = new TrucError(p.code, String(p.detail ?? p.code), { origin: 'provider' });
      // keep the provider's status where the code is one we know, else a peer failure
      return isTrucError(e) && e.status ? e : new TrucError('peer_failed', String(p.detail ?? ''));
    }
  } catch {
    /* not a problem document */
  }
  return new TrucError('peer_failed', `the provider's security server answered ${status}`, { status });
}
