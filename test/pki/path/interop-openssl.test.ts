/**
 * Agreement with `openssl verify` (OpenSSL 3): for every chain that verify can express (no OCSP, no
 * soft-fail), both accept or both reject. -partial_chain is never given, so only -CAfile is trusted.
 */
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toPem } from '../../../src/asn1/der.js';
import { validatePath } from '../../../src/pki/path/index.js';
import { buildScenarios, inputOf, type Scenario } from './scenarios.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

function opensslVerify(s: Scenario, dir: string): { ok: boolean; out: string } {
  const file = (name: string, label: string, ders: Buffer[]) => {
    const p = join(dir, name);
    writeFileSync(p, ders.map((d) => toPem(label, d)).join(''));
    return p;
  };
  const args = [
    'verify',
    '-policy_check',
    '-CAfile',
    file('ca.pem', 'CERTIFICATE', s.anchors),
    '-attime',
    String(Math.floor(s.time.getTime() / 1000)),
  ];
  if (s.intermediates.length) args.push('-untrusted', file('untrusted.pem', 'CERTIFICATE', s.intermediates));
  if (s.opensslPurpose) args.push('-purpose', s.opensslPurpose);
  if (s.mode === 'hard-fail') {
    args.push('-crl_check_all');
    if (s.crls?.length) args.push('-CRLfile', file('crls.pem', 'X509 CRL', s.crls));
    if (s.useDeltas) args.push('-use_deltas');
  }
  for (const p of s.requiredPolicies ?? []) args.push('-policy', p);
  if (s.requiredPolicies?.length) args.push('-explicit_policy');
  args.push(file('target.pem', 'CERTIFICATE', [s.target]));
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${args.join(' ')}\n${r.stdout}${r.stderr}`.trim() };
}

describe.skipIf(!hasOpenssl)('agreement with openssl verify', () => {
  const scenarios = buildScenarios().filter((s) => s.interop !== false);
  for (const s of scenarios) {
    it(`${s.name}: both ${s.expect === 'valid' ? 'accept' : 'reject'}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'truc-path-'));
      const ours = await validatePath(inputOf(s));
      const theirs = opensslVerify(s, dir);
      expect(
        theirs.ok,
        `openssl: ${theirs.out}\nours: ${ours.valid ? 'valid' : `${ours.reason}: ${ours.message}`}`,
      ).toBe(ours.valid);
      expect(ours.valid).toBe(s.expect === 'valid');
    });
  }
});
