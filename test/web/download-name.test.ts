/**
 * The console saves a downloaded file under the name the server gives in Content-Disposition
 * (web/src/disposition.ts, RFC 6266): `filename*` in UTF-8 before `filename`, quoted names
 * unescaped, and never a path — what our routes send (document attachments with Vietnamese names,
 * evidence containers, lab report signatures) and what a proxy in front of them might.
 */
import { describe, expect, it } from 'vitest';
import { dispositionName } from '../../web/src/disposition.js';

describe('file names from Content-Disposition', () => {
  it('takes the UTF-8 name first, then the plain one', () => {
    expect(dispositionName(`attachment; filename*=UTF-8''${encodeURIComponent('Quyết định số 12.pdf')}`)).toBe('Quyết định số 12.pdf');
    expect(dispositionName(`attachment; filename="fallback.pdf"; filename*=UTF-8''C%C3%B4ng%20v%C4%83n.pdf`)).toBe('Công văn.pdf');
    expect(dispositionName('attachment; filename="evidence-msg-1.asice"')).toBe('evidence-msg-1.asice');
    expect(dispositionName('attachment; filename=report.p7s')).toBe('report.p7s');
    expect(dispositionName('attachment; filename="a \\"quoted\\" name.txt"')).toBe('a "quoted" name.txt');
  });

  it('gives no name when there is none, and never a path', () => {
    expect(dispositionName(null)).toBeNull();
    expect(dispositionName('attachment')).toBeNull();
    expect(dispositionName('attachment; filename=""')).toBeNull();
    expect(dispositionName('attachment; filename="../../etc/passwd"')).toBe('.._.._etc_passwd');
    expect(dispositionName(`attachment; filename*=UTF-8''..%2F..%2Fx.pdf`)).toBe('.._.._x.pdf');
    // a malformed escape falls back to the plain name
    expect(dispositionName(`attachment; filename*=UTF-8''%E0%A4%A; filename="plain.pdf"`)).toBe('plain.pdf');
  });
});
