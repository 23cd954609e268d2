/**
 * Detached XAdES over several files: xmlsec1 signs a template whose references name three files by URI (one under a
 * folder, one with a percent-escape) — it resolves and digests them itself from its working folder — and our
 * validator is given the files: each reference takes the one its URI names (by name, then by last path segment),
 * or, renamed, the one whose digest it has; the report says which file each reference matched and how. A file
 * missing leaves the signature INDETERMINATE / SIGNED_DATA_NOT_FOUND naming the reference, a named file altered is
 * TOTAL-FAILED / HASH_FAILURE, a file no reference takes is a warning.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signXadesDetached, validateXades, type DetachedDocument } from '../../src/sign/index.js';
import { validateFile } from '../../src/sign/validate/file.js';
import { reportText } from '../../src/sign/validate/text.js';
import { labServices, openLab, save, type Lab } from './fixtures.js';

const DS = 'http://www.w3.org/2000/09/xmldsig#';
const XA = 'http://uri.etsi.org/01903/v1.3.2#';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const FILES: Record<string, Buffer> = {
  'bao-cao.pdf': Buffer.from('%PDF-1.7\n% báo cáo quý IV\n'),
  'phu luc.txt': Buffer.from('Phụ lục 1: danh sách đơn vị\n'),
  'tai-lieu/bang-ke.csv': Buffer.from('stt,don_vi,so_tien\n1,UBND xã A,1200000\n'),
};
const URIS = ['bao-cao.pdf', 'phu%20luc.txt', 'tai-lieu/bang-ke.csv'];

function template(certDigest: string): string {
  const ref = (uri: string) => `<ds:Reference URI="${uri}"><ds:DigestMethod Algorithm="${SHA256}"/><ds:DigestValue/></ds:Reference>`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ds:Signature xmlns:ds="${DS}" Id="sig-m"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>` +
    `<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>${URIS.map(ref).join('')}` +
    `<ds:Reference URI="#sp-m" Type="http://uri.etsi.org/01903#SignedProperties"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="${SHA256}"/><ds:DigestValue/></ds:Reference>` +
    `</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo>` +
    `<ds:Object><xades:QualifyingProperties xmlns:xades="${XA}" Target="#sig-m"><xades:SignedProperties Id="sp-m"><xades:SignedSignatureProperties>` +
    `<xades:SigningTime>${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}</xades:SigningTime>` +
    `<xades:SigningCertificateV2><xades:Cert><xades:CertDigest><ds:DigestMethod Algorithm="${SHA256}"/><ds:DigestValue>${certDigest}</ds:DigestValue></xades:CertDigest></xades:Cert></xades:SigningCertificateV2>` +
    `</xades:SignedSignatureProperties></xades:SignedProperties></xades:QualifyingProperties></ds:Object></ds:Signature>`
  );
}

describe('detached XAdES over several files', () => {
  let lab: Lab;
  let xml: Buffer;
  let dir: string;
  beforeAll(async () => {
    lab = await openLab();
    const signer = await lab.signer('/CN=Vương Thị Thu/O=Sở Tài chính/C=VN');
    dir = join(lab.dir, 'goi-ho-so');
    mkdirSync(join(dir, 'tai-lieu'), { recursive: true });
    for (const [name, bytes] of Object.entries(FILES)) writeFileSync(join(dir, name), bytes);
    const certDer = Buffer.from(new X509Certificate(readFileSync(signer.certPath)).raw);
    const tmpl = save(dir, 'ky.tmpl.xml', Buffer.from(template(createHash('sha256').update(certDer).digest('base64'))));
    const out = join(dir, 'ky.xml');
    // xmlsec1 reads the files the URIs name, relative to its working folder
    const r = spawnSync('xmlsec1', ['--sign', '--id-attr:Id', `${XA}:SignedProperties`, '--privkey-pem', [signer.keyPath, signer.certPath, lab.issuingPath].join(','), '--output', out, tmpl], { encoding: 'utf8', cwd: dir });
    expect(r.status, r.stderr).toBe(0);
    xml = readFileSync(out);
    const v = spawnSync('xmlsec1', ['--verify', '--id-attr:Id', `${XA}:SignedProperties`, '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, out], { encoding: 'utf8', cwd: dir });
    expect(v.status, v.stderr).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await lab?.p.close();
  });

  const docs = (rename: (n: string) => string = (n) => n): DetachedDocument[] => Object.entries(FILES).map(([name, content]) => ({ name: rename(name), content }));
  const matched = (s: { signedData?: { uri: string | null; file?: string; matchedBy?: string; digestMatches: boolean | null }[] }) =>
    s.signedData!.filter((r) => r.uri && !r.uri.startsWith('#')).map((r) => [r.uri, r.file, r.matchedBy, r.digestMatches]);

  it('each reference takes the file its URI names (escapes decoded, by last path segment too): TOTAL-PASSED, the match reported', async () => {
    // the csv given by its bare name, as `truc verify --content tai-lieu/bang-ke.csv` would
    const s = (await validateXades(xml, { trustAnchors: [lab.root], content: docs((n) => n.replace('tai-lieu/', '')) })).signatures[0]!;
    expect(s, JSON.stringify(s, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', checks: { integrity: true, signatureValue: true } });
    expect(matched(s)).toEqual([
      ['bao-cao.pdf', 'bao-cao.pdf', 'uri', true],
      ['phu%20luc.txt', 'phu luc.txt', 'uri', true],
      ['tai-lieu/bang-ke.csv', 'bang-ke.csv', 'uri', true],
    ]);
    expect(reportText({ validationTime: '', document: { kind: 'xml', bytes: 0, sha256: '' }, signatures: [s] }, 'vi')).toMatch(/tệp bên ngoài tài liệu phu luc.txt \(theo tên trong tham chiếu\) — giá trị băm khớp/);
  });

  it('renamed files are found by their digests; one unnamed content too', async () => {
    const s = (await validateXades(xml, { trustAnchors: [lab.root], content: docs((n) => `tep-${createHash('sha1').update(n).digest('hex').slice(0, 6)}.bin`) })).signatures[0]!;
    expect(s.indication).toBe('TOTAL-PASSED');
    expect(matched(s).map(([, , by, ok]) => [by, ok])).toEqual([
      ['digest', true],
      ['digest', true],
      ['digest', true],
    ]);
    // one content given without a name for a signature over three files: the reference whose digest it has takes it
    const one = (await validateXades(xml, { trustAnchors: [lab.root], content: FILES['phu luc.txt'] })).signatures[0]!;
    expect(one).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'SIGNED_DATA_NOT_FOUND' });
    expect(matched(one).map(([uri, file, by]) => [uri, file ?? null, by ?? null])).toEqual([
      ['bao-cao.pdf', null, null],
      ['phu%20luc.txt', '(content)', 'digest'],
      ['tai-lieu/bang-ke.csv', null, null],
    ]);
  });

  it('truc verify --content FILE repeated: each file by its name; exit 0, the matches in the JSON report', () => {
    const env = { ...process.env, TRUC_DATA_DIR: join(lab.dir, 'cli-data'), TRUC_LOG_LEVEL: 'warn' };
    const run = (...args: string[]) => spawnSync(process.execPath, ['bin/truc.js', 'verify', join(dir, 'ky.xml'), '--anchor', lab.rootPath, ...args], { env, encoding: 'utf8', timeout: 120_000 });
    const ok = run(...Object.keys(FILES).flatMap((n) => ['--content', join(dir, n)]), '--report', 'json');
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(matched(JSON.parse(ok.stdout).signatures[0])).toEqual([
      ['bao-cao.pdf', 'bao-cao.pdf', 'uri', true],
      ['phu%20luc.txt', 'phu luc.txt', 'uri', true],
      ['tai-lieu/bang-ke.csv', 'bang-ke.csv', 'uri', true],
    ]);
    const short = run('--content', join(dir, 'bao-cao.pdf'));
    expect(short.status).toBe(2);
    expect(short.stdout).toMatch(/SIGNED_DATA_NOT_FOUND/);
  }, 120_000);

  it('a file missing is SIGNED_DATA_NOT_FOUND naming it; a named file altered is HASH_FAILURE; a file no reference takes is a warning', async () => {
    const missing = (await validateXades(xml, { trustAnchors: [lab.root], content: docs().filter((d) => d.name !== 'bao-cao.pdf') })).signatures[0]!;
    expect(missing).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'SIGNED_DATA_NOT_FOUND', checks: { signatureValue: true } });
    expect(missing.message).toMatch(/"bao-cao.pdf" is not available/);
    const altered = docs().map((d) => (d.name === 'phu luc.txt' ? { ...d, content: Buffer.from('Phụ lục 1: danh sách đã sửa\n') } : d));
    const bad = (await validateXades(xml, { trustAnchors: [lab.root], content: altered })).signatures[0]!;
    expect(bad).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
    expect(bad.message).toMatch(/phu%20luc.txt/);
    const extra = (await validateFile(xml, { trustAnchors: [lab.root], content: [...docs(), { name: 'thua.txt', content: Buffer.from('không được ký') }] })).signatures[0]!;
    expect(extra.indication).toBe('TOTAL-PASSED');
    expect(extra.warnings.join('\n')).toMatch(/tệp nội dung không khớp tham chiếu nào của chữ ký \/ content given that no reference of the signature names or digests: thua.txt/);
  });

  it('our signer over the three files (signXadesDetached) at B-LTA: xmlsec1 resolves each URI beside them, we find each file; two files of one name refused', async () => {
    const { responder, ctx } = await labServices(lab);
    try {
      const signer = await lab.signer('/CN=Đinh Văn Lực/O=Sở Tài chính/C=VN');
      // each named as it lies under the folder xmlsec1 runs in
      const lta = await signXadesDetached(docs(), signer, { level: 'B-LTA', context: ctx });
      expect(lta.toString()).toContain('URI="phu%20luc.txt"');
      const v = spawnSync('xmlsec1', ['--verify', '--id-attr:Id', `${XA}:SignedProperties`, '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, save(dir, 'ours.xml', lta)], { encoding: 'utf8', cwd: dir });
      expect(v.status, v.stderr).toBe(0);
      expect(v.stderr + v.stdout).toMatch(/SignedInfo References \(ok\/all\): 4\/4/);
      const s = (await validateXades(lta, { trustAnchors: [lab.root], revocation: { mode: 'hard-fail' }, content: docs() })).signatures[0]!;
      expect(s, JSON.stringify(s, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
      expect(matched(s).map(([, file, by, ok]) => [file, by, ok])).toEqual(Object.keys(FILES).map((n) => [n, 'uri', true]));
      await expect(signXadesDetached([...docs(), { name: 'bao-cao.pdf', content: Buffer.from('khác') }], signer)).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/two files are named "bao-cao.pdf"/) });
    } finally {
      await responder.stop();
    }
  });
});
