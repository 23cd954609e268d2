/**
 * Finding token objects and reading their attributes. A missing optional attribute comes back undefined
 * (tokens answer CKR_ATTRIBUTE_TYPE_INVALID for attributes a key type does not have) rather than failing.
 */
import pkcs11js from 'pkcs11js';
import { endianness } from 'node:os';
import type { Handle } from './module.js';
import { ckrOf } from './token-error.js';

/** At most this many objects are read from one search: a bound against a token full of junk. */
export const MAX_OBJECTS = 10_000;

export function findObjects(
  lib: pkcs11js.PKCS11,
  session: Handle,
  template: pkcs11js.Template,
  max = MAX_OBJECTS,
): Handle[] {
  lib.C_FindObjectsInit(session, template);
  try {
    const out: Handle[] = [];
    while (out.length < max) {
      const batch = lib.C_FindObjects(session, Math.min(100, max - out.length));
      if (batch.length === 0) break;
      out.push(...batch);
    }
    return out;
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}

export function readAttribute(
  lib: pkcs11js.PKCS11,
  session: Handle,
  object: Handle,
  type: number,
): Buffer | undefined {
  try {
    const [a] = lib.C_GetAttributeValue(session, object, [{ type }]);
    return a?.value as Buffer | undefined;
  } catch (e) {
    const ckr = ckrOf(e);
    if (ckr === pkcs11js.CKR_ATTRIBUTE_TYPE_INVALID || ckr === pkcs11js.CKR_ATTRIBUTE_SENSITIVE)
      return undefined;
    throw e;
  }
}

/** CK_ULONG in the module's native layout (the C `unsigned long` of the platform). */
export function ulong(b: Buffer): number {
  const le = endianness() === 'LE';
  if (b.length === 8) return Number(le ? b.readBigUInt64LE() : b.readBigUInt64BE());
  return le ? b.readUInt32LE() : b.readUInt32BE();
}

/** CK_BBOOL */
export const bool = (b: Buffer | undefined): boolean | undefined =>
  b === undefined ? undefined : b[0] !== 0;
