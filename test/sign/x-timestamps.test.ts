/**
 * The time-stamps over validation data and the time-stamps' own algorithms, on one test platform.
 *
 * XAdES-X (TS 101 903 §7.5, EN 319 132-1 §5.5.1): SigAndRefsTimeStamp and RefsOnlyTimeStamp, v1 and V2. Our signer
 * raises a signature to X-L in each form and our validator recomputes each imprint; independently, a signature
 * xmlsec1 made from a template gets CompleteCertificateRefs, CompleteRevocationRefs and a v1 SigAndRefsTimeStamp
 * without CanonicalizationMethod (so Canonical XML 1.0) whose imprint this test computes from the canonical forms it
 * writes by hand, and openssl ts checks the token against that imprint. xmlsec1 verifies the XML-DSig core of every
 * file (it knows nothing of XAdES: the unsigned properties are not its business). A valid SigAndRefsTimeStamp is
 * the proof of existence of a signature that has no other: its signer revoked after it passes; without it, or with
 * references changed after it, REVOKED_NO_POE. Without the values, the references are matched against the
 * revocation data validation fetches.
 *
 * CAdES-X (TS 101 733 §6.3.5, §6.3.6): a CAdES-C-time-stamp (escTimeStamp) and a time-stamped-certs-crls-references
 * (certCRLTimestamp) added by this test to signatures of ours, with complete-certificate-references and
 * complete-revocation-references it encodes itself (each reference then matched against the values at hand); the
 * imprints are computed here (the signature value's octets, then each attribute's attrType and attrValues) and
 * openssl ts checks each token against them; openssl cms still verifies the signature.
 *
 * The algorithm policy for time-stamp tokens' own algorithms (EN 319 102-1 §5.2.8): a token openssl ts signs with
 * SHA-1 over a SHA-1 imprint (a TSA certificate our CA issued to an openssl key) verifies — openssl ts says so — and
 * is then INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE_NO_POE with the reason, no proof of existence; our own TSA's
 * token under a policy that does not list its key is INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ctx as tagged, octets, oid, seq, set, toPem } from '../../src/asn1/der.js';
import { revoke } from '../../src/pki/index.js';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { buildOcspRequest, parseCertificate } from '../../src/pki/path/index.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import { addUnsignedAttributes, signatureTimeStampAttribute } from '../../src/sign/cades/unsigned.js';
import { DEFAULT_ALGORITHM_POLICY, keyAlgorithmId } from '../../src/sign/validate/algorithms.js';
import { augmentXadesX, inspectCms, localTimeStamper, signCades, signXades, validateCades, validateXades, type LevelContext } from '../../src/sign/index.js';
import { openssl, opensslCsr, opensslStatus } from '../helpers/openssl.js';
import { labServices, openLab, save, xadesTemplate, type Lab } from './fixtures.js';

const DS = 'http://www.w3.org/2000/09/xmldsig#';
const XA = 'http://uri.etsi.org/01903/v1.3.2#';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const EDXML = '<edXML xmlns="urn:vn:edxml"><Header><Code>46/UBND-VP</Code></Header><Subject>Về việc chỉnh lý hồ sơ</Subject></edXML>';


const CONTENT = Buffer.from('Báo cáo tổng hợp số 7/BC-UBND', 'utf8');
const OID = {
  signatureTimeStamp: '1.2.840.113549.1.9.16.2.14',
  certRefs: '1.2.840.113549.1.9.16.2.21',
  revRefs: '1.2.840.113549.1.9.16.2.22',
  esc: '1.2.840.113549.1.9.16.2.25',
  certCrl: '1.2.840.113549.1.9.16.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
};


let lab: Lab;
let responder: OcspResponder;
let tsa: TimeStampAuthority;
let ctx: LevelContext;
let tsaChain: string;
beforeAll(async () => {
  lab = await openLab();
  ({ tsa, responder, ctx, tsaChain } = await labServices(lab));
}, 60_000);
afterAll(async () => {
  await responder?.stop();
  await lab?.p.close();
});

describe('XAdES-X: SigAndRefsTimeStamp and RefsOnlyTimeStamp', () => {
  const ID = ['--id-attr:Id', `${XA}:SignedProperties`];
  const xmlsec = (args: string[]) => spawnSync('xmlsec1', args, { encoding: 'utf8' });
  const verifyCore = (name: string, xml: string) => {
    const r = xmlsec(['--verify', ...ID, '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, save(lab.dir, name, Buffer.from(xml))]);
    expect(r.status, r.stderr).toBe(0);
  };

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
    const tmpl = save(lab.dir, 'x-hand.tmpl.xml', Buffer.from(xadesTemplate(createHash('sha256').update(certDer).digest('base64'))));
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

describe('CAdES-X: CAdES-C-time-stamp and time-stamped-certs-crls-references', () => {
  const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();
  /** OtherHash as OtherHashAlgAndValue (SHA-256) */
  const otherHash = (der: Uint8Array) => seq(seq(oid(OID.sha256)), octets(sha256(der)));
  /** the attribute's attrType and attrValues, as the X time-stamps hash them */
  const typeAndValues = (type: string, value: Buffer) => Buffer.concat([oid(type), set(value)]);
  const attribute = (type: string, value: Buffer) => seq(oid(type), set(value));

  /** the references: the issuing CA's certificate (OtherCertID) and the signer's OCSP response (CrlOcspRef ocspids) */
  async function references(signerCert: Uint8Array) {
    const ocsp = Buffer.from((await responder.respond(buildOcspRequest(signerCert, lab.issuing))).der);
    const certRefs = seq(seq(otherHash(lab.issuing)));
    // CrlOcspRef ::= SEQUENCE { ocspids [1] OcspListID }; OcspListID ::= SEQUENCE { ocspResponses SEQUENCE OF OcspResponsesID };
    // OcspResponsesID ::= SEQUENCE { ocspIdentifier OcspIdentifier, ocspRepHash OtherHash } (the identifier: a
    // responder by key hash [2] and the production time)
    const producedAt = Buffer.from([0x18, 0x0f, ...Buffer.from('20260101000000Z')]);
    const revRefs = seq(seq(tagged(1, seq(seq(seq(seq(tagged(2, octets(sha256(lab.issuing))), producedAt), otherHash(ocsp)))))));
    return { certRefs, revRefs, ocsp };
  }

  const verifyToken = (name: string, token: Buffer, imprint: Buffer) =>
    opensslStatus(['ts', '-verify', '-in', save(lab.dir, name, token), '-token_in', '-digest', imprint.toString('hex'), '-CAfile', lab.rootPath, '-untrusted', tsaChain]).out;

  it('a B-T signature with both X time-stamps: imprints computed here hold, openssl ts and openssl cms agree, both reported valid', async () => {
    const signer = await lab.signer('/CN=Ngô Thanh Vân/O=UBND tỉnh/C=VN');
    const bt = await signCades(CONTENT, signer, { level: 'B-T', context: ctx });
    const s = inspectCms(bt, CONTENT).signers[0]!;
    const { certRefs, revRefs } = await references(signer.certificate);
    const sigTs = typeAndValues(OID.signatureTimeStamp, s.unsignedAttributes.get(OID.signatureTimeStamp)![0]!);
    const refs = Buffer.concat([typeAndValues(OID.certRefs, certRefs), typeAndValues(OID.revRefs, revRefs)]);
    const escImprint = sha256(Buffer.concat([s.signatureValue, sigTs, refs]));
    const refsImprint = sha256(refs);
    const esc = await localTimeStamper(tsa).stamp(escImprint, 'sha256');
    const certCrl = await localTimeStamper(tsa).stamp(refsImprint, 'sha256');
    expect(verifyToken('esc.tst', esc, escImprint)).toMatch(/Verification: OK/);
    expect(verifyToken('certcrl.tst', certCrl, refsImprint)).toMatch(/Verification: OK/);
    const x = addUnsignedAttributes(bt, [attribute(OID.certRefs, certRefs), attribute(OID.revRefs, revRefs), attribute(OID.esc, esc), attribute(OID.certCrl, certCrl)]);
    const cms = opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-in', save(lab.dir, 'x.p7s', x), '-content', save(lab.dir, 'x.txt', CONTENT), '-CAfile', lab.rootPath, '-certfile', lab.issuingPath, '-purpose', 'any', '-out', '/dev/null']);
    expect(cms.out).toMatch(/Verification successful/);
    const r = (await validateCades(x, { content: CONTENT, trustAnchors: [lab.root] })).signatures[0]!;
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-T' });
    expect(r.timestamps!.map((t) => [t.type, t.valid])).toEqual([
      ['signature', true],
      ['sig-and-refs', true],
      ['refs-only', true],
    ]);
    // the references themselves: the issuing CA's certificate is in the CMS; the OCSP response only once validation has it
    const esc0 = r.timestamps!.find((t) => t.type === 'sig-and-refs')!.genTime;
    expect(r.validationDataReferences!.map((v) => [v.kind, v.matches, v.source ?? null, v.poe])).toEqual([
      ['certificate', true, 'signature', esc0],
      ['ocsp', null, null, esc0],
    ]);
    expect(r.warnings.join('\n')).toMatch(/validation data reference 2 \(ocsp, OCSP produced 2026-01-01T00:00:00.000Z\): no OCSP at hand/);
    const { ocsp } = await references(signer.certificate);
    const withOcsp = (await validateCades(x, { content: CONTENT, trustAnchors: [lab.root], revocation: { mode: 'soft-fail', ocspResponses: [ocsp] } })).signatures[0]!;
    expect(withOcsp.validationDataReferences!.map((v) => [v.kind, v.matches, v.source])).toEqual([
      ['certificate', true, 'signature'],
      ['ocsp', true, 'validation'],
    ]);
    // the references changed after the time-stamps: neither imprint holds, warnings, the verdict unchanged
    const other = await references(signer.certificate);
    const changed = addUnsignedAttributes(bt, [attribute(OID.certRefs, seq(seq(otherHash(signer.certificate)))), attribute(OID.revRefs, other.revRefs), attribute(OID.esc, esc), attribute(OID.certCrl, certCrl)]);
    const c = (await validateCades(changed, { content: CONTENT, trustAnchors: [lab.root] })).signatures[0]!;
    expect(c.indication).toBe('TOTAL-PASSED');
    expect(c.timestamps!.filter((t) => t.type !== 'signature').map((t) => [t.type, t.valid, t.problem])).toEqual([
      ['sig-and-refs', false, expect.stringMatching(/imprint/)],
      ['refs-only', false, expect.stringMatching(/imprint/)],
    ]);
    expect(c.warnings.join('\n')).toMatch(/dấu thời gian CAdES-X không hợp lệ \/ a CAdES-C-time-stamp is not valid/);
  });

  it('a CAdES-C-time-stamp is the proof of existence of a signature without a signature time-stamp: its signer revoked after it passes', async () => {
    const signer = await lab.signer('/CN=Mai Quốc Bảo/O=UBND tỉnh/C=VN');
    const bb = await signCades(CONTENT, signer);
    const s = inspectCms(bb, CONTENT).signers[0]!;
    const { certRefs, revRefs } = await references(signer.certificate);
    const imprint = sha256(Buffer.concat([s.signatureValue, typeAndValues(OID.certRefs, certRefs), typeAndValues(OID.revRefs, revRefs)]));
    const esc = await localTimeStamper(tsa).stamp(imprint, 'sha256');
    expect(verifyToken('esc-bb.tst', esc, imprint)).toMatch(/Verification: OK/);
    const x = addUnsignedAttributes(bb, [attribute(OID.certRefs, certRefs), attribute(OID.revRefs, revRefs), attribute(OID.esc, esc)]);
    await new Promise((r) => setTimeout(r, 1100));
    await revoke(lab.p.pki, { serial: signer.serial, reason: 'keyCompromise' }, 'ra1');
    const revoked = (await responder.respond(buildOcspRequest(signer.certificate, lab.issuing))).der;
    const tsaOcsp = (await responder.respond(buildOcspRequest(tsa.certificate(), lab.issuing))).der;
    const opts = { content: CONTENT, trustAnchors: [lab.root], revocation: { mode: 'hard-fail' as const, ocspResponses: [revoked, tsaOcsp], targetOnly: true } };
    const r = (await validateCades(x, opts)).signatures[0]!;
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', timestamps: [{ type: 'sig-and-refs', valid: true }] });
    expect(r.bestSignatureTime).toBe(r.timestamps![0]!.genTime);
    const none = (await validateCades(bb, opts)).signatures[0]!;
    expect(none).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'REVOKED_NO_POE' });
  });
});

