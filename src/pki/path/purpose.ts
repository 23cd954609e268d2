/** What the caller wants the end-entity key for: key usage bits and extended key usages (names or OIDs). */
import { TrucError } from '../../errors.js';
import { KEY_USAGE_BITS, OID, type KeyUsageName } from './oids.js';

export interface Purpose {
  keyUsage?: string[];
  extendedKeyUsage?: string[];
}

const EKU_NAMES: Record<string, string> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  OCSPSigning: OID.kpOcspSigning,
};

export function resolvePurpose(p: Purpose | undefined): {
  keyUsage: KeyUsageName[];
  extendedKeyUsage: string[];
} {
  const keyUsage = (p?.keyUsage ?? []).map((k) => {
    if (!(KEY_USAGE_BITS as readonly string[]).includes(k))
      throw new TrucError('bad_request', `unknown key usage "${k}"`, { allowed: KEY_USAGE_BITS });
    return k as KeyUsageName;
  });
  const extendedKeyUsage = (p?.extendedKeyUsage ?? []).map((e) => {
    const oid = EKU_NAMES[e] ?? e;
    if (!/^\d+(\.\d+)+$/.test(oid))
      throw new TrucError('bad_request', `unknown extended key usage "${e}"`, {
        known: Object.keys(EKU_NAMES),
      });
    return oid;
  });
  return { keyUsage, extendedKeyUsage };
}
