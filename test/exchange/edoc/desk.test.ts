import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmp } from '../../helpers/openssl.js';
import { signPdf, signXades, DEFAULT_ALGORITHM_POLICY } from '../../../src/sign/index.js';
import type { SendInput } from '../../../src/exchange/edoc/desk.js';
import { writeEnvelope, parseEnvelope } from '../../../src/exchange/edoc/xml.js';
import { writeFrames, FRAMES_MEDIA_TYPE } from '../../../src/exchange/edoc/frame.js';
import { writeStatus } from '../../../src/exchange/edoc/status.js';
import { verifySigned } from '../../../src/exchange/edoc/verify.js';
import { post } from '../../../src/exchange/edoc/transport.js';
import { samplePdf } from '../../sign/fixtures.js';
import { openNetwork, until, clientOf, type Network, type TestDesk } from './fixture.js';
import { samplePackage } from './samples.js';

let net: Network;
let vpcp: TestDesk, bnv: TestDesk, hcm: TestDesk;
let pdf: Buffer;

beforeAll(async () => {
  net = await openNetwork();
  [vpcp, bnv, hcm] = net.desks as [TestDesk, TestDesk, TestDesk];
  pdf = await signPdf(await samplePdf(true, 'Quyet dinh so 7816'), vpcp.signer);
}, 60_000);
afterAll(async () => net?.close());

const DSNS = 'http://www.w3.org/2000/09/xmldsig#';
const ENVELOPED_T = `<ds:Transform Algorithm="${DSNS}enveloped-signature"/>`;
const EXC_T = '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>';
/**
 * An older document system's plain XML-DSig, made by xmlsec1 (not by us): rsa-sha1 over the whole document
 * (URI="", the given transforms, SHA-1 digest), the signer's certificate in KeyInfo.
 */
