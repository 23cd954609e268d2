/**
 * The hash chain of the audit log. Each record's hash covers the previous record's hash and a canonical
 * encoding of the record, so any edit, insertion, deletion or reordering breaks the chain from that point.
 */
import { hash } from 'node:crypto';

export interface AuditEntry {
  actor: string;
  action: string;
  target?: string | null;
  outcome: 'success' | 'failure' | 'denied';
  detail?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  seq: number;
  at: string;
  prevHash: Buffer;
  hash: Buffer;
}

export const GENESIS: Buffer = Buffer.alloc(32);

/** JSON with object keys sorted at every level: one byte string per value. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v ?? null);
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + canonicalJson(v[i]);
    return s + ']';
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  // most records are written with their keys in order already: sorting would only allocate
  for (let i = 1; i < keys.length; i++)
    if (keys[i - 1] > keys[i]) {
      keys.sort();
      break;
    }
  let s = '{';
  let first = true;
  for (const k of keys) {
    const x = o[k];
    if (x === undefined) continue;
    s += (first ? '' : ',') + JSON.stringify(k) + ':' + canonicalJson(x);
    first = false;
  }
  return s + '}';
}

export function recordHash(prev: Buffer, seq: number, at: string, e: AuditEntry): Buffer {
  return recordHashWith(prev, seq, at, e, canonicalJson(e.detail ?? {}));
}

/** `recordHash` with the record's detail already in canonical JSON (which the log stores as well). */
export function recordHashWith(prev: Buffer, seq: number, at: string, e: AuditEntry, detailJson: string): Buffer {
  // canonicalJson of {seq, at, actor, action, target, outcome, detail}, with the top level written out in
  // its sorted key order (bulk issuance hashes one record per certificate)
  const body =
    `{"action":${JSON.stringify(e.action)},"actor":${JSON.stringify(e.actor)},"at":${JSON.stringify(at)},` +
    `"detail":${detailJson},"outcome":${JSON.stringify(e.outcome)},"seq":${seq},` +
    `"target":${JSON.stringify(e.target ?? null)}}`;
  // SHA-256(prev ‖ body) in one call: a Hash object and its update calls cost more than the digest itself
  const input = Buffer.allocUnsafe(prev.length + Buffer.byteLength(body));
  prev.copy(input, 0);
  input.write(body, prev.length);
  return hash('sha256', input, 'buffer');
}
