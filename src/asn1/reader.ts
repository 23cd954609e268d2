/**
 * A bounded DER reader: walks tag-length-value elements of untrusted input and hands back raw slices
 * (to verify signatures over exactly the bytes that were signed). Rejects indefinite lengths, lengths past
 * the end, non-minimal long forms and nesting deeper than a limit; never recurses on its own.
 */
import { TrucError } from '../errors.js';

export interface Element {
  tag: number;
  /** whole element, header included */
  raw: Buffer;
  /** content only */
  value: Buffer;
  constructed: boolean;
}

export const MAX_DER = 1 << 20; // 1 MiB: no certificate, CSR or CRL entry we parse is larger

export function readElement(buf: Buffer, offset = 0, what = 'DER'): Element & { end: number } {
  if (offset + 2 > buf.length) throw new TrucError('malformed_der', `${what}: truncated header at ${offset}`);
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) throw new TrucError('malformed_der', `${what}: high tag numbers unsupported at ${offset}`);
  let len = buf[offset + 1];
  let hdr = 2;
  if (len === 0x80) throw new TrucError('malformed_der', `${what}: indefinite length at ${offset}`);
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 4 || offset + 2 + n > buf.length)
      throw new TrucError('malformed_der', `${what}: bad length of length at ${offset}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i];
    if (len < 0x80 || (n > 1 && buf[offset + 2] === 0))
      throw new TrucError('malformed_der', `${what}: non-minimal length at ${offset}`);
    hdr += n;
  }
  const end = offset + hdr + len;
  if (end > buf.length) throw new TrucError('malformed_der', `${what}: element at ${offset} runs past the end`);
  return {
    tag,
    raw: buf.subarray(offset, end),
    value: buf.subarray(offset + hdr, end),
    constructed: (tag & 0x20) !== 0,
    end,
  };
}

/** The children of a constructed element, in order. */
export function children(el: Element, what = 'DER', max = 10_000): Element[] {
  const out: Element[] = [];
  let off = 0;
  while (off < el.value.length) {
    const c = readElement(el.value, off, what);
    out.push(c);
    off = c.end;
    if (out.length > max) throw new TrucError('malformed_der', `${what}: too many elements`);
  }
  return out;
}

/** Parses a whole buffer as exactly one element (no trailing bytes). */
export function parseOne(buf: Buffer, what = 'DER', maxSize = MAX_DER): Element {
  if (buf.length > maxSize) throw new TrucError('too_large', `${what}: ${buf.length} bytes exceeds ${maxSize}`);
  const el = readElement(buf, 0, what);
  if (el.end !== buf.length) throw new TrucError('malformed_der', `${what}: trailing bytes after the element`);
  return el;
}

/** Checks well-formedness of a whole tree with an explicit stack and a depth bound. */
export function checkTree(buf: Buffer, what = 'DER', maxDepth = 32): void {
  const root = parseOne(buf, what);
  const stack: { el: Element; depth: number }[] = [{ el: root, depth: 0 }];
  let count = 0;
  while (stack.length) {
    const { el, depth } = stack.pop()!;
    if (depth > maxDepth) throw new TrucError('malformed_der', `${what}: nesting deeper than ${maxDepth}`);
    if (++count > 100_000) throw new TrucError('malformed_der', `${what}: too many elements`);
    if (el.constructed) for (const c of children(el, what)) stack.push({ el: c, depth: depth + 1 });
  }
}

/**
 * Octets of one arc of an object identifier: a 128-bit UUID arc (2.25.…, X.667) takes 19; anything longer is
 * no identifier anyone assigned. Without the bound one arc of a megabyte is a bigint grown seven bits at a
 * time — quadratic work (a 48 KB arc took half a second, a CMS of 8 MB would take hours).
 */
const MAX_OID_ARC_OCTETS = 20;
/** Octets of a whole identifier: real ones are a few dozen. */
export const MAX_OID_OCTETS = 1024;

export function decodeOid(value: Buffer): string {
  if (value.length > MAX_OID_OCTETS) throw new TrucError('malformed_der', `OBJECT IDENTIFIER of ${value.length} octets (more than ${MAX_OID_OCTETS})`);
  const arcs: bigint[] = [];
  let v = 0n;
  let octets = 0;
  for (const b of value) {
    if (++octets > MAX_OID_ARC_OCTETS) throw new TrucError('malformed_der', `OBJECT IDENTIFIER with an arc of more than ${MAX_OID_ARC_OCTETS} octets`);
    v = (v << 7n) | BigInt(b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(v);
      v = 0n;
      octets = 0;
    }
  }
  if (arcs.length === 0) return '';
  const first = arcs[0] < 80n ? arcs[0] / 40n : 2n;
  const second = arcs[0] - first * 40n;
  return [first, second, ...arcs.slice(1)].join('.');
}
