/**
 * Decoders for the DER primitive values certificates, CRLs and OCSP responses carry (times, small integers,
 * booleans, bit strings, OIDs), each checking the tag it expects and failing with `malformed_der`.
 */
import { TrucError } from '../../errors.js';
import { decodeOid, type Element } from '../../asn1/reader.js';

function expectTag(el: Element, tag: number, what: string): void {
  if (el.tag !== tag)
    throw new TrucError(
      'malformed_der',
      `${what}: expected tag 0x${tag.toString(16)}, got 0x${el.tag.toString(16)}`,
    );
}

export function readOid(el: Element, what: string): string {
  expectTag(el, 0x06, what);
  if (el.value.length === 0 || el.value.length > 64)
    throw new TrucError('malformed_der', `${what}: bad OID length`);
  return decodeOid(el.value);
}

export function readBoolean(el: Element, what: string, tag = 0x01): boolean {
  expectTag(el, tag, what);
  if (el.value.length !== 1) throw new TrucError('malformed_der', `${what}: bad BOOLEAN`);
  return el.value[0] !== 0;
}

/** A non-negative INTEGER small enough for a path length, skip count or CRL number comparison. */
export function readSmallUint(el: Element, what: string, tag = 0x02): number {
  expectTag(el, tag, what);
  const v = el.value;
  if (v.length === 0 || v.length > 7 || v[0] & 0x80)
    throw new TrucError('malformed_der', `${what}: bad INTEGER`);
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

/** A non-negative INTEGER of any size (CRL numbers), as bigint. */
export function readBigUint(el: Element, what: string): bigint {
  expectTag(el, 0x02, what);
  const v = el.value;
  if (v.length === 0 || v.length > 21 || v[0] & 0x80)
    throw new TrucError('malformed_der', `${what}: bad INTEGER`);
  return BigInt('0x' + v.toString('hex'));
}

/** Serial numbers compare as magnitudes: leading zero octets stripped, hex. */
export function serialKey(intContent: Buffer): string {
  let i = 0;
  while (i < intContent.length - 1 && intContent[i] === 0) i++;
  return intContent.subarray(i).toString('hex');
}

export function readSerial(el: Element, what: string): Buffer {
  expectTag(el, 0x02, what);
  if (el.value.length === 0 || el.value.length > 40)
    throw new TrucError('malformed_der', `${what}: bad serial number`);
  return el.value;
}

/** BIT STRING content without the unused-bits octet. */
export function readBitString(el: Element, what: string, tag = 0x03): { bytes: Buffer; unused: number } {
  expectTag(el, tag, what);
  if (el.value.length === 0 || el.value[0] > 7)
    throw new TrucError('malformed_der', `${what}: bad BIT STRING`);
  return { bytes: el.value.subarray(1), unused: el.value[0] };
}

export function bitSet(bs: { bytes: Buffer }, bit: number): boolean {
  const byte = bit >> 3;
  return byte < bs.bytes.length && (bs.bytes[byte] & (0x80 >> (bit & 7))) !== 0;
}

const TIME_RE = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?Z$/;

/** UTCTime (years 1950-2049) or GeneralizedTime, Zulu only; fractions allowed in GeneralizedTime (OCSP). */
export function readTime(el: Element, what: string): Date {
  if (el.tag !== 0x17 && el.tag !== 0x18) throw new TrucError('malformed_der', `${what}: expected a time`);
  const s = el.value.toString('latin1');
  const m = TIME_RE.exec(s);
  if (!m || (el.tag === 0x17) !== (m[1].length === 2) || (el.tag === 0x17 && m[7]))
    throw new TrucError('malformed_der', `${what}: bad time "${s.slice(0, 32)}"`);
  let year = Number(m[1]);
  if (el.tag === 0x17) year += year < 50 ? 2000 : 1900;
  const ms = m[7] ? Number(m[7].padEnd(3, '0').slice(0, 3)) : 0;
  const t = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms);
  const d = new Date(t);
  if (Number.isNaN(t) || d.getUTCDate() !== Number(m[3]) || d.getUTCHours() !== Number(m[4]))
    throw new TrucError('malformed_der', `${what}: impossible date "${s}"`);
  return d;
}