function legacySign(xml: string, signer: { keyPath: string; certPath: string }, transforms = ENVELOPED_T + EXC_T): Buffer {
  const template =
    `<ds:Signature xmlns:ds="${DSNS}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="${DSNS}rsa-sha1"/>` +
    `<ds:Reference URI=""><ds:Transforms>${transforms}</ds:Transforms><ds:DigestMethod Algorithm="${DSNS}sha1"/><ds:DigestValue/></ds:Reference></ds:SignedInfo>` +
    '<ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>';
  const dir = tmp('truc-legacy-');
  const at = xml.lastIndexOf('</');
  writeFileSync(join(dir, 't.xml'), `${xml.slice(0, at)}${template}${xml.slice(at)}`);
  const r = spawnSync('xmlsec1', ['--sign', '--privkey-pem', `${signer.keyPath},${signer.certPath}`, '--output', join(dir, 's.xml'), join(dir, 't.xml')], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return readFileSync(join(dir, 's.xml'));
}

let serial = 7000;
function decision(to: string[], extra: Partial<SendInput> = {}): SendInput {
  serial++;
  return {
    to,
    code: { number: String(serial), notation: 'QĐ-VPCP' },
    promulgation: { place: 'Hà Nội', date: '2026-12-02' },
    documentType: { type: 2, typeName: 'Quyết định' },
    subject: `Quyết định số ${serial} về việc thí điểm trục liên thông văn bản`,
    content: 'Giao các cơ quan triển khai thí điểm; báo cáo kết quả trước ngày 31/12/2026.',
    signer: { competence: 'KT. BỘ TRƯỞNG, CHỦ NHIỆM', position: 'Phó Chủ nhiệm', fullName: 'Nguyễn Sỹ Hiệp' },
    otherInfo: { priority: 1, appendixes: ['Phụ lục: danh sách cơ quan'] },
    attachments: [
      { name: `${serial}-QĐ-VPCP.pdf`, contentType: 'application/pdf', description: 'Văn bản chính đã ký số', bytes: pdf },
      { name: 'Phụ lục.txt', contentType: 'text/plain', bytes: Buffer.from('Danh sách: Bộ Nội vụ; UBND TP. Hồ Chí Minh\n') },
    ],
    ...extra,
  };
}

const statusOf = async (d: TestDesk, id: string, organId: string) => (await d.desk.recipientStatuses(id)).find((r) => r.organId === organId);
const inboxDoc = async (d: TestDesk, documentId: string, docType = 0) => (await d.desk.inbox({ all: true })).documents.find((x) => x.documentId === documentId && x.docType === docType);
const G22 = '000.00.00.G22', G09 = '000.00.00.G09', H29 = '000.00.31.H29';

describe('the document desk between three agencies (through the stand-in relay)', () => {
  it('sends one signed decision to two agencies in one call; both take it, report 01, and the recipients see the document, its attachments and verdicts', async () => {
    const sent = await vpcp.desk.send(decision([G09, H29]), 'clerk@vpcp');
    expect(sent.documentId).toBe(`${G22},2026/12/02,${serial}/QĐ-VPCP`);
    expect(sent.recipients.map((r) => r.client)).toEqual([clientOf(bnv.spec), clientOf(hcm.spec)]);
    for (const organ of [G09, H29]) await until(async () => (await statusOf(vpcp, sent.id, organ))?.status === '01', 20_000, `01 from ${organ}`);
    const view = await vpcp.desk.get(sent.id);
    expect(view.recipients.map((r) => [r.organId, r.delivery?.state, r.status])).toEqual([
      [G09, 'delivered', '01'],
      [H29, 'delivered', '01'],
    ]);
    // the relay saw X-Road REST calls to each recipient's edoc service, as VPCP's subsystem
    expect(net.relay.forwarded.filter((f) => f.path.endsWith('/edoc/packages')).map((f) => [f.path, f.client])).toEqual(
      expect.arrayContaining([
        [`/r1/VN/GOV/${G09}/vanthu/edoc/packages`, clientOf(vpcp.spec)],
        [`/r1/VN/PROV/${H29}/vanthu/edoc/packages`, clientOf(vpcp.spec)],
      ]),
    );
    for (const d of [bnv, hcm]) {
      const item = await inboxDoc(d, sent.documentId);
      expect(item).toBeTruthy();
      const got = await d.desk.get(item!.id);
      expect(got.document.header.subject).toBe(`Quyết định số ${serial} về việc thí điểm trục liên thông văn bản`);
      expect(got.document.header.from.organName).toBe('Văn phòng Chính phủ');
      expect((got.document.validation as { kind: string; indication: string; signerCommonName: string }).indication).toBe('TOTAL-PASSED');
      expect((got.document.validation as { signerCommonName: string }).signerCommonName).toBe('Văn phòng Chính phủ');
      expect((got.document.validation as { signerMember: string }).signerMember).toBe('VN/GOV/000.00.00.G22');
      expect(got.attachments.map((a) => a.attachmentName)).toEqual([`${serial}-QĐ-VPCP.pdf`, 'Phụ lục.txt']);
      const pdfReport = got.attachments[0]!.report as { signatures: { indication: string; format: string }[] };
      expect(pdfReport.signatures.map((s) => [s.format, s.indication])).toEqual([['PAdES', 'TOTAL-PASSED']]);
      const a = await d.desk.attachment(item!.id, 'att1');
      expect(readFileSync(a.attachment.path).equals(pdf)).toBe(true);
      // the signed envelope is kept as it travelled and verifies again
      expect(parseEnvelope(await d.desk.envelope(item!.id)).header.documentId).toBe(sent.documentId);
      expect(d.events.map((e) => e.subject)).toContain('truc.exchange.doc.received');
    }
    expect(vpcp.events.map((e) => e.subject)).toEqual(expect.arrayContaining(['truc.exchange.doc.sent', 'truc.exchange.doc.delivered', 'truc.exchange.doc.status.received']));
    // monitoring sees who sent and who (which subsystem) delivered
    expect(vpcp.events.find((e) => e.subject === 'truc.exchange.doc.sent' && (e.event.truc as { id: string }).id === sent.id)!.event.user).toEqual({ name: 'clerk@vpcp' });
    expect(bnv.events.find((e) => e.subject === 'truc.exchange.doc.received' && (e.event.truc as { document_id: string }).document_id === sent.documentId)!.event.user).toEqual({ name: `xroad:${clientOf(vpcp.spec)}` });
    // the clerk acknowledges: the item leaves the inbox (still found with all)
    const item = await inboxDoc(bnv, sent.documentId);
    expect((await bnv.desk.inbox()).documents.some((x) => x.id === item!.id)).toBe(true);
    await bnv.desk.ack(item!.id, 'clerk@bnv');
    expect((await bnv.desk.inbox()).documents.some((x) => x.id === item!.id)).toBe(false);
    expect((await bnv.desk.inbox({ all: true })).documents.some((x) => x.id === item!.id)).toBe(true);
    // every step is in each desk's audit log
    const actions = (await vpcp.db.query<{ action: string }>('SELECT action FROM audit_log ORDER BY seq')).map((r) => r.action);
    expect(actions).toEqual(expect.arrayContaining(['doc.send', 'doc.delivered', 'doc.status.receive']));
    const bactions = (await bnv.db.query<{ action: string }>('SELECT action FROM audit_log ORDER BY seq')).map((r) => r.action);
    expect(bactions).toEqual(expect.arrayContaining(['doc.receive', 'doc.status', 'doc.status.delivered', 'doc.ack']));
  });

  it('every status code flows back: 03 04 05 06 from one, 02 from the other; recall of the done one refused (16), recall accepted (15), update accepted (15 → 01)', async () => {
    const sent = await vpcp.desk.send(decision([G09, H29]), 'clerk@vpcp');
    await until(async () => (await statusOf(vpcp, sent.id, G09))?.status === '01' && (await statusOf(vpcp, sent.id, H29))?.status === '01', 20_000, '01s');
    const b = (await inboxDoc(bnv, sent.documentId))!;
    const h = (await inboxDoc(hcm, sent.documentId))!;
    for (const code of ['03', '04', '05', '06'] as const) {
      await bnv.desk.sendStatus(b.id, code, { description: `Trạng thái ${code}`, staff: { department: 'Văn phòng Bộ', staff: 'Lê Thị Hoa' } }, 'clerk@bnv');
      await until(async () => (await statusOf(vpcp, sent.id, G09))?.status === code, 20_000, `status ${code}`);
    }
    await hcm.desk.sendStatus(h.id, '02', { description: 'Không thuộc thẩm quyền' }, 'clerk@hcm');
    await until(async () => (await statusOf(vpcp, sent.id, H29))?.status === '02', 20_000, '02');
    const st = await statusOf(vpcp, sent.id, H29);
    expect(st!.statusLabel).toBe('Từ chối tiếp nhận / refused');
    // a status that may not follow is refused at the desk before it travels
    await expect(bnv.desk.sendStatus(b.id, '05', {}, 'clerk@bnv')).rejects.toMatchObject({ code: 'conflict' });
    // the sender's view has every packet, signed and verified
    const view = await vpcp.desk.get(sent.id);
    expect(view.statuses.filter((s) => s.organId === G09).map((s) => s.code)).toEqual(['01', '03', '04', '05', '06']);
    expect(view.statuses.every((s) => (s.validation as { indication: string }).indication === 'TOTAL-PASSED')).toBe(true);
    expect(view.statuses.find((s) => s.code === '03')!.staff).toEqual({ department: 'Văn phòng Bộ', staff: 'Lê Thị Hoa' });

    // recall: BNV is done (06) → it refuses by itself (16) and stays done; HCM refused (02)... the recall still asks it (13)
    const r = await vpcp.desk.recall(sent.id, 'Ban hành nhầm', 'clerk@vpcp');
    expect(r.documentId).toBe(sent.documentId);
    expect((await statusOf(vpcp, sent.id, G09))!.status).toBe('13');
    await until(async () => (await statusOf(vpcp, sent.id, G09))?.status === '06', 20_000, 'recall refused (16) then back to 06');
    expect((await vpcp.desk.get(sent.id)).statuses.filter((s) => s.organId === G09).map((s) => s.code)).toEqual(['01', '03', '04', '05', '06', '16']);
    await until(async () => (await inboxDoc(hcm, sent.documentId, 1)) !== undefined, 20_000, 'recall at HCM');
    expect((await hcm.desk.get(h.id)).document.state).toEqual({ code: '13', before: '02', pending: 'recall' });
    await hcm.desk.sendStatus(h.id, '15', { description: 'Đồng ý thu hồi' }, 'clerk@hcm');
    await until(async () => (await statusOf(vpcp, sent.id, H29))?.status === '15', 20_000, '15');
    expect((await statusOf(vpcp, sent.id, H29))!.state).toEqual({ code: '15', recalled: true });
    await expect(hcm.desk.sendStatus(h.id, '03', {}, 'clerk@hcm')).rejects.toMatchObject({ code: 'conflict' });

    // update: a new version with a corrected subject and appendix; BNV (not yet done on this one) accepts
    const s2 = await vpcp.desk.send(decision([G09]), 'clerk@vpcp');
    await until(async () => (await statusOf(vpcp, s2.id, G09))?.status === '01', 20_000, '01');
    await vpcp.desk.update(s2.id, { subject: 'Quyết định (đính chính) về việc thí điểm', updateInfo: ['Subject'], attachments: [{ name: 'Đính chính.txt', bytes: Buffer.from('Sửa Điều 2') }] }, 'Đính chính trích yếu', 'clerk@vpcp');
    const upd = await until(async () => inboxDoc(bnv, s2.documentId, 2), 20_000, 'update at BNV');
    const updView = await bnv.desk.get(upd.id);
    expect(updView.document.header.subject).toBe('Quyết định (đính chính) về việc thí điểm');
    expect(updView.document.header.business).toMatchObject({ docType: 2, docReason: 'Đính chính trích yếu', updateInfo: ['Subject'] });
    expect(updView.attachments.map((a) => a.attachmentName)).toEqual(['Đính chính.txt']);
    await bnv.desk.sendStatus(upd.id, '15', { description: 'Đồng ý cập nhật' }, 'clerk@bnv');
    await until(async () => (await vpcp.desk.get(s2.id)).statuses.filter((s) => s.organId === G09).map((s) => s.code).join() === '01,15,01', 20_000, 'update accepted and arrived again');
    expect((await statusOf(vpcp, s2.id, G09))!.status).toBe('01');

    // replace: a new number replacing the old one; the recipient takes it and accepts the replacement of the old
    const s3 = await vpcp.desk.send(decision([H29]), 'clerk@vpcp');
    await until(async () => (await statusOf(vpcp, s3.id, H29))?.status === '01', 20_000, '01');
    const rep = await vpcp.desk.replace(s3.id, { ...decision([H29], { steeringType: 2 }), to: undefined }, 'Thay thế do sai căn cứ', 'clerk@vpcp');
    await until(async () => (await statusOf(vpcp, rep.id, H29))?.status === '01', 20_000, 'replacement arrived');
    // the replacement is a document of its own: its header as given (steering type included), naming the one it replaces
    const repIn = (await hcm.desk.get((await inboxDoc(hcm, rep.documentId, 3))!.id)).document.header;
    expect(repIn.steeringType).toBe(2);
    expect(repIn.business).toMatchObject({ docType: 3, docReason: 'Thay thế do sai căn cứ', replaces: [{ documentId: s3.documentId }] });
    const old = (await inboxDoc(hcm, s3.documentId))!;
    expect((await hcm.desk.get(old.id)).document.state).toMatchObject({ code: '13', pending: 'replace' });
    await hcm.desk.sendStatus(old.id, '15', {}, 'clerk@hcm');
    await until(async () => (await statusOf(vpcp, s3.id, H29))?.status === '15', 20_000, 'replacement accepted');
  });

  it('a retried delivery is taken once: the second answer says duplicate and the inbox shows one item', async () => {
    const sent = await vpcp.desk.send(decision([G09]), 'clerk@vpcp');
    await until(async () => (await statusOf(vpcp, sent.id, G09))?.status === '01', 20_000, '01');
    const before = (await bnv.desk.inbox({ all: true })).documents.filter((d) => d.documentId === sent.documentId).length;
    expect(before).toBe(1);
    // the same package again, as a retry after a lost answer would bring it
    const envelope = await vpcp.desk.envelope(sent.id);
    const atts = await Promise.all(['att1', 'att2'].map(async (c) => (await vpcp.desk.attachment(sent.id, c)).attachment));
    const frames = () => writeFrames(envelope, atts.map((a) => ({ contentId: a.contentId, path: a.path, size: a.size })));
    const again = await post(`${net.relay.url}/r1/VN/GOV/${G09}/vanthu/edoc/packages`, { 'x-road-client': clientOf(vpcp.spec), 'content-type': FRAMES_MEDIA_TYPE }, frames(), 30_000);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ duplicate: true, documentId: sent.documentId });
    // two at once
    const both = await Promise.all([0, 1].map(() => post(`${bnv.url}/edoc/packages`, { 'x-road-client': clientOf(vpcp.spec), 'content-type': FRAMES_MEDIA_TYPE }, frames(), 30_000)));
    expect(both.map((b) => b.status)).toEqual([200, 200]);
    expect((await bnv.desk.inbox({ all: true })).documents.filter((d) => d.documentId === sent.documentId)).toHaveLength(1);
    expect(bnv.events.filter((e) => e.subject === 'truc.exchange.doc.duplicate').length).toBeGreaterThanOrEqual(3);
    // a different document under the same DocumentId is refused
    const p = parseEnvelope(envelope);
    const other = await signXades(writeEnvelope({ ...p, header: { ...p.header, subject: 'Một văn bản khác' }, attachments: [] }), vpcp.signer);
    const c = await post(`${bnv.url}/edoc/packages`, { 'x-road-client': clientOf(vpcp.spec), 'content-type': FRAMES_MEDIA_TYPE }, writeFrames(other, []), 30_000);
    expect(c.status).toBe(409);
    // sending the same number twice from the desk is refused too
    const first = decision([G09]);
    await vpcp.desk.send(first, 'clerk@vpcp');
    await expect(vpcp.desk.send({ ...decision([G09]), code: first.code }, 'clerk@vpcp')).rejects.toMatchObject({ code: 'conflict' });
  });

  it('the recipient down while sending: retried with back-off, delivered when it returns (sender not restarted), never reported delivered before', async () => {
    await hcm.down();
    const sent = await vpcp.desk.send(decision([G09, H29]), 'clerk@vpcp');
    await until(async () => (await statusOf(vpcp, sent.id, G09))?.status === '01', 20_000, 'BNV got it');
    await until(async () => ((await statusOf(vpcp, sent.id, H29))?.delivery?.attempts ?? 0) >= 3, 20_000, 'retries to HCM');
    const waiting = (await statusOf(vpcp, sent.id, H29))!;
    expect(waiting.delivery!.state).toBe('pending');
    expect(waiting.delivery!.deliveredAt).toBeNull();
    expect(waiting.delivery!.lastError).toMatch(/502 service_failed/);
    expect(vpcp.events.some((e) => e.subject === 'truc.exchange.doc.delivery.retry')).toBe(true);
    expect(await inboxDoc(hcm, sent.documentId)).toBeUndefined();
    await hcm.up();
    await until(async () => (await statusOf(vpcp, sent.id, H29))?.status === '01', 20_000, 'delivered after return');
    expect((await statusOf(vpcp, sent.id, H29))!.delivery!.state).toBe('delivered');
    expect((await hcm.desk.inbox({ all: true })).documents.filter((d) => d.documentId === sent.documentId)).toHaveLength(1);
  });

  it('deliveries persist: a sender closed with deliveries pending resumes them when opened again', async () => {
    await bnv.down();
    const sent = await vpcp.desk.send(decision([G09]), 'clerk@vpcp');
    await until(async () => ((await statusOf(vpcp, sent.id, G09))?.delivery?.attempts ?? 0) >= 1, 20_000, 'a failed attempt');
    await vpcp.reopen();
    await bnv.up();
    await until(async () => (await statusOf(vpcp, sent.id, G09))?.status === '01', 20_000, 'delivered after the sender reopened');
  });

  it('refuses, with a named error and an event, and keeps nothing: tampered attachment, missing or bad signature, foreign signer, wrong sender, not a recipient, unknown recipient, status for an unknown document', async () => {
    const base = samplePackage();
    const content = Buffer.from('Nội dung văn bản chính');
    const pkg = { ...base, header: { ...base.header, documentId: `${G22},2026/12/02,9001/VPCP-TTĐT`, code: { number: '9001', notation: 'VPCP-TTĐT' }, responseFor: [] }, attachments: [{ contentId: 'att1', contentType: 'text/plain', attachmentName: 'vb.txt', size: content.length, sha256: createHash('sha256').update(content).digest('hex') }] };
    const signed = await signXades(writeEnvelope(pkg), vpcp.signer);
    const deliver = (xml: string, body: Buffer, client = clientOf(vpcp.spec)) =>
      post(`${bnv.url}/edoc/packages`, { 'x-road-client': client, 'content-type': FRAMES_MEDIA_TYPE }, writeFrames(xml, [{ contentId: 'att1', bytes: body, size: body.length }]), 30_000);
    const refusedBefore = bnv.events.filter((e) => e.subject === 'truc.exchange.doc.receive.refused').length;

    const tampered = Buffer.from(content);
    tampered[3] ^= 1;
    const t = await deliver(signed, tampered);
    expect([t.status, (t.body as { code: string }).code]).toEqual([422, 'attachment_mismatch']);
    const unsigned = writeEnvelope(pkg);
    const u = await deliver(unsigned, content);
    expect([u.status, (u.body as { code: string }).code]).toEqual([422, 'invalid_signature']);
    expect((u.body as { detail: string }).detail).toMatch(/no signature/);
    const altered = signed.replace('Về việc triển khai', 'Về việc hủy bỏ');
    const a = await deliver(altered, content);
    expect([a.status, (a.body as { code: string }).code]).toEqual([422, 'invalid_signature']);
    // signed by a key whose certificate is not from our CA
    const foreign = await signXades(writeEnvelope(pkg), await selfSigned());
    const f = await deliver(foreign, content);
    expect([f.status, (f.body as { code: string }).code]).toEqual([422, 'invalid_signature']);
    // signed by another agency's key (BNV's), though it says VPCP and comes from VPCP's subsystem
    const byOther = await signXades(writeEnvelope(pkg), bnv.signer);
    const o = await deliver(byOther, content);
    expect([o.status, (o.body as { code: string }).code]).toEqual([422, 'invalid_signature']);
    expect((o.body as { detail: string }).detail).toMatch(/member VN\/GOV\/000\.00\.00\.G09.*not by the sending agency VN\/GOV\/000\.00\.00\.G22/);
    // an attachment the manifest names is missing; one it does not name is added
    const none = await post(`${bnv.url}/edoc/packages`, { 'x-road-client': clientOf(vpcp.spec), 'content-type': FRAMES_MEDIA_TYPE }, writeFrames(signed, []), 30_000);
    expect([none.status, (none.body as { code: string; detail: string }).code]).toEqual([422, 'attachment_mismatch']);
    expect((none.body as { detail: string }).detail).toMatch(/att1 \(vb\.txt\) is missing/);
    const extra = await post(`${bnv.url}/edoc/packages`, { 'x-road-client': clientOf(vpcp.spec), 'content-type': FRAMES_MEDIA_TYPE }, writeFrames(signed, [{ contentId: 'att1', bytes: content, size: content.length }, { contentId: 'att9', bytes: content, size: content.length }]), 30_000);
    expect([extra.status, (extra.body as { code: string }).code]).toEqual([422, 'attachment_mismatch']);
    // the package says VPCP, the calling member is HCM
    const w = await deliver(signed, content, clientOf(hcm.spec));
    expect([w.status, (w.body as { code: string }).code]).toEqual([403, 'forbidden']);
    // BNV is not among the recipients of a package only for HCM
    const onlyHcm = await signXades(writeEnvelope({ ...pkg, header: { ...pkg.header, to: [pkg.header.to[1]!] } }), vpcp.signer);
    const n = await deliver(onlyHcm, content);
    expect([n.status, (n.body as { code: string }).code]).toEqual([404, 'unknown_member']);
    // not a frames body at all
    const g = await post(`${bnv.url}/edoc/packages`, { 'x-road-client': clientOf(vpcp.spec) }, Buffer.from('<edXMLEnvelope/>'), 30_000);
    expect([g.status, (g.body as { code: string }).code]).toEqual([400, 'bad_package']);
    expect((await bnv.desk.inbox({ all: true })).documents.some((d) => d.documentId === pkg.header.documentId)).toBe(false);
    expect(bnv.events.filter((e) => e.subject === 'truc.exchange.doc.receive.refused').length - refusedBefore).toBe(10);
    const denied = await bnv.db.query<{ detail: { code: string } }>(`SELECT detail FROM audit_log WHERE action = 'doc.receive' AND outcome = 'denied'`);
    expect(denied.map((d) => d.detail.code)).toEqual(expect.arrayContaining(['attachment_mismatch', 'invalid_signature', 'forbidden', 'unknown_member', 'bad_package']));

    // an unknown recipient is refused at the sender, before anything is signed
    await expect(vpcp.desk.send(decision(['000.00.99.X99']), 'clerk@vpcp')).rejects.toMatchObject({ code: 'unknown_member' });
    // a status for a document never sent
    const status = await signXades(
      writeStatus({ responseFor: { organId: G22, code: '1/X', promulgationDate: '2026-12-02', documentId: `${G22},2026/12/02,1/X` }, from: bnv.spec.organ, code: '01', timestamp: new Date().toISOString() }),
      bnv.signer,
    );
    const s = await post(`${vpcp.url}/edoc/statuses`, { 'x-road-client': clientOf(bnv.spec), 'content-type': 'application/xml' }, Buffer.from(status), 30_000);
    expect([s.status, (s.body as { code: string }).code]).toEqual([404, 'unknown_document']);
    // a status body beyond the bound
    const huge = await post(`${vpcp.url}/edoc/statuses`, { 'x-road-client': clientOf(bnv.spec), 'content-type': 'application/xml' }, Buffer.alloc(2 * 1024 * 1024, 0x20), 30_000).catch((e) => ({ status: 0, body: { code: String(e) } }));
    expect(huge.status).toBe(413);
    // and a recall of a document never received
    const recall = await signXades(writeEnvelope({ ...pkg, header: { ...pkg.header, documentId: `${G22},2026/12/02,1/X`, code: { number: '1', notation: 'X' }, business: { docType: 1, docReason: 'Thu hồi' } }, attachments: [] }), vpcp.signer);
    const rc = await post(`${bnv.url}/edoc/packages`, { 'x-road-client': clientOf(vpcp.spec), 'content-type': FRAMES_MEDIA_TYPE }, writeFrames(recall, []), 30_000);
    expect([rc.status, (rc.body as { code: string }).code]).toEqual([404, 'unknown_document']);
  });

  it('legacy plain XML-DSig with rsa-sha1: refused under the default policy, accepted where the policy allows SHA-1, with the verdict', async () => {
    const rsa = await net.lab.signer('/CN=Hệ thống cũ/O=Bộ Nội vụ/C=VN', { keyArgs: ['-newkey', 'rsa:2048'] });
    const bnvLegacy = await net.lab.signer('/CN=Hệ thống văn thư cũ/O=Bộ Nội vụ/C=VN/serialNumber=VN\\/GOV\\/000.00.00.G09', { keyArgs: ['-newkey', 'rsa:2048'] });
    const legacy = legacySign(writeEnvelope(samplePackage()), rsa);
    const refused = await verifySigned(legacy, { trustAnchors: [net.lab.root], intermediates: [net.lab.issuing] }).catch((e) => e);
    expect(refused.code).toBe('invalid_signature');
    expect(refused.detail.verdict).toMatchObject({ kind: 'legacy-xmldsig', accepted: false, subIndication: 'CRYPTO_CONSTRAINTS_FAILURE_NO_POE' });
    const allowing = { ...DEFAULT_ALGORITHM_POLICY, sha1: null };
    const ok = await verifySigned(legacy, { trustAnchors: [net.lab.root], intermediates: [net.lab.issuing], algorithmPolicy: allowing });
    expect(ok).toMatchObject({ kind: 'legacy-xmldsig', accepted: true, indication: 'TOTAL-PASSED', signerCommonName: 'Hệ thống cũ' });
    expect(ok.warnings.join(' ')).toMatch(/SHA-1/);
    // through a desk: BNV's old document system sends to VPCP; VPCP's desk refuses under the default
    // policy, and a desk whose operator allows SHA-1 takes it with the verdict kept
    const legacyPkg = samplePackage();
    legacyPkg.header = { ...legacyPkg.header, from: bnv.spec.organ, to: [vpcp.spec.organ], documentId: '000.00.00.G09,2026/12/02,321/BNV-VP', code: { number: '321', notation: 'BNV-VP' }, responseFor: [] };
    legacyPkg.attachments = [];
    const legacyXml = legacySign(writeEnvelope(legacyPkg), bnvLegacy);
    const legacyFrames = () => writeFrames(legacyXml.toString('utf8'), []);
    const refusedAtDesk = await post(`${vpcp.url}/edoc/packages`, { 'x-road-client': clientOf(bnv.spec), 'content-type': FRAMES_MEDIA_TYPE }, legacyFrames(), 30_000);
    expect([refusedAtDesk.status, (refusedAtDesk.body as { code: string }).code]).toEqual([422, 'invalid_signature']);
    expect((refusedAtDesk.body as { verdict: { subIndication: string } }).verdict.subIndication).toBe('CRYPTO_CONSTRAINTS_FAILURE_NO_POE');
    const before = vpcp.options.validation;
    vpcp.options.validation = { ...before, algorithmPolicy: allowing };
    await vpcp.reopen();
    try {
      const taken = await post(`${vpcp.url}/edoc/packages`, { 'x-road-client': clientOf(bnv.spec), 'content-type': FRAMES_MEDIA_TYPE }, legacyFrames(), 30_000);
      expect(taken.status).toBe(200);
      const got = await vpcp.desk.get((taken.body as { id: string }).id);
      expect(got.document.validation).toMatchObject({ kind: 'legacy-xmldsig', accepted: true, signerMember: 'VN/GOV/000.00.00.G09' });
    } finally {
      vpcp.options.validation = before;
      await vpcp.reopen();
    }
    // altered after signing: refused whatever the policy, as a changed document; a forged value as such
    const anchors = { trustAnchors: [net.lab.root], intermediates: [net.lab.issuing], algorithmPolicy: allowing };
    const altered = Buffer.from(legacy.toString('utf8').replace('Về việc triển khai', 'Về việc hủy'));
    const changed = await verifySigned(altered, anchors).catch((e) => e);
    expect(changed.code).toBe('invalid_signature');
    expect(changed.detail.verdict).toMatchObject({ kind: 'legacy-xmldsig', accepted: false, indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE', signerCommonName: 'Hệ thống cũ' });
    const sv = /<ds:SignatureValue>([^<]+)</.exec(legacy.toString('utf8'))![1].replace(/\s+/g, '');
    const flipped = Buffer.from(sv, 'base64');
    flipped[9] ^= 1;
    const forged = await verifySigned(Buffer.from(legacy.toString('utf8').replace(/<ds:SignatureValue>[^<]+</, `<ds:SignatureValue>${flipped.toString('base64')}<`)), anchors).catch((e) => e);
    expect(forged.detail.verdict).toMatchObject({ accepted: false, indication: 'TOTAL-FAILED', subIndication: 'SIG_CRYPTO_FAILURE' });
    // a signature that leaves part of the document out (an XPath transform, valid for xmlsec1) is refused:
    // the subject could then be changed freely
    const partial = legacySign(
      writeEnvelope(samplePackage()),
      rsa,
      `${ENVELOPED_T}<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>not(ancestor-or-self::*[local-name()='Subject'])</ds:XPath></ds:Transform>${EXC_T}`,
    );
    const cut = await verifySigned(partial, anchors).catch((e) => e);
    expect(cut.detail.verdict).toMatchObject({ accepted: false, subIndication: 'FORMAT_FAILURE' });
  });
});

/** A signer with a self-signed certificate (not from our CA). */
async function selfSigned() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { spawnSync } = await import('node:child_process');
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'truc-foreign-'));
  writeFileSync(join(dir, 'k.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  spawnSync('openssl', ['req', '-new', '-x509', '-key', join(dir, 'k.pem'), '-out', join(dir, 'c.der'), '-outform', 'DER', '-subj', '/CN=Mạo danh/O=Văn phòng Chính phủ/C=VN', '-days', '30', '-utf8']);
  const { sign } = await import('node:crypto');
  return { certificate: readFileSync(join(dir, 'c.der')), chain: [], scheme: 'ecdsa-sha256' as const, sign: (d: Uint8Array) => sign('sha256', d, { key: privateKey, dsaEncoding: 'der' }) };
}
