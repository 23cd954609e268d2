import { describe, expect, it } from 'vitest';
import { ReplayGuard } from '../../../src/exchange/server/context.js';

describe('replay guard', () => {
  it('refuses an id seen before, per client, and keeps every id through its growth', () => {
    const g = new ReplayGuard(60_000);
    const t = Date.now();
    const n = 50_000; // several doublings of the table
    for (let i = 0; i < n; i++) expect(g.add(`SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu|id-${i}`, t)).toBe(true);
    expect(g.size).toBe(n);
    for (let i = 0; i < n; i += 997) {
      expect(g.has(`SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu|id-${i}`)).toBe(true);
      expect(g.add(`SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu|id-${i}`, t)).toBe(false);
    }
    // the same id from another client is another message
    expect(g.has('SUBSYSTEM:VN/PROV/000.00.31.H29/vanthu|id-7')).toBe(false);
    expect(g.add('SUBSYSTEM:VN/PROV/000.00.31.H29/vanthu|id-7', t)).toBe(true);
    expect(g.has('SUBSYSTEM:VN/GOV/000.00.00.G22/vanthu|id-unseen')).toBe(false);
  });

  it('forgets an id on demand, and every other id stays found through the moves that follow', () => {
    const g = new ReplayGuard(60_000);
    const t = Date.now();
    const n = 20_000;
    for (let i = 0; i < n; i++) g.add(`c|id-${i}`, t);
    // every third one forgotten: the entries behind each in its probe run move back
    for (let i = 0; i < n; i += 3) g.forget(`c|id-${i}`);
    g.forget('c|never-seen');
    expect(g.size).toBe(n - Math.ceil(n / 3));
    for (let i = 0; i < n; i++) expect(g.has(`c|id-${i}`), `id-${i}`).toBe(i % 3 !== 0);
    // a forgotten id may come again, once
    expect(g.add('c|id-3', t)).toBe(true);
    expect(g.add('c|id-3', t)).toBe(false);
  });

  it('remembers an id for at least twice the skew window, then forgets it', () => {
    const w = 1000;
    // the guard's clock starts when it is made: times are taken after, or a loaded machine's millisecond
    // between the two reads would leave the first rotation one millisecond short
    const g = new ReplayGuard(w);
    const t0 = Date.now();
    expect(g.add('c|a', t0)).toBe(true);
    // one rotation later the id is in the older generation: still refused
    expect(g.add('c|b', t0 + 2 * w + 1)).toBe(true);
    expect(g.add('c|a', t0 + 2 * w + 2)).toBe(false);
    expect(g.has('c|a')).toBe(true);
    // a second rotation drops it (by then its time is outside the window and it is refused for that)
    expect(g.add('c|c', t0 + 4 * w + 3)).toBe(true);
    expect(g.has('c|a')).toBe(false);
    expect(g.has('c|b')).toBe(true);
  });
});
