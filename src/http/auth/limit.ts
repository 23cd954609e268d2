/**
 * Per-source limits applied before authentication, and aggregated denial records.
 *
 * A stranger's requests must not serialise the CA behind them: every refused request used to append an
 * audit record under the audit chain's head lock. Here each source address has a token bucket; a request
 * whose credentials fail costs `failureCost` tokens, any API request costs one, and a source whose bucket
 * is empty is answered 429 `rate_limited` (with Retry-After) before its credentials are even looked up.
 * Denials are still accountable, but aggregated: the first denial of a source and kind in a window is
 * written at once, the rest of the window is counted and written as one record with the count when the
 * window closes (or when the source is next denied after it).
 */

export interface RateLimitOptions {
  /** tokens a source may spend in a burst (default 600) */
  burst: number;
  /** tokens a source regains per second (default 200) */
  perSecond: number;
  /** tokens a failed authentication costs (default 10: 20 wrong guesses a second sustained, at most) */
  failureCost: number;
  /** sources tracked at once; the oldest are forgotten beyond this (default 20,000) */
  maxSources: number;
  /** the window over which denial records of one source are aggregated (default 60 s) */
  denialWindowMs: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = {
  burst: 600,
  perSecond: 200,
  failureCost: 10,
  maxSources: 20_000,
  denialWindowMs: 60_000,
};

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets per source, in memory and bounded in the number of sources. */
export class SourceLimiter {
  private readonly buckets = new Map<string, Bucket>();
  readonly opts: RateLimitOptions;

  constructor(opts: Partial<RateLimitOptions> = {}) {
    this.opts = { ...DEFAULT_RATE_LIMIT, ...opts };
  }

  private bucket(source: string, now: number): Bucket {
    let b = this.buckets.get(source);
    if (b) {
      const elapsed = Math.max(0, now - b.at) / 1000;
      b.tokens = Math.min(this.opts.burst, b.tokens + elapsed * this.opts.perSecond);
      b.at = now;
      this.buckets.delete(source); // re-inserted last: the map stays in order of use
    } else {
      b = { tokens: this.opts.burst, at: now };
      if (this.buckets.size >= this.opts.maxSources) {
        for (const k of this.buckets.keys()) {
          this.buckets.delete(k);
          if (this.buckets.size < this.opts.maxSources) break;
        }
      }
    }
    this.buckets.set(source, b);
    return b;
  }

  /**
   * Spend `cost` tokens of `source`'s bucket. Returns 0 when admitted, or the seconds to wait before a
   * request of that cost would be admitted (the bucket is left unchanged then).
   */
  take(source: string, now: number, cost = 1): number {
    const b = this.bucket(source, now);
    if (b.tokens >= 1) {
      b.tokens -= cost;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.opts.perSecond));
  }

  /** Charge a failure (may leave the bucket in debt, so that guessing is slowed down more than browsing). */
  charge(source: string, now: number, cost = this.opts.failureCost): void {
    const b = this.bucket(source, now);
    b.tokens = Math.max(-this.opts.burst, b.tokens - cost);
  }

  get size(): number {
    return this.buckets.size;
  }
}

export interface Denial {
  source: string;
  kind: string;
  actor: string;
  action: string;
  target: string;
  method: string;
  reason: string;
}

interface Window {
  first: Denial;
  start: number;
  count: number;
  last?: Denial;
}

/**
 * Aggregates denials per source and kind over a window: `note` returns the denial to write now (the first
 * of its window) or null (counted); windows that closed are handed to `flush` with their count.
 */
export class DenialAggregator {
  private readonly windows = new Map<string, Window>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly windowMs: number,
    private readonly flush: (d: Denial, count: number, from: number, to: number) => void,
    private readonly maxKeys = 20_000,
  ) {}

  note(d: Denial, now: number): boolean {
    // a stranger's denials aggregate per source; an authenticated principal's (forbidden) per principal and
    // permission too, so that each person's refused attempt stays on record under their own name
    const key = d.kind === 'forbidden' ? `${d.source}\u0000${d.kind}\u0000${d.reason}\u0000${d.actor}\u0000${d.action}` : `${d.source}\u0000${d.kind}\u0000${d.reason}`;
    const w = this.windows.get(key);
    if (w && now - w.start < this.windowMs) {
      w.count++;
      w.last = d;
      return false;
    }
    if (w) this.close(key, w, now);
    if (this.windows.size >= this.maxKeys) this.sweep(now, true);
    this.windows.set(key, { first: d, start: now, count: 0 });
    this.arm();
    return true;
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sweep(Date.now(), false), Math.max(1000, Math.floor(this.windowMs / 2)));
    this.timer.unref();
  }

  private close(key: string, w: Window, now: number): void {
    this.windows.delete(key);
    if (w.count > 0) this.flush(w.last ?? w.first, w.count, w.start, now);
  }

  /** Close every window that has passed (or, when `force`, the oldest half). */
  sweep(now: number, force: boolean): void {
    let i = 0;
    const half = this.windows.size / 2;
    for (const [k, w] of this.windows) {
      if (now - w.start >= this.windowMs || (force && i++ < half)) this.close(k, w, now);
    }
    if (!this.windows.size && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Write every open window's count now (at shutdown). */
  drain(now = Date.now()): void {
    for (const [k, w] of this.windows) this.close(k, w, now);
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
