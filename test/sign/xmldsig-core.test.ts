/**
 * Our XML-DSig core against xmlsec1 on signatures xmlsec1 makes: e-invoice-shaped documents (Circular 78:
 * HDon, DLHDon Id="…", the seller's signature in DSCKS/NBan, the tax authority's in DSCKS/CQT also covering
 * MCCQT; inclusive C14N, enveloped-signature, rsa-sha1 and rsa-sha256), one inside a TDiep envelope whose
 * namespaces the signer digested with, enveloped signatures cut out by XPath and XPath Filter 2.0 instead of
 * the enveloped-signature transform. The integrity each computes must agree; the report names what each
 * reference covers; the classic wrapping attacks (the signed element moved or duplicated, forged content in
 * its place) must not validate although xmlsec1, which checks only the digests, accepts the moved one.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { constants, sign as nodeSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { reportText, validateCades, validateXades } from '../../src/sign/index.js';
import { reportHtml } from '../../src/sign/validate/html-report.js';
import { openssl } from '../helpers/openssl.js';
import { openLab, save, type Lab } from './fixtures.js';

const DSNS = 'http://www.w3.org/2000/09/xmldsig#';
const SHA = { sha1: ['http://www.w3.org/2000/09/xmldsig#rsa-sha1', 'http://www.w3.org/2000/09/xmldsig#sha1'], sha256: ['http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', 'http://www.w3.org/2001/04/xmlenc#sha256'] } as const;

/** A ds:Signature template for xmlsec1: references by URI, each with its transforms, inclusive C14N 1.0. */
function template(id: string, hash: keyof typeof SHA, refs: { uri: string; transforms: string[] }[]): string {
  const [sm, dm] = SHA[hash];
  const ref = (r: (typeof refs)[number]) =>
    `<Reference URI="${r.uri}"><Transforms>${r.transforms.join('')}</Transforms><DigestMethod Algorithm="${dm}"/><DigestValue/></Reference>`;
  return `<Signature xmlns="${DSNS}" Id="${id}"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/><SignatureMethod Algorithm="${sm}"/>${refs.map(ref).join('')}</SignedInfo><SignatureValue/><KeyInfo><X509Data/></KeyInfo></Signature>`;
}
const ENVELOPED = '<Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>';
const C14N = '<Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>';

function invoice(sellerSig: string, authoritySig = ''): string {
  return (
    '<HDon><DLHDon Id="data-1"><TTChung><PBan>2.0.1</PBan><THDon>Hóa đơn giá trị gia tăng</THDon><KHHDon>C25TAA</KHHDon><SHDon>123</SHDon></TTChung>' +
    '<NDHDon><NBan><Ten>Công ty TNHH Mẫu</Ten><MST>0100109106</MST></NBan><NMua><Ten>Công ty Cổ phần Người mua</Ten></NMua>' +
    '<TToan><TgTTTBSo>11000000</TgTTTBSo></TToan></NDHDon></DLHDon><MCCQT Id="mccqt-1">00A1B2C3D4E5F60718293A4B5C6D7E8F90</MCCQT>' +
    `<DSCKS><NBan>${sellerSig}</NBan><NMua/>${authoritySig ? `<CQT>${authoritySig}</CQT>` : ''}</DSCKS></HDon>`
  );
}

