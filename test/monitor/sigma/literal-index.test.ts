/**
 * The literal index: required literals of rules (including those read from regular expressions), the scan
 * that pre-selects rules, and agreement with plain evaluation on the awkward cases — Unicode folding, emoji,
 * arrays, keywords.
 */
import { describe, expect, it } from 'vitest';
import { EventView, LiteralIndex, compileRule } from '../../../src/monitor/sigma/index.js';
import { fold } from '../../../src/monitor/sigma/fold.js';
import { literal, literalText } from '../../../src/monitor/sigma/literals.js';
import { regexLiterals } from '../../../src/monitor/sigma/regex-literals.js';
import { expectMatches, rule } from './helpers.js';

describe('required literals', () => {
  it('AND keeps the most distinctive child, OR unions, NOT gives none', () => {
    const r = compileRule(
      rule(`
sel_img:
    Image|endswith: '\\certutil.exe'
sel_cli:
    CommandLine|contains: [' -urlcache ', ' -decode ']
filter:
    User: admin
condition: all of sel_* and not filter`),
    );
    // One literal suffices; the image name (9 distinctive chars in one literal) beats two shorter flags.
    expect(r.literals).toEqual([literal('Image', '\\certutil.exe')]);
    expect(
      compileRule(
        rule(`
a:
    A: xyzzy
b:
    B: plugh
condition: a or b`),
      ).literals,
    ).toEqual([literal('A', 'xyzzy'), literal('B', 'plugh')]);
    expect(
      compileRule(
        rule(`
a:
    A: xyzzy
condition: not a`),
      ).literals,
    ).toBeNull();
    // An OR branch without literal makes the whole OR unconstrained.
    expect(
      compileRule(
        rule(`
a:
    A: xyzzy
b:
    B|gt: 3
condition: a or b`),
      ).literals,
    ).toBeNull();
  });

  it('takes the longest chunk between wildcards, folded', () => {
    expect(
      compileRule(
        rule(`
a:
    A: 'ab*LONGEST*cd'
condition: a`),
      ).literals!.map(literalText),
    ).toEqual(['longest']);
  });

  it('reads conservative literals from regular expressions', () => {
    expect(regexLiterals('cmd.{0,5}(?:/c|/r).+powershell')).toEqual(['powershell']);
    expect(regexLiterals('(?i)^Invoke-Expression')).toEqual(['invoke-expression']);
    expect(regexLiterals('abc?de')).toEqual(['ab']);
    expect(regexLiterals('foo|barbaz')).toEqual(['foo', 'barbaz']);
    expect(regexLiterals('(a|b)+')).toBeUndefined();
    expect(regexLiterals('\\$PSHome\\[')).toEqual(['$pshome[']);
    expect(regexLiterals('\\d+\\s\\w')).toBeUndefined();
  });
});

describe('LiteralIndex.scan', () => {
  it('reports exactly the rules whose literal occurs in its field', () => {
    const idx = new LiteralIndex(
      [
        { rule: 0, literals: [literal('CommandLine', 'mimikatz')] },
        { rule: 1, literals: [literal('Image', '\\cmd.exe'), literal('Image', '\\pwsh.exe')] },
        { rule: 2, literals: [literal(undefined, 'needle')] },
        { rule: 3, literals: [literal('CommandLine', '😀')] },
        { rule: 4, literals: [literal('CommandLine', '^^')] },
      ],
      5,
    );
    const all = idx.plan(new Uint8Array([1, 1, 1, 1, 1]));
    const hits = (e: Record<string, unknown>) => {
      const s = new Set<number>();
      idx.scan(new EventView(e), all, (i) => s.add(i));
      return [...s].sort();
    };
    expect(hits({ CommandLine: 'x MIMIKATZ y', Image: 'C:\\cmd.exe' })).toEqual([0, 1]);
    // The literal in another field does not count (except keywords, searched everywhere).
    expect(hits({ Image: 'mimikatz', CommandLine: 'C:\\cmd.exe' })).toEqual([]);
    expect(hits({ deep: { x: ['a NEEDLE'] } })).toEqual([2]);
    expect(hits({ CommandLine: 'hi 😀 and c^^md' })).toEqual([3, 4]);
    // Only the routed rules' fields are planned.
    const only1 = idx.plan(new Uint8Array([0, 1, 0, 0, 0]));
    expect(only1.fields.map((f) => f.field)).toEqual(['Image']);
    expect(only1.keywords).toBe(false);
  });
});

