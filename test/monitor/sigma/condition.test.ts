/**
 * The condition language: tokenizer and parser (precedence, parentheses, `x of`), the bounds that protect it,
 * and every condition form evaluated on events.
 */
import { describe, expect, it } from 'vitest';
import { Detector, parseCondition, parseRules } from '../../../src/monitor/sigma/index.js';
import { CONDITION_LIMITS, expandPattern, tokenize } from '../../../src/monitor/sigma/condition.js';
import { expectMatches, rule, ruleText } from './helpers.js';

const sel = `
a:
    A: 1
b:
    B: 1
c:
    C: 1
_hidden:
    H: 1
`;

describe('parser', () => {
  it('binds not tighter than and, and tighter than or', () => {
    expect(parseCondition('a or b and not c')).toEqual({
      t: 'or',
      items: [
        { t: 'id', name: 'a' },
        {
          t: 'and',
          items: [
            { t: 'id', name: 'b' },
            { t: 'not', item: { t: 'id', name: 'c' } },
          ],
        },
      ],
    });
  });

  it('parses parentheses and x of', () => {
    expect(parseCondition('(a or b) and 1 of sel* and all of them')).toEqual({
      t: 'and',
      items: [
        {
          t: 'or',
          items: [
            { t: 'id', name: 'a' },
            { t: 'id', name: 'b' },
          ],
        },
        { t: 'of', quantity: 1, pattern: 'sel*' },
        { t: 'of', quantity: 'all', pattern: undefined },
      ],
    });
  });

  it('accepts keywords in any case', () => {
    expect(parseCondition('a AND NOT b')).toEqual({
      t: 'and',
      items: [
        { t: 'id', name: 'a' },
        { t: 'not', item: { t: 'id', name: 'b' } },
      ],
    });
  });

  it.each([
    ['a and', /unexpected end/],
    ['(a or b', /missing \)/],
    ['a b', /trailing/],
    ['1 of', /pattern or "them"/],
    ['sel*', /wildcard identifier/],
    ['a | count() > 5', /obsolete correlation/],
    ['a near b', /near/],
    ['a & b', /unexpected character/],
    ['0 of them', /at least 1/],
  ])('rejects %s', (text, why) => {
    expect(() => parseCondition(text)).toThrow(why);
  });

  it('bounds nesting, tokens and length', () => {
    const deep = `${'('.repeat(CONDITION_LIMITS.depth + 2)}a${')'.repeat(CONDITION_LIMITS.depth + 2)}`;
    expect(() => parseCondition(deep)).toThrow(/nesting deeper/);
    const nots = `${'not '.repeat(CONDITION_LIMITS.depth + 2)}a`;
    expect(() => parseCondition(nots)).toThrow(/nesting deeper/);
    expect(() =>
      tokenize(
        Array(CONDITION_LIMITS.tokens + 1)
          .fill('a')
          .join(' or '),
      ),
    ).toThrow(/tokens|characters/);
    expect(() => tokenize('a'.repeat(CONDITION_LIMITS.length + 1))).toThrow(/longer than/);
    // Well within the bounds still parses.
    expect(parseCondition(`${'('.repeat(20)}a${')'.repeat(20)}`)).toEqual({ t: 'id', name: 'a' });
  });

  it('expands patterns; them skips identifiers starting with _', () => {
    const ids = ['selection_a', 'selection_b', 'filter', '_hidden'];
    expect(expandPattern('selection_*', ids)).toEqual(['selection_a', 'selection_b']);
    expect(expandPattern(undefined, ids)).toEqual(['selection_a', 'selection_b', 'filter']);
    expect(expandPattern('*', ids)).toEqual(ids);
    expect(expandPattern('filter', ids)).toEqual(['filter']);
  });
});

describe('condition forms on events', () => {
  const cases: [string, object[], object[]][] = [
    ['a', [{ A: 1 }], [{ B: 1 }]],
    ['a and b', [{ A: 1, B: 1 }], [{ A: 1 }, { B: 1 }]],
    ['a or b', [{ A: 1 }, { B: 1 }], [{ C: 1 }]],
    ['not a', [{ B: 1 }, {}], [{ A: 1 }]],
    ['a and not b', [{ A: 1 }], [{ A: 1, B: 1 }, { B: 1 }]],
    [
      '(a or b) and c',
      [
        { A: 1, C: 1 },
        { B: 1, C: 1 },
      ],
      [{ A: 1, B: 1 }, { C: 1 }],
    ],
    ['a or (b and c)', [{ A: 1 }, { B: 1, C: 1 }], [{ B: 1 }, { C: 1 }]],
    ['not (a or b)', [{ C: 1 }], [{ A: 1 }, { B: 1 }]],
    ['1 of them', [{ A: 1 }, { C: 1 }], [{ H: 1 }, {}]],
    [
      'all of them',
      [{ A: 1, B: 1, C: 1 }],
      [
        { A: 1, B: 1 },
        { A: 1, B: 1, H: 1 },
      ],
    ],
    ['1 of _h*', [{ H: 1 }], [{ A: 1 }]],
  ];
  for (const [condition, yes, no] of cases) {
    it(condition, () => {
      expectMatches(
        `${sel}condition: ${condition}`,
        yes as Record<string, unknown>[],
        no as Record<string, unknown>[],
      );
    });
  }

  it('1 of / all of a pattern', () => {
    const d = `
selection_img:
    Image|endswith: '\\net.exe'
selection_cli:
    CommandLine|contains: ' user '
filter_main:
    User: admin
filter_optional:
    User: backup`;
    expectMatches(
      `${d}\ncondition: all of selection_* and not 1 of filter_*`,
      [{ Image: 'C:\\net.exe', CommandLine: 'net user x', User: 'bob' }],
      [
        { Image: 'C:\\net.exe', CommandLine: 'net group x', User: 'bob' },
        { Image: 'C:\\net.exe', CommandLine: 'net user x', User: 'admin' },
        { Image: 'C:\\net.exe', CommandLine: 'net user x', User: 'backup' },
      ],
    );
    expectMatches(
      `${d}\ncondition: 1 of selection_*`,
      [{ Image: 'C:\\net.exe' }, { CommandLine: 'a user b' }],
      [{ User: 'admin' }],
    );
  });

  it('a list of conditions is an OR (the rule text says so; the v2.1 schema only allows a string)', () => {
    const r = parseRules(ruleText(`${sel}condition:\n    - a and b\n    - c`), 'list.yml');
    expect(r.rejected[0]?.reason).toMatch(/schema.*condition must be string/);
    const base = rule(`${sel}condition: a`);
    const listed = { ...base, detection: { ...base.detection, condition: ['a and b', 'c'] } };
    const d = new Detector([listed]);
    const ls = { product: 'test', categories: [], services: [] };
    expect(d.match({ A: 1, B: 1 }, ls)).toHaveLength(1);
    expect(d.match({ C: 1 }, ls)).toHaveLength(1);
    expect(d.match({ A: 1 }, ls)).toHaveLength(0);
  });

  it('rejects references to undefined identifiers and patterns matching nothing', () => {
    expect(new Detector([rule(`${sel}condition: a and zzz`)]).rejected[0]?.reason).toMatch(
      /undefined search identifier zzz/,
    );
    expect(new Detector([rule(`${sel}condition: 1 of nothing*`)]).rejected[0]?.reason).toMatch(
      /matches no search identifier/,
    );
  });
});
