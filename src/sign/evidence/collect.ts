/**
 * Gathering what a long-term signature carries (B-LT): for each certificate to cover — the signer's, each
 * TSA's — the path to a trust anchor, and the revocation data of every certificate on it below the
 * anchor, asked of an `EvidenceSource`. Answers the certificates (path order, no duplicates), CRLs and
 * OCSP responses (whole OCSPResponses). Missing evidence is an error: a B-LT signature without it would
 * not validate later, which is the point of the level.
 */
import { createHash } from 'node:crypto';
import { TrucError } from '../../errors.js';
import { parseCertificate, validatePath, type TrustAnchorInput } from '../../pki/path/index.js';
import type { Evidence, EvidenceSource } from './sources.js';

export interface CollectOptions {
  trustAnchors: TrustAnchorInput[];
  source: EvidenceSource;
  /** certificates to build paths with (the signature's own certificates are added by the callers) */
  intermediates?: Uint8Array[];
}

export interface Collected extends Evidence {
  certs: Buffer[];
}

const key = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export async function collectEvidence(targets: Buffer[], pool: Buffer[], opts: CollectOptions): Promise<Collected> {
  const seen = new Set<string>();
  const out: Collected = { certs: [], crls: [], ocsps: [] };
  const add = (list: Buffer[], items: Buffer[]) => {
    for (const i of items) if (!seen.has(key(i)) && seen.add(key(i))) list.push(i);
  };
  const done = new Set<string>();
  for (const target of targets) {
    const path = await validatePath({ target, intermediates: [...pool, ...(opts.intermediates ?? []).map((c) => Buffer.from(c))], trustAnchors: opts.trustAnchors, revocation: { mode: 'off' } });
    if (!path.valid) throw new TrucError('invalid_path', `no valid path for ${parseCertificate(target).subject.der.length ? 'a certificate to cover' : '?'}: ${path.message}`, { reason: path.reason });
    add(out.certs, path.path);
    for (let i = 0; i + 1 < path.path.length; i++) {
      const k = key(path.path[i]);
      if (done.has(k)) continue;
      done.add(k);
      const ev = await opts.source.revocation(path.path[i], path.path[i + 1]);
      if (!ev.crls.length && !ev.ocsps.length) throw new TrucError('not_found', `no revocation data for certificate ${parseCertificate(path.path[i]).serialHex}`);
      add(out.crls, ev.crls);
      add(out.ocsps, ev.ocsps);
    }
  }
  return out;
}
