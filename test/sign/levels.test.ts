import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { ctx as derCtx, seq, set, tlv } from '../../src/asn1/der.js';
import { children, decodeOid, parseOne } from '../../src/asn1/reader.js';
import { revoke } from '../../src/pki/index.js';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import {
  augmentCades,
  augmentPdf,
  inspectCms,
  readPdfSignatures,
  readTimeStampToken,
  renewCadesArchive,
  renewPdfArchive,
  reportText,
  signCades,
  signPdf,
  validateCades,
  validatePdf,
  type LevelContext,
} from '../../src/sign/index.js';
import { UNSIGNED } from '../../src/sign/cades/unsigned.js';
import { opensslStatus } from '../helpers/openssl.js';
import { labServices, openLab, samplePdf, save, type Lab } from './fixtures.js';

const CONTENT = Buffer.from('Quyết định số 77/QĐ-BNV về việc lưu trữ dài hạn\n');

/** pdfsig validates CAdES signatures; document time-stamps it lists (poppler cannot validate ETSI.RFC3161). */
function pdfsig(path: string): { out: string; valid: number; listed: number } {
  const r = spawnSync('pdfsig', [path], { encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`;
  return { out, valid: (out.match(/Signature Validation: Signature is Valid\./g) ?? []).length, listed: (out.match(/^Signature #\d+:/gm) ?? []).length };
}
/** The CMS with signer 0's unsigned attribute of type `type` replaced by `attr` (a test's tampering). */
function replaceUnsigned(cms: Buffer, type: string, attr: Buffer): Buffer {
  const ci = children(parseOne(cms));
  const sd = children(children(ci[1])[0]);
  const infos = children(sd[sd.length - 1]);
  const fields = children(infos[0]);
  const attrs = children(fields[fields.length - 1]).filter((a) => decodeOid(children(a)[0].value) !== type).map((a) => Buffer.from(a.raw));
  const info = seq(...fields.slice(0, -1).map((f) => f.raw), tlv(0xa1, ...[...attrs, attr].sort(Buffer.compare)));
  return seq(ci[0].raw, derCtx(0, seq(...sd.slice(0, -1).map((e) => e.raw), set(info, ...infos.slice(1).map((i) => i.raw)))));
}
const qpdfCheck = (path: string) => spawnSync('qpdf', ['--check', path], { encoding: 'utf8' });

describe('signature levels B-T, B-LT, B-LTA and augmentation', () => {
  let lab: Lab;
  let tsa: TimeStampAuthority;
  let responder: OcspResponder;
  let ctx: LevelContext;
  let official: Awaited<ReturnType<Lab['signer']>>;
  let tsaChain: string;

  beforeAll(async () => {
    lab = await openLab();
    ({ tsa, responder, ctx, tsaChain } = await labServices(lab));
    official = await lab.signer('/CN=Đỗ Thị Hoa/O=Bộ Nội vụ/C=VN');
  });
  afterAll(async () => {
    await responder?.stop();
    await lab?.p.close();
  });

  /** openssl ts -verify over the token of a signature-time-stamp, given the digest of the signature value. */
  function opensslTsVerify(token: Buffer, signatureValue: Buffer): { status: number; out: string } {
    const file = save(lab.dir, `token-${Math.random().toString(36).slice(2)}.tst`, token);
    const digest = createHash('sha256').update(signatureValue).digest('hex');
    return opensslStatus(['ts', '-verify', '-in', file, '-token_in', '-digest', digest, '-CAfile', lab.rootPath, '-untrusted', tsaChain]);
  }

  it('CAdES B-T: openssl ts -verify accepts the token over the signature value, openssl cms -verify the signature', async () => {
    const p7s = await signCades(CONTENT, official, { level: 'B-T', context: ctx });
    const s = inspectCms(p7s, CONTENT).signers[0];
    const [token] = s.unsignedAttributes.get(UNSIGNED.signatureTimeStamp)!;
    const ts = opensslTsVerify(token, s.signatureValue);
    expect(ts.out).toMatch(/Verification: OK/);
    const cms = opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-CAfile', lab.rootPath, '-purpose', 'any', '-in', save(lab.dir, 'bt.p7s', p7s), '-content', save(lab.dir, 'bt.txt', CONTENT), '-out', '/dev/null']);
    expect(cms.out).toMatch(/Verification successful/);
    const report = await validateCades(p7s, { content: CONTENT, trustAnchors: [lab.root] });
    const [r] = report.signatures;
    expect(r).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-T', timestamps: [{ type: 'signature', valid: true }] });
    expect(Math.abs(Date.parse(r.bestSignatureTime!) - Date.now())).toBeLessThan(60_000);
    expect(reportText(report, 'vi')).toMatch(/Đã ký không muộn hơn \(dấu thời gian\): .* \+07:00/);
  });

  it('stamps over HTTP (RFC 3161 POST application/timestamp-query) against our TSA route', async () => {
    const { buildApp } = await import('../../src/http/app.js');
    const { httpTimeStamper } = await import('../../src/sign/index.js');
    const app = await buildApp(lab.p, { tsa });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const p7s = await signCades(CONTENT, official, { level: 'B-T', context: { timeStamper: httpTimeStamper(`${base}/tsa`) } });
      const r = (await validateCades(p7s, { content: CONTENT, trustAnchors: [lab.root] })).signatures[0];
      expect(r).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-T', timestamps: [{ valid: true }] });
      await expect(httpTimeStamper(`${base}/nowhere`).stamp(Buffer.alloc(32), 'sha256')).rejects.toThrow(/HTTP 404/);
    } finally {
      await app.close();
    }
  });

  it('rejects a token that stamps another signature value (no proof of existence)', async () => {
    const p7s = await signCades(CONTENT, official, { level: 'B-T', context: ctx });
    const other = await signCades(CONTENT, official, { level: 'B-T', context: ctx });
    const s = inspectCms(p7s, CONTENT).signers[0];
    const foreign = inspectCms(other, CONTENT).signers[0].unsignedAttributes.get(UNSIGNED.signatureTimeStamp)!;
    // the other signature's token grafted on this one: it stamps another signature value
    const { addUnsignedAttributes, signatureTimeStampAttribute } = await import('../../src/sign/cades/unsigned.js');
    const bb = await signCades(CONTENT, official);
    const grafted = addUnsignedAttributes(bb, [signatureTimeStampAttribute(foreign[0])]);
    const r1 = await validateCades(grafted, { content: CONTENT, trustAnchors: [lab.root] });
    expect(r1.signatures[0].timestamps?.[0]).toMatchObject({ valid: false, problem: expect.stringMatching(/imprint/) });
    expect(r1.signatures[0].bestSignatureTime).toBeUndefined();
    expect(s.signatureValue.length).toBeGreaterThan(0);
  });

  it('a signer revoked after the time-stamp validates TOTAL-PASSED; without a time-stamp it is REVOKED_NO_POE', async () => {
    const signer = await lab.signer('/CN=Vũ Văn Khải/O=Bộ Nội vụ/C=VN');
    const bt = await signCades(CONTENT, signer, { level: 'B-T', context: ctx });
    const bb = await signCades(CONTENT, signer);
    await new Promise((r) => setTimeout(r, 1100));
    await revoke(lab.p.pki, { serial: signer.serial, reason: 'keyCompromise' }, 'ra1');
    const ocsp = (await responder.respond((await import('../../src/pki/path/index.js')).buildOcspRequest(signer.certificate, lab.issuing))).der;
    const tsaOcsp = (await responder.respond((await import('../../src/pki/path/index.js')).buildOcspRequest(tsa.certificate(), lab.issuing))).der;
    const opts = { content: CONTENT, trustAnchors: [lab.root], revocation: { mode: 'hard-fail' as const, ocspResponses: [ocsp, tsaOcsp], targetOnly: true } };
    const t = (await validateCades(bt, opts)).signatures[0];
    expect(t, JSON.stringify(t)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-T' });
    expect(t.warnings.join('\n')).toMatch(/revoked at .* after the proof of existence/);
    const b = (await validateCades(bb, opts)).signatures[0];
    expect(b).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'REVOKED_NO_POE' });
  });

  it('a signature time-stamped only after its signer was revoked is TOTAL-FAILED / REVOKED, however early its claimed signing time', async () => {
    const signer = await lab.signer('/CN=Lưu Văn Đức/O=Bộ Nội vụ/C=VN');
    await revoke(lab.p.pki, { serial: signer.serial, reason: 'keyCompromise' }, 'ra1');
    await new Promise((r) => setTimeout(r, 1100)); // the time-stamp's genTime after the revocation date (seconds)
    const backdated = await signCades(CONTENT, signer, { level: 'B-T', context: ctx, signingTime: new Date(Date.now() - 86_400_000) });
    const { buildOcspRequest } = await import('../../src/pki/path/index.js');
    const ocsp = (await responder.respond(buildOcspRequest(signer.certificate, lab.issuing))).der;
    const tsaOcsp = (await responder.respond(buildOcspRequest(tsa.certificate(), lab.issuing))).der;
    const r = (await validateCades(backdated, { content: CONTENT, trustAnchors: [lab.root], revocation: { mode: 'hard-fail', ocspResponses: [ocsp, tsaOcsp], targetOnly: true } })).signatures[0];
    expect(r, JSON.stringify(r)).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'REVOKED', level: 'B-T', timestamps: [{ type: 'signature', valid: true }] });
    expect(r.message).toMatch(/revoked at .* before the proof of existence/);
    expect(new Date(r.bestSignatureTime!).getTime()).toBeGreaterThan(new Date(r.claimedSigningTime!).getTime());
  });

  it('a signature proven to exist before its certificate expired passes; without a proof it is OUT_OF_BOUNDS_NO_POE', async () => {
    const shortLived = await lab.signer('/CN=Hoàng Văn Lâm/O=Bộ Nội vụ/C=VN');
    const bt = await signCades(CONTENT, shortLived, { level: 'B-T', context: ctx });
    const bb = await signCades(CONTENT, shortLived);
    // after the signer's certificate (3 years) but before the TSA's (5 years)
    const at = new Date(Date.now() + 4 * 365 * 86_400_000);
    const t = (await validateCades(bt, { content: CONTENT, trustAnchors: [lab.root], at })).signatures[0];
    expect(t, JSON.stringify(t)).toMatchObject({ indication: 'TOTAL-PASSED' });
    expect(t.warnings.join('\n')).toMatch(/expired since; the signature is proven to exist/);
    const b = (await validateCades(bb, { content: CONTENT, trustAnchors: [lab.root], at })).signatures[0];
    expect(b).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'OUT_OF_BOUNDS_NO_POE' });
  });

  it('CAdES B-LT validates offline with hard-fail revocation; B-B does not', async () => {
    const lt = await signCades(CONTENT, official, { level: 'B-LT', context: ctx });
    const s = inspectCms(lt, CONTENT).signers[0];
    expect([...s.unsignedAttributes.keys()].sort()).toEqual([UNSIGNED.signatureTimeStamp, UNSIGNED.certificateValues, UNSIGNED.revocationValues].sort());
    const offline = { content: CONTENT, trustAnchors: [lab.root], revocation: { mode: 'hard-fail' as const } };
    const r = (await validateCades(lt, offline)).signatures[0];
    expect(r, JSON.stringify(r)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LT', timestamps: [{ valid: true }] });
    expect(r.embeddedEvidence!.crls + r.embeddedEvidence!.ocspResponses).toBeGreaterThan(0);
    expect(r.warnings.filter((w) => /no revocation status/.test(w))).toEqual([]);
    const bb = (await validateCades(await signCades(CONTENT, official), offline)).signatures[0];
    expect(bb).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'TRY_LATER' });
    const cms = opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-CAfile', lab.rootPath, '-purpose', 'any', '-in', save(lab.dir, 'lt.p7s', lt), '-content', save(lab.dir, 'lt.txt', CONTENT), '-out', '/dev/null']);
    expect(cms.out).toMatch(/Verification successful/);
  });

  it('augments CAdES B-B → B-T → B-LT without touching the signature', async () => {
    const bb = await signCades(CONTENT, official);
    const bt = await augmentCades(bb, 'B-T', ctx);
    const lt = await augmentCades(bt, 'B-LT', ctx);
    const sv = inspectCms(bb, CONTENT).signers[0].signatureValue;
    expect(inspectCms(lt, CONTENT).signers[0].signatureValue.equals(sv)).toBe(true);
    expect((await augmentCades(lt, 'B-LT', ctx)).equals(lt)).toBe(true); // nothing to add
    const levels = [];
    for (const der of [bb, bt, lt]) levels.push((await validateCades(der, { content: CONTENT, trustAnchors: [lab.root] })).signatures[0].level);
    expect(levels).toEqual(['B-B', 'B-T', 'B-LT']);
  });

  it('CAdES B-LTA: archive-time-stamp-v3 with ats-hash-index-v3; imprint recomputed; tampering with covered data is caught; its genTime is the proof of existence', async () => {
    const { archiveImprint, archiveParts, ATS_HASH_INDEX_V3, readAtsHashIndexV3 } = await import('../../src/sign/cades/archive.js');
    const { addUnsignedAttributes, certificateValuesAttribute } = await import('../../src/sign/cades/unsigned.js');
    const lt = await signCades(CONTENT, official, { level: 'B-LT', context: ctx });
    await expect(augmentCades(lt, 'B-LTA', ctx)).rejects.toThrow(/content is needed/);
    const lta = await augmentCades(lt, 'B-LTA', ctx, 0, CONTENT);
    expect((await augmentCades(lta, 'B-LTA', ctx, 0, CONTENT)).equals(lta)).toBe(true);
    const s = inspectCms(lta, CONTENT).signers[0];
    expect(s.signatureValue.equals(inspectCms(lt, CONTENT).signers[0].signatureValue)).toBe(true);
    const [ats] = s.unsignedAttributes.get(UNSIGNED.archiveTimeStampV3)!;
    const token = readTimeStampToken(ats);
    const [indexDer] = token.signer.unsignedAttributes.get(ATS_HASH_INDEX_V3)!;
    const index = readAtsHashIndexV3(indexDer);
    // the index lists the signed data's certificates and each value of the three unsigned attributes present before it
    expect(index.certs.length).toBe(inspectCms(lta, CONTENT).certificates.length);
    expect(index.attrs).toHaveLength(3);
    // the imprint, recomputed independently of the signer's code path
    const parts = archiveParts(lta);
    const manual = createHash('sha256')
      .update(parts.eContentType)
      .update(createHash('sha256').update(CONTENT).digest())
      .update(Buffer.concat(parts.signerFields))
      .update(indexDer)
      .digest();
    expect(token.tstInfo.hashedMessage.equals(manual)).toBe(true);
    expect(archiveImprint(parts, CONTENT, indexDer, 'sha256').equals(manual)).toBe(true);
    // the TSA's token still verifies with openssl after the ats-hash-index-v3 was added to it
    const file = save(lab.dir, 'ats.tst', ats);
    expect(opensslStatus(['ts', '-verify', '-in', file, '-token_in', '-digest', manual.toString('hex'), '-CAfile', lab.rootPath, '-untrusted', tsaChain]).out).toMatch(/Verification: OK/);
    const cms = opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-CAfile', lab.rootPath, '-purpose', 'any', '-in', save(lab.dir, 'lta.p7s', lta), '-content', save(lab.dir, 'lta.txt', CONTENT), '-out', '/dev/null']);
    expect(cms.out).toMatch(/Verification successful/);

    const offline = { content: CONTENT, trustAnchors: [lab.root], revocation: { mode: 'hard-fail' as const } };
    const r = (await validateCades(lta, offline)).signatures[0];
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
    expect(r.timestamps!.map((t) => [t.type, t.valid])).toEqual([['signature', true], ['archive', true]]);
    expect(r.warnings.filter((w) => /archive/.test(w))).toEqual([]);
    // years later: the signer's and the signature-time-stamp TSA's certificates have expired; the archive time-stamp proves they existed
    const later = (await validateCades(lta, { content: CONTENT, trustAnchors: [lab.root], at: new Date(Date.now() + 4 * 365 * 86_400_000) })).signatures[0];
    expect(later.indication, JSON.stringify(later, null, 1)).toBe('TOTAL-PASSED');

    // validation data added after the archive time-stamp is not covered, and does not break it
    const added = addUnsignedAttributes(lta, [certificateValuesAttribute([lab.issuing])]);
    expect((await validateCades(added, offline)).signatures[0].timestamps!.find((t) => t.type === 'archive')!.valid).toBe(true);
    // a covered unsigned attribute replaced: the index no longer matches
    const swapped = replaceUnsigned(lta, UNSIGNED.certificateValues, certificateValuesAttribute([lab.root]));
    const bad = (await validateCades(swapped, offline)).signatures[0];
    expect(bad.timestamps!.find((t) => t.type === 'archive')).toMatchObject({ valid: false, problem: expect.stringMatching(/altered or removed/) });
    // other content: the imprint does not match
    const other = (await validateCades(lta, { ...offline, content: Buffer.from('khác') })).signatures[0];
    expect(other.timestamps!.find((t) => t.type === 'archive')).toMatchObject({ valid: false, problem: expect.stringMatching(/imprint/) });
  });

  it('CAdES archive renewal: the TSA\'s validation data into SignedData, a second archive-time-stamp-v3 whose index covers the first; both validate; openssl still verifies; removing the first breaks the second', async () => {
    const { ATS_HASH_INDEX_V3, readAtsHashIndexV3, archiveParts } = await import('../../src/sign/cades/archive.js');
    const lta = await signCades(CONTENT, official, { level: 'B-LTA', context: ctx });
    await expect(renewCadesArchive(await signCades(CONTENT, official, { level: 'B-LT', context: ctx }), ctx, 0, CONTENT)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(renewCadesArchive(lta, ctx)).rejects.toThrow(/content is needed/);
    await new Promise((r) => setTimeout(r, 1100)); // a later genTime for the renewal
    const renewed = await renewCadesArchive(lta, ctx, 0, CONTENT);
    const i = inspectCms(renewed, CONTENT);
    const s = i.signers[0];
    expect(s.signatureValue.equals(inspectCms(lta, CONTENT).signers[0].signatureValue)).toBe(true);
    const tokens = s.unsignedAttributes.get(UNSIGNED.archiveTimeStampV3)!;
    expect(tokens).toHaveLength(2);
    // the TSA's fresh OCSP response sits in SignedData.crls as RevocationInfoChoice other (id-ri-ocsp-response), version 5
    expect(i.ocsps.length).toBeGreaterThan(0);
    expect(children(children(children(parseOne(renewed))[1])[0])[0].value).toEqual(Buffer.from([5]));
    const [first, second] = tokens.map((t) => readTimeStampToken(t)).sort((a, b) => a.tstInfo.genTime.getTime() - b.tstInfo.genTime.getTime());
    const index2 = readAtsHashIndexV3(second.signer.unsignedAttributes.get(ATS_HASH_INDEX_V3)![0]);
    const firstValue = createHash('sha256').update(Buffer.concat([Buffer.from('060604008d450204', 'hex'), first.der])).digest();
    expect(index2.attrs.some((h) => h.equals(firstValue)), 'the second index lists the first archive time-stamp').toBe(true);
    expect(index2.crls.length).toBe(archiveParts(renewed).crls.length);
    const cms = opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-CAfile', lab.rootPath, '-purpose', 'any', '-in', save(lab.dir, 'renewed.p7s', renewed), '-content', save(lab.dir, 'renewed.txt', CONTENT), '-out', '/dev/null']);
    expect(cms.out).toMatch(/Verification successful/);

    const offline = { content: CONTENT, trustAnchors: [lab.root], revocation: { mode: 'hard-fail' as const } };
    for (const der of [lta, renewed]) {
      const r = (await validateCades(der, offline)).signatures[0];
      expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
      expect(r.timestamps!.map((t) => [t.type, t.valid])).toEqual(der === lta ? [['signature', true], ['archive', true]] : [['signature', true], ['archive', true], ['archive', true]]);
      expect(r.warnings.filter((w) => /archive/.test(w))).toEqual([]);
    }
    // a third renewal still finds both earlier ones intact
    const third = await renewCadesArchive(renewed, ctx, 0, CONTENT);
    expect((await validateCades(third, offline)).signatures[0].timestamps!.filter((t) => t.type === 'archive').map((t) => t.valid)).toEqual([true, true, true]);
    // the first archive time-stamp taken out: the second's index misses it
    const withoutFirst = replaceUnsigned(renewed, UNSIGNED.archiveTimeStampV3, seq(Buffer.from('060604008d450204', 'hex'), set(second.der)));
    const cut = (await validateCades(withoutFirst, offline)).signatures[0];
    expect(cut.timestamps!.filter((t) => t.type === 'archive')).toMatchObject([{ valid: false, problem: expect.stringMatching(/altered or removed since the archive time-stamp: unsigned attribute/) }]);
  });

  it('PAdES B-T: pdfsig valid, the token verifies with openssl ts, the report has the proof of existence', async () => {
    const signed = await signPdf(await samplePdf(true), official, { level: 'B-T', context: ctx });
    const path = save(lab.dir, 'bt.pdf', signed);
    const v = pdfsig(path);
    expect(v.valid, v.out).toBe(1);
    expect(qpdfCheck(path).status).toBe(0);
    const [sig] = readPdfSignatures(signed);
    const s = inspectCms(sig.cms!, sig.digestOf).signers[0];
    expect(opensslTsVerify(s.unsignedAttributes.get(UNSIGNED.signatureTimeStamp)![0], s.signatureValue).out).toMatch(/Verification: OK/);
    const r = (await validatePdf(signed, { trustAnchors: [lab.root] })).signatures[0];
    expect(r).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-T', timestamps: [{ type: 'signature', valid: true }] });
  });

  for (const objectStreams of [true, false]) {
    it(`PAdES B-LTA in one call (${objectStreams ? 'xref streams' : 'xref table'}): DSS and document time-stamp; pdfsig and qpdf accept; offline validation`, async () => {
      const signed = await signPdf(await samplePdf(objectStreams), official, { level: 'B-LTA', context: ctx });
      const path = save(lab.dir, `lta-${objectStreams}.pdf`, signed);
      const v = pdfsig(path);
      expect(v.valid, v.out).toBe(1);
      expect(v.listed, v.out).toBe(2); // the signature and the document time-stamp
      expect(v.out).toMatch(/Signer Certificate Common Name: Time-Stamping Authority/);
      const q = qpdfCheck(path);
      expect(q.status, `${q.stdout}${q.stderr}`).toBe(0);
      const report = await validatePdf(signed, { trustAnchors: [lab.root], revocation: { mode: 'hard-fail' } });
      expect(report.signatures).toHaveLength(1);
      const [r] = report.signatures;
      expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA', pdf: { modifiedAfter: false } });
      expect(report.documentTimestamps).toMatchObject([{ type: 'document', valid: true }]);
      const docTs = readPdfSignatures(signed).find((s) => s.subFilter === 'ETSI.RFC3161')!;
      expect(docTs.coversWholeFile).toBe(true);
      const t = readTimeStampToken(docTs.cms!);
      expect(t.tstInfo.hashedMessage.equals(docTs.digestOf('sha256'))).toBe(true);
    });
  }

  it('augments PAdES B-B → B-T → B-LT → B-LTA by incremental updates; earlier revisions stay valid in pdfsig', async () => {
    const pdf = await samplePdf(true);
    const bb = await signPdf(pdf, official);
    const bt = await augmentPdf(bb, 'B-T', ctx);
    const lt = await augmentPdf(bt, 'B-LT', ctx);
    const lta = await augmentPdf(lt, 'B-LTA', ctx);
    for (const [prev, next] of [[bb, bt], [bt, lt], [lt, lta]]) expect(next.subarray(0, prev.length).equals(prev)).toBe(true);
    const levels = [];
    for (const [i, f] of [bb, bt, lt, lta].entries()) {
      const path = save(lab.dir, `aug-${i}.pdf`, f);
      const v = pdfsig(path);
      expect(v.valid, v.out).toBe(1);
      expect(v.listed, v.out).toBe([1, 2, 2, 3][i]);
      expect(qpdfCheck(path).status).toBe(0);
      const r = (await validatePdf(f, { trustAnchors: [lab.root] })).signatures[0];
      expect(r.indication).toBe('TOTAL-PASSED');
      expect(r.pdf?.modifiedAfter).toBe(false);
      levels.push(r.level);
    }
    expect(levels).toEqual(['B-B', 'B-T', 'B-LT', 'B-LTA']);
    expect((await augmentPdf(lta, 'B-LTA', ctx)).equals(lta)).toBe(true);
  });

  it('PAdES archive renewal: fresh validation data into the DSS, then a second document time-stamp over everything; pdfsig and qpdf stay happy; both time-stamps and the signature validate', async () => {
    const lta = await signPdf(await samplePdf(true), official, { level: 'B-LTA', context: ctx });
    await expect(renewPdfArchive(await signPdf(await samplePdf(true), official, { level: 'B-LT', context: ctx }), ctx)).rejects.toMatchObject({ code: 'bad_request' });
    await new Promise((r) => setTimeout(r, 1100));
    const renewed = await renewPdfArchive(lta, ctx);
    expect(renewed.subarray(0, lta.length).equals(lta)).toBe(true);
    const path = save(lab.dir, 'renewed.pdf', renewed);
    const v = pdfsig(path);
    expect(v.valid, v.out).toBe(1);
    expect(v.listed, v.out).toBe(3); // the signature and two document time-stamps
    const q = qpdfCheck(path);
    expect(q.status, `${q.stdout}${q.stderr}`).toBe(0);
    const before = await validatePdf(lta, { trustAnchors: [lab.root], revocation: { mode: 'hard-fail' } });
    const report = await validatePdf(renewed, { trustAnchors: [lab.root], revocation: { mode: 'hard-fail' } });
    const [r] = report.signatures;
    expect(r, JSON.stringify(r, null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA', pdf: { modifiedAfter: false, coversWholeFile: false } });
    expect(report.documentTimestamps!.map((t) => t.valid)).toEqual([true, true]);
    expect(Date.parse(report.documentTimestamps![1].genTime!)).toBeGreaterThan(Date.parse(report.documentTimestamps![0].genTime!));
    // the earlier time-stamp is the same token, still valid; the DSS still serves every path offline (hard-fail above)
    expect(report.documentTimestamps![0].sha256).toBe(before.documentTimestamps![0].sha256);
    expect(r.embeddedEvidence!.ocspResponses).toBeGreaterThanOrEqual(before.signatures[0].embeddedEvidence!.ocspResponses);
    const stamps = readPdfSignatures(renewed).filter((s) => s.subFilter === 'ETSI.RFC3161');
    expect(stamps.map((s) => s.coversWholeFile)).toEqual([false, true]);
    expect(stamps[0].modifiedAfter).toBe(false);
  });
});
