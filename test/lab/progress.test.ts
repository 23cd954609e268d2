/**
 * The progress bar `truc lab run` draws on stderr: redrawn in place on a terminal with the finished suites
 * kept above it, plain lines (no bar, no carriage returns) when stderr is a file or a pipe, nothing with
 * --no-progress but the bar's own lines.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progressBar } from '../../src/cli/progress.js';

function stream(tty: boolean): { s: NodeJS.WriteStream; text: () => string } {
  let out = '';
  const w = new Writable({
    write(chunk, _enc, done) {
      out += String(chunk);
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  (w as { isTTY?: boolean }).isTTY = tty;
  return { s: w, text: () => out };
}

describe('the lab run progress bar', () => {
  it('on a terminal: the bar redrawn in place, finished suites printed above it, cleared at the end', () => {
    const { s, text } = stream(true);
    const bar = progressBar(200, { stream: s, width: 10 });
    bar.update(50, 'suites 0/2');
    bar.log('aes_gcm_test.json: pass 100');
    bar.update(200, 'suites 2/2');
    bar.done();
    const out = text();
    expect(out).toContain('\r[###.......] 50/200 suites 0/2');
    expect(out).toContain('aes_gcm_test.json: pass 100\n');
    expect(out).toContain('\r[##########] 200/200 suites 2/2');
    // the finished line comes after the bar was wiped, then the bar is drawn again below it
    expect(out.indexOf('aes_gcm_test.json')).toBeGreaterThan(out.indexOf('50/200'));
    expect(out.endsWith('\r')).toBe(true);
  });

  it('redraws at most ten times a second, but always draws the end', () => {
    const { s, text } = stream(true);
    const bar = progressBar(1000, { stream: s, width: 10 });
    for (let i = 1; i <= 1000; i++) bar.update(i);
    const draws = text().match(/\/1000/g) ?? [];
    expect(draws.length).toBeLessThan(20);
    expect(text()).toContain('1000/1000');
  });

  it('into a file or a pipe: one plain line per finished suite, no bar', () => {
    const { s, text } = stream(false);
    const bar = progressBar(200, { stream: s });
    bar.update(50);
    bar.log('aes_gcm_test.json: pass 100');
    bar.done();
    expect(text()).toBe('aes_gcm_test.json: pass 100\n');
  });

  it('with --no-progress: silent', () => {
    const { s, text } = stream(true);
    const bar = progressBar(200, { stream: s, enabled: false });
    bar.update(50);
    bar.log('aes_gcm_test.json: pass 100');
    bar.done();
    expect(text()).toBe('');
  });
});
