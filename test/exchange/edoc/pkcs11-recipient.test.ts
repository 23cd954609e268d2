/**
 * A receiving desk whose encryption key lives on a PKCS#11 token (SoftHSM2, a fresh token of its own —
 * test/helpers/softhsm.ts): the key is made on the token for receiving only (CKA_DERIVE, never CKA_SIGN,
 * never extractable), its agency-encryption certificate comes from our CA, and a Mật package sent to the
 * agency is opened with it — the ECDH of each KeyAgreeRecipientInfo runs on the token
 * (`keyStoreRecipient`). A key that cannot sign cannot sign its own PKCS#10 request either: the RA vouches
 * for it instead (indirect proof of possession), here by issuing, through the CA's own queue, for the
 * token's public key the request of a key made for the purpose. An RSA recipient (agency-encryption-rsa)
 * on the same token receives RSA-OAEP-SHA-256, which SoftHSM2 2.6's own OAEP refuses: the store decrypts it
 * with the token's raw RSA and checks the padding itself.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { prepare } from '../../../src/pki/issue.js';
import { keyIdentifier } from '../../../src/pki/certificate.js';
import { parseCertificate } from '../../../src/pki/path/index.js';
import { Pkcs11KeyStore } from '../../../src/crypto/pkcs11-keystore.js';
import { keyObjectRecipient, keyStoreRecipient, type ReleasePolicy } from '../../../src/vault/index.js';
import type { DeskRecipient } from '../../../src/exchange/edoc/desk.js';
import { samplePdf } from '../../sign/fixtures.js';
import { signPdf } from '../../../src/sign/index.js';
import { opensslCsr, tmp } from '../../helpers/openssl.js';
import { softHsmToken, type SoftHsmToken } from '../../helpers/softhsm.js';
import { AGENCIES, clientOf, openNetwork, until, type Network, type TestDesk } from './fixture.js';

const G09 = '000.00.00.G09';

describe('a receiving desk decrypting with its key on PKCS#11 (SoftHSM2)', () => {
  let net: Network;
  let vpcp: TestDesk, bnv: TestDesk;
  let token: SoftHsmToken;
  let hsm: Pkcs11KeyStore;
  let tokenCert: Buffer;
  let directory: DeskRecipient[];
  const policy: ReleasePolicy = { senders: { '*': 'toi-mat' }, recipients: { '*': 'toi-mat' }, channels: { axis: 'unclassified', 'axis-e2e': 'toi-mat' }, encryptFrom: 'mat' };

  beforeAll(async () => {
    token = softHsmToken();
    hsm = await Pkcs11KeyStore.open({ module: token.modulePath, slot: { tokenLabel: token.tokenLabel }, pin: token.pin });
    net = await openNetwork(AGENCIES.slice(0, 2));
    [vpcp, bnv] = net.desks as [TestDesk, TestDesk];
    const p = net.lab.p;
    const dir = tmp('truc-edoc-hsm-');
    // Bộ Nội vụ's key, made on the token for receiving only
    const info = await hsm.generate('EC-P256', 'bnv-encryption', { usage: 'decrypt' });
    const subject = `/CN=Bộ Nội vụ (mã hoá)/O=Bộ Nội vụ/C=VN/serialNumber=VN\\/GOV\\/${G09}`;
    const item = await prepare(p.pki, { profile: 'agency-encryption', csr: opensslCsr(dir, subject).csr }, 'ra1');
    const issued = await p.issuer.enqueue({ ...item, spki: info.spki, ski: keyIdentifier(info.spki), spkiSha256: createHash('sha256').update(info.spki).digest(), keyAlgorithm: info.algorithm });
    tokenCert = Buffer.from(issued.der);
    expect(parseCertificate(tokenCert).spki.equals(info.spki)).toBe(true);
    // Văn phòng Chính phủ's (statuses on the document go back encrypted to it) in software
    const g22 = opensslCsr(dir, '/CN=Văn phòng Chính phủ (mã hoá)/O=Văn phòng Chính phủ/C=VN/serialNumber=VN\\/GOV\\/000.00.00.G22');
    const g22Cert = Buffer.from((await p.issuer.issue({ profile: 'agency-encryption', csr: g22.csr }, 'ra1')).der);
    directory = AGENCIES.slice(0, 2).map((a) => ({ id: a.organ.organId, name: a.organ.organName, client: clientOf(a), encryptionCertificate: a.organ.organId === G09 ? tokenCert : g22Cert }));
    for (const d of net.desks) {
      d.options.recipients = () => directory;
      d.options.release = { policy: async () => policy, markings: false };
    }
    bnv.options.decryption = [{ certificate: tokenCert, key: await keyStoreRecipient(hsm, info.ref.id) }];
    vpcp.options.decryption = [{ certificate: g22Cert, key: keyObjectRecipient(createPrivateKey(readFileSync(g22.keyPath))) }];
    for (const d of net.desks) await d.reopen();
  }, 120_000);

  afterAll(async () => {
    await net?.close();
    await hsm?.close();
    token?.cleanup();
  });

  it('a Mật package to it is opened on the token: envelope, attachment and signatures as sent', async () => {
    const pdf = await signPdf(await samplePdf(false, 'Ke hoach mat'), vpcp.signer);
    const sent = await vpcp.desk.send(
      {
        to: [G09],
        code: { number: '1', notation: 'KH-MAT' },
        promulgation: { place: 'Hà Nội', date: '2026-12-04' },
        documentType: { type: 9, typeName: 'Kế hoạch' },
        subject: 'Kế hoạch bảo vệ bí mật nhà nước năm 2027',
        signer: { fullName: 'Vũ Minh Châu' },
        classification: 'mat',
        attachments: [{ name: 'ke-hoach.pdf', contentType: 'application/pdf', bytes: pdf }],
      },
      'clerk@vpcp',
    );
    expect((await vpcp.desk.deliveries(sent.id))[0]!.encryptTo?.equals(tokenCert)).toBe(true);
    await until(async () => (await vpcp.desk.recipientStatuses(sent.id))[0]?.status === '01', 30_000, '01');
    const item = (await bnv.desk.inbox()).documents.find((d) => d.documentId === sent.documentId)!;
    const view = await bnv.desk.get(item.id);
    expect(view.document).toMatchObject({ classification: 'mat', header: { subject: 'Kế hoạch bảo vệ bí mật nhà nước năm 2027' }, validation: { indication: 'TOTAL-PASSED' } });
    expect((view.attachments[0]!.report as { signatures: { indication: string }[] }).signatures[0]!.indication).toBe('TOTAL-PASSED');
    const chunks: Buffer[] = [];
    for await (const c of (await bnv.desk.attachment(item.id, 'att1')).open() as AsyncIterable<Buffer>) chunks.push(c);
    expect(Buffer.concat(chunks).equals(pdf)).toBe(true);
  }, 60_000);

  it('an RSA recipient (agency-encryption-rsa) on the token: RSA-OAEP with SHA-256, which SoftHSM2 2.6 itself does only with SHA-1, opened with the token\'s raw RSA', async () => {
    const info = await hsm.generate('RSA-2048', 'bnv-encryption-rsa', { usage: 'decrypt' });
    const subject = `/CN=Bộ Nội vụ (mã hoá RSA)/O=Bộ Nội vụ/C=VN/serialNumber=VN\\/GOV\\/${G09}`;
    const p = net.lab.p;
    const item = await prepare(p.pki, { profile: 'agency-encryption-rsa', csr: opensslCsr(tmp('truc-edoc-hsm-rsa-'), subject, ['-newkey', 'rsa:2048']).csr }, 'ra1');
    const rsaCert = Buffer.from((await p.issuer.enqueue({ ...item, spki: info.spki, ski: keyIdentifier(info.spki), spkiSha256: createHash('sha256').update(info.spki).digest(), keyAlgorithm: info.algorithm })).der);
    expect(parseCertificate(rsaCert).spki.equals(info.spki)).toBe(true);
    const kept = { decryption: bnv.options.decryption!, entry: directory.find((d) => d.id === G09)!.encryptionCertificate };
    directory.find((d) => d.id === G09)!.encryptionCertificate = rsaCert;
    bnv.options.decryption = [{ certificate: rsaCert, key: await keyStoreRecipient(hsm, info.ref.id) }];
    await vpcp.reopen();
    await bnv.reopen();
    try {
      const pdf = await signPdf(await samplePdf(false, 'Ke hoach mat RSA'), vpcp.signer);
      const sent = await vpcp.desk.send(
        { to: [G09], code: { number: '3', notation: 'KH-MAT' }, promulgation: { place: 'Hà Nội', date: '2026-12-05' }, documentType: { type: 9, typeName: 'Kế hoạch' }, subject: 'Kế hoạch số 3 (RSA)', signer: { fullName: 'Vũ Minh Châu' }, classification: 'mat', attachments: [{ name: 'ke-hoach-rsa.pdf', contentType: 'application/pdf', bytes: pdf }] },
        'clerk@vpcp',
      );
      expect((await vpcp.desk.deliveries(sent.id))[0]!.encryptTo?.equals(rsaCert)).toBe(true);
      await until(async () => (await vpcp.desk.recipientStatuses(sent.id))[0]?.status === '01', 30_000, '01');
      const got = (await bnv.desk.inbox()).documents.find((d) => d.documentId === sent.documentId)!;
      const view = await bnv.desk.get(got.id);
      expect(view.document).toMatchObject({ classification: 'mat', header: { subject: 'Kế hoạch số 3 (RSA)' }, validation: { indication: 'TOTAL-PASSED' } });
      const chunks: Buffer[] = [];
      for await (const c of (await bnv.desk.attachment(got.id, 'att1')).open() as AsyncIterable<Buffer>) chunks.push(c);
      expect(Buffer.concat(chunks).equals(pdf)).toBe(true);
    } finally {
      directory.find((d) => d.id === G09)!.encryptionCertificate = kept.entry;
      bnv.options.decryption = kept.decryption;
      await vpcp.reopen();
      await bnv.reopen();
    }
  }, 90_000);

  it('the token is what opens it: without the token key the same package is refused (e2e_wrong_key)', async () => {
    const other = opensslCsr(tmp('truc-edoc-hsm-other-'), `/CN=Khoá khác/O=Bộ Nội vụ/C=VN/serialNumber=VN\\/GOV\\/${G09}`);
    const otherCert = Buffer.from((await net.lab.p.issuer.issue({ profile: 'agency-encryption', csr: other.csr }, 'ra1')).der);
    const kept = bnv.options.decryption!;
    bnv.options.decryption = [{ certificate: otherCert, key: keyObjectRecipient(createPrivateKey(readFileSync(other.keyPath))) }];
    await bnv.reopen();
    try {
      const sent = await vpcp.desk.send(
        { to: [G09], code: { number: '2', notation: 'KH-MAT' }, promulgation: { place: 'Hà Nội' }, documentType: { type: 9, typeName: 'Kế hoạch' }, subject: 'Kế hoạch số 2', signer: { fullName: 'Vũ Minh Châu' }, classification: 'mat' },
        'clerk@vpcp',
      );
      const failed = await until(async () => (await vpcp.desk.deliveries(sent.id)).find((d) => d.state === 'failed'), 30_000, 'failed');
      expect(failed.lastError).toContain('e2e_wrong_key');
    } finally {
      bnv.options.decryption = kept;
      await bnv.reopen();
    }
  }, 60_000);
});
