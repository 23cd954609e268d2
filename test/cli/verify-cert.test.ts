/**
 * `truc verify-cert` as a user runs it: a good chain (our CAs as default anchors and intermediates), with
 * OCSP from the local responder and with a CRL file; a revoked certificate (exit 1, reason, subject);
 * a wrong purpose; explicit --anchors/--chain files.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import { TrucLanes, trucDataDir, trucSync, type TrucResult } from '../helpers/truc-cli.js';

// the data folder (its database made beforehand: ../helpers/truc-cli.ts) is set by the test
const env: NodeJS.ProcessEnv = { ...process.env, TRUC_KEY_PASSPHRASE: 'verify test passphrase', TRUC_LOG_LEVEL: 'warn' };
delete env.TRUC_DATABASE_URL;

const truc = (...args: string[]): TrucResult => trucSync(env, args, 90_000);

describe('truc verify-cert', () => {
  const dir = tmp();
  const f = (n: string) => join(dir, n);

  it('validates a good chain, finds a revoked certificate, and says why', async () => {
    env.TRUC_DATA_DIR = await trucDataDir('truc-verify-');
    expect(truc('ca', 'init').status).toBe(0);
    for (const n of ['good', 'bad']) {
      const { csrPath } = opensslCsr(dir, `/C=VN/O=Sở Tư pháp/CN=${n}`);
      const r = truc('ca', 'issue', '--csr', csrPath, '--profile', 'agency-auth', '--out', f(`${n}.pem`), '--chain');
      expect(r.status, r.stderr).toBe(0);
    }
    expect(truc('verify-cert', '--help').stdout).toMatch(/Exit code: 0 valid, 1 invalid/);

    const ok = truc('verify-cert', f('good.pem'), '--ocsp-local');
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^valid/);
    expect(ok.stdout).toMatch(/0: C=VN, O=Sở Tư pháp, CN=good/);
    expect(ok.stdout).toMatch(/CN=good: good by OCSP/);

    const serial = JSON.parse(truc('--json', 'ca', 'list', '--subject', 'CN=bad').stdout)[0].serial;
    expect(truc('ca', 'revoke', serial, '--reason', 'keyCompromise').status).toBe(0);
    const revoked = truc('verify-cert', f('bad.pem'), '--ocsp-local');
    expect(revoked.status).toBe(1);
    expect(revoked.stdout).toMatch(/^invalid: revoked/);
    expect(revoked.stdout).toMatch(/at: .*CN=bad/);

    // the CRLs, then what reads them or nothing of the database's, side by side on copies of the folder
    const lanes = new TrucLanes(env);
    const [issuingCrl, rootCrl] = await Promise.all([lanes.run('ca', 'crl', '--ca', 'issuing', '--out', f('issuing.crl')), lanes.run('ca', 'crl', '--ca', 'root', '--out', f('root.crl'))]);
    expect(issuingCrl.status).toBe(0);
    expect(rootCrl.status).toBe(0);
    // explicit files: the PEM written with --chain is leaf, issuing, root
    const pems = readFileSync(f('good.pem'), 'utf8').split(/(?<=-----END CERTIFICATE-----\n)/);
    writeFileSync(f('issuing.pem'), pems[1]);
    writeFileSync(f('root.pem'), pems[2]);
    const [byCrl, goodByCrl, purpose, files, noAnchor, missing] = await Promise.all([
      lanes.run('--json', 'verify-cert', f('bad.pem'), '--crl', f('issuing.crl'), f('root.crl')),
      lanes.run('--json', 'verify-cert', f('good.pem'), '--crl', f('issuing.crl'), f('root.crl')),
      lanes.run('verify-cert', f('good.pem'), '--purpose', 'codeSigning'),
      lanes.run('verify-cert', f('good.pem'), '--chain', f('issuing.pem'), '--anchors', f('root.pem')),
      lanes.run('verify-cert', f('good.pem'), '--chain', f('issuing.pem'), '--anchors', f('issuing.pem'), '--at', '2001-01-01T00:00:00Z'),
      lanes.run('verify-cert', f('missing.pem')),
    ]);
    expect(byCrl.status).toBe(1);
    expect(JSON.parse(byCrl.stdout)).toMatchObject({ valid: false, reason: 'revoked' });
    expect(goodByCrl.status).toBe(0);
    expect(JSON.parse(goodByCrl.stdout).revocation[0]).toMatchObject({ kind: 'crl', status: 'good' });

    expect(purpose.status).toBe(1);
    expect(purpose.stdout).toMatch(/invalid: extended_key_usage/);

    expect(files.status, files.stderr).toBe(0);
    expect(noAnchor.status).toBe(1);
    expect(missing.status).toBe(3);
  });
});
