/**
 * Certificates for keys that cannot sign (src/pki/key-agreement): an agency's key made on SoftHSM2 for
 * receiving only (EC: CKA_DERIVE; RSA: CKA_DECRYPT; never CKA_SIGN) gets its agency-encryption certificate
 * without a PKCS#10 request — the request signed by the agency's signing certificate, the challenge
 * answered on the token, issuance on the RA officer's submission of the answer — through the domain, the
 * HTTP API and the CLI; the certificate then receives CMS on the token. Every refusal is audited.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { searchAudit } from '../../src/audit/index.js';
import { signWith } from '../../src/crypto/sign.js';
import { Pkcs11KeyStore } from '../../src/crypto/pkcs11-keystore.js';
import { KeyAgreementRequests, answerChallenge, revoke, signKaRequest, type KaRequest } from '../../src/pki/index.js';
import { parseCertificate } from '../../src/pki/path/index.js';
import { decodeName } from '../../src/pki/name.js';
import { decryptCms, encryptCms, keyObjectRecipient, keyStoreRecipient } from '../../src/vault/index.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { openssl, opensslCsr, tmp } from '../helpers/openssl.js';
import { softHsmMissing, softHsmToken, type SoftHsmToken } from '../helpers/softhsm.js';
import { trucDataDir } from '../helpers/truc-cli.js';
import { spawnSync } from 'node:child_process';

const G09 = 'VN/GOV/000.00.00.G09';
const SUBJECT = `CN=Bộ Nội vụ (mã hoá), O=Bộ Nội vụ, C=VN, serialNumber=${G09}`;

describe.skipIf(softHsmMissing() !== null)('certificates for keys that cannot sign', () => {
  let p: TestPlatform;
  let token: SoftHsmToken;
  let hsm: Pkcs11KeyStore;
  let ka: KeyAgreementRequests;
  const dir = tmp('truc-ka-');
  /** the agency's signing certificate (agency-signing, serialNumber naming G09) and its key */
  let signing: { cert: Buffer; key: ReturnType<typeof createPrivateKey> };

  const signer = (s = signing) => ({ scheme: 'ecdsa-sha256' as const, certificate: s.cert, sign: async (d: Buffer) => signWith(s.key, 'ecdsa-sha256', d) });
  const agencySigning = async (subject: string) => {
    const r = opensslCsr(dir, subject);
    return { cert: Buffer.from((await p.issuer.issue({ profile: 'agency-signing', csr: r.csr }, 'ra1')).der), key: createPrivateKey(readFileSync(r.keyPath)) };
  };
  const failures = async (action: string) => (await searchAudit(p.db, { action, limit: 1000 })).filter((a) => a.outcome === 'failure').map((a) => (a.detail as { code: string }).code);

  beforeAll(async () => {
    p = await testPlatform('memory://');
    ka = new KeyAgreementRequests(p.pki, p.issuer);
    token = softHsmToken();
    hsm = await Pkcs11KeyStore.open({ module: token.modulePath, slot: { tokenLabel: token.tokenLabel }, pin: token.pin });
    signing = await agencySigning(`/CN=Bộ Nội vụ/O=Bộ Nội vụ/C=VN/serialNumber=VN\\/GOV\\/000.00.00.G09`);
  }, 120_000);

  afterAll(async () => {
    await hsm?.close();
    token?.cleanup();
    await p?.close();
  });

  for (const [alg, profile] of [['EC-P256', 'agency-encryption'], ['RSA-2048', 'agency-encryption-rsa']] as const) {
    it(`${alg} made on the token for receiving only: certified on the answer computed on the token, then receives CMS there`, async () => {
      const info = await hsm.generate(alg, `nhan-${alg}`, { usage: 'decrypt' });
      // the key cannot sign, so it cannot make a PKCS#10 request
      await expect(hsm.sign(info.ref.id, alg === 'EC-P256' ? 'ecdsa-sha256' : 'rsa-pkcs1-sha256', Buffer.from('x'))).rejects.toThrow();
      const req = await signKaRequest({ profile, subject: SUBJECT, publicKey: info.spki }, signer());
      const challenge = await ka.submit(req, 'ra1');
      expect(challenge.kind).toBe(alg === 'EC-P256' ? 'ecdh' : 'rsa-oaep-sha256');
      expect((await ka.get(challenge.id))?.state).toBe('challenged');
      const answer = await answerChallenge(challenge, info.spki, await keyStoreRecipient(hsm, info.ref.id));
      const issued = await ka.answer(challenge.id, answer, 'ra2');
      const cert = parseCertificate(issued.der);
      expect(cert.spki.equals(info.spki)).toBe(true);
      expect(issued.profile).toBe(profile);
      expect(decodeName(cert.subject.der).find((a) => a.type === 'serialNumber')?.value).toBe(G09);
      expect(await ka.get(challenge.id)).toMatchObject({ state: 'issued', serial: issued.serial, decidedBy: 'ra2', requestedBy: 'ra1' });
      // what it is for: a document encrypted to it is opened on the token
      const cms = encryptCms(Buffer.from('Tài liệu Mật'), [issued.der]);
      expect((await decryptCms(cms, await keyStoreRecipient(hsm, info.ref.id), { certificate: issued.der })).content.toString()).toBe('Tài liệu Mật');
      // audited: the request, the answer and the issuance
      const trail = [...(await searchAudit(p.db, { action: 'ca.ka.request', limit: 100 })), ...(await searchAudit(p.db, { action: 'ca.ka.answer', limit: 100 }))].filter((a) => a.target === challenge.id);
      expect(trail.map((a) => `${a.action}:${a.outcome}:${a.actor}`).sort()).toEqual(['ca.ka.answer:success:ra2', 'ca.ka.request:success:ra1']);
      expect((await searchAudit(p.db, { action: 'ca.issue', limit: 1000 })).some((a) => a.target === issued.serial && (a.detail as { requestId?: string }).requestId === `ka:${challenge.id}` && a.outcome === 'success')).toBe(true);
      // answered once: a second answer is refused
      await expect(ka.answer(challenge.id, answer, 'ra2')).rejects.toMatchObject({ code: 'conflict' });
    });
  }

  it('a wrong answer (another key\'s) is pop_failed and ends the request: the right one afterwards is refused', async () => {
    const mine = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = mine.publicKey.export({ format: 'der', type: 'spki' });
    const c = await ka.submit(await signKaRequest({ profile: 'agency-encryption', subject: SUBJECT, publicKey: spki }, signer()), 'ra1');
    const wrong = await answerChallenge(c, spki, keyObjectRecipient(other.privateKey));
    await expect(ka.answer(c.id, wrong, 'ra2')).rejects.toMatchObject({ code: 'pop_failed' });
    await expect(ka.answer(c.id, await answerChallenge(c, spki, keyObjectRecipient(mine.privateKey)), 'ra2')).rejects.toMatchObject({ code: 'conflict' });
    expect(await ka.get(c.id)).toMatchObject({ state: 'refused', reason: 'wrong answer', serial: null });
    expect(await failures('ca.ka.answer')).toContain('pop_failed');
  });

  it('refuses requests that are not the member\'s own, not signed right, or for keys that sign', async () => {
    const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
    const good = await signKaRequest({ profile: 'agency-encryption', subject: SUBJECT, publicKey: spki }, signer());
    // the payload altered after signing: the signature fails
    const payload = JSON.parse(Buffer.from(good.payload, 'base64').toString());
    const altered: KaRequest = { ...good, payload: Buffer.from(JSON.stringify({ ...payload, subject: SUBJECT.replace('Bộ Nội vụ (mã hoá)', 'Khác') })).toString('base64') };
    await expect(ka.submit(altered, 'ra1')).rejects.toMatchObject({ code: 'invalid_signature' });
    // a signing certificate this CA did not issue (self-signed, the same name)
    const selfKey = join(dir, 'self.key');
    const selfCert = join(dir, 'self.pem');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', selfKey, '-out', selfCert, '-subj', '/CN=Bộ Nội vụ/O=Bộ Nội vụ/C=VN/serialNumber=VN\\/GOV\\/000.00.00.G09', '-days', '30', '-utf8']);
    const selfSigned = { cert: Buffer.from(new X509Certificate(readFileSync(selfCert)).raw), key: createPrivateKey(readFileSync(selfKey)) };
    await expect(ka.submit(await signKaRequest({ profile: 'agency-encryption', subject: SUBJECT, publicKey: spki }, signer(selfSigned)), 'ra1')).rejects.toMatchObject({ code: 'cert_invalid' });
    // another member's signing certificate asking for G09's encryption certificate
    const g22 = await agencySigning('/CN=Văn phòng Chính phủ/O=Văn phòng Chính phủ/C=VN/serialNumber=VN\\/GOV\\/000.00.00.G22');
    await expect(ka.submit(await signKaRequest({ profile: 'agency-encryption', subject: SUBJECT, publicKey: spki }, signer(g22)), 'ra1')).rejects.toMatchObject({ code: 'subject_not_allowed' });
    // a profile for keys that sign: those prove possession with PKCS#10
    await expect(ka.submit(await signKaRequest({ profile: 'agency-signing', subject: SUBJECT, publicKey: spki }, signer()), 'ra1')).rejects.toMatchObject({ code: 'key_not_allowed' });
    // an RSA key under the EC profile
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'der', type: 'spki' });
    await expect(ka.submit(await signKaRequest({ profile: 'agency-encryption', subject: SUBJECT, publicKey: rsa }, signer()), 'ra1')).rejects.toMatchObject({ code: 'key_not_allowed' });
    // a replayed request id
    await ka.submit(good, 'ra1');
    await expect(ka.submit(good, 'ra1')).rejects.toMatchObject({ code: 'duplicate_request' });
    // a request made long ago
    await expect(ka.submit(await signKaRequest({ profile: 'agency-encryption', subject: SUBJECT, publicKey: spki, createdAt: new Date(Date.now() - 30 * 86_400_000) }, signer()), 'ra1')).rejects.toMatchObject({ code: 'bad_request' });
    expect(await failures('ca.ka.request')).toEqual(expect.arrayContaining(['invalid_signature', 'cert_invalid', 'subject_not_allowed', 'key_not_allowed', 'duplicate_request', 'bad_request']));
  });

  it('a revoked signing certificate: refused at the request, and at the answer when revoked in between', async () => {
    const s = await agencySigning('/CN=Bộ Nội vụ 2/O=Bộ Nội vụ/C=VN/serialNumber=VN\\/GOV\\/000.00.00.G09');
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = k.publicKey.export({ format: 'der', type: 'spki' });
    const c = await ka.submit(await signKaRequest({ profile: 'agency-encryption', subject: SUBJECT, publicKey: spki }, signer(s)), 'ra1');
    await revoke(p.pki, { serial: parseCertificate(s.cert).serialHex, reason: 'keyCompromise' }, 'ca-admin');
    await expect(ka.answer(c.id, await answerChallenge(c, spki, keyObjectRecipient(k.privateKey)), 'ra2')).rejects.toMatchObject({ code: 'cert_revoked' });
    expect((await ka.get(c.id))?.state).toBe('refused');
    await expect(ka.submit(await signKaRequest({ profile: 'agency-encryption', subject: SUBJECT, publicKey: spki }, signer(s)), 'ra1')).rejects.toMatchObject({ code: 'cert_revoked' });
  });

  it('a request left mid-issuance by a process that stopped: taken again once the claim is stale, never twice at once', async () => {
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = k.publicKey.export({ format: 'der', type: 'spki' });
    const c = await ka.submit(await signKaRequest({ profile: 'agency-encryption', subject: SUBJECT, publicKey: spki }, signer()), 'ra1');
    const answer = await answerChallenge(c, spki, keyObjectRecipient(k.privateKey));
    // another process claimed it just now: this one may not go on
    await p.db.query(`UPDATE pki_ka_request SET state = 'issuing', decided_at = now() WHERE id = $1`, [c.id]);
    await expect(ka.answer(c.id, answer, 'ra2')).rejects.toMatchObject({ code: 'conflict' });
    // that process died ten minutes ago: the answer is taken, the certificate issued once
    await p.db.query(`UPDATE pki_ka_request SET decided_at = now() - interval '10 minutes' WHERE id = $1`, [c.id]);
    const issued = await ka.answer(c.id, answer, 'ra2');
    expect(await ka.get(c.id)).toMatchObject({ state: 'issued', serial: issued.serial });
  });

  it('through the HTTP API: an RA officer submits and answers; an auditor may not', async () => {
    const app: FastifyInstance = await buildApp(p);
    try {
      const ra = (await createToken(p.db, `ra ${randomBytes(3).toString('hex')}`, ['ra-officer'])).token;
      const auditor = (await createToken(p.db, `auditor ${randomBytes(3).toString('hex')}`, ['auditor'])).token;
      const k = generateKeyPairSync('ec', { namedCurve: 'P-384' });
      const spki = k.publicKey.export({ format: 'der', type: 'spki' });
      const req = await signKaRequest({ profile: 'agency-encryption', subject: SUBJECT, publicKey: spki }, signer());
      const denied = await app.inject({ method: 'POST', url: '/api/v1/key-agreement-requests', headers: { authorization: `Bearer ${auditor}` }, payload: req });
      expect(denied.statusCode).toBe(403);
      const r = await app.inject({ method: 'POST', url: '/api/v1/key-agreement-requests', headers: { authorization: `Bearer ${ra}` }, payload: req });
      expect(r.statusCode).toBe(201);
      const challenge = r.json();
      const answer = (await answerChallenge(challenge, spki, keyObjectRecipient(k.privateKey))).toString('base64');
      const bad = await app.inject({ method: 'POST', url: `/api/v1/key-agreement-requests/${challenge.id}/answer`, headers: { authorization: `Bearer ${ra}` }, payload: { answer: 'AAAA' } });
      expect(bad.json()).toMatchObject({ status: 422, code: 'pop_failed' });
      // that ended the request; a new one is answered right
      const req2 = await signKaRequest({ profile: 'agency-encryption', subject: SUBJECT, publicKey: spki }, signer());
      const c2 = (await app.inject({ method: 'POST', url: '/api/v1/key-agreement-requests', headers: { authorization: `Bearer ${ra}` }, payload: req2 })).json();
      // the first challenge's answer does not answer the second
      const wrongOne = await app.inject({ method: 'POST', url: `/api/v1/key-agreement-requests/${c2.id}/answer`, headers: { authorization: `Bearer ${ra}` }, payload: { answer } });
      expect(wrongOne.json().code).toBe('pop_failed');
      const req3 = await signKaRequest({ profile: 'agency-encryption', subject: SUBJECT, publicKey: spki }, signer());
      const c3 = (await app.inject({ method: 'POST', url: '/api/v1/key-agreement-requests', headers: { authorization: `Bearer ${ra}` }, payload: req3 })).json();
      const ok = await app.inject({ method: 'POST', url: `/api/v1/key-agreement-requests/${c3.id}/answer`, headers: { authorization: `Bearer ${ra}` }, payload: { answer: (await answerChallenge(c3, spki, keyObjectRecipient(k.privateKey))).toString('base64') } });
      expect(ok.statusCode).toBe(201);
      expect(ok.json()).toMatchObject({ profile: 'agency-encryption', subject: SUBJECT });
      expect(createPublicKey(ok.json().certificate).export({ format: 'der', type: 'spki' }).equals(spki)).toBe(true);
      const shown = await app.inject({ method: 'GET', url: `/api/v1/key-agreement-requests/${c3.id}`, headers: { authorization: `Bearer ${ra}` } });
      expect(shown.json()).toMatchObject({ state: 'issued', member: G09 });
    } finally {
      await app.close();
    }
  });
});

