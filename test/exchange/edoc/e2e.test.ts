/**
 * Classified packages travel encrypted end to end to the recipient agency's certificate (agency-encryption
 * profile, from the directory): the signed envelope and each attachment in their own CMS
 * AuthEnvelopedData, sign-then-encrypt. What crosses the relay (standing in for the security servers) holds
 * none of the document; the recipient decrypts with its own key and validates XAdES and PAdES as before.
 * No usable certificate, the wrong key, an altered or cut ciphertext: each refused with its code and an
 * event, nothing stored, and the document goes once things are put right. Unclassified packages are as
 * before.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signPdf, signXades } from '../../../src/sign/index.js';
import { writeStatus } from '../../../src/exchange/edoc/status.js';
import { keyObjectRecipient, keyStoreRecipient, type RecipientKey, type ReleasePolicy } from '../../../src/vault/index.js';
import { makeCsr } from '../../../src/exchange/server/provision.js';
import type { DeskRecipient, SendInput } from '../../../src/exchange/edoc/desk.js';
import { FrameReader, writeFrames } from '../../../src/exchange/edoc/frame.js';
import { samplePdf } from '../../sign/fixtures.js';
import { openssl, opensslCsr, tmp, writePem } from '../../helpers/openssl.js';
import { toPem } from '../../../src/asn1/der.js';
import { AGENCIES, clientOf, openNetwork, until, type Network, type TestDesk } from './fixture.js';

const G09 = '000.00.00.G09';
const H29 = '000.00.31.H29';
const G22 = '000.00.00.G22';

async function collect(g: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of g) out.push(c);
  return Buffer.concat(out);
}

/** The parts of a frames body as they travelled: the envelope frame's header and body, each attachment's. */
async function frames(body: Buffer): Promise<{ header: Record<string, unknown>; envelope: Buffer; attachments: { header: Record<string, unknown>; body: Buffer }[] }> {
  const r = new FrameReader([body]);
  const envelope = await r.envelope();
  const attachments = [];
  for (;;) {
    const f = await r.next();
    if (f.type === 'Z') break;
    attachments.push({ header: f.header, body: await collect(r.raw()) });
  }
  return { header: r.envelopeHeader, envelope, attachments };
}

