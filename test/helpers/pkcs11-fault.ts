/**
 * A SoftHSM2 token behind the fault-injecting PKCS#11 module (test/helpers/pkcs11-fault/fault.c, built by
 * scripts/build-pkcs11-fault.sh from install-deps.sh): what a USB token does and SoftHSM2 cannot — pulled out
 * mid-way (CKR_DEVICE_REMOVED, then a slot without a token) and put back, a user PIN that locks after K
 * wrong tries with the token's CKF_USER_PIN_COUNT_LOW / FINAL_TRY / LOCKED flags. The module reads its
 * control file on every call, so the test steers the token by rewriting the file, in this process or in a
 * `truc agent` it started (give it `env()`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import { PROJECT_ROOT } from '../../src/config.js';
import { acquireModule, releaseModule } from '../../src/crypto/pkcs11/module.js';
import { findSlot } from '../../src/crypto/pkcs11-keystore.js';
import { softHsmMissing, type SoftHsmToken } from './softhsm.js';

const SOURCE = join(PROJECT_ROOT, 'test', 'helpers', 'pkcs11-fault', 'fault.c');
export const FAULT_MODULE = join(PROJECT_ROOT, 'test', 'helpers', 'pkcs11-fault', 'libtruc-pkcs11-fault.so');

/** Why the fault module cannot be used here, or null. Builds it when missing or older than its source. */
export function faultModuleMissing(): string | null {
  const hsm = softHsmMissing();
  if (hsm) return hsm;
  const stale = () => !existsSync(FAULT_MODULE) || statSync(FAULT_MODULE).mtimeMs < statSync(SOURCE).mtimeMs;
  if (stale()) {
    const r = spawnSync('bash', [join(PROJECT_ROOT, 'scripts', 'build-pkcs11-fault.sh')], { encoding: 'utf8' });
    if (r.status !== 0) return `the fault-injecting PKCS#11 module did not build: ${r.stderr || r.stdout}`;
  }
  if (stale()) return 'the fault-injecting PKCS#11 module is not built: no C compiler (install gcc, or run scripts/install-deps.sh)';
  return null;
}

/** What the control file says (the module writes `present`, `sign_budget`, `pin_failures`, `signed` back). */
export interface FaultState {
  present: number;
  sign_budget: number;
  pin_tries: number;
  pin_failures: number;
  signed: number;
}

export class FaultyToken {
  /** give this as the PKCS#11 module path */
  readonly modulePath = FAULT_MODULE;
  readonly file: string;

  constructor(readonly hsm: SoftHsmToken) {
    this.file = join(process.env.SOFTHSM2_CONF!, '..', 'faults');
    this.write({ present: 1, sign_budget: -1, pin_tries: 0, pin_failures: 0, signed: 0 });
    Object.assign(process.env, this.env());
  }

  /** the environment a process needs to use this token through the module */
  env(): Record<string, string> {
    return { TRUC_PKCS11_FAULT_FILE: this.file, TRUC_PKCS11_FAULT_MODULE: this.hsm.modulePath, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF! };
  }

  state(): FaultState {
    const s: Record<string, number> = {};
    for (const line of readFileSync(this.file, 'utf8').split('\n')) {
      const m = /^([a-z_]+)=(-?\d+)$/.exec(line.trim());
      if (m) s[m[1]!] = Number(m[2]);
    }
    return s as unknown as FaultState;
  }

  private write(s: FaultState): void {
    const tmp = `${this.file}.test.tmp`;
    writeFileSync(tmp, Object.entries(s).map(([k, v]) => `${k}=${v}\n`).join(''));
    renameSync(tmp, this.file); // the module never reads half a file
  }

  private change(p: Partial<FaultState>): void {
    this.write({ ...this.state(), ...p });
  }

  /** `n` more signatures succeed; the next one finds the token pulled out */
  pullAfterSignatures(n: number): void {
    this.change({ sign_budget: n });
  }

  pull(): void {
    this.change({ present: 0 });
  }

  insert(): void {
    this.change({ present: 1, sign_budget: -1 });
  }

  /** the user PIN locks after `k` wrong tries in a row; the count starts at 0 */
  lockAfterWrongPins(k: number): void {
    this.change({ pin_tries: k, pin_failures: 0 });
  }

  /**
   * The security officer sets a new user PIN (C_InitPIN), which unblocks a locked token: what the CA's help
   * desk does. Through the module, so that it sees the unblocking as a token does.
   */
  unblock(newPin: string): void {
    const lib = acquireModule(this.modulePath);
    try {
      const slot = findSlot(lib, { tokenLabel: this.hsm.tokenLabel });
      const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      try {
        lib.C_Login(session, pkcs11js.CKU_SO, this.hsm.soPin);
        lib.C_InitPIN(session, newPin);
        lib.C_Logout(session);
      } finally {
        lib.C_CloseSession(session);
      }
    } finally {
      releaseModule(this.modulePath);
    }
  }
}
