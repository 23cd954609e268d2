/**
 * Signing and augmenting keep a document's encoding (issue 21). XML in ISO-8859-1, ISO-8859-2 or UTF-16 (either
 * byte order, with its mark) is signed enveloped, raised to XAdES-X-L and B-LTA: the output is the document's own
 * bytes — the accented letters in their encoding, a `&#13;` kept as written — with the signature and its properties
 * written into it in that encoding (a name the encoding cannot write, as a character reference). It was written
 * back as UTF-8 under the old declaration, and every digest broke. xmlsec1 verifies each file, our validator finds
 * it TOTAL-PASSED. The documents are encoded by iconv and node's own Latin-1/UTF-16, not by the code under test.
 * A detached signature over an ISO-8859-2 file, and one xmlsec1 made in ISO-8859-2 over a document with
 * SignerRole in Hungarian, are raised to B-LTA through `augmentFile` (what `truc augment` runs), likewise.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { augmentFile, augmentXadesX, signXades, validateFile, type LevelContext } from '../../src/sign/index.js';
import { labServices, openLab, save, xadesTemplate, type Lab } from './fixtures.js';

const XA = 'http://uri.etsi.org/01903/v1.3.2#';

/** iconv, or node's own Latin-1 and UTF-16 (with the mark): the bytes of `text` in `encoding` */
function encode(text: string, encoding: string): Buffer {
  if (encoding === 'UTF-16LE') return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
  if (encoding === 'UTF-16BE') return Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]);
  return execFileSync('iconv', ['-f', 'UTF-8', '-t', encoding], { input: Buffer.from(text, 'utf8') });
}

const CASES: [string, string, string][] = [
  // encoding, what the declaration names, text in it
  ['ISO-8859-1', 'ISO-8859-1', 'Façade, Ærøskøbing, über'],
  ['ISO-8859-2', 'ISO-8859-2', 'Győr, Łódź, Škoda, Ödön'],
  ['UTF-16LE', 'UTF-16', 'Nguyễn Thị Ánh — Sở Tư pháp 𝔗'],
  ['UTF-16BE', 'UTF-16', 'Phạm Đức Hưng — Ủy ban nhân dân'],
];

