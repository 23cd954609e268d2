/**
 * The algorithm policy for time-stamp tokens' own algorithms (EN 319 102-1 §5.2.8): a token is judged as a
 * signature is. A token openssl ts signs with SHA-1 over a SHA-1 imprint (a TSA certificate our CA issued to an
 * openssl key) verifies — openssl ts says so, and so does our imprint and signature check — and is then
 * INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE_NO_POE with the reason, no proof of existence; our own TSA's token under
 * a policy that does not list its key is INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE. The signatures themselves stand
 * on what else they have.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toPem } from '../../src/asn1/der.js';
import { parseCertificate } from '../../src/pki/path/index.js';
import { TimeStampAuthority } from '../../src/pki/tsa/index.js';
import { addUnsignedAttributes, signatureTimeStampAttribute } from '../../src/sign/cades/unsigned.js';
import { DEFAULT_ALGORITHM_POLICY, keyAlgorithmId } from '../../src/sign/validate/algorithms.js';
import { inspectCms, localTimeStamper, signCades, signXades, validateCades, validateXades } from '../../src/sign/index.js';
import { openssl, opensslCsr, opensslStatus } from '../helpers/openssl.js';
import { openLab, save, type Lab } from './fixtures.js';

const CONTENT = Buffer.from('Quyết định số 15/QĐ-UBND', 'utf8');

describe('time-stamp tokens judged by the algorithm policy', () => {
  let lab: Lab;
  let tsa: TimeStampAuthority;
  beforeAll(async () => {
    lab = await openLab();
    tsa = new TimeStampAuthority(lab.p.pki, lab.p.issuer, { policy: '2.16.704.1.101.1.6.1', accuracyMs: 1000 });
    await tsa.start();
  }, 60_000);
  afterAll(async () => {
    await lab?.p.close();
  });

  it('a token openssl signs with SHA-1 over a SHA-1 imprint verifies, then is INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE_NO_POE: no proof of existence', async () => {
    // a TSA of our CA's issuing, its key made by openssl; openssl ts answers with SHA-1 everywhere
    const { csr, keyPath } = opensslCsr(lab.dir, '/CN=TSA cũ SHA-1/O=Trung tâm dữ liệu/C=VN', ['-newkey', 'rsa:2048']);
    const issued = await lab.p.issuer.issue({ profile: 'time-stamping', csr }, 'ra1');
    const tsaPem = save(lab.dir, 'sha1-tsa.pem', Buffer.from(toPem('CERTIFICATE', issued.der)));
    const conf = join(lab.dir, 'tsa.cnf');
    writeFileSync(join(lab.dir, 'tsaserial'), '01\n');
    writeFileSync(
      conf,
      `[ tsa ]\ndefault_tsa = t\n[ t ]\nserial = ${join(lab.dir, 'tsaserial')}\nsigner_digest = sha1\ndefault_policy = 1.2.3.4.1\n` +
        `digests = sha1, sha256\naccuracy = secs:1\ness_cert_id_alg = sha1\n`,
    );
    const signer = await lab.signer('/CN=Đinh Công Sơn/O=UBND tỉnh/C=VN');
    const bb = await signCades(CONTENT, signer);
    const value = inspectCms(bb, CONTENT).signers[0]!.signatureValue;
    const query = join(lab.dir, 'q.tsq');
    openssl(['ts', '-query', '-digest', createHash('sha1').update(value).digest('hex'), '-sha1', '-cert', '-out', query]);
    const tokenPath = join(lab.dir, 'sha1.tst');
    openssl(['ts', '-reply', '-config', conf, '-queryfile', query, '-signer', tsaPem, '-inkey', keyPath, '-token_out', '-out', tokenPath]);
    const token = readFileSync(tokenPath);
    const v = opensslStatus(['ts', '-verify', '-in', tokenPath, '-token_in', '-digest', createHash('sha1').update(value).digest('hex'), '-CAfile', lab.rootPath, '-untrusted', lab.issuingPath]);
    expect(v.out).toMatch(/Verification: OK/);
    const bt = addUnsignedAttributes(bb, [signatureTimeStampAttribute(token)]);
    const r = (await validateCades(bt, { content: CONTENT, trustAnchors: [lab.root] })).signatures[0]!;
    expect(r.timestamps, JSON.stringify(r.timestamps)).toEqual([
      expect.objectContaining({ type: 'signature', valid: false, indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE_NO_POE', problem: expect.stringMatching(/^thuật toán của dấu thời gian không được chính sách chấp nhận \/ .*sha1 is no longer reliable since 2013/) }),
    ]);
    expect(r.bestSignatureTime).toBeUndefined();
    expect(r.indication).toBe('TOTAL-PASSED'); // the signer's certificate is valid now: the token was not needed
    expect(r.warnings.join('\n')).toMatch(/a signature time-stamp is not valid: .*sha1/);
    // at a time when SHA-1 was still reliable for it, the same token is valid (the imprint and signature hold)
    const policy = { ...DEFAULT_ALGORITHM_POLICY, sha1: null };
    const ok = (await validateCades(bt, { content: CONTENT, trustAnchors: [lab.root], algorithmPolicy: policy })).signatures[0]!;
    expect(ok.timestamps![0]).toMatchObject({ valid: true });
    expect(ok.timestamps![0]!.subIndication).toBeUndefined();
  });

  it("our TSA's token under a policy that does not list its key is INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE (XAdES and CAdES)", async () => {
    const tsaKey = keyAlgorithmId(parseCertificate(tsa.certificate()));
    // a signer whose key the policy keeps
    const signer = await lab.signer('/CN=Phan Minh Nhật/O=UBND tỉnh/C=VN', tsaKey.startsWith('ecdsa') ? { keyArgs: ['-newkey', 'rsa:3072'] } : {});
    const policy = Object.fromEntries(Object.entries(DEFAULT_ALGORITHM_POLICY).filter(([k]) => k !== tsaKey));
    const context = { timeStamper: localTimeStamper(tsa) };
    const xml = await signXades('<CongVan><So>16/UBND</So></CongVan>', signer, { level: 'B-T', context });
    const x = (await validateXades(xml, { trustAnchors: [lab.root], algorithmPolicy: policy })).signatures[0]!;
    expect(x.timestamps![0]).toMatchObject({ valid: false, indication: 'INDETERMINATE', subIndication: 'CRYPTO_CONSTRAINTS_FAILURE', problem: expect.stringContaining(`the algorithm ${tsaKey} is not allowed by the validation policy`) });
    expect(x.bestSignatureTime).toBeUndefined();
    expect(x.indication).toBe('TOTAL-PASSED');
    const p7s = await signCades(CONTENT, signer, { level: 'B-T', context });
    const c = (await validateCades(p7s, { content: CONTENT, trustAnchors: [lab.root], algorithmPolicy: policy })).signatures[0]!;
    expect(c.timestamps![0]).toMatchObject({ valid: false, subIndication: 'CRYPTO_CONSTRAINTS_FAILURE' });
    // under the default policy the same tokens are valid proofs of existence
    expect((await validateXades(xml, { trustAnchors: [lab.root] })).signatures[0]!.timestamps![0]).toMatchObject({ valid: true });
  });
});
