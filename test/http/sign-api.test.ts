import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { PDFDocument } from 'pdf-lib';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { searchAudit } from '../../src/audit/index.js';
import { Scanner, YaraScanner } from '../../src/monitor/scan/index.js';
import { BUILTIN_YARA_DIR } from '../../src/monitor/config.js';
import { createSignKey, signXades } from '../../src/sign/index.js';
import { OcspResponder } from '../../src/pki/ocsp/index.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import type { TestPlatform } from '../helpers/platform.js';
import { formPdf, openLab, samplePdf, save, type Lab } from '../sign/fixtures.js';
import { sealPng } from '../sign/png.js';
import { MAX_SIGN_FILE, VALIDATE_BODY_LIMIT } from '../../src/http/sign/routes.js';

/** the scanner's harmless self-test marker (src/monitor/scan/rules/truc-test.yar), split so this file is not flagged */
const MARKER = ['TRUC-SCAN-', 'SELFTEST ', '8c1d6e0b-', 'do-not-deploy'].join('');

describe('signatures HTTP API', () => {
  let p: TestPlatform;
  let lab: Lab;
  let app: FastifyInstance;
  let signer: string;
  let auditor: string;
  let agency: string;

  beforeAll(async () => {
    lab = await openLab();
    p = lab.p;
    // YARA comes with scripts/install-deps.sh: without it this fails rather than skipping the scan tests
    const yara = await YaraScanner.create([BUILTIN_YARA_DIR]);
    app = await buildApp(p, { scanner: new Scanner({ yara, maxBytes: 32 * 1024 * 1024, timeoutMs: 10_000, bus: p.bus }) });
    signer = (await createToken(p.db, 'nguyen.van.an', ['signer'])).token;
    agency = (await createToken(p.db, 'ubnd.bac-ninh', ['signer'])).token;
    auditor = (await createToken(p.db, 'kiem.toan', ['auditor'])).token;
    await createSignKey(p.db, p.keys, p.issuer, { principal: 'nguyen.van.an', subject: 'C=VN, O=Bộ Tư pháp, CN=Nguyễn Văn An', profile: 'official-signing', actor: 'test' });
    await createSignKey(p.db, p.keys, p.issuer, { principal: 'ubnd.bac-ninh', subject: 'C=VN, O=UBND tỉnh Bắc Ninh, CN=UBND tỉnh Bắc Ninh', profile: 'agency-signing', algorithm: 'RSA-2048', actor: 'test' });
  });
  afterAll(async () => {
    await app?.close();
    await lab?.p.close();
  });
  const auth = (t: string) => ({ authorization: `Bearer ${t}` });

  it('signs a PDF with the caller\'s held key (visible, then an agency seal); validate answers TOTAL-PASSED; pdfsig agrees; audited and published', async () => {
    const pdf = await samplePdf(true);
    const r = await app.inject({ method: 'POST', url: '/api/v1/sign?level=B-B&rect=50,80,300,150&reason=Ph%C3%AA%20duy%E1%BB%87t', headers: { ...auth(signer), 'content-type': 'application/pdf' }, payload: pdf });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.headers['content-type']).toMatch(/application\/pdf/);
    const once = r.rawPayload;
    expect(once.subarray(0, pdf.length).equals(pdf)).toBe(true);
    const j = await app.inject({ method: 'POST', url: '/api/v1/sign', headers: auth(agency), payload: { file: once.toString('base64'), visible: { rect: [320, 60, 560, 160], image: sealPng().toString('base64') } } });
    expect(j.statusCode, j.body).toBe(200);
    const twice = j.rawPayload;
    const path = save(lab.dir, 'http-signed.pdf', twice);
    const sig = spawnSync('pdfsig', [path], { encoding: 'utf8' });
    expect((sig.stdout.match(/Signature is Valid/g) ?? []).length, sig.stdout).toBe(2);

    const v = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: { ...auth(auditor), 'content-type': 'application/pdf' }, payload: twice });
    expect(v.statusCode, v.body).toBe(200);
    const report = v.json();
    expect(report.signatures.map((s: any) => s.indication)).toEqual(['TOTAL-PASSED', 'TOTAL-PASSED']);
    expect(report.signatures.map((s: any) => s.signer.commonName)).toEqual(['Nguyễn Văn An', 'UBND tỉnh Bắc Ninh']);
    const text = await app.inject({ method: 'POST', url: '/api/v1/validate?format=text', headers: { ...auth(auditor), 'content-type': 'application/pdf' }, payload: twice });
    expect(text.headers['content-type']).toMatch(/text\/plain/);
    expect(text.body).toContain('Người ký: Nguyễn Văn An');
    expect(text.body).toMatch(/\+07:00/);
    // hard-fail when asked (truc verify --hard-fail through a running server): B-B carries no revocation status
    const hard = await app.inject({ method: 'POST', url: '/api/v1/validate?revocation=hard-fail', headers: { ...auth(auditor), 'content-type': 'application/pdf' }, payload: twice });
    expect(hard.json().signatures.map((s: any) => s.indication)).toEqual(['INDETERMINATE', 'INDETERMINATE']);
    const odd = await app.inject({ method: 'POST', url: '/api/v1/validate?revocation=sometimes', headers: { ...auth(auditor), 'content-type': 'application/pdf' }, payload: twice });
    expect(odd.json()).toMatchObject({ status: 400, code: 'bad_request' });

    const audit = (await searchAudit(p.db, { limit: 1000 })).filter((a) => a.action === 'sign.sign' && a.outcome === 'success');
    expect(audit.map((a) => a.actor).sort()).toEqual(['nguyen.van.an', 'ubnd.bac-ninh']);
    expect(p.events.filter((e) => e.subject === 'truc.sign.document.signed')).toHaveLength(2);
  });

  it('signs other files as detached CAdES and validates them with their content sent as JSON', async () => {
    const content = Buffer.from('Quyết định số 15/QĐ-UBND\n');
    const r = await app.inject({ method: 'POST', url: '/api/v1/sign', headers: { ...auth(signer), 'content-type': 'application/octet-stream' }, payload: content });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.headers['content-type']).toMatch(/application\/pkcs7-signature/);
    const p7s = r.rawPayload;
    const ok = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: auth(auditor), payload: { file: p7s.toString('base64'), content: content.toString('base64') } });
    expect(ok.json().signatures[0]).toMatchObject({ format: 'CAdES', indication: 'TOTAL-PASSED' });
    const before = p.events.filter((e) => e.subject === 'truc.sign.validation.failed').length;
    const bad = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: auth(auditor), payload: { file: p7s.toString('base64'), content: Buffer.from('Quyết định số 16/QĐ-UBND\n').toString('base64') } });
    expect(bad.json().signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });
    const xml = await app.inject({ method: 'POST', url: '/api/v1/validate?format=xml', headers: auth(auditor), payload: { file: p7s.toString('base64'), content: content.toString('base64'), format: 'xml' } });
    expect(xml.headers['content-type']).toMatch(/application\/xml/);
    expect(xml.body).toContain('<vr:MainIndication>urn:etsi:019102:mainindication:total-passed</vr:MainIndication>');
    const html = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: auth(auditor), payload: { file: p7s.toString('base64'), content: content.toString('base64'), format: 'html' } });
    expect(html.headers['content-type']).toMatch(/text\/html/);
    expect(html.body).toMatch(/Người ký<\/th><td>/);
    const raw = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: { ...auth(auditor), 'content-type': 'application/pkcs7-signature' }, payload: p7s });
    expect(raw.json().signatures[0], raw.body).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'SIGNED_DATA_NOT_FOUND' }); // no content to check the digest against
    expect(p.events.filter((e) => e.subject === 'truc.sign.validation.failed').length).toBe(before + 2);
  });

  it('certifies a PDF (DocMDP P=2) and locks form fields (FieldMDP) on request; a bad certify value or an unknown field is refused', async () => {
    const pdf = await samplePdf(false);
    const r = await app.inject({ method: 'POST', url: '/api/v1/sign?certify=2', headers: { ...auth(signer), 'content-type': 'application/pdf' }, payload: pdf });
    expect(r.statusCode, r.body).toBe(200);
    const v = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: { ...auth(auditor), 'content-type': 'application/pdf' }, payload: r.rawPayload });
    expect(v.json().signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', pdf: { certification: { permissions: 2, violations: [] } } });
    const bad = await app.inject({ method: 'POST', url: '/api/v1/sign?certify=4', headers: { ...auth(signer), 'content-type': 'application/pdf' }, payload: pdf });
    expect(bad.statusCode).toBe(400);
    // a FieldMDP lock asked in the query, and in JSON
    const form = await formPdf(false);
    const q = await app.inject({ method: 'POST', url: '/api/v1/sign?lock=Include:soHieu,nguoiNhan', headers: { ...auth(signer), 'content-type': 'application/pdf' }, payload: form });
    expect(q.statusCode, q.body).toBe(200);
    const jl = await app.inject({ method: 'POST', url: '/api/v1/sign', headers: auth(signer), payload: { file: form.toString('base64'), lock: { action: 'Exclude', fields: ['ghiChu'] } } });
    expect(jl.statusCode, jl.body).toBe(200);
    for (const [signedForm, action] of [[q.rawPayload, 'Include'], [jl.rawPayload, 'Exclude']] as const) {
      const lv = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: { ...auth(auditor), 'content-type': 'application/pdf' }, payload: signedForm });
      expect(lv.json().signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', pdf: { fieldLock: { action, violations: [] } } });
    }
    expect((await app.inject({ method: 'POST', url: '/api/v1/sign?lock=Include:khongCo', headers: { ...auth(signer), 'content-type': 'application/pdf' }, payload: form })).statusCode).toBe(400);
  });

  it('validates XAdES sent as application/xml: enveloped, enveloping, and detached with its content in JSON', async () => {
    const s = await lab.signer('/CN=Lê Thị Lan/O=Văn phòng Chính phủ/C=VN');
    const xml = await signXades('<edXML xmlns="urn:vn:edxml"><Subject>Về việc họp</Subject></edXML>', s);
    const v = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: { ...auth(signer), 'content-type': 'application/xml' }, payload: xml });
    expect(v.statusCode, v.body).toBe(200);
    expect(v.json().signatures[0]).toMatchObject({ format: 'XAdES', indication: 'TOTAL-PASSED' });
    // enveloping, and detached with its content as JSON (without it: SIGNED_DATA_NOT_FOUND, 200 with the report)
    const enveloping = await signXades('<edXML xmlns="urn:vn:edxml"><Subject>Về việc họp</Subject></edXML>', s, { packaging: 'enveloping' });
    const e = await app.inject({ method: 'POST', url: '/api/v1/validate?format=text&lang=vi', headers: { ...auth(signer), 'content-type': 'application/xml' }, payload: enveloping });
    expect(e.statusCode, e.body).toBe(200);
    expect(e.body).toMatch(/Kết quả: TOTAL-PASSED \(Hợp lệ\)/);
    const pdf = await samplePdf(false);
    const detached = await signXades(pdf, s, { packaging: 'detached', contentUri: 'giay-moi.pdf' });
    const d = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: auth(signer), payload: { file: Buffer.from(detached).toString('base64'), content: pdf.toString('base64') } });
    expect(d.json().signatures[0], d.body).toMatchObject({ format: 'XAdES', indication: 'TOTAL-PASSED' });
    const alone = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: { ...auth(signer), 'content-type': 'application/xml' }, payload: detached });
    expect(alone.json().signatures[0]).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'SIGNED_DATA_NOT_FOUND' });
    // named documents (a detached signature over several files takes them so): each reference takes the one it names
    const file = Buffer.from(detached).toString('base64');
    const named = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: auth(signer), payload: { file, contents: [{ name: 'khac.txt', file: Buffer.from('không được ký').toString('base64') }, { name: 'giay-moi.pdf', file: pdf.toString('base64') }] } });
    const ns = named.json().signatures[0];
    expect(ns, named.body).toMatchObject({ indication: 'TOTAL-PASSED' });
    expect(ns.signedData[0]).toMatchObject({ uri: 'giay-moi.pdf', file: 'giay-moi.pdf', matchedBy: 'uri', digestMatches: true });
    expect(ns.warnings.join('\n')).toMatch(/no reference of the signature names or digests: khac.txt/);
    const malformed = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: auth(signer), payload: { file, contents: [{ file: pdf.toString('base64') }] } });
    expect(malformed.statusCode, malformed.body).toBe(400);
  });

  it('accepts files beyond the default body limit (a 3 MB PDF)', async () => {
    const doc = await PDFDocument.create();
    doc.addPage();
    await doc.attach(randomBytes(3 * 1024 * 1024), 'du-lieu.bin', { mimeType: 'application/octet-stream' });
    const big = Buffer.from(await doc.save());
    expect(big.length).toBeGreaterThan(3 * 1024 * 1024);
    const v = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: { ...auth(auditor), 'content-type': 'application/pdf' }, payload: big });
    expect(v.statusCode, v.body).toBe(200);
    expect(v.json().signatures).toEqual([]);
  });

  it('refuses oversized uploads with a 413 problem naming the limit, before validating or scanning anything', async () => {
    const before = p.events.filter((e) => /scan/.test(e.subject)).length;
    // a raw body within the route's transport limit but over the 25 MB a file may have
    const raw = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(MAX_SIGN_FILE + 1, 0x20)]);
    const r = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: { ...auth(auditor), 'content-type': 'application/pdf' }, payload: raw });
    expect(r.statusCode, r.body).toBe(413);
    expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(r.json()).toMatchObject({ status: 413, code: 'too_large', max: MAX_SIGN_FILE });
    expect(r.json().detail ?? r.json().title).toMatch(new RegExp(`more than ${MAX_SIGN_FILE} bytes`));
    // the same file base64 in JSON
    const json = JSON.stringify({ file: raw.toString('base64') });
    const j = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: { ...auth(auditor), 'content-type': 'application/json' }, payload: json });
    expect(j.statusCode, j.body.slice(0, 300)).toBe(413);
    expect(j.json()).toMatchObject({ status: 413, code: 'too_large', max: MAX_SIGN_FILE });
    // a body over the route's transport limit is cut off by the server, and the problem names that limit
    const huge = `{"file":"${'A'.repeat(VALIDATE_BODY_LIMIT)}"}`;
    const h = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: { ...auth(auditor), 'content-type': 'application/json' }, payload: huge });
    expect(h.statusCode, h.body.slice(0, 300)).toBe(413);
    expect(h.json()).toMatchObject({ status: 413, code: 'too_large', max: VALIDATE_BODY_LIMIT });
    expect(h.json().detail ?? h.json().title).toMatch(new RegExp(`exceeds ${VALIDATE_BODY_LIMIT} bytes`));
    expect(p.events.filter((e) => /scan/.test(e.subject)).length).toBe(before);
  });

  it('refuses: no credentials 401, a non-signer 403, a signer without a held key 404, an unknown level 400', async () => {
    const pdf = await samplePdf(true);
    expect((await app.inject({ method: 'POST', url: '/api/v1/validate', headers: { 'content-type': 'application/pdf' }, payload: pdf })).statusCode).toBe(401);
    const f = await app.inject({ method: 'POST', url: '/api/v1/sign', headers: { ...auth(auditor), 'content-type': 'application/pdf' }, payload: pdf });
    expect(f.statusCode).toBe(403);
    expect(f.json()).toMatchObject({ code: 'forbidden', permission: 'sign.sign' });
    const keyless = (await createToken(p.db, 'khong.co.khoa', ['signer'])).token;
    const n = await app.inject({ method: 'POST', url: '/api/v1/sign', headers: { ...auth(keyless), 'content-type': 'application/pdf' }, payload: pdf });
    expect(n.statusCode).toBe(404);
    const l = await app.inject({ method: 'POST', url: '/api/v1/sign?level=B-X', headers: { ...auth(signer), 'content-type': 'application/pdf' }, payload: pdf });
    expect(l.statusCode).toBe(400);
    const t = await app.inject({ method: 'POST', url: '/api/v1/sign?level=B-T', headers: { ...auth(signer), 'content-type': 'application/pdf' }, payload: pdf });
    expect(t.statusCode).toBe(400); // no TSA in this app
  });

  it('signs at B-T, B-LT and B-LTA with the TSA and OCSP responder in process (PDF and CAdES); the validate endpoint answers TOTAL-PASSED at each level', async () => {
    const tsa = new TimeStampAuthority(p.pki, p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
    await tsa.start();
    const ocsp = new OcspResponder(p.pki, p.issuer, { validityMinutes: 60, refreshBeforeMinutes: 10, signWith: 'delegated', pollSeconds: 60 });
    await ocsp.start();
    const levelled = await buildApp(p, { tsa, ocsp });
    try {
      const pdf = await samplePdf(false);
      const content = Buffer.from('Báo cáo số 21/BC-UBND về lưu trữ điện tử\n');
      for (const level of ['B-T', 'B-LT', 'B-LTA'] as const) {
        const r = await levelled.inject({ method: 'POST', url: `/api/v1/sign?level=${level}&reason=L%C6%B0u%20tr%E1%BB%AF`, headers: { ...auth(signer), 'content-type': 'application/pdf' }, payload: pdf });
        expect(r.statusCode, r.body).toBe(200);
        expect(r.headers['x-truc-signature-level']).toBe(level);
        const signed = r.rawPayload;
        const ps = spawnSync('pdfsig', [save(lab.dir, `http-${level}.pdf`, signed)], { encoding: 'utf8' });
        expect((ps.stdout.match(/Signature is Valid/g) ?? []).length, ps.stdout).toBe(1);
        const v = await levelled.inject({ method: 'POST', url: '/api/v1/validate', headers: { ...auth(auditor), 'content-type': 'application/pdf' }, payload: signed });
        expect(v.statusCode, v.body).toBe(200);
        const report = v.json();
        const [s] = report.signatures;
        expect(s, `${level}: ${v.body}`).toMatchObject({ format: 'PAdES', level, indication: 'TOTAL-PASSED', pdf: { modifiedAfter: false } });
        expect(s.timestamps.every((t: any) => t.valid)).toBe(true);
        expect(s.bestSignatureTime).toBeDefined();
        if (level !== 'B-T') expect(s.embeddedEvidence.crls + s.embeddedEvidence.ocspResponses).toBeGreaterThan(0);
        if (level === 'B-LTA') expect(report.documentTimestamps).toMatchObject([{ type: 'document', valid: true }]);

        const c = await levelled.inject({ method: 'POST', url: `/api/v1/sign?level=${level}`, headers: { ...auth(agency), 'content-type': 'application/octet-stream' }, payload: content });
        expect(c.statusCode, c.body).toBe(200);
        expect(c.headers['x-truc-signature-level']).toBe(level);
        const cv = await levelled.inject({ method: 'POST', url: '/api/v1/validate', headers: auth(auditor), payload: { file: c.rawPayload.toString('base64'), content: content.toString('base64') } });
        const [cs] = cv.json().signatures;
        expect(cs, `${level}: ${cv.body}`).toMatchObject({ format: 'CAdES', level, indication: 'TOTAL-PASSED' });
        expect(cs.timestamps.map((t: any) => [t.type, t.valid])).toEqual(level === 'B-LTA' ? [['signature', true], ['archive', true]] : [['signature', true]]);
        expect(cs.signer.commonName).toBe('UBND tỉnh Bắc Ninh');
      }
      const audit = (await searchAudit(p.db, { limit: 1000 })).filter((a) => a.action === 'sign.sign' && a.outcome === 'success' && ['B-T', 'B-LT', 'B-LTA'].includes((a.detail as { level?: string }).level ?? ''));
      expect(audit).toHaveLength(6);
    } finally {
      await levelled.close();
      await ocsp.stop();
    }
  });

  it('refuses an infected upload with 422 malware_detected and events', async () => {
    const pdf = Buffer.concat([await samplePdf(true), Buffer.from(`%${MARKER}\n`)]);
    for (const url of ['/api/v1/validate', '/api/v1/sign']) {
      const r = await app.inject({ method: 'POST', url, headers: { ...auth(signer), 'content-type': 'application/pdf' }, payload: pdf });
      expect(r.statusCode, r.body).toBe(422);
      expect(r.json()).toMatchObject({ code: 'malware_detected' });
    }
    expect(p.events.filter((e) => e.subject === 'truc.sign.upload.refused')).toHaveLength(2);
    expect(p.events.some((e) => e.subject === 'truc.scan.malware.detected')).toBe(true);
  });
});
