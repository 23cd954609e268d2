/**
 * A fresh SoftHSM2 token per call, in a temporary folder of its own: never a shared token, so tests cannot
 * see each other's keys or depend on what an earlier run left behind. SoftHSM2 reads SOFTHSM2_CONF when
 * the module is initialised, so the variable is set here, before any store opens the module; a second
 * token is visible to the process only after every store on the first has closed (the module finalises).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface SoftHsmToken {
  modulePath: string;
  tokenLabel: string;
  pin: string;
  soPin: string;
  cleanup: () => void;
}

const MODULE_CANDIDATES = [
  process.env.SOFTHSM2_MODULE,
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

/** Why SoftHSM2 cannot be used here, or null when it can. */
export function softHsmMissing(): string | null {
  if (!MODULE_CANDIDATES.some((p) => p && existsSync(p))) return 'libsofthsm2.so not found';
  const r = spawnSync('softhsm2-util', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'softhsm2-util is not installed';
  return null;
}

export function softHsmToken(label = `truc-${randomBytes(4).toString('hex')}`): SoftHsmToken {
  const modulePath = MODULE_CANDIDATES.find((p): p is string => !!p && existsSync(p));
  if (!modulePath) throw new Error('libsofthsm2.so not found');
  const dir = mkdtempSync(join(tmpdir(), 'truc-hsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens);
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  );
  const pin = randomBytes(6).toString('hex');
  const soPin = randomBytes(6).toString('hex');
  const r = spawnSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', label, '--so-pin', soPin, '--pin', pin],
    { env: { ...process.env, SOFTHSM2_CONF: conf }, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`softhsm2-util --init-token failed: ${r.stderr || r.stdout}`);
  process.env.SOFTHSM2_CONF = conf;
  return {
    modulePath,
    tokenLabel: label,
    pin,
    soPin,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
