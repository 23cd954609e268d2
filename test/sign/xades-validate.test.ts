import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { signXades, validateXades, validateFile } from '../../src/sign/index.js';
import { createPrivateKey, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { XMLSerializer } from '@xmldom/xmldom';
import { xades } from '../../src/sign/xades/engine.js';
import { parseXml } from '../../src/sign/xades/parse.js';
import { openLab, type Lab } from './fixtures.js';

const EDXML = '<edXML xmlns="urn:vn:edxml"><Header><Code>123/UBND-VP</Code></Header><Subject>Về việc triển khai chữ ký số</Subject></edXML>';

describe('XAdES validation', () => {
  let lab: Lab;
  let anchors: Buffer[];
  beforeAll(async () => {
    lab = await openLab();
    anchors = [lab.root];
  });
  afterAll(async () => lab?.p.close());

  it('passes an enveloped XAdES B-B signed with ECDSA and with RSA (our XML-DSig core, SigningCertificateV2 bound and signed)', async () => {
    for (const keyArgs of [undefined, ['-newkey', 'rsa:2048']]) {
      const signer = await lab.signer('/CN=Nguyễn Văn An/O=Bộ Tư pháp/C=VN', { keyArgs });
      const xml = await signXades(EDXML, signer, { signingTime: new Date() });
      const r = await validateFile(Buffer.from(xml), { trustAnchors: anchors });
      expect(r.document.kind).toBe('xml');
      expect(r.signatures).toHaveLength(1);
      const s = r.signatures[0];
      expect(s, JSON.stringify(s)).toMatchObject({ format: 'XAdES', level: 'B-B', indication: 'TOTAL-PASSED' });
      expect(s.checks).toMatchObject({ integrity: true, signatureValue: true, signingCertificateReference: 'ok', certificateChain: true });
      expect(s.signer?.commonName).toBe('Nguyễn Văn An');
      expect(s.certificatePath.length).toBeGreaterThanOrEqual(2);
    }
  });

  it('fails a tampered document (HASH_FAILURE) and is indeterminate without the right trust anchor', async () => {
    const signer = await lab.signer('/CN=Trần Thị Bình/O=Bộ Tư pháp/C=VN');
    const xml = await signXades(EDXML, signer);
    const tampered = await validateXades(xml.replace('123/UBND-VP', '124/UBND-VP'), { trustAnchors: anchors });
    expect(tampered.signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
    const other = await lab.signer('/CN=Khác/O=Bộ Tư pháp/C=VN');
    const unanchored = await validateXades(xml, { trustAnchors: [other.certificate] });
    expect(unanchored.signatures[0]).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'NO_CERTIFICATE_CHAIN_FOUND' });
  });

  it('detects a swapped KeyInfo certificate: SigningCertificateV2 mismatch', async () => {
    const a = await lab.signer('/CN=Người ký A/O=Bộ Tư pháp/C=VN');
    const b = await lab.signer('/CN=Người ký B/O=Bộ Tư pháp/C=VN');
    const xml = await signXades(EDXML, a);
    const swapped = xml.replace(Buffer.from(a.certificate).toString('base64'), Buffer.from(b.certificate).toString('base64'));
    const r = await validateXades(swapped, { trustAnchors: anchors });
    expect(r.signatures[0].indication).not.toBe('TOTAL-PASSED');
  });

  it('defends against signature wrapping: signed root moved under attacker content, fragment references, duplicate Ids', async () => {
    const signer = await lab.signer('/CN=Lê Văn Cường/O=UBND tỉnh/C=VN');
    const xml = await signXades(EDXML, signer);
    const signedRoot = xml.replace(/^<\?xml[^>]*>/, '');
    // 1. the classic wrap: attacker content at the root, the signed original kept below it
    const wrapped = `<edXML xmlns="urn:vn:edxml"><Header><Code>999/GIA-MAO</Code></Header><Subject>Chuyển tiền</Subject><Object>${signedRoot}</Object></edXML>`;
    const w = await validateXades(wrapped, { trustAnchors: anchors });
    expect(w.signatures).toHaveLength(1);
    expect(w.signatures[0].indication).toBe('TOTAL-FAILED');
    // 2. a second signature over a fragment (URI="#…" outside itself) is read, not refused: here its digest was
    //    copied from the whole-document reference, so it does not hold, and the report names what it covers
    const fragmentSig = xml
      .match(/<ds:Signature[\s\S]*<\/ds:Signature>/)![0]
      .replace('URI=""', 'URI="#hdr"')
      .replace(/Id="([^"]+)"/g, 'Id="$1-2"')
      .replace(/URI="#(xades-[^"]+)"/, 'URI="#$1-2"');
    const twoSigs = xml.replace('<Header>', '<Header Id="hdr">').replace('</edXML>', `${fragmentSig}</edXML>`);
    const t = await validateXades(twoSigs, { trustAnchors: anchors });
    expect(t.signatures).toHaveLength(2);
    expect(t.signatures[1]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
    expect(t.signatures[1].signedData?.[0]).toMatchObject({ uri: '#hdr', digestMatches: false, covers: ['/edXML/Header[@Id="hdr"]'] });
    // 3. duplicate Id for the SignedProperties target
    const dupProps = xml.match(/<xades:SignedProperties[\s\S]*?<\/xades:SignedProperties>/)![0];
    const dup = xml.replace('</edXML>', `<Extra>${dupProps}</Extra></edXML>`);
    const d = await validateXades(dup, { trustAnchors: anchors });
    expect(d.signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE' });
  });

  it('RSA-PSS: refused for signing (xmlsec1 1.2 cannot check it); a PSS signature made elsewhere (xadesjs, RSAPSSParams) is read: integrity and signature value hold', async () => {
    const pss = await lab.signer('/CN=Vương Thị Hà/O=Bộ Tư pháp/C=VN', { keyArgs: ['-newkey', 'rsa:2048'], scheme: 'rsa-pss-sha256' });
    await expect(signXades(EDXML, pss)).rejects.toMatchObject({ code: 'unsupported', message: expect.stringMatching(/RSA-PSS/) });
    // xadesjs signing with a real RSA-PSS key (…#rsa-pss with RSAPSSParams)
    const x = xades();
    const key = await webcrypto.subtle.importKey('pkcs8', createPrivateKey(readFileSync(pss.keyPath)).export({ type: 'pkcs8', format: 'der' }), { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['sign']);
    const doc = parseXml(EDXML);
    const signed = new x.SignedXml();
    signed.XmlSignature.SignedInfo.CanonicalizationMethod.Algorithm = 'http://www.w3.org/2001/10/xml-exc-c14n#';
    const b64 = Buffer.from(pss.certificate).toString('base64');
    await signed.Sign({ name: 'RSA-PSS', saltLength: 32 } as never, key, doc as never, { references: [{ uri: '', hash: 'SHA-256', transforms: ['enveloped', 'exc-c14n'] }], x509: [b64], signingCertificateV2: b64 } as never);
    doc.documentElement.appendChild(signed.GetXml() as never);
    const xml = new XMLSerializer().serializeToString(doc as never);
    expect(xml).toContain('xmldsig-more#rsa-pss');
    const r = (await validateXades(xml, { trustAnchors: anchors })).signatures[0];
    expect(r.checks, JSON.stringify(r)).toMatchObject({ integrity: true, signatureValue: true });
    expect(r.subIndication).not.toMatch(/CRYPTO/);
  });

  it('reports malformed XML and XML without signature as reports, not exceptions', async () => {
    const bad = await validateXades('<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', { trustAnchors: anchors });
    expect(bad.signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE' });
    const none = await validateXades(EDXML, { trustAnchors: anchors });
    expect(none.signatures).toHaveLength(0);
  });
});
