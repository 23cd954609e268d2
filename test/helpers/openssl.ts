/** Runs the openssl CLI — the independent judge of what we emit. */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tmp(prefix = 'truc-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function openssl(args: string[], input?: Buffer | string): string {
  return execFileSync('openssl', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Runs openssl and returns its exit status and combined output instead of throwing. */
export function opensslStatus(args: string[]): { status: number; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** A key and CSR made by `openssl req`; `keyArgs` e.g. ['-newkey','ec','-pkeyopt','ec_paramgen_curve:P-256']. */
export function opensslCsr(
  dir: string,
  subject: string,
  keyArgs: string[] = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  extra: string[] = [],
): { csr: Buffer; csrPath: string; keyPath: string } {
  const name = Math.random().toString(36).slice(2);
  const keyPath = join(dir, `${name}.key`);
  const csrPath = join(dir, `${name}.csr`);
  openssl(['req', '-new', ...keyArgs, '-nodes', '-keyout', keyPath, '-out', csrPath, '-subj', subject, '-utf8', ...extra]);
  return { csr: readFileSync(csrPath), csrPath, keyPath };
}

export function writePem(dir: string, name: string, pem: string): string {
  const p = join(dir, name);
  writeFileSync(p, pem);
  return p;
}

/** `opensslStatus` without blocking the event loop: for openssl talking to a server in this process. */
export function opensslAsync(args: string[], timeoutMs = 30_000): Promise<{ status: number; out: string }> {
  return new Promise((resolve) => {
    execFile('openssl', args, { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) =>
      resolve({ status: err ? ((err as { code?: unknown }).code as number) ?? -1 : 0, out: `${stdout}${stderr}` }),
    );
  });
}