describe('classified packages encrypted end to end to the recipient agency', () => {
  let net: Network;
  let vpcp: TestDesk, bnv: TestDesk, hcm: TestDesk;
  let pdf: Buffer;
  let directory: DeskRecipient[] = [];
  const keys = new Map<string, { keyPath?: string; certPath: string; der: Buffer; recipient: RecipientKey }>();
  const wire: { path: string; body: Buffer }[] = [];
  // the clerk may release up to Tối mật; both ministries are cleared; the axis carries classified
  // documents only encrypted end to end (axis-e2e), from Mật on
  const policy: ReleasePolicy = {
    senders: { 'clerk@vpcp': 'toi-mat', '*': 'unclassified' },
    recipients: { '*': 'toi-mat' },
    channels: { axis: 'unclassified', 'axis-e2e': 'toi-mat' },
    encryptFrom: 'mat',
  };
  const doc = (n: number, to: string[], extra: Partial<SendInput> = {}): SendInput => ({
    to,
    code: { number: String(n), notation: 'CV-MAT' },
    promulgation: { place: 'Hà Nội', date: '2026-12-04' },
    documentType: { type: 1, typeName: 'Công văn' },
    subject: `Phương án bảo vệ hội nghị cấp cao số ${n}`,
    content: 'Bố trí lực lượng cảnh vệ tại khu vực Ba Đình',
    signer: { fullName: 'Phạm Minh Khang' },
    classification: 'mat',
    attachments: [{ name: `phuong-an-${n}.pdf`, contentType: 'application/pdf', bytes: pdf }],
    ...extra,
  });
  const secrets = (n: number) => [`Phương án bảo vệ hội nghị cấp cao số ${n}`, 'Bố trí lực lượng cảnh vệ', 'Phạm Minh Khang', `phuong-an-${n}.pdf`, 'Cong van mat'];
  const statusOf = async (d: TestDesk, id: string, organId: string) => (await d.desk.recipientStatuses(id)).find((r) => r.organId === organId);
  const refusedAt = (d: TestDesk, code: string) => d.events.filter((e) => e.subject === 'truc.exchange.doc.receive.refused' && (e.event.truc as { code?: string }).code === code);

  beforeAll(async () => {
    net = await openNetwork(AGENCIES, { recipients: () => directory, release: { policy: async () => policy, markings: false } });
    [vpcp, bnv, hcm] = net.desks as [TestDesk, TestDesk, TestDesk];
    pdf = await signPdf(await samplePdf(false, 'Cong van mat'), vpcp.signer);
    // each agency's encryption certificate (profile agency-encryption, naming its member)
    const dir = tmp('truc-e2e-');
    for (const a of AGENCIES) {
      if (a.organ.organId === H29) {
        // Hồ Chí Minh keeps its key in the platform's key store (software here; PKCS#11 is the same interface)
        const store = net.lab.p.keys.default;
        const info = await store.generate('EC-P256', 'hcm-encryption');
        const csr = await makeCsr(net.lab.p.keys, info, [{ type: 'C', value: 'VN' }, { type: 'O', value: a.organ.organName }, { type: 'CN', value: `${a.organ.organName} (mã hoá)` }, { type: 'serialNumber', value: `VN/${a.memberClass}/${a.organ.organId}` }]);
        const issued = await net.lab.p.issuer.issue({ profile: 'agency-encryption', csr }, 'ra1');
        keys.set(a.organ.organId, { certPath: writePem(dir, `${a.organ.organId}.pem`, toPem('CERTIFICATE', issued.der)), der: Buffer.from(issued.der), recipient: await keyStoreRecipient(store, info.ref.id) });
        continue;
      }
      // Văn phòng Chính phủ's key is RSA (profile agency-encryption-rsa: RSAES-OAEP key transport), the others EC
      const rsa = a.organ.organId === G22;
      const { csr, keyPath } = opensslCsr(dir, `/CN=${a.organ.organName} (mã hoá)/O=${a.organ.organName}/C=VN/serialNumber=VN\\/${a.memberClass}\\/${a.organ.organId}`, rsa ? ['-newkey', 'rsa:2048'] : undefined);
      const issued = await net.lab.p.issuer.issue({ profile: rsa ? 'agency-encryption-rsa' : 'agency-encryption', csr }, 'ra1');
      keys.set(a.organ.organId, { keyPath, certPath: writePem(dir, `${a.organ.organId}.pem`, toPem('CERTIFICATE', issued.der)), der: Buffer.from(issued.der), recipient: keyObjectRecipient(createPrivateKey(readFileSync(keyPath))) });
    }
    // the directory publishes Bộ Nội vụ's and Văn phòng Chính phủ's certificates; Hồ Chí Minh's not yet
    directory = AGENCIES.map((a) => ({ id: a.organ.organId, name: a.organ.organName, client: clientOf(a), ...(a.organ.organId !== H29 ? { encryptionCertificate: keys.get(a.organ.organId)!.der } : {}) }));
    for (const d of net.desks) {
      const k = keys.get(d.spec.organ.organId)!;
      d.options.decryption = [{ certificate: k.der, key: k.recipient }];
      await d.reopen();
    }
    net.relay.intercept = (path, body) => {
      wire.push({ path, body });
      return body;
    };
  }, 90_000);
  afterAll(async () => {
    await net?.close();
  });

  it('a Mật document arrives decrypted with its XAdES and PAdES verdicts; the wire holds only ciphertext, which openssl cms decrypts', async () => {
    const sent = await vpcp.desk.send(doc(1, [G09]), 'clerk@vpcp');
    await until(async () => (await statusOf(vpcp, sent.id, G09))?.status === '01', 30_000, '01');
    const item = (await bnv.desk.inbox()).documents.find((d) => d.documentId === sent.documentId)!;
    expect(item).toMatchObject({ classification: 'mat', header: { subject: 'Phương án bảo vệ hội nghị cấp cao số 1' } });
    const view = await bnv.desk.get(item.id);
    expect(view.document.validation).toMatchObject({ kind: 'xades', indication: 'TOTAL-PASSED', signerMember: 'VN/GOV/000.00.00.G22' });
    expect((view.attachments[0]!.report as { signatures: { indication: string }[] }).signatures[0]!.indication).toBe('TOTAL-PASSED');
    const att = await bnv.desk.attachment(item.id, 'att1');
    expect((await collect(att.open() as AsyncIterable<Buffer>)).equals(pdf)).toBe(true);

    // what travelled: CMS only — no subject, summary, signer, attachment name or PDF text, no PDF bytes
    const packages = wire.filter((w) => w.path.endsWith('/edoc/packages'));
    expect(packages).toHaveLength(1);
    const body = packages[0]!.body;
    for (const s of secrets(1)) {
      expect(body.includes(Buffer.from(s, 'utf8'))).toBe(false);
      expect(body.toString('latin1')).not.toContain(Buffer.from(s, 'utf8').toString('base64').slice(0, 16));
    }
    expect(body.includes(pdf.subarray(0, 64))).toBe(false);
    expect(body.includes(Buffer.from('%PDF'))).toBe(false);
    const f = await frames(body);
    expect(f.header).toEqual({ cms: 'auth-enveloped' });
    expect(f.attachments.map((a) => a.header)).toEqual([{ contentId: 'att1', encoding: 'cms' }]);

    // interoperability: the recipient's key opens both parts with openssl cms; the envelope inside verifies as it was signed
    const k = keys.get(G09)!;
    const dir = tmp('truc-e2e-openssl-');
    for (const [name, der] of [['env', f.envelope], ['att1', f.attachments[0]!.body]] as const) {
      writeFileSync(join(dir, `${name}.p7m`), der);
      openssl(['cms', '-decrypt', '-inform', 'DER', '-in', join(dir, `${name}.p7m`), '-inkey', k.keyPath!, '-recip', k.certPath, '-out', join(dir, `${name}.out`), '-binary']);
    }
    expect(readFileSync(join(dir, 'att1.out')).equals(pdf)).toBe(true);
    expect(readFileSync(join(dir, 'env.out'), 'utf8')).toBe(await bnv.desk.envelope(item.id));
    expect(readFileSync(join(dir, 'env.out'), 'utf8')).toContain('<ds:Signature');

    // the release check was told the package goes encrypted, over the end-to-end channel
    const allowed = vpcp.events.find((e) => e.subject === 'truc.vault.release.allowed' && (e.event.truc as { release?: { document?: string } }).release?.document === sent.documentId);
    expect(allowed?.event.truc).toMatchObject({ release: { encrypted: true, channel: 'axis-e2e', level: 'mat' } });
    const [del] = await vpcp.desk.deliveries(sent.id);
    expect(del!.encryptTo?.equals(keys.get(G09)!.der)).toBe(true);

    // its status packets come back encrypted to the sender (they name the document and the staff)
    await bnv.desk.sendStatus(item.id, '03', { description: 'Đã vào sổ mật số 17', staff: { staff: 'Ngô Thị Lan', department: 'Văn thư mật' } }, 'clerk@bnv');
    await until(async () => (await statusOf(vpcp, sent.id, G09))?.status === '03', 30_000, '03');
    const statuses = wire.filter((w) => w.path.endsWith('/edoc/statuses'));
    expect(statuses.length).toBeGreaterThanOrEqual(2); // 01 and 03
    for (const w of statuses) {
      expect(w.body[0]).toBe(0x30);
      for (const s of [sent.documentId, 'Ngô Thị Lan', 'Đã vào sổ mật', 'Văn bản đã đến']) expect(w.body.includes(Buffer.from(s, 'utf8')), s).toBe(false);
    }
    // they went to Văn phòng Chính phủ's RSA certificate: openssl opens them with its key (RSA-OAEP SHA-256)
    const v = keys.get(G22)!;
    writeFileSync(join(dir, 'status.p7m'), statuses.at(-1)!.body);
    openssl(['cms', '-decrypt', '-inform', 'DER', '-in', join(dir, 'status.p7m'), '-inkey', v.keyPath!, '-recip', v.certPath, '-out', join(dir, 'status.out'), '-binary']);
    expect(readFileSync(join(dir, 'status.out'), 'utf8')).toContain('Ngô Thị Lan');
    const asn1 = openssl(['asn1parse', '-inform', 'DER', '-in', join(dir, 'status.p7m')]);
    expect(asn1).toContain('rsaesOaep');
    expect(asn1).toContain('sha256');
    expect((await vpcp.desk.get(sent.id)).statuses.find((x) => x.code === '03')).toMatchObject({ direction: 'in', staff: { staff: 'Ngô Thị Lan' }, validation: { indication: 'TOTAL-PASSED' } });
  }, 60_000);

  it('a status on a Mật document that comes in clear is refused by the sender\'s desk (encryption_required), the encrypted one taken', async () => {
    const sent = await vpcp.desk.send(doc(70, [G09]), 'clerk@vpcp');
    await until(async () => (await statusOf(vpcp, sent.id, G09))?.status === '01', 30_000, '01');
    const item = (await bnv.desk.inbox()).documents.find((d) => d.documentId === sent.documentId)!;
    // a recipient that sends its status in clear (signed by it, but readable by the servers): the relay swaps
    // the encrypted body for the same status, signed, in clear
    const packet = {
      responseFor: { organId: vpcp.spec.organ.organId, code: `${item.header.code.number}/${item.header.code.notation}`, promulgationDate: item.header.promulgation.date, documentId: sent.documentId },
      from: bnv.spec.organ,
      staff: { staff: 'Ngô Thị Lan', department: 'Văn thư mật' },
      code: '03' as const,
      description: 'Đã vào sổ mật',
      timestamp: new Date().toISOString(),
    };
    const clear = Buffer.from(await signXades(writeStatus(packet), bnv.signer, { signingTime: new Date() }), 'utf8');
    net.relay.intercept = (path, body) => (path.endsWith('/edoc/statuses') ? clear : body);
    let status = '';
    try {
      status = (await bnv.desk.sendStatus(item.id, '03', { description: 'Đã vào sổ mật', staff: { staff: 'Ngô Thị Lan', department: 'Văn thư mật' } }, 'clerk@bnv')).id;
      const denied = await until(
        async () => vpcp.events.find((e) => e.subject === 'truc.vault.receipt.denied' && (e.event.truc as { receipt?: { document?: string } }).receipt?.document === sent.documentId),
        30_000,
        'receipt.denied',
      );
      expect((denied.event.truc as { receipt: { reasons: string[]; level: string } }).receipt).toMatchObject({ level: 'mat', reasons: expect.arrayContaining(['not_encrypted']) });
      expect((await statusOf(vpcp, sent.id, G09))?.status).toBe('01');
    } finally {
      net.relay.intercept = (path, body) => {
        wire.push({ path, body });
        return body;
      };
    }
    // the refusal is final for that delivery (a 4xx); sent again as the desk sends it (encrypted to the
    // sender), the same status is taken
    await until(async () => (await bnv.desk.retryFailed(status)) === 1, 30_000, 'the status delivery failed');
    await until(async () => (await statusOf(vpcp, sent.id, G09))?.status === '03', 30_000, '03');
  }, 60_000);

  it('an unclassified package is as before: in clear inside the channel, encoded base64, no certificate needed', async () => {
    wire.length = 0;
    const sent = await vpcp.desk.send(doc(2, [H29], { classification: 'unclassified' }), 'clerk@vpcp');
    await until(async () => (await statusOf(vpcp, sent.id, H29))?.status === '01', 30_000, '01');
    const body = wire.find((w) => w.path.endsWith('/edoc/packages'))!.body;
    expect(body.includes(Buffer.from('Phương án bảo vệ hội nghị cấp cao số 2', 'utf8'))).toBe(true);
    const f = await frames(body);
    expect(f.header).toEqual({});
    expect(f.attachments[0]!.header).toEqual({ contentId: 'att1', encoding: 'base64' });
    expect((await vpcp.desk.deliveries(sent.id))[0]!.encryptTo).toBeNull();
    // and its statuses are XML, as before
    expect(wire.find((w) => w.path.endsWith('/edoc/statuses'))!.body.toString('utf8')).toContain(sent.documentId);
  }, 60_000);

  it('no usable encryption certificate for the recipient: refused before anything is stored, with an event', async () => {
    await expect(vpcp.desk.send(doc(3, [G09, H29]), 'clerk@vpcp')).rejects.toMatchObject({ code: 'encryption_certificate_missing', detail: { organId: H29 } });
    // a certificate naming another member is no better
    directory = directory.map((r) => (r.id === H29 ? { ...r, encryptionCertificate: keys.get(G09)!.der } : r));
    await expect(vpcp.desk.send(doc(3, [H29]), 'clerk@vpcp')).rejects.toMatchObject({ code: 'encryption_certificate_missing', message: expect.stringContaining('names VN/GOV/000.00.00.G09') });
    // nor the agency's signing certificate (no keyAgreement)
    directory = directory.map((r) => (r.id === H29 ? { ...r, encryptionCertificate: hcm.signer.certificate } : r));
    await expect(vpcp.desk.send(doc(3, [H29]), 'clerk@vpcp')).rejects.toMatchObject({ code: 'encryption_certificate_missing' });
    expect(await vpcp.db.query("SELECT id FROM xd_document WHERE document_id LIKE '%,3/CV-MAT'")).toHaveLength(0);
    expect(vpcp.events.filter((e) => e.subject === 'truc.exchange.doc.send.refused' && (e.event.truc as { code?: string }).code === 'encryption_certificate_missing')).toHaveLength(3);
    // its own certificate published: the document goes, and Hồ Chí Minh decrypts it with its key-store key
    directory = directory.map((r) => (r.id === H29 ? { ...r, encryptionCertificate: keys.get(H29)!.der } : r));
    const sent = await vpcp.desk.send(doc(3, [G09, H29]), 'clerk@vpcp');
    for (const o of [G09, H29]) await until(async () => (await statusOf(vpcp, sent.id, o))?.status === '01', 30_000, `01 from ${o}`);
    const item = (await hcm.desk.inbox()).documents.find((d) => d.documentId === sent.documentId)!;
    expect((await hcm.desk.get(item.id)).document).toMatchObject({ classification: 'mat', header: { subject: 'Phương án bảo vệ hội nghị cấp cao số 3' }, validation: { indication: 'TOTAL-PASSED' } });
  }, 60_000);

  it('the recipient cannot decrypt (wrong key): refused, an event; delivered once when its key is back', async () => {
    const right = bnv.options.decryption!;
    const h = keys.get(H29)!;
    bnv.options.decryption = [{ certificate: h.der, key: h.recipient }];
    await bnv.reopen();
    const sent = await vpcp.desk.send(doc(4, [G09]), 'clerk@vpcp');
    const failed = await until(async () => (await vpcp.desk.deliveries(sent.id)).find((d) => d.state === 'failed'), 30_000, 'failed');
    expect(failed.lastError).toContain('e2e_wrong_key');
    expect(refusedAt(bnv, 'e2e_wrong_key').length).toBeGreaterThanOrEqual(1);
    expect(await bnv.db.query("SELECT id FROM xd_document WHERE document_id LIKE '%,4/CV-MAT'")).toHaveLength(0);

    bnv.options.decryption = right;
    await bnv.reopen();
    await vpcp.desk.retryFailed(sent.id);
    await until(async () => (await statusOf(vpcp, sent.id, G09))?.status === '01', 30_000, '01');
    expect((await bnv.desk.inbox({ all: true })).documents.filter((d) => d.documentId === sent.documentId)).toHaveLength(1);
  }, 60_000);

  it('the receiver demands encryption: a Mật package sent in clear is refused (encryption_required), with its event; nothing kept', async () => {
    // the sender's policy lets Mật cross the axis in clear; the receiver's channel would carry it, but its
    // encryptFrom (Mật) wants it encrypted end to end
    const release = vpcp.options.release;
    vpcp.options.release = { policy: async () => ({ ...policy, channels: { axis: 'mat' }, encryptFrom: 'toi-mat' }), markings: false };
    bnv.options.release = { policy: async () => ({ ...policy, channels: { axis: 'mat', 'axis-e2e': 'toi-mat' } }), markings: false };
    await vpcp.reopen();
    await bnv.reopen();
    try {
      const sent = await vpcp.desk.send(doc(8, [G09]), 'clerk@vpcp');
      const failed = await until(async () => (await vpcp.desk.deliveries(sent.id)).find((d) => d.state === 'failed'), 30_000, 'failed');
      expect(failed.lastError).toMatch(/403 encryption_required/);
      expect(refusedAt(bnv, 'encryption_required')).toHaveLength(1);
      expect(bnv.events.filter((e) => e.subject === 'truc.vault.receipt.denied').map((e) => (e.event.truc as { receipt: { reasons: string[]; channel: string } }).receipt)).toContainEqual(
        expect.objectContaining({ document: sent.documentId, level: 'mat', channel: 'axis', reasons: ['not_encrypted'] }),
      );
      expect(await bnv.db.query("SELECT id FROM xd_document WHERE document_id LIKE '%,8/CV-MAT'")).toHaveLength(0);
      expect(readdirSync(join(bnv.options.dir, 'spool'))).toEqual([]);
    } finally {
      vpcp.options.release = release;
      bnv.options.release = release;
      await vpcp.reopen();
      await bnv.reopen();
    }
  }, 60_000);

  it('an altered or cut ciphertext is refused, with its event; nothing is kept of it', async () => {
    const rebuild = async (envelope: Buffer, attachment: Buffer): Promise<Buffer> =>
      collect(
        writeFrames(envelope, [{ contentId: 'att1', encoding: 'cms', length: attachment.length, size: 0, open: async function* () { yield attachment; } }], {
          envelopeHeader: { cms: 'auth-enveloped' },
        }),
      );
    const spoilers: [number, (b: Buffer) => Promise<Buffer>][] = [
      // a bit of the attachment's ciphertext flipped in transit
      [5, async (b) => {
        const f = await frames(b);
        const a = Buffer.from(f.attachments[0]!.body);
        a[a.length - 1000]! ^= 0x04;
        return rebuild(f.envelope, a);
      }],
      // the attachment's CMS cut short, the frame made to agree
      [6, async (b) => {
        const f = await frames(b);
        return rebuild(f.envelope, f.attachments[0]!.body.subarray(0, f.attachments[0]!.body.length - 5000));
      }],
      // the envelope's CMS altered
      [7, async (b) => {
        const f = await frames(b);
        const e = Buffer.from(f.envelope);
        e[e.length - 30]! ^= 0x80;
        return rebuild(e, f.attachments[0]!.body);
      }],
    ];
    const errors: string[] = [];
    for (const [n, spoil] of spoilers) {
      net.relay.intercept = (path, body) => (path.endsWith('/edoc/packages') ? spoil(body) : body);
      const sent = await vpcp.desk.send(doc(n, [G09]), 'clerk@vpcp');
      const failed = await until(async () => (await vpcp.desk.deliveries(sent.id)).find((d) => d.state === 'failed'), 30_000, `failed ${n}`);
      errors.push(failed.lastError ?? '');
      expect(await bnv.db.query(`SELECT id FROM xd_document WHERE document_id LIKE '%,${n}/CV-MAT'`)).toHaveLength(0);
    }
    expect(errors.every((e) => e.includes('e2e_tampered')), errors.join('\n')).toBe(true);
    expect(refusedAt(bnv, 'e2e_tampered')).toHaveLength(3);
    // nothing of them left in the spool; once the channel is clean, the document goes, once
    expect(readdirSync(join(bnv.options.dir, 'spool'))).toEqual([]);
    net.relay.intercept = undefined;
    const last = (await vpcp.db.query<{ id: string }>("SELECT id FROM xd_document WHERE document_id LIKE '%,7/CV-MAT'"))[0]!.id;
    await vpcp.desk.retryFailed(last);
    await until(async () => (await statusOf(vpcp, last, G09))?.status === '01', 30_000, '01 after retry');
    expect((await bnv.desk.inbox({ all: true })).documents.filter((d) => d.documentId.endsWith(',7/CV-MAT'))).toHaveLength(1);
  }, 90_000);

  it('a retry encrypts only to a certificate still valid: one that no longer validates ends the delivery, nothing sent', async () => {
    // the first attempt fails at the recipient (it holds another key) ...
    const right = bnv.options.decryption!;
    const h = keys.get(H29)!;
    bnv.options.decryption = [{ certificate: h.der, key: h.recipient }];
    await bnv.reopen();
    const sent = await vpcp.desk.send(doc(41, [G09]), 'clerk@vpcp');
    await until(async () => (await vpcp.desk.deliveries(sent.id)).find((d) => d.state === 'failed'), 30_000, 'failed');
    bnv.options.decryption = right;
    await bnv.reopen();
    // ... then the recipient's certificate stops validating for the sender (as a revocation would make it):
    // the sender now trusts only another root
    const dir = tmp('truc-e2e-anchor-');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.der'), '-outform', 'DER', '-days', '30', '-subj', '/CN=Another root/O=Test/C=VN', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    const validation = vpcp.options.validation;
    vpcp.options.validation = { trustAnchors: [readFileSync(join(dir, 'c.der'))] };
    await vpcp.reopen();
    try {
      await vpcp.desk.retryFailed(sent.id);
      const again = await until(async () => (await vpcp.desk.deliveries(sent.id)).find((d) => d.state === 'failed' && d.attempts >= 2), 30_000, 'failed again');
      expect(again.lastError).toMatch(/^encryption_certificate_missing: .*not valid/);
      expect(await bnv.db.query("SELECT id FROM xd_document WHERE document_id LIKE '%,41/CV-MAT'")).toHaveLength(0);
    } finally {
      vpcp.options.validation = validation;
      await vpcp.reopen();
    }
  }, 60_000);
});
