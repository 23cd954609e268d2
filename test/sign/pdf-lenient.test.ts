/**
 * PDFs as real producers write them, read as leniently as qpdf and pdfsig read them and with what was
 * repaired said: a trailer /Prev 0, a Flate cross-reference stream without its zlib end, junk before
 * `%PDF-`. And the PAdES CMS forms beside the usual one: /SubFilter adbe.pkcs7.sha1 (verified; SHA-1 is a
 * policy matter), a detached CMS that encapsulates (empty) content of its own (not intact, as EU DSS says),
 * content time-stamps over the ByteRange, a /SubFilter we do not read; and encrypted files' field names.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, deflateSync, inflateSync } from 'node:zlib';
import { signPdf, preparePdf, validatePdf, readPdfSignatures } from '../../src/sign/index.js';
import { signedAttributes, signedData } from '../../src/sign/cades/signed-data.js';
import { attribute } from '../../src/sign/cms/attributes.js';
import { toPem } from '../../src/asn1/der.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import { localTimeStamper } from '../../src/sign/timestamp/tsa-local.js';
import { embedCms } from '../../src/sign/pades/embed.js';
import { appendSignatureField, pdfDate } from '../../src/sign/pades/prepare.js';
import { PdfDocument } from '../../src/sign/pdf/document.js';
import { openssl, opensslStatus } from '../helpers/openssl.js';
import { handPdf, openLab, samplePdf, save, type Lab } from './fixtures.js';

const CONTENT_TS = '1.2.840.113549.1.9.16.2.20';
const basic = ['<</Type/Catalog/Pages 2 0 R>>', '<</Type/Pages/Kids[3 0 R]/Count 1>>', '<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>'];

function pdfsig(lab: Lab, pdf: Buffer): { valid: number; listed: number; out: string } {
  const r = spawnSync('pdfsig', [save(lab.dir, `${Math.random()}.pdf`, pdf)], { encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`;
  return { valid: (out.match(/Signature Validation: Signature is Valid\./g) ?? []).length, listed: (out.match(/^Signature #\d+:/gm) ?? []).length, out };
}

/** The cross-reference stream `startxref` names, re-deflated without its final block and Adler-32. */
function cutXrefStream(pdf: Buffer): Buffer {
  const s = pdf.toString('latin1');
  const at = Number(/startxref\s+(\d+)/.exec(s.slice(s.lastIndexOf('startxref')))![1]);
  const len = /\/Length (\d+)/.exec(s.slice(at))!;
  const lenAt = at + len.index;
  const dataAt = s.indexOf('stream\n', at) + 7;
  const data = pdf.subarray(dataAt, dataAt + Number(len[1]));
  const cut = deflateSync(inflateSync(data), { finishFlush: constants.Z_SYNC_FLUSH });
  expect(() => inflateSync(cut)).toThrow(/unexpected end/);
  return Buffer.concat([pdf.subarray(0, lenAt), Buffer.from(`/Length ${cut.length}`), pdf.subarray(lenAt + len[0].length, dataAt), cut, pdf.subarray(dataAt + data.length)]);
}

