/**
 * Substitution values: the typed data a template instance carries (MS-EVEN6 value types), decoded to the
 * JSON values `evtx_dump -o json` writes — strings without trailing white space (unless `exact`), integers and booleans as JSON numbers and booleans, 64-bit
 * integers as the nearest number (as JSON.parse reads them), everything else as text: GUIDs upper-case
 * without braces, SIDs as S-R-A-…, FILETIME and SYSTEMTIME as ISO 8601 with microseconds, binary as
 * upper-case hex, hexadecimal integers as 0x… in lower case, reals in their shortest form. Arrays become
 * JSON arrays. Every read is bounded by the value's own size: a wrong size gives hex, never a throw.
 */

export const T_NULL = 0x00;
export const T_STRING = 0x01;
export const T_ANSI = 0x02;
export const T_BINXML = 0x21;
export const T_ARRAY = 0x80;

/** A value that is itself binary XML (an embedded fragment, e.g. UserData): rendered as elements. */
export class BinXmlValue {
  constructor(
    readonly offset: number,
    readonly size: number,
  ) {}
}

export type Value = string | number | boolean | null | BinXmlValue | Value[];

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push((i < 16 ? '0' : '') + i.toString(16).toUpperCase());

export function hexUpper(b: Buffer, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += HEX[b[i]!];
  return s;
}

function utf16(b: Buffer, start: number, end: number): string {
  const s = b.toString('utf16le', start, start + ((end - start) & ~1));
  const z = s.indexOf('\0');
  return z < 0 ? s : s.slice(0, z);
}

/** Windows-1252 for the bytes 0x80–0x9F that latin1 would leave as control characters. */
const CP1252 = '€\x81‚ƒ„…†‡ˆ‰Š‹Œ\x8dŽ\x8f\x90‘’“”•–—˜™š›œ\x9džŸ';
function ansi(b: Buffer, start: number, end: number): string {
  let z = b.indexOf(0, start);
  if (z < 0 || z > end) z = end;
  const s = b.toString('latin1', start, z);
  return /[\x80-\x9f]/.test(s) ? s.replace(/[\x80-\x9f]/g, (c) => CP1252[c.charCodeAt(0) - 0x80]!) : s;
}

function u64(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 4294967296;
}

function i64(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readInt32LE(at + 4) * 4294967296;
}

export function hex64(b: Buffer, at: number): string {
  const lo = b.readUInt32LE(at);
  const hi = b.readUInt32LE(at + 4);
  return hi === 0 ? '0x' + lo.toString(16) : '0x' + hi.toString(16) + lo.toString(16).padStart(8, '0');
}

export function guid(b: Buffer, at: number): string {
  return (
    HEX[b[at + 3]!]! + HEX[b[at + 2]!] + HEX[b[at + 1]!] + HEX[b[at]!] + '-' +
    HEX[b[at + 5]!] + HEX[b[at + 4]!] + '-' + HEX[b[at + 7]!] + HEX[b[at + 6]!] + '-' +
    HEX[b[at + 8]!] + HEX[b[at + 9]!] + '-' + hexUpper(b, at + 10, at + 16)
  );
}

/** Length of the SID at `at`, or -1 when it does not fit before `end`. */
function sidLength(b: Buffer, at: number, end: number): number {
  if (at + 8 > end) return -1;
  const n = 8 + 4 * b[at + 1]!;
  return at + n <= end ? n : -1;
}

function sid(b: Buffer, at: number): string {
  const count = b[at + 1]!;
  const authority = b.readUIntBE(at + 2, 6);
  let s = 'S-' + b[at]! + '-' + authority;
  for (let i = 0; i < count; i++) s += '-' + b.readUInt32LE(at + 8 + 4 * i);
  return s;
}

const FILETIME_UNIX_SECONDS = 11644473600;

/** FILETIME (100 ns since 1601) as 2025-11-27T07:40:10.165324Z, exactly, without BigInt. */
export function filetime(b: Buffer, at: number): string {
  const lo = b.readUInt32LE(at);
  const hi = b.readUInt32LE(at + 4);
  // hi·2³² = hi·429·10⁷ + hi·4967296: both parts stay exact in a double
  const rest = hi * 4967296 + lo;
  const seconds = hi * 429 + Math.floor(rest / 1e7);
  const micros = Math.floor((rest % 1e7) / 10);
  return isoSeconds(seconds - FILETIME_UNIX_SECONDS) + '.' + String(micros).padStart(6, '0') + 'Z';
}

let lastSecond = NaN;
let lastIso = '';
function isoSeconds(unix: number): string {
  // events come in bursts within the same second: format each second once
  if (unix === lastSecond) return lastIso;
  const d = new Date(unix * 1000);
  lastSecond = unix;
  return (lastIso = Number.isNaN(d.getTime()) ? '0000-00-00T00:00:00' : d.toISOString().slice(0, -5));
}

