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
function message(attachments: number, o: { preamble?: string } = {}): Buffer {
  const parts = [`--${B}\r\nContent-Type: text/xml\r\nContent-ID: <env>\r\n\r\n<Envelope/>`];
  // an attachment whose content holds a near-miss of the delimiter (no CRLF before it, or a shorter boundary)
  for (let i = 0; i < attachments; i++) parts.push(`\r\n--${B}\r\nContent-Type: application/octet-stream\r\n\r\nx--${B} \r\n--xroad-Đ1 tệp ${i}`);
  return Buffer.from(`${o.preamble ?? ''}${parts.join('')}\r\n--${B}--\r\n`, 'latin1');
}

describe('attachments of a SOAP message, counted as its bytes pass', () => {
  it('counts the parts after the SOAP part, whole or cut anywhere', () => {
    for (const n of [0, 1, 3]) {
      for (const preamble of ['', 'Phần mở đầu bị bỏ qua\r\n']) {
        const m = message(n, { preamble });
        expect(attachmentsOf(TYPE, m), `${n} ${JSON.stringify(preamble)}`).toBe(n);
        // two chunks, cut at every byte
        for (let cut = 0; cut <= m.length; cut++) {
          const c = new MimeParts(B);
          c.feed(m.subarray(0, cut));
          c.feed(m.subarray(cut));
          expect(c.attachments, `cut at ${cut}`).toBe(n);
        }
        // a byte at a time
        const one = new MimeParts(B);
        for (let i = 0; i < m.length; i++) one.feed(m.subarray(i, i + 1));
        expect(one.attachments).toBe(n);
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
