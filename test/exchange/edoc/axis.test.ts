/**
 * The document desks through real security servers: the test axis (platform CA, OCSP, TSA, central
 * server, three agencies' security servers, each registered and approved); each agency's desk provides the
 * service `edoc` on its subsystem (registered on its security server, granted to the others) and sends
 * through its own server's information-system endpoint. Signed, verified and logged between servers; the
 * desks see only X-Road REST. A classified package travels encrypted end to end to the recipient agency's
 * certificate, which each agency registered with the central server (a request its security server signed
 * with the member's signing key, approved by the operator) and the desks read from the global
 * configuration their servers downloaded — their directory carries none: the servers' message logs (kept unencrypted here, so that what they logged is on disk as
 * it travelled) hold none of it, while an unclassified one is there in clear.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPrivateKey, sign as nodeSign } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { listCas } from '../../../src/pki/index.js';
import { openDb, type Db } from '../../../src/store/index.js';
import { InProcessBus } from '../../../src/bus/index.js';
import { serviceId, subsystemText, clientHeader } from '../../../src/exchange/ids.js';
import { DocumentDesk } from '../../../src/exchange/edoc/desk.js';
import { deskHandler } from '../../../src/exchange/edoc/http.js';
import { signPdf, type ExternalSigner } from '../../../src/sign/index.js';
import { samplePdf } from '../../sign/fixtures.js';
import { opensslCsr, tmp } from '../../helpers/openssl.js';
import { startTestAxis, type TestAxis } from '../server/setup.js';
import { registerEncryptionCertificate } from '../../../src/exchange/axis.js';
import { keyObjectRecipient, type ReleasePolicy } from '../../../src/vault/index.js';

/** every file under a folder */
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}
import { dbUrl, until } from './fixture.js';

