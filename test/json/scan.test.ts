/**
 * The bounded JSON scanner: it counts values and nesting exactly where they are outside strings (escaped
 * quotes and backslashes, brackets inside strings, pieces cut anywhere), and refuses past its limits.
 */
import { describe, it, expect } from 'vitest';
import { JsonScanner, checkJson } from '../../src/json/scan.js';

/** values and maximum depth as JSON.parse builds them */
function truth(v: unknown, depth = 0): { values: number; depth: number } {
  let values = 1;
  let max = depth;
  if (v && typeof v === 'object') {
    const d = depth + 1;
    max = Math.max(max, d);
    for (const [k, x] of Object.entries(v)) {
      if (!Array.isArray(v)) values += 1; // the key
      void k;
      const t = truth(x, d);
      values += t.values;
      max = Math.max(max, t.depth);
    }
  }
  return { values, depth: max };
}

const samples = [
  '{"a":[1,2,{"b":"x\\"]}[{"}],"c":"\\\\","d":"\\\\\\"","e":[[],{}],"f":true,"g":null,"h":-1.5e3}',
  '[["\\u005b",[{"k":"\\\\\\\\"}]],"tail \\" ]",  12 ,false]',
  '"just a string with [brackets] and {braces}"',
];

describe('JsonScanner', () => {
  it('counts what JSON.parse builds, whichever way the text is cut into pieces', () => {
    for (const text of samples) {
      const want = truth(JSON.parse(text));
      for (const cut of [1, 2, 3, 7, text.length]) {
        let maxDepth = 0;
        const s = new JsonScanner(
          { depth: 100, values: 1000 },
          { open: (d) => (maxDepth = Math.max(maxDepth, d + 1)) },
        );
        for (let i = 0; i < text.length; i += cut) s.write(text.slice(i, i + cut));
        expect({ values: s.values, depth: maxDepth }, `${text} cut every ${cut}`).toEqual(want);
        expect(s.depth).toBe(0);
      }
    }
  });

  it('refuses nesting past the limit (400) and values past the limit (413) as soon as they pass', () => {
    expect(() => checkJson('['.repeat(65) + ']'.repeat(65))).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
    expect(() => checkJson('['.repeat(64) + ']'.repeat(64))).not.toThrow();
    expect(() => checkJson(`[${'0,'.repeat(200_000)}0]`)).toThrow(
      expect.objectContaining({ code: 'too_large' }),
    );
    // a long string is one value, however long
    expect(() => checkJson(JSON.stringify({ file: 'A'.repeat(5_000_000) }))).not.toThrow();
  });
});

describe('JsonScanner with uniqueKeys', () => {
  const limits = { depth: 64, values: 1000, uniqueKeys: true };
  const scan = (text: string, cut: number) => {
    const s = new JsonScanner(limits);
    for (let i = 0; i < text.length; i += cut) s.write(text.slice(i, i + cut));
  };

  it('refuses a name given twice in one object, escapes decoded, wherever the text is cut', () => {
    for (const text of [
      '{"a":1,"a":2}',
      '{"x":{"k\\"q":1,"k\\u0022q":2}}',
      '[{"b":[{"c":0}],"\\u0062":1}]',
      '{"long\\\\name":0, "long\\\\name" : 1}',
    ])
      for (const cut of [1, 2, 3, 5, text.length])
        expect(() => scan(text, cut), `${text} cut every ${cut}`).toThrow(expect.objectContaining({ code: 'bad_request', message: expect.stringMatching(/hai lần.*twice/) }));
  });

  it('lets the same name through in different objects, and names as values', () => {
    for (const text of ['[{"a":1},{"a":2}]', '{"a":{"a":{"a":"a"}},"b":["a","a"]}', '{"a":"b","b":"a"}', '{"k\\"":1,"k\\\\":2}'])
      for (const cut of [1, 2, 3, text.length]) expect(() => scan(text, cut), `${text} cut every ${cut}`).not.toThrow();
  });
});