describe('LiteralIndex search strategies', () => {
  /** A small deterministic generator (xorshift32): the same cases on every run. */
  function random(seed: number): () => number {
    let x = seed;
    return () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
  }
  // few letters, so that literals overlap, share prefixes and recur in values; and characters whose case
  // folding is not one-to-one (İ, final sigma) or takes two code units (𐐀)
  const ALPHABET = ['a', 'b', 'A', 'B', '\\', ':', ' ', 'İ', 'Σ', 'ς', '𐐀', '𐐨', 'é', 'É'];

  it('the skip table and the gram tables report exactly the literals a value holds', () => {
    const next = random(0x5eed);
    const word = (min: number, max: number): string => {
      let w = '';
      const n = min + Math.floor(next() * (max - min + 1));
      for (let i = 0; i < n; i++) w += ALPHABET[Math.floor(next() * ALPHABET.length)]!;
      return w;
    };
    let compared = 0;
    let found = 0;
    for (let round = 0; round < 60; round++) {
      // skip tables take at most 32 literals: rounds of few and of many; shortest lengths from 1 to 6
      const count = round % 2 === 0 ? 1 + Math.floor(next() * 32) : 40 + Math.floor(next() * 60);
      const shortest = 1 + (round % 6);
      const texts = Array.from({ length: count }, () => word(shortest, shortest + 8));
      const entries = texts.map((t, rule) => ({ rule, literals: [literal('F', t), literal(undefined, t.length >= 4 ? t : `${t}${t}${t}${t}`)] }));
      const all = new Uint8Array(count).fill(1);
      const skip = new LiteralIndex(entries, count, { skipMinLength: 3 });
      const grams = new LiteralIndex(entries, count, { skipMinLength: Infinity });
      for (let v = 0; v < 40; v++) {
        // values built partly from the literals, so that they hold some
        let value = word(0, 12);
        for (let k = 0; k < 3; k++) value += (next() < 0.5 ? texts[Math.floor(next() * count)]! : '') + word(0, 6);
        if (next() < 0.3) value = value.toUpperCase();
        const folded = fold(value);
        const expected = entries.filter((e) => folded.includes(fold(literalText(e.literals[0]!)))).map((e) => e.rule);
        const expectedKw = entries.filter((e) => folded.includes(fold(literalText(e.literals[1]!)))).map((e) => e.rule);
        for (const idx of [skip, grams]) {
          const got = new Set<number>();
          const plan = idx.plan(all);
          idx.scan(new EventView({ F: value }), { fields: plan.fields, keywords: false }, (i) => got.add(i));
          expect([...got].sort((a, b) => a - b)).toEqual(expected);
          const gotKw = new Set<number>();
          idx.scan(new EventView({ other: value }), { fields: [], keywords: plan.keywords }, (i) => gotKw.add(i));
          expect([...gotKw].sort((a, b) => a - b)).toEqual(expectedKw);
          compared++;
        }
        found += expected.length;
      }
    }
    expect(compared).toBe(60 * 40 * 2);
    // the cases are not trivially empty
    expect(found).toBeGreaterThan(500);
  });

  it('searches keyword literals in each value, never across two', () => {
    const idx = new LiteralIndex([{ rule: 0, literals: [literal(undefined, 'needle')] }], 1);
    const plan = idx.plan(new Uint8Array([1]));
    const hits = (e: Record<string, unknown>) => {
      const s = new Set<number>();
      idx.scan(new EventView(e), plan, (i) => s.add(i));
      return [...s];
    };
    expect(hits({ a: 'nee', b: 'dle' })).toEqual([]);
    expect(hits({ a: ['x', 'hay NEEDLE hay'], b: 1 })).toEqual([0]);
    expect(hits({ a: { b: { c: 'needle' } } })).toEqual([0]);
  });

  it('leaves out of the keyword text only values too short to hold a keyword literal, even once folded', () => {
    // 'i̇stanbul' (the fold of İSTANBUL) is 9 characters; the 8 of 'İSTANBUL' fold to 9
    const idx = new LiteralIndex([{ rule: 0, literals: [literal(undefined, fold('İSTANBUL'))] }], 1);
    expect(idx.keywordMin).toBe(9);
    const plan = idx.plan(new Uint8Array([1]));
    const hits = (e: Record<string, unknown>) => {
      const s = new Set<number>();
      idx.scan(new EventView(e), plan, (i) => s.add(i));
      return [...s];
    };
    expect(hits({ a: 'İSTANBUL' })).toEqual([0]);
    expect(hits({ a: ['x', 'to İstanbul'] })).toEqual([0]);
    expect(hits({ a: 'ISTANBUL' })).toEqual([]);
    const view = new EventView({ a: 'short', b: 12345, c: 'long enough', d: 'İSTANBUL' });
    expect(view.foldedText(9)).toBe('long enough\u0000i̇stanbul\u0000');
    expect(view.foldedText()).toBe('short\u000012345\u0000long enough\u0000i̇stanbul\u0000');
    expect(view.truncated).toBe(false);
    // past the view's bounds the text is partial, said as leaves() says it, and the detector evaluates every rule
    const many = new EventView({ a: Array.from({ length: 10_001 }, (_, i) => i) });
    many.foldedText(9);
    expect(many.truncated).toBe(true);
    expect(new EventView({ a: Array.from({ length: 10_000 }, (_, i) => i) }).foldedText(9)).toBe('');
  });
});

describe('index and plain evaluation agree', () => {
  it('on case folding beyond ASCII', () => {
    expectMatches(
      `
a:
    A|contains: 'σοφία'
condition: a`,
      [{ A: 'Η ΣΟΦΊΑ' }, { A: 'ΣΟΦΊΑΣ' }],
      [{ A: 'sofia' }],
    );
    expectMatches(
      `
a:
    A|contains: 'İSTANBUL'
condition: a`,
      [{ A: 'from İstanbul' }],
      [{ A: 'from Ankara' }],
    );
    expectMatches(
      `
a:
    A|contains: '𐐨𐐩'
condition: a`,
      [{ A: 'x𐐀𐐁y' }, { A: '𐐨𐐩' }],
      [{ A: '𐐪' }],
    );
  });

  it('on emoji, arrays, keywords and regular expressions', () => {
    expectMatches(
      `
a:
    CommandLine|contains: ['😀', '🦆']
condition: a`,
      [{ CommandLine: 'run 🦆' }],
      [{ CommandLine: 'run' }],
    );
    expectMatches(
      `
a:
    tags|contains: evil
condition: a`,
      [{ tags: ['x', 'EVIL one'] }],
      [{ tags: ['x'] }, { tags: [{ evil: 1 }] }],
    );
    expectMatches(
      `
k:
    - 'needle in'
condition: k`,
      [{ a: { b: { c: ['x', 'NEEDLE IN haystack'] } } }],
      [{ a: 'needle' }],
    );
    expectMatches(
      `
a:
    A|re|i: 'Foo.*Bar'
condition: a`,
      [{ A: 'xFOOyBAR' }],
      [{ A: 'xFOyBAR' }],
    );
  });
});
