import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openssl, tmp } from '../helpers/openssl.js';

const dir = tmp('truc-vault-cli-');
const truc = (args: string[]) => spawnSync(process.execPath, ['bin/truc.js', ...args], { env: { ...process.env, TRUC_DATA_DIR: join(dir, 'data') }, encoding: 'utf8', timeout: 120_000 });

describe('truc encrypt / truc decrypt', () => {
  it('encrypts to two certificates; each decrypts with openssl and with truc; a wrong key writes nothing', () => {
    const keys = ['P-384', 'RSA'].map((kind) => {
      const key = join(dir, `${kind}.key`);
      const cert = join(dir, `${kind}.crt`);
      const args = kind === 'RSA' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'];
      openssl(['req', '-x509', ...args, '-nodes', '-keyout', key, '-out', cert, '-subj', `/CN=${kind}`, '-days', '1']);
      return { key, cert };
    });
    const input = join(dir, 'cv.txt');
    writeFileSync(input, 'Công văn gửi hai cơ quan');
    const enc = join(dir, 'cv.p7m');
    const r = truc(['encrypt', input, '--to', keys[0].cert, '--to', keys[1].cert, '--out', enc]);
    expect(r.status, r.stderr).toBe(0);
    for (const k of keys) {
      expect(openssl(['cms', '-decrypt', '-inform', 'DER', '-in', enc, '-inkey', k.key, '-recip', k.cert, '-binary'])).toBe('Công văn gửi hai cơ quan');
      if (k !== keys[0]) continue; // each truc run loads the whole CLI: one decryption by truc is enough
      const out = join(dir, `out-${Math.random()}.txt`);
      const d = truc(['decrypt', enc, '--key', k.key, '--cert', k.cert, '--out', out]);
      expect(d.status, d.stderr).toBe(0);
      expect(readFileSync(out, 'utf8')).toBe('Công văn gửi hai cơ quan');
    }
    const stranger = join(dir, 'stranger.key');
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', stranger]);
    const out = join(dir, 'never.txt');
    const bad = truc(['decrypt', enc, '--key', stranger, '--out', out]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/decrypt_failed|decrypt/);
    expect(existsSync(out)).toBe(false);
  }, 90_000);
});
