/**
 * XAdES as other producers write it (issue 21, items 3 and 5): signed by xmlsec1 from a template, with the
 * XAdES 1.3.2 SigningCertificate (a SHA-1 digest and IssuerSerial) instead of SigningCertificateV2, a
 * signature policy with its qualifiers (SPURI, SPUserNotice, SPDocSpecification), a signer role, a production
 * place, a data object format and a commitment type. xmlsec1 verifies each; we find it intact and bound to
 * its certificate, with a note on the older form. A SigningCertificate naming another serial or another
 * certificate binds nothing: INDETERMINATE, never a forgery, with integrity still reported.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateFile } from '../../src/sign/index.js';
import { openLab, save, type Lab } from './fixtures.js';

const DS = 'http://www.w3.org/2000/09/xmldsig#';
const XA = 'http://uri.etsi.org/01903/v1.3.2#';

function template(o: { certDigest: string; digestAlg: string; serial: string; issuer: string }): string {
  const sp =
    `<xades:SignedProperties Id="sp-1"><xades:SignedSignatureProperties>` +
    `<xades:SigningTime>${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}</xades:SigningTime>` +
    `<xades:SigningCertificate><xades:Cert><xades:CertDigest><ds:DigestMethod Algorithm="${o.digestAlg}"/><ds:DigestValue>${o.certDigest}</ds:DigestValue></xades:CertDigest>` +
    `<xades:IssuerSerial><ds:X509IssuerName>${o.issuer}</ds:X509IssuerName><ds:X509SerialNumber>${o.serial}</ds:X509SerialNumber></xades:IssuerSerial></xades:Cert></xades:SigningCertificate>` +
    `<xades:SignaturePolicyIdentifier><xades:SignaturePolicyId><xades:SigPolicyId><xades:Identifier Qualifier="OIDAsURN">urn:oid:2.16.704.1.101.1.1</xades:Identifier><xades:Description>Chính sách chữ ký thử</xades:Description></xades:SigPolicyId>` +
    `<xades:SigPolicyHash><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>${createHash('sha256').update('policy').digest('base64')}</ds:DigestValue></xades:SigPolicyHash>` +
    `<xades:SigPolicyQualifiers><xades:SigPolicyQualifier><xades:SPURI>https://ca.gov.vn/chinh-sach.pdf</xades:SPURI></xades:SigPolicyQualifier>` +
    `<xades:SigPolicyQualifier><xades:SPUserNotice><xades:ExplicitText>Chữ ký theo chính sách thử</xades:ExplicitText></xades:SPUserNotice></xades:SigPolicyQualifier>` +
    `<xades:SigPolicyQualifier><SPDocSpecification xmlns="http://uri.etsi.org/01903/v1.4.1#"><Identifier xmlns="${XA}">urn:oid:0.4.0.19132.1</Identifier></SPDocSpecification></xades:SigPolicyQualifier></xades:SigPolicyQualifiers>` +
    `</xades:SignaturePolicyId></xades:SignaturePolicyIdentifier>` +
    `<xades:SignatureProductionPlace><xades:City>Hà Nội</xades:City><xades:CountryName>VN</xades:CountryName></xades:SignatureProductionPlace>` +
    `<xades:SignerRole><xades:ClaimedRoles><xades:ClaimedRole>Văn thư</xades:ClaimedRole></xades:ClaimedRoles></xades:SignerRole>` +
    `</xades:SignedSignatureProperties><xades:SignedDataObjectProperties>` +
    `<xades:DataObjectFormat ObjectReference="#ref-doc"><xades:MimeType>text/xml</xades:MimeType></xades:DataObjectFormat>` +
    `<xades:CommitmentTypeIndication><xades:CommitmentTypeId><xades:Identifier>http://uri.etsi.org/01903/v1.2.2#ProofOfApproval</xades:Identifier></xades:CommitmentTypeId><xades:AllSignedDataObjects/></xades:CommitmentTypeIndication>` +
    `</xades:SignedDataObjectProperties></xades:SignedProperties>`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ThongBao><NoiDung>Thông báo số 5/TB-CT</NoiDung>` +
    `<ds:Signature xmlns:ds="${DS}" Id="sig-1"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>` +
    `<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>` +
    `<ds:Reference Id="ref-doc" URI=""><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>` +
    `<ds:Reference URI="#sp-1" Type="http://uri.etsi.org/01903#SignedProperties"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>` +
    `</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo>` +
    `<ds:Object><xades:QualifyingProperties xmlns:xades="${XA}" Target="#sig-1">${sp}</xades:QualifyingProperties></ds:Object></ds:Signature></ThongBao>`
  );
}

describe('XAdES from other producers: SigningCertificate v1, policy qualifiers, roles and places', () => {
  let lab: Lab;
  let signer: Awaited<ReturnType<Lab['signer']>>;
  let cert: X509Certificate;
  beforeAll(async () => {
    lab = await openLab();
    signer = await lab.signer('/C=VN/O=Cục Thuế/CN=Cơ quan thuế thử');
    cert = new X509Certificate(readFileSync(signer.certPath));
  }, 60_000);
  afterAll(async () => lab?.p.close());

  const xmlsec = (args: string[]) => spawnSync('xmlsec1', args, { encoding: 'utf8' });
  const ID = ['--id-attr:Id', `${XA}:SignedProperties`];
  function signed(o: Parameters<typeof template>[0], name: string): Buffer {
    const path = save(lab.dir, `${name}.tmpl.xml`, Buffer.from(template(o)));
    const out = join(lab.dir, `${name}.xml`);
    const r = xmlsec(['--sign', ...ID, '--privkey-pem', `${signer.keyPath},${signer.certPath},${lab.issuingPath}`, '--output', out, path]);
    expect(r.status, r.stderr).toBe(0);
    const v = xmlsec(['--verify', ...ID, '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, out]);
    expect(v.status, v.stderr).toBe(0);
    return readFileSync(out);
  }
  const opts = () => ({ trustAnchors: [lab.root], revocation: { mode: 'soft-fail' as const } });
  const sha1 = 'http://www.w3.org/2000/09/xmldsig#sha1';
  const serial = () => BigInt(`0x${cert.serialNumber}`).toString();

  it('SigningCertificate v1 with SHA-1 and IssuerSerial binds the certificate: TOTAL-PASSED, the older form noted', async () => {
    const bytes = signed({ certDigest: createHash('sha1').update(cert.raw).digest('base64'), digestAlg: sha1, serial: serial(), issuer: cert.issuer.split('\n').reverse().join(', ') }, 'v1-ok');
    const s = (await validateFile(bytes, opts())).signatures[0]!;
    expect(s.checks).toMatchObject({ integrity: true, signatureValue: true, signingCertificateReference: 'ok' });
    expect(s.indication, s.message).toBe('TOTAL-PASSED');
    expect(s.warnings.join('\n')).toMatch(/SigningCertificate \(XAdES 1\.3\.2, sha1\)/);
    expect(s.warnings.join('\n')).not.toMatch(/unsigned properties/);
    expect(s.signedData!.map((r) => r.digestMatches)).toEqual([true, true]);
  });

  it('a SigningCertificate v1 naming another serial, or another certificate, binds nothing: INDETERMINATE, integrity intact', async () => {
    for (const [name, o] of [
      ['v1-serial', { certDigest: createHash('sha1').update(cert.raw).digest('base64'), digestAlg: sha1, serial: (BigInt(`0x${cert.serialNumber}`) + 1n).toString(), issuer: 'CN=x' }],
      ['v1-other', { certDigest: createHash('sha1').update(lab.issuing).digest('base64'), digestAlg: sha1, serial: serial(), issuer: 'CN=x' }],
    ] as const) {
      const s = (await validateFile(signed(o, name), opts())).signatures[0]!;
      expect([s.indication, s.subIndication], name).toEqual(['INDETERMINATE', 'NO_SIGNING_CERTIFICATE_FOUND']);
      expect(s.checks, name).toMatchObject({ integrity: true, signatureValue: true, signingCertificateReference: 'mismatch' });
    }
  });
});
