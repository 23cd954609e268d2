/**
 * XML in windows-1258, the Vietnamese legacy code page (issue 21). It writes most toned letters as a base letter and
 * a combining tone mark ("ệ" = 0xEA 0xF2). Canonical XML 1.0 §2.1 asks for Normalization Form C when a document is
 * converted from an encoding that is not UCS-based, and glibc's iconv (libxml2, so xmlsec1) composes the two as it
 * decodes; WHATWG's decoder keeps them apart. We read in NFC, so:
 * - a document iconv wrote in windows-1258 is signed enveloped, raised to X-L and B-LTA in place: its bytes kept, the
 *   new properties in windows-1258 (a "Trục" issuer as u and a combining dot below, no character reference), and
 *   xmlsec1 verifies each step as we do;
 * - a signature xmlsec1 made over a windows-1258 document is TOTAL-PASSED for us (it was a false HASH_FAILURE);
 * - a signer that digested the letters as decoded (apart) — made here by xmlsec1 over the decoded characters in
 *   UTF-8, then written in windows-1258 by the test — still verifies for us, read again as decoded, with a warning
 *   that NFC readers (xmlsec1 among them) find it broken.
 * The windows-1258 bytes come from iconv or from the test's own table (TextDecoder inverted), never from the code under test.
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
const WORDS = 'Cộng hoà xã hội chủ nghĩa Việt Nam — Nguyễn Thị Ánh, Ủy ban nhân dân tỉnh Thừa Thiên Huế';

const iconv = (text: string, from: string, to: string, input: Buffer = Buffer.from(text, 'utf8')) => execFileSync('iconv', ['-f', from, '-t', to], { input });
const to1258 = (text: string) => iconv(text, 'UTF-8', 'WINDOWS-1258');
const from1258 = (bytes: Buffer) => iconv('', 'WINDOWS-1258', 'UTF-8', bytes).toString('utf8');

/** the characters as WHATWG decodes them, written back one code point a byte (the test's own inverted table) */
function decodedForm(bytes: Buffer): string {
  return new TextDecoder('windows-1258').decode(bytes);
}
function perCodePoint(text: string): Buffer {
  const d = new TextDecoder('windows-1258');
  const table = new Map<string, number>();
  for (let b = 0xff; b >= 0; b--) table.set(d.decode(Uint8Array.of(b)), b);
  return Buffer.from([...text].map((c) => {
    const b = table.get(c);
    if (b === undefined) throw new Error(`not in windows-1258: ${c}`);
    return b;
  }));
}

