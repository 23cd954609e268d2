import { describe, expect, it } from 'vitest';
import { dotSegment, pathAmbiguity, pathCovered } from '../../../src/exchange/server/store.js';

describe('dot segments in request paths (access rights are matched on the path as sent)', () => {
  it('finds a segment a system could read as "." or "..", plain or encoded', () => {
    const climbing: [string, string][] = [
      ['/cong-khai/../mat', '..'],
      ['/cong-khai/./mat', '.'],
      ['/cong-khai/..', '..'],
      ['/cong-khai/%2e%2e/mat', '%2e%2e'],
      ['/cong-khai/%2E%2e/mat', '%2E%2e'],
      ['/cong-khai/.%2e/mat', '.%2e'],
      ['/cong-khai/%252e%252e/mat', '%252e%252e'], // encoded twice
      ['/cong-khai/..%2fmat', '..%2fmat'], // an encoded slash a system decodes before resolving
      ['/cong-khai/..%5cmat', '..%5cmat'], // an encoded backslash
      ['/cong-khai/..\\mat', '..\\mat'],
      ['/cong-khai/..;x=1/mat', '..;x=1'], // path parameters, as Tomcat reads them
      ['/cong-khai/%2e%2e%3b/mat', '%2e%2e%3b'],
    ];
    for (const [path, seg] of climbing) expect(dotSegment(path), path).toBe(seg);
  });

  it('leaves ordinary paths alone, dots inside names and the query included', () => {
    for (const path of ['/', '/cong-khai/1', '/tai-lieu/bao-cao.v2.pdf', '/cong-khai/..an', '/cong-khai/a..', '/cong-khai/...', '/x/%2e%2e%2e', '/ma/%E1%BB%87', '/tim?duong=../../etc&x=%2e%2e', '/a%2Fb', '/a/%zz/b'])
      expect(dotSegment(path), path).toBeUndefined();
  });

  it('a path a system could read as another: a fragment mark, a backslash, a dot segment or a character a request line cannot carry', () => {
    const ambiguous: [string, RegExp][] = [
      ['/ho-so/1#.pdf', /"#"/], // served as /ho-so/1, matched as *.pdf
      ['/ho-so/1?q=1#x', /"#"/],
      ['/ho-so/1\\2/tep', /backslash/], // served as /ho-so/1/2/tep, matched as */tep
      ['/cong-khai/../mat', /"\.\."/],
      ['/ho so', /space/],
      ['/h\u1ed3-s\u01a1', /non-ASCII/],
      ['/a\u0000b', /control/],
    ];
    for (const [path, why] of ambiguous) expect(pathAmbiguity(path)?.en, path).toMatch(why);
    for (const [path] of ambiguous) expect(pathAmbiguity(path)?.vi, path).toBeTruthy();
    // a backslash in the query is the query's; encoded characters are what they say
    for (const path of ['/', '/ho-so/1/tep', '/tim?duong=a\\b', '/a%5Cb', '/a%23b', "/m/{c}/d`e/\"f\"?q='x'&r=\"<y>\"", '/ma/%E1%BB%87'])
      expect(pathAmbiguity(path), path).toBeUndefined();
  });

  it('path patterns: a trailing * for anything below, else * within a segment and ** for anything, as X-Road writes them; the query left out', () => {
    const cases: [string, string, boolean][] = [
      ['/cong-khai/*', '/cong-khai/1?x=1', true],
      ['/cong-khai/*', '/cong-khai/1/2', true], // Trục's trailing *: anything below
      ['/cong-khai/*', '/mat/1', false],
      ['/cong-khai/*', '/cong-khai', false],
      ['/cong-khai', '/cong-khai?x', true],
      ['/cong-khai', '/cong-khai/1', false],
      ['*', '/bat-ky', true],
      ['**', '/bat/ky', true],
      ['/ho-so/**', '/ho-so/1/tep/2', true],
      ['/ho-so/**', '/ho-sox', false],
      ['/ho-so/*/tep', '/ho-so/1/tep', true], // X-Road's * inside: one segment
      ['/ho-so/*/tep', '/ho-so/1/2/tep', false],
      ['/ho-so/*/tep', '/ho-so/1/tep/x', false],
      ['/ho-so/*.pdf', '/ho-so/a.pdf', true],
      ['/ho-so/*.pdf', '/ho-so/a/b.pdf', false],
      ['/ho-so/*.pdf', '/ho-so/apdf', false], // the dot is a dot, not any character
      ['/a+b/(x)/*', '/a+b/(x)/1', true],
      ['/a+b/(x)/*', '/aab/x/1', false],
      ['/**/tep', '/ho-so/1/tep', true],
      ['/**/tep', '/ho-so/1/tep2', false],
    ];
    for (const [pattern, path, covered] of cases) expect(pathCovered(pattern, path), `${pattern} ${path}`).toBe(covered);
  });

  it('patterns that make a backtracking matcher take exponential time are answered in one pass', () => {
    // as regular expressions these ran for minutes: each * tried at every split of a long run of "a"
    const long = `/${'a'.repeat(16_000)}`;
    expect(pathCovered('/*a*a*a*a*a*a*a*b', long)).toBe(false);
    expect(pathCovered('/*a*a*a*a*a*a*a*a', long)).toBe(true);
    expect(pathCovered('/**a*a*a*a*b', long)).toBe(false);
    const deep = `/${'a/'.repeat(8_000)}x`;
    expect(pathCovered('/**/*/*/*/*/*/*/*/x', deep)).toBe(true);
    expect(pathCovered('/**/*a/*a/*b', deep)).toBe(false);
  });
});
