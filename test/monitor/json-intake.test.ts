/**
 * The streaming JSON event intake: a batch split into events as it arrives gives the events JSON.parse
 * gives, in order, for an array, `{"events": [...]}` and NDJSON, cut anywhere; an event too large, too deep
 * or of too many values is refused by its index unparsed; a body past the request's bounds is refused.
 */
import { describe, it, expect } from 'vitest';
import { JsonBatchSplitter, NdjsonSplitter, parseJsonEventsStream } from '../../src/monitor/intake/json.js';

const events = [
  {
    '@timestamp': '2026-01-01T00:00:00Z',
    event: { action: 'a' },
    message: 'brackets ] } [ { and "quotes" and \\ backslashes',
  },
  { '@timestamp': '2026-01-01T00:00:01Z', event: { action: 'b' }, list: [1, [2, [3]], { x: null }] },
  42,
  'not an event',
];

function split(text: string, cut: number, ndjson = false) {
  const s = ndjson ? new NdjsonSplitter() : new JsonBatchSplitter();
  for (let i = 0; i < text.length; i += cut) s.write(text.slice(i, i + cut));
  return s.end();
}

describe('JSON event batches split while streaming', () => {
  it('gives the events JSON.parse gives, for each form and any cut', () => {
    const array = JSON.stringify(events, null, 2);
    const wrapped = `{ "source": {"events": "not these"}, "events": ${array}, "n": [1] }`;
    const ndjson = events.map((e) => JSON.stringify(e)).join('\n') + '\n\n';
    for (const cut of [1, 5, 64, 100_000]) {
      expect(split(array, cut).values).toEqual(events);
      expect(split(wrapped, cut).values).toEqual(events);
      expect(split(ndjson, cut, true).values).toEqual(events);
      expect(split(' [ ] ', cut).values).toEqual([]);
    }
  });

  it('refuses an event by its index, unparsed, when too deep, too large or of too many values', () => {
    const deep = '{"a":'.repeat(40) + '1' + '}'.repeat(40);
    const big = JSON.stringify({ m: 'x'.repeat(3 * 1024 * 1024) });
    const wide = JSON.stringify(Object.fromEntries(Array.from({ length: 6000 }, (_, i) => [`k${i}`, i])));
    const b = split(`[1,${deep},${big},${wide},2]`, 4096);
    expect(b.values).toEqual([1, undefined, undefined, undefined, 2]);
    expect([...b.refused]).toEqual([
      [1, 'event nested deeper than 16'],
      [2, 'event larger than 262144 bytes'],
      [3, 'event of more than 10000 values'],
    ]);
    const n = split(`1\n${deep}\n2`, 3, true);
    expect(n.values).toEqual([1, undefined, 2]);
  });

  it('refuses malformed bodies (400) and bodies past the request bounds (413)', async () => {
    for (const bad of ['[1,]', '[1 2]', '{"events": [1]', '"x"', '{"other": []}', '[1] [2]'])
      expect(() => split(bad, 2), bad).toThrow(expect.objectContaining({ code: 'bad_request' }));
    const body = async function* () {
      yield Buffer.from('[' + '1,'.repeat(2000) + '1]');
    };
    await expect(
      parseJsonEventsStream(body(), { ndjson: false, limits: { events: 1000 } }),
    ).rejects.toMatchObject({ code: 'too_large' });
    await expect(
      parseJsonEventsStream(body(), { ndjson: false, limits: { bytes: 100 } }),
    ).rejects.toMatchObject({ code: 'too_large' });
    await expect(parseJsonEventsStream(body(), { ndjson: false, declaredLength: 1e9 })).rejects.toMatchObject(
      { code: 'too_large' },
    );
  });
});
