import { describe, expect, it } from 'vitest';
import { pemBlocks, pemBodies, pemFirstBody, toPem } from '../../src/asn1/der.js';

describe('PEM blocks', () => {
  const a = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]);
  const b = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x02]);

  it('reads each block of a label in order, white space removed, text around ignored', () => {
    const text = `bag attributes\n${toPem('CERTIFICATE', a)}trailer\r\n${toPem('CERTIFICATE', b).replace(/\n/g, '\r\n')}`;
    expect(pemBlocks(text, 'CERTIFICATE')).toEqual([a, b]);
    expect(pemBlocks(text, 'CERTIFICATE', 1)).toEqual([a]);
    expect(pemBlocks(text, 'X509 CRL')).toEqual([]);
  });

  it('a BEGIN without its END is passed over; a BEGIN again before an END starts the block anew', () => {
    const text = `-----BEGIN CERTIFICATE-----\ngarbage\n${toPem('CERTIFICATE', a)}-----BEGIN CERTIFICATE-----\nunfinished`;
    expect(pemBlocks(text, 'CERTIFICATE')).toEqual([a]);
  });

  it('the first block under any of several labels, in the text’s order', () => {
    const text = `${toPem('PKCS7', b)}${toPem('CMS', a)}`;
    expect(pemFirstBody(text, ['CMS', 'PKCS7'])).toEqual({ label: 'PKCS7', body: b.toString('base64') });
    expect(pemFirstBody(toPem('CMS', a), ['CMS', 'PKCS7'])?.label).toBe('CMS');
    expect(pemFirstBody('no pem here', ['CMS', 'PKCS7'])).toBeUndefined();
  });

  it('2 MiB of BEGIN lines without an END: nothing found, in one pass (a lazy regular expression took ~40 s)', () => {
    const text = '-----BEGIN CERTIFICATE-----'.repeat(80_000);
    expect(pemBodies(text, 'CERTIFICATE')).toEqual([]);
    expect(pemFirstBody(text + '-----BEGIN CMS-----'.repeat(80_000), ['CMS', 'PKCS7'])).toBeUndefined();
  });
});