function systemtime(b: Buffer, at: number): string {
  const p2 = (n: number) => (n < 10 ? '0' : '') + n;
  const y = b.readUInt16LE(at);
  const ms = b.readUInt16LE(at + 14);
  return (
    String(y).padStart(4, '0') + '-' + p2(b.readUInt16LE(at + 2)) + '-' + p2(b.readUInt16LE(at + 6)) + 'T' +
    p2(b.readUInt16LE(at + 8)) + ':' + p2(b.readUInt16LE(at + 10)) + ':' + p2(b.readUInt16LE(at + 12)) + '.' +
    String(ms * 1000).padStart(6, '0') + 'Z'
  );
}

/** The shortest decimal that reads back as the same 32-bit float (what Rust prints for an f32). */
function real32(b: Buffer, at: number): string {
  const v = b.readFloatLE(at);
  if (!Number.isFinite(v)) return String(v);
  for (let p = 1; p < 10; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return String(s);
  }
  return String(v);
}

/** Size in bytes of one item of a fixed-size type, 0 for variable-size types, -1 for unknown. */
function fixedSize(type: number, size: number): number {
  switch (type) {
    case 0x03: case 0x04: return 1;
    case 0x05: case 0x06: return 2;
    case 0x07: case 0x08: case 0x0b: case 0x0d: case 0x14: return 4;
    case 0x09: case 0x0a: case 0x0c: case 0x11: case 0x15: return 8;
    case 0x0f: case 0x12: return 16;
    case 0x10: return size === 4 ? 4 : 8;
    default: return 0;
  }
}

function scalar(b: Buffer, type: number, at: number, size: number): Value {
  switch (type) {
    case 0x03: return b.readInt8(at);
    case 0x04: return b[at]!;
    case 0x05: return b.readInt16LE(at);
    case 0x06: return b.readUInt16LE(at);
    case 0x07: return b.readInt32LE(at);
    case 0x08: return b.readUInt32LE(at);
    case 0x09: return i64(b, at);
    case 0x0a: return u64(b, at);
    case 0x0b: return real32(b, at);
    case 0x0c: return String(b.readDoubleLE(at));
    case 0x0d: return b.readInt32LE(at) !== 0;
    case 0x0f: return guid(b, at);
    case 0x10: return size === 4 ? '0x' + b.readUInt32LE(at).toString(16) : hex64(b, at);
    case 0x11: return filetime(b, at);
    case 0x12: return systemtime(b, at);
    case 0x14: return '0x' + b.readUInt32LE(at).toString(16);
    case 0x15: return hex64(b, at);
    default: return hexUpper(b, at, at + size);
  }
}

/**
 * Decodes the value of `type` in `b[at, at + size)`. Empty values (no bytes, null type, an empty string) are
 * null: evtx_dump leaves them out of attributes and renders such elements as null (or "" for a Data).
 */
export function decodeValue(b: Buffer, type: number, at: number, size: number, exact = false): Value {
  if (size === 0 || type === T_NULL) return null;
  const end = at + size;
  if (type === T_STRING || type === T_ANSI) {
    // evtx_dump leaves out trailing white space (Sysmon's `"cmd.exe" ` is `"cmd.exe"` in its JSON)
    let s = type === T_STRING ? utf16(b, at, end) : ansi(b, at, end);
    if (!exact) s = s.trimEnd();
    return s === '' ? null : s;
  }
  if (type === T_BINXML) return new BinXmlValue(at, size);
  if (type === 0x0e) return hexUpper(b, at, end);
  if (type === 0x13) return sidLength(b, at, end) > 0 ? sid(b, at) : hexUpper(b, at, end);
  if (type & T_ARRAY) return array(b, type & 0x7f, at, end);
  const n = fixedSize(type, size);
  if (n <= 0 || n !== size) return hexUpper(b, at, end);
  return scalar(b, type, at, size);
}

function array(b: Buffer, type: number, at: number, end: number): Value[] {
  const out: Value[] = [];
  if (type === T_STRING || type === T_ANSI) {
    // NUL-terminated items one after another
    let i = at;
    while (i < end) {
      let j = i;
      if (type === T_STRING) {
        while (j + 1 < end && (b[j] !== 0 || b[j + 1] !== 0)) j += 2;
        out.push(b.toString('utf16le', i, j));
        i = j + 2;
      } else {
        while (j < end && b[j] !== 0) j++;
        out.push(ansi(b, i, j));
        i = j + 1;
      }
    }
    return out;
  }
  if (type === 0x13) {
    for (let i = at; i < end; ) {
      const n = sidLength(b, i, end);
      if (n < 0) break;
      out.push(sid(b, i));
      i += n;
    }
    return out;
  }
  const n = fixedSize(type, type === 0x10 ? 8 : 0);
  if (n <= 0) return [hexUpper(b, at, end)];
  for (let i = at; i + n <= end; i += n) out.push(scalar(b, type, i, n));
  return out;
}

/** The text of a value inside mixed content or a key: what evtx_dump writes between the quotes. */
export function textOf(v: Value): string {
  if (v === null || v instanceof BinXmlValue) return '';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(textOf).join(',');
  return String(v);
}
