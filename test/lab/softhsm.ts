/**
 * A throwaway SoftHSM2 token for one test file: its own config and token folder under a temp directory,
 * so tests never touch a shared token. SOFTHSM2_CONF must be set before the module is initialised.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SOFTHSM_LIBRARY = '/usr/lib/softhsm/libsofthsm2.so';

export interface TempToken {
  library: string;
  label: string;
  pin: string;
  dir: string;
  remove(): void;
}

/** Why SoftHSM2 cannot be used here, or undefined when it can. */
export function softhsmMissing(): string | undefined {
  if (!existsSync(SOFTHSM_LIBRARY)) return `${SOFTHSM_LIBRARY} not found`;
  try {
    execFileSync('softhsm2-util', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'softhsm2-util not on PATH';
  }
  return undefined;
}

export function createTempToken(label = 'truc-lab'): TempToken {
  const dir = mkdtempSync(join(tmpdir(), 'truc-softhsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens);
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  const pin = '1234';
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', '5678', '--pin', pin], {
    env: { ...process.env, SOFTHSM2_CONF: conf },
    stdio: 'ignore',
  });
  return { library: SOFTHSM_LIBRARY, label, pin, dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
