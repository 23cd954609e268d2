/**
 * Regular expressions and wildcards from rules run in linear time: catastrophic patterns for a
 * backtracking engine finish at once over long fields, what RE2 cannot run is refused with its reason,
 * and the wildcard matcher agrees with the regular expression it replaced.
 */
import { describe, expect, it } from 'vitest';
import { Detector } from '../../../src/monitor/sigma/index.js';
import { starMatcher } from '../../../src/monitor/sigma/glob.js';
import { compileRegex } from '../../../src/monitor/sigma/regex.js';
import { detector, expectMatches, hits, rule } from './helpers.js';

describe('linear-time regular expressions', () => {
  it('runs ^(a+)+$ and (a|aa)*b over 100,000 characters without backtracking', () => {
    const long = 'a'.repeat(100_000) + '!';
    const t0 = performance.now();
    for (const src of ['^(a+)+$', '(a|aa)*b', '^(a*)*$', '(.*a){20}']) {
      const d = detector(`
selection:
    A|re: '${src}'
condition: selection`);
      hits(d, { A: long });
    }
    // a backtracking engine takes longer than the universe's age here; generous for a busy machine
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  it('keeps Sigma semantics: flags from modifiers and inline, unanchored search', () => {
    expectMatches(
      `
selection:
    A|re|i: '^power(shell)?\\.exe$'
condition: selection`,
      [{ A: 'PowerShell.EXE' }, { A: 'power.exe' }],
      [{ A: 'xpowershell.exe' }, { A: 'powershell.exe\n' }],
    );
    expect(compileRegex('(?s)a.b').test('a\nb')).toBe(true);
    expect(compileRegex('a.b').test('a\nb')).toBe(false);
    expect(compileRegex('\\d{3}-\\w+').test('call 555-home')).toBe(true);
  });

  it('refuses lookaround and backreferences with the reason, in Vietnamese and English', () => {
    for (const [src, why] of [
      ['foo(?!bar)', /lookaround/],
      ['(a)\\1', /backreferences/],
    ] as const) {
      const d = new Detector([
        rule(`
selection:
    A|re: '${src}'
condition: selection`),
      ]);
      expect(d.rules).toHaveLength(0);
      expect(d.rejected[0]?.reason).toMatch(why);
      expect(d.rejected[0]?.reason).toMatch(/biểu thức chính quy/);
    }
  });

  it('matches wildcards without a regular expression, as the regular expression did', () => {
    const cases: [string[], string, boolean][] = [
      [['', 'a', 'b', ''], 'xxaxxbxx', true],
      [['', 'a', 'b', ''], 'xxbxxaxx', false],
      [['c:\\', '\\x.exe'], 'c:\\y\\x.exe', true],
      [['ab', 'ba'], 'aba', false],
      [['ab', 'ba'], 'abba', true],
      [['a', '', 'a'], 'a', false],
      [['a', '', 'a'], 'aa', true],
    ];
    for (const [segs, s, want] of cases) expect(starMatcher(segs)(s), `${segs.join('*')} ~ ${s}`).toBe(want);
    // random agreement with the anchored regular expression
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let k = 0; k < 2000; k++) {
      const segs = Array.from({ length: 2 + rnd(3) }, () => 'ab'.slice(0, rnd(3)).split('').map(() => 'ab'[rnd(2)]).join(''));
      const s = Array.from({ length: rnd(8) }, () => 'ab'[rnd(2)]).join('');
      const re = new RegExp(`^${segs.join('.*')}$`, 's');
      expect(starMatcher(segs)(s), `${segs.join('*')} ~ ${s}`).toBe(re.test(s));
    }
  });

  it('runs many-star wildcards and 1-of patterns over long fields at once', () => {
    const d = detector(`
selection:
    A|contains: 'a*a*a*a*a*a*a*a*a*a*a*a*b'
selection_q:
    B: '*a?a*a?a*a?a*b'
condition: 1 of selection*`);
    const t0 = performance.now();
    hits(d, { A: 'a'.repeat(50_000), B: 'a'.repeat(50_000) });
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});
