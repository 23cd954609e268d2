import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { augmentXades, renewXadesArchive, signXades, validateXades, type LevelContext } from '../../src/sign/index.js';
import { opensslStatus } from '../helpers/openssl.js';
import { labServices, openLab, save, type Lab } from './fixtures.js';

const EDXML = '<edXML xmlns="urn:vn:edxml"><Header><Code>45/UBND-VP</Code></Header><Subject>Về việc lưu trữ hồ sơ điện tử</Subject></edXML>';

describe('XAdES B-T, B-LT and B-LTA', () => {
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
    ({ responder, ctx, tsaChain } = await labServices(lab));
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
  });

  /** The imprint input of archive time-stamp `n`, rebuilt from the XML text with the hand canonicaliser below. */
  function handArchiveInput(xml: string, n: number): Buffer {
    const sig = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(xml)![0];
    const one = (re: RegExp) => re.exec(sig)![0];
    const usp = /<xades:UnsignedSignatureProperties>([\s\S]*)<\/xades:UnsignedSignatureProperties>/.exec(sig)![1];
    const props = topLevel(usp);
    const ats = props.map((p, i) => [p, i] as const).filter(([p]) => p.startsWith('<xadesv141:ArchiveTimeStamp'))[n][1];
    return Buffer.concat([
      handC14n(xml.replace(/^<\?xml[^>]*\?>\s*/, '').replace(sig, '')), // reference 1: enveloped-signature, exclusive C14N
      handC14n(one(/<xades:SignedProperties[\s\S]*<\/xades:SignedProperties>/)), // reference 2: a node-set, canonicalised
      handC14n(one(/<ds:SignedInfo>[\s\S]*<\/ds:SignedInfo>/)),
      handC14n(one(/<ds:SignatureValue[^>]*>[^<]*<\/ds:SignatureValue>/)),
      handC14n(one(/<ds:KeyInfo>[\s\S]*<\/ds:KeyInfo>/)),
      ...props.slice(0, ats).map(handC14n),
    ]);
  }

  it('B-LTA: xadesv141:ArchiveTimeStamp over the signature and the properties before it; the imprint rebuilt by hand; xmlsec1 still verifies; validated offline and years later; tampering with covered data is caught', async () => {
    const signer = await lab.signer('/CN=Ngô Thị Mai/O=Lưu trữ nhà nước/C=VN');
    const lta = await signXades(EDXML, signer, { level: 'B-LTA', context: ctx });
    expect(lta).toMatch(/<xadesv141:ArchiveTimeStamp Id="ATS-[0-9a-f]+" xmlns:xadesv141="http:\/\/uri.etsi.org\/01903\/v1.4.1#"><ds:CanonicalizationMethod Algorithm="http:\/\/www.w3.org\/2001\/10\/xml-exc-c14n#"\/><xades:EncapsulatedTimeStamp>/);
    expect(lta.indexOf('xadesv141:ArchiveTimeStamp')).toBeGreaterThan(lta.indexOf('xades:RevocationValues'));
    const v = xmlsec(save(lab.dir, 'lta.xml', Buffer.from(lta)));
    expect(v.status, v.out).toBe(0);
    // the token stamps the input rebuilt independently of our code path; openssl ts agrees
    const token = Buffer.from(/<xadesv141:ArchiveTimeStamp[^>]*>.*?<xades:EncapsulatedTimeStamp>([^<]+)</.exec(lta)![1], 'base64');
    const imprint = createHash('sha256').update(handArchiveInput(lta, 0)).digest('hex');
    const ts = opensslStatus(['ts', '-verify', '-in', save(lab.dir, 'ats.tst', token), '-token_in', '-digest', imprint, '-CAfile', lab.rootPath, '-untrusted', tsaChain]);
    expect(ts.out).toMatch(/Verification: OK/);
    // the hand-made reference 1 is what the signer digested
    const digestValue = /<ds:Reference URI="">[\s\S]*?<ds:DigestValue>([^<]+)</.exec(lta)![1];
    expect(createHash('sha256').update(handC14n(EDXML)).digest('base64')).toBe(digestValue);

    const offline = { trustAnchors: [lab.root], revocation: { mode: 'hard-fail' as const } };
    const r = (await validateXades(lta, offline)).signatures[0];
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
    expect(r.timestamps!.map((t) => [t.type, t.valid])).toEqual([['signature', true], ['archive', true]]);
    expect(r.warnings).toEqual([]);
    // after the signer's certificate expired (3 years) and before the TSA's (5 years)
    const later = (await validateXades(lta, { trustAnchors: [lab.root], at: new Date(Date.now() + 4 * 365 * 86_400_000) })).signatures[0];
    expect(later.indication, JSON.stringify(later, null, 1)).toBe('TOTAL-PASSED');

    // covered validation data replaced: the archive time-stamp no longer matches, the rest still does
    const cv = /<xades:CertificateValues><xades:EncapsulatedX509Certificate>[^<]+</.exec(lta)![0];
    const swapped = lta.replace(cv, `<xades:CertificateValues><xades:EncapsulatedX509Certificate>${lab.root.toString('base64')}<`);
    expect(swapped).not.toBe(lta);
    const bad = (await validateXades(swapped, offline)).signatures[0];
    expect(bad.timestamps!.find((t) => t.type === 'archive')).toMatchObject({ valid: false, problem: expect.stringMatching(/imprint/) });
    expect(bad.warnings.join('\n')).toMatch(/an archive time-stamp is not valid/);
    expect(bad.timestamps!.find((t) => t.type === 'signature')!.valid).toBe(true);
    // hostile: too many archive time-stamps (each would canonicalise the whole document again)
    const ats = /<xadesv141:ArchiveTimeStamp [\s\S]*?<\/xadesv141:ArchiveTimeStamp>/.exec(lta)![0];
    const many = (await validateXades(lta.replace(ats, ats.repeat(33)), offline)).signatures[0];
    expect(many).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE', message: 'more than 32 archive time-stamps' });
    // the signed document changed: the core signature fails first
    expect((await validateXades(lta.replace('45/UBND-VP', '46/UBND-VP'), offline)).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
  });

  it('B-LT → B-LTA by augmentation, then renewal: TimeStampValidationData and a second ArchiveTimeStamp covering the first; both validate; the earlier file still does', async () => {
    const signer = await lab.signer('/CN=Lý Văn Phúc/O=Lưu trữ nhà nước/C=VN', { keyArgs: ['-newkey', 'rsa:2048'] });
    const lt = await signXades(EDXML, signer, { level: 'B-LT', context: ctx });
    const lta = await augmentXades(lt, 'B-LTA', ctx);
    expect(await augmentXades(lta, 'B-LTA', ctx)).toBe(lta);
    expect(lta.startsWith(lt.slice(0, lt.indexOf('</xades:UnsignedSignatureProperties>')))).toBe(true);
    await expect(renewXadesArchive(lt, ctx)).rejects.toMatchObject({ code: 'bad_request' });
    const renewed = await renewXadesArchive(lta, ctx);
    expect(renewed.match(/<xadesv141:ArchiveTimeStamp /g)).toHaveLength(2);
    expect(renewed).toMatch(/<\/xadesv141:ArchiveTimeStamp><xadesv141:TimeStampValidationData Id="TSVD-[0-9a-f]+" xmlns:xadesv141="[^"]+"><xades:CertificateValues>[\s\S]*<xades:RevocationValues>[\s\S]*<\/xadesv141:TimeStampValidationData><xadesv141:ArchiveTimeStamp /);
    for (const [name, xml] of [['lta-aug.xml', lta], ['renewed.xml', renewed]]) {
      const v = xmlsec(save(lab.dir, name, Buffer.from(xml)));
      expect(v.status, v.out).toBe(0);
    }
    // the second token stamps everything before it, the first archive time-stamp and the validation data for it included
    const tokens = [...renewed.matchAll(/<xadesv141:ArchiveTimeStamp[^>]*>.*?<xades:EncapsulatedTimeStamp>([^<]+)</g)].map((m) => Buffer.from(m[1], 'base64'));
    for (const n of [0, 1]) {
      const imprint = createHash('sha256').update(handArchiveInput(renewed, n)).digest('hex');
      const ts = opensslStatus(['ts', '-verify', '-in', save(lab.dir, `ats-${n}.tst`, tokens[n]), '-token_in', '-digest', imprint, '-CAfile', lab.rootPath, '-untrusted', tsaChain]);
      expect(ts.out, `archive time-stamp ${n}`).toMatch(/Verification: OK/);
    }
    const offline = { trustAnchors: [lab.root], revocation: { mode: 'hard-fail' as const } };
    for (const xml of [lta, renewed]) {
      const r = (await validateXades(xml, offline)).signatures[0];
      expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
      expect(r.timestamps!.filter((t) => t.type === 'archive').map((t) => t.valid)).toEqual(xml === lta ? [true] : [true, true]);
      expect(r.warnings).toEqual([]);
    }
    // the renewed file carries fresh revocation data for the first archive time-stamp's TSA
    expect((await validateXades(renewed, offline)).signatures[0].embeddedEvidence!.ocspResponses).toBeGreaterThan((await validateXades(lta, offline)).signatures[0].embeddedEvidence!.ocspResponses);
    // the first archive time-stamp removed from the renewed file: the second no longer matches
    const cut = renewed.replace(/<xadesv141:ArchiveTimeStamp [\s\S]*?<\/xadesv141:ArchiveTimeStamp>/, '');
    const c = (await validateXades(cut, offline)).signatures[0];
    expect(c.timestamps!.filter((t) => t.type === 'archive')).toMatchObject([{ valid: false }]);
  });
});

