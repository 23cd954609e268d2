import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toPem } from '../../src/asn1/der.js';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { searchAudit } from '../../src/audit/index.js';
import { Scanner, YaraScanner } from '../../src/monitor/scan/index.js';
import { BUILTIN_YARA_DIR } from '../../src/monitor/config.js';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import { signCades, signPdf, signXades, signXadesDetached, validateFile } from '../../src/sign/index.js';
import { openLab, samplePdf, type Lab } from '../sign/fixtures.js';
import { judgeCades, judgePdf, judgeXades } from '../sign/judges.js';

/** the scanner's harmless self-test marker (src/monitor/scan/rules/truc-test.yar), split so this file is not flagged */
const MARKER = ['TRUC-SCAN-', 'SELFTEST ', '8c1d6e0b-', 'do-not-deploy'].join('');
const CONTENT = Buffer.from('Tờ trình số 8/TTr-STP về số hoá hồ sơ lưu trữ\n');
const EDXML = '<edXML xmlns="urn:vn:edxml"><Header><Code>8/STP-VP</Code></Header><Subject>Về việc số hoá</Subject></edXML>';
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

type Case = { name: string; kind: 'pdf' | 'cms' | 'xml'; type: string; bb: Buffer; content?: Buffer };

describe('POST /api/v1/augment', () => {
  let lab: Lab;
  let app: FastifyInstance;
  let ocsp: OcspResponder;
  let auditor: string;
  let signer: string;
  const cases: Case[] = [];
  const reached: Record<string, Record<string, Buffer>> = {};
  const auth = (t: string) => ({ authorization: `Bearer ${t}` });
  const trust = () => ({ dir: lab.dir, rootPath: lab.rootPath, issuingPath: lab.issuingPath });

  beforeAll(async () => {
    lab = await openLab();
    const tsa = new TimeStampAuthority(lab.p.pki, lab.p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
    await tsa.start();
    ocsp = new OcspResponder(lab.p.pki, lab.p.issuer, { validityMinutes: 60, refreshBeforeMinutes: 10, signWith: 'delegated', pollSeconds: 60 });
    await ocsp.start();
    const yara = await YaraScanner.create([BUILTIN_YARA_DIR]);
    app = await buildApp(lab.p, { tsa, ocsp, scanner: new Scanner({ yara, maxBytes: 32 * 1024 * 1024, timeoutMs: 10_000, bus: lab.p.bus }) });
    auditor = (await createToken(lab.p.db, 'luu.tru', ['auditor'])).token;
    signer = (await createToken(lab.p.db, 'pham.thi.thu', ['signer'])).token;
    const s = await lab.signer('/CN=Phạm Thị Thu/O=Sở Tư pháp/C=VN');
    cases.push(
      { name: 'PAdES', kind: 'pdf', type: 'application/pdf', bb: await signPdf(await samplePdf(true), s) },
      { name: 'CAdES detached', kind: 'cms', type: 'application/pkcs7-signature', bb: await signCades(CONTENT, s), content: CONTENT },
      { name: 'CAdES enveloping', kind: 'cms', type: 'application/pkcs7-mime', bb: await signCades(CONTENT, s, { packaging: 'enveloping' }) },
      { name: 'XAdES', kind: 'xml', type: 'application/xml', bb: Buffer.from(await signXades(EDXML, s)) },
    );
  });
  afterAll(async () => {
    await app?.close();
    await ocsp?.stop();
    await lab?.p.close();
  });

  /** raw body, or JSON {file, content} when a detached signature's content must travel with it */
  const send = (c: Case, file: Buffer, query: string, token = auditor, withContent = false) =>
    app.inject({
      method: 'POST',
      url: `/api/v1/augment?${query}`,
      headers: withContent ? auth(token) : { ...auth(token), 'content-type': c.kind === 'pdf' ? 'application/pdf' : c.kind === 'xml' ? 'application/xml' : 'application/pkcs7-signature' },
      payload: withContent ? { file: file.toString('base64'), content: c.content!.toString('base64') } : file,
    });

  async function judged(c: Case, bytes: Buffer, level: string, archives: number): Promise<void> {
    const report = await validateFile(bytes, { trustAnchors: [lab.root], revocation: { mode: level === 'B-T' ? 'soft-fail' : 'hard-fail' }, ...(c.content ? { content: c.content } : {}) });
    expect(report.signatures[0], `${c.name} ${level}: ${JSON.stringify(report.signatures[0], null, 1)}`).toMatchObject({ indication: 'TOTAL-PASSED', level });
    if (c.kind === 'pdf') {
      const j = judgePdf(trust(), bytes);
      expect(j.qpdf, j.out).toBe(0);
      expect(j.valid, j.out).toBe(1);
      expect(j.listed, j.out).toBe(level === 'B-LTA' ? 2 + archives : 2);
      expect((report.documentTimestamps ?? []).filter((t) => t.valid)).toHaveLength(level === 'B-LTA' ? 1 + archives : 1);
    } else if (c.kind === 'cms') {
      const j = judgeCades(trust(), bytes, c.content);
      expect(j.cms, j.out).toBe(true);
      expect([j.stamps, j.accepted], j.out).toEqual([1 + archives, 1 + archives]);
      expect(report.signatures[0].timestamps!.filter((t) => t.type === 'archive' && t.valid)).toHaveLength(archives);
    } else {
      const j = judgeXades(trust(), bytes);
      expect(j.ok, j.out).toBe(true);
      expect(report.signatures[0].timestamps!.filter((t) => t.type === 'archive' && t.valid)).toHaveLength(archives);
    }
  }

  it('raises PAdES, CAdES (detached and enveloping) and XAdES B-B → B-T → B-LT → B-LTA for a validator; each result TOTAL-PASSED at its level for us and the independent tools; audited and published', async () => {
    for (const c of cases) {
      reached[c.name] = { 'B-B': c.bb };
      let prev = c.bb;
      for (const level of ['B-T', 'B-LT', 'B-LTA'] as const) {
        // the detached signature travels alone up to B-LT, with its content (JSON) for B-LTA
        const r = await send(c, prev, `level=${level}`, auditor, !!c.content && level === 'B-LTA');
        expect(r.statusCode, `${c.name} ${level}: ${r.body}`).toBe(200);
        expect(r.headers['content-type']).toContain(c.type);
        expect(r.headers['x-truc-signature-level']).toBe(level);
        expect(r.headers['x-truc-augmented']).toBe('true');
        await judged(c, r.rawPayload, level, level === 'B-LTA' ? 1 : 0);
        reached[c.name][level] = r.rawPayload;
        prev = r.rawPayload;
      }
    }
    // a PDF is raised by incremental updates: the B-B bytes are the start of the B-LTA file
    expect(reached.PAdES['B-LTA'].subarray(0, reached.PAdES['B-B'].length).equals(reached.PAdES['B-B'])).toBe(true);
    const audit = (await searchAudit(lab.p.db, { limit: 1000 })).filter((a) => a.action === 'sign.augment' && a.outcome === 'success');
    expect(audit).toHaveLength(12);
    expect(new Set(audit.map((a) => a.actor))).toEqual(new Set(['luu.tru']));
    expect(audit.find((a) => a.target === sha(reached.XAdES['B-LT']))?.detail).toMatchObject({ kind: 'xml', from: 'B-LT', level: 'B-LTA', augmentedSha256: sha(reached.XAdES['B-LTA']) });
    expect(lab.p.events.filter((e) => e.subject === 'truc.sign.document.augmented')).toHaveLength(12);
  }, 180_000);

  it('renews the archive time-stamp (renew=true): a second one over fresh validation data; still TOTAL-PASSED for us and the independent tools', async () => {
    expect(Object.keys(reached)).toHaveLength(cases.length);
    await new Promise((r) => setTimeout(r, 1100)); // a later genTime for the renewal
    for (const c of cases) {
      const r = await send(c, reached[c.name]['B-LTA'], 'renew=true', signer, !!c.content);
      expect(r.statusCode, `${c.name}: ${r.body}`).toBe(200);
      expect(r.headers['x-truc-signature-level']).toBe('B-LTA');
      await judged(c, r.rawPayload, 'B-LTA', 2);
    }
    const renewed = (await searchAudit(lab.p.db, { limit: 1000 })).filter((a) => a.action === 'sign.augment' && (a.detail as { renewed?: boolean }).renewed);
    expect(renewed.map((a) => a.actor)).toEqual(['pham.thi.thu', 'pham.thi.thu', 'pham.thi.thu', 'pham.thi.thu']);
  }, 120_000);

  it('refuses: no credentials 401, not a signature 400, a broken signature 422, a higher level or renewing below B-LTA 409, a detached B-LTA without content 400, no TSA 400, malware 422; failures audited', async () => {
    expect(Object.keys(reached)).toHaveLength(cases.length);
    const [pdf, detached, , xades] = cases;
    const problem = async (res: Promise<{ statusCode: number; json(): any; body: string }>, status: number, code: string, detail?: RegExp) => {
      const r = await res;
      expect(r.statusCode, r.body).toBe(status);
      expect(r.json()).toMatchObject({ code });
      if (detail) expect(r.json().detail).toMatch(detail);
    };
    const failuresBefore = (await searchAudit(lab.p.db, { limit: 1000 })).filter((a) => a.action === 'sign.augment' && a.outcome === 'failure').length;
    await problem(app.inject({ method: 'POST', url: '/api/v1/augment?level=B-T', headers: { 'content-type': 'application/pdf' }, payload: pdf.bb }), 401, 'unauthenticated');
    await problem(app.inject({ method: 'POST', url: '/api/v1/augment?level=B-T', headers: { ...auth(auditor), 'content-type': 'application/octet-stream' }, payload: Buffer.from('không phải chữ ký') }), 400, 'unsupported', /not a PDF, CMS or XML signature/);
    await problem(send(pdf, await samplePdf(false), 'level=B-T'), 400, 'bad_request', /no signature to augment/);
    await problem(send(pdf, pdf.bb, 'level=B-X'), 400, 'bad_request');
    await problem(send(pdf, pdf.bb, 'level=B-B'), 400, 'bad_request', /B-T, B-LT or B-LTA/);
    await problem(send(pdf, pdf.bb, ''), 400, 'bad_request', /level .* or renew=true is required/);
    const tampered = Buffer.from(pdf.bb);
    tampered[tampered.indexOf('\n%', 0, 'latin1') + 2] ^= 1;
    await problem(send(pdf, tampered, 'level=B-T'), 422, 'invalid_signature', /TOTAL-FAILED/);
    await problem(
      app.inject({ method: 'POST', url: '/api/v1/augment?level=B-LTA', headers: auth(auditor), payload: { file: reached['CAdES detached']['B-LT'].toString('base64'), content: Buffer.from('khác').toString('base64') } }),
      422,
      'invalid_signature',
      /HASH_FAILURE/,
    );
    await problem(send(pdf, reached.PAdES['B-LTA'], 'level=B-LT'), 409, 'conflict', /already at B-LTA/);
    await problem(send(xades, reached.XAdES['B-LT'], 'renew=true'), 409, 'conflict', /only a B-LTA signature/);
    await problem(send(detached, reached['CAdES detached']['B-LT'], 'level=B-LTA'), 400, 'bad_request', /signed content is needed/);
    // already there: the same bytes back
    const same = await send(xades, reached.XAdES['B-LT'], 'level=B-LT');
    expect(same.statusCode).toBe(200);
    expect(same.headers['x-truc-augmented']).toBe('false');
    expect(same.rawPayload.equals(reached.XAdES['B-LT'])).toBe(true);
    // a server without a TSA cannot time-stamp
    const noTsa = await buildApp(lab.p, {});
    try {
      await problem(noTsa.inject({ method: 'POST', url: '/api/v1/augment?level=B-T', headers: { ...auth(auditor), 'content-type': 'application/pdf' }, payload: pdf.bb }), 400, 'bad_request', /time-stamper/);
    } finally {
      await noTsa.close();
    }
    const failures = (await searchAudit(lab.p.db, { limit: 1000 })).filter((a) => a.action === 'sign.augment' && a.outcome === 'failure');
    expect(failures.length - failuresBefore).toBe(11); // every refusal after authentication and the scan
    expect(failures.some((a) => (a.detail as { code?: string }).code === 'conflict')).toBe(true);
    expect(lab.p.events.filter((e) => e.subject === 'truc.sign.augment.failed').length).toBeGreaterThanOrEqual(11);
    // an infected upload is refused before anything else
    const infected = Buffer.concat([pdf.bb, Buffer.from(`%${MARKER}\n`)]);
    await problem(send(pdf, infected, 'level=B-T'), 422, 'malware_detected');
    expect(lab.p.events.filter((e) => e.subject === 'truc.sign.upload.refused')).toHaveLength(1);
  }, 120_000);

  it('gives a CMS signature sent as PEM back as PEM', async () => {
    const [, detached] = cases;
    const pem = toPem('CMS', detached.bb);
    const r = await app.inject({ method: 'POST', url: '/api/v1/augment?level=B-T', headers: { ...auth(auditor), 'content-type': 'application/pkcs7-signature' }, payload: pem });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.body).toMatch(/^-----BEGIN CMS-----\n[\s\S]*-----END CMS-----\n$/);
    const report = await validateFile(r.rawPayload, { trustAnchors: [lab.root], content: CONTENT });
    expect(report.signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-T' });
  });

  it('raises a detached XAdES signature over several files to B-LTA with JSON contents [{name, file}]; xmlsec1 resolves each file, TOTAL-PASSED; a missing file refused before any time-stamp', async () => {
    const s = await lab.signer('/CN=Đỗ Văn Hùng/O=Sở Nội vụ/C=VN');
    const docs = [
      { name: 'to-trinh.pdf', content: Buffer.from('%PDF-1.7\n% tờ trình\n') },
      { name: 'phu luc.txt', content: Buffer.from('Phụ lục: danh sách hồ sơ\n') },
      { name: 'bang-ke.csv', content: CONTENT },
    ];
    // xmlsec1 (judgeXades) resolves the references' relative URIs from the lab folder
    for (const d of docs) writeFileSync(join(lab.dir, d.name), d.content);
    const bb = Buffer.from(await signXadesDetached(docs, s));
    const contents = (list: typeof docs) => list.map((d) => ({ name: d.name, file: d.content.toString('base64') }));
    const post = (file: Buffer, level: string, list: typeof docs) =>
      app.inject({ method: 'POST', url: `/api/v1/augment?level=${level}`, headers: auth(auditor), payload: { file: file.toString('base64'), contents: contents(list) } });
    const lt = await post(bb, 'B-LT', docs);
    expect(lt.statusCode, lt.body).toBe(200);
    // the files in another order: each reference takes its own by name
    const r = await post(lt.rawPayload, 'B-LTA', [docs[2], docs[0], docs[1]]);
    expect(r.statusCode, r.body).toBe(200);
    expect(r.headers['x-truc-signature-level']).toBe('B-LTA');
    const report = await validateFile(r.rawPayload, { trustAnchors: [lab.root], revocation: { mode: 'hard-fail' }, content: docs });
    expect(report.signatures[0], JSON.stringify(report.signatures[0], null, 1)).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LTA' });
    expect(report.signatures[0].timestamps!.filter((t) => t.type === 'archive' && t.valid)).toHaveLength(1);
    const j = judgeXades(trust(), r.rawPayload);
    expect(j.ok, j.out).toBe(true);
    // the archive time-stamp covers every file: one changed and the signature fails
    const changed = await validateFile(r.rawPayload, { trustAnchors: [lab.root], content: [docs[0], docs[1], { name: 'bang-ke.csv', content: Buffer.from('khác') }] });
    expect(changed.signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
    // one file missing: refused before a time-stamp is taken
    const missing = await post(lt.rawPayload, 'B-LTA', docs.slice(0, 2));
    expect(missing.statusCode, missing.body).toBe(400);
    expect(missing.json()).toMatchObject({ code: 'bad_request', detail: expect.stringMatching(/matches none of the files given/) });
  }, 120_000);

  it('is in the OpenAPI document with its query parameters', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const op = doc.paths['/api/v1/augment'].post;
    expect(op.tags).toEqual(['signatures']);
    expect(op.parameters.map((p: any) => [p.name, p.in])).toEqual(expect.arrayContaining([['level', 'query'], ['renew', 'query']]));
  });
});
