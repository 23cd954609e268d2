/**
 * NIST's published ACVP vector sets the lab knows byte for byte (test/lab/fixtures/acvp-nist/README.md): a
 * set whose prompt and expected results hash to one of these is named in the report as NIST's, with the
 * repository path and commit; any other set is `local`.
 */
import type { VectorSource } from '../runner.js';
import type { AcvpSuiteInput } from './vector-set.js';

export const NIST_ACVP_REPOSITORY = 'usnistgov/ACVP-Server';

/** SHA-256 over prompt.json then expectedResults.json (as AcvpSuiteInput.sha256) → where NIST publishes them. */
export const NIST_ACVP_SETS: ReadonlyMap<string, { path: string; commit: string }> = new Map([
  ['ea218e664399c9ed8557408ff505c9922b1c9c95c748fab88f30a6218863e82a', { path: 'gen-val/json-files/ACVP-AES-GCM-1.0', commit: '8e6f5ee70a96fc634b4751386d3733e29f4bf5c6' }],
  ['a8c3037a7d6ed0ea7033d02a835728419aad3cfbb16e0ad9b87ab74833f894f9', { path: 'gen-val/json-files/HMAC-SHA2-256-2.0', commit: '15c0f3deeefbfa8cb6cd32a99e1ca3b738c66bf0' }],
  ['f4a8cc3b160cfdafa11076fb1dfe7660a62e5392146a39bd98f422405af092ed', { path: 'gen-val/json-files/HMAC-SHA-1-2.0', commit: '15c0f3deeefbfa8cb6cd32a99e1ca3b738c66bf0' }],
  ['5d33197408f80688518c68aaca2dd2f73c208cf7c80ecb83d3f7c20d8cac2641', { path: 'gen-val/json-files/HMAC-SHA2-224-2.0', commit: '15c0f3deeefbfa8cb6cd32a99e1ca3b738c66bf0' }],
  ['77e7849670070f02463adec97d127aca923e3179766c16f343232c0f5c2ea5a6', { path: 'gen-val/json-files/HMAC-SHA2-384-2.0', commit: '15c0f3deeefbfa8cb6cd32a99e1ca3b738c66bf0' }],
  ['f25a501b8400ba365d3819e0b675e1dabdb8ccfce66283219a7f03b0de9e44f9', { path: 'gen-val/json-files/HMAC-SHA2-512-2.0', commit: '15c0f3deeefbfa8cb6cd32a99e1ca3b738c66bf0' }],
]);

/** The true source of one set: NIST's repository and commit when its bytes are NIST's, else `local`. */
export function nistSource(s: AcvpSuiteInput): VectorSource {
  const known = NIST_ACVP_SETS.get(s.sha256);
  const files = [{ file: s.name, sha256: s.sha256, upstream: known !== undefined }];
  return known ? { name: NIST_ACVP_REPOSITORY, commit: known.commit, folder: known.path, files } : { name: 'local', files };
}
