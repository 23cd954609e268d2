/**
 * A fixed set of PKCS#11 sessions, each lent to one operation at a time. A session carries operation state
 * (C_SignInit … C_Sign, C_FindObjectsInit … Final) and must not be shared by interleaved operations; with
 * the *Async calls running on worker threads, several sessions let signatures proceed in parallel.
 */
import type { Handle } from './module.js';
import { TrucError } from '../../errors.js';

export class SessionPool {
  private readonly idle: Handle[];
  private readonly waiting: ((s: Handle) => void)[] = [];
  private closed = false;

  constructor(readonly sessions: readonly Handle[]) {
    this.idle = [...sessions];
  }

  /** Runs `fn` with a session of its own; waits when all are lent. */
  async use<T>(fn: (session: Handle) => T | Promise<T>): Promise<T> {
    if (this.closed) throw new TrucError('key_store', 'the PKCS#11 key store is closed');
    const session = this.idle.pop() ?? (await new Promise<Handle>((resolve) => this.waiting.push(resolve)));
    try {
      return await fn(session);
    } finally {
      const next = this.waiting.shift();
      if (next) next(session);
      else this.idle.push(session);
    }
  }

  /** Waits for lent sessions to come back, then refuses new work. */
  async drain(): Promise<void> {
    this.closed = true; // work already queued is still served: release hands sessions to waiters first
    while (this.idle.length < this.sessions.length) await new Promise<void>((r) => setTimeout(r, 5));
  }
}