describe('time-stamp tokens judged by the algorithm policy', () => {
  it('a token openssl signs with SHA-1 over a SHA-1 imprint verifies, then is INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE_NO_POE: no proof of existence', async () => {
    // a TSA of our CA's issuing, its key made by openssl; openssl ts answers with SHA-1 everywhere
    const { csr, keyPath } = opensslCsr(lab.dir, '/CN=TSA cũ SHA-1/O=Trung tâm dữ liệu/C=VN', ['-newkey', 'rsa:2048']);
    const issued = await lab.p.issuer.issue({ profile: 'time-stamping', csr }, 'ra1');
    const tsaPem = save(lab.dir, 'sha1-tsa.pem', Buffer.from(toPem('CERTIFICATE', issued.der)));
    const conf = join(lab.dir, 'tsa.cnf');
    writeFileSync(join(lab.dir, 'tsaserial'), '01\n');
    writeFileSync(
      conf,
      `[ tsa ]\ndefault_tsa = t\n[ t ]\nserial = ${join(lab.dir, 'tsaserial')}\nsigner_digest = sha1\ndefault_policy = 1.2.3.4.1\n` +
        `digests = sha1, sha256\naccuracy = secs:1\ness_cert_id_alg = sha1\n`,
    );
    const signer = await lab.signer('/CN=Đinh Công Sơn/O=UBND tỉnh/C=VN');
    const bb = await signCades(CONTENT, signer);
    const value = inspectCms(bb, CONTENT).signers[0]!.signatureValue;
    const query = join(lab.dir, 'q.tsq');
    openssl(['ts', '-query', '-digest', createHash('sha1').update(value).digest('hex'), '-sha1', '-cert', '-out', query]);
    const tokenPath = join(lab.dir, 'sha1.tst');
    openssl(['ts', '-reply', '-config', conf, '-queryfile', query, '-signer', tsaPem, '-inkey', keyPath, '-token_out', '-out', tokenPath]);
    const token = readFileSync(tokenPath);
    const v = opensslStatus(['ts', '-verify', '-in', tokenPath, '-token_in', '-digest', createHash('sha1').update(value).digest('hex'), '-CAfile', lab.rootPath, '-untrusted', lab.issuingPath]);
    expect(v.out).toMatch(/Verification: OK/);
    const bt = addUnsignedAttributes(bb, [signatureTimeStampAttribute(token)]);
    const r = (await validateCades(bt, { content: CONTENT, trustAnchors: [lab.root] })).signatures[0]!;
    expect(r.timestamps, JSON.stringify(r.timestamps)).toEqual([
      expect.objectContaining({ type: 'signature', valid: false, indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE_NO_POE', problem: expect.stringMatching(/^thuật toán của dấu thời gian không được chính sách chấp nhận \/ .*sha1 is no longer reliable since 2013/) }),
    ]);
    expect(r.bestSignatureTime).toBeUndefined();
    expect(r.indication).toBe('TOTAL-PASSED'); // the signer's certificate is valid now: the token was not needed
    expect(r.warnings.join('\n')).toMatch(/a signature time-stamp is not valid: .*sha1/);
    // at a time when SHA-1 was still reliable for it, the same token is valid (the imprint and signature hold)
    const policy = { ...DEFAULT_ALGORITHM_POLICY, sha1: null };
    const ok = (await validateCades(bt, { content: CONTENT, trustAnchors: [lab.root], algorithmPolicy: policy })).signatures[0]!;
    expect(ok.timestamps![0]).toMatchObject({ valid: true });
    expect(ok.timestamps![0]!.subIndication).toBeUndefined();
  });

  it("our TSA's token under a policy that does not list its key is INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE (XAdES and CAdES)", async () => {
    const tsaKey = keyAlgorithmId(parseCertificate(tsa.certificate()));
    // a signer whose key the policy keeps
    const signer = await lab.signer('/CN=Phan Minh Nhật/O=UBND tỉnh/C=VN', tsaKey.startsWith('ecdsa') ? { keyArgs: ['-newkey', 'rsa:3072'] } : {});
    const policy = Object.fromEntries(Object.entries(DEFAULT_ALGORITHM_POLICY).filter(([k]) => k !== tsaKey));
    const context = { timeStamper: localTimeStamper(tsa) };
    const xml = await signXades('<CongVan><So>16/UBND</So></CongVan>', signer, { level: 'B-T', context });
    const x = (await validateXades(xml, { trustAnchors: [lab.root], algorithmPolicy: policy })).signatures[0]!;
    expect(x.timestamps![0]).toMatchObject({ valid: false, indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE', problem: expect.stringContaining(`the algorithm ${tsaKey} is not allowed by the validation policy`) });
    expect(x.bestSignatureTime).toBeUndefined();
    expect(x.indication).toBe('TOTAL-PASSED');
    const p7s = await signCades(CONTENT, signer, { level: 'B-T', context });
    const c = (await validateCades(p7s, { content: CONTENT, trustAnchors: [lab.root], algorithmPolicy: policy })).signatures[0]!;
    expect(c.timestamps![0]).toMatchObject({ valid: false, subIndication: 'CRYPTO_CONSTRAINTS_FAILURE' });
    // under the default policy the same tokens are valid proofs of existence
    expect((await validateXades(xml, { trustAnchors: [lab.root] })).signatures[0]!.timestamps![0]).toMatchObject({ valid: true });
  });
});
