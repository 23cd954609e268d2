/** `openssl verify` over in-memory chains, for the tests that compare its verdict with ours. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toPem } from '../../../src/asn1/der.js';

export const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

export interface OpensslCase {
  target: Buffer;
  intermediates?: Buffer[];
  anchors: Buffer[];
  time: Date;
  crls?: Buffer[];
  /** further options: -x509_strict, -verify_hostname H, -verify_ip A, -verify_email E, -purpose P, … */
  args?: string[];
}

export function opensslVerify(c: OpensslCase): { ok: boolean; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'truc-ossl-'));
  const file = (name: string, label: string, ders: Buffer[]) => {
    const p = join(dir, name);
    writeFileSync(p, ders.map((d) => toPem(label, d)).join(''));
    return p;
  };
  const args = ['verify', '-CAfile', file('ca.pem', 'CERTIFICATE', c.anchors), '-attime', String(Math.floor(c.time.getTime() / 1000))];
  if (c.intermediates?.length) args.push('-untrusted', file('untrusted.pem', 'CERTIFICATE', c.intermediates));
  if (c.crls?.length) args.push('-crl_check', '-CRLfile', file('crls.pem', 'X509 CRL', c.crls));
  args.push(...(c.args ?? []), file('target.pem', 'CERTIFICATE', [c.target]));
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${args.slice(0, 1).concat(c.args ?? []).join(' ')}: ${r.stdout}${r.stderr}`.trim() };
}
