/**
 * Batched message signatures: many message digests that arrive together are the leaves of one hash tree,
 * the signing key signs its root once, and each message carries its leaf position and sibling path. A
 * slow HSM then costs one signature per batch, not per message, and a verifier that has checked a root
 * for a certificate checks the next message of the same batch with hashing alone.
 *
 *   leaf node = SHA-256(0x00 · digest)      inner node = SHA-256(0x01 · left · right)
 *
 * An odd node at the end of a level is carried up unchanged. The signed bytes are "TRUC-BATCH-1" · root.
 */
import { verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { SCHEMES, type SignatureScheme } from '../../crypto/algorithms.js';
import { sha256 } from '../../crypto/digest.js';

const BATCH_TAG = Buffer.from('TRUC-BATCH-1', 'latin1');
const LEAF = Buffer.from([0]);
const NODE = Buffer.from([1]);

export const leafNode = (digest: Buffer) => sha256(LEAF, digest);
const innerNode = (l: Buffer, r: Buffer) => sha256(NODE, l, r);

export function signedBytes(root: Buffer): Buffer {
  return Buffer.concat([BATCH_TAG, root]);
}

/** All levels of the tree, leaves first. */
function levels(leaves: Buffer[]): Buffer[][] {
  const out: Buffer[][] = [leaves.map(leafNode)];
  while (out[out.length - 1]!.length > 1) {
    const prev = out[out.length - 1]!;
    const next: Buffer[] = [];
    for (let i = 0; i < prev.length; i += 2) next.push(i + 1 < prev.length ? innerNode(prev[i]!, prev[i + 1]!) : prev[i]!);
    out.push(next);
  }
  return out;
}

export function treeProofs(digests: Buffer[]): { root: Buffer; paths: string[][] } {
  const lv = levels(digests);
  const root = lv[lv.length - 1]![0]!;
  const paths = digests.map((_, leaf) => {
    const path: string[] = [];
    let i = leaf;
    for (let l = 0; l < lv.length - 1; l++) {
      const level = lv[l]!;
      const sib = i % 2 === 0 ? i + 1 : i - 1;
      if (sib < level.length) path.push(level[sib]!.toString('hex'));
      i = Math.floor(i / 2);
    }
    return path;
  });
  return { root, paths };
}

/** Recomputes the root from a digest, its position and path; null when the path's shape is wrong. */
export function rootFromPath(digest: Buffer, index: number, count: number, path: string[]): Buffer | null {
  let node = leafNode(digest);
  let i = index;
  let n = count;
  let used = 0;
  while (n > 1) {
    const sib = i % 2 === 0 ? i + 1 : i - 1;
    if (sib < n) {
      const p = path[used++];
      if (!p) return null;
      const s = Buffer.from(p, 'hex');
      node = i % 2 === 0 ? innerNode(node, s) : innerNode(s, node);
    }
    i = Math.floor(i / 2);
    n = Math.ceil(n / 2);
  }
  return used === path.length ? node : null;
}

export interface BatchSignature {
  index: number;
  count: number;
  path: string[];
  value: Buffer;
}

/**
 * Collects digests for one turn of the event loop (or while a signature is being made), then signs their
 * tree's root once. `sign` is the key store's signer for the member's signing key.
 */
export class BatchSigner {
  private pending: { digest: Buffer; resolve: (s: BatchSignature) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private inFlight = 0;
  private lastFlush = 0;
  batches = 0;
  signed = 0;

  constructor(
    private readonly sign: (data: Uint8Array) => Buffer | Promise<Buffer>,
    readonly scheme: SignatureScheme,
    private readonly maxBatch = 4096,
    private readonly maxInFlight = 2,
    /**
     * under load, batches are at least this far apart, so that messages arriving meanwhile share one
     * signature (and their receivers one verification); a lone message is signed at once
     */
    private readonly minGapMs = 1,
  ) {}

  signDigest(digest: Buffer): Promise<BatchSignature> {
    return new Promise((resolve, reject) => {
      this.pending.push({ digest, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      void this.flush();
    };
    const wait = this.lastFlush + this.minGapMs - performance.now();
    if (wait > 0) setTimeout(run, wait);
    else setImmediate(run);
  }

  private async flush(): Promise<void> {
    if (!this.pending.length || this.inFlight >= this.maxInFlight) return;
    const batch = this.pending.splice(0, this.maxBatch);
    this.lastFlush = performance.now();
    this.inFlight++;
    try {
      const { root, paths } = treeProofs(batch.map((b) => b.digest));
      const value = await this.sign(signedBytes(root));
      this.batches++;
      this.signed += batch.length;
      batch.forEach((b, i) => b.resolve({ index: i, count: batch.length, path: paths[i]!, value }));
    } catch (e) {
      for (const b of batch) b.reject(e);
    } finally {
      this.inFlight--;
      if (this.pending.length) this.schedule();
    }
  }
}

/** Verifies a signature over a root with a certificate's public key, per the named scheme. */
export function verifyRoot(key: KeyObject, scheme: string, root: Buffer, signature: Buffer): boolean {
  const info = SCHEMES[scheme as SignatureScheme];
  if (!info) return false;
  const data = signedBytes(root);
  try {
    if (info.family === 'ed25519') return cryptoVerify(null, data, key, signature);
    if (info.family === 'rsa-pss')
      return cryptoVerify(info.hash!, data, { key, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: { sha256: 32, sha384: 48, sha512: 64 }[info.hash!] }, signature);
    if (info.family === 'ecdsa') return cryptoVerify(info.hash!, data, { key, dsaEncoding: 'der' }, signature);
    return cryptoVerify(info.hash!, data, key, signature);
  } catch {
    return false;
  }
}

export function publicKeyOf(certDer: Buffer): KeyObject {
  return new X509Certificate(certDer).publicKey;
}
