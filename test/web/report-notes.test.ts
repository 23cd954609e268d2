/**
 * The console's validation report speaks the chosen language (issue 18): a note is its code's Vietnamese with the
 * English beside it, or the English alone; the reason likewise, and a time-stamp's reason and notes; the code stays on
 * the element (data-code).
 */
import { describe, expect, it } from 'vitest';
import { createElement, type FunctionComponent } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { setLang } from '../../web/src/i18n.js';
import type { ValidationReport } from '../../src/sign/validate/report.js';

// the page is TSX, which the project's type check (no --jsx) does not read: imported by a path it does not follow
const PAGE = '../../web/src/pages/signatures.js';
const { ReportView } = (await import(PAGE)) as { ReportView: FunctionComponent<{ report: ValidationReport }> };

const report: ValidationReport = {
  validationTime: '2026-12-05T00:00:00.000Z',
  document: { kind: 'cms', bytes: 10, sha256: '00' },
  signatures: [
    {
      index: 0,
      format: 'CAdES',
      level: 'B-B',
      indication: 'INDETERMINATE',
      subIndication: 'TRY_LATER',
      message: 'no revocation status for CN=A',
      reason: {
        code: 'TRY_LATER', vi: 'chưa có thông tin thu hồi, hãy kiểm tra lại sau: no revocation status for CN=A', en: 'no revocation status yet, try later: no revocation status for CN=A', params: { detail: 'no revocation status for CN=A' } },
      checks: { integrity: true, signatureValue: true, signingCertificateReference: 'ok', certificateChain: false, certificateValidAtSigningTime: null },
      certificatePath: [],
      timestamps: [
        {
          type: 'signature', valid: false, genTime: '2026-12-04T03:00:00.000Z', problem: 'the message imprint is not the hash of the stamped data',
          reason: { code: 'HASH_FAILURE', vi: 'dữ liệu được đóng dấu thời gian không khớp giá trị băm trong dấu thời gian: the message imprint is not the hash of the stamped data', en: 'the time-stamped data does not match the digest in the time-stamp: the message imprint is not the hash of the stamped data', params: { detail: 'the message imprint is not the hash of the stamped data' } },
          warnings: ['no revocation status for CN=TSA'],
          notes: [{ code: 'REVOCATION_MISSING', vi: 'không có thông tin thu hồi cho CN=TSA', en: 'no revocation status for CN=TSA', params: { subject: 'CN=TSA' } }],
        },
      ],
      warnings: ['a PAdES signature must not carry a signing-time attribute'],
      notes: [{ code: 'PADES_SIGNING_TIME_PRESENT', vi: 'chữ ký PAdES không được mang thuộc tính signing-time', en: 'a PAdES signature must not carry a signing-time attribute', params: {} }],
    },
  ],
};

describe('console report notes', () => {
  it('Vietnamese with the English beside it, or English alone, the code kept', () => {
    setLang('vi');
    const vi = renderToStaticMarkup(createElement(ReportView, { report }));
    expect(vi).toMatch(/data-code="PADES_SIGNING_TIME_PRESENT"[^>]*>⚠ chữ ký PAdES không được mang thuộc tính signing-time<span class="en"> \(a PAdES signature must not carry a signing-time attribute\)<\/span>/);
    expect(vi).toMatch(/data-code="TRY_LATER">chưa có thông tin thu hồi, hãy kiểm tra lại sau/);
    // a time-stamp's reason and notes, coded, in the same way
    expect(vi).toMatch(/data-code="HASH_FAILURE">— dữ liệu được đóng dấu thời gian không khớp giá trị băm trong dấu thời gian: the message imprint[^<]*<span class="en"> \(the time-stamped data does not match the digest in the time-stamp/);
    expect(vi).toMatch(/data-code="REVOCATION_MISSING"[^>]*> ⚠ không có thông tin thu hồi cho CN=TSA<span class="en"> \(no revocation status for CN=TSA\)/);
    setLang('en');
    const en = renderToStaticMarkup(createElement(ReportView, { report }));
    expect(en).toMatch(/data-code="PADES_SIGNING_TIME_PRESENT"[^>]*>⚠ a PAdES signature must not carry a signing-time attribute<\/li>/);
    expect(en).not.toMatch(/chữ ký PAdES|chưa có thông tin thu hồi|không khớp giá trị băm|không có thông tin thu hồi/);
    expect(en).toMatch(/data-code="HASH_FAILURE">— the time-stamped data does not match the digest in the time-stamp/);
    setLang('vi');
  });
});
