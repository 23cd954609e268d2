import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createSign, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { revoke, release, searchCerts, generateCrl } from '../../src/pki/index.js';
import { listCas } from '../../src/pki/store.js';
import { parseCsr } from '../../src/pki/csr.js';
import { parseProfile } from '../../src/pki/profile.js';
import { searchAudit, verifyAuditChain } from '../../src/audit/index.js';
import { seq, int, set, oid, utf8, bitString, ctx, NULL } from '../../src/asn1/der.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { opensslCsr, tmp } from '../helpers/openssl.js';

/** A CSR built by hand, so tests can make ones no tool would (nested, wrong version, odd keys). */
function handCsr(spki: Buffer, sign: (tbs: Buffer) => Buffer, sigAlg: Buffer, version = 0, name = seq(set(seq(oid('2.5.4.3'), utf8('x'))))): Buffer {
  const info = seq(int(version), name, spki, ctx(0));
  return seq(info, sigAlg, bitString(sign(info)));
}

describe('bad input to the CA gets a clear error and changes nothing', () => {
  let p: TestPlatform;
  let dir: string;
  let good: Buffer;
  let rootName = '';
  let issuingName = '';
  const count = async () => (await searchCerts(p.db, { limit: 1000 })).length;

  beforeAll(async () => {
    p = await testPlatform('memory://');
    dir = tmp();
    good = opensslCsr(dir, '/CN=Good/O=Bộ Nội vụ/C=VN').csr;
    const cas = await listCas(p.db);
    rootName = cas.find((c) => c.parentId === null)!.subject;
    issuingName = cas.find((c) => c.parentId !== null)!.subject;
  });
  afterAll(async () => p?.close());

  const cases: [string, () => Parameters<TestPlatform['issuer']['issue']>[0], string][] = [
    ['garbage bytes', () => ({ profile: 'agency-signing', csr: Buffer.from('not a csr at all, just text') }), 'malformed_der'],
    ['PEM without a request block', () => ({ profile: 'agency-signing', csr: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }), 'malformed_pem'],
    ['PEM with a broken body', () => ({ profile: 'agency-signing', csr: '-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n' }), 'malformed_pem'],
    ['truncated DER', () => ({ profile: 'agency-signing', csr: csrDer().subarray(0, 100) }), 'malformed_der'],
    ['trailing bytes after the request', () => ({ profile: 'agency-signing', csr: Buffer.concat([csrDer(), Buffer.from([0])]) }), 'malformed_der'],
    ['an indefinite length', () => ({ profile: 'agency-signing', csr: Buffer.from([0x30, 0x80, 0x00, 0x00]) }), 'malformed_der'],
    ['a bad signature (bit flipped)', () => ({ profile: 'agency-signing', csr: flipSignature(csrDer()) }), 'bad_csr_signature'],
    ['a subject changed after signing', () => ({ profile: 'agency-signing', csr: Buffer.from(csrDer().toString('latin1').replace('Good', 'Evil'), 'latin1') }), 'bad_csr_signature'],
    ['an unknown profile', () => ({ profile: 'nope', csr: good }), 'unknown_profile'],
    ['a forbidden subject attribute', () => ({ profile: 'tls-server', csr: good, subject: 'CN=x.gov.vn, serialNumber=123', altNames: { dns: ['x.gov.vn'] } }), 'subject_not_allowed'],
    ['a missing required attribute', () => ({ profile: 'agency-signing', csr: good, subject: 'CN=Only a name' }), 'subject_not_allowed'],
    ['a control character (NUL) in a subject attribute', () => ({ profile: 'agency-signing', csr: good, subject: 'C=VN, O=Bộ\u0000Nội vụ, CN=x' }), 'subject_not_allowed'],
    ['a forbidden alternative name', () => ({ profile: 'agency-signing', csr: good, altNames: { dns: ['x.gov.vn'] } }), 'subject_not_allowed'],
    ['a missing required alternative name', () => ({ profile: 'tls-server', csr: good, subject: 'CN=x.gov.vn' }), 'subject_not_allowed'],
    ['a malformed DNS name', () => ({ profile: 'tls-server', csr: good, subject: 'CN=x', altNames: { dns: ['bad_name..vn'] } }), 'subject_not_allowed'],
    ['a non-printable country', () => ({ profile: 'agency-signing', csr: good, subject: 'CN=a, O=b, C=Việt' }), 'subject_not_allowed'],
    ['the root CA\'s name as an end entity\'s subject', () => ({ profile: 'agency-signing', csr: good, subject: rootName }), 'subject_not_allowed'],
    ['an issuing CA\'s name reordered and in other case', () => ({ profile: 'agency-signing', csr: good, subject: issuingName.split(', ').reverse().join(',  ').toUpperCase() }), 'subject_not_allowed'],
    ['localhost on tls-server', () => ({ profile: 'tls-server', csr: good, subject: 'CN=localhost', altNames: { dns: ['localhost'] } }), 'subject_not_allowed'],
    ['a *.gov.vn wildcard on tls-server', () => ({ profile: 'tls-server', csr: good, subject: 'CN=x.gov.vn', altNames: { dns: ['*.gov.vn'] } }), 'subject_not_allowed'],
    ['a wildcard under an allowed name when wildcards are off', () => ({ profile: 'tls-server', csr: good, subject: 'CN=x.gov.vn', altNames: { dns: ['*.x.gov.vn'] } }), 'subject_not_allowed'],
    ['a name outside the allow-list', () => ({ profile: 'tls-server', csr: good, subject: 'CN=evil.example', altNames: { dns: ['evil.example'] } }), 'subject_not_allowed'],
    ['a loopback or public address', () => ({ profile: 'tls-server', csr: good, subject: 'CN=x.gov.vn', altNames: { dns: ['x.gov.vn'], ip: ['8.8.8.8'] } }), 'subject_not_allowed'],
    ['validity beyond the profile', () => ({ profile: 'tls-server', csr: good, subject: 'CN=x.gov.vn', altNames: { dns: ['x.gov.vn'] }, validityDays: 5000 }), 'bad_request'],
    ['an unknown CA', () => ({ profile: 'agency-signing', csr: good, caId: 'ghost' }), 'unknown_ca'],
    ['the root CA issuing end entities', () => ({ profile: 'agency-signing', csr: good, caId: 'root' }), 'bad_request'],
    ['an oversized request', () => ({ profile: 'agency-signing', csr: Buffer.alloc(70_000, 0x30) }), 'too_large'],
    ['a nested bomb', () => ({ profile: 'agency-signing', csr: nested(40) }), 'malformed_der'],
  ];
  let csrCache: Buffer | null = null;
  const csrDer = () => (csrCache ??= Buffer.from(readPemBody(good.toString('latin1')), 'base64'));

  for (const [what, make, code] of cases) {
    it(`refuses ${what} (${code})`, async () => {
      const before = await count();
      await expect(p.issuer.issue(make(), 'ra1')).rejects.toMatchObject({ code });
      expect(await count()).toBe(before);
    });
  }

  it('refuses keys that are too small or of a type no profile allows', async () => {
    const rsa1024 = opensslCsr(dir, '/CN=Weak/O=x/C=VN', ['-newkey', 'rsa:1024']);
    await expect(p.issuer.issue({ profile: 'agency-signing', csr: rsa1024.csr }, 'ra1')).rejects.toMatchObject({ code: 'key_not_allowed' });
    const k1 = opensslCsr(dir, '/CN=K1/O=x/C=VN', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1']);
    await expect(p.issuer.issue({ profile: 'agency-signing', csr: k1.csr }, 'ra1')).rejects.toMatchObject({ code: 'key_not_allowed' });
    const ed = opensslCsr(dir, '/CN=Ed/O=x/C=VN', ['-newkey', 'ed25519']);
    await expect(p.issuer.issue({ profile: 'official-signing', csr: ed.csr }, 'ra1')).rejects.toMatchObject({ code: 'key_not_allowed' });
  });

  it('applies the algorithm policy from configuration, not code', async () => {
    const saved = p.pki.policy;
    p.pki.policy = { ...saved, keyAlgorithms: ['EC-P384'] };
    try {
      await expect(p.issuer.issue({ profile: 'agency-signing', csr: good }, 'ra1')).rejects.toMatchObject({ code: 'key_not_allowed' });
    } finally {
      p.pki.policy = saved;
    }
    await expect(p.issuer.issue({ profile: 'agency-signing', csr: good }, 'ra1')).resolves.toMatchObject({ replayed: false });
  });

  it('refuses a CSR of the wrong version', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const der = handCsr(spki, (tbs) => createSign('sha256').update(tbs).sign(privateKey), seq(oid('1.2.840.10045.4.3.2')), 3);
    expect(() => parseCsr(der)).toThrow(/version/);
    const ok = handCsr(spki, (tbs) => createSign('sha256').update(tbs).sign(privateKey), seq(oid('1.2.840.10045.4.3.2')));
    expect(parseCsr(ok).keyAlgorithm).toBe('EC-P256');
    // SHA-1 signatures are refused by policy
    const sha1 = handCsr(spki, (tbs) => createSign('sha1').update(tbs).sign(privateKey), seq(oid('1.2.840.10045.4.1')));
    expect(() => parseCsr(sha1)).toThrow(/not allowed/);
    void NULL;
  });

  it('refuses hostile encodings inside a correctly signed request, as bad input and without a row', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const signed = (name: Buffer) => handCsr(spki, (tbs) => createSign('sha256').update(tbs).sign(privateKey), seq(oid('1.2.840.10045.4.3.2')), 0, name);
    const cn = (tag: number, value: Buffer) => seq(set(seq(oid('2.5.4.3'), Buffer.concat([Buffer.from([tag, value.length]), value]))));
    let deepName: Buffer = utf8('x');
    for (let i = 0; i < 20; i++) deepName = seq(deepName);
    const cases: [string, Buffer, string][] = [
      ['a BMPString of odd length', signed(cn(0x1e, Buffer.from([0, 0x41, 0]))), 'malformed_der'],
      ['a UTF8String that is not UTF-8', signed(cn(0x0c, Buffer.from([0xff, 0xfe]))), 'malformed_der'],
      ['a subject nested 20 deep', signed(seq(set(seq(oid('2.5.4.3'), deepName)))), 'malformed_der'],
    ];
    for (const [what, der, code] of cases) {
      const before = await count();
      await expect(p.issuer.issue({ profile: 'agency-signing', csr: der }, 'ra1'), what).rejects.toMatchObject({ code });
      expect(await count()).toBe(before);
    }
    const ed448 = opensslCsr(dir, '/CN=Ed448/O=x/C=VN', ['-newkey', 'ed448']);
    await expect(p.issuer.issue({ profile: 'agency-signing', csr: ed448.csr }, 'ra1')).rejects.toMatchObject({ code: 'key_not_allowed' });
    // a length field announcing 4 GiB in a request of a few bytes
    await expect(p.issuer.issue({ profile: 'agency-signing', csr: Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30, 0x00]) }, 'ra1')).rejects.toMatchObject({
      code: 'malformed_der',
    });
  });

  it('rejects revocation of an unknown or malformed serial, and bad reasons', async () => {
    await expect(revoke(p.pki, { serial: '0badc0ffee' }, 'ra1')).rejects.toMatchObject({ code: 'unknown_serial' });
    await expect(revoke(p.pki, { serial: 'not-hex!' }, 'ra1')).rejects.toMatchObject({ code: 'bad_request' });
    await expect(revoke(p.pki, { serial: '01', reason: 'removeFromCRL' }, 'ra1')).rejects.toMatchObject({ code: 'bad_request', message: /reason/ });
    await expect(revoke(p.pki, { serial: '01', reason: 7 }, 'ra1')).rejects.toMatchObject({ code: 'bad_request', message: /reason/ });
    await expect(release(p.pki, 'abcd', 'ra1')).rejects.toMatchObject({ code: 'unknown_serial' });
    await expect(generateCrl(p.pki, 'ghost', 'admin')).rejects.toMatchObject({ code: 'unknown_ca' });
    // a bad reason or date for a real certificate leaves it as it was, and each refusal is on the record
    const real = await p.issuer.issue({ profile: 'agency-signing', csr: good }, 'ra1');
    const [{ s: seqBefore }] = await p.db.query<{ s: string }>('SELECT max(seq) AS s FROM audit_log');
    await expect(revoke(p.pki, { serial: real.serial, reason: 'because' }, 'ra1')).rejects.toMatchObject({ code: 'bad_request' });
    await expect(revoke(p.pki, { serial: real.serial, invalidityDate: new Date('nonsense') }, 'ra1')).rejects.toMatchObject({ code: 'bad_request' });
    expect((await searchCerts(p.db, { serial: real.serial }))[0].status).toBe('good');
    const after = (await searchAudit(p.db, { afterSeq: Number(seqBefore), limit: 1000 })).filter((r) => r.action === 'ca.revoke');
    expect(after.map((r) => [r.target, r.outcome, r.detail?.code])).toEqual([
      [real.serial, 'failure', 'bad_request'],
      [real.serial, 'failure', 'bad_request'],
    ]);
    const crlRefusals = (await searchAudit(p.db, { action: 'ca.crl', limit: 1000 })).filter((r) => r.outcome === 'failure');
    expect(crlRefusals.map((r) => [r.target, r.detail?.code])).toContainEqual(['ghost', 'unknown_ca']);
  });

  it('audits refusals without breaking the chain', async () => {
    const failures = (await searchAudit(p.db, { action: 'ca.issue', limit: 1000 })).filter((r) => r.outcome === 'failure');
    expect(failures.length).toBeGreaterThanOrEqual(cases.length);
    expect(failures.some((f) => f.detail?.code === 'bad_csr_signature')).toBe(true);
    expect((await searchAudit(p.db, { action: 'ca.revoke' })).some((r) => r.outcome === 'failure')).toBe(true);
    expect((await verifyAuditChain(p.db)).ok).toBe(true);
    expect(p.events.some((e) => e.subject === 'truc.pki.certificate.refused')).toBe(true);
    // refused revocations, releases and CRLs are published for the monitoring part as well
    const refused = (subject: string) => p.events.filter((e) => e.subject === subject).map((e) => [e.event.event.outcome, e.event.truc?.code]);
    expect(refused('truc.pki.revocation.refused')).toContainEqual(['failure', 'unknown_serial']);
    expect(refused('truc.pki.release.refused')).toContainEqual(['failure', 'unknown_serial']);
    expect(refused('truc.pki.crl.refused')).toContainEqual(['failure', 'unknown_ca']);
  });

  it('validates profiles at load and names the file', () => {
    const base = readFileSync('profiles/tls-server.yaml', 'utf8');
    expect(base).toContain('name: tls-server');
    expect(() => parseProfile({ name: 'x', description: 'd', keyAlgorithms: ['DSA'], validityDays: 1, keyUsage: [], subject: { required: [], allowed: [] } }, 'x.yaml')).toThrow(/x\.yaml/);
    expect(() => parseProfile({ name: 'x', description: 'd', keyAlgorithms: ['EC-P256'], validityDays: 1, keyUsage: ['keyCertSign'], subject: { required: [], allowed: [] } }, 'y.yaml')).toThrow(/keyCertSign/);
    expect(() => parseProfile({ name: 'x', description: 'd', keyAlgorithms: ['EC-P256'], validityDays: 1, keyUsage: [], subject: { required: ['CN'], allowed: [] } }, 'z.yaml')).toThrow(/required attribute CN/);
  });
});

function readPemBody(pem: string): string {
  return pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
}

function flipSignature(der: Buffer): Buffer {
  const out = Buffer.from(der);
  out[out.length - 5] ^= 0x01;
  return out;
}

function nested(depth: number): Buffer {
  let b: Buffer = Buffer.alloc(0);
  for (let i = 0; i < depth; i++) b = seq(b);
  return b;
}
