/**
 * XAdES-X time-stamps in the distributed form (issue 21): SigAndRefsTimeStamp and RefsOnlyTimeStampV2 that name
 * their inputs with xades:Include (TS 101 903's explicit inclusion, the IncludeType EN 319 132-1 keeps). xmlsec1
 * signs a template whose ds:SignatureValue has an Id; the test writes the unsigned properties by hand — a
 * SignatureTimeStamp, CompleteCertificateRefs and CompleteRevocationRefs with Ids — computes each imprint from the
 * canonical forms it writes itself (Canonical XML 1.0: the namespaces in scope declared on each element, the rest
 * as written), has the lab's TSA stamp it and openssl ts check the token against that imprint. Our validator
 * recomputes the input from the Includes, in their order: valid, a proof of existence of the references; an
 * Include list leaving out an element its kind covers, naming an element outside the signature, or a reference
 * changed after the time-stamp is not valid, with the reason. xmlsec1 verifies the core of every file.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { buildOcspRequest } from '../../src/pki/path/index.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import { localTimeStamper, validateXades } from '../../src/sign/index.js';
import { opensslStatus } from '../helpers/openssl.js';
import { labServices, openLab, save, xadesTemplate, type Lab } from './fixtures.js';

const DS = 'http://www.w3.org/2000/09/xmldsig#';
const XA = 'http://uri.etsi.org/01903/v1.3.2#';
const XA141 = 'http://uri.etsi.org/01903/v1.4.1#';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const C14N10 = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';

describe('XAdES-X time-stamps with xades:Include', () => {
  let lab: Lab;
  let tsa: TimeStampAuthority;
  let responder: OcspResponder;
  let tsaChain: string;
  let signed: string;
  let sv: string;
  let sts: string;
  let ccr: string;
  let crr: string;
  const ID = ['--id-attr:Id', `${XA}:SignedProperties`];
  const b64 = (d: Uint8Array) => createHash('sha256').update(d).digest('base64');
  /** Canonical XML 1.0 of an element of the unsigned properties: ds (from ds:Signature) and xades (from QualifyingProperties) in scope */
  const inclusive = (el: string) => el.replace(/^<([\w:]+)/, `<$1 xmlns:ds="${DS}" xmlns:xades="${XA}"`);
  /** the lab TSA's token over `input`, checked by openssl ts against the imprint computed here */
  const stamp = async (input: string, name: string): Promise<string> => {
    const imprint = createHash('sha256').update(input, 'utf8').digest();
    const token = await localTimeStamper(tsa).stamp(imprint, 'sha256');
    const ts = opensslStatus(['ts', '-verify', '-in', save(lab.dir, `${name}.tst`, token), '-token_in', '-digest', imprint.toString('hex'), '-CAfile', lab.rootPath, '-untrusted', tsaChain]);
    expect(ts.out).toMatch(/Verification: OK/);
    return token.toString('base64');
  };
  const unsigned = (props: string) =>
    signed.replace('</xades:SignedProperties>', `</xades:SignedProperties><xades:UnsignedProperties><xades:UnsignedSignatureProperties>${props}</xades:UnsignedSignatureProperties></xades:UnsignedProperties>`);
  const includes = (...ids: string[]) => ids.map((id) => `<xades:Include URI="#${id}"/>`).join('');
  const coreVerifies = (name: string, xml: string) => {
    const r = spawnSync('xmlsec1', ['--verify', ...ID, '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, save(lab.dir, name, Buffer.from(xml))], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  };

  beforeAll(async () => {
    lab = await openLab();
    ({ tsa, responder, tsaChain } = await labServices(lab));
    const signer = await lab.signer('/CN=Hoàng Minh Tâm/O=Cục Thuế/C=VN');
    const certDer = Buffer.from(new X509Certificate(readFileSync(signer.certPath)).raw);
    const tmpl = xadesTemplate(b64(certDer), 'Thông báo số 31/TB-CT').replace('<ds:SignatureValue/>', '<ds:SignatureValue Id="sv-1"/>');
    const out = join(lab.dir, 'inc.xml');
    const s = spawnSync('xmlsec1', ['--sign', ...ID, '--privkey-pem', [signer.keyPath, signer.certPath, lab.issuingPath].join(','), '--output', out, save(lab.dir, 'inc.tmpl.xml', Buffer.from(tmpl))], { encoding: 'utf8' });
    expect(s.status, s.stderr).toBe(0);
    signed = readFileSync(out, 'utf8');
    const value = /<ds:SignatureValue Id="sv-1">([^<]*)<\/ds:SignatureValue>/.exec(signed)![1]!;
    sv = `<ds:SignatureValue xmlns:ds="${DS}" Id="sv-1">${value}</ds:SignatureValue>`;
    // a signature time-stamp over the canonical SignatureValue (no CanonicalizationMethod: Canonical XML 1.0)
    sts = `<xades:SignatureTimeStamp Id="sts-1"><xades:EncapsulatedTimeStamp>${await stamp(sv, 'inc-sts')}</xades:EncapsulatedTimeStamp></xades:SignatureTimeStamp>`;
    const ocsp = (await responder.respond(buildOcspRequest(signer.certificate, lab.issuing))).der;
    const dm = `<ds:DigestMethod Algorithm="${SHA256}"></ds:DigestMethod>`;
    ccr = `<xades:CompleteCertificateRefs Id="ccr-1"><xades:CertRefs><xades:Cert><xades:CertDigest>${dm}<ds:DigestValue>${b64(lab.issuing)}</ds:DigestValue></xades:CertDigest></xades:Cert></xades:CertRefs></xades:CompleteCertificateRefs>`;
    crr = `<xades:CompleteRevocationRefs Id="crr-1"><xades:OCSPRefs><xades:OCSPRef><xades:DigestAlgAndValue>${dm}<ds:DigestValue>${b64(Buffer.from(ocsp))}</ds:DigestValue></xades:DigestAlgAndValue></xades:OCSPRef></xades:OCSPRefs></xades:CompleteRevocationRefs>`;
  }, 60_000);
  afterAll(async () => {
    await responder?.stop();
    await lab?.p.close();
  });

  it('TS 101 903: a SigAndRefsTimeStamp including SignatureValue, the SignatureTimeStamp and the references is valid and proves the references; leaving one out or changing one after is not', async () => {
    const token = await stamp(sv + inclusive(sts) + inclusive(ccr) + inclusive(crr), 'inc-srts');
    const srts = (ids: string[], t = token) => `<xades:SigAndRefsTimeStamp Id="srts-1">${includes(...ids)}<xades:EncapsulatedTimeStamp>${t}</xades:EncapsulatedTimeStamp></xades:SigAndRefsTimeStamp>`;
    const x = unsigned(sts + ccr + crr + srts(['sv-1', 'sts-1', 'ccr-1', 'crr-1']));
    coreVerifies('inc-srts.xml', x);
    const r = (await validateXades(x, { trustAnchors: [lab.root] })).signatures[0]!;
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-T' });
    const t = r.timestamps!.find((s) => s.type === 'sig-and-refs')!;
    expect(t, JSON.stringify(r.timestamps)).toMatchObject({ valid: true });
    expect(r.warnings.join('\n')).not.toMatch(/SigAndRefs|distributed|Include/);
    expect(r.validationDataReferences!.map((v) => [v.kind, v.poe])).toEqual([
      ['certificate', t.genTime],
      ['ocsp', t.genTime],
    ]);

    // a token over the same elements without the signature time-stamp, whose Includes leave it out: not a SigAndRefsTimeStamp
    const short = await stamp(sv + inclusive(ccr) + inclusive(crr), 'inc-srts-short');
    const left = (await validateXades(unsigned(sts + ccr + crr + srts(['sv-1', 'ccr-1', 'crr-1'], short)), { trustAnchors: [lab.root] })).signatures[0]!;
    expect(left.timestamps!.find((s) => s.type === 'sig-and-refs')).toMatchObject({ valid: false, problem: expect.stringMatching(/leave out SignatureTimeStamp/) });
    // an Include naming what lies outside the signature
    const outside = unsigned(sts + ccr + crr + srts(['sv-1', 'sts-1', 'ccr-1', 'crr-1', 'doc-1'])).replace('<ThongBao>', '<ThongBao Id="doc-1">');
    const o = (await validateXades(outside, { trustAnchors: [lab.root] })).signatures[0]!;
    expect(o.timestamps!.find((s) => s.type === 'sig-and-refs')).toMatchObject({ valid: false, problem: expect.stringMatching(/outside the signature/) });
    // a reference changed after the time-stamp: the imprint no longer holds
    const changed = unsigned(sts + ccr.replace(b64(lab.issuing), b64(lab.root)) + crr + srts(['sv-1', 'sts-1', 'ccr-1', 'crr-1']));
    const c = (await validateXades(changed, { trustAnchors: [lab.root] })).signatures[0]!;
    expect(c.timestamps!.find((s) => s.type === 'sig-and-refs')).toMatchObject({ valid: false, problem: expect.stringMatching(/imprint/) });
    expect(c.warnings.join('\n')).toMatch(/SigAndRefsTimeStamp is not valid/);
  });

  it('EN 319 132-1: a RefsOnlyTimeStampV2 whose Includes take the references in their own order, Canonical XML 1.0 named, is valid', async () => {
    // the Include order, not the standard's explicit order, is the order of the input
    const token = await stamp(inclusive(crr) + inclusive(ccr), 'inc-rots');
    const rots = `<xadesv141:RefsOnlyTimeStampV2 xmlns:xadesv141="${XA141}" Id="rots-1">${includes('crr-1', 'ccr-1')}<ds:CanonicalizationMethod Algorithm="${C14N10}"></ds:CanonicalizationMethod><xades:EncapsulatedTimeStamp>${token}</xades:EncapsulatedTimeStamp></xadesv141:RefsOnlyTimeStampV2>`;
    const x = unsigned(sts + ccr + crr + rots);
    coreVerifies('inc-rots.xml', x);
    const r = (await validateXades(x, { trustAnchors: [lab.root] })).signatures[0]!;
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED' });
    const t = r.timestamps!.find((s) => s.type === 'refs-only')!;
    expect(t).toMatchObject({ valid: true });
    expect(r.validationDataReferences!.every((v) => v.poe === t.genTime)).toBe(true);
    // the explicit order over the same token: the imprint is not that of the input the Includes give
    const swapped = x.replace(includes('crr-1', 'ccr-1'), includes('ccr-1', 'crr-1'));
    const s = (await validateXades(swapped, { trustAnchors: [lab.root] })).signatures[0]!;
    expect(s.timestamps!.find((v) => v.type === 'refs-only')).toMatchObject({ valid: false, problem: expect.stringMatching(/imprint/) });
  });
});
