/**
 * Byte-order marks (issue 21): an XAdES file saved with a UTF-8 BOM, or as UTF-16 with its BOM, is the
 * same document — xmlsec1 verifies it and so must we (it was FORMAT_FAILURE "not well-formed XML"); its
 * integrity is computed and the verdict is the one the file without the mark gets. Without a mark, the encoding
 * the XML declaration names is the one read (ISO-8859-2, windows-1250: was a false HASH_FAILURE).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { signXades, validateFile } from '../../src/sign/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openLab, save, type Lab } from './fixtures.js';

const DOC = '<?xml version="1.0" encoding="UTF-8"?>\n<CongVan><SoKyHieu>12/BNV-VP</SoKyHieu><TrichYeu>Về việc thử nghiệm chữ ký số</TrichYeu></CongVan>';

describe('XAdES files with a byte-order mark', () => {
  let lab: Lab;
  let signed: string;
  beforeAll(async () => {
    lab = await openLab();
    signed = await signXades(DOC, await lab.signer('/C=VN/O=Bộ Nội vụ/CN=Văn thư BOM'));
  }, 60_000);
  afterAll(async () => lab?.p.close());

  const xmlsec = (bytes: Buffer, name: string) =>
    spawnSync('xmlsec1', ['--verify', '--id-attr:Id', 'http://uri.etsi.org/01903/v1.3.2#:SignedProperties', '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, save(lab.dir, name, bytes)], { encoding: 'utf8' });

  const cases: [string, (s: string) => Buffer][] = [
    ['UTF-8 with a BOM', (s) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(s, 'utf8')])],
    ['UTF-16LE with its BOM', (s) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(s.replace('encoding="UTF-8"', 'encoding="UTF-16"'), 'utf16le')])],
    ['UTF-16BE with its BOM', (s) => Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(s.replace('encoding="UTF-8"', 'encoding="UTF-16"'), 'utf16le').swap16()])],
  ];

  it.each(cases)('%s: xmlsec1 verifies it and we find it intact, as without the mark', async (what, encode) => {
    const bytes = encode(signed);
    const x = xmlsec(bytes, `bom-${what.replace(/\W+/g, '-')}.xml`);
    expect(x.status, x.stderr).toBe(0);
    const opts = { trustAnchors: [lab.root], revocation: { mode: 'soft-fail' as const } };
    const plain = (await validateFile(Buffer.from(signed), opts)).signatures[0]!;
    const marked = (await validateFile(bytes, opts)).signatures[0]!;
    expect(marked.checks).toMatchObject({ integrity: true, signatureValue: true });
    expect([marked.indication, marked.subIndication]).toEqual([plain.indication, plain.subIndication]);
  });

  it.each(['ISO-8859-2', 'windows-1250'])('declared encoding %s (e-Szigno writes ISO-8859-2): xmlsec1 and we verify it; a changed letter breaks both', async (encoding) => {
    // bytes E9 E1 F5 are é, á, ő in both encodings; read as UTF-8 they were U+FFFD and every digest broke
    const signer = await lab.signer('/C=HU/O=Teszt Kft./CN=Géczi Zoltán', { keyArgs: ['-newkey', 'rsa:2048'] });
    const tmpl =
      `<?xml version="1.0" encoding="${encoding}"?>\n<Irat><Szoveg>Gr\u00e9czi Zolt\u00e1n \u00f5</Szoveg>` +
      '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>' +
      '<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><Reference URI=""><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></Transforms>' +
      '<DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/></Reference></SignedInfo><SignatureValue/><KeyInfo><X509Data/></KeyInfo></Signature></Irat>';
    const out = join(lab.dir, `enc-${encoding}.xml`);
    const made = spawnSync('xmlsec1', ['--sign', '--privkey-pem', `${signer.keyPath},${signer.certPath}`, '--output', out, save(lab.dir, `enc-${encoding}.tmpl.xml`, Buffer.from(tmpl, 'latin1'))], { encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    const bytes = readFileSync(out);
    expect(bytes.includes(Buffer.from([0xf5]))).toBe(true);
    expect(xmlsec(bytes, `enc-${encoding}-check.xml`).status).toBe(0);
    const r = (await validateFile(bytes, { trustAnchors: [lab.root] })).signatures[0]!;
    expect(r.checks, JSON.stringify(r)).toMatchObject({ integrity: true, signatureValue: true });
    const changed = Buffer.from(bytes);
    changed[changed.indexOf(0xf5)] = 0xfb; // ő → ű
    expect(xmlsec(changed, `enc-${encoding}-changed.xml`).status).not.toBe(0);
    expect((await validateFile(changed, { trustAnchors: [lab.root] })).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
  });

  it('a mark before a broken document still says what is broken', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(signed.replace('12/BNV-VP', '13/BNV-VP'))]);
    const r = (await validateFile(bytes, { trustAnchors: [lab.root] })).signatures[0]!;
    expect([r.indication, r.subIndication]).toEqual(['TOTAL-FAILED', 'HASH_FAILURE']);
  });
});
