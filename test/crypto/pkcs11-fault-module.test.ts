/**
 * The fault-injecting PKCS#11 module the token tests stand on (test/helpers/pkcs11-fault), seen as any
 * PKCS#11 application sees it — through pkcs11js, call by call: a pulled token answers as PKCS#11 v2.40
 * says a removed one does (CKR_DEVICE_REMOVED on its sessions, CKR_TOKEN_NOT_PRESENT for the slot, the
 * slot listed without CKF_TOKEN_PRESENT), loses its sessions and its login; a counted PIN raises
 * CKF_USER_PIN_COUNT_LOW, FINAL_TRY and LOCKED in turn and then refuses every user login with
 * CKR_PIN_LOCKED until the security officer sets a new PIN.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import pkcs11js from 'pkcs11js';
import { softHsmToken, type SoftHsmToken } from '../helpers/softhsm.js';
import { FaultyToken, faultModuleMissing } from '../helpers/pkcs11-fault.js';

const missing = faultModuleMissing();
if (missing) console.warn(`SKIP fault-injecting PKCS#11 module tests: ${missing}`);
// PKCS#11 v2.40 flag values pkcs11js does not declare in its types
const CKF_TOKEN_PRESENT = 0x1;
const CKF_REMOVABLE_DEVICE = 0x2;
const CKS_RW_PUBLIC_SESSION = 2;
const CKS_RW_USER_FUNCTIONS = 3;
const PIN_FLAGS = pkcs11js.CKF_USER_PIN_COUNT_LOW | pkcs11js.CKF_USER_PIN_FINAL_TRY | pkcs11js.CKF_USER_PIN_LOCKED;

/** the CKR_ code a call failed with, or 'ok' */
function ckr(f: () => unknown): number | 'ok' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof pkcs11js.Pkcs11Error) return e.code;
    throw e;
  }
}