describe('XML-DSig core: e-invoices, XPath transforms and wrapping, against xmlsec1', () => {
  let lab: Lab;
  let seller: Awaited<ReturnType<Lab['signer']>>;
  let authority: Awaited<ReturnType<Lab['signer']>>;
  const anchors = () => ({ trustAnchors: [lab.root] });
  const run = (args: string[]) => {
    const r = spawnSync('xmlsec1', args, { encoding: 'utf8' });
    return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
  };
  const idAttrs = ['--id-attr:Id', 'DLHDon', '--id-attr:Id', 'MCCQT'];
  /** xmlsec1 signs the ds:Signature with this Id in the file, with the signer's key and certificate */
  const sign = (s: typeof seller, xml: string, sigId: string, name: string): string => {
    const path = save(lab.dir, `${name}.tmpl.xml`, Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${xml.replace(/^<\?xml[^>]*>\s*/, '')}`));
    const out = join(lab.dir, `${name}.xml`);
    const r = run(['--sign', ...idAttrs, '--node-xpath', `//*[@Id='${sigId}']`, '--privkey-pem', `${s.keyPath},${s.certPath}`, '--output', out, path]);
    expect(r.status, r.out).toBe(0);
    return readFileSync(out, 'utf8');
  };
  const xmlsecVerify = (xml: string, name: string, sigId: string) =>
    run(['--verify', ...idAttrs, '--node-xpath', `//*[@Id='${sigId}']`, '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, save(lab.dir, `${name}.check.xml`, Buffer.from(xml))]);

  beforeAll(async () => {
    lab = await openLab();
    seller = await lab.signer('/CN=Công ty TNHH Mẫu/O=Công ty TNHH Mẫu/C=VN', { keyArgs: ['-newkey', 'rsa:2048'] });
    authority = await lab.signer('/CN=Tổng cục Thuế/O=Bộ Tài chính/C=VN', { keyArgs: ['-newkey', 'rsa:2048'] });
  });
  afterAll(async () => lab?.p.close());

  it('e-invoice signed by the seller (rsa-sha256 and rsa-sha1) and the tax authority (also over MCCQT): xmlsec1 and we agree; the report names DLHDon and MCCQT', async () => {
    for (const hash of ['sha256', 'sha1'] as const) {
      const refs = [{ uri: '#data-1', transforms: [ENVELOPED, C14N] }];
      let xml = sign(seller, invoice(template('seller', hash, refs), template('cqt', hash, [...refs, { uri: '#mccqt-1', transforms: [ENVELOPED, C14N] }])), 'seller', `hdon-${hash}-1`);
      xml = sign(authority, xml, 'cqt', `hdon-${hash}`);
      for (const id of ['seller', 'cqt']) expect(xmlsecVerify(xml, `hdon-${hash}-${id}`, id).status).toBe(0);
      const r = await validateXades(xml, anchors());
      expect(r.signatures).toHaveLength(2);
      for (const s of r.signatures) {
        expect(s.checks, JSON.stringify(s)).toMatchObject({ integrity: true, signatureValue: true });
        // plain XML-DSig: no SigningCertificateV2 binds the certificate — indeterminate, never a forgery
        expect(s.indication).toBe('INDETERMINATE');
        expect(s.signedData?.[0]).toMatchObject({ uri: '#data-1', digestMatches: true, covers: ['/HDon/DLHDon[@Id="data-1"]'], wholeDocument: false });
      }
      // what the user reads: each reference and what it covers
      expect(reportText(r, 'vi')).toContain('Nội dung được ký (từng tham chiếu):\n    - "#data-1": /HDon/DLHDon[@Id="data-1"] — giá trị băm khớp');
      expect(reportHtml(r)).toContain('<li>&quot;#data-1&quot;: /HDon/DLHDon[@Id=&quot;data-1&quot;] — giá trị băm khớp</li>');
      expect(r.signatures[1].signedData?.[1]).toMatchObject({ uri: '#mccqt-1', digestMatches: true, covers: ['/HDon/MCCQT[@Id="mccqt-1"]'] });

      // a changed amount: both say the digest does not hold
      const changed = xml.replace('11000000', '1000000');
      expect(xmlsecVerify(changed, `hdon-${hash}-changed`, 'seller').status).not.toBe(0);
      const c = (await validateXades(changed, anchors())).signatures[0];
      expect(c).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE', checks: { integrity: false } });
      expect(c.message).toMatch(/"#data-1" does not match/);
      expect(c.signedData?.[0]).toMatchObject({ uri: '#data-1', digestMatches: false });
      // a broken signature value without any signing-certificate binding is TOTAL-FAILED, not "no signing certificate"
      const sv = /<SignatureValue>([^<]+)</.exec(xml)![1].replace(/\s+/g, '');
      const bad = Buffer.from(sv, 'base64');
      bad[7] ^= 1;
      const forged = xml.replace(/<SignatureValue>[^<]+</, `<SignatureValue>${bad.toString('base64')}<`);
      expect(xmlsecVerify(forged, `hdon-${hash}-forged`, 'seller').status).not.toBe(0);
      expect((await validateXades(forged, anchors())).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'SIG_CRYPTO_FAILURE', checks: { integrity: true, signatureValue: false } });
    }
  });

  it('inside a TDiep envelope whose namespaces the signer digested with (inclusive C14N): xmlsec1 and we agree', async () => {
    const env = (body: string) =>
      `<TDiep xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><TTChung><PBan>2.0.1</PBan><MLTDiep>200</MLTDiep></TTChung><DLieu>${body}</DLieu></TDiep>`;
    const xml = sign(seller, env(invoice(template('seller', 'sha256', [{ uri: '#data-1', transforms: [ENVELOPED, C14N] }]))), 'seller', 'tdiep');
    expect(xmlsecVerify(xml, 'tdiep', 'seller').status).toBe(0);
    const s = (await validateXades(xml, anchors())).signatures[0];
    expect(s.checks, JSON.stringify(s)).toMatchObject({ integrity: true, signatureValue: true });
    expect(s.signedData?.[0].covers).toEqual(['/TDiep/DLieu/HDon/DLHDon[@Id="data-1"]']);
    // the invoice taken out of its envelope loses the namespaces it was digested with: both see it
    const out = xml.replace(/^[\s\S]*<DLieu>/, '').replace(/<\/DLieu>[\s\S]*$/, '');
    expect(xmlsecVerify(out, 'tdiep-out', 'seller').status).not.toBe(0);
    expect((await validateXades(out, anchors())).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
  });

  it('enveloped signatures cut out by an XPath or an XPath Filter 2.0 transform: xmlsec1 and we agree; the report shows the whole document minus the signature', async () => {
    const xpath = `<Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><XPath xmlns:dsig="${DSNS}">not(ancestor-or-self::dsig:Signature)</XPath></Transform>`;
    const filter2 = `<Transform Algorithm="http://www.w3.org/2002/06/xmldsig-filter2"><dsig-xpath:XPath xmlns:dsig-xpath="http://www.w3.org/2002/06/xmldsig-filter2" xmlns:dsig="${DSNS}" Filter="subtract">//dsig:Signature</dsig-xpath:XPath></Transform>`;
    for (const [name, t] of [['xpath', xpath], ['filter2', filter2]] as const) {
      const xml = sign(seller, invoice(template('seller', 'sha256', [{ uri: '', transforms: [t] }])), 'seller', `hdon-${name}`);
      expect(xmlsecVerify(xml, `hdon-${name}`, 'seller').status).toBe(0);
      const s = (await validateXades(xml, anchors())).signatures[0];
      expect(s.checks, `${name} ${JSON.stringify(s)}`).toMatchObject({ integrity: true, signatureValue: true });
      expect(s.signedData?.[0]).toMatchObject({ uri: '', digestMatches: true, wholeDocument: true, covers: ['/HDon'], excludes: ['/HDon/DSCKS/NBan/Signature[@Id="seller"]'] });
      const changed = xml.replace('<NMua/>', '<NMua>giả mạo</NMua>');
      expect(xmlsecVerify(changed, `hdon-${name}-changed`, 'seller').status).not.toBe(0);
      expect((await validateXades(changed, anchors())).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
    }
  });

  it('a reference without a URI (as xmlsec1\'s own examples write): with enveloped-signature it signs the document around it, as xmlsec1 reads it; without, its data is not found — never broken', async () => {
    const noUri = (transforms: string) => template('seller', 'sha256', [{ uri: 'X', transforms: [transforms] }]).replace(' URI="X"', '');
    const xml = sign(seller, invoice(noUri(ENVELOPED)), 'seller', 'hdon-nouri');
    expect(xml).toContain('<Reference><Transforms>');
    expect(xmlsecVerify(xml, 'hdon-nouri', 'seller').status).toBe(0);
    const s = (await validateXades(xml, anchors())).signatures[0];
    expect(s.checks, JSON.stringify(s)).toMatchObject({ integrity: true, signatureValue: true });
    expect(s.signedData?.[0]).toMatchObject({ uri: null, digestMatches: true, wholeDocument: true, covers: ['/HDon'] });
    const changed = xml.replace('<NMua/>', '<NMua>giả mạo</NMua>');
    expect(xmlsecVerify(changed, 'hdon-nouri-changed', 'seller').status).not.toBe(0);
    expect((await validateXades(changed, anchors())).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
    // no URI and no transform saying what it signs: the application must give the data — INDETERMINATE, not forged
    const detached = sign(seller, invoice(noUri(C14N)), 'seller', 'hdon-nouri-c14n');
    const d = (await validateXades(detached, anchors())).signatures[0];
    expect(d, JSON.stringify(d)).toMatchObject({ indication: 'INDETERMINATE', checks: { integrity: null, signatureValue: true } });
    expect(d.signedData?.[0]).toMatchObject({ uri: null, digestMatches: null });
    expect(JSON.stringify(d)).toContain('without a URI');
  });
  it('RSASSA-PSS with parameters (xmldsig-more#rsa-pss + RSAPSSParams, as xades4j and DSS write): digests by xmlsec1, SignedInfo signed by OpenSSL; salt and digest read from the parameters', async () => {
    // xmlsec1 1.2 computes the reference digest (rsa-sha256) and verifies it; it has no RSA-PSS, so SignedInfo is
    // rewritten in its canonical form by hand and signed with OpenSSL's PSS — no canonicaliser of ours involved
    const base = sign(seller, invoice(template('seller', 'sha256', [{ uri: '#data-1', transforms: [ENVELOPED, C14N] }])), 'seller', 'hdon-pss-base');
    expect(xmlsecVerify(base, 'hdon-pss-base', 'seller').status).toBe(0);
    const digest = /<DigestValue>([^<]+)<\/DigestValue>/.exec(base)![1];
    const pss = (params: string, salt: number) => {
      const signedInfo =
        '<SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"></CanonicalizationMethod>' +
        `<SignatureMethod Algorithm="http://www.w3.org/2007/05/xmldsig-more#rsa-pss"><pss:RSAPSSParams xmlns:pss="http://www.w3.org/2007/05/xmldsig-more#">${params}</pss:RSAPSSParams></SignatureMethod>` +
        `<Reference URI="#data-1"><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"></Transform><Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"></Transform></Transforms><DigestMethod Algorithm="${SHA.sha256[1]}"></DigestMethod><DigestValue>${digest}</DigestValue></Reference></SignedInfo>`;
      const canonical = signedInfo.replace('<SignedInfo>', `<SignedInfo xmlns="${DSNS}">`);
      const value = nodeSign('sha256', Buffer.from(canonical), { key: readFileSync(seller.keyPath), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: salt }).toString('base64');
      return base.replace(/<SignedInfo>.*<\/SignedInfo>/s, signedInfo).replace(/<SignatureValue>[^<]*<\/SignatureValue>/, `<SignatureValue>${value}</SignatureValue>`);
    };
    const sha256 = `<DigestMethod Algorithm="${SHA.sha256[1]}"></DigestMethod>`;
    for (const [params, salt] of [[`${sha256}<pss:SaltLength>32</pss:SaltLength><pss:TrailerField>1</pss:TrailerField>`, 32], [sha256, 32], [`${sha256}<pss:SaltLength>64</pss:SaltLength>`, 64], ['', 32]] as const) {
      const xml = pss(params, salt);
      const s = (await validateXades(xml, anchors())).signatures[0];
      expect(s.checks, `${params} ${JSON.stringify(s)}`).toMatchObject({ integrity: true, signatureValue: true });
      expect(s.subIndication).not.toBe('CRYPTO_CONSTRAINTS_FAILURE');
    }
    const r = xmlsecVerify(pss(sha256, 32), 'hdon-pss', 'seller');
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('xmldsig-more#rsa-pss');
    // the parameters are signed: a salt other than the one declared is a broken signature
    expect((await validateXades(pss(`${sha256}<pss:SaltLength>20</pss:SaltLength>`, 32), anchors())).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'SIG_CRYPTO_FAILURE', checks: { integrity: true, signatureValue: false } });
    // MGF1 over another digest: node:crypto cannot say — INDETERMINATE with the reason, never TOTAL-FAILED
    const mgf = `<pss:MaskGenerationFunction Algorithm="http://www.w3.org/2007/05/xmldsig-more#MGF1"><DigestMethod Algorithm="${SHA.sha1[1]}"></DigestMethod></pss:MaskGenerationFunction>`;
    const odd = (await validateXades(pss(`${sha256}${mgf}`, 32), anchors())).signatures[0];
    expect(odd).toMatchObject({ indication: 'INDETERMINATE', checks: { integrity: true, signatureValue: null } });
    expect(JSON.stringify(odd)).toContain('MGF1');
  });
  it('signature wrapping: the signed DLHDon moved aside or duplicated, forged content where a reader looks — never valid, though xmlsec1 accepts the moved one', async () => {
    const xml = sign(seller, invoice(template('seller', 'sha256', [{ uri: '#data-1', transforms: [ENVELOPED, C14N] }])), 'seller', 'hdon-wrap');
    const original = /<DLHDon Id="data-1">[\s\S]*?<\/DLHDon>/.exec(xml)![0];
    const forgedData = original.replace('11000000', '99000000');
    // 1. moved: the original hidden in an element a reader skips, a forged DLHDon without Id in its place
    const moved = xml.replace(original, forgedData.replace(' Id="data-1"', '')).replace('<DSCKS>', `<TTKhac>${original}</TTKhac><DSCKS>`);
    expect(xmlsecVerify(moved, 'wrap-moved', 'seller').status).toBe(0);
    const m = (await validateXades(moved, anchors())).signatures[0];
    expect(m).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE', checks: { integrity: true, signatureValue: true } });
    expect(m.message).toMatch(/wrapping defence: \/HDon\/DLHDon is not signed but is of the same kind as the signed \/HDon\/TTKhac\/DLHDon\[@Id="data-1"\]/);
    expect(m.signedData?.[0].covers).toEqual(['/HDon/TTKhac/DLHDon[@Id="data-1"]']);
    // 2. moved under a forged DLHDon that wraps it
    const wrapped = xml.replace(original, forgedData.replace(' Id="data-1"', '').replace('</DLHDon>', `<Ext>${original}</Ext></DLHDon>`));
    const w = (await validateXades(wrapped, anchors())).signatures[0];
    expect(w).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE' });
    expect(w.message).toMatch(/lies inside \/HDon\/DLHDon, an element of the same kind that is not signed/);
    // 3. duplicated: a forged DLHDon with the same Id first, the original after it
    const dup = xml.replace(original, `${forgedData}${original}`);
    const d = (await validateXades(dup, anchors())).signatures[0];
    expect(d).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE' });
    expect(d.message).toMatch(/"#data-1" names 2 elements/);
    // 4. the Id removed from the signed element: the signed data is not found, nothing is proven either way
    const gone = xml.replace(' Id="data-1"', '');
    const g = (await validateXades(gone, anchors())).signatures[0];
    expect(g).toMatchObject({ indication: 'INDETERMINATE', checks: { integrity: null, signatureValue: true } });
    expect(g.signedData?.[0]).toMatchObject({ uri: '#data-1', digestMatches: null, problem: expect.stringMatching(/names no element/) });
  });

  it('CAdES: a broken signature value without a signing-certificate attribute is TOTAL-FAILED, not NO_SIGNING_CERTIFICATE_FOUND', async () => {
    const content = save(lab.dir, 'plain.txt', Buffer.from('Thông báo của cơ quan thuế\n'));
    const out = join(lab.dir, 'plain.p7m');
    // openssl cms without -cades: no ESS signing-certificate attribute binds the certificate
    openssl(['cms', '-sign', '-binary', '-nodetach', '-outform', 'DER', '-md', 'sha256', '-in', content, '-signer', seller.certPath, '-inkey', seller.keyPath, '-out', out]);
    const der = readFileSync(out);
    const intact = (await validateCades(der, anchors())).signatures[0];
    expect(intact).toMatchObject({ checks: { signingCertificateReference: 'absent', signatureValue: true } });
    const broken = Buffer.from(der);
    broken[broken.length - 5] ^= 1; // inside the RSA signature value, the SignerInfo's last field
    expect((await validateCades(broken, anchors())).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'SIG_CRYPTO_FAILURE' });
  });
});
