/**
 * The cryptographic constraints of signature validation (EN 319 102-1 §5.2.8, "Signature acceptance
 * validation" and §5.6.2.5 for the past): every algorithm a signature relies on — its digest, the
 * signature scheme's key (type and size) — is looked up in a policy that says until when it is reliable.
 * An algorithm the policy does not list is never acceptable (INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE);
 * one whose end has passed at the validation time is acceptable only if a proof of existence (a valid
 * time-stamp) shows the signature existed before that end; otherwise the signature is INDETERMINATE /
 * CRYPTO_CONSTRAINTS_FAILURE_NO_POE.
 *
 * The default ends follow NIST SP 800-57 Part 1 rev. 5 (table 4) and SP 800-131A rev. 2: 112-bit security
 * (RSA of 2048 bits, SHA-224, SHA3-224) is acceptable for signing through 2030; 128 bits and more (RSA of 3072 bits,
 * ECDSA P-256 and above, SHA-256 and above, Ed25519) has no end foreseen; SHA-1 and RSA below 2048 bits have
 * been disallowed for signature generation since the end of 2013. An operator can give another policy.
 */
import { createPublicKey } from 'node:crypto';
import type { Certificate } from '../../pki/path/index.js';
import { note, type ReportNote } from './notes.js';

/** Algorithm id → the last instant it is reliable (null: no end foreseen). Ids: `sha256`, `rsa-2048`, `ecdsa-P-256`, … */
export type AlgorithmPolicy = Readonly<Record<string, Date | null>>;

export const DEFAULT_ALGORITHM_POLICY: AlgorithmPolicy = Object.freeze({
  sha1: new Date('2013-12-31T23:59:59Z'),
  sha224: new Date('2030-12-31T23:59:59Z'),
  sha256: null,
  sha384: null,
  sha512: null,
  // SHA-512/t and SHA-3 (FIPS 180-4, FIPS 202): the same security as the SHA-2 digest of the same length
  'sha512-224': new Date('2030-12-31T23:59:59Z'),
  'sha512-256': null,
  'sha3-224': new Date('2030-12-31T23:59:59Z'),
  'sha3-256': null,
  'sha3-384': null,
  'sha3-512': null,
  'rsa-1024': new Date('2013-12-31T23:59:59Z'),
  'rsa-2048': new Date('2030-12-31T23:59:59Z'),
  'rsa-3072': null,
  'ecdsa-P-256': null,
  'ecdsa-P-384': null,
  'ecdsa-P-521': null,
  // Brainpool curves (RFC 5639), accepted by BSI TR-02102-1 and ETSI TS 119 312
  'ecdsa-brainpoolP256r1': null,
  'ecdsa-brainpoolP384r1': null,
  'ecdsa-brainpoolP512r1': null,
  ed25519: null,
  ed448: null,
});

const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** The policy id of a certificate's public key: RSA in the bands 1024 (≥1024), 2048 (≥2048), 3072 (≥3072 bits). */
export function keyAlgorithmId(c: Certificate): string {
  const k = createPublicKey({ key: c.spki, format: 'der', type: 'spki' });
  const d = k.asymmetricKeyDetails;
  if (k.asymmetricKeyType === 'rsa' || k.asymmetricKeyType === 'rsa-pss') {
    const bits = d?.modulusLength ?? 0;
    return bits >= 3072 ? 'rsa-3072' : bits >= 2048 ? 'rsa-2048' : bits >= 1024 ? 'rsa-1024' : `rsa-${bits}`;
  }
  if (k.asymmetricKeyType === 'ec') return `ecdsa-${CURVES[d?.namedCurve ?? ''] ?? d?.namedCurve ?? 'unknown-curve'}`;
  return k.asymmetricKeyType ?? 'unknown';
}

export type AlgorithmVerdict =
  | { ok: true; notes: ReportNote[] }
  | { ok: false; subIndication: 'CRYPTO_CONSTRAINTS_FAILURE' | 'CRYPTO_CONSTRAINTS_FAILURE_NO_POE'; message: string };

/**
 * Judges the algorithms `ids` at validation time `at`, with `poe` the signature's proof of existence (if any).
 * An algorithm past its end is accepted when the signature is proven to exist no later than that end.
 */
export function checkAlgorithms(ids: string[], at: Date, poe: Date | undefined, policy: AlgorithmPolicy = DEFAULT_ALGORITHM_POLICY): AlgorithmVerdict {
  const notes: ReportNote[] = [];
  for (const id of [...new Set(ids)]) {
    if (!Object.hasOwn(policy, id)) return { ok: false, subIndication: 'CRYPTO_CONSTRAINTS_FAILURE', message: `the algorithm ${id} is not allowed by the validation policy` };
    const end = policy[id];
    if (!end || at <= end) continue;
    if (poe && poe <= end) {
      notes.push(note('ALGORITHM_EXPIRED_AFTER_POE', { algorithm: id, since: end.toISOString(), poe: poe.toISOString() }));
      continue;
    }
    return {
      ok: false,
      subIndication: 'CRYPTO_CONSTRAINTS_FAILURE_NO_POE',
      message: `the algorithm ${id} is no longer reliable since ${end.toISOString()} and nothing proves the signature existed before${poe ? ` (its proof of existence is ${poe.toISOString()})` : ''}`,
    };
  }
  return { ok: true, notes };
}
