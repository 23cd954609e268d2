/**
 * `truc verify-cert` with the options of issue 15 — `--name` (a DNS name, an IP address or an e-mail
 * address in one option), `--profile`, `--max-depth` — on a chain given as files, so no platform is opened.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toPem } from '../../src/asn1/der.js';
import { issueCert, newKey, type Party } from '../pki/path/fixtures.js';
import { tmp } from '../helpers/openssl.js';

const dir = tmp('truc-verify-opts-');
const f = (n: string) => join(dir, n);
const now = Date.now();
const span = { notBefore: new Date(now - 86_400_000), notAfter: new Date(now + 86_400_000 * 30) };
const rootKey = newKey();
const intKey = newKey();
const rootP: Party = { name: 'C=VN, O=Truc, CN=CLI Root', key: rootKey };
const intP: Party = { name: 'C=VN, O=Truc, CN=CLI Issuing', key: intKey };
writeFileSync(f('root.pem'), toPem('CERTIFICATE', issueCert({ subject: rootP.name, key: rootKey, ca: true, keyUsage: ['keyCertSign', 'cRLSign'], ...span })));
writeFileSync(f('int.pem'), toPem('CERTIFICATE', issueCert({ subject: intP.name, key: intKey, issuer: rootP, ca: true, keyUsage: ['keyCertSign', 'cRLSign'], ...span })));
writeFileSync(
  f('leaf.pem'),
  toPem('CERTIFICATE', issueCert({ subject: 'C=VN, O=Truc, CN=www.example.vn', key: newKey(), issuer: intP, keyUsage: ['digitalSignature'], eku: ['1.3.6.1.5.5.7.3.1'], san: [{ dns: '*.example.vn' }, { ipAddr: '10.0.0.7' }], ...span })),
);

function truc(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/truc.js', ...args], { encoding: 'utf8', timeout: 90_000, env: { ...process.env, TRUC_LOG_LEVEL: 'warn' } });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
const files = ['--chain', f('int.pem'), '--anchors', f('root.pem')];

describe('truc verify-cert --name --profile --max-depth', () => {
  it('accepts a name a wildcard covers, in the strict profile, within the depth', () => {
    const r = truc('verify-cert', f('leaf.pem'), ...files, '--name', 'api.example.vn', '--profile', 'strict', '--max-depth', '1', '--purpose', 'serverAuth');
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^valid\ntên khớp \/ name matches: api\.example\.vn \(tên miền \/ DNS name\)\nhồ sơ xác thực \/ profile: strict/);
  });

  it('reads an IP address in --name, refuses a name the certificate lacks and a path too deep (JSON)', () => {
    const ip = JSON.parse(truc('--json', 'verify-cert', f('leaf.pem'), ...files, '--name', '10.0.0.8').stdout);
    expect(ip).toMatchObject({ valid: false, reason: 'peer_name_mismatch', name: { type: 'ip', value: '10.0.0.8' }, profile: 'rfc5280' });
    expect(ip.message).toMatch(/địa chỉ IP 10\.0\.0\.8 \(chứng thư ghi: 10\.0\.0\.7\)/);
    const deep = truc('verify-cert', f('leaf.pem'), ...files, '--max-depth', '0');
    expect(deep.status).toBe(1);
    expect(deep.stdout).toMatch(/^invalid: depth_exceeded: /);
  });
});