/** Top-level elements of an XML fragment, as text (our serialiser writes no whitespace between them). */
function topLevel(fragment: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (const m of fragment.matchAll(/<(\/?)[^>]*?(\/?)>/g)) {
    if (depth === 0 && !m[1]) start = m.index!;
    if (m[1]) depth--;
    else if (!m[2]) depth++;
    if (depth === 0) out.push(fragment.slice(start, m.index! + m[0].length));
  }
  return out;
}

const NS: Record<string, string> = {
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  xades: 'http://uri.etsi.org/01903/v1.3.2#',
  xadesv141: 'http://uri.etsi.org/01903/v1.4.1#',
  '': 'urn:vn:edxml',
};

/**
 * Exclusive C14N (without comments) of a fragment of our own serialised XAdES, written independently of
 * our canonicaliser for the test: namespace declarations only where an element's prefix is not yet rendered by an
 * output ancestor, attributes sorted, empty elements written as start and end tags. Enough for XML
 * without comments, processing instructions, prefixed attributes or characters needing escapes.
 */
function handC14n(fragment: string): Buffer {
  let out = '';
  const rendered: Record<string, string>[] = [{ '': '' }];
  for (const m of fragment.matchAll(/<(\/?)([\w:.-]+)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>|([^<]+)/g)) {
    if (m[5] !== undefined) {
      out += m[5];
      continue;
    }
    const [, close, name, attrText, empty] = m;
    if (close) {
      out += `</${name}>`;
      rendered.pop();
      continue;
    }
    const attrs = [...attrText.matchAll(/([\w:.-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]] as const).filter(([k]) => k !== 'xmlns' && !k.startsWith('xmlns:'));
    const prefix = name.includes(':') ? name.split(':')[0] : '';
    const scope = { ...rendered[rendered.length - 1] };
    let decl = '';
    if (scope[prefix] !== NS[prefix]) {
      decl = prefix ? ` xmlns:${prefix}="${NS[prefix]}"` : ` xmlns="${NS[prefix]}"`;
      scope[prefix] = NS[prefix];
    }
    out += `<${name}${decl}${attrs.sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => ` ${k}="${v}"`).join('')}>`;
    if (empty) out += `</${name}>`;
    else rendered.push(scope);
  }
  return Buffer.from(out, 'utf8');
}
