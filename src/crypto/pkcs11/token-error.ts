/**
 * Turns what pkcs11js throws into TrucErrors. The CKR_ name is kept in the detail: operators search vendor
 * documentation by it, and it is the only clue when an HSM refuses something for its own policy reasons.
 */
import pkcs11js from 'pkcs11js';
import { TrucError } from '../../errors.js';

/** CKR_ codes a caller can cause, with the code and wording they deserve. */
const KNOWN: Record<number, [TrucError['code'], string]> = {
  [pkcs11js.CKR_PIN_INCORRECT]: ['key_store', 'the token rejected the user PIN'],
  [pkcs11js.CKR_PIN_LOCKED]: ['key_store', 'the user PIN is locked on the token'],
  [pkcs11js.CKR_PIN_LEN_RANGE]: ['key_store', 'the user PIN has a length the token does not accept'],
  [pkcs11js.CKR_PIN_EXPIRED]: ['key_store', 'the user PIN has expired on the token'],
  [pkcs11js.CKR_MECHANISM_INVALID]: ['unsupported', 'the token does not support this mechanism'],
  [pkcs11js.CKR_MECHANISM_PARAM_INVALID]: ['unsupported', 'the token rejected the mechanism parameters'],
  [pkcs11js.CKR_KEY_TYPE_INCONSISTENT]: ['unsupported', 'the key type does not fit the mechanism'],
  [pkcs11js.CKR_KEY_FUNCTION_NOT_PERMITTED]: ['key_not_allowed', 'the key is not permitted to sign'],
  [pkcs11js.CKR_DEVICE_REMOVED]: ['key_store', 'the token was removed'],
  [pkcs11js.CKR_TOKEN_NOT_PRESENT]: ['key_store', 'the token is not present'],
};

function ckrName(code: number): string {
  for (const [k, v] of Object.entries(pkcs11js)) if (k.startsWith('CKR_') && v === code) return k;
  return `0x${code.toString(16)}`;
}

export function ckrOf(e: unknown): number | undefined {
  return e instanceof pkcs11js.Pkcs11Error ? e.code : undefined;
}

/** Wraps a pkcs11js failure; TrucErrors pass through untouched. `what` says which operation failed. */
export function tokenError(e: unknown, what: string, detail: Record<string, unknown> = {}): TrucError {
  if (e instanceof TrucError) return e;
  const ckr = ckrOf(e);
  if (ckr === undefined)
    return new TrucError('key_store', `${what}: ${e instanceof Error ? e.message : String(e)}`, detail, {
      cause: e,
    });
  const [code, text] = KNOWN[ckr] ?? ['key_store', 'the token refused'];
  return new TrucError(
    code,
    `${what}: ${text} (${ckrName(ckr)})`,
    { ...detail, ckr: ckrName(ckr) },
    { cause: e },
  );
}
