import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPem } from '../../src/asn1/der.js';
import { caChain, listCas } from '../../src/pki/index.js';
import { loadProfile, nodeCryptoProduct, parseProfile, resolveSuites } from '../../src/lab/index.js';
import { findRun, runAndRecord, runArtifacts, searchRuns, verifyReportSignature } from '../../src/lab/register/index.js';
import { verifyDetached } from '../../src/sign/index.js';
import { opensslStatus, tmp } from '../helpers/openssl.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';
import { sharedMissing, VECTORS } from './shared.js';

describe.skipIf(sharedMissing)('a signed lab report', () => {
  let p: TestPlatform;
  const dir = tmp('truc-lab-sig-');
  let root: string;

  beforeAll(async () => {
    p = await testPlatform('memory://');
    const r = (await listCas(p.db)).find((c) => c.parentId === null)!;
    root = join(dir, 'root.pem');
    writeFileSync(root, toPem('CERTIFICATE', r.certificate));
  });
  afterAll(async () => {
    await p?.close();
  });

  it('runs node:crypto on two suites, stores the run, and signs the report so openssl cms -verify accepts it', async () => {
    const files = await resolveSuites(['aes_gcm_test.json', 'hmac_sha256_test.json'], { dir: VECTORS });
    const profile = await loadProfile('stored-data-protection');
    const { run, signed, report } = await runAndRecord(p, { adapter: nodeCryptoProduct(), files, profile }, 'tester');
    expect(run).toMatchObject({ verdict: 'PASS', profile: 'stored-data-protection', adapter: 'node', signed: true, operator: 'tester' });
    expect(run.suites.map((s) => s.file)).toEqual(['aes_gcm_test.json', 'hmac_sha256_test.json']);
    // the hash of the upstream JSON (the shared copy is its gzip), so anyone can check which bytes ran
    const upstream = gunzipSync(readFileSync(join(VECTORS, 'aes_gcm_test.json.gz')));
    expect(run.suites[0].sha256).toBe(createHash('sha256').update(upstream).digest('hex'));
    expect(report.suites[0]!.storedSha256).toBe(createHash('sha256').update(readFileSync(join(VECTORS, 'aes_gcm_test.json.gz'))).digest('hex'));
    expect(report.sources).toEqual([
      {
        name: 'C2SP/wycheproof',
        commit: 'dac1dd4729fd1f8dd9e1e9f3dce51d783da6c166',
        folder: VECTORS,
        files: report.suites.map((s) => ({ file: s.file, sha256: s.sha256, upstream: true })),
      },
    ]);
    expect(run.reportSha256).toBe(createHash('sha256').update(signed.bytes).digest('hex'));
    expect(run.counts.PASS).toBe(report.counts.PASS);
    expect(run.counts.FAIL).toBe(0);
    expect((await searchRuns(p.db, { verdict: 'PASS' })).map((r) => r.id)).toContain(run.id);
    expect(p.events.some((e) => e.subject === 'truc.lab.run.record' && e.event.truc?.target === run.id)).toBe(true);
    expect(p.events.some((e) => e.subject === 'truc.lab.signer.provision')).toBe(true);

    const stored = (await runArtifacts(p.db, run.id))!;
    expect(Buffer.from(stored.report).equals(Buffer.from(signed.bytes))).toBe(true);
    const json = join(dir, 'report.json');
    const p7s = join(dir, 'report.p7s');
    writeFileSync(json, stored.report);
    writeFileSync(p7s, stored.signature!);

    for (const extra of [[], ['-purpose', 'any']]) {
      const v = opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-in', p7s, '-content', json, '-CAfile', root, '-out', '/dev/null', ...extra]);
      expect(v.status, v.out).toBe(0);
      expect(v.out).toMatch(/Verification successful/);
    }
    const attrs = opensslStatus(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', p7s]).out;
    for (const a of ['contentType', 'messageDigest', 'signingTime', 'id-smime-aa-signingCertificateV2']) expect(attrs).toContain(a);

    // our verifier: trusted against the root, with the signer being the lab's certificate
    const ok = await verifyDetached(stored.signature!, stored.report, { trustAnchors: [(await listCas(p.db)).find((c) => c.parentId === null)!.certificate] });
    expect(ok.trusted).toBe(true);
    expect(ok.signer.subject).toMatch(/CN=Trục Crypto Lab/);
    expect(ok.path).toHaveLength(3);
    expect(ok.certificates).toHaveLength(1 + (await caChain(p.pki, signed.signer.caId)).length);

    // one byte changed in the report: refused, by us and by openssl
    const tampered = Buffer.from(stored.report);
    const at = tampered.indexOf('"PASS":') + 7;
    tampered[at] = tampered[at] === 0x31 ? 0x32 : 0x31;
    await expect(verifyDetached(stored.signature!, tampered)).rejects.toMatchObject({ code: 'invalid_signature', message: expect.stringMatching(/does not match/) });
    await expect(verifyReportSignature(tampered, stored.signature!)).rejects.toMatchObject({ code: 'invalid_signature' });
    writeFileSync(join(dir, 'tampered.json'), tampered);
    expect(opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-in', p7s, '-content', join(dir, 'tampered.json'), '-CAfile', root, '-out', '/dev/null']).status).not.toBe(0);

    // a pretty-printed copy of the same report verifies in its canonical form
    const pretty = Buffer.from(JSON.stringify(JSON.parse(stored.report.toString()), null, 2));
    const v = await verifyReportSignature(pretty, stored.signature!);
    expect(v.canonicalised).toBe(true);

    // a signature byte flipped: refused
    const badSig = Buffer.from(stored.signature!);
    badSig[badSig.length - 5] ^= 1;
    await expect(verifyDetached(badSig, stored.report)).rejects.toMatchObject({ code: 'invalid_signature' });
    expect((await findRun(p.db, run.id))!.reportSha256).toMatch(/^[0-9a-f]{64}$/);
  }, 60_000);

  it('a profile\'s skip policy is applied to the run: SKIPPED with reasons in the signed report, not a failure', async () => {
    const files = await resolveSuites(['aes_gcm_test.json'], { dir: VECTORS });
    const profile = parseProfile({
      id: 'gcm-no-long-iv',
      title: 'AES-GCM with 96-bit nonces',
      standard: 'AES-GCM, 96-bit nonces only',
      suites: [{ id: 'gcm', title: 'AES-GCM', evidences: 'authenticated encryption', match: { algorithms: ['AES-GCM'] }, required: true }],
      skip: { flags: ['LongIv'], tests: [{ file: 'aes_gcm_test.json', tcIds: [1], reason: 'agreed with the vendor' }] },
    });
    const longIv = files[0]!.doc.testGroups.flatMap((g) => g.tests).filter((t) => t.flags?.includes('LongIv')).length;
    expect(longIv).toBeGreaterThan(0);
    const { run, signed } = await runAndRecord(p, { adapter: nodeCryptoProduct(), files, profile }, 'tester');
    expect(run.counts.SKIPPED).toBe(longIv + 1);
    expect(run.verdict).toBe('PASS');
    const body = JSON.parse(Buffer.from(signed.bytes).toString('utf8'));
    expect(body.suites[0].skipped).toEqual(
      expect.arrayContaining([
        { reason: 'skipped by policy: flag LongIv', count: longIv },
        { reason: 'skipped by policy: agreed with the vendor', count: 1 },
      ]),
    );
  }, 30_000);

  it('a second run reuses the provisioned signing certificate', async () => {
    const files = await resolveSuites(['hmac_sha256_test.json'], { dir: VECTORS });
    const a = await runAndRecord(p, { adapter: nodeCryptoProduct(), files }, 'tester');
    const b = await runAndRecord(p, { adapter: nodeCryptoProduct(), files }, 'tester');
    expect(a.run.signerSerial).toBe(b.run.signerSerial);
    expect(a.run.verdict).toBeNull();
  }, 30_000);
});
