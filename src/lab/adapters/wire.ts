/**
 * Operation requests and answers as JSON for external products: byte strings travel as lowercase hex,
 * everything else as is. Shared by the stdio adapter and by products written against the protocol.
 */
import { fromHex, toHex } from '../hex.js';
import type { OperationName } from '../product.js';

const MAX_DEPTH = 8;

/** Params with every Uint8Array replaced by its hex string. */
export function toWire(v: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) throw new Error('params nested too deep');
  if (v instanceof Uint8Array) return toHex(v);
  if (Array.isArray(v)) return v.map((x) => toWire(x, depth + 1));
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = toWire(x, depth + 1);
    return o;
  }
  return v;
}

/** How each operation's answer is shaped on the wire; bytes are hex. */
export type WireResult = { ct: string; tag: string } | { valid: boolean } | { out: string } | Record<string, unknown>;

/** Reads an operation's answer back into lab values; throws when the product answered out of shape. */
export function fromWire(op: OperationName, r: unknown): unknown {
  const o = (r ?? {}) as Record<string, unknown>;
  switch (op) {
    case 'aeadEncrypt':
      return { ct: fromHex(String(o.ct), 'ct'), tag: fromHex(String(o.tag), 'tag') };
    case 'sigVerify':
    case 'isPrime':
    case 'blsVerify':
    case 'blsAggregateVerify':
      if (typeof o.valid !== 'boolean') throw new Error('answer lacks boolean "valid"');
      return o.valid;
    case 'kemEncaps':
      return { c: fromHex(String(o.c), 'c'), K: fromHex(String(o.K), 'K') };
    case 'kemKeygen':
      return { ek: fromHex(String(o.ek), 'ek'), dk: fromHex(String(o.dk), 'dk') };
    case 'fpeEncrypt':
    case 'fpeDecrypt':
      // digits stay digits and text stays text: FPE output is not bytes
      if (typeof o.out === 'string' || (Array.isArray(o.out) && o.out.every((d) => Number.isInteger(d)))) return o.out;
      throw new Error('answer lacks "out" as a string or a list of integers');
    case 'ecCurveParams': {
      if (!Number.isInteger(o.h)) throw new Error('answer lacks integer "h"');
      const hex = (k: string) => fromHex(String(o[k]), k);
      return { p: hex('p'), a: hex('a'), b: hex('b'), gx: hex('gx'), gy: hex('gy'), n: hex('n'), h: o.h };
    }
    case 'acvp':
      return o;
    default:
      if (typeof o.out !== 'string') throw new Error('answer lacks hex "out"');
      return fromHex(o.out, 'out');
  }
}
