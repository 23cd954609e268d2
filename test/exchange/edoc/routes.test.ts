import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../../src/http/app.js';
import { createToken } from '../../../src/http/auth/store.js';
import { signPdf } from '../../../src/sign/index.js';
import { samplePdf } from '../../sign/fixtures.js';
import { writeFrames, FRAMES_MEDIA_TYPE } from '../../../src/exchange/edoc/frame.js';
import { openNetwork, until, AGENCIES, clientOf, type Network, type TestDesk } from './fixture.js';

describe('the document desk API', () => {
  let net: Network;
  let a: TestDesk, b: TestDesk;
  let appA: FastifyInstance, appB: FastifyInstance;
  let clerk: string, auditor: string, other: string;
  const auth = (t: string) => ({ authorization: `Bearer ${t}` });

  beforeAll(async () => {
    net = await openNetwork(AGENCIES.slice(0, 2));
    [a, b] = net.desks as [TestDesk, TestDesk];
    appA = await buildApp(net.lab.p, { docDesk: a.desk });
    appB = await buildApp(net.lab.p, { docDesk: b.desk, docOptions: { providerFrom: ['10.0.0.1'] } });
    clerk = (await createToken(net.lab.p.db, 'van.thu', ['doc-clerk'])).token;
    auditor = (await createToken(net.lab.p.db, 'kiem.toan', ['auditor'])).token;
    other = (await createToken(net.lab.p.db, 'ky.so', ['signer'])).token;
  }, 60_000);
  afterAll(async () => {
    await appA?.close();
    await appB?.close();
    await net?.close();
  });

  it('lists recipients, uploads a signed PDF (streamed), sends, shows the outbox with statuses; roles enforced; reads audited', async () => {
    const rec = await appA.inject({ method: 'GET', url: '/api/v1/doc/recipients', headers: auth(auditor) });
    expect(rec.json()).toEqual([{ id: '000.00.00.G09', name: 'Bộ Nội vụ' }]);
    expect((await appA.inject({ method: 'GET', url: '/api/v1/doc/recipients', headers: auth(other) })).statusCode).toBe(403);
    expect((await appA.inject({ method: 'GET', url: '/api/v1/doc/recipients' })).statusCode).toBe(401);

    const pdf = await signPdf(await samplePdf(false, 'Cong van 12'), a.signer);
    const up = await appA.inject({ method: 'POST', url: '/api/v1/doc/uploads', headers: { ...auth(clerk), 'content-type': 'application/pdf' }, payload: pdf });
    expect(up.statusCode).toBe(200);
    expect(up.json()).toMatchObject({ size: pdf.length });
    expect((await appA.inject({ method: 'POST', url: '/api/v1/doc/uploads', headers: { ...auth(auditor), 'content-type': 'application/pdf' }, payload: pdf })).statusCode).toBe(403);

    const body = {
      to: ['000.00.00.G09'],
      code: { number: '12', notation: 'CV-VPCP' },
      promulgation: { place: 'Hà Nội', date: '2026-12-02' },
      documentType: { type: 1, typeName: 'Công văn' },
      subject: 'Đề nghị cử cán bộ tham gia tập huấn chữ ký số',
      signer: { position: 'Chánh Văn phòng', fullName: 'Đỗ Thị Mai' },
      attachments: [
        { name: 'cong-van-12.pdf', contentType: 'application/pdf', upload: up.json().upload },
        { name: 'danh-sach.txt', data: Buffer.from('Danh sách đề cử').toString('base64') },
      ],
    };
    const sent = await appA.inject({ method: 'POST', url: '/api/v1/doc/documents', headers: auth(clerk), payload: body });
    expect(sent.statusCode).toBe(200);
    const { id, documentId } = sent.json();
    expect(documentId).toBe('000.00.00.G22,2026/12/02,12/CV-VPCP');
    await until(async () => (await appA.inject({ method: 'GET', url: `/api/v1/doc/documents/${id}/recipients`, headers: auth(auditor) })).json()[0]?.status === '01', 20_000, '01');
    const out = (await appA.inject({ method: 'GET', url: '/api/v1/doc/outbox', headers: auth(auditor) })).json();
    expect(out[0]).toMatchObject({ id, documentId, recipients: [{ organId: '000.00.00.G09', status: '01', statusLabel: 'Đã đến / arrived', delivery: { state: 'delivered' } }] });
    // search: words anywhere in DocumentId, subject, sender; LIKE characters are literal
    const found = (q: string) => appA.inject({ method: 'GET', url: `/api/v1/doc/outbox?q=${encodeURIComponent(q)}`, headers: auth(auditor) }).then((r) => r.json().map((d: { id: string }) => d.id));
    expect(await found('tập huấn CV-VPCP')).toEqual([id]);
    expect(await found('TẬP HUẤN')).toEqual([id]);
    expect(await found('%')).toEqual([]);
    expect(await found('không có')).toEqual([]);
    // a path given instead of an upload id is not a way to read the server's files
    const sneaky = await appA.inject({ method: 'POST', url: '/api/v1/doc/documents', headers: auth(clerk), payload: { ...body, code: { number: '13', notation: 'CV-VPCP' }, attachments: [{ name: 'x', upload: '../../etc/passwd' }] } });
    expect(sneaky.statusCode).toBe(400);
    // the recipient's clerk, through B's API: inbox, the document with its reports, the attachment, a status, ack
    const inbox = (await appB.inject({ method: 'GET', url: '/api/v1/doc/inbox', headers: auth(clerk) })).json();
    const item = inbox.documents.find((d: { documentId: string }) => d.documentId === documentId);
    const doc = (await appB.inject({ method: 'GET', url: `/api/v1/doc/documents/${item.id}`, headers: auth(auditor) })).json();
    expect(doc.document.validation).toMatchObject({ kind: 'xades', indication: 'TOTAL-PASSED' });
    expect(doc.attachments[0].report.signatures[0]).toMatchObject({ format: 'PAdES', indication: 'TOTAL-PASSED' });
    const file = await appB.inject({ method: 'GET', url: `/api/v1/doc/documents/${item.id}/attachments/att1`, headers: auth(auditor) });
    expect(file.headers['content-type']).toBe('application/pdf');
    expect(Buffer.from(file.rawPayload).equals(pdf)).toBe(true);
    const env = await appB.inject({ method: 'GET', url: `/api/v1/doc/documents/${item.id}/envelope`, headers: auth(auditor) });
    expect(env.body).toContain('<Subject>Đề nghị cử cán bộ tham gia tập huấn chữ ký số</Subject>');
    expect((await appB.inject({ method: 'POST', url: `/api/v1/doc/documents/${item.id}/status`, headers: auth(clerk), payload: { code: '07' } })).statusCode).toBe(400);
    const st = await appB.inject({ method: 'POST', url: `/api/v1/doc/documents/${item.id}/status`, headers: auth(clerk), payload: { code: '03', description: 'Đã vào sổ', staff: { staff: 'Lê Hoa' } } });
    expect(st.statusCode).toBe(200);
    await until(async () => (await a.desk.recipientStatuses(id))[0]?.status === '03', 20_000, '03');
    expect((await appB.inject({ method: 'POST', url: `/api/v1/doc/documents/${item.id}/ack`, headers: auth(clerk) })).statusCode).toBe(200);
    expect((await appB.inject({ method: 'GET', url: '/api/v1/doc/inbox', headers: auth(clerk) })).json().documents.some((d: { id: string }) => d.id === item.id)).toBe(false);
    const reads = await net.lab.p.db.query<{ actor: string; target: string }>(`SELECT actor, target FROM audit_log WHERE action = 'doc.read'`);
    expect(reads).toEqual(expect.arrayContaining([{ actor: 'kiem.toan', target: item.id }]));
    // recall through the API
    const rc = await appA.inject({ method: 'POST', url: `/api/v1/doc/documents/${id}/recall`, headers: auth(clerk), payload: { reason: 'Gửi nhầm' } });
    expect(rc.statusCode).toBe(200);
    expect((await a.desk.recipientStatuses(id))[0]!.status).toBe('13');
  });

  it('an upload serves one document: kept through a refused send for a corrected retry, gone once sent; one no send takes is swept after a day', async () => {
    const folder = join(a.dir, 'desk', 'uploads');
    const upload = async (text: string) => {
      const r = await appA.inject({ method: 'POST', url: '/api/v1/doc/uploads', headers: { ...auth(clerk), 'content-type': 'application/octet-stream' }, payload: Buffer.from(text) });
      expect(r.statusCode, r.body).toBe(200);
      return r.json().upload as string;
    };
    const has = (id: string) => readdirSync(folder).some((n) => n.startsWith(id));
    const up = await upload('Phụ lục kèm công văn 21');
    const body = (number: string, to: string[]) => ({
      to,
      code: { number, notation: 'CV-VPCP' },
      promulgation: { place: 'Hà Nội', date: '2026-12-02' },
      documentType: { type: 1, typeName: 'Công văn' },
      subject: 'Thử vòng đời tệp tải lên',
      signer: { position: 'Chánh Văn phòng', fullName: 'Đỗ Thị Mai' },
      attachments: [{ name: 'phu-luc.txt', contentType: 'text/plain', upload: up }],
    });
    // refused for a recipient nobody knows: the upload stays, and the corrected send takes it
    const refused = await appA.inject({ method: 'POST', url: '/api/v1/doc/documents', headers: auth(clerk), payload: body('21', ['000.00.99.Z99']) });
    expect(refused.statusCode, refused.body).toBeGreaterThanOrEqual(400);
    expect(refused.statusCode).toBeLessThan(500);
    expect(has(up)).toBe(true);
    const sent = await appA.inject({ method: 'POST', url: '/api/v1/doc/documents', headers: auth(clerk), payload: body('21', ['000.00.00.G09']) });
    expect(sent.statusCode, sent.body).toBe(200);
    expect(has(up)).toBe(false);
    // used again: there is no such upload any more
    const again = await appA.inject({ method: 'POST', url: '/api/v1/doc/documents', headers: auth(clerk), payload: body('22', ['000.00.00.G09']) });
    expect([again.statusCode, again.json().code], again.body).toEqual([404, 'not_found']);
    // an upload no send took, two days old, goes when the desk next looks (on an upload, at most hourly)
    const stale = await upload('Tệp bỏ quên');
    const file = readdirSync(folder).find((n) => n.startsWith(stale))!;
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    utimesSync(join(folder, file), twoDaysAgo, twoDaysAgo);
    (a.desk as unknown as { sweptAt: number }).sweptAt = -Infinity;
    const fresh = await upload('Tệp mới');
    expect(has(stale)).toBe(false);
    expect(has(fresh)).toBe(true);
  });

  it('provider endpoints answer the security server only, and refuse bad input with problem documents', async () => {
    // A's provider endpoints answer loopback (inject comes from 127.0.0.1); B's only 10.0.0.1
    const frames = writeFrames('<x/>', []);
    const r = await appB.inject({ method: 'POST', url: '/edoc/packages', headers: { 'x-road-client': clientOf(a.spec), 'content-type': FRAMES_MEDIA_TYPE }, payload: Buffer.concat(await arr(frames)) });
    expect([r.statusCode, r.json().code]).toEqual([403, 'forbidden']);
    const n = await appA.inject({ method: 'POST', url: '/edoc/packages', headers: { 'content-type': FRAMES_MEDIA_TYPE }, payload: Buffer.from('x') });
    expect([n.statusCode, n.json().code]).toEqual([400, 'unknown_client']);
    const bad = await appA.inject({ method: 'POST', url: '/edoc/packages', headers: { 'x-road-client': clientOf(b.spec), 'content-type': FRAMES_MEDIA_TYPE }, payload: Buffer.concat(await arr(writeFrames('<edXMLEnvelope/>', []))) });
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'bad_package']);
    const s = await appA.inject({ method: 'POST', url: '/edoc/statuses', headers: { 'x-road-client': clientOf(b.spec), 'content-type': 'application/xml' }, payload: '<Status/>' });
    expect([s.statusCode, s.json().code]).toEqual([400, 'bad_package']);
  });

  it('truc doc: send, show with the recipients’ statuses, inbox and status at the other desk (the CLI spawned against the API)', async () => {
    const urlA = await appA.listen({ port: 0, host: '127.0.0.1' });
    const urlB = await appB.listen({ port: 0, host: '127.0.0.1' });
    const truc = async (url: string, ...args: string[]) => {
      const r = await promisify(execFile)(process.execPath, ['bin/truc.js', 'doc', '--url', url, '--token', clerk, ...args], { encoding: 'utf8', timeout: 60_000 });
      return r.stdout;
    };
    const dir = mkdtempSync(join(tmpdir(), 'truc-doc-cli-'));
    const pdf = await signPdf(await samplePdf(true, 'Cong van 99'), a.signer);
    writeFileSync(join(dir, 'cong-van-99.pdf'), pdf);
    writeFileSync(join(dir, 'phu-luc.txt'), 'Phụ lục kèm theo');
    const sentText = await truc(urlA, 'send', join(dir, 'cong-van-99.pdf'), join(dir, 'phu-luc.txt'), '--to', '000.00.00.G09', '--number', '99', '--notation', 'CV-VPCP', '--subject', 'Về việc thử nghiệm dòng lệnh', '--signer-name', 'Đỗ Thị Mai', '--date', '2026-12-02', '--priority', '1');
    const sent = { documentId: '000.00.00.G22,2026/12/02,99/CV-VPCP' };
    expect(sentText).toContain(`Đã gửi / sent ${sent.documentId}`);
    const out = (await a.desk.outbox()).find((d) => d.documentId === sent.documentId)!;
    expect(out.header.otherInfo).toEqual({ priority: 1, appendixes: ['phu-luc.txt'] });
    await until(async () => (await a.desk.recipientStatuses(out.id))[0]?.status === '01', 20_000, '01');
    expect(await truc(urlA, 'show', out.id)).toMatch(/000\.00\.00\.G09.*delivered.*Đã đến/);
    const item = (await b.desk.inbox()).documents.find((d) => d.documentId === sent.documentId)!;
    expect(await truc(urlB, 'inbox')).toContain(sent.documentId);
    const save = mkdtempSync(join(tmpdir(), 'truc-doc-save-'));
    expect(await truc(urlB, 'show', item.id, '--save', save)).toMatch(/TOTAL-PASSED/);
    expect(readFileSync(join(save, 'cong-van-99.pdf')).equals(pdf)).toBe(true);
    await truc(urlB, 'status', item.id, '03', '--description', 'Đã vào sổ');
    await until(async () => (await a.desk.recipientStatuses(out.id))[0]?.status === '03', 20_000, '03');
  }, 60_000);
});

async function arr(g: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const x of g) out.push(x);
  return out;
}
