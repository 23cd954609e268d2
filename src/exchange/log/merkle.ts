/**
 * The hash tree a time-stamp batch is built on, in the shape of RFC 6962's Merkle tree hash: leaves are
 * `SHA-256(0x00 || chain hash)`, nodes `SHA-256(0x01 || left || right)`, and a range splits at the largest
 * power of two below its size (domain separation keeps a leaf from passing for a node). One record's audit
 * path proves it is under the root the TSA stamped.
 */
import { sha256 } from '../../crypto/digest.js';

const LEAF = Buffer.of(0);
const NODE = Buffer.of(1);

export const leafHash = (h: Buffer): Buffer => sha256(LEAF, h);
export const nodeHash = (l: Buffer, r: Buffer): Buffer => sha256(NODE, l, r);

function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** the tree's root over already-hashed leaves (depth log2(n): recursion is bounded) */
function rootOf(leaves: Buffer[], lo: number, hi: number): Buffer {
  if (hi - lo === 1) return leaves[lo]!;
  const k = split(hi - lo);
  return nodeHash(rootOf(leaves, lo, lo + k), rootOf(leaves, lo + k, hi));
}

export function merkleRoot(chainHashes: Buffer[]): Buffer {
  if (!chainHashes.length) throw new Error('empty tree');
  return rootOf(chainHashes.map(leafHash), 0, chainHashes.length);
}

/** RFC 6962 §2.1.1 audit path for leaf `index`, bottom up. */
export function auditPath(chainHashes: Buffer[], index: number): Buffer[] {
  const leaves = chainHashes.map(leafHash);
  const path: Buffer[] = [];
  const walk = (lo: number, hi: number) => {
    if (hi - lo === 1) return;
    const k = split(hi - lo);
    if (index < lo + k) {
      walk(lo, lo + k);
      path.push(rootOf(leaves, lo + k, hi));
    } else {
      walk(lo + k, hi);
      path.push(rootOf(leaves, lo, lo + k));
    }
  };
  walk(0, leaves.length);
  return path;
}

/** The root an audit path leads to from one chain hash (RFC 9162 §2.1.3.2), or null when the path is malformed. */
export function rootFromAuditPath(chainHash: Buffer, index: number, size: number, path: Buffer[]): Buffer | null {
  if (index < 0 || index >= size || path.length > 64) return null;
  let fn = index;
  let sn = size - 1;
  let r = leafHash(chainHash);
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else r = nodeHash(r, p);
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}
