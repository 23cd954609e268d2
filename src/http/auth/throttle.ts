/**
 * At most one occurrence of a key per interval, in memory: a successful authentication is published once
 * per principal, source address and minute, not on every API call, so the bus is not flooded by busy
 * clients. Bounded: when full, keys whose interval has passed are forgotten first, then the oldest.
 */
export class Throttle {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly intervalMs = 60_000,
    private readonly maxKeys = 10_000,
  ) {}

  /** True when `key` was not let through within the interval before `now` (and records it). */
  allow(key: string, now: number): boolean {
    const prev = this.last.get(key);
    if (prev !== undefined && now - prev < this.intervalMs && now >= prev) return false;
    this.last.delete(key); // re-inserted at the end: the map stays in order of last admission
    if (this.last.size >= this.maxKeys) this.prune(now);
    this.last.set(key, now);
    return true;
  }

  private prune(now: number): void {
    for (const [k, t] of this.last) if (now - t >= this.intervalMs) this.last.delete(k);
    for (const k of this.last.keys()) {
      if (this.last.size < this.maxKeys) break;
      this.last.delete(k);
    }
  }
}