describe.skipIf(!!missing && process.env.CI !== 'true')('the fault-injecting PKCS#11 module in front of SoftHSM2', () => {
  let hsm: SoftHsmToken;
  let faults: FaultyToken;
  let lib: pkcs11js.PKCS11;
  let slot: Buffer;
  const RW = pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION;

  beforeAll(() => {
    hsm = softHsmToken();
    faults = new FaultyToken(hsm);
    lib = new pkcs11js.PKCS11();
    lib.load(faults.modulePath);
    lib.C_Initialize();
    slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trimEnd() === hsm.tokenLabel)!;
  });
  afterAll(() => {
    lib?.C_Finalize();
    lib?.close();
    hsm?.cleanup();
  });

  it('pulled: the slot stays, empty; sessions answer CKR_DEVICE_REMOVED; put back, the old sessions and the login are gone', () => {
    const s = lib.C_OpenSession(slot, RW);
    lib.C_Login(s, pkcs11js.CKU_USER, hsm.pin);
    expect(lib.C_GetSlotInfo(slot).flags & (CKF_TOKEN_PRESENT | CKF_REMOVABLE_DEVICE)).toBe(CKF_TOKEN_PRESENT | CKF_REMOVABLE_DEVICE);
    expect(lib.C_GetSessionInfo(s).state).toBe(CKS_RW_USER_FUNCTIONS);

    faults.pull();
    expect(lib.C_GetSlotList(true)).toEqual([]);
    expect(lib.C_GetSlotList(false).map((x) => x.toString('hex'))).toContain(slot.toString('hex'));
    expect(lib.C_GetSlotInfo(slot).flags & CKF_TOKEN_PRESENT).toBe(0);
    expect(ckr(() => lib.C_GetTokenInfo(slot))).toBe(pkcs11js.CKR_TOKEN_NOT_PRESENT);
    expect(ckr(() => lib.C_OpenSession(slot, RW))).toBe(pkcs11js.CKR_TOKEN_NOT_PRESENT);
    expect(ckr(() => lib.C_GetMechanismList(slot))).toBe(pkcs11js.CKR_TOKEN_NOT_PRESENT);
    expect(ckr(() => lib.C_GetSessionInfo(s))).toBe(pkcs11js.CKR_DEVICE_REMOVED);
    expect(ckr(() => lib.C_FindObjectsInit(s, []))).toBe(pkcs11js.CKR_DEVICE_REMOVED);
    expect(ckr(() => lib.C_GenerateRandom(s, Buffer.alloc(8)))).toBe(pkcs11js.CKR_DEVICE_REMOVED);

    faults.insert();
    expect(lib.C_GetSlotList(true).length).toBeGreaterThan(0);
    expect(ckr(() => lib.C_GetSessionInfo(s))).toBe(pkcs11js.CKR_SESSION_HANDLE_INVALID);
    const fresh = lib.C_OpenSession(slot, RW);
    // a new session on the token put back is not logged in: the login went with the token
    expect(lib.C_GetSessionInfo(fresh).state).toBe(CKS_RW_PUBLIC_SESSION);
    expect(ckr(() => lib.C_Login(fresh, pkcs11js.CKU_USER, hsm.pin))).toBe('ok');
    lib.C_Logout(fresh);
    lib.C_CloseSession(fresh);
  });

  it('a signature budget: N signatures, then CKR_DEVICE_REMOVED and the token gone', () => {
    const s = lib.C_OpenSession(slot, RW);
    lib.C_Login(s, pkcs11js.CKU_USER, hsm.pin);
    const { privateKey } = lib.C_GenerateKeyPair(
      s,
      { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
      [{ type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from('06082a8648ce3d030107', 'hex') }, { type: pkcs11js.CKA_TOKEN, value: false }],
      [{ type: pkcs11js.CKA_SIGN, value: true }, { type: pkcs11js.CKA_TOKEN, value: false }],
    );
    const sign = () => {
      lib.C_SignInit(s, { mechanism: pkcs11js.CKM_ECDSA }, privateKey);
      return lib.C_Sign(s, Buffer.alloc(32, 1), Buffer.alloc(128));
    };
    const signedBefore = faults.state().signed;
    faults.pullAfterSignatures(2);
    expect([ckr(sign), ckr(sign), ckr(sign)]).toEqual(['ok', 'ok', pkcs11js.CKR_DEVICE_REMOVED]);
    expect(faults.state()).toMatchObject({ present: 0, sign_budget: -1, signed: signedBefore + 2 });
    expect(lib.C_GetSlotList(true)).toEqual([]);
    faults.insert();
  });

  it('a PIN counted to its lock: COUNT_LOW, FINAL_TRY, LOCKED; the right PIN refused once locked; C_InitPIN by the security officer unblocks', () => {
    faults.lockAfterWrongPins(3);
    const flags = () => lib.C_GetTokenInfo(slot).flags & PIN_FLAGS;
    const login = (pin: string) => {
      const s = lib.C_OpenSession(slot, RW);
      try {
        const r = ckr(() => lib.C_Login(s, pkcs11js.CKU_USER, pin));
        if (r === 'ok') lib.C_Logout(s);
        return r;
      } finally {
        lib.C_CloseSession(s);
      }
    };
    expect(flags()).toBe(0);
    expect(login('000000')).toBe(pkcs11js.CKR_PIN_INCORRECT);
    expect(flags()).toBe(pkcs11js.CKF_USER_PIN_COUNT_LOW);
    expect(login(hsm.pin)).toBe('ok'); // a right PIN resets the count
    expect(flags()).toBe(0);
    expect(login('000000')).toBe(pkcs11js.CKR_PIN_INCORRECT);
    expect(login('000000')).toBe(pkcs11js.CKR_PIN_INCORRECT);
    expect(flags()).toBe(pkcs11js.CKF_USER_PIN_COUNT_LOW | pkcs11js.CKF_USER_PIN_FINAL_TRY);
    expect(login('000000')).toBe(pkcs11js.CKR_PIN_INCORRECT);
    expect(flags()).toBe(pkcs11js.CKF_USER_PIN_COUNT_LOW | pkcs11js.CKF_USER_PIN_LOCKED);
    expect(login(hsm.pin)).toBe(pkcs11js.CKR_PIN_LOCKED);
    expect(login('000000')).toBe(pkcs11js.CKR_PIN_LOCKED);
    expect(faults.state().pin_failures).toBe(3); // a locked token counts no further

    const so = lib.C_OpenSession(slot, RW);
    lib.C_Login(so, pkcs11js.CKU_SO, hsm.soPin);
    lib.C_InitPIN(so, '13572468');
    lib.C_Logout(so);
    lib.C_CloseSession(so);
    expect(flags()).toBe(0);
    expect(login('13572468')).toBe('ok');
  });
});