describe('XAdES over windows-1258 documents', () => {
  let lab: Lab;
  let responder: OcspResponder;
  let ctx: LevelContext;
  const validation = () => ({ trustAnchors: [lab.root], revocation: { mode: 'soft-fail' as const } });
  const xmlsec = (bytes: Buffer, name: string) => {
    const r = spawnSync('xmlsec1', ['--verify', '--id-attr:Id', `${XA}:SignedProperties`, '--trusted-pem', lab.rootPath, '--untrusted-pem', lab.issuingPath, save(lab.dir, name, bytes)], { encoding: 'utf8' });
    return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
  };
  type Signer = Awaited<ReturnType<Lab['signer']>>;
  const xmlsecSign = (template: Buffer, name: string, signer: Signer) => {
    const out = join(lab.dir, `${name}-signed.xml`);
    const s = spawnSync('xmlsec1', ['--sign', '--id-attr:Id', `${XA}:SignedProperties`, '--privkey-pem', [signer.keyPath, signer.certPath, lab.issuingPath].join(','), '--output', out, save(lab.dir, `${name}.tmpl.xml`, template)], { encoding: 'utf8' });
    expect(s.status, s.stderr).toBe(0);
    return readFileSync(out);
  };
  const certDigest = (signer: Signer) => createHash('sha256').update(Buffer.from(new X509Certificate(readFileSync(signer.certPath)).raw)).digest('base64');
  beforeAll(async () => {
    lab = await openLab();
    ({ responder, ctx } = await labServices(lab));
  }, 60_000);
  afterAll(async () => {
    await responder?.stop();
    await lab?.p.close();
  });

  it('signed enveloped, raised to X-L and B-LTA in place: bytes kept, new text in windows-1258, xmlsec1 verifies, TOTAL-PASSED; a changed letter fails both', async () => {
    const signer = await lab.signer('/C=VN/O=Sở Tư pháp/CN=Văn thư');
    const bytes = to1258(`<?xml version="1.0" encoding="windows-1258"?>\n<HoSo xmlns="urn:vn:hoso"><Ten>${WORDS}</Ten><GhiChu>dong 1&#13;\ndong 2</GhiChu></HoSo>\n`);
    // iconv writes "ệ" as ê and a combining dot below: the case WHATWG's decoder reads as two characters
    expect(bytes.includes(Buffer.from([0xea, 0xf2]))).toBe(true);
    expect(decodedForm(bytes)).not.toBe(decodedForm(bytes).normalize('NFC'));
    const body = bytes.subarray(0, bytes.lastIndexOf(Buffer.from('</HoSo>')));

    const bb = await signXades(bytes, signer);
    expect(bb.subarray(0, body.length).equals(body), 'the document bytes are kept').toBe(true);
    const bbx = xmlsec(bb, 'w1258-bb.xml');
    expect(bbx.status, bbx.out).toBe(0);
    expect((await validateFile(bb, validation())).signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', checks: { integrity: true, signatureValue: true } });

    // X-L: CompleteCertificateRefs (v1, IssuerSerial) name the issuers "Trục …": written as u + combining dot below
    const x = await augmentXadesX(bb, ctx, { form: 'v1' });
    expect(x.subarray(0, body.length).equals(body)).toBe(true);
    expect(x.includes(Buffer.from('&#x')), 'no character reference: windows-1258 writes every letter').toBe(false);
    expect(from1258(x)).toContain('Trục');
    const xx = xmlsec(x, 'w1258-x.xml');
    expect(xx.status, xx.out).toBe(0);
    const xr = (await validateFile(x, validation())).signatures[0]!;
    expect(xr, JSON.stringify(xr, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LT' });
    expect(xr.validationDataReferences!.filter((v) => v.kind === 'certificate').every((v) => v.matches === true)).toBe(true);

    const lta = await augmentFile(bb, { level: 'B-LTA', context: ctx, validation: validation() });
    expect(lta.bytes.subarray(0, body.length).equals(body)).toBe(true);
    const ltax = xmlsec(lta.bytes, 'w1258-lta.xml');
    expect(ltax.status, ltax.out).toBe(0);
    const lr = (await validateFile(lta.bytes, validation())).signatures[0]!;
    expect(lr, JSON.stringify(lr, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
    expect(lr.warnings.join(' ')).not.toMatch(/as decoded/);
    expect(from1258(lta.bytes)).toContain(WORDS);

    // a tone mark changed (dot below → acute: "ệ" becomes "ế"): broken for xmlsec1 and for us
    const changed = Buffer.from(lta.bytes);
    changed[changed.indexOf(Buffer.from([0xea, 0xf2])) + 1] = 0xec;
    expect(xmlsec(changed, 'w1258-changed.xml').status).not.toBe(0);
    expect((await validateFile(changed, validation())).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
  });

  it('a signature xmlsec1 made over a windows-1258 document: TOTAL-PASSED, and raised to B-LTA in place', async () => {
    const signer = await lab.signer('/C=VN/O=Cục Thuế/CN=Trần Văn Đức');
    const tmpl = xadesTemplate(certDigest(signer), `Thông báo: ${WORDS}`).replace('encoding="UTF-8"', 'encoding="windows-1258"');
    const signed = xmlsecSign(to1258(tmpl), 'w1258-foreign', signer);
    expect(signed.includes(Buffer.from([0xea, 0xf2])), 'xmlsec1 keeps the document bytes').toBe(true);
    const r = (await validateFile(signed, validation())).signatures[0]!;
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', checks: { integrity: true, signatureValue: true } });
    expect(r.warnings.join(' ')).not.toMatch(/as decoded/);
    const up = await augmentFile(signed, { level: 'B-LTA', context: ctx, validation: validation() });
    const ux = xmlsec(up.bytes, 'w1258-foreign-lta.xml');
    expect(ux.status, ux.out).toBe(0);
    expect((await validateFile(up.bytes, validation())).signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
  });

  it('a signer that digested letters and tone marks apart: xmlsec1 (NFC) finds it broken, we verify it as decoded with a warning; a real change still fails', async () => {
    const signer = await lab.signer('/C=VN/O=Công ty TNHH Hoà Bình/CN=Lê Thị Hồng');
    // the characters a WHATWG (or Java) decoder gives for the windows-1258 text, signed by xmlsec1 in UTF-8
    const apart = decodedForm(to1258(`Hoá đơn: ${WORDS}`));
    expect(apart).not.toBe(apart.normalize('NFC'));
    const utf8 = xmlsecSign(Buffer.from(xadesTemplate(certDigest(signer), apart), 'utf8'), 'w1258-apart', signer);
    // then written in windows-1258, one code point a byte, under a declaration naming it
    const text = utf8.toString('utf8').replace('encoding="UTF-8"', 'encoding="windows-1258"');
    const bytes = perCodePoint(text);
    expect(xmlsec(bytes, 'w1258-apart.xml').status, 'xmlsec1 reads the letters composed').not.toBe(0);
    const r = (await validateFile(bytes, validation())).signatures[0]!;
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', checks: { integrity: true, signatureValue: true } });
    expect(r.warnings.join(' ')).toMatch(/digested the windows-1258 document as decoded/);
    const changed = Buffer.from(bytes);
    changed[changed.indexOf(Buffer.from('Ho'))] ^= 0x01; // Hoá → Ioá
    expect((await validateFile(changed, validation())).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
  });
});
