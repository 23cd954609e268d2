/**
 * The process-wide state PKCS#11 forces on us. C_Initialize and C_Finalize act on the whole process for a
 * given library, and login is per application and token, not per session: a second C_Login answers
 * CKR_USER_ALREADY_LOGGED_IN whatever PIN it is given. So two stores on one module must share one
 * initialisation, and two stores on one token must share one login — counted, so that the last to close
 * logs out and finalises, and checked, so that a store opened with a wrong PIN is refused even when the
 * token is already logged in for another.
 */
import pkcs11js from 'pkcs11js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { TrucError } from '../../errors.js';
import { ckrOf, tokenError } from './token-error.js';

export type Handle = Buffer;

interface LoadedModule {
  lib: pkcs11js.PKCS11;
  refs: number;
  /** false when something outside this registry initialised the module: then it is not ours to finalise */
  owned: boolean;
  /** keyed by slot handle (hex) */
  logins: Map<string, { refs: number; pinHash: Buffer }>;
}

const modules = new Map<string, LoadedModule>();

export function acquireModule(path: string): pkcs11js.PKCS11 {
  const hit = modules.get(path);
  if (hit) {
    hit.refs++;
    return hit.lib;
  }
  const lib = new pkcs11js.PKCS11();
  try {
    lib.load(path);
  } catch (e) {
    throw new TrucError('key_store', `cannot load PKCS#11 module ${path}`, { module: path }, { cause: e });
  }
  let owned = true;
  try {
    // OS locking: signing and key generation run on libuv worker threads (the *Async calls)
    lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (e) {
    // another binding in the process initialised it: usable, but its owner decides when it ends
    if (ckrOf(e) !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      lib.close();
      throw tokenError(e, `cannot initialise PKCS#11 module ${path}`, { module: path });
    }
    owned = false;
  }
  modules.set(path, { lib, refs: 1, owned, logins: new Map() });
  return lib;
}

export function releaseModule(path: string): void {
  const m = modules.get(path);
  if (!m || --m.refs > 0) return;
  modules.delete(path);
  try {
    if (m.owned) m.lib.C_Finalize();
  } finally {
    m.lib.close();
  }
}

const pinHash = (pin: string) => createHash('sha256').update(pin, 'utf8').digest();

/**
 * Logs the user in on `slot` through `session`, or joins an existing login after checking the PIN is the
 * one that login used.
 */
export function acquireLogin(path: string, slot: Handle, session: Handle, pin: string): void {
  const m = modules.get(path);
  if (!m) throw new TrucError('internal', `PKCS#11 module ${path} is not loaded`);
  const key = slot.toString('hex');
  const existing = m.logins.get(key);
  if (existing) {
    if (!timingSafeEqual(existing.pinHash, pinHash(pin)))
      throw new TrucError(
        'key_store',
        'the token rejected the user PIN (it differs from the PIN of the open login)',
        {
          module: path,
        },
      );
    existing.refs++;
    return;
  }
  try {
    m.lib.C_Login(session, pkcs11js.CKU_USER, pin);
  } catch (e) {
    // logged in by a session this registry does not know about (e.g. an earlier close that failed half-way)
    if (ckrOf(e) !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw tokenError(e, 'login to the token failed');
  }
  m.logins.set(key, { refs: 1, pinHash: pinHash(pin) });
}

/** Drops one reference to the login on `slot`; the last one logs out (call it before closing the sessions). */
export function releaseLogin(path: string, slot: Handle, anySession: Handle | undefined): void {
  const m = modules.get(path);
  const key = slot.toString('hex');
  const login = m?.logins.get(key);
  if (!m || !login || --login.refs > 0) return;
  m.logins.delete(key);
  if (!anySession) return; // closing the last session logs out by itself
  try {
    m.lib.C_Logout(anySession);
  } catch (e) {
    if (ckrOf(e) !== pkcs11js.CKR_USER_NOT_LOGGED_IN) throw tokenError(e, 'logout from the token failed');
  }
}
