/**
 * Agencies' encryption certificates carried by the global configuration. The receiving member registers
 * its agency-encryption certificate with the central server by a request its signing key signs (with a
 * fresh OCSP response for the certificate from our responder); it waits pending — not in the
 * configuration — until an operator approves it; the next version lists it under the member, inside the
 * shared-parameters part whose SHA-512 the signed directory names. The sending desk takes the recipient's
 * certificate from that configuration before its directory, the newest that validates (path and OCSP
 * status), follows a rotation, never uses a revoked one, and chooses again from the configuration before a
 * retry. Refusals (bad signature, another member's or a signing certificate, revoked, duplicate, unknown)
 * carry their code and a message in Vietnamese and English, and are audited.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createPrivateKey, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { searchAudit } from '../../../src/audit/index.js';
import { getCa, revoke } from '../../../src/pki/index.js';
import { OcspResponder } from '../../../src/pki/ocsp/index.js';
import { buildOcspRequest } from '../../../src/pki/path/index.js';
import { CentralServer } from '../../../src/exchange/central/index.js';
import { buildRegistrationRequest, GlobalConf, sha512Hex, verifySignedDirectory, type BuildRegistration, type SharedParameters } from '../../../src/exchange/conf/index.js';
import { keyObjectRecipient, type ReleasePolicy } from '../../../src/vault/index.js';
import type { DeskRecipient, SendInput } from '../../../src/exchange/edoc/desk.js';
import { opensslCsr, tmp } from '../../helpers/openssl.js';
import { issueKey, OCSP_OPTS, type IssuedKey } from '../central/fixture.js';
import { AGENCIES, clientOf, openNetwork, until, type Network, type TestDesk } from './fixture.js';

const G22 = '000.00.00.G22';
const G09 = '000.00.00.G09';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface EncCert {
  der: Buffer;
  serial: string;
  keyPath: string;
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; reason?: unknown; message: string }> {
  try {
    await p;
  } catch (e: any) {
    return { code: e.code, reason: e.detail?.reason, message: e.message };
  }
  throw new Error('expected a refusal');
}

describe('encryption certificates in the global configuration', () => {
  let net: Network;
  let vpcp: TestDesk, bnv: TestDesk;
  let central: CentralServer;
  let ocsp: OcspResponder;
  let conf: GlobalConf | undefined;
  let directory: DeskRecipient[] = [];
  let signing: IssuedKey;
  let ocspFor: (cert: Buffer) => Promise<Buffer>;
  const enc: Record<'a' | 'b' | 'c' | 'd' | 'other', EncCert> = {} as never;
  const policy: ReleasePolicy = {
    senders: { '*': 'toi-mat' },
    recipients: { '*': 'toi-mat' },
    channels: { axis: 'unclassified', 'axis-e2e': 'toi-mat' },
    encryptFrom: 'mat',
  };
  const doc = (n: number): SendInput => ({
    to: [G09],
    code: { number: String(n), notation: 'CV-MAT' },
    promulgation: { place: 'Hà Nội', date: '2026-12-04' },
    documentType: { type: 1, typeName: 'Công văn' },
    subject: `Kế hoạch bảo vệ bí mật nhà nước số ${n}`,
    signer: { fullName: 'Trần Thị Mai' },
    classification: 'mat',
  });

  /** a request of G09's server, signed by G09's signing key */
  const request = async (b: Partial<BuildRegistration> & Pick<BuildRegistration, 'type'>) =>
    buildRegistrationRequest({
      instance: 'VN',
      server: { memberClass: 'GOV', memberCode: G09, serverCode: 'ss-bnv' },
      signing: { sign: signing.sign, scheme: signing.scheme, certificate: signing.certificate, ocsp: await ocspFor(signing.certificate) },
      ...b,
    } as BuildRegistration);
  const register = async (c: EncCert) => request({ type: 'encryption-cert', encryption: { certificate: c.der, ocsp: await ocspFor(c.der) } });

  /** the latest configuration, generated now, its signature verified against the signing certificate */
  const latest = async () => {
    await central.generator.generate({ force: true });
    const { directory: dir } = verifySignedDirectory(await central.generator.signedDirectory(), [central.signingCertificate()]);
    const ref = dir.parts.find((x) => x.name === 'shared-params')!;
    const bytes = (await central.generator.part(ref.hash))!;
    return { dir, ref, bytes, conf: new GlobalConf(JSON.parse(bytes.toString('utf8')) as SharedParameters, dir) };
  };
  const refresh = async () => {
    conf = (await latest()).conf;
  };
  const encryptedTo = async (id: string) => (await vpcp.desk.deliveries(id))[0]!.encryptTo;
  const arrived = (id: string) => until(async () => (await vpcp.desk.recipientStatuses(id))[0]?.status === '01', 30_000, '01');

  beforeAll(async () => {
    net = await openNetwork(AGENCIES.slice(0, 2));
    [vpcp, bnv] = net.desks as [TestDesk, TestDesk];
    const p = net.lab.p;
    ocsp = new OcspResponder(p.pki, p.issuer, OCSP_OPTS);
    await ocsp.start();
    const issuing = (await getCa(p.db, 'issuing'))!;
    ocspFor = async (cert) => (await ocsp.respond(buildOcspRequest(cert, issuing.certificate))).der;
    central = await CentralServer.open({ db: p.db, keys: p.keys, bus: p.bus, instance: 'VN' });
    await central.registry.approvePlatformCas(p.pki, 'test');
    await central.registry.addMember({ memberClass: 'GOV', memberCode: G22, name: 'Văn phòng Chính phủ' }, 'test');
    await central.registry.addMember({ memberClass: 'GOV', memberCode: G09, name: 'Bộ Nội vụ' }, 'test');
    // Bộ Nội vụ's member keys (signing, naming the member) and its security server, registered and approved
    const subject = [{ type: 'C', value: 'VN' }, { type: 'O', value: 'Bộ Nội vụ' }];
    signing = await issueKey(p, 'agency-signing', [...subject, { type: 'CN', value: 'Bộ Nội vụ' }, { type: 'serialNumber', value: `VN/GOV/${G09}` }]);
    const auth = await issueKey(p, 'agency-auth', [...subject, { type: 'CN', value: 'ss.bnv.example' }]);
    const server = await central.registration.submit(await request({ type: 'auth-cert', address: 'ss.bnv.example:5500', auth: { sign: auth.sign, scheme: auth.scheme, certificate: auth.certificate, ocsp: await ocspFor(auth.certificate) } }));
    await central.registration.approve(server.id, 'operator');
    // encryption certificates: a, b, c, d Bộ Nội vụ's (in the order they were issued), `other` Văn phòng Chính phủ's
    const dir = tmp('truc-conf-enc-');
    for (const k of ['a', 'b', 'c', 'd', 'other'] as const) {
      const [code, name] = k === 'other' ? [G22, 'Văn phòng Chính phủ'] : [G09, 'Bộ Nội vụ'];
      const { csr, keyPath } = opensslCsr(dir, `/CN=${name} (mã hoá ${k})/O=${name}/C=VN/serialNumber=VN\\/GOV\\/${code}`);
      const issued = await p.issuer.issue({ profile: 'agency-encryption', csr }, 'ra1');
      enc[k] = { der: Buffer.from(issued.der), serial: issued.serial, keyPath };
    }
    // the desks: the configuration first, then the directory (which names `d` for Bộ Nội vụ, and Văn phòng
    // Chính phủ's certificate, which the configuration does not carry: statuses go back to it that way);
    // recipients' certificates validated with their OCSP status, as the desks validate signatures
    directory = AGENCIES.slice(0, 2).map((a) => ({ id: a.organ.organId, name: a.organ.organName, client: clientOf(a), encryptionCertificate: (a.organ.organId === G09 ? enc.d : enc.other).der }));
    for (const d of net.desks) {
      d.options.recipients = () => directory;
      d.options.conf = () => conf;
      d.options.release = { policy: async () => policy, markings: false };
      d.options.validation = { ...d.options.validation, revocation: { mode: 'hard-fail', targetOnly: true, fetchOcsp: async (_url, req) => (await ocsp.respond(req)).der } };
    }
    // Bộ Nội vụ holds every key it may be sent to
    const recipientOf = (c: EncCert) => ({ certificate: c.der, key: keyObjectRecipient(createPrivateKey(readFileSync(c.keyPath))) });
    bnv.options.decryption = [enc.a, enc.b, enc.c, enc.d].map(recipientOf);
    vpcp.options.decryption = [recipientOf(enc.other)];
    for (const d of net.desks) await d.reopen();
  }, 120_000);

  afterAll(async () => {
    await central?.stop();
    await ocsp?.stop();
    await net?.close();
  });

  it('registered by a signed request: pending and absent from the configuration; approved, listed under the member in the part the signed directory hashes', async () => {
    const r = await central.registration.submit(await register(enc.a));
    expect(r.status).toBe('pending');
    // not approved yet: the configuration lists none for the member, and the desk falls back to its directory
    await refresh();
    expect(conf!.member({ memberClass: 'GOV', memberCode: G09 })?.encryptionCertificates).toBeUndefined();
    expect(conf!.encryptionCertificates({ memberClass: 'GOV', memberCode: G09 })).toEqual([]);

    const approved = await central.registration.approve(r.id, 'operator');
    expect(approved).toMatchObject({ status: 'approved', type: 'encryption-cert', payload: { encryptionCertHash: sha256(enc.a.der) } });
    const audit = await searchAudit(net.lab.p.db, { action: 'central.registration.approve', limit: 1000 });
    expect(audit.some((a: any) => a.target === r.id && a.outcome === 'success')).toBe(true);
    expect((await central.registry.listEncryptionCerts({ memberClass: 'GOV', memberCode: G09 })).map((c) => c.hash)).toEqual([sha256(enc.a.der)]);

    const { dir, ref, bytes, conf: next } = await latest();
    // the part as served hashes to what the signed directory names, and it carries the certificate
    expect(sha512Hex(bytes)).toBe(ref.hash);
    const member = (JSON.parse(bytes.toString('utf8')) as SharedParameters).members.find((m) => m.memberCode === G09)!;
    expect(member.encryptionCertificates).toEqual([{ certificate: enc.a.der.toString('base64'), hash: sha256(enc.a.der) }]);
    expect(next.encryptionCertificates({ memberClass: 'GOV', memberCode: G09 }).map((b) => b.equals(enc.a.der))).toEqual([true]);
    expect(next.encryptionCertificates({ memberClass: 'GOV', memberCode: G22 })).toEqual([]);
    // a part altered to name another certificate is no longer the part the directory hashes
    const altered = Buffer.from(bytes.toString('utf8').replace(enc.a.der.toString('base64'), enc.d.der.toString('base64')));
    expect(sha512Hex(altered)).not.toBe(ref.hash);
    // and an entry whose hash is not its certificate's is not taken
    const shared = JSON.parse(bytes.toString('utf8')) as SharedParameters;
    shared.members.find((m) => m.memberCode === G09)!.encryptionCertificates![0]!.certificate = enc.d.der.toString('base64');
    expect(new GlobalConf(shared, dir).encryptionCertificates({ memberClass: 'GOV', memberCode: G09 })).toEqual([]);
    conf = next;
  }, 60_000);

  it('the sending desk encrypts to the configuration’s certificate, not its directory’s', async () => {
    const sent = await vpcp.desk.send(doc(1), 'clerk@vpcp');
    expect((await encryptedTo(sent.id))!.equals(enc.a.der)).toBe(true);
    await arrived(sent.id);
    const item = (await bnv.desk.inbox()).documents.find((d) => d.documentId === sent.documentId)!;
    expect((await bnv.desk.get(item.id)).document).toMatchObject({ classification: 'mat', validation: { indication: 'TOTAL-PASSED' } });
    const audit = await searchAudit(vpcp.db, { action: 'doc.send', limit: 100 });
    expect(audit.find((a: any) => a.target === sent.documentId)?.detail).toMatchObject({ encryptedTo: [{ organId: G09, certificateSha256: sha256(enc.a.der) }] });
  }, 60_000);

  it('rotation: with two, the newest that validates is used; a revoked one is not', async () => {
    await central.registration.approve((await central.registration.submit(await register(enc.b))).id, 'operator');
    await refresh();
    expect(conf!.encryptionCertificates({ memberClass: 'GOV', memberCode: G09 }).map(sha256)).toEqual([sha256(enc.a.der), sha256(enc.b.der)]);
    const first = await vpcp.desk.send(doc(2), 'clerk@vpcp');
    expect((await encryptedTo(first.id))!.equals(enc.b.der)).toBe(true);
    await arrived(first.id);

    // b revoked at the CA: its OCSP status says so, and the desk falls back to a, still listed and good
    await revoke(net.lab.p.pki, { serial: enc.b.serial, reason: 'keyCompromise' }, 'test');
    const second = await vpcp.desk.send(doc(3), 'clerk@vpcp');
    expect((await encryptedTo(second.id))!.equals(enc.a.der)).toBe(true);
    await arrived(second.id);
  }, 60_000);

  it('a retry chooses again from the configuration: the certificate deleted meanwhile is not used, the new one is', async () => {
    await bnv.down();
    const sent = await vpcp.desk.send(doc(4), 'clerk@vpcp');
    expect((await encryptedTo(sent.id))!.equals(enc.a.der)).toBe(true);
    await until(async () => ((await vpcp.desk.deliveries(sent.id))[0]!.attempts >= 1 ? true : null), 30_000, 'a first attempt');
    // rotation while the recipient is down: c registered, a deleted by a request the member signed
    await central.registration.approve((await central.registration.submit(await register(enc.c))).id, 'operator');
    await central.registration.approve((await central.registration.submit(await request({ type: 'encryption-cert-deletion', encryption: { certificate: enc.a.der } }))).id, 'operator');
    await refresh();
    expect(conf!.encryptionCertificates({ memberClass: 'GOV', memberCode: G09 }).map(sha256)).toEqual([sha256(enc.b.der), sha256(enc.c.der)]);
    // the next retry, while the recipient is still down, chooses again: c (an attempt already under way when
    // the configuration changed keeps the certificate it chose, so the recipient comes back only after that)
    await until(async () => ((await encryptedTo(sent.id))!.equals(enc.c.der) ? true : null), 30_000, 'a retry encrypting to c');
    await bnv.up();
    await arrived(sent.id);
    expect((await encryptedTo(sent.id))!.equals(enc.c.der)).toBe(true);
    const changed = await searchAudit(vpcp.db, { action: 'doc.encryption.changed', limit: 100 });
    expect(changed.find((a: any) => a.target === sent.id)?.detail).toMatchObject({ to: G09, from: sha256(enc.a.der), certificateSha256: sha256(enc.c.der) });
  }, 60_000);

  it('none of the member’s listed certificates usable: refused, without falling back to the directory', async () => {
    await revoke(net.lab.p.pki, { serial: enc.c.serial, reason: 'superseded' }, 'test');
    const e = await refusal(vpcp.desk.send(doc(5), 'clerk@vpcp'));
    expect(e.code).toBe('encryption_certificate_missing');
    expect(e.message).toMatch(/^cơ quan 000\.00\.00\.G09 không có chứng thư mã hoá dùng được .* \/ agency 000\.00\.00\.G09 has no usable encryption certificate \(none of its 2 certificates in the configuration is usable/);
    expect(await vpcp.db.query("SELECT id FROM xd_document WHERE document_id LIKE '%,5/CV-MAT'")).toHaveLength(0);
  }, 60_000);

  it('refuses a bad signature with a message in Vietnamese and English, and audits it', async () => {
    const req = await register(enc.d);
    const other = await register(enc.d);
    const forged = { ...req, signature: other.signature };
    const e = await refusal(central.registration.submit(forged));
    expect(e).toMatchObject({ code: 'registration_invalid', reason: 'bad_signature' });
    expect(e.message).toBe('chữ ký bằng khoá ký số của chủ máy chủ không khớp với nội dung yêu cầu / the signature of the owner’s signing key does not verify over the payload');
    const id = JSON.parse(Buffer.from(req.payload, 'base64').toString('utf8')).id;
    const audit = await searchAudit(net.lab.p.db, { action: 'central.registration.submit', limit: 1000 });
    expect(audit.find((a: any) => a.target === id)).toMatchObject({ outcome: 'failure', detail: { code: 'registration_invalid', why: 'bad_signature', reason: e.message } });
    expect(net.lab.p.events.some((ev) => ev.subject === 'truc.exchange.central.registration.submit.refused' && (ev.event.truc as { why?: string }).why === 'bad_signature')).toBe(true);
    // a hash in the payload that is not the certificate carried is refused too (the signature covers the hash)
    const swapped = { ...(await register(enc.d)), encryptionCert: enc.other.der.toString('base64') };
    expect(await refusal(central.registration.submit(swapped))).toMatchObject({ code: 'registration_invalid', reason: 'malformed' });
  }, 60_000);

  it('refuses another member’s certificate, a signing certificate, a revoked one, one registered twice, and deleting one not registered', async () => {
    // d registered (the desk takes it at once: the newest of the member's that validates)
    await central.registration.approve((await central.registration.submit(await register(enc.d))).id, 'operator');
    await refresh();
    const sent = await vpcp.desk.send(doc(6), 'clerk@vpcp');
    expect((await encryptedTo(sent.id))!.equals(enc.d.der)).toBe(true);
    await arrived(sent.id);

    expect(await refusal(central.registration.submit(await register(enc.other)))).toMatchObject({ code: 'registration_invalid', reason: 'wrong_owner', message: expect.stringContaining(' / the encryption certificate names "VN/GOV/000.00.00.G22"') });
    // the member's signing certificate names it, but is not for key agreement
    const signingAsEnc = await request({ type: 'encryption-cert', encryption: { certificate: signing.certificate, ocsp: await ocspFor(signing.certificate) } });
    expect(await refusal(central.registration.submit(signingAsEnc))).toMatchObject({ code: 'cert_invalid', reason: 'key_usage', message: expect.stringMatching(/^chứng thư mã hoá không hợp lệ cho mục đích này \/ the encryption certificate is not valid for this use/) });
    expect(await refusal(central.registration.submit(await register(enc.c)))).toMatchObject({ code: 'cert_revoked', message: 'chứng thư mã hoá đã bị thu hồi / the encryption certificate is revoked' });
    expect(await refusal(central.registration.submit(await register(enc.d)))).toMatchObject({ code: 'registration_invalid', reason: 'duplicate' });
    expect(await refusal(central.registration.submit(await request({ type: 'encryption-cert-deletion', encryption: { certificate: enc.a.der } })))).toMatchObject({ code: 'registration_invalid', reason: 'unknown_cert' });
    // a request of another type carrying an encryption certificate is malformed
    const odd = { ...(await request({ type: 'maintenance', maintenance: true })), encryptionCert: enc.d.der.toString('base64') };
    expect(await refusal(central.registration.submit(odd))).toMatchObject({ code: 'registration_invalid', reason: 'malformed' });
    // none of these reached the configuration
    await refresh();
    expect(conf!.encryptionCertificates({ memberClass: 'GOV', memberCode: G09 }).map(sha256)).toEqual([sha256(enc.b.der), sha256(enc.c.der), sha256(enc.d.der)]);
  }, 60_000);
});
