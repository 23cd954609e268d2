import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import { augmentXades, localTimeStamper, platformEvidence, renewXadesArchive, signXades, validateFile, validateXades, type LevelContext } from '../../src/sign/index.js';
import { openLab, samplePdf, save, type Lab } from './fixtures.js';

const EDXML = '<edXML xmlns="urn:vn:edxml"><Header><Code>71/UBND-VP</Code></Header><Subject>Về việc ký số văn bản đi</Subject></edXML>';
const OCSP_OPTS = { validityMinutes: 60, refreshBeforeMinutes: 10, signWith: 'delegated' as const, pollSeconds: 60 };

describe('XAdES enveloping and detached', () => {
  let lab: Lab;
  let responder: OcspResponder;
  let ctx: LevelContext;
  let ec: Awaited<ReturnType<Lab['signer']>>;
  let rsa: Awaited<ReturnType<Lab['signer']>>;
  /** xmlsec1 --verify, run in the file's folder: it resolves a detached reference's relative URI from there */
  const xmlsec = (path: string) => {
    const r = spawnSync(
      'xmlsec1',
      ['--verify', '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, '--id-attr:Id', 'http://uri.etsi.org/01903/v1.3.2#:SignedProperties', '--id-attr:Id', 'http://www.w3.org/2000/09/xmldsig#:Object', path],
      { encoding: 'utf8', cwd: dirname(path) },
    );
    return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
  };
  beforeAll(async () => {
    lab = await openLab();
    const tsa = new TimeStampAuthority(lab.p.pki, lab.p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
    await tsa.start();
    responder = new OcspResponder(lab.p.pki, lab.p.issuer, OCSP_OPTS);
    await responder.start();
    ctx = { timeStamper: localTimeStamper(tsa), evidence: platformEvidence(lab.p.pki, responder), trustAnchors: [lab.root] };
    ec = await lab.signer('/CN=Trịnh Văn Sơn/O=Văn phòng Chính phủ/C=VN');
    rsa = await lab.signer('/CN=Mai Thị Lan/O=Văn phòng Chính phủ/C=VN', { keyArgs: ['-newkey', 'rsa:2048'] });
  });
  afterAll(async () => {
    await responder?.stop();
    await lab?.p.close();
  });

  it('enveloping: the document in a signed ds:Object of a ds:Signature root; xmlsec1 and we accept it (ECDSA and RSA); tampering, forged objects and wrapping are caught', async () => {
    for (const signer of [ec, rsa]) {
      const xml = await signXades(EDXML, signer, { packaging: 'enveloping', signingTime: new Date('2026-03-02T02:00:00Z') });
      expect(xml).toMatch(/^<ds:Signature [^>]*xmlns:ds="http:\/\/www.w3.org\/2000\/09\/xmldsig#"/);
      expect(xml).toMatch(/<ds:Reference URI="#content-[0-9a-f]{16}"><ds:Transforms><ds:Transform Algorithm="http:\/\/www.w3.org\/2001\/10\/xml-exc-c14n#"\/>/);
      expect(xml).toMatch(/<ds:Object[^>]* Id="content-[0-9a-f]{16}"><edXML xmlns="urn:vn:edxml">/);
      const v = xmlsec(save(lab.dir, `enveloping-${signer.serial}.xml`, Buffer.from(xml)));
      expect(v.status, v.out).toBe(0);
      expect(v.out).toMatch(/SignedInfo References \(ok\/all\): 2\/2/);
      const r = await validateFile(Buffer.from(xml), { trustAnchors: [lab.root] });
      expect(r.signatures[0], JSON.stringify(r.signatures[0])).toMatchObject({ format: 'XAdES', level: 'B-B', indication: 'TOTAL-PASSED', checks: { integrity: true, signatureValue: true, signingCertificateReference: 'ok' } });

      const tampered = xml.replace('71/UBND-VP', '72/UBND-VP');
      expect(xmlsec(save(lab.dir, 'enveloping-tampered.xml', Buffer.from(tampered))).status).not.toBe(0);
      expect((await validateXades(tampered, { trustAnchors: [lab.root] })).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
    }
    // content with a processing instruction and a default namespace undeclared twice: the ds:Object's digest is our
    // own exclusive C14N (xml-crypto's, used before, dropped the PI's target and repeated xmlns=""); xmlsec1 agrees
    const odd = '<vb xmlns="urn:vn:vb"><?xml-stylesheet href="vb.xsl"?><tt xmlns=""><a>Số 1</a><b xmlns="">x</b></tt></vb>';
    const oddSigned = await signXades(odd, ec, { packaging: 'enveloping' });
    expect(xmlsec(save(lab.dir, 'enveloping-pi.xml', Buffer.from(oddSigned))).status).toBe(0);
    expect((await validateXades(oddSigned, { trustAnchors: [lab.root] })).signatures[0]!.checks).toMatchObject({ integrity: true, signatureValue: true });
    const xml = await signXades(EDXML, ec, { packaging: 'enveloping' });
    // wrapping: unsigned content beside the signed object, or the signature moved under other content
    const extra = xml.replace('</ds:Signature>', '<ds:Object Id="x"><edXML xmlns="urn:vn:edxml"><Header><Code>999/GIA-MAO</Code></Header></edXML></ds:Object></ds:Signature>');
    const e = (await validateXades(extra, { trustAnchors: [lab.root] })).signatures[0];
    expect(e).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE' });
    // judged by coverage: the unsigned edXML is of the kind the signed one is, where a reader looks for it
    expect(e.message).toMatch(/wrapping defence: .*edXML is not signed but is of the same kind as the signed .*edXML/);
    expect(e.checks).toMatchObject({ integrity: true, signatureValue: true });
    const moved = `<edXML xmlns="urn:vn:edxml"><Header><Code>999/GIA-MAO</Code></Header>${xml}</edXML>`;
    const m = (await validateXades(moved, { trustAnchors: [lab.root] })).signatures[0];
    expect(m).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE' });
    expect(m.message).toMatch(/wrapping defence: the signed \/edXML\/ds:Signature\/ds:Object\/edXML lies inside \/edXML, an element of the same kind that is not signed/);
    // the signed object duplicated (same Id): which one was signed is ambiguous
    const obj = /<ds:Object[^>]* Id="content-[^"]+">[\s\S]*?<\/ds:Object>/.exec(xml)![0];
    const dup = xml.replace('</ds:Signature>', `${obj.replace('71/UBND-VP', '999/GIA-MAO')}</ds:Signature>`);
    expect((await validateXades(dup, { trustAnchors: [lab.root] })).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE' });
  });

  it('detached: any file (a PDF) named by its URI, digested as bytes; xmlsec1 verifies it beside the file; with the content TOTAL-PASSED, other content HASH_FAILURE, without it SIGNED_DATA_NOT_FOUND', async () => {
    const pdf = await samplePdf(true);
    const dir = join(lab.dir, 'detached');
    mkdirSync(dir, { recursive: true });
    save(dir, 'cong-van.pdf', pdf);
    for (const signer of [ec, rsa]) {
      const xml = (await signXades(pdf, signer, { packaging: 'detached', contentUri: 'cong-van.pdf' })).toString('utf8');
      expect(xml).toMatch(/<ds:Reference URI="cong-van.pdf"><ds:DigestMethod /);
      expect(xml).not.toContain('<ds:Object Id="content');
      const v = xmlsec(save(dir, `cong-van-${signer.serial}.xml`, Buffer.from(xml)));
      expect(v.status, v.out).toBe(0);
      expect(v.out).toMatch(/SignedInfo References \(ok\/all\): 2\/2/);

      const ok = (await validateFile(Buffer.from(xml), { trustAnchors: [lab.root], content: pdf })).signatures[0];
      expect(ok, JSON.stringify(ok)).toMatchObject({ indication: 'TOTAL-PASSED', checks: { integrity: true, signatureValue: true } });
      const other = (await validateXades(xml, { trustAnchors: [lab.root], content: Buffer.concat([pdf, Buffer.from('\n')]) })).signatures[0];
      expect(other).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
      const none = (await validateXades(xml, { trustAnchors: [lab.root] })).signatures[0];
      expect(none, JSON.stringify(none)).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'SIGNED_DATA_NOT_FOUND', checks: { signatureValue: true } });
      // a forged signature value fails with or without the content
      const sv = /<ds:SignatureValue>([^<]+)</.exec(xml)![1];
      const forgedValue = Buffer.from(sv, 'base64');
      forgedValue[10] ^= 1;
      const forged = xml.replace(sv, forgedValue.toString('base64'));
      expect((await validateXades(forged, { trustAnchors: [lab.root] })).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'SIG_CRYPTO_FAILURE' });
      expect((await validateXades(forged, { trustAnchors: [lab.root], content: pdf })).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'SIG_CRYPTO_FAILURE' });
    }
  });

  it('enveloping and detached signatures rise to B-T, B-LT and B-LTA and renew; xmlsec1 still verifies; offline validation passes at B-LTA', async () => {
    const pdf = await samplePdf(false);
    const dir = join(lab.dir, 'detached-lta');
    mkdirSync(dir, { recursive: true });
    save(dir, 'to-trinh.pdf', pdf);
    const offline = { trustAnchors: [lab.root], revocation: { mode: 'hard-fail' as const } };

    const enveloping = await signXades(EDXML, ec, { packaging: 'enveloping', level: 'B-LTA', context: ctx });
    const renewed = await renewXadesArchive(enveloping, ctx);
    for (const [name, xml] of [['enveloping-lta', enveloping], ['enveloping-renewed', renewed]] as const) {
      expect(xmlsec(save(lab.dir, `${name}.xml`, Buffer.from(xml))).status).toBe(0);
      const r = (await validateXades(xml, offline)).signatures[0];
      expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
      expect(r.timestamps!.every((t) => t.valid)).toBe(true);
    }
    expect((await validateXades(renewed.replace('71/UBND-VP', '70/UBND-VP'), offline)).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });

    const bb = (await signXades(pdf, rsa, { packaging: 'detached', contentUri: 'to-trinh.pdf' })).toString('utf8');
    const bt = await augmentXades(bb, 'B-T', ctx);
    const lt = await augmentXades(bt, 'B-LT', ctx);
    await expect(augmentXades(lt, 'B-LTA', ctx)).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/detached content "to-trinh.pdf" is needed/) });
    const lta = await augmentXades(lt, 'B-LTA', ctx, 0, pdf);
    for (const [name, xml, level] of [['det-bt', bt, 'B-T'], ['det-lt', lt, 'B-LT'], ['det-lta', lta, 'B-LTA']] as const) {
      const v = xmlsec(save(dir, `${name}.xml`, Buffer.from(xml)));
      expect(v.status, v.out).toBe(0);
      // B-T carries no revocation data: it validates online (soft-fail here); B-LT and B-LTA offline with hard-fail
      const r = (await validateXades(xml, level === 'B-T' ? { trustAnchors: [lab.root], content: pdf } : { ...offline, content: pdf })).signatures[0];
      expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level });
      expect(r.timestamps!.every((t) => t.valid)).toBe(true);
    }
    // the archive time-stamp covers the content: with other content it is not valid, and the signature fails
    const wrong = (await validateXades(lta, { ...offline, content: Buffer.concat([pdf, Buffer.from(' ')]) })).signatures[0];
    expect(wrong).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
    expect(wrong.timestamps!.find((t) => t.type === 'archive')).toMatchObject({ valid: false });
  });
});
