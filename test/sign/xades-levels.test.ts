import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toPem } from '../../src/asn1/der.js';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import { augmentXades, localTimeStamper, platformEvidence, signXades, validateXades, type LevelContext } from '../../src/sign/index.js';
import { opensslStatus } from '../helpers/openssl.js';
import { openLab, save, type Lab } from './fixtures.js';

const EDXML = '<edXML xmlns="urn:vn:edxml"><Header><Code>45/UBND-VP</Code></Header><Subject>Về việc lưu trữ hồ sơ điện tử</Subject></edXML>';
const OCSP_OPTS = { validityMinutes: 60, refreshBeforeMinutes: 10, signWith: 'delegated' as const, pollSeconds: 60 };

describe('XAdES B-T and B-LT', () => {
  let lab: Lab;
  let responder: OcspResponder;
  let ctx: LevelContext;
  let tsaChain: string;
  const xmlsec = (path: string) => {
    const r = spawnSync('xmlsec1', ['--verify', '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, '--id-attr:Id', 'http://uri.etsi.org/01903/v1.3.2#:SignedProperties', path], { encoding: 'utf8' });
    return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
  };
  beforeAll(async () => {
    lab = await openLab();
    const tsa = new TimeStampAuthority(lab.p.pki, lab.p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
    await tsa.start();
    responder = new OcspResponder(lab.p.pki, lab.p.issuer, OCSP_OPTS);
    await responder.start();
    ctx = { timeStamper: localTimeStamper(tsa), evidence: platformEvidence(lab.p.pki, responder), trustAnchors: [lab.root] };
    tsaChain = join(lab.dir, 'tsa-chain-x.pem');
    writeFileSync(tsaChain, toPem('CERTIFICATE', tsa.certificate()) + toPem('CERTIFICATE', lab.issuing));
  });
  afterAll(async () => {
    await responder?.stop();
    await lab?.p.close();
  });

  it('B-T: a SignatureTimeStamp over the exclusive C14N of ds:SignatureValue; openssl ts and xmlsec1 agree; the report has the proof of existence', async () => {
    const signer = await lab.signer('/CN=Phạm Thu Trang/O=Văn phòng UBND/C=VN');
    const xml = await signXades(EDXML, signer, { level: 'B-T', context: ctx });
    expect(xml).toMatch(/<xades:UnsignedProperties><xades:UnsignedSignatureProperties><xades:SignatureTimeStamp Id="TS-[0-9a-f]+"><ds:CanonicalizationMethod Algorithm="http:\/\/www.w3.org\/2001\/10\/xml-exc-c14n#"\/><xades:EncapsulatedTimeStamp>/);
    const v = xmlsec(save(lab.dir, 'bt.xml', Buffer.from(xml)));
    expect(v.status, v.out).toBe(0);
    // the canonical SignatureValue, written by hand: exclusive C14N puts the ds namespace on it and nothing else
    const m = /<ds:SignatureValue([^>]*)>([^<]*)<\/ds:SignatureValue>/.exec(xml)!;
    const canonical = `<ds:SignatureValue xmlns:ds="http://www.w3.org/2000/09/xmldsig#"${m[1]}>${m[2]}</ds:SignatureValue>`;
    const token = Buffer.from(/<xades:EncapsulatedTimeStamp>([^<]+)</.exec(xml)![1], 'base64');
    const ts = opensslStatus(['ts', '-verify', '-in', save(lab.dir, 'x.tst', token), '-token_in', '-digest', createHash('sha256').update(canonical).digest('hex'), '-CAfile', lab.rootPath, '-untrusted', tsaChain]);
    expect(ts.out).toMatch(/Verification: OK/);
    const r = (await validateXades(xml, { trustAnchors: [lab.root] })).signatures[0];
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-T', timestamps: [{ type: 'signature', valid: true }] });
    expect(r.bestSignatureTime).toBeDefined();
    expect(r.warnings.filter((w) => /not validated/.test(w))).toEqual([]);
    // a token over another signature value gives no proof of existence
    const other = await signXades(EDXML, signer, { level: 'B-T', context: ctx });
    const foreign = /<xades:EncapsulatedTimeStamp>([^<]+)</.exec(other)![1];
    const grafted = xml.replace(/<xades:EncapsulatedTimeStamp>[^<]+</, `<xades:EncapsulatedTimeStamp>${foreign}<`);
    const g = (await validateXades(grafted, { trustAnchors: [lab.root] })).signatures[0];
    expect(g.timestamps![0]).toMatchObject({ valid: false, problem: expect.stringMatching(/imprint/) });
    expect(g.bestSignatureTime).toBeUndefined();
  });

  it('B-LT by augmentation: CertificateValues and RevocationValues; offline validation with hard-fail; xmlsec1 still verifies; the expired signer is proven by the time-stamp', async () => {
    const signer = await lab.signer('/CN=Trần Quốc Bảo/O=Sở Nội vụ/C=VN', { keyArgs: ['-newkey', 'rsa:2048'] });
    const bb = await signXades(EDXML, signer);
    const bt = await augmentXades(bb, 'B-T', ctx);
    const lt = await augmentXades(bt, 'B-LT', ctx);
    expect(await augmentXades(lt, 'B-LT', ctx)).toBe(lt);
    expect(lt).toMatch(/<xades:CertificateValues><xades:EncapsulatedX509Certificate>/);
    expect(lt).toMatch(/<xades:RevocationValues>(<xades:CRLValues>|<xades:OCSPValues>)/);
    const v = xmlsec(save(lab.dir, 'lt.xml', Buffer.from(lt)));
    expect(v.status, v.out).toBe(0);
    const offline = { trustAnchors: [lab.root], revocation: { mode: 'hard-fail' as const } };
    const r = (await validateXades(lt, offline)).signatures[0];
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LT', timestamps: [{ valid: true }] });
    expect(r.embeddedEvidence!.crls + r.embeddedEvidence!.ocspResponses).toBeGreaterThan(0);
    expect((await validateXades(bb, offline)).signatures[0]).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'TRY_LATER' });
    const later = new Date(Date.now() + 4 * 365 * 86_400_000);
    expect((await validateXades(lt, { trustAnchors: [lab.root], at: later })).signatures[0].indication).toBe('TOTAL-PASSED');
    expect((await validateXades(bb, { trustAnchors: [lab.root], at: later })).signatures[0]).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'OUT_OF_BOUNDS_NO_POE' });
    await expect(augmentXades(lt, 'B-LTA', ctx)).rejects.toThrow(/not implemented/);
  });
});