describe('a lenient PDF reader, and the PAdES CMS forms', () => {
  let lab: Lab;
  let signer: Awaited<ReturnType<Lab['signer']>>;

  beforeAll(async () => {
    lab = await openLab();
    signer = await lab.signer('/CN=Hoàng Văn Minh/O=Văn phòng UBND/C=VN');
  });
  afterAll(async () => lab?.p.close());

  it('a trailer /Prev 0 is ignored and said; a file signed over it validates (pdfsig and qpdf agree)', async () => {
    const doc = new PdfDocument(handPdf(basic, '/Prev 0'));
    expect(doc.pageRefs()).toHaveLength(1);
    expect(doc.repairs).toEqual(['bỏ qua /Prev 0 trong trailer / a trailer /Prev 0 was ignored']);
    const original = await samplePdf(false);
    const withPrev0 = Buffer.from(original.toString('latin1').replace(/trailer\s*<</, 'trailer\n<</Prev 0'), 'latin1');
    const signed = await signPdf(withPrev0, signer);
    expect(pdfsig(lab, signed).valid).toBe(1);
    expect(spawnSync('qpdf', ['--check', save(lab.dir, 'prev0.pdf', signed)]).status).not.toBe(2);
    const r = (await validatePdf(signed, { trustAnchors: [lab.root] })).signatures[0];
    expect(r.indication).toBe('TOTAL-PASSED');
    expect(r.warnings.join(' ')).toMatch(/\/Prev 0 was ignored/);
  });

  it('a Flate cross-reference stream without its zlib end is read as far as it goes, and said (pdfsig agrees); a corrupt one is still refused', async () => {
    const cut = cutXrefStream(await samplePdf(true));
    const doc = new PdfDocument(cut);
    expect(doc.pageRefs()).toHaveLength(2);
    expect(doc.repairs.join(' ')).toMatch(/without its zlib end/);
    const signed = await signPdf(cut, signer);
    expect(pdfsig(lab, signed).valid, pdfsig(lab, signed).out).toBe(1);
    const r = (await validatePdf(signed, { trustAnchors: [lab.root] })).signatures[0];
    expect(r.indication).toBe('TOTAL-PASSED');
    expect(r.warnings.join(' ')).toMatch(/zlib end/);
    // flipped bytes inside the deflate data are damage, not a missing end
    const s = cut.toString('latin1');
    const at = s.indexOf('stream\n', Number(/startxref\s+(\d+)/.exec(s.slice(s.lastIndexOf('startxref')))![1])) + 9;
    const corrupt = Buffer.from(cut);
    corrupt.fill(0xff, at, at + 6);
    expect(() => new PdfDocument(corrupt).pageRefs()).toThrow(expect.objectContaining({ code: 'malformed_pdf' }));
  });

  it('junk before %PDF- (offsets counted from the header) is set aside and said; the signature validates', async () => {
    const signed = await signPdf(await samplePdf(false), signer);
    const wrapped = Buffer.concat([Buffer.from('Content-Type: application/pdf\r\n\r\n'), signed]);
    const r = await validatePdf(wrapped, { trustAnchors: [lab.root] });
    expect(r.signatures).toHaveLength(1);
    expect(r.signatures[0].indication).toBe('TOTAL-PASSED');
    expect(r.signatures[0].warnings.join(' ')).toMatch(/33 bytes before %PDF- were set aside/);
    // pdfsig finds the signature but applies the ByteRange from byte 0 of the wrapper, so it reports "Digest
    // Mismatch"; we count it, like the cross-reference, from the header. We are right: the bytes from %PDF- on
    // are exactly the signed file, which pdfsig itself calls valid; the wrapper is outside and we say so
    expect(pdfsig(lab, wrapped).out).toMatch(/Digest Mismatch/);
    expect(pdfsig(lab, wrapped.subarray(33)).valid).toBe(1);
    expect(wrapped.subarray(33).equals(signed)).toBe(true);
  });

  it('/SubFilter adbe.pkcs7.sha1 (openssl cms signs the SHA-1 of the ByteRange): verified, INDETERMINATE by policy; a changed byte is HASH_FAILURE', async () => {
    const placed = appendSignatureField(await samplePdf(false), {
      type: 'Sig',
      subFilter: 'adbe.pkcs7.sha1',
      contentsBytes: 8192,
      digest: 'sha256',
      entries: [['M', { kind: 'str', bytes: Buffer.from(pdfDate(new Date(), 420)) }]],
    });
    const [a, b, c, d] = placed.byteRange;
    const sha1 = createHash('sha1').update(placed.pdf.subarray(a, a + b)).update(placed.pdf.subarray(c, c + d)).digest();
    const out = join(lab.dir, 'sha1.p7m');
    openssl(['cms', '-sign', '-cades', '-nodetach', '-binary', '-md', 'sha1', '-in', save(lab.dir, 'sha1.bin', sha1), '-signer', signer.certPath, '-inkey', signer.keyPath, '-certfile', lab.issuingPath, '-outform', 'DER', '-out', out]);
    const pdf = embedCms(placed, readFileSync(out));
    expect(readPdfSignatures(pdf)[0].subFilter).toBe('adbe.pkcs7.sha1');
    const v = pdfsig(lab, pdf);
    expect(v.out).toMatch(/adbe\.pkcs7\.sha1/);
    expect(v.valid, v.out).toBe(1);
    const r = (await validatePdf(pdf, { trustAnchors: [lab.root] })).signatures[0];
    expect(r).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE_NO_POE', checks: { integrity: true, signatureValue: true } });
    expect(r.message).toMatch(/sha1/);
    const tampered = Buffer.from(pdf);
    const p = tampered.indexOf('page 1', 0, 'latin1');
    tampered[p >= 0 ? p : 200] ^= 1;
    const t = (await validatePdf(tampered, { trustAnchors: [lab.root] })).signatures[0];
    expect(t).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
  });

  it('a detached PAdES CMS that encapsulates empty content next to its ByteRange is not intact (as DSS); the same CMS without it passes', async () => {
    const prepared = preparePdf(await samplePdf(false), signer);
    const signature = await signer.sign(prepared.signedAttributes);
    const good = embedCms(prepared, signedData({ identity: prepared.identity, digest: prepared.digest, signedAttrs: prepared.signedAttributes, signature }));
    expect((await validatePdf(good, { trustAnchors: [lab.root] })).signatures[0].indication).toBe('TOTAL-PASSED');
    const withEmpty = embedCms(prepared, signedData({ identity: prepared.identity, digest: prepared.digest, signedAttrs: prepared.signedAttributes, signature, content: Buffer.alloc(0) }));
    const r = (await validatePdf(withEmpty, { trustAnchors: [lab.root] })).signatures[0];
    // the CMS signs its encapsulated (empty) content (RFC 5652 §5.4: the message digest is over eContent when
    // present), so nothing binds it to the ByteRange: DSS and we say not intact. pdfsig hashes the ByteRange and
    // ignores eContent, and says "valid": it is wrong here
    expect(pdfsig(lab, withEmpty).valid).toBe(1);
    const [sig] = readPdfSignatures(withEmpty);
    const [x, y, z, w] = sig.byteRange;
    const covered = save(lab.dir, 'covered.bin', Buffer.concat([withEmpty.subarray(x, x + y), withEmpty.subarray(z, z + w)]));
    // openssl cms -verify of the CMS as it is checks the message digest over the (empty) eContent and refuses;
    // told -content, it substitutes the ByteRange for the eContent and accepts — that substitution is the forgery
    const cmsPath = save(lab.dir, 'empty.p7s', sig.cms!);
    expect(opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-noverify', '-in', cmsPath, '-out', '/dev/null']).out).not.toMatch(/Verification successful/);
    expect(opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-noverify', '-in', cmsPath, '-content', covered, '-out', '/dev/null']).out).toMatch(/Verification successful/);
    expect(r).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE', checks: { integrity: false } });
    expect(r.warnings.join(' ')).toMatch(/encapsulates 0 bytes of content/);
  });

  it('a /SubFilter we do not read (adbe.x509.rsa_sha1) is INDETERMINATE / FORMAT_FAILURE, named: not checked, so not failed', async () => {
    const placed = appendSignatureField(await samplePdf(false), { type: 'Sig', subFilter: 'adbe.x509.rsa_sha1', contentsBytes: 512, digest: 'sha256' });
    // adbe.x509.rsa_sha1 carries a bare PKCS#1 signature value as a DER OCTET STRING, the certificate in /Cert
    const pdf = embedCms(placed, Buffer.concat([Buffer.from([0x04, 0x81, 0x80]), Buffer.alloc(128, 7)]));
    const r = (await validatePdf(pdf, { trustAnchors: [lab.root] })).signatures[0];
    expect(r).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'FORMAT_FAILURE' });
    expect(r.message).toMatch(/adbe\.x509\.rsa_sha1 is not supported/);
  });

  it('content time-stamps of a PAdES signature are judged over the ByteRange (openssl ts agrees): one valid, one over other data', async () => {
    const tsa = new TimeStampAuthority(lab.p.pki, lab.p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
    await tsa.start();
    const stamper = localTimeStamper(tsa);
    const placed = appendSignatureField(await samplePdf(false), { type: 'Sig', subFilter: 'ETSI.CAdES.detached', contentsBytes: 16384, digest: 'sha256' });
    const good = Buffer.from(await stamper.stamp(placed.documentDigest, 'sha256'));
    const other = Buffer.from(await stamper.stamp(createHash('sha256').update('khác').digest(), 'sha256'));
    const [a, b, c, d] = placed.byteRange;
    const covered = save(lab.dir, 'covered.bin', Buffer.concat([placed.pdf.subarray(a, a + b), placed.pdf.subarray(c, c + d)]));
    const chain = save(lab.dir, 'tsa-chain.pem', Buffer.from(toPem('CERTIFICATE', tsa.certificate()) + toPem('CERTIFICATE', lab.issuing)));
    const tsVerify = (t: Buffer) => opensslStatus(['ts', '-verify', '-in', save(lab.dir, `${Math.random()}.tst`, t), '-token_in', '-data', covered, '-CAfile', lab.rootPath, '-untrusted', chain]).out;
    expect(tsVerify(good)).toMatch(/Verification: OK/);
    expect(tsVerify(other)).not.toMatch(/Verification: OK/);
    const attrs = signedAttributes({ certificate: signer.certificate, messageDigest: placed.documentDigest, extra: [attribute(CONTENT_TS, good), attribute(CONTENT_TS, other)] });
    const signature = await signer.sign(attrs);
    const pdf = embedCms(placed, signedData({ identity: signer, digest: 'sha256', signedAttrs: attrs, signature }));
    const r = (await validatePdf(pdf, { trustAnchors: [lab.root] })).signatures[0];
    expect(r.indication).toBe('TOTAL-PASSED');
    expect(r.timestamps?.filter((t) => t.type === 'content').map((t) => t.valid).sort()).toEqual([false, true]);
    expect(r.warnings.join(' ')).toMatch(/a content time-stamp is not valid: the message imprint/);
  });

  it('an encrypted PDF (qpdf: RC4-128, AES-128, AES-256; empty user password) shows the signature field name, time and reason decrypted, as pdfsig does', async () => {
    const signingTime = new Date('2026-03-02T03:04:05Z');
    const signed = await signPdf(await samplePdf(false), signer, { fieldName: 'ChuKy_GiamDoc', reason: 'Phe duyet', signingTime });
    // AES-256 three times: each encryption draws new salts, and Algorithm 2.B's loop end depends on them
    for (const args of [['128', '--use-aes=n'], ['128', '--use-aes=y'], ['256'], ['256'], ['256']]) {
      const out = join(lab.dir, `enc-${args.join('')}.pdf`);
      const q = spawnSync('qpdf', ['--allow-weak-crypto', '--encrypt', '', 'owner-pw', ...args, '--', save(lab.dir, 'to-encrypt.pdf', signed), out]);
      expect(q.status, `${q.stdout}${q.stderr}`).not.toBe(2);
      const enc = readFileSync(out);
      expect(enc.includes('/Encrypt')).toBe(true);
      expect(enc.includes('ChuKy_GiamDoc')).toBe(false);
      const [sig] = readPdfSignatures(enc);
      expect(sig.fieldName, args.join(' ')).toBe('ChuKy_GiamDoc');
      expect(sig.reason).toBe('Phe duyet');
      expect(sig.claimedSigningTime?.toISOString()).toBe(signingTime.toISOString());
      expect(pdfsig(lab, enc).out).toMatch(/Signature Field Name: ChuKy_GiamDoc/);
    }
  });
});
