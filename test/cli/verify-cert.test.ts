/**
 * `truc verify-cert` as a user runs it: a good chain (our CAs as default anchors and intermediates), with
 * OCSP from the local responder and with a CRL file; a revoked certificate (exit 1, reason, subject);
 * a wrong purpose; explicit --anchors/--chain files.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { opensslCsr, tmp } from '../helpers/openssl.js';

const dataDir = tmp('truc-verify-');
const env = { ...process.env, TRUC_DATA_DIR: dataDir, TRUC_KEY_PASSPHRASE: 'verify test passphrase', TRUC_LOG_LEVEL: 'warn' };
delete (env as Record<string, unknown>).TRUC_DATABASE_URL;

function truc(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/truc.js', ...args], { env, encoding: 'utf8', timeout: 90_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('truc verify-cert', () => {
  const dir = tmp();
  const f = (n: string) => join(dir, n);

  it('validates a good chain, finds a revoked certificate, and says why', () => {
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

    expect(truc('ca', 'crl', '--ca', 'issuing', '--out', f('issuing.crl')).status).toBe(0);
    expect(truc('ca', 'crl', '--ca', 'root', '--out', f('root.crl')).status).toBe(0);
    const byCrl = truc('--json', 'verify-cert', f('bad.pem'), '--crl', f('issuing.crl'), f('root.crl'));
    expect(byCrl.status).toBe(1);
    expect(JSON.parse(byCrl.stdout)).toMatchObject({ valid: false, reason: 'revoked' });
    const goodByCrl = truc('--json', 'verify-cert', f('good.pem'), '--crl', f('issuing.crl'), f('root.crl'));
    expect(goodByCrl.status).toBe(0);
    expect(JSON.parse(goodByCrl.stdout).revocation[0]).toMatchObject({ kind: 'crl', status: 'good' });

    const purpose = truc('verify-cert', f('good.pem'), '--purpose', 'codeSigning');
    expect(purpose.status).toBe(1);
    expect(purpose.stdout).toMatch(/invalid: extended_key_usage/);

    // explicit files: the PEM written with --chain is leaf, issuing, root
    const pems = readFileSync(f('good.pem'), 'utf8').split(/(?<=-----END CERTIFICATE-----\n)/);
    writeFileSync(f('issuing.pem'), pems[1]);
    writeFileSync(f('root.pem'), pems[2]);
    const files = truc('verify-cert', f('good.pem'), '--chain', f('issuing.pem'), '--anchors', f('root.pem'));
    expect(files.status, files.stderr).toBe(0);
    const noAnchor = truc('verify-cert', f('good.pem'), '--chain', f('issuing.pem'), '--anchors', f('issuing.pem'), '--at', '2001-01-01T00:00:00Z');
    expect(noAnchor.status).toBe(1);
    expect(truc('verify-cert', f('missing.pem')).status).toBe(3);
  });
});
