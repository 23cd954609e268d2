/**
 * Shared test material for the monitoring tests.
 */
/** The EICAR test file, assembled at run time so that the repository never holds it in one piece. */
export function eicar(): Buffer {
  const parts = ['X5O!P%@AP[4\\PZX54(P^)7CC)7}$', 'EICAR-STANDARD-', 'ANTIVIRUS-', 'TEST-FILE!$H+H*'];
  return Buffer.from(parts.join(''), 'ascii');
}
export const MARKER = Buffer.from('header TRUC-SCAN-SELFTEST … 8c1d6e0b-do-not-deploy trailer');

