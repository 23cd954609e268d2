import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { validateFile, type LevelContext } from '../../src/sign/index.js';
import { prepareSigning, completeSigning, batchOf, type PreparedItem } from '../../src/sign/two-phase/service.js';
import { isTrucError } from '../../src/errors.js';
import { labServices, openLab, samplePdf, type Lab } from './fixtures.js';
import { judgeCades, judgePdf, judgeXades, type Trust } from './judges.js';

const XML = Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<edXML><Header><Code>123/UBND-VP</Code><Subject>Về việc ký số</Subject></Header></edXML>');
const TEXT = Buffer.from('Báo cáo tháng 11 của Sở Nội vụ\n');

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isTrucError(e)) return e.code;
    throw e;
  }
  return 'accepted';
}

describe('two-phase signing: data to be signed, then the token\'s value', () => {
  let lab: Lab;
  let responder: OcspResponder;
  let ctx: LevelContext;
  let official: Awaited<ReturnType<Lab['signer']>>;
  let other: Awaited<ReturnType<Lab['signer']>>;
  let trust: Trust;
  let pdf: Buffer;

  beforeAll(async () => {
    lab = await openLab();
    ({ responder, ctx } = await labServices(lab));
    official = await lab.signer('/CN=Nguyễn Văn An/O=UBND tỉnh Hà Nam/C=VN');
    other = await lab.signer('/CN=Trần Thị Bình/O=UBND tỉnh Hà Nam/C=VN', { keyArgs: ['-newkey', 'rsa:2048'] });
    trust = { dir: lab.dir, rootPath: lab.rootPath, issuingPath: lab.issuingPath };
    pdf = await samplePdf(false);
  }, 60_000);
  afterAll(async () => {
    await responder?.stop();
    await lab?.p.close();
  });

  const cert = () => ({ certificate: official.certificate, chain: official.chain });
  const sign = (item: PreparedItem, who = official) => who.sign(Buffer.from(item.dataToBeSigned, 'base64'));
  async function roundTrip(document: Buffer, params: Record<string, unknown>) {
    const { items } = await prepareSigning(lab.p.db, 'an', cert(), [{ document, title: 'Công văn 123', params }]);
    return completeSigning(lab.p.db, 'an', items[0].handle, await sign(items[0]), ctx);
  }

  it('the same document and parameters give the same bytes to sign (PAdES visible, CAdES, XAdES)', async () => {
    const cases: [Buffer, Record<string, unknown>][] = [
      [pdf, { format: 'pades', level: 'B-T', signingTime: '2026-12-03T08:00:00Z', reason: 'Phê duyệt', location: 'Hà Nam', page: 1, visible: { rect: [300, 60, 540, 140] } }],
      [TEXT, { format: 'cades', level: 'B-LT', signingTime: '2026-12-03T08:00:00Z' }],
      [XML, { format: 'xades', level: 'B-B', signingTime: '2026-12-03T08:00:00Z', packaging: 'enveloping' }],
    ];
    for (const [document, params] of cases) {
      const a = await prepareSigning(lab.p.db, 'an', cert(), [{ document, params }]);
      const b = await prepareSigning(lab.p.db, 'an', cert(), [{ document, params }]);
      expect(a.items[0].dataToBeSigned).toBe(b.items[0].dataToBeSigned);
      expect(a.items[0].handle).not.toBe(b.items[0].handle);
      const c = await prepareSigning(lab.p.db, 'an', cert(), [{ document, params: { ...params, signingTime: '2026-12-03T08:00:01Z' } }]);
      expect(c.items[0].dataToBeSigned).not.toBe(a.items[0].dataToBeSigned);
    }
  });

  it('PAdES B-B with a visible seal and B-LTA: pdfsig and qpdf accept, our validation passes', async () => {
    const bb = await roundTrip(pdf, { format: 'pades', level: 'B-B', reason: 'Phê duyệt', location: 'Hà Nam', visible: { rect: [300, 60, 540, 140] } });
    let j = judgePdf(trust, bb.signed);
    expect(j.valid, j.out).toBe(1);
    expect(j.qpdf, j.out).toBe(0);
    expect(bb.signed.subarray(0, pdf.length).equals(pdf)).toBe(true);
    const lta = await roundTrip(pdf, { format: 'pades', level: 'B-LTA' });
    j = judgePdf(trust, lta.signed);
    expect(j.valid, j.out).toBe(1);
    expect(j.listed).toBe(2); // the signature and the document time-stamp
    const report = await validateFile(lta.signed, { trustAnchors: [lab.root] });
    expect(report.signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
  });

  it('CAdES B-T (detached) and B-LT (enveloping): openssl cms -verify and ts -verify accept', async () => {
    const bt = await roundTrip(TEXT, { format: 'cades', level: 'B-T' });
    let j = judgeCades(trust, bt.signed, TEXT);
    expect(j.cms, j.out).toBe(true);
    expect([j.stamps, j.accepted]).toEqual([1, 1]);
    const lt = await roundTrip(TEXT, { format: 'cades', level: 'B-LT', packaging: 'enveloping' });
    j = judgeCades(trust, lt.signed);
    expect(j.cms, j.out).toBe(true);
    const report = await validateFile(lt.signed, { trustAnchors: [lab.root] });
    expect(report.signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LT' });
  });

  it('XAdES enveloped B-LTA and enveloping B-B: xmlsec1 accepts', async () => {
    const lta = await roundTrip(XML, { format: 'xades', level: 'B-LTA' });
    let j = judgeXades(trust, lta.signed);
    expect(j.ok, j.out).toBe(true);
    const report = await validateFile(lta.signed, { trustAnchors: [lab.root] });
    expect(report.signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
    const bb = await roundTrip(XML, { format: 'xades', level: 'B-B', packaging: 'enveloping' });
    j = judgeXades(trust, bb.signed);
    expect(j.ok, j.out).toBe(true);
  });

  it('refuses a value from another key, then a changed document, a used handle and an expired one', async () => {
    const { items } = await prepareSigning(lab.p.db, 'an', cert(), [{ document: pdf, params: { format: 'pades', level: 'B-B' } }]);
    const h = items[0].handle;
    expect(await refusal(completeSigning(lab.p.db, 'an', h, await sign(items[0], other), ctx))).toBe('invalid_signature');
    expect(await refusal(completeSigning(lab.p.db, 'an', h, Buffer.alloc(0), ctx))).toBe('invalid_signature');
    // another principal does not see the handle
    expect(await refusal(completeSigning(lab.p.db, 'binh', h, await sign(items[0]), ctx))).toBe('not_found');
    const changed = Buffer.from(pdf);
    changed[200] ^= 1;
    expect(await refusal(completeSigning(lab.p.db, 'an', h, await sign(items[0]), ctx, { document: changed }))).toBe('document_changed');
    // after the refusals the handle still completes, once
    const done = await completeSigning(lab.p.db, 'an', h, await sign(items[0]), ctx, { document: pdf });
    expect(judgePdf(trust, done.signed).valid).toBe(1);
    expect(await refusal(completeSigning(lab.p.db, 'an', h, await sign(items[0]), ctx))).toBe('handle_used');

    const later = await prepareSigning(lab.p.db, 'an', cert(), [{ document: TEXT, params: { format: 'cades' } }], { ttlSeconds: 60 });
    const at = new Date(Date.now() + 61_000);
    expect(await refusal(completeSigning(lab.p.db, 'an', later.items[0].handle, await sign(later.items[0]), ctx, { now: () => at }))).toBe('handle_expired');
  });

  it('a level the server cannot reach gives the handle back: nothing half-signed, completed later', async () => {
    const { items } = await prepareSigning(lab.p.db, 'an', cert(), [{ document: TEXT, params: { format: 'cades', level: 'B-T' } }]);
    const value = await sign(items[0]);
    expect(await refusal(completeSigning(lab.p.db, 'an', items[0].handle, value, {}))).toBe('bad_request');
    const done = await completeSigning(lab.p.db, 'an', items[0].handle, value, ctx);
    expect(judgeCades(trust, done.signed, TEXT).cms).toBe(true);
  });

  it('a batch: one approval, one signature per document, each verifiable alone', async () => {
    const docs = [await samplePdf(false, 'Quyet dinh 1'), await samplePdf(true, 'Quyet dinh 2'), await samplePdf(false, 'Quyet dinh 3')];
    const prepared = await prepareSigning(
      lab.p.db,
      'an',
      cert(),
      docs.map((document, i) => ({ document, title: `Quyết định ${i + 1}`, params: { format: 'pades', level: 'B-T' } })),
    );
    expect(prepared.batch).toMatch(/^sb_/);
    expect(await batchOf(lab.p.db, 'an', prepared.batch!)).toEqual(prepared.items.map((i) => i.handle));
    for (const [i, item] of prepared.items.entries()) {
      const done = await completeSigning(lab.p.db, 'an', item.handle, await sign(item), ctx);
      expect(done.signed.subarray(0, docs[i].length).equals(docs[i])).toBe(true);
      expect(judgePdf(trust, done.signed).valid).toBe(1);
    }
    // a batch with one bad document leaves no handle behind
    const before = (await lab.p.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sign_pending'))[0].n;
    expect(await refusal(prepareSigning(lab.p.db, 'an', cert(), [{ document: docs[0], params: { format: 'pades' } }, { document: Buffer.from('not a pdf'), params: { format: 'pades' } }]))).toBe('malformed_pdf');
    expect((await lab.p.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sign_pending'))[0].n).toBe(before);
  });
});
