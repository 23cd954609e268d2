/**
 * The responder's memory: the status of every certificate it answers for (updated from bus events and
 * database polling), and the pre-signed responses of the RFC 5019 fast path, keyed by the exact request
 * bytes a client sends for one CertID without a nonce (SHA-1 and SHA-256 forms) and by the CertID bytes.
 *
 * A cached response is served only while it is fresh: signed at the certificate's current status version
 * (a status change bumps the version synchronously, before the revoking call returns) and before its
 * nextUpdate. Anything else falls through to signing on demand, so a revocation is never answered with a
 * stale "good".
 */
import type { CertStatus } from '../store.js';

export interface CertState {
  serial: string;
  caId: string;
  status: CertStatus;
  revokedAt: Date | null;
  reason: number | null;
  notAfter: Date;
  /** bumped on every status change seen; a response signed at an older version is stale */
  version: number;
  /** a reload from the database in flight (after an event): answers wait for it */
  pending: Promise<void> | null;
  /** keys of this certificate's pre-signed responses */
  keys: string[];
}

export interface CachedResponse {
  der: Buffer;
  state: CertState;
  version: number;
  nextUpdateMs: number;
  etag: string;
  lastModified: string;
  expires: string;
}

export class ResponseCache {
  readonly states = new Map<string, CertState>();
  private readonly responses = new Map<string, CachedResponse>();

  get(key: string): CachedResponse | undefined {
    return this.responses.get(key);
  }

  isFresh(e: CachedResponse, nowMs: number): boolean {
    return e.version === e.state.version && e.state.pending === null && nowMs < e.nextUpdateMs;
  }

  /** Stores a certificate's responses under their keys (request bytes and CertID bytes, latin1). */
  put(state: CertState, entries: { keys: string[]; response: CachedResponse }[]): void {
    const keys: string[] = [];
    for (const { keys: ks, response } of entries)
      for (const k of ks) {
        this.responses.set(k, response);
        keys.push(k);
      }
    for (const k of state.keys) if (!keys.includes(k)) this.responses.delete(k);
    state.keys = keys;
  }

  drop(state: CertState): void {
    for (const k of state.keys) this.responses.delete(k);
    state.keys = [];
  }

  get size(): number {
    return this.responses.size;
  }
}
