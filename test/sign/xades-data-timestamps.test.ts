/**
 * XAdES data-object time-stamps (issue 21; EN 319 132-1 §5.2.8): AllDataObjectsTimeStamp over the data of every
 * ds:Reference but the SignedProperties one, in SignedInfo's order, and IndividualDataObjectsTimeStamp over the
 * references its xades:Include elements name (URI="#Id of the ds:Reference", referencedData="true"), in the order of
 * the Includes. The test writes the data each reference yields by hand (Canonical XML 1.0 of the document without its
 * signature for URI="" with enveloped-signature alone — a node-set canonicalised with the time-stamp's default — and
 * the exclusive canonical form of the element "#nd-1" names), has the lab's TSA stamp it, and checks with
 * openssl ts -verify -data that each token imprints the bytes our code computes — which must be those written by
 * hand. The tokens go into SignedDataObjectProperties before xmlsec1 signs the template. Our validator: valid, each
 * reference proven to exist at the token's time; a token over other data, Includes in another order, or a document
 * changed after signing: not valid, with the reason.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import { localTimeStamper, reportText, reportXml, signXades, signXadesDetached, validateXades, type LevelContext } from '../../src/sign/index.js';
import { parseXml } from '../../src/sign/xades/parse.js';
import { idIndex } from '../../src/sign/xades/dsig/reference.js';
import { dataObjectTimeStampInput, readDataObjectTimeStamps } from '../../src/sign/xades/data-timestamps.js';
import { opensslStatus } from '../helpers/openssl.js';
import { labServices, openLab, save, type Lab } from './fixtures.js';

const DS = 'http://www.w3.org/2000/09/xmldsig#';
const XA = 'http://uri.etsi.org/01903/v1.3.2#';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const EXC = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const NOTICE = 'Thông báo số 45/TB-CT về việc nộp thuế';

describe('XAdES AllDataObjectsTimeStamp and IndividualDataObjectsTimeStamp', () => {
  let lab: Lab;
  let tsa: TimeStampAuthority;
  let responder: OcspResponder;
  let tsaChain: string;
  let ctx: LevelContext;
  let signer: Awaited<ReturnType<Lab['signer']>>;
  let certDigest: string;
  // what each data reference yields, written by hand
  const whole = (notice = NOTICE) => `<ThongBao><NoiDung Id="nd-1">${notice}</NoiDung></ThongBao>`;
  const element = (notice = NOTICE) => `<NoiDung Id="nd-1">${notice}</NoiDung>`;
  const ID = ['--id-attr:Id', `${XA}:SignedProperties`, '--id-attr:Id', 'NoiDung'];

  const stamp = async (input: string): Promise<string> => {
    const token = await localTimeStamper(tsa).stamp(createHash('sha256').update(input, 'utf8').digest(), 'sha256');
    return token.toString('base64');
  };
  const timeStamp = (name: string, token: string, includes: string[] = []) =>
    `<xades:${name} Id="${name}-${includes.join('-') || 'all'}">${includes.map((i) => `<xades:Include URI="#${i}" referencedData="true"/>`).join('')}<xades:EncapsulatedTimeStamp>${token}</xades:EncapsulatedTimeStamp></xades:${name}>`;
  /** an enveloped XAdES over the notice: the whole document, and the notice element by Id; the time-stamps in SignedDataObjectProperties */
  const template = (stamps: string, signingTime = new Date()) =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<ThongBao><NoiDung Id="nd-1">${NOTICE}</NoiDung>` +
    `<ds:Signature xmlns:ds="${DS}" Id="sig-1"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="${EXC}"/>` +
    `<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>` +
    `<ds:Reference Id="ref-doc" URI=""><ds:Transforms><ds:Transform Algorithm="${DS}enveloped-signature"/></ds:Transforms><ds:DigestMethod Algorithm="${SHA256}"/><ds:DigestValue/></ds:Reference>` +
    `<ds:Reference Id="ref-nd" URI="#nd-1"><ds:Transforms><ds:Transform Algorithm="${EXC}"/></ds:Transforms><ds:DigestMethod Algorithm="${SHA256}"/><ds:DigestValue/></ds:Reference>` +
    `<ds:Reference URI="#sp-1" Type="http://uri.etsi.org/01903#SignedProperties"><ds:DigestMethod Algorithm="${SHA256}"/><ds:DigestValue/></ds:Reference>` +
    `</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo>` +
    `<ds:Object><xades:QualifyingProperties xmlns:xades="${XA}" Target="#sig-1"><xades:SignedProperties Id="sp-1"><xades:SignedSignatureProperties>` +
    `<xades:SigningTime>${signingTime.toISOString().replace(/\.\d+Z$/, 'Z')}</xades:SigningTime>` +
    `<xades:SigningCertificateV2><xades:Cert><xades:CertDigest><ds:DigestMethod Algorithm="${SHA256}"/><ds:DigestValue>${certDigest}</ds:DigestValue></xades:CertDigest></xades:Cert></xades:SigningCertificateV2>` +
    `</xades:SignedSignatureProperties><xades:SignedDataObjectProperties>${stamps}</xades:SignedDataObjectProperties></xades:SignedProperties></xades:QualifyingProperties></ds:Object></ds:Signature></ThongBao>`;
  /** xmlsec1 signs the template, and verifies the result */
  const sign = (name: string, stamps: string, signingTime?: Date): string => {
    const out = join(lab.dir, `${name}.xml`);
    const s = spawnSync('xmlsec1', ['--sign', ...ID, '--privkey-pem', [signer.keyPath, signer.certPath, lab.issuingPath].join(','), '--output', out, save(lab.dir, `${name}.tmpl.xml`, Buffer.from(template(stamps, signingTime)))], { encoding: 'utf8' });
    expect(s.status, s.stderr).toBe(0);
    const xml = readFileSync(out, 'utf8');
    const v = spawnSync('xmlsec1', ['--verify', ...ID, '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, out], { encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
    return xml;
  };
  /** the input our code computes for each data-object time-stamp of the signature */
  const inputs = (xml: string): Buffer[] => {
    const doc = parseXml(xml);
    const sig = doc.getElementsByTagNameNS(DS, 'Signature')[0]!;
    return readDataObjectTimeStamps(sig).map((d) => dataObjectTimeStampInput(doc, sig, d, idIndex(doc)));
  };
  const opensslVerifies = (token: string, data: Buffer, name: string) =>
    opensslStatus(['ts', '-verify', '-in', save(lab.dir, `${name}.tst`, Buffer.from(token, 'base64')), '-token_in', '-data', save(lab.dir, `${name}.dat`, data), '-CAfile', lab.rootPath, '-untrusted', tsaChain]).out;

  beforeAll(async () => {
    lab = await openLab();
    ({ tsa, responder, tsaChain, ctx } = await labServices(lab));
    signer = await lab.signer('/CN=Lê Thị Hồng/O=Chi cục Thuế Quận 1/C=VN');
    certDigest = createHash('sha256').update(Buffer.from(new X509Certificate(readFileSync(signer.certPath)).raw)).digest('base64');
  }, 60_000);
  afterAll(async () => {
    await responder?.stop();
    await lab?.p.close();
  });

  it('AllDataObjectsTimeStamp and IndividualDataObjectsTimeStamps (one Include; two in reverse order): openssl ts verifies each over the bytes we compute; valid, each reference proven', async () => {
    const all = await stamp(whole() + element());
    const one = await stamp(element());
    const reversed = await stamp(element() + whole());
    const xml = sign('dots', timeStamp('AllDataObjectsTimeStamp', all) + timeStamp('IndividualDataObjectsTimeStamp', one, ['ref-nd']) + timeStamp('IndividualDataObjectsTimeStamp', reversed, ['ref-nd', 'ref-doc']));
    // our inputs are the standard's bytes, written by hand, and the TSA's tokens imprint them
    const computed = inputs(xml);
    expect(computed.map((b) => b.toString('utf8'))).toEqual([whole() + element(), element(), element() + whole()]);
    for (const [i, token] of [all, one, reversed].entries()) expect(opensslVerifies(token, computed[i]!, `dots-${i}`)).toMatch(/Verification: OK/);

    const report = await validateXades(xml, { trustAnchors: [lab.root] });
    const r = report.signatures[0]!;
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', checks: { integrity: true, signatureValue: true } });
    // ETSI TS 119 102-2: signed attributes; for people, the proof beside each reference
    expect(reportXml(report).match(/<vr:ContentTimeStamp Signed="true">/g)).toHaveLength(3);
    expect(reportText(report, 'vi')).toMatch(/"#nd-1": .* — giá trị băm khớp; đã tồn tại không muộn hơn \(dấu thời gian dữ liệu\): /);
    const content = r.timestamps!.filter((t) => t.type === 'content');
    expect(content.map((t) => [t.property, t.references, t.valid])).toEqual([
      ['AllDataObjectsTimeStamp', ['', '#nd-1'], true],
      ['IndividualDataObjectsTimeStamp', ['#nd-1'], true],
      ['IndividualDataObjectsTimeStamp', ['#nd-1', ''], true],
    ]);
    // the earliest valid token covering each data reference is its proof of existence; SignedProperties has none
    const earliest = (...ts: string[]) => ts.sort()[0];
    expect(r.signedData!.map((s) => s.poe)).toEqual([earliest(content[0]!.genTime!, content[2]!.genTime!), earliest(content[0]!.genTime!, content[1]!.genTime!, content[2]!.genTime!), undefined]);
    expect(r.warnings.join('\n')).not.toMatch(/data-object|not validated/);
  });

  it('refused: a token over other data, Includes in another order than the token was made in, a document changed after signing', async () => {
    // the individual token made over the whole document, though its Include names the notice element only
    const wrong = await stamp(whole());
    const x = sign('dots-wrong', timeStamp('IndividualDataObjectsTimeStamp', wrong, ['ref-nd']));
    expect(opensslVerifies(wrong, inputs(x)[0]!, 'dots-wrong')).not.toMatch(/Verification: OK/);
    const w = (await validateXades(x, { trustAnchors: [lab.root] })).signatures[0]!;
    // the signature itself holds: the warning, not the verdict, says the time-stamp proves nothing
    expect(w.checks).toMatchObject({ integrity: true, signatureValue: true });
    expect(w.timestamps!.find((t) => t.type === 'content')).toMatchObject({ valid: false, property: 'IndividualDataObjectsTimeStamp', problem: expect.stringMatching(/imprint/) });
    expect(w.signedData!.every((s) => s.poe === undefined)).toBe(true);
    expect(w.warnings.join('\n')).toMatch(/dấu thời gian dữ liệu không hợp lệ \/ a data-object time-stamp \(IndividualDataObjectsTimeStamp\) is not valid/);

    // the token over the notice then the document, its Includes in SignedInfo's order: the order of the Includes is the order of the input
    const ordered = await stamp(element() + whole());
    const o = sign('dots-order', timeStamp('IndividualDataObjectsTimeStamp', ordered, ['ref-doc', 'ref-nd']));
    const ov = (await validateXades(o, { trustAnchors: [lab.root] })).signatures[0]!;
    expect(ov.timestamps!.find((t) => t.type === 'content')).toMatchObject({ valid: false, problem: expect.stringMatching(/imprint/) });

    // the notice changed after signing: the signature's digests and both time-stamps fail
    const all = await stamp(whole() + element());
    const one = await stamp(element());
    const signed = sign('dots-changed', timeStamp('AllDataObjectsTimeStamp', all) + timeStamp('IndividualDataObjectsTimeStamp', one, ['ref-nd']));
    const changed = signed.replace(`>${NOTICE}<`, `>${NOTICE.replace('45', '46')}<`);
    expect(changed).not.toBe(signed);
    const c = (await validateXades(changed, { trustAnchors: [lab.root] })).signatures[0]!;
    expect(c).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
    expect(c.timestamps!.filter((t) => t.type === 'content').map((t) => t.valid)).toEqual([false, false]);
    expect(opensslVerifies(one, inputs(changed)[1]!, 'dots-changed')).not.toMatch(/Verification: OK/);
  });

  it('an Include naming what is not a data reference of the signature, or one reference twice, is not a proof', async () => {
    const token = await stamp(element());
    const x = sign('dots-sp', timeStamp('IndividualDataObjectsTimeStamp', token, ['nd-1']));
    const r = (await validateXades(x, { trustAnchors: [lab.root] })).signatures[0]!;
    expect(r.timestamps!.find((t) => t.type === 'content')).toMatchObject({ valid: false, problem: expect.stringMatching(/names 0 ds:Reference/) });
    // the same reference named twice (its data counted twice): refused, though the token was made over exactly that
    const doubled = await stamp(element() + element());
    const d = sign('dots-twice', timeStamp('IndividualDataObjectsTimeStamp', doubled, ['ref-nd', 'ref-nd']));
    const dr = (await validateXades(d, { trustAnchors: [lab.root] })).signatures[0]!;
    expect(dr.timestamps!.find((t) => t.type === 'content')).toMatchObject({ valid: false, problem: expect.stringMatching(/two xades:Include elements name the ds:Reference "#ref-nd"/) });
    expect(dr.checks).toMatchObject({ integrity: true, signatureValue: true });
    // a signing time claimed before the data was time-stamped: the claim is not believable, a warning
    const early = sign('dots-early', timeStamp('AllDataObjectsTimeStamp', await stamp(whole() + element())), new Date(Date.now() - 86_400_000));
    const er = (await validateXades(early, { trustAnchors: [lab.root] })).signatures[0]!;
    expect(er.timestamps!.find((t) => t.type === 'content')).toMatchObject({ valid: true });
    expect(er.warnings.join('\n')).toMatch(/the claimed signing time is before the AllDataObjectsTimeStamp/);
  });

  it('signing with dataTimeStamp: an AllDataObjectsTimeStamp over the data of the content references, enveloped, enveloping and detached; xmlsec1, openssl ts and our validator agree', async () => {
    const edxml = '<edXML xmlns="urn:vn:edxml"><Subject>Về việc   quyết toán thuế</Subject><!-- ghi chú --></edXML>';
    const judge = (name: string, xml: string | Buffer, extra: string[] = []) => {
      const v = spawnSync('xmlsec1', ['--verify', '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, '--id-attr:Id', `${XA}:SignedProperties`, '--id-attr:Id', `${DS}:Object`, ...extra, save(lab.dir, name, Buffer.from(xml))], { encoding: 'utf8', cwd: lab.dir });
      expect(v.status, v.stderr).toBe(0);
    };
    const tokenOf = (xml: string) => /<xades:AllDataObjectsTimeStamp[^>]*>.*?<xades:EncapsulatedTimeStamp>([^<]+)</.exec(xml)![1]!;
    // enveloped: the document without the signature, exclusive canonical form (comments dropped) — written by hand
    const enveloped = await signXades(edxml, signer, { level: 'B-T', context: ctx, dataTimeStamp: true });
    expect(enveloped).toMatch(/<xades:SignedDataObjectProperties><xades:AllDataObjectsTimeStamp Id="DTS-[0-9a-f]+"><ds:CanonicalizationMethod Algorithm="http:\/\/www.w3.org\/2001\/10\/xml-exc-c14n#"\/><xades:EncapsulatedTimeStamp>/);
    judge('dts-env.xml', enveloped);
    const computed = inputs(enveloped)[0]!;
    expect(computed.toString('utf8')).toBe('<edXML xmlns="urn:vn:edxml"><Subject>Về việc   quyết toán thuế</Subject></edXML>');
    expect(opensslVerifies(tokenOf(enveloped), computed, 'dts-env')).toMatch(/Verification: OK/);
    // enveloping and detached (two files: their bytes one after the other, in SignedInfo's order)
    const enveloping = await signXades(edxml, signer, { packaging: 'enveloping', dataTimeStamp: true, context: ctx });
    judge('dts-enc.xml', enveloping);
    expect(opensslVerifies(tokenOf(enveloping), inputs(enveloping)[0]!, 'dts-enc')).toMatch(/Verification: OK/);
    const files = [
      { name: 'quyet-dinh.pdf', content: Buffer.from('%PDF-1.7 quyết định') },
      { name: 'phu-luc.txt', content: Buffer.from('Phụ lục 1') },
    ];
    for (const f of files) save(lab.dir, f.name, f.content);
    const detached = (await signXadesDetached(files, signer, { dataTimeStamp: true, context: ctx })).toString('utf8');
    judge('dts-det.xml', detached);
    const doc = parseXml(detached);
    const sig = doc.getElementsByTagNameNS(DS, 'Signature')[0]!;
    const input = dataObjectTimeStampInput(doc, sig, readDataObjectTimeStamps(sig)[0]!, idIndex(doc), (uri) => files.find((f) => f.name === uri)?.content);
    expect(input).toEqual(Buffer.concat(files.map((f) => f.content)));
    expect(opensslVerifies(tokenOf(detached), input, 'dts-det')).toMatch(/Verification: OK/);
    for (const [xml, content] of [[enveloped, undefined], [enveloping, undefined], [detached, files]] as const) {
      const r = (await validateXades(xml, { trustAnchors: [lab.root], ...(content ? { content } : {}) })).signatures[0]!;
      expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED' });
      const t = r.timestamps!.find((x) => x.type === 'content')!;
      expect(t).toMatchObject({ valid: true, property: 'AllDataObjectsTimeStamp' });
      expect(r.signedData!.filter((d) => d.type !== 'http://uri.etsi.org/01903#SignedProperties').every((d) => d.poe === t.genTime)).toBe(true);
    }
    // without a time-stamper there is nothing to stamp the data with
    await expect(signXades(edxml, signer, { dataTimeStamp: true })).rejects.toThrow(/time-stamper/);
  });
});
