import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateCrl, revoke } from '../../src/pki/index.js';
import { signCades, prepareCades, completeCades, validateCades, validateFile, inspectCms, reportText } from '../../src/sign/index.js';
import { openssl, opensslStatus } from '../helpers/openssl.js';
import { openLab, save, type Lab } from './fixtures.js';

const CONTENT = Buffer.from('Quyết định số 42/QĐ-BTP về việc phê duyệt đề án chuyển đổi số\n');

describe('CAdES B-B', () => {
  let lab: Lab;
  let official: Awaited<ReturnType<Lab['signer']>>;

  beforeAll(async () => {
    lab = await openLab();
    official = await lab.signer('/CN=Trần Thị Bình/O=Bộ Tư pháp/C=VN');
  });
  afterAll(async () => lab?.p.close());

  const verifyArgs = (l: Lab) => ['-binary', '-inform', 'DER', '-CAfile', l.rootPath, '-purpose', 'any'];

  it('signs detached: openssl cms -verify accepts with the content, our validator says TOTAL-PASSED', async () => {
    const p7s = await signCades(CONTENT, official);
    const content = save(lab.dir, 'decision.txt', CONTENT);
    const sig = save(lab.dir, 'decision.p7s', p7s);
    const r = opensslStatus(['cms', '-verify', ...verifyArgs(lab), '-in', sig, '-content', content, '-out', '/dev/null']);
    expect(r.out).toMatch(/Verification successful/);
    expect(r.status).toBe(0);
    const report = await validateCades(p7s, { content: CONTENT, trustAnchors: [lab.root] });
    expect(report.signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-B', checks: { integrity: true, signatureValue: true, signingCertificateReference: 'ok', certificateChain: true, certificateValidAtSigningTime: true } });
    const attrs = inspectCms(p7s, CONTENT).signers[0].signedAttributes;
    expect(attrs.sort()).toEqual(['1.2.840.113549.1.9.16.2.47', '1.2.840.113549.1.9.3', '1.2.840.113549.1.9.4', '1.2.840.113549.1.9.5'].sort());
  });

  it('signs enveloping: openssl cms -verify accepts without -content and gives the content back', async () => {
    const p7m = await signCades(CONTENT, official, { packaging: 'enveloping' });
    const out = join(lab.dir, 'out.txt');
    const r = opensslStatus(['cms', '-verify', ...verifyArgs(lab), '-in', save(lab.dir, 'decision.p7m', p7m), '-out', out]);
    expect(r.out).toMatch(/Verification successful/);
    const report = await validateCades(p7m, { trustAnchors: [lab.root] });
    expect(report.signatures[0].indication).toBe('TOTAL-PASSED');
    expect(inspectCms(p7m).content?.equals(CONTENT)).toBe(true);
  });

  it('signs with RSA-PSS and RSA PKCS#1 keys in two phases', async () => {
    for (const scheme of ['rsa-pss-sha256', 'rsa-pkcs1-sha256'] as const) {
      const rsa = await lab.signer('/CN=Lê Văn Cường/O=Bộ Tài chính/C=VN', { keyArgs: ['-newkey', 'rsa:2048'], scheme });
      const prepared = prepareCades(CONTENT, rsa);
      const p7s = completeCades(prepared, await rsa.sign(prepared.signedAttributes));
      const r = opensslStatus(['cms', '-verify', ...verifyArgs(lab), '-in', save(lab.dir, `${scheme}.p7s`, p7s), '-content', save(lab.dir, 'c.txt', CONTENT), '-out', '/dev/null']);
      expect(r.out, scheme).toMatch(/Verification successful/);
      expect((await validateCades(p7s, { content: CONTENT, trustAnchors: [lab.root] })).signatures[0].indication).toBe('TOTAL-PASSED');
    }
  });

  it('answers HASH_FAILURE for other content, SIG_CRYPTO_FAILURE for a changed signature value, FORMAT_FAILURE for garbage', async () => {
    const p7s = await signCades(CONTENT, official);
    const other = await validateCades(p7s, { content: Buffer.from('something else'), trustAnchors: [lab.root] });
    expect(other.signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'HASH_FAILURE' });

    const info = inspectCms(p7s, CONTENT).signers[0];
    const broken = Buffer.from(p7s);
    const at = broken.indexOf(info.signatureValue);
    broken[at + info.signatureValue.length - 1] ^= 0x01;
    const sig = await validateCades(broken, { content: CONTENT, trustAnchors: [lab.root] });
    expect(sig.signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'SIG_CRYPTO_FAILURE' });

    for (const garbage of [Buffer.from('not a signature'), Buffer.from([0x30, 0x80, 0, 0]), p7s.subarray(0, p7s.length - 10), Buffer.alloc(0)]) {
      const g = await validateCades(garbage, { content: CONTENT, trustAnchors: [lab.root] });
      expect(g.signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'FORMAT_FAILURE' });
    }
  });

  it('answers INDETERMINATE / SIGNED_DATA_NOT_FOUND for a detached signature validated without its content (ours and openssl\'s), SIG_CRYPTO_FAILURE when its value is also broken', async () => {
    const p7s = await signCades(CONTENT, official);
    const alone = (await validateFile(p7s, { trustAnchors: [lab.root] })).signatures[0];
    expect(alone, JSON.stringify(alone, null, 1)).toMatchObject({
      format: 'CAdES',
      level: 'B-B',
      indication: 'INDETERMINATE',
      subIndication: 'SIGNED_DATA_NOT_FOUND',
      checks: { integrity: null, signatureValue: true, signingCertificateReference: 'ok' },
      signer: { commonName: 'Trần Thị Bình' },
    });
    expect(alone.message).toMatch(/signed data is not available/);
    expect(inspectCms(p7s).signers[0].digestMatches).toBeUndefined();

    // made by openssl cms -sign (detached, with ESS signing-certificate-v2): the same answer
    const cert = official.certPath;
    const content = save(lab.dir, 'for-openssl.txt', CONTENT);
    const out = join(lab.dir, 'openssl-detached.p7s');
    openssl(['cms', '-sign', '-binary', '-cades', '-md', 'sha256', '-in', content, '-signer', cert, '-inkey', official.keyPath, '-certfile', lab.issuingPath, '-outform', 'DER', '-out', out]);
    const theirs = readFileSync(out);
    expect((await validateCades(theirs, { content: CONTENT, trustAnchors: [lab.root] })).signatures[0].indication).toBe('TOTAL-PASSED');
    expect((await validateCades(theirs, { trustAnchors: [lab.root] })).signatures[0]).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'SIGNED_DATA_NOT_FOUND' });

    // a changed signature value is a failure with or without the content
    const info = inspectCms(p7s, CONTENT).signers[0];
    const broken = Buffer.from(p7s);
    broken[broken.indexOf(info.signatureValue) + info.signatureValue.length - 1] ^= 0x01;
    expect((await validateCades(broken, { trustAnchors: [lab.root] })).signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'SIG_CRYPTO_FAILURE' });
  });

  it('answers NO_CERTIFICATE_CHAIN_FOUND for an unknown root', async () => {
    const p7s = await signCades(CONTENT, official);
    const key = join(lab.dir, 'other.key');
    const cert = join(lab.dir, 'other.der');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-outform', 'DER', '-out', cert, '-subj', '/CN=Other Root', '-days', '30']);
    const report = await validateCades(p7s, { content: CONTENT, trustAnchors: [readFileSync(cert)] });
    expect(report.signatures[0]).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'NO_CERTIFICATE_CHAIN_FOUND' });
  });

  it('answers REVOKED_NO_POE for a signature claimed before revocation and REVOKED for one claimed after', async () => {
    const signer = await lab.signer('/CN=Phạm Văn Dũng/O=Bộ Tư pháp/C=VN');
    const before = await signCades(CONTENT, signer, { signingTime: new Date(Date.now() - 5_000) });
    await revoke(lab.p.pki, { serial: signer.serial, reason: 'keyCompromise' }, 'ra1');
    const crl = (await generateCrl(lab.p.pki, 'issuing', 'admin')).der;
    const after = await signCades(CONTENT, signer, { signingTime: new Date(Date.now() + 2_000) });
    const opts = { content: CONTENT, trustAnchors: [lab.root], revocation: { mode: 'hard-fail' as const, crls: [crl, (await generateCrl(lab.p.pki, 'root', 'admin')).der] } };
    const r1 = await validateCades(before, opts);
    expect(r1.signatures[0]).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'REVOKED_NO_POE' });
    const r2 = await validateCades(after, opts);
    expect(r2.signatures[0]).toMatchObject({ indication: 'TOTAL-FAILED', subIndication: 'REVOKED' });
    expect(reportText(r2)).toMatch(/Result: TOTAL-FAILED \/ REVOKED/);
    writeFileSync(join(lab.dir, 'report.json'), JSON.stringify(r2, null, 2));
  });

  it('answers OUT_OF_BOUNDS_NO_POE when validated after the certificate expired', async () => {
    const p7s = await signCades(CONTENT, official);
    const later = new Date(Date.now() + 20 * 365 * 86_400_000);
    const report = await validateCades(p7s, { content: CONTENT, trustAnchors: [lab.root], at: later });
    expect(report.signatures[0]).toMatchObject({ indication: 'INDETERMINATE', subIndication: 'OUT_OF_BOUNDS_NO_POE', checks: { certificateValidAtSigningTime: true } });
  });
});
