/**
 * XAdES-X (TS 101 903 §7.5, EN 319 132-1 §5.5.1): SigAndRefsTimeStamp and RefsOnlyTimeStamp, v1 and V2.
 * Our signer raises a signature to X-L in each form and our validator recomputes each imprint; independently, a
 * signature xmlsec1 made from a template gets CompleteCertificateRefs, CompleteRevocationRefs and a v1
 * SigAndRefsTimeStamp without CanonicalizationMethod (so Canonical XML 1.0) whose imprint this test computes from
 * the canonical forms it writes by hand, and openssl ts checks the token against that imprint. xmlsec1 verifies
 * the XML-DSig core of every file (it knows nothing of XAdES: the unsigned properties are not its business).
 * A valid SigAndRefsTimeStamp is the proof of existence of a signature that has no other: its signer revoked after
 * it passes; without it, or with references changed after it, REVOKED_NO_POE.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toPem } from '../../src/asn1/der.js';
import { revoke } from '../../src/pki/index.js';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { buildOcspRequest } from '../../src/pki/path/index.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import { augmentXadesX, localTimeStamper, platformEvidence, signXades, validateXades, type LevelContext } from '../../src/sign/index.js';
import { opensslStatus } from '../helpers/openssl.js';
import { openLab, save, type Lab } from './fixtures.js';

const DS = 'http://www.w3.org/2000/09/xmldsig#';
const XA = 'http://uri.etsi.org/01903/v1.3.2#';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const EDXML = '<edXML xmlns="urn:vn:edxml"><Header><Code>46/UBND-VP</Code></Header><Subject>Về việc chỉnh lý hồ sơ</Subject></edXML>';
const OCSP_OPTS = { validityMinutes: 60, refreshBeforeMinutes: 10, signWith: 'delegated' as const, pollSeconds: 60 };

function template(certDigest: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ThongBao><NoiDung>Thông báo số 12/TB-CT</NoiDung>` +
    `<ds:Signature xmlns:ds="${DS}" Id="sig-1"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>` +
    `<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>` +
    `<ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="${DS}enveloped-signature"/></ds:Transforms><ds:DigestMethod Algorithm="${SHA256}"/><ds:DigestValue/></ds:Reference>` +
    `<ds:Reference URI="#sp-1" Type="http://uri.etsi.org/01903#SignedProperties"><ds:DigestMethod Algorithm="${SHA256}"/><ds:DigestValue/></ds:Reference>` +
    `</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo>` +
    `<ds:Object><xades:QualifyingProperties xmlns:xades="${XA}" Target="#sig-1"><xades:SignedProperties Id="sp-1"><xades:SignedSignatureProperties>` +
    `<xades:SigningTime>${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}</xades:SigningTime>` +
    `<xades:SigningCertificateV2><xades:Cert><xades:CertDigest><ds:DigestMethod Algorithm="${SHA256}"/><ds:DigestValue>${certDigest}</ds:DigestValue></xades:CertDigest></xades:Cert></xades:SigningCertificateV2>` +
    `</xades:SignedSignatureProperties></xades:SignedProperties></xades:QualifyingProperties></ds:Object></ds:Signature></ThongBao>`
  );
}

describe('XAdES-X: SigAndRefsTimeStamp and RefsOnlyTimeStamp', () => {
  let lab: Lab;
  let responder: OcspResponder;
  let tsa: TimeStampAuthority;
  let ctx: LevelContext;
  let tsaChain: string;
  const ID = ['--id-attr:Id', `${XA}:SignedProperties`];
  const xmlsec = (args: string[]) => spawnSync('xmlsec1', args, { encoding: 'utf8' });
  const verifyCore = (name: string, xml: string) => {
    const r = xmlsec(['--verify', ...ID, '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, save(lab.dir, name, Buffer.from(xml))]);
    expect(r.status, r.stderr).toBe(0);
  };
  beforeAll(async () => {
    lab = await openLab();
    tsa = new TimeStampAuthority(lab.p.pki, lab.p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
    await tsa.start();
    responder = new OcspResponder(lab.p.pki, lab.p.issuer, OCSP_OPTS);
    await responder.start();
    ctx = { timeStamper: localTimeStamper(tsa), evidence: platformEvidence(lab.p.pki, responder), trustAnchors: [lab.root] };
    tsaChain = join(lab.dir, 'tsa-chain.pem');
    writeFileSync(tsaChain, toPem('CERTIFICATE', tsa.certificate()) + toPem('CERTIFICATE', lab.issuing));
  }, 60_000);
  afterAll(async () => {
    await responder?.stop();
    await lab?.p.close();
  });

  it('our signer writes X-L in the v1 and V2 forms, SigAndRefs and RefsOnly; each imprint holds, the references are proven, xmlsec1 verifies the core', async () => {
    const signer = await lab.signer('/CN=Đỗ Minh Châu/O=Văn phòng UBND/C=VN');
    const bt = await signXades(EDXML, signer, { level: 'B-T', context: ctx });
    for (const [form, timeStamp, element] of [
      ['v1', 'sig-and-refs', 'xades:SigAndRefsTimeStamp'],
      ['v141', 'sig-and-refs', 'xadesv141:SigAndRefsTimeStampV2'],
      ['v1', 'refs-only', 'xades:RefsOnlyTimeStamp'],
      ['v141', 'refs-only', 'xadesv141:RefsOnlyTimeStampV2'],
    ] as const) {
      const x = await augmentXadesX(bt, ctx, { form, timeStamp });
      expect(x).toContain(`<${element} `);
      expect(x).toMatch(form === 'v1' ? /<xades:CompleteCertificateRefs / : /<xadesv141:CompleteCertificateRefsV2 /);
      // the order of XAdES-X-L: time-stamp, references, the X time-stamp, then the values
      expect(x.indexOf('SignatureTimeStamp')).toBeLessThan(x.indexOf('CompleteRevocationRefs'));
      expect(x.indexOf('CompleteRevocationRefs')).toBeLessThan(x.indexOf(element));
      expect(x.indexOf(element)).toBeLessThan(x.indexOf('RevocationValues'));
      verifyCore(`x-${form}-${timeStamp}.xml`, x);
      const r = (await validateXades(x, { trustAnchors: [lab.root] })).signatures[0]!;
      expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LT' });
      const stamp = r.timestamps!.find((t) => t.type === timeStamp)!;
      expect(stamp, JSON.stringify(r.timestamps)).toMatchObject({ valid: true });
      expect(r.warnings.join('\n')).not.toMatch(/not validated|SigAndRefs|RefsOnly/);
      expect(r.validationDataReferences!.length).toBeGreaterThan(1);
      for (const ref of r.validationDataReferences!) expect(ref, JSON.stringify(ref)).toMatchObject({ matches: true, poe: stamp.genTime });
      // a reference changed after the time-stamp: the imprint no longer holds, a warning, the verdict unchanged
      const changed = x.replace(/(<xades:CRLRef>|<xades:OCSPRef>)([\s\S]*?<ds:DigestValue>)([^<]+)/, (_m, a, b, v: string) => `${a}${b}${v.startsWith('A') ? 'B' : 'A'}${v.slice(1)}`);
      expect(changed).not.toBe(x);
      const c = (await validateXades(changed, { trustAnchors: [lab.root] })).signatures[0]!;
      expect(c.indication).toBe('TOTAL-PASSED');
      expect(c.timestamps!.find((t) => t.type === timeStamp)).toMatchObject({ valid: false, problem: expect.stringMatching(/imprint/) });
      expect(c.warnings.join('\n')).toMatch(/dấu thời gian trên tham chiếu .* không hợp lệ \/ a (SigAndRefs|RefsOnly)TimeStamp is not valid/);
    }
  });

  it('XAdES-X without the values: its references are matched against the revocation data validation fetches, kind by kind', async () => {
    const signer = await lab.signer('/CN=Lê Hải Yến/O=Văn phòng UBND/C=VN');
    const x = await augmentXadesX(await signXades(EDXML, signer, { level: 'B-T', context: ctx }), ctx, { values: false });
    expect(x).not.toMatch(/RevocationValues|CertificateValues/);
    verifyCore('x-novalues.xml', x);
    const kinds = (refs: { kind: string; matches: boolean | null; source?: string }[], kind: string) => refs.filter((r) => r.kind === kind).map((r) => [r.matches, r.source ?? null]);
    // nothing fetched: the revocation references name data nobody has at hand
    const offline = (await validateXades(x, { trustAnchors: [lab.root] })).signatures[0]!;
    expect(offline.indication).toBe('TOTAL-PASSED');
    const crls = kinds(offline.validationDataReferences!, 'crl');
    const ocsps = kinds(offline.validationDataReferences!, 'ocsp');
    expect(crls.length).toBeGreaterThan(0);
    expect(ocsps.length).toBeGreaterThan(0);
    expect([...crls, ...ocsps].every(([m]) => m === null)).toBe(true);
    expect(offline.warnings.join('\n')).toMatch(/validation data reference \d+ \(crl/);
    // OCSP fetched during validation from the responder the certificates name: the OCSP references match it
    const { currentCrl } = await import('../../src/pki/index.js');
    const fetchOcsp = async (_url: string, req: Buffer) => (await responder.respond(req)).der;
    const fetchCrl = async () => (await currentCrl(lab.p.pki, 'issuing', false)).der;
    const byOcsp = (await validateXades(x, { trustAnchors: [lab.root], revocation: { mode: 'soft-fail', fetchOcsp } })).signatures[0]!;
    expect(byOcsp.indication).toBe('TOTAL-PASSED');
    // the signer's response (its path comes first) is the one the responder serves again; others may be signed afresh
    const fetchedOcsps = kinds(byOcsp.validationDataReferences!, 'ocsp');
    expect(fetchedOcsps[0]).toEqual([true, 'validation']);
    // a reference to a response not fetched again is not at hand (null), never a mismatch with another response of that second
    expect(fetchedOcsps.every(([m]) => m !== false)).toBe(true);
    // and CRLs fetched from the distribution points: the CRL references match them
    const byCrl = (await validateXades(x, { trustAnchors: [lab.root], revocation: { mode: 'soft-fail', fetchCrl } })).signatures[0]!;
    expect(byCrl.indication).toBe('TOTAL-PASSED');
    const fetchedCrls = kinds(byCrl.validationDataReferences!, 'crl');
    expect(fetchedCrls[0]).toEqual([true, 'validation']);
    // the certificates: in the KeyInfo, or on the paths validation built (the signer's, the TSA's)
    expect(byCrl.validationDataReferences!.filter((r) => r.kind === 'certificate').every((r) => r.matches === true)).toBe(true);
  });

  it('a hand-built v1 SigAndRefsTimeStamp (Canonical XML 1.0, the imprint computed here, openssl ts agrees) is the proof of existence of a signature that has no other', async () => {
    const signer = await lab.signer('/CN=Trịnh Thu Hà/O=Cục Thuế/C=VN');
    const certDer = Buffer.from(new X509Certificate(readFileSync(signer.certPath)).raw);
    const tmpl = save(lab.dir, 'x-hand.tmpl.xml', Buffer.from(template(createHash('sha256').update(certDer).digest('base64'))));
    const out = join(lab.dir, 'x-hand.xml');
    const s = xmlsec(['--sign', ...ID, '--privkey-pem', [signer.keyPath, signer.certPath, lab.issuingPath].join(','), '--output', out, tmpl]);
    expect(s.status, s.stderr).toBe(0);
    const signed = readFileSync(out, 'utf8');

    // the references: the issuing CA's certificate and the OCSP response on the signer, digests by node:crypto
    const ocsp = (await responder.respond(buildOcspRequest(signer.certificate, lab.issuing))).der;
    const b64 = (d: Buffer) => createHash('sha256').update(d).digest('base64');
    const dm = `<ds:DigestMethod Algorithm="${SHA256}"></ds:DigestMethod>`;
    const ccr = `<xades:CompleteCertificateRefs><xades:CertRefs><xades:Cert><xades:CertDigest>${dm}<ds:DigestValue>${b64(lab.issuing)}</ds:DigestValue></xades:CertDigest></xades:Cert></xades:CertRefs></xades:CompleteCertificateRefs>`;
    const crr = `<xades:CompleteRevocationRefs><xades:OCSPRefs><xades:OCSPRef><xades:DigestAlgAndValue>${dm}<ds:DigestValue>${b64(Buffer.from(ocsp))}</ds:DigestValue></xades:DigestAlgAndValue></xades:OCSPRef></xades:OCSPRefs></xades:CompleteRevocationRefs>`;
    // Canonical XML 1.0 of an element of the unsigned properties: the namespaces in scope (ds from ds:Signature,
    // xades from QualifyingProperties) declared on it in prefix order, the rest as written (no empty-element tags)
    const inclusive = (el: string) => el.replace(/^<([\w:]+)/, `<$1 xmlns:ds="${DS}" xmlns:xades="${XA}"`);
    const sv = /<ds:SignatureValue>([^<]*)<\/ds:SignatureValue>/.exec(signed)![1]!;
    const input = `<ds:SignatureValue xmlns:ds="${DS}">${sv}</ds:SignatureValue>${inclusive(ccr)}${inclusive(crr)}`;
    const imprint = createHash('sha256').update(input, 'utf8').digest();
    const token = await localTimeStamper(tsa).stamp(imprint, 'sha256');
    const ts = opensslStatus(['ts', '-verify', '-in', save(lab.dir, 'x-hand.tst', token), '-token_in', '-digest', imprint.toString('hex'), '-CAfile', lab.rootPath, '-untrusted', tsaChain]);
    expect(ts.out).toMatch(/Verification: OK/);
    const unsigned = (props: string) => signed.replace('</xades:SignedProperties>', `</xades:SignedProperties><xades:UnsignedProperties><xades:UnsignedSignatureProperties>${props}</xades:UnsignedSignatureProperties></xades:UnsignedProperties>`);
    const srts = `<xades:SigAndRefsTimeStamp Id="srts-1"><xades:EncapsulatedTimeStamp>${token.toString('base64')}</xades:EncapsulatedTimeStamp></xades:SigAndRefsTimeStamp>`;
    const withX = unsigned(ccr + crr + srts);
    const withoutX = unsigned(ccr + crr);
    const tampered = unsigned(ccr.replace(b64(lab.issuing), b64(certDer)) + crr + srts);
    verifyCore('x-hand-x.xml', withX);

    await new Promise((r) => setTimeout(r, 1100)); // the revocation after the time-stamp's genTime (seconds)
    await revoke(lab.p.pki, { serial: signer.serial, reason: 'keyCompromise' }, 'ra1');
    const revoked = (await responder.respond(buildOcspRequest(signer.certificate, lab.issuing))).der;
    const tsaOcsp = (await responder.respond(buildOcspRequest(tsa.certificate(), lab.issuing))).der;
    const opts = { trustAnchors: [lab.root], revocation: { mode: 'hard-fail' as const, ocspResponses: [revoked, tsaOcsp], targetOnly: true } };
    const x = (await validateXades(withX, opts)).signatures[0]!;
    expect(x, JSON.stringify(x, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', timestamps: [{ type: 'sig-and-refs', valid: true }] });
    expect(x.bestSignatureTime).toBe(x.timestamps![0]!.genTime);
    expect(x.warnings.join('\n')).toMatch(/revoked at .* after the proof of existence/);
    expect(x.validationDataReferences!.map((r) => [r.kind, r.matches, r.poe])).toEqual([
      ['certificate', true, x.bestSignatureTime],
      ['ocsp', null, x.bestSignatureTime], // the good response is not at hand: the one validation has says revoked
    ]);
    const none = (await validateXades(withoutX, opts)).signatures[0]!;
    expect(none).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'REVOKED_NO_POE' });
    const t = (await validateXades(tampered, opts)).signatures[0]!;
    expect(t).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'REVOKED_NO_POE', timestamps: [{ type: 'sig-and-refs', valid: false }] });
    expect(t.warnings.join('\n')).toMatch(/SigAndRefsTimeStamp is not valid: the message imprint/);
  });
});