describe('XAdES signing and augmenting keep the document encoding', () => {
  let lab: Lab;
  let responder: OcspResponder;
  let ctx: LevelContext;
  const validation = () => ({ trustAnchors: [lab.root], revocation: { mode: 'soft-fail' as const } });
  const xmlsec = (bytes: Buffer, name: string, cwd?: string) => {
    const r = spawnSync('xmlsec1', ['--verify', '--id-attr:Id', `${XA}:SignedProperties`, '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, save(cwd ?? lab.dir, name, bytes)], { encoding: 'utf8', ...(cwd ? { cwd } : {}) });
    return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
  };
  beforeAll(async () => {
    lab = await openLab();
    ({ responder, ctx } = await labServices(lab));
  }, 60_000);
  afterAll(async () => {
    await responder?.stop();
    await lab?.p.close();
  });

  it.each(CASES)('%s: enveloped B-B, then X-L and B-LTA — the document bytes kept, xmlsec1 verifies, TOTAL-PASSED', async (encoding, declared, words) => {
    const signer = await lab.signer('/C=VN/O=Sở Tư pháp/CN=Văn thư mã hoá');
    const doc = `<?xml version="1.0" encoding="${declared}"?>\n<HoSo xmlns="urn:vn:hoso"><Ten lang="x">${words}</Ten><GhiChu>dong 1&#13;\ndong 2</GhiChu></HoSo>\n`;
    const bytes = encode(doc, encoding);
    const body = bytes.subarray(0, bytes.lastIndexOf(encode('</HoSo>', encoding).subarray(encoding.startsWith('UTF-16') ? 2 : 0)));
    const name = encoding.toLowerCase();

    const bb = await signXades(bytes, signer);
    expect(Buffer.isBuffer(bb)).toBe(true);
    // the document up to its end tag, byte for byte (mark, declaration, letters, the character reference)
    expect(bb.subarray(0, body.length).equals(body), 'the document bytes are kept').toBe(true);
    const bbx = xmlsec(bb, `enc-${name}-bb.xml`);
    expect(bbx.status, bbx.out).toBe(0);
    const r = (await validateFile(bb, validation())).signatures[0]!;
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', checks: { integrity: true, signatureValue: true } });

    // XAdES-X-L: CompleteCertificateRefs name issuers "Trục …", which ISO-8859-x cannot write
    const x = await augmentXadesX(bb, ctx);
    expect(x.subarray(0, body.length).equals(body)).toBe(true);
    if (encoding.startsWith('ISO')) {
      expect(x.includes(Buffer.from('Tr&#x1ee5;c', 'latin1')), 'a character reference for ụ').toBe(true);
      expect(x.includes(Buffer.from('Trục', 'utf8'))).toBe(false);
    }
    const xx = xmlsec(x, `enc-${name}-x.xml`);
    expect(xx.status, xx.out).toBe(0);
    const xr = (await validateFile(x, validation())).signatures[0]!;
    expect(xr, JSON.stringify(xr, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LT' });
    expect(xr.timestamps!.every((t) => t.valid)).toBe(true);
    expect(xr.validationDataReferences!.filter((v) => v.kind === 'certificate').every((v) => v.matches === true)).toBe(true);

    // B-LTA through the file entry `truc augment` uses
    const lta = await augmentFile(bb, { level: 'B-LTA', context: ctx, validation: validation() });
    expect(lta.bytes.subarray(0, body.length).equals(body)).toBe(true);
    const ltax = xmlsec(lta.bytes, `enc-${name}-lta.xml`);
    expect(ltax.status, ltax.out).toBe(0);
    const lr = (await validateFile(lta.bytes, validation())).signatures[0]!;
    expect(lr, JSON.stringify(lr, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
    // the words read back in the declared encoding, and a changed letter breaks the signature for both
    expect(new TextDecoder(encoding.startsWith('UTF-16') ? encoding : declared).decode(lta.bytes)).toContain(words);
    const i = lta.bytes.indexOf(encode('dong 2', encoding).subarray(encoding.startsWith('UTF-16') ? 2 : 0));
    const changed = Buffer.from(lta.bytes);
    changed[i + (encoding === 'UTF-16BE' ? 1 : 0)] ^= 0x01; // d → e
    expect(xmlsec(changed, `enc-${name}-changed.xml`).status).not.toBe(0);
    expect((await validateFile(changed, validation())).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
  });

  it('detached over an ISO-8859-2 file, and a signature xmlsec1 made in ISO-8859-2: raised to B-LTA, both verify', async () => {
    const signer = await lab.signer('/C=HU/O=Teszt Kft./CN=Szűcs Ödön');
    const content = encode('<?xml version="1.0" encoding="ISO-8859-2"?>\n<Irat><Szöveg>Győr, Szőlő utca 3.</Szöveg></Irat>\n', 'ISO-8859-2');
    save(lab.dir, 'irat.xml', content);
    const det = await signXades(content, signer, { packaging: 'detached', contentUri: 'irat.xml' });
    const lta = await augmentFile(det, { level: 'B-LTA', content, context: ctx, validation: validation() });
    const dx = xmlsec(lta.bytes, 'irat-sig.xml', lab.dir);
    expect(dx.status, dx.out).toBe(0);
    const d = (await validateFile(lta.bytes, { ...validation(), content })).signatures[0]!;
    expect(d, JSON.stringify(d, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
    expect(readFileSync(join(lab.dir, 'irat.xml')).equals(content)).toBe(true);

    // someone else's signature: xmlsec1 signs an ISO-8859-2 template whose signed properties carry a claimed role
    const certDer = Buffer.from(new X509Certificate(readFileSync(signer.certPath)).raw);
    const tmpl = xadesTemplate(createHash('sha256').update(certDer).digest('base64'), 'Értesítés a szőlőről')
      .replace('encoding="UTF-8"', 'encoding="ISO-8859-2"')
      .replace('</xades:SigningCertificateV2>', '</xades:SigningCertificateV2><xades:SignerRole><xades:ClaimedRoles><xades:ClaimedRole>Főigazgató</xades:ClaimedRole></xades:ClaimedRoles></xades:SignerRole>');
    const out = join(lab.dir, 'hu-signed.xml');
    const s = spawnSync('xmlsec1', ['--sign', '--id-attr:Id', `${XA}:SignedProperties`, '--privkey-pem', [signer.keyPath, signer.certPath, lab.issuingPath].join(','), '--output', out, save(lab.dir, 'hu.tmpl.xml', encode(tmpl, 'ISO-8859-2'))], { encoding: 'utf8' });
    expect(s.status, s.stderr).toBe(0);
    const signed = readFileSync(out);
    expect(signed.includes(encode('Főigazgató', 'ISO-8859-2'))).toBe(true);
    const up = await augmentFile(signed, { level: 'B-LTA', context: ctx, validation: validation() });
    expect(up.bytes.includes(encode('Főigazgató', 'ISO-8859-2'))).toBe(true);
    const ux = xmlsec(up.bytes, 'hu-lta.xml');
    expect(ux.status, ux.out).toBe(0);
    const u = (await validateFile(up.bytes, validation())).signatures[0]!;
    expect(u, JSON.stringify(u, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
  });
});
