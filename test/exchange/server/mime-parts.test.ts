/**
 * Attachments counted from a SOAP message's bytes as they pass (src/exchange/server/mime-parts.ts): the same
 * count however the bytes are cut into chunks, a preamble and the body's own start handled, text/xml none.
 */
import { describe, expect, it } from 'vitest';
import { MimeParts, mimeParts } from '../../../src/exchange/server/mime-parts.js';

/** The attachments of a message held whole, by its media type (none without a counter). */
function attachmentsOf(contentType: string, body: Buffer): number {
  const c = mimeParts(contentType);
  c?.feed(body);
  return c?.attachments ?? 0;
}

const B = 'xroad-Đ1-boundary';
const TYPE = `multipart/related; type="text/xml"; start="<env>"; boundary="${B}"`;
const ENVELOPE = '<Envelope/>';
/** an attachment's content: a near-miss of the delimiter (no CRLF before it, or a shorter boundary), and an empty line */
const content = (i: number) => `x--${B} \r\n--xroad-Đ1 tệp\r\n\r\n ${i}`;
function message(attachments: number, o: { preamble?: string } = {}): Buffer {
  const parts = [`--${B}\r\nContent-Type: text/xml\r\nContent-ID: <env>\r\n\r\n${ENVELOPE}`];
  // the second attachment has no headers at all, and padding after its delimiter (RFC 2046's transport-padding)
  for (let i = 0; i < attachments; i++) parts.push(i === 1 ? `\r\n--${B}  \r\n\r\n${content(i)}` : `\r\n--${B}\r\nContent-Type: application/octet-stream\r\n\r\n${content(i)}`);
  return Buffer.from(`${o.preamble ?? ''}${parts.join('')}\r\n--${B}--\r\nPhần kết\r\n\r\n`, 'latin1');
}
/** X-Road's MIME size of such a message: the SOAP part's bytes and the attachments' contents */
const mimeOf = (attachments: number) => ENVELOPE.length + Array.from({ length: attachments }, (_, i) => content(i).length).reduce((a, b) => a + b, 0);

describe('attachments of a SOAP message, counted as its bytes pass', () => {
  it('counts the parts after the SOAP part and their contents’ bytes with the SOAP part’s (X-Road’s MIME size), whole or cut anywhere', () => {
    for (const n of [0, 1, 3]) {
      for (const preamble of ['', 'Phần mở đầu bị bỏ qua\r\n']) {
        const m = message(n, { preamble });
        expect(attachmentsOf(TYPE, m), `${n} ${JSON.stringify(preamble)}`).toBe(n);
        const whole = new MimeParts(B);
        whole.feed(m);
        expect(whole.mimeBytes).toBe(mimeOf(n));
        // two chunks, cut at every byte
        for (let cut = 0; cut <= m.length; cut++) {
          const c = new MimeParts(B);
          c.feed(m.subarray(0, cut));
          c.feed(m.subarray(cut));
          expect([c.attachments, c.mimeBytes], `cut at ${cut}`).toEqual([n, mimeOf(n)]);
        }
        // three chunks, cut at every pair of bytes around the headers' ends and delimiters
        for (let a = 0; a <= m.length; a += 7)
          for (let b = a; b <= Math.min(m.length, a + 12); b++) {
            const c = new MimeParts(B);
            for (const piece of [m.subarray(0, a), m.subarray(a, b), m.subarray(b)]) c.feed(piece);
            expect([c.attachments, c.mimeBytes], `cut at ${a}, ${b}`).toEqual([n, mimeOf(n)]);
          }
        // a byte at a time
        const one = new MimeParts(B);
        for (let i = 0; i < m.length; i++) one.feed(m.subarray(i, i + 1));
        expect([one.attachments, one.mimeBytes]).toEqual([n, mimeOf(n)]);
      }
    }
  });

  it('is none for a text/xml message, or a media type without a boundary', () => {
    expect(attachmentsOf('text/xml; charset=utf-8', message(2))).toBe(0);
    expect(mimeParts('multipart/related; type="text/xml"')).toBeNull();
    expect(mimeParts(undefined)).toBeNull();
    expect(mimeParts(TYPE)).toBeInstanceOf(MimeParts);
  });
});
