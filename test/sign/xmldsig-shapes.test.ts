/**
 * Shapes of XML-DSig the specification allows and the wrapping defence once refused (issue 21, "What went wrong
 * (XAdES)" 1 and 2): a reference through the base64 transform, a signed ds:Manifest, two URI="" references, a
 * ds:Object the signature does not sign. xmlsec1 signs each template and we must find the same integrity; a
 * change to the signed data is HASH_FAILURE for both. A manifest's references are the application's to check
 * (XML-DSig §5.1): xmlsec1 does not look at them, we report each and warn when one does not hold, the signature
 * itself intact. A signer on a Brainpool curve (RFC 5639; our CA does not issue them, openssl makes the pair) is
 * verified, not a format failure.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateXades } from '../../src/sign/index.js';
import { tmp } from '../helpers/openssl.js';
import { openLab, save, type Lab } from './fixtures.js';

const DSNS = 'http://www.w3.org/2000/09/xmldsig#';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const ENVELOPED = `<Transform Algorithm="${DSNS}enveloped-signature"/>`;
const EXC = '<Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>';
const C14N = '<Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>';
const BASE64 = `<Transform Algorithm="${DSNS}base64"/>`;
const DATA = '<DLHDon Id="data-1"><THDon>Hóa đơn giá trị gia tăng</THDon><SHDon>456</SHDon><TgTTTBSo>5500000</TgTTTBSo></DLHDon>';

interface Ref {
  uri: string;
  transforms: string[];
  type?: string;
}

/** A document with a signature for xmlsec1 to fill: its references, then ds:Objects as written. */
function document(refs: Ref[], objects = ''): string {
  const ref = (r: Ref) =>
    `<Reference URI="${r.uri}"${r.type ? ` Type="${r.type}"` : ''}>${r.transforms.length ? `<Transforms>${r.transforms.join('')}</Transforms>` : ''}<DigestMethod Algorithm="${SHA256}"/><DigestValue/></Reference>`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<HDon>${DATA}<DSCKS><NBan><Signature xmlns="${DSNS}" Id="sig-1"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>` +
    `<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>${refs.map(ref).join('')}</SignedInfo><SignatureValue/><KeyInfo><X509Data/></KeyInfo>${objects}</Signature></NBan></DSCKS></HDon>`
  );
}

describe('XML-DSig shapes the specification allows: base64, manifests, two URI="" references, unsigned objects', () => {
  let lab: Lab;
  let signer: Awaited<ReturnType<Lab['signer']>>;
  const ids = ['--id-attr:Id', 'DLHDon', '--id-attr:Id', `${DSNS}:Object`, '--id-attr:Id', `${DSNS}:Manifest`];
  const run = (args: string[]) => {
    const r = spawnSync('xmlsec1', args, { encoding: 'utf8' });
    return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
  };
  const sign = (xml: string, name: string): string => {
    const out = join(lab.dir, `${name}.xml`);
    const r = run(['--sign', ...ids, '--privkey-pem', `${signer.keyPath},${signer.certPath}`, '--output', out, save(lab.dir, `${name}.tmpl.xml`, Buffer.from(xml))]);
    expect(r.status, r.out).toBe(0);
    return readFileSync(out, 'utf8');
  };
  const xmlsecVerifies = (xml: string, name: string) => run(['--verify', ...ids, '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, save(lab.dir, `${name}.check.xml`, Buffer.from(xml))]).status === 0;
  const validate = async (xml: string) => (await validateXades(xml, { trustAnchors: [lab.root] })).signatures[0]!;

  beforeAll(async () => {
    lab = await openLab();
    signer = await lab.signer('/CN=Công ty Cổ phần Mẫu/O=Công ty Cổ phần Mẫu/C=VN', { keyArgs: ['-newkey', 'rsa:2048'] });
  });
  afterAll(async () => lab?.p.close());

  it('a reference through the base64 transform to a ds:Object holding a file: xmlsec1 and we agree, intact then HASH_FAILURE when the file changes', async () => {
    const file = Buffer.from('%PDF-1.4 biên bản nghiệm thu', 'utf8');
    const xml = sign(document([{ uri: '#file-1', transforms: [BASE64] }], `<Object Id="file-1">${file.toString('base64')}</Object>`), 'b64');
    expect(xmlsecVerifies(xml, 'b64')).toBe(true);
    const s = await validate(xml);
    expect(s.checks, JSON.stringify(s, null, 1)).toMatchObject({ integrity: true, signatureValue: true });
    expect(s.indication).not.toBe('TOTAL-FAILED');
    expect(s.signedData).toMatchObject([{ uri: '#file-1', digestMatches: true }]);
    const changed = xml.replace(file.toString('base64'), Buffer.from('%PDF-1.4 biên bản giả mạo', 'utf8').toString('base64'));
    expect(xmlsecVerifies(changed, 'b64-changed')).toBe(false);
    expect(await validate(changed)).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
  });

  it('a signed ds:Manifest naming the invoice data: intact; its reference reported; a changed invoice breaks the manifest reference (a warning), not the signature, as xmlsec1 sees it', async () => {
    // the manifest's digest over the Canonical XML of DLHDon — no namespace in scope: the element as written
    const digest = createHash('sha256').update(DATA, 'utf8').digest('base64');
    const manifest = `<Object><Manifest Id="man-1"><Reference URI="#data-1"><Transforms>${C14N}</Transforms><DigestMethod Algorithm="${SHA256}"/><DigestValue>${digest}</DigestValue></Reference></Manifest></Object>`;
    const xml = sign(document([{ uri: '#man-1', transforms: [], type: `${DSNS}Manifest` }], manifest), 'manifest');
    expect(xmlsecVerifies(xml, 'manifest')).toBe(true);
    const s = await validate(xml);
    expect(s.checks, JSON.stringify(s, null, 1)).toMatchObject({ integrity: true, signatureValue: true });
    expect(s.indication).not.toBe('TOTAL-FAILED');
    expect(s.signedData).toMatchObject([{ uri: '#man-1', digestMatches: true, manifest: [{ uri: '#data-1', digestMatches: true, covers: ['/HDon/DLHDon[@Id="data-1"]'] }] }]);
    expect(s.warnings.join('\n')).not.toMatch(/manifest/);
    const changed = xml.replace('<SHDon>456</SHDon>', '<SHDon>457</SHDon>');
    expect(xmlsecVerifies(changed, 'manifest-changed')).toBe(true);
    const c = await validate(changed);
    expect(c.checks).toMatchObject({ integrity: true, signatureValue: true });
    expect(c.signedData![0]!.manifest).toMatchObject([{ uri: '#data-1', digestMatches: false }]);
    expect(c.warnings.join('\n')).toMatch(/manifest reference #data-1: the digest of "#data-1" does not match/);
  });

  it('two URI="" references (enveloped-signature alone, and with exclusive C14N) and a ds:Object nobody signs: intact for xmlsec1 and us, no format failure', async () => {
    const xml = sign(
      document([{ uri: '', transforms: [ENVELOPED] }, { uri: '', transforms: [ENVELOPED, EXC] }], '<Object Id="note-1"><GhiChu>ghi chú không được ký</GhiChu></Object>'),
      'two-empty',
    );
    expect(xmlsecVerifies(xml, 'two-empty')).toBe(true);
    const s = await validate(xml);
    expect(s.checks, JSON.stringify(s, null, 1)).toMatchObject({ integrity: true, signatureValue: true });
    expect(s.subIndication).not.toBe('FORMAT_FAILURE');
    expect(s.signedData).toMatchObject([
      { uri: '', digestMatches: true, wholeDocument: true },
      { uri: '', digestMatches: true, wholeDocument: true },
    ]);
    // the unsigned object may say anything: changing it changes nothing signed
    const note = xml.replace('ghi chú không được ký', 'nội dung khác');
    expect(xmlsecVerifies(note, 'two-empty-note')).toBe(true);
    expect((await validate(note)).checks).toMatchObject({ integrity: true, signatureValue: true });
    const changed = xml.replace('<SHDon>456</SHDon>', '<SHDon>457</SHDon>');
    expect(xmlsecVerifies(changed, 'two-empty-changed')).toBe(false);
    expect(await validate(changed)).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
  });

  it('ECDSA on brainpoolP256r1 (certificate and chain made by openssl): integrity and value hold for xmlsec1 and us; a change is HASH_FAILURE, never FORMAT_FAILURE', async () => {
    const dir = tmp('truc-brainpool-');
    const o = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=Root Brainpool test/C=VN', '-days', '30', '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    o('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:brainpoolP256r1', '-nodes', '-keyout', 'bp.key', '-out', 'bp.csr', '-subj', '/CN=Người ký Brainpool/C=VN');
    writeFileSync(join(dir, 'ext'), 'basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature,nonRepudiation\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
    o('x509', '-req', '-in', 'bp.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'bp.pem', '-days', '10', '-extfile', 'ext');
    const tmpl = document([{ uri: '', transforms: [ENVELOPED] }]).replace('xmldsig-more#rsa-sha256', 'xmldsig-more#ecdsa-sha256');
    writeFileSync(join(dir, 'bp.tmpl.xml'), tmpl);
    const s = spawnSync('xmlsec1', ['--sign', '--privkey-pem', 'bp.key,bp.pem', '--output', 'bp.xml', 'bp.tmpl.xml'], { encoding: 'utf8', cwd: dir });
    expect(s.status, s.stderr).toBe(0);
    const xml = readFileSync(join(dir, 'bp.xml'), 'utf8');
    const verifies = (x: string) => spawnSync('xmlsec1', ['--verify', '--trusted-pem', 'ca.pem', save(dir, 'check.xml', Buffer.from(x))], { encoding: 'utf8', cwd: dir }).status === 0;
    const root = Buffer.from(readFileSync(join(dir, 'ca.pem'), 'utf8').replace(/-----[^-]+-----|\s+/g, ''), 'base64');
    const v = async (x: string) => (await validateXades(x, { trustAnchors: [root] })).signatures[0]!;
    expect(verifies(xml)).toBe(true);
    const r = await v(xml);
    expect(r.checks, JSON.stringify(r, null, 1)).toMatchObject({ integrity: true, signatureValue: true });
    expect(r.indication).not.toBe('TOTAL-FAILED');
    const changed = xml.replace('<SHDon>456</SHDon>', '<SHDon>457</SHDon>');
    expect(verifies(changed)).toBe(false);
    expect(await v(changed)).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
  });
});
