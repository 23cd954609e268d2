import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createToken } from '../../src/http/auth/store.js';
import { searchAudit } from '../../src/audit/index.js';
import type { OcspResponder } from '../../src/pki/ocsp/index.js';
import { openLab, samplePdf, type Lab } from '../sign/fixtures.js';
import { judgePdf, judgeXades, type Trust } from '../sign/judges.js';
import { signingServer } from '../agent/fixture.js';

describe('two-phase signing over HTTP', () => {
  let lab: Lab;
  let app: FastifyInstance;
  let responder: OcspResponder;
  let signer: string;
  let auditor: string;
  let official: Awaited<ReturnType<Lab['signer']>>;
  let other: Awaited<ReturnType<Lab['signer']>>;
  let trust: Trust;

  beforeAll(async () => {
    lab = await openLab();
    ({ app, responder, apiToken: signer } = await signingServer(lab));
    auditor = (await createToken(lab.p.db, 'kiem.toan', ['auditor'])).token;
    official = await lab.signer('/CN=Nguyễn Văn An/O=Bộ Tư pháp/C=VN');
    other = await lab.signer('/CN=Lê Văn Cường/O=Bộ Tư pháp/C=VN');
    trust = { dir: lab.dir, rootPath: lab.rootPath, issuingPath: lab.issuingPath };
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await responder?.stop();
    await lab?.p.close();
  });
  const auth = (t: string) => ({ authorization: `Bearer ${t}` });
  const value = (item: { dataToBeSigned: string }, who = official) => Buffer.from(who.sign(Buffer.from(item.dataToBeSigned, 'base64')) as Buffer).toString('base64');

  it('prepare then complete a visible PAdES B-LT: pdfsig accepts, the server validates it TOTAL-PASSED, both steps audited', async () => {
    const pdf = await samplePdf(false);
    const r = await app.inject({
      method: 'POST',
      url: '/api/v1/sign/prepare',
      headers: auth(signer),
      payload: { certificate: Buffer.from(official.certificate).toString('base64'), chain: official.chain!.map((c) => Buffer.from(c).toString('base64')), file: pdf.toString('base64'), title: 'Quyết định 12/QĐ', format: 'pades', level: 'B-LT', reason: 'Phê duyệt', page: 2, visible: { rect: [320, 60, 560, 140] } },
    });
    expect(r.statusCode, r.body).toBe(200);
    const [item] = r.json().items;
    expect(item).toMatchObject({ title: 'Quyết định 12/QĐ', hash: 'sha256', scheme: 'ecdsa-sha256' });
    // another key's value is refused and the handle stays usable
    const bad = await app.inject({ method: 'POST', url: '/api/v1/sign/complete', headers: auth(signer), payload: { handle: item.handle, signature: value(item, other) } });
    expect(bad.statusCode, bad.body).toBe(422);
    expect(bad.json().code).toBe('invalid_signature');
    const c = await app.inject({ method: 'POST', url: '/api/v1/sign/complete', headers: auth(signer), payload: { handle: item.handle, signature: value(item) } });
    expect(c.statusCode, c.body).toBe(200);
    expect(c.headers['content-type']).toMatch(/application\/pdf/);
    expect(judgePdf(trust, c.rawPayload).valid).toBe(1);
    const v = await app.inject({ method: 'POST', url: '/api/v1/validate', headers: { ...auth(auditor), 'content-type': 'application/pdf' }, payload: c.rawPayload });
    expect(v.json().signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LT' });
    const again = await app.inject({ method: 'POST', url: '/api/v1/sign/complete', headers: auth(signer), payload: { handle: item.handle, signature: value(item) } });
    expect([again.statusCode, again.json().code]).toEqual([409, 'handle_used']);
    const audit = (await searchAudit(lab.p.db, { limit: 1000 })).filter((a) => a.action.startsWith('sign.prepare') || a.action.startsWith('sign.complete'));
    expect(audit.map((a) => `${a.action}:${a.outcome}`).sort()).toEqual(['sign.complete:failure', 'sign.complete:failure', 'sign.complete:success', 'sign.prepare:success']);
    expect(lab.p.events.some((e) => e.subject === 'truc.sign.document.signed')).toBe(true);
  });

  it('a batch of XAdES documents completed in one call; roles are checked', async () => {
    const docs = [1, 2].map((n) => Buffer.from(`<edXML><Code>${n}/UBND</Code></edXML>`).toString('base64'));
    const r = await app.inject({ method: 'POST', url: '/api/v1/sign/prepare', headers: auth(signer), payload: { certificate: Buffer.from(official.certificate).toString('base64'), items: docs.map((file, i) => ({ file, title: `Văn bản ${i + 1}`, format: 'xades', level: 'B-T' })) } });
    expect(r.statusCode, r.body).toBe(200);
    const { batch, items } = r.json();
    expect(batch).toMatch(/^sb_/);
    const c = await app.inject({ method: 'POST', url: '/api/v1/sign/complete', headers: auth(signer), payload: { items: items.map((it: { handle: string; dataToBeSigned: string }) => ({ handle: it.handle, signature: value(it) })) } });
    expect(c.statusCode, c.body).toBe(200);
    for (const it of c.json().items) expect(judgeXades(trust, Buffer.from(it.file, 'base64')).ok).toBe(true);
    const forbidden = await app.inject({ method: 'POST', url: '/api/v1/sign/prepare', headers: auth(auditor), payload: { certificate: Buffer.from(official.certificate).toString('base64'), file: docs[0], format: 'xades' } });
    expect(forbidden.statusCode).toBe(403);
    const none = await app.inject({ method: 'POST', url: '/api/v1/sign/complete', payload: { handle: items[0].handle, signature: 'AA==' } });
    expect(none.statusCode).toBe(401);
  });
});
