import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { opensslCsr, tmp } from '../helpers/openssl.js';
import { samplePdf } from '../sign/fixtures.js';

const dataDir = tmp('truc-cli-sign-');
const env = { ...process.env, TRUC_DATA_DIR: dataDir, TRUC_KEY_PASSPHRASE: 'cli sign passphrase', TRUC_LOG_LEVEL: 'warn' };
delete (env as any).TRUC_DATABASE_URL;

function truc(...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/truc.js', ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('truc sign and truc verify', () => {
  const dir = tmp();

  it('signs a PDF at B-B and B-LTA and a CAdES at B-LT with PEM files; verify exits 0, 1 on tampering, and walks a folder', async () => {
    expect(truc('ca', 'init').status).toBe(0);
    const { csrPath, keyPath } = opensslCsr(dir, '/C=VN/O=Bộ Tư pháp/CN=Ngô Thị Mai');
    const cert = join(dir, 'cert.pem');
    const issued = truc('ca', 'issue', '--csr', csrPath, '--profile', 'official-signing', '--out', cert, '--chain');
    expect(issued.status, issued.stderr).toBe(0);
    const pdf = join(dir, 'doc.pdf');
    writeFileSync(pdf, await samplePdf(true));
    const signedDir = join(dir, 'signed');
    mkdirSync(signedDir);

    const bb = truc('--json', 'sign', 'pdf', pdf, '--out', join(signedDir, 'bb.pdf'), '--key-pem', keyPath, '--cert-pem', cert);
    expect(bb.status, bb.stderr).toBe(0);
    expect(JSON.parse(bb.stdout)).toMatchObject({ level: 'B-B' });
    const lta = truc('sign', 'pdf', pdf, '--out', join(signedDir, 'lta.pdf'), '--key-pem', keyPath, '--cert-pem', cert, '--level', 'B-LTA');
    expect(lta.status, lta.stderr).toBe(0);
    const content = join(dir, 'decision.txt');
    writeFileSync(content, 'Quyết định số 9\n');
    const lt = truc('sign', 'cades', content, '--out', join(dir, 'decision.p7s'), '--key-pem', keyPath, '--cert-pem', cert, '--level', 'B-LT');
    expect(lt.status, lt.stderr).toBe(0);

    const v = truc('verify', join(signedDir, 'lta.pdf'));
    expect(v.status, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/PAdES B-LTA/);
    expect(v.stdout).toMatch(/Kết quả: TOTAL-PASSED/);
    const j = truc('verify', join(dir, 'decision.p7s'), '--content', content, '--report', 'json', '--hard-fail');
    expect(j.status, j.stdout + j.stderr).toBe(0);
    expect(JSON.parse(j.stdout).signatures[0]).toMatchObject({ indication: 'TOTAL-PASSED', level: 'B-LT' });

    const tampered = readFileSync(join(signedDir, 'bb.pdf'));
    tampered[tampered.indexOf('\n%', 0, 'latin1') + 2] ^= 1;
    writeFileSync(join(signedDir, 'tampered.pdf'), tampered);
    expect(truc('verify', join(signedDir, 'tampered.pdf')).status).toBe(1);
    const folder = truc('--json', 'verify', signedDir);
    expect(folder.status).toBe(1);
    expect(JSON.parse(folder.stdout).map((r: any) => [r.file.split('/').pop(), r.exit])).toEqual([
      ['bb.pdf', 0],
      ['lta.pdf', 0],
      ['tampered.pdf', 1],
    ]);
  });
});
