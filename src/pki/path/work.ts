/**
 * The work one validation may do, counted: signature verifications (each pair of certificate and key is
 * verified at most once, its result cached; public keys are imported once) and issuer candidates looked
 * at during path building. A validation that would go beyond its budget stops and says so
 * (`budget_exceeded`), however the pool of intermediates was crafted.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Certificate } from './certificate.js';
import { checkSignature, type SignatureCheck } from './signature.js';
import { MAX_CANDIDATES, MAX_SIGNATURE_CHECKS } from './limits.js';

export class Work {
  /** signature verifications actually performed (cache hits are free) */
  signatureChecks = 0;
  /** issuer candidates looked at while building paths */
  candidates = 0;
  /** set when a check or a candidate was refused for lack of budget */
  exhausted = false;
  private results = new Map<string, SignatureCheck>();
  private keys = new Map<string, KeyObject | null>();

  constructor(
    readonly maxSignatureChecks = MAX_SIGNATURE_CHECKS,
    readonly maxCandidates = MAX_CANDIDATES,
  ) {}

  /** A budget of its own for a second pass, sharing what this one already verified (free to look up again). */
  fork(): Work {
    const w = new Work(this.maxSignatureChecks, this.maxCandidates);
    w.results = this.results;
    w.keys = this.keys;
    return w;
  }

  /** Whether one more candidate may be looked at. */
  takeCandidate(): boolean {
    if (this.candidates >= this.maxCandidates) {
      this.exhausted = true;
      return false;
    }
    this.candidates++;
    return true;
  }

  /** Verifies `cert`'s signature with `spki`, once per pair; 'budget' when the budget is spent. */
  signature(cert: Certificate, spki: Buffer): SignatureCheck | 'budget' {
    const id = `${cert.fingerprint}|${spki.toString('hex')}`;
    const hit = this.results.get(id);
    if (hit) return hit;
    if (this.signatureChecks >= this.maxSignatureChecks) {
      this.exhausted = true;
      return 'budget';
    }
    this.signatureChecks++;
    const r = checkSignature(cert.signatureAlgorithm, this.key(spki) ?? spki, cert.tbs, cert.signature);
    this.results.set(id, r);
    return r;
  }

  private key(spki: Buffer): KeyObject | null {
    const id = spki.toString('hex');
    let k = this.keys.get(id);
    if (k === undefined) {
      try {
        k = createPublicKey({ key: spki, format: 'der', type: 'spki' });
      } catch {
        k = null; // checkSignature answers bad_key for it
      }
      this.keys.set(id, k);
    }
    return k;
  }
}
