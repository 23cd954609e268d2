/**
 * `npm run bench` rewrites a benchmark's section of docs/PERFORMANCE.md with its new figures; what people wrote
 * by hand in it (between the notes markers) stays.
 */
import { describe, expect, it } from 'vitest';
import { NOTES_END, NOTES_START, parseDoc, renderDoc, section, sectionNotes, type Machine } from '../../bench/run.js';

const M: Machine = { cpu: 'AMD EPYC', cores: 2, memoryGiB: 23.5, node: 'v20', os: 'Linux' };

describe('PERFORMANCE.md sections', () => {
  it('keeps the hand-written notes of a section when its figures are rewritten, and only those', () => {
    const mod = { run: async () => ({}), title: 'Thử', describe: (r: Record<string, unknown>) => `| rate |\n|---|\n| ${r.rate} |` };
    const notes = `${NOTES_START}\n\n**Phiên 23.** Đo song song hai trục: 1,166–1,245 req/s.\n\n\`\`\`json\n{ "ghi chú": true }\n\`\`\`\n\n${NOTES_END}`;
    const first = section('x', mod, { rate: 1 }, M, new Date('2026-12-06T20:00:00Z'), notes);
    const doc = parseDoc(`# Performance\n\nintro\n\n${first}\n\n## y — other\n\nkept as it was\n`);
    expect(doc.sections.map((s) => s.name)).toEqual(['x', 'y']);
    // the next run: new figures, the same notes, before the raw results; the other section untouched
    const again = section('x', mod, { rate: 2 }, M, new Date('2026-12-07T08:00:00Z'), sectionNotes(doc.sections[0]!.text));
    doc.sections[0] = { name: 'x', text: again };
    const out = renderDoc(doc);
    expect(out).toContain('| 2 |');
    expect(out).not.toContain('| 1 |');
    expect(out).toContain('_Run 2026-12-07 08:00 UTC');
    expect(out.indexOf('**Phiên 23.**')).toBeGreaterThan(out.indexOf('| 2 |'));
    expect(out.indexOf('**Phiên 23.**')).toBeLessThan(out.indexOf('<details><summary>raw results</summary>'));
    expect(sectionNotes(parseDoc(out).sections[0]!.text)).toBe(notes);
    expect(out).toContain('## y — other\n\nkept as it was');
    // a section without notes gets none
    expect(sectionNotes(section('z', mod, { rate: 3 }, M, new Date()))).toBe('');
  });
});
