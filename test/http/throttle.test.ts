import { describe, it, expect } from 'vitest';
import { Throttle } from '../../src/http/auth/throttle.js';

describe('throttle of published successes', () => {
  it('lets a key through once per interval, each key on its own', () => {
    const t = new Throttle(60_000);
    expect(t.allow('a', 0)).toBe(true);
    expect(t.allow('a', 59_999)).toBe(false);
    expect(t.allow('b', 59_999)).toBe(true);
    expect(t.allow('a', 60_000)).toBe(true);
    expect(t.allow('a', 100_000)).toBe(false);
    expect(t.allow('a', 10_000)).toBe(true); // a clock set back does not silence a key
  });

  it('stays bounded: expired keys go first, then the oldest', () => {
    const t = new Throttle(60_000, 3);
    t.allow('a', 0);
    t.allow('b', 1000);
    t.allow('c', 70_000);
    expect(t.allow('d', 70_500)).toBe(true); // a and b expired and were dropped
    expect(t.allow('c', 71_000)).toBe(false);
    expect(t.allow('e', 72_000)).toBe(true);
    expect(t.allow('f', 72_500)).toBe(true); // full of live keys: the oldest (c) is forgotten
    expect(t.allow('e', 73_000)).toBe(false);
    expect(t.allow('c', 73_000)).toBe(true);
  });
});
