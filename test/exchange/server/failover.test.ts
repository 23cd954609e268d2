/**
 * When a service is served by several of its member's security servers, a request that failed at one may go to
 * the next only while no information system can have acted on it.
 */
import { describe, expect, it } from 'vitest';
import { mayTryAnother } from '../../../src/exchange/server/consumer.js';
import { TrucError } from '../../../src/errors.js';
import { readRefusal } from '../../../src/exchange/server/xroad-error.js';

const refusal = (code: string) => readRefusal(503, Buffer.from(JSON.stringify({ code, detail: code }))).error;

describe('trying the provider’s next server', () => {
  it('always before the message went; a streamed one never after', () => {
    expect(mayTryAnother(new TrucError('peer_unreachable', 'x'), false, false)).toBe(true);
    expect(mayTryAnother(new TrucError('peer_unreachable', 'x'), false, true)).toBe(true);
    expect(mayTryAnother(refusal('server_maintenance'), true, true)).toBe(false);
  });

  it('after a small message went, only when that server refused it for a reason of its own', () => {
    for (const code of [
      'server_maintenance',
      'conf_expired',
      'ocsp_stale',
      'timestamp_unavailable',
      'database_unavailable',
      'cert_invalid',
    ])
      expect(mayTryAnother(refusal(code), true, false), code).toBe(true);
    // the service may have acted on it, or every server would say the same
    for (const code of [
      'service_failed',
      'log_failure',
      'access_denied',
      'unknown_service',
      'replayed_message',
      'bad_message',
      'peer_failed',
    ])
      expect(mayTryAnother(refusal(code), true, false), code).toBe(false);
    // a broken connection or an answer that does not check, on this side
    expect(mayTryAnother(new TrucError('peer_failed', 'the connection closed'), true, false)).toBe(false);
    expect(mayTryAnother(new TrucError('bad_message_signature', 'x'), true, false)).toBe(false);
    // the same code raised on this side is not the provider's refusal
    expect(mayTryAnother(new TrucError('conf_expired', 'x'), true, false)).toBe(false);
    expect(mayTryAnother(new Error('ECONNRESET'), true, false)).toBe(false);
  });
});
