import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { DOMParser } from '@xmldom/xmldom';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import { localTimeStamper, reportHtml, reportText, reportXml, signCades, validateCades, VR_NS, type ValidationReport } from '../../src/sign/index.js';
import { openLab, type Lab } from './fixtures.js';

const CONTENT = Buffer.from('Quyết định số 5/QĐ-UBND\n');

function parse(xml: string) {
  const errors: string[] = [];
  const doc = new DOMParser({ onError: (level, msg) => void (level !== 'warning' && errors.push(msg)) }).parseFromString(xml, 'application/xml');
  expect(errors).toEqual([]);
  return doc;
}
const texts = (doc: ReturnType<typeof parse>, name: string) => Array.from(doc.getElementsByTagNameNS(VR_NS, name)).map((e) => e.textContent);
/** the signatures' own elements, not those of a time-stamp's ValidationReport inside its validation object */
const ownTexts = (doc: ReturnType<typeof parse>, name: string) =>
  Array.from(doc.getElementsByTagNameNS(VR_NS, name))
    .filter((e) => {
      for (let p = e.parentNode; p; p = p.parentNode) if ((p as unknown as { localName?: string }).localName === 'ValidationObject') return false;
      return true;
    })
    .map((e) => e.textContent);

describe('validation reports as ETSI TS 119 102-2 XML and as HTML', () => {
  let lab: Lab;
  let passed: ValidationReport;
  let failed: ValidationReport;
  let evening: ValidationReport;
  beforeAll(async () => {
    lab = await openLab();
    const tsa = new TimeStampAuthority(lab.p.pki, lab.p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
    await tsa.start();
    const signer = await lab.signer('/CN=Lê Văn <Tám> & "Cộng sự"/O=Sở Tư pháp/C=VN');
    const p7s = await signCades(CONTENT, signer, { level: 'B-T', context: { timeStamper: localTimeStamper(tsa) } });
    passed = await validateCades(p7s, { content: CONTENT, trustAnchors: [lab.root] });
    failed = await validateCades(p7s, { content: Buffer.from('Quyết định số 6/QĐ-UBND\n'), trustAnchors: [lab.root] });
    // claimed at 17:30:05 UTC on 1 March: already 2 March in Hà Nội
    const late = await signCades(CONTENT, signer, { signingTime: new Date('2026-03-01T17:30:05Z') });
    evening = await validateCades(late, { content: CONTENT, trustAnchors: [lab.root] });
  });
  afterAll(async () => {
    await lab?.p.close();
  });

  it('a passed signature: namespaced, well-formed, indication URI, signer, time-stamp and certificates as validation objects', () => {
    const xml = reportXml(passed);
    const doc = parse(xml);
    expect(doc.documentElement!.localName).toBe('ValidationReport');
    expect(doc.documentElement!.namespaceURI).toBe(VR_NS);
    expect(ownTexts(doc, 'MainIndication')).toEqual(['urn:etsi:019102:mainindication:total-passed']);
    expect(ownTexts(doc, 'SubIndication')).toEqual([]);
    expect(texts(doc, 'Signer')[0]).toContain('CN=Lê Văn \\<Tám\\> & \\"Cộng sự\\"'); // RFC 4514 escapes, XML-unescaped
    expect(texts(doc, 'SignatureValidationProcessID')).toEqual(['urn:etsi:019102:validationprocess:LTVM']);
    expect(texts(doc, 'POETime')[0]).toBe(passed.signatures[0].bestSignatureTime);
    const objects = Array.from(doc.getElementsByTagNameNS(VR_NS, 'ValidationObject'));
    const types = objects.map((o) => o.getElementsByTagNameNS(VR_NS, 'ObjectType')[0].textContent);
    expect(types.filter((t) => t === 'urn:etsi:019102:validationObject:certificate').length).toBe(passed.signatures[0].certificatePath.length);
    expect(types).toContain('urn:etsi:019102:validationObject:timestamp');
    expect(texts(doc, 'TimeStampValue')).toEqual([passed.signatures[0].timestamps![0].genTime]);
    // the time-stamp's own validation, in its validation object: passed, its notes typed by code (the TSA's revocation status, soft-fail)
    const stamp = objects.find((o) => o.getElementsByTagNameNS(VR_NS, 'ObjectType')[0].textContent === 'urn:etsi:019102:validationObject:timestamp')!;
    const own = stamp.getElementsByTagNameNS(VR_NS, 'ValidationReport')[0];
    expect(own.getElementsByTagNameNS(VR_NS, 'MainIndication')[0].textContent).toBe('urn:etsi:019102:mainindication:total-passed');
    expect(Array.from(own.getElementsByTagNameNS(VR_NS, 'Type')).map((t) => t.textContent)).toEqual((passed.signatures[0].timestamps![0].notes ?? []).map((n) => `urn:truc:reportdata:note:${n.code}`));
    expect(doc.getElementsByTagNameNS(VR_NS, 'SignatureTimeStamp')[0].getElementsByTagNameNS(VR_NS, 'AttributeObject')[0].getAttribute('VOReference')).toMatch(/^T-/);
    // every reference resolves to an object
    const ids = new Set(objects.map((o) => o.getAttribute('id')));
    const refs = Array.from(doc.getElementsByTagNameNS(VR_NS, '*')).map((e) => e.getAttribute('VOReference')).filter((r): r is string => !!r);
    expect(refs.length).toBeGreaterThan(2);
    for (const r of refs) expect(ids.has(r), r).toBe(true);
    const signerCert = doc.getElementsByTagNameNS(VR_NS, 'SignerCertificate')[0].getAttribute('VOReference');
    const direct = objects.find((o) => o.getAttribute('id') === signerCert)!.getElementsByTagNameNS(VR_NS, 'direct')[0].textContent;
    expect(direct).toBe(passed.signatures[0].certificatePath[0]);
  });

  it('a failed signature: total-failed with the HASH_FAILURE sub-indication URI', () => {
    const doc = parse(reportXml(failed));
    expect(ownTexts(doc, 'MainIndication')).toEqual(['urn:etsi:019102:mainindication:total-failed']);
    expect(ownTexts(doc, 'SubIndication')).toEqual(['urn:etsi:019102:subindication:HASH_FAILURE']);
    // the reason typed by its code, Vietnamese / English as the value
    expect(ownTexts(doc, 'Type')).toContain('urn:truc:reportdata:reason:HASH_FAILURE');
    expect(ownTexts(doc, 'Value')).toContain(`${failed.signatures[0].reason!.vi} / ${failed.signatures[0].reason!.en}`);
  });

  it('a file without signatures is still a schema-shaped report (one failed SignatureValidationReport)', () => {
    const doc = parse(reportXml({ validationTime: new Date().toISOString(), document: { kind: 'pdf', bytes: 1, sha256: '00'.repeat(32) }, signatures: [] }));
    expect(texts(doc, 'MainIndication')).toEqual(['urn:etsi:019102:mainindication:total-failed']);
    expect(texts(doc, 'Value')).toEqual(['no signature found']);
  });

  it('text in Vietnamese: the values a verifier must see — signer, issuer, signing time and time-stamp in +07:00, integrity, certificate validity at signing time', () => {
    const t = reportText(evening, 'vi');
    expect(t).toContain('Kết quả: TOTAL-PASSED (Hợp lệ)');
    expect(t).toContain('Người ký: Lê Văn <Tám> & "Cộng sự"');
    expect(t).toContain('Tổ chức cấp chứng thư: C=VN, O=Trục, CN=Trục Issuing CA 1');
    expect(t).toContain('Thời gian ký (khai báo): 2026-03-02 00:30:05 +07:00');
    expect(t).toContain('Toàn vẹn nội dung: có');
    // the claimed time is before the certificate was issued (this year's test CA): not valid then, and said so
    expect(evening.signatures[0].checks.certificateValidAtSigningTime).toBe(false);
    expect(t).toContain('Chứng thư hợp lệ tại thời điểm ký: không');
    const stamped = reportText(passed, 'vi');
    const genTime = new Date(passed.signatures[0].bestSignatureTime!);
    const local = new Date(genTime.getTime() + 7 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
    expect(stamped).toContain(`Đã ký không muộn hơn (dấu thời gian): ${local} +07:00`);
    expect(stamped).toContain('Chứng thư hợp lệ tại thời điểm ký: có');
    expect(reportText(failed, 'vi')).toMatch(/Kết quả: TOTAL-FAILED \/ HASH_FAILURE \(Không hợp lệ\)[^\n]*\n[\s\S]*Toàn vẹn nội dung: không/);
  });

  it('HTML: what a Vietnamese verifier must see, with the signer name escaped', () => {
    const html = reportHtml(passed);
    expect(html).toContain('Lê Văn &lt;Tám&gt; &amp; &quot;Cộng sự&quot;');
    expect(html).not.toContain('<Tám>');
    for (const label of ['Người ký', 'Tổ chức cấp chứng thư', 'Thời gian ký (khai báo)', 'Đã ký không muộn hơn (dấu thời gian)', 'Toàn vẹn nội dung', 'Chứng thư hợp lệ tại thời điểm ký', 'Hợp lệ'])
      expect(html).toContain(label);
    expect(html).toMatch(/\+07:00/);
    expect(reportHtml(failed)).toMatch(/Không hợp lệ \(TOTAL-FAILED \/ HASH_FAILURE\)/);
  });
});
