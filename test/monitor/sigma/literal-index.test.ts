/**
 * The literal index: required literals of rules (including those read from regular expressions), the scan
 * that pre-selects rules, and agreement with plain evaluation on the awkward cases — Unicode folding, emoji,
 * arrays, keywords.
 */
import { describe, expect, it } from 'vitest';
import { EventView, LiteralIndex, compileRule } from '../../../src/monitor/sigma/index.js';
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
