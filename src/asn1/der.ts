/**
 * DER building blocks for hot paths: tag-length-value assembly over Buffers, with no schema machinery.
 * Anything built here is tested byte-equal against the @peculiar/asn1-* schema encoders.
 */

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8String: 0x0c,
  PrintableString: 0x13,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** A definite length, any safe integer (a streamed structure, such as a CMS around a large file, may pass 4 GiB). */
export function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  if (n < 0x10000) return Buffer.from([0x82, n >> 8, n & 0xff]);
  if (n < 0x1000000) return Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  if (n < 0x100000000) return Buffer.from([0x84, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const headerLength = (n: number) => (n < 0x80 ? 2 : n < 0x100 ? 3 : n < 0x10000 ? 4 : n < 0x1000000 ? 5 : 6);

/** Writes a tag and a definite length at `at`; returns where the content starts. */
export function writeHeader(out: Buffer, at: number, tag: number, n: number): number {
  out[at++] = tag;
  if (n < 0x80) out[at++] = n;
  else if (n < 0x100) {
    out[at++] = 0x81;
    out[at++] = n;
  } else if (n < 0x10000) {
    out[at++] = 0x82;
    out[at++] = n >> 8;
    out[at++] = n & 0xff;
  } else if (n < 0x1000000) {
    out[at++] = 0x83;
    out[at++] = n >> 16;
    out[at++] = (n >> 8) & 0xff;
    out[at++] = n & 0xff;
  } else {
    out[at++] = 0x84;
    out[at++] = (n >>> 24) & 0xff;
    out[at++] = (n >> 16) & 0xff;
    out[at++] = (n >> 8) & 0xff;
    out[at++] = n & 0xff;
  }
  return at;
}

// One allocation per element: hot paths (certificates, OCSP responses) nest a dozen of these.
export function tlv(tag: number, ...content: Uint8Array[]): Buffer {
  let n = 0;
  for (let i = 0; i < content.length; i++) n += content[i].length;
  const out = Buffer.allocUnsafe(headerLength(n) + n);
  let at = writeHeader(out, 0, tag, n);
  for (let i = 0; i < content.length; i++) {
    out.set(content[i], at);
    at += content[i].length;
  }
  return out;
}

export const seq = (...c: Uint8Array[]) => tlv(TAG.SEQUENCE, ...c);
export const set = (...c: Uint8Array[]) => tlv(TAG.SET, ...c);
export const octets = (b: Uint8Array) => tlv(TAG.OCTET_STRING, b);
export const ctx = (n: number, ...c: Uint8Array[]) => tlv(0xa0 | n, ...c); // constructed, context-specific
export const ctxPrim = (n: number, b: Uint8Array) => tlv(0x80 | n, b); // primitive, context-specific
export const NULL = Buffer.from([0x05, 0x00]);
export const TRUE = Buffer.from([0x01, 0x01, 0xff]);

const UNUSED_BITS = Array.from({ length: 8 }, (_, i) => Buffer.from([i]));
const ZERO = Buffer.from([0]);

export function bitString(b: Uint8Array, unusedBits = 0): Buffer {
  return tlv(TAG.BIT_STRING, UNUSED_BITS[unusedBits] ?? Buffer.from([unusedBits]), b);
}

/** A named bit string (KeyUsage, ReasonFlags): DER drops trailing zero bits. */
export function namedBits(bits: number[]): Buffer {
  if (bits.length === 0) return bitString(Buffer.alloc(0));
  const max = Math.max(...bits);
  const bytes = Buffer.alloc((max >> 3) + 1);
  for (const b of bits) bytes[b >> 3] |= 0x80 >> (b & 7);
  const unused = 7 - (max & 7);
  return bitString(bytes, unused);
}

/** INTEGER from unsigned big-endian magnitude bytes (serial numbers). */
export function uintFromBytes(mag: Uint8Array): Buffer {
  let i = 0;
  while (i < mag.length - 1 && mag[i] === 0) i++;
  const m = mag.subarray(i);
  return m[0] & 0x80 ? tlv(TAG.INTEGER, ZERO, m) : tlv(TAG.INTEGER, m);
}

/** INTEGER for a non-negative value (versions, CRL numbers, path lengths). */
export function int(n: number | bigint): Buffer {
  let v = BigInt(n);
  if (v < 0n) throw new RangeError('negative INTEGER not supported');
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  } while (v > 0n);
  if (bytes[0] & 0x80) bytes.unshift(0);
  return tlv(TAG.INTEGER, Buffer.from(bytes));
}

const oidCache = new Map<string, Buffer>();
export function oid(dotted: string): Buffer {
  const hit = oidCache.get(dotted);
  if (hit) return hit;
  const parts = dotted.split('.').map((p) => BigInt(p));
  const out: number[] = [];
  const arcs = [parts[0] * 40n + parts[1], ...parts.slice(2)];
  for (const arc of arcs) {
    const stack: number[] = [Number(arc & 0x7fn)];
    let v = arc >> 7n;
    while (v > 0n) {
      stack.unshift(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(...stack);
  }
  const enc = tlv(TAG.OID, Buffer.from(out));
  oidCache.set(dotted, enc);
  return enc;
}

export const utf8 = (s: string) => tlv(TAG.UTF8String, Buffer.from(s, 'utf8'));
export const printable = (s: string) => tlv(TAG.PrintableString, Buffer.from(s, 'ascii'));
export const ia5 = (s: string) => tlv(TAG.IA5String, Buffer.from(s, 'ascii'));

const pad2 = (n: number) => (n < 10 ? '0' + n : String(n));

/** RFC 5280: UTCTime through 2049, GeneralizedTime from 2050; always Zulu, whole seconds. */
export function time(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const rest =
    pad2(d.getUTCMonth() + 1) +
    pad2(d.getUTCDate()) +
    pad2(d.getUTCHours()) +
    pad2(d.getUTCMinutes()) +
    pad2(d.getUTCSeconds()) +
    'Z';
  if (y >= 1950 && y < 2050) return tlv(TAG.UTCTime, Buffer.from(pad2(y % 100) + rest, 'ascii'));
  return generalizedTime(d);
}

export function generalizedTime(d: Date): Buffer {
  const s =
    String(d.getUTCFullYear()).padStart(4, '0') +
    pad2(d.getUTCMonth() + 1) +
    pad2(d.getUTCDate()) +
    pad2(d.getUTCHours()) +
    pad2(d.getUTCMinutes()) +
    pad2(d.getUTCSeconds()) +
    'Z';
  return tlv(TAG.GeneralizedTime, Buffer.from(s, 'ascii'));
}

/** SET OF with DER ordering of its encoded elements. */
export function setOf(elements: Buffer[]): Buffer {
  return set(...[...elements].sort(Buffer.compare));
}

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * Each `-----BEGIN label-----` … `-----END label-----` block of a text, in order (`max`: the first ones only):
 * where its BEGIN line stands and its base64 text, white space removed. One forward scan: the lazy regular
 * expression it replaces took time quadratic in the text when BEGIN lines came without their END (2 MiB of
 * them: ~40 s).
 */
function pemScan(text: string, label: string, max: number): { at: number; body: string }[] {
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const out: { at: number; body: string }[] = [];
  let at = text.indexOf(begin);
  while (at >= 0 && out.length < max) {
    const stop = text.indexOf(end, at + begin.length);
    if (stop < 0) break;
    // a BEGIN again before the END: the block is what follows the last one
    const inner = text.lastIndexOf(begin, stop);
    out.push({ at: inner, body: text.slice(inner + begin.length, stop).replace(/\s+/g, '') });
    at = text.indexOf(begin, stop + end.length);
  }
  return out;
}

/** The base64 text of each PEM block of a text with this label, in order (`max`: the first ones only). */
export function pemBodies(text: string, label: string, max = Infinity): string[] {
  return pemScan(text, label, max).map((b) => b.body);
}

/** The first PEM block, in the text's order, under any of these labels (`CMS` or `PKCS7`): its label and base64 text. */
export function pemFirstBody(text: string, labels: readonly string[]): { label: string; body: string } | undefined {
  let best: { at: number; label: string; body: string } | undefined;
  for (const label of labels) {
    const [first] = pemScan(text, label, 1);
    if (first && (!best || first.at < best.at)) best = { ...first, label };
  }
  return best && { label: best.label, body: best.body };
}

/** The DER of each PEM block of a text with this label (`pemBodies`, decoded). */
export function pemBlocks(text: string, label: string, max = Infinity): Buffer[] {
  return pemBodies(text, label, max).map((b) => Buffer.from(b, 'base64'));
}

export function enumerated(n: number): Buffer {
  return tlv(TAG.ENUMERATED, int(n).subarray(2));
}
