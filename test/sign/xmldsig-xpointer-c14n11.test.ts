/**
 * Issue 21, items 2 and 3, against xmlsec1.
 * XPointer: the forms producers write — xpointer(id("…")) with double quotes, spaces inside the pointer, a
 * bare name with a trailing space, xmlns() with an XPath, fallback parts — are dereferenced as xmlsec1 does
 * (the octets each reference digests compared byte for byte with xmlsec1's --store-references), and signatures
 * xmlsec1 makes with them are intact for us. Forms nobody can dereference (element(), an unknown scheme, an
 * unbalanced pointer, an XPath that is not a node-set or calls an unknown function, a stray "%") leave the
 * signature INDETERMINATE with the pointer named — never FORMAT_FAILURE, never a crash; their signature values
 * are made by openssl over the canonical SignedInfo, since xmlsec1 refuses to sign them.
 * Canonical XML 1.1: documents after the W3C's xml:base test cases (xmldsig2ed-tests c14n11xmlbase-*) and
 * xml:id, canonicalised through XPath transforms and #id references: our octets equal xmlsec1's; a signature
 * xmlsec1 makes with C14N 1.1 verifies for us, and the base URI it fixed up is protected while an xml:id of an
 * omitted ancestor is not (it is with C14N 1.0).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateXades } from '../../src/sign/index.js';
import { parseXml } from '../../src/sign/xades/parse.js';
import { idIndex, referenceData } from '../../src/sign/xades/dsig/reference.js';
import { openLab, save, type Lab } from './fixtures.js';

const DS = 'http://www.w3.org/2000/09/xmldsig#';
const C10 = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';
const C11 = 'http://www.w3.org/2006/12/xml-c14n11';
const RSA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const ENV = `<Transform Algorithm="${DS}enveloped-signature"/>`;
const xp = (e: string, ns = '') =>
  `<Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><XPath${ns ? ` ${ns}` : ''}>${e}</XPath></Transform>`;
const c14n = (alg: string) => `<Transform Algorithm="${alg}"/>`;

function template(uri: string, transforms: string, signedInfoC14n = C10): string {
  return (
    `<Signature xmlns="${DS}" Id="s"><SignedInfo><CanonicalizationMethod Algorithm="${signedInfoC14n}"/><SignatureMethod Algorithm="${RSA256}"/>` +
    `<Reference URI="${uri}"><Transforms>${transforms}</Transforms><DigestMethod Algorithm="${SHA256}"/><DigestValue/></Reference></SignedInfo><SignatureValue/><KeyInfo><X509Data/></KeyInfo></Signature>`
  );
}

describe('XPointer forms and Canonical XML 1.1, against xmlsec1', () => {
  let lab: Lab;
  let signer: Awaited<ReturnType<Lab['signer']>>;
  beforeAll(async () => {
    lab = await openLab();
    signer = await lab.signer('/C=VN/O=Tổng cục Thuế/CN=Hệ thống hóa đơn', {
      keyArgs: ['-newkey', 'rsa:2048'],
    });
  }, 60_000);
  afterAll(async () => lab?.p.close());

  let n = 0;
  /** xmlsec1 signs `doc` (its <SIG/> replaced by the template): the signed file and the octets its reference digested */
  function xmlsecSign(
    doc: string,
    uri: string,
    transforms: string,
    opts: { ids?: string[]; signedInfoC14n?: string } = {},
  ) {
    const name = `x${++n}`;
    const path = save(
      lab.dir,
      `${name}.t.xml`,
      Buffer.from(doc.replace('<SIG/>', template(uri, transforms, opts.signedInfoC14n))),
    );
    const out = join(lab.dir, `${name}.xml`);
    const r = spawnSync(
      'xmlsec1',
      [
        '--sign',
        ...(opts.ids ?? []),
        '--store-references',
        '--privkey-pem',
        `${signer.keyPath},${signer.certPath}`,
        '--output',
        out,
        path,
      ],
      { encoding: 'utf8' },
    );
    const all = `${r.stdout}${r.stderr}`;
    expect(r.status, all.slice(-600)).toBe(0);
    const predigest =
      /== Reference[\s\S]*?PreDigest data - start buffer:\n([\s\S]*?)\n== PreDigest data - end buffer/.exec(
        all,
      )?.[1];
    return { xml: readFileSync(out, 'utf8'), predigest, path: out };
  }
  const xmlsecVerify = (path: string, ids: string[] = []) =>
    spawnSync(
      'xmlsec1',
      ['--verify', ...ids, '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, path],
      { encoding: 'utf8' },
    ).status;
  /** the octets our core digests for the (first) reference of the signed file */
  function ours(xml: string): string {
    const d = parseXml(xml);
    return referenceData(
      d,
      d.getElementsByTagNameNS(DS, 'Signature')[0]!,
      d.getElementsByTagNameNS(DS, 'Reference')[0]!,
      idIndex(d),
    ).octets.toString('utf8');
  }

  const DOC = '<A xmlns:x="urn:x"><B Id="d1"><C>Hoa don so 12</C><!--ghi chú--></B><x:B>q</x:B><SIG/></A>';

  it('XPointer forms real producers write: the same octets as xmlsec1, the signature intact; a changed element is HASH_FAILURE', async () => {
    for (const uri of [
      '#xpointer(id(&quot;d1&quot;))',
      "#xpointer(id( 'd1' ))",
      "#xpointer( id('d1') )",
      '#d1 ',
      '#xmlns(x=urn:x)xpointer(//x:B)',
      "#xpointer(//*[@Id='d1'])",
      "#xpointer(id('nope'))xpointer(id('d1'))",
      '#xpointer(/)',
      '#xpointer(//B/@Id | //x:B)',
    ]) {
      const { xml, predigest, path } = xmlsecSign(DOC, uri, ENV, { ids: ['--id-attr:Id', 'B'] });
      expect(ours(xml), uri).toBe(predigest);
      expect(xmlsecVerify(path, ['--id-attr:Id', 'B']), uri).toBe(0);
      const s = (await validateXades(xml, { trustAnchors: [lab.root] })).signatures[0]!;
      expect(s.checks, `${uri} ${s.message}`).toMatchObject({ integrity: true, signatureValue: true });
      expect(s.indication, uri).not.toBe('TOTAL-FAILED');
      const changed = xml.replace('Hoa don so 12', 'Hoa don so 13').replace('>q<', '>r<');
      expect(changed, uri).not.toBe(xml);
      expect((await validateXades(changed, { trustAnchors: [lab.root] })).signatures[0], uri).toMatchObject({
        indication: 'TOTAL-FAILED',
        subIndication: 'HASH_FAILURE',
      });
    }
  });

  it('forms nobody dereferences: INDETERMINATE with the pointer named, never FORMAT_FAILURE nor a crash (values by openssl)', async () => {
    const cert = new X509Certificate(readFileSync(signer.certPath));
    const certB64 = Buffer.from(cert.raw).toString('base64');
    for (const [uri, why] of [
      ['#element(d1)', /element\(\) is not supported/],
      ['#foo(bar)', /foo\(\) is not supported/],
      ["#xpointer(id('d1'", /cannot be read/],
      ['#xpointer(count(//B))', /cannot be evaluated/],
      ['#xpointer(f(&quot;x&quot;))', /cannot be evaluated/],
      ['#%zz', /names no element/],
      ['#xpointer(//nothing)', /selects nothing/],
    ] as const) {
      // the canonical SignedInfo written out by hand, signed by openssl
      const signedInfo = `<SignedInfo><CanonicalizationMethod Algorithm="${C10}"></CanonicalizationMethod><SignatureMethod Algorithm="${RSA256}"></SignatureMethod><Reference URI="${uri}"><DigestMethod Algorithm="${SHA256}"></DigestMethod><DigestValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=</DigestValue></Reference></SignedInfo>`;
      // inclusive C14N: every namespace in scope, the root's xmlns:x too
      const canonical = signedInfo.replace('<SignedInfo>', `<SignedInfo xmlns="${DS}" xmlns:x="urn:x">`);
      const value = Buffer.from(
        spawnSync(
          'openssl',
          ['dgst', '-sha256', '-sign', signer.keyPath, save(lab.dir, 'si.bin', Buffer.from(canonical))],
          { encoding: 'buffer' },
        ).stdout,
      ).toString('base64');
      const xml = DOC.replace(
        '<SIG/>',
        `<Signature xmlns="${DS}">${signedInfo}<SignatureValue>${value}</SignatureValue><KeyInfo><X509Data><X509Certificate>${certB64}</X509Certificate></X509Data></KeyInfo></Signature>`,
      );
      const s = (await validateXades(xml, { trustAnchors: [lab.root] })).signatures[0]!;
      expect(s.checks.signatureValue, uri).toBe(true);
      expect(s.indication, `${uri} ${s.message}`).toBe('INDETERMINATE');
      expect(s.subIndication, uri).not.toBe('FORMAT_FAILURE');
      expect(s.signedData?.[0]?.digestMatches, uri).toBeNull();
      expect(s.signedData?.[0]?.problem, uri).toMatch(why);
    }
  });

  // after http://www.w3.org/TR/xmldsig2ed-tests/ c14n11xmlbase-prop-*, -c14n11spec2-102 and -c14n11spec3-102
  const PROP =
    '<ietf:c14n11XmlBaseDoc1 xmlns:ietf="http://www.ietf.org" xmlns:w3c="http://www.w3.org" xml:base="http://xmlbase.example.org/xmlbase0/"><ietf:e1 xml:base="/xmlbase1/"><ietf:e11 xml:base="/xmlbase11/"><ietf:e111 xml:base="/xmlbase111/"/></ietf:e11>' +
    '<ietf:e12 at="2"><ietf:e121 xml:base="/xmlbase121/"/></ietf:e12></ietf:e1><ietf:e2><ietf:e21 xml:base="/xmlbase21/"/></ietf:e2><ietf:e3><ietf:e31 at="3"/></ietf:e3><SIG/></ietf:c14n11XmlBaseDoc1>';
  const SPEC =
    '<doc xmlns="http://www.ietf.org" xmlns:w3c="http://www.w3.org" xml:base="http://www.example.com/something/else"><e1><e2 xmlns="" xml:id="abc" xml:base="../bar/" xml:lang="vi" xml:space="preserve"><e3 id="E3" xml:base="foo"><f xml:id="ff">z</f></e3></e2></e1><SIG/></doc>';
  const NS = 'xmlns:ietf="http://www.ietf.org"';
  const NOSIG = `xmlns:dsig="${DS}"`;

  it("C14N 1.1 xml:base fix-up and xml:id: our octets equal xmlsec1's on the W3C cases, 1.0 beside", () => {
    const cases: [string, string, string, string, string[]?][] = [
      [
        'spec3-102',
        '<a xml:base="foo/bar"><b xml:base=".."><c xml:base=".."><d xml:base="x"><e/></d></c></b><SIG/></a>',
        '',
        xp('self::a or ancestor-or-self::d') + c14n(C11),
      ],
      [
        'prop-1',
        PROP,
        '',
        xp(
          'ancestor-or-self::ietf:c14n11XmlBaseDoc1 and not(ancestor-or-self::ietf:e2) and not(ancestor-or-self::dsig:Signature)',
          `${NS} ${NOSIG}`,
        ) + c14n(C11),
      ],
      ['prop-3', PROP, '', xp('ancestor-or-self::ietf:e11', NS) + c14n(C11)],
      ['prop-4', PROP, '', xp('ancestor-or-self::ietf:e111', NS) + c14n(C11)],
      ['prop-6', PROP, '', xp('ancestor-or-self::ietf:e3', NS) + c14n(C11)],
      [
        'prop-7',
        PROP,
        '',
        xp(
          'ancestor-or-self::ietf:c14n11XmlBaseDoc1 and not(ancestor-or-self::ietf:e1 or ancestor-or-self::ietf:e2) and not(ancestor-or-self::dsig:Signature)',
          `${NS} ${NOSIG}`,
        ) + c14n(C11),
      ],
      [
        'spec2-102',
        SPEC,
        '',
        xp(
          'self::ietf:e1 or (parent::ietf:e1 and not(self::text() or self::e2)) or count(id("E3")|ancestor-or-self::node()) = count(ancestor-or-self::node())',
          NS,
        ) + c14n(C11),
        ['--id-attr:id', 'e3'],
      ],
      ['#E3 1.1', SPEC, '#E3', c14n(C11), ['--id-attr:id', 'e3']],
      ['#E3 1.0', SPEC, '#E3', c14n(C10), ['--id-attr:id', 'e3']],
      ['xml:id 1.1', SPEC, '#ff', c14n(C11)],
      ['xml:id 1.0', SPEC, '#ff', c14n(C10)],
      [
        '1.1 with comments',
        '<r xml:base="http://h/x/"><!--c--><m xml:base="y/"><k>t<!--k--></k></m><SIG/></r>',
        '',
        xp('ancestor-or-self::k') + c14n(`${C11}#WithComments`),
      ],
      [
        'relative bases',
        '<r xml:base="a/b/"><m xml:base="c/.."><n xml:base="d/./e"><k xml:base="../../g"/></n></m><SIG/></r>',
        '',
        xp('ancestor-or-self::k') + c14n(C11),
      ],
      [
        'absolute base, query and fragment',
        '<r xml:base="http://ex.org/a/b/c"><m xml:base="../d/"><n xml:base="./e/../f?q=1#x"><k/></n></m><SIG/></r>',
        '',
        xp('ancestor-or-self::k') + c14n(C11),
      ],
    ];
    const expected: Record<string, string> = {
      'spec3-102': '<a xml:base="foo/bar"><d xml:base="../../x"><e></e></d></a>',
      'prop-3':
        '<ietf:e11 xmlns:ietf="http://www.ietf.org" xmlns:w3c="http://www.w3.org" xml:base="http://xmlbase.example.org/xmlbase11/"><ietf:e111 xml:base="/xmlbase111/"></ietf:e111></ietf:e11>',
      '#E3 1.1':
        '<e3 xmlns:w3c="http://www.w3.org" id="E3" xml:base="http://www.example.com/bar/foo" xml:lang="vi" xml:space="preserve"><f xml:id="ff">z</f></e3>',
      '#E3 1.0':
        '<e3 xmlns:w3c="http://www.w3.org" id="E3" xml:base="foo" xml:id="abc" xml:lang="vi" xml:space="preserve"><f xml:id="ff">z</f></e3>',
    };
    for (const [name, doc, uri, transforms, ids] of cases) {
      const { xml, predigest } = xmlsecSign(doc, uri, transforms, { ids: ids ?? [] });
      expect(ours(xml), name).toBe(predigest);
      if (expected[name]) expect(predigest, name).toBe(expected[name]);
    }
  });

  it('a signature xmlsec1 makes with C14N 1.1 (SignedInfo and reference): intact for us; the fixed-up base is protected, an omitted xml:id is not (1.0: both are)', async () => {
    const ids = ['--id-attr:id', 'e3'];
    for (const alg of [C11, C10]) {
      const { xml, path } = xmlsecSign(SPEC, '#E3', c14n(alg), { ids, signedInfoC14n: alg });
      expect(xmlsecVerify(path, ids)).toBe(0);
      const s = (await validateXades(xml, { trustAnchors: [lab.root] })).signatures[0]!;
      expect(s.checks, `${alg} ${s.message}`).toMatchObject({ integrity: true, signatureValue: true });
      const rebased = xml.replace('xml:base="../bar/"', 'xml:base="../baz/"');
      const reid = xml.replace('xml:id="abc"', 'xml:id="abd"');
      for (const [what, changed, holds] of [
        // 1.1 carries e2's base into e3's (fixed up); 1.0 keeps e3's own "foo"
        ['base', rebased, alg === C10],
        // 1.1 does not carry xml:id over; 1.0 does
        ['id', reid, alg === C11],
      ] as const) {
        const file = save(lab.dir, `c11-${what}.xml`, Buffer.from(changed));
        const theirs = xmlsecVerify(file, ids) === 0;
        const r = (await validateXades(changed, { trustAnchors: [lab.root] })).signatures[0]!;
        expect([what, alg, r.checks.integrity], r.message).toEqual([what, alg, holds]);
        expect(theirs, `${what} ${alg}: xmlsec1 agrees`).toBe(holds);
      }
    }
  });
});