describe('truc ca ka-request / ka-submit / ka-answer / ka-issue', () => {
  it('an EC key-agreement key certified without a CSR, each step a command', async () => {
    const data = await trucDataDir('truc-ka-cli-');
    const dir = tmp('truc-ka-cli-files-');
    const env = { ...process.env, TRUC_DATA_DIR: data };
    const truc = (...args: string[]) => {
      const r = spawnSync(process.execPath, ['bin/truc.js', ...args], { env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`truc ${args.join(' ')}: ${r.status}\n${r.stderr}\n${r.stdout}`);
      return r.stdout;
    };
    truc('ca', 'init');
    const s = opensslCsr(dir, '/CN=Bộ Nội vụ/O=Bộ Nội vụ/C=VN/serialNumber=VN\\/GOV\\/000.00.00.G09');
    writeFileSync(join(dir, 's.csr'), s.csr);
    truc('ca', 'issue', '--csr', join(dir, 's.csr'), '--profile', 'agency-signing', '--out', join(dir, 's.pem'));
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'ka.pub'), k.publicKey.export({ format: 'pem', type: 'spki' }));
    writeFileSync(join(dir, 'ka.key'), k.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    truc('ca', 'ka-request', '--public-key', join(dir, 'ka.pub'), '--subject', SUBJECT, '--sign-cert', join(dir, 's.pem'), '--sign-key', s.keyPath, '--out', join(dir, 'req.json'));
    truc('ca', 'ka-submit', join(dir, 'req.json'), '--out', join(dir, 'challenge.json'));
    truc('ca', 'ka-answer', join(dir, 'challenge.json'), '--public-key', join(dir, 'ka.pub'), '--key', join(dir, 'ka.key'), '--out', join(dir, 'answer.json'));
    truc('ca', 'ka-issue', join(dir, 'answer.json'), '--out', join(dir, 'ka.pem'));
    // openssl reads what was issued: the key, the key usage, the member
    const text = openssl(['x509', '-in', join(dir, 'ka.pem'), '-noout', '-text', '-nameopt', 'utf8']);
    expect(text).toMatch(/Key Agreement/);
    expect(text).not.toMatch(/Digital Signature/);
    expect(text).toContain(`serialNumber=${G09}`);
    expect(createPublicKey(readFileSync(join(dir, 'ka.pem'))).export({ format: 'der', type: 'spki' }).equals(k.publicKey.export({ format: 'der', type: 'spki' }))).toBe(true);
  }, 120_000);
});