describe('document desks through real security servers', () => {
  let t: TestAxis;
  const desks: { desk: DocumentDesk; db: Db; server: http.Server; signer: ExternalSigner; organId: string }[] = [];

  const axisDir = tmp('truc-edoc-axis-servers-');
  // classified documents go only encrypted end to end (axis-e2e), from Mật on
  const policy: ReleasePolicy = { senders: { '*': 'toi-mat' }, recipients: { '*': 'toi-mat' }, channels: { axis: 'unclassified', 'axis-e2e': 'toi-mat' }, encryptFrom: 'mat' };

  beforeAll(async () => {
    t = await startTestAxis({ dbUrl: await dbUrl(), sampleServices: false, dir: axisDir, encryptLogs: false });
    const cas = await listCas(t.p.db);
    const root = Buffer.from(cas.find((c) => c.id === 'root')!.certificate);
    const issuing = Buffer.from(cas.find((c) => c.id === 'issuing')!.certificate);
    const dir = tmp('truc-edoc-axis-');
    // each agency's encryption certificate (agency-encryption), registered in the global configuration
    const enc = new Map<string, { der: Buffer; keyPath: string }>();
    for (const m of t.axis.members) {
      const { csr, keyPath } = opensslCsr(dir, `/CN=${m.agency.name} (mã hoá)/O=${m.agency.name}/C=VN/serialNumber=VN\\/${m.agency.memberClass}\\/${m.agency.memberCode}`);
      const der = Buffer.from((await t.p.issuer.issue({ profile: 'agency-encryption', csr }, 'ra1')).der);
      enc.set(m.agency.memberCode, { der, keyPath });
      expect(await registerEncryptionCertificate(t.axis.central, m, der, { actor: 'operator', log: t.p.log })).toEqual({ registered: true, deleted: 0 });
    }
    await t.axis.central.generator.generate({ force: true });
    await t.axis.refreshAll();
    for (const m of t.axis.members) {
      const listed = m.conf.current()!.encryptionCertificates({ memberClass: m.agency.memberClass, memberCode: m.agency.memberCode });
      expect(listed.map((b) => b.equals(enc.get(m.agency.memberCode)!.der))).toEqual([true]);
    }
    const directory = t.axis.members.map((m) => ({ id: m.agency.memberCode, name: m.agency.name, client: clientHeader(m.subsystem) }));
    for (const m of t.axis.members) {
      const { csr, keyPath } = opensslCsr(dir, `/CN=${m.agency.name}/O=${m.agency.name}/C=VN/serialNumber=VN\\/${m.agency.memberClass}\\/${m.agency.memberCode}`);
      const issued = await t.p.issuer.issue({ profile: 'agency-signing', csr }, 'ra1');
      const key = createPrivateKey(readFileSync(keyPath));
      const signer: ExternalSigner = { certificate: issued.der, chain: [issuing], scheme: 'ecdsa-sha256', sign: (d: Uint8Array) => nodeSign('sha256', d, { key, dsaEncoding: 'der' }) };
      const db = await openDb({ url: await dbUrl() });
      const desk = await DocumentDesk.open({
        db,
        bus: new InProcessBus(),
        dir: join(dir, m.agency.memberCode),
        organ: { organId: m.agency.memberCode, organName: m.agency.name },
        client: m.subsystem,
        ssUrl: m.isUrl,
        signer,
        validation: { trustAnchors: [root], intermediates: [issuing] },
        recipients: () => directory,
        conf: () => m.conf.current(),
        retry: { firstMs: 200, maxMs: 1000 },
        release: { policy: async () => policy, markings: false },
        decryption: [{ certificate: enc.get(m.agency.memberCode)!.der, key: keyObjectRecipient(createPrivateKey(readFileSync(enc.get(m.agency.memberCode)!.keyPath))) }],
      });
      const server = http.createServer(deskHandler(desk));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/edoc`;
      // the desk provides `edoc` on its subsystem; every other agency may call it
      await m.server.store.putService(serviceId(m.subsystem, 'edoc'), url);
      for (const other of t.axis.members) if (other !== m) await m.server.store.grant({ service: `SERVICE:${clientHeader(m.subsystem)}/edoc`, subject: subsystemText(other.subsystem), method: 'POST', path: '*' });
      desks.push({ desk, db, server, signer, organId: m.agency.memberCode });
    }
  }, 120_000);

  afterAll(async () => {
    for (const d of desks) {
      await d.desk.close();
      d.server.closeAllConnections();
      await new Promise<void>((r) => d.server.close(() => r()));
      await d.db.close();
    }
    await t?.close();
  });

  it('a signed decision to two agencies: taken, validated, logged by the servers, and its statuses flow back', async () => {
    const [vpcp, bnv, hcm] = desks as [(typeof desks)[0], (typeof desks)[0], (typeof desks)[0]];
    const pdf = await signPdf(await samplePdf(true, 'Quyet dinh 1'), vpcp.signer);
    const sent = await vpcp.desk.send(
      {
        to: [bnv.organId, hcm.organId],
        code: { number: '1', notation: 'QĐ-VPCP' },
        promulgation: { place: 'Hà Nội', date: '2026-12-02' },
        documentType: { type: 2, typeName: 'Quyết định' },
        subject: 'Quyết định thí điểm trục liên thông qua máy chủ an ninh',
        signer: { fullName: 'Nguyễn Văn A' },
        attachments: [{ name: 'qd-1.pdf', contentType: 'application/pdf', bytes: pdf }],
      },
      'clerk@vpcp',
    );
    for (const o of [bnv.organId, hcm.organId]) await until(async () => (await vpcp.desk.recipientStatuses(sent.id)).find((r) => r.organId === o)?.status === '01', 60_000, `01 from ${o}`);
    const item = (await bnv.desk.inbox()).documents.find((d) => d.documentId === sent.documentId)!;
    expect(item.senderClient).toBe('VN/GOV/000.00.00.G22/vanthu');
    expect(item.xRoadId).toBeTruthy();
    const view = await bnv.desk.get(item.id);
    expect(view.document.validation).toMatchObject({ kind: 'xades', indication: 'TOTAL-PASSED', signerMember: 'VN/GOV/000.00.00.G22' });
    expect((view.attachments[0]!.report as { signatures: { indication: string }[] }).signatures[0]!.indication).toBe('TOTAL-PASSED');
    await bnv.desk.sendStatus(item.id, '03', { description: 'Đã vào sổ' }, 'clerk@bnv');
    await until(async () => (await vpcp.desk.recipientStatuses(sent.id)).find((r) => r.organId === bnv.organId)?.status === '03', 60_000, '03');
    // the servers logged this unclassified package as it travelled: its subject is in their logs
    const logged = files(axisDir).map((f) => readFileSync(f));
    expect(logged.some((b) => b.includes(Buffer.from('Quyết định thí điểm trục liên thông qua máy chủ an ninh', 'utf8')))).toBe(true);
  }, 120_000);

  it('a Mật document: decrypted and validated at the recipient; the security servers logged only ciphertext', async () => {
    const [vpcp, bnv] = desks as [(typeof desks)[0], (typeof desks)[0]];
    const subject = 'Phương án bảo đảm an ninh hội nghị (mật)';
    const pdf = await signPdf(await samplePdf(true, 'Phuong an bao dam an ninh'), vpcp.signer);
    const sent = await vpcp.desk.send(
      {
        to: [bnv.organId],
        code: { number: '2', notation: 'PA-VPCP' },
        promulgation: { place: 'Hà Nội', date: '2026-12-04' },
        documentType: { type: 9, typeName: 'Phương án' },
        subject,
        content: 'Lực lượng cảnh vệ tăng cường tại Hội trường Diên Hồng',
        signer: { fullName: 'Đỗ Hữu Nghĩa' },
        classification: 'mat',
        attachments: [{ name: 'phuong-an-an-ninh.pdf', contentType: 'application/pdf', bytes: pdf }],
      },
      'clerk@vpcp',
    );
    await until(async () => (await vpcp.desk.recipientStatuses(sent.id)).find((r) => r.organId === bnv.organId)?.status === '01', 60_000, '01');
    // encrypted to the certificate Bộ Nội vụ registered, as the sender's server's configuration lists it
    expect((await vpcp.desk.deliveries(sent.id))[0]!.encryptTo?.equals(t.axis.members[0]!.conf.current()!.encryptionCertificates({ memberClass: 'GOV', memberCode: bnv.organId })[0]!)).toBe(true);
    const item = (await bnv.desk.inbox()).documents.find((d) => d.documentId === sent.documentId)!;
    const view = await bnv.desk.get(item.id);
    expect(view.document).toMatchObject({ classification: 'mat', header: { subject }, validation: { kind: 'xades', indication: 'TOTAL-PASSED', signerMember: 'VN/GOV/000.00.00.G22' } });
    expect((view.attachments[0]!.report as { signatures: { indication: string }[] }).signatures[0]!.indication).toBe('TOTAL-PASSED');
    // both servers' logs (records, bodies, everything under their folders): no subject, summary, signer,
    // file name, nor the PDF's bytes or its text — the package's bodies are CMS
    const logged = files(axisDir).map((f) => readFileSync(f));
    expect(logged.length).toBeGreaterThan(0);
    for (const s of [subject, 'Lực lượng cảnh vệ tăng cường', 'Đỗ Hữu Nghĩa', 'phuong-an-an-ninh.pdf', 'Phuong an bao dam an ninh'])
      for (const b of logged) expect(b.includes(Buffer.from(s, 'utf8')), s).toBe(false);
    for (const b of logged) expect(b.includes(pdf.subarray(pdf.length - 4096, pdf.length - 4000))).toBe(false);
  }, 120_000);
});
