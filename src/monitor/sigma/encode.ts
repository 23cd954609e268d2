/**
 * The encoding modifiers of Sigma v2.1: base64, base64offset, utf16le/utf16be/utf16 (with BOM)/wide, windash.
 * Bytes travel as strings with one char per byte (latin1), which is what the base64 of a UTF-16 text needs.
 */
import { TrucError } from '../../errors.js';
import { mapLiterals, plain, plainText, type Part, type SigmaString } from './sigma-string.js';

function bytesOf(v: SigmaString, text: string): Buffer {
  return Buffer.from(text, v.bytes ? 'latin1' : 'utf8');
}

function needPlain(v: SigmaString, mod: string): string {
  const t = plainText(v);
  if (t === undefined)
    throw new TrucError('invalid_rule', `modifier ${mod} cannot encode a value with wildcards`);
  return t;
}

export function base64(v: SigmaString): SigmaString {
  return plain(bytesOf(v, needPlain(v, 'base64')).toString('base64'));
}

/** The three encodings of a value at byte offsets 0, 1 and 2 inside a longer base64 text, trimmed of the
 * characters that depend on the unknown neighbours. */
export function base64offset(v: SigmaString): SigmaString[] {
  const b = bytesOf(v, needPlain(v, 'base64offset'));
  const start = [0, 2, 3];
  const endTrim = [0, 3, 2];
  const out: SigmaString[] = [];
  for (let i = 0; i < 3; i++) {
    const enc = Buffer.concat([Buffer.alloc(i, 0x20), b]).toString('base64');
    const trim = endTrim[(b.length + i) % 3]!;
    out.push(plain(enc.slice(start[i], trim ? enc.length - trim : enc.length)));
  }
  return out;
}

function utf16leOf(s: string): string {
  return Buffer.from(s, 'utf16le').toString('latin1');
}

function swapPairs(s: string): string {
  let o = '';
  for (let i = 0; i + 1 < s.length; i += 2) o += s[i + 1]! + s[i]!;
  return o;
}

export function utf16(v: SigmaString, variant: 'utf16le' | 'utf16be' | 'utf16' | 'wide'): SigmaString {
  if (v.bytes) throw new TrucError('invalid_rule', `modifier ${variant} applied to an already encoded value`);
  if (variant === 'utf16le' || variant === 'wide') return mapLiterals(v, utf16leOf, true);
  if (variant === 'utf16be') return mapLiterals(v, (s) => swapPairs(utf16leOf(s)), true);
  // utf16: a byte order mark (little endian) before the text.
  let first = true;
  const parts: Part[] = [];
  for (const p of v.parts) {
    if (typeof p === 'string') {
      parts.push((first ? '\xff\xfe' : '') + utf16leOf(p));
      first = false;
    } else {
      if (first) parts.push('\xff\xfe');
      first = false;
      parts.push(p);
    }
  }
  return { parts, bytes: true };
}

const DASHES = ['-', '/', '\u2013', '\u2014', '\u2015'];
/** A dash that starts a command-line flag: not preceded by a word character, followed by one (as pySigma). */
const FLAG_DASH = /(?<![A-Za-z0-9_])[-/\u2013\u2014\u2015](?=[A-Za-z0-9_])/g;
export const WINDASH_MAX_VARIANTS = 625;

export function windash(v: SigmaString): SigmaString[] {
  // Expand per literal part; the cartesian product over all flag positions gives every permutation.
  let variants: Part[][] = [[]];
  for (const p of v.parts) {
    if (typeof p !== 'string') {
      variants = variants.map((x) => [...x, p]);
      continue;
    }
    const pieces = p.split(FLAG_DASH);
    const count = pieces.length - 1;
    if (count === 0) {
      variants = variants.map((x) => [...x, p]);
      continue;
    }
    const texts: string[] = [];
    const total = DASHES.length ** count;
    if (total * variants.length > WINDASH_MAX_VARIANTS) {
      throw new TrucError('invalid_rule', `windash would produce more than ${WINDASH_MAX_VARIANTS} values`);
    }
    for (let n = 0; n < total; n++) {
      let t = pieces[0]!;
      let k = n;
      for (let i = 1; i < pieces.length; i++) {
        t += DASHES[k % DASHES.length]! + pieces[i]!;
        k = Math.floor(k / DASHES.length);
      }
      texts.push(t);
    }
    variants = variants.flatMap((x) => texts.map((t) => [...x, t]));
  }
  return variants.map((parts) => ({ parts: mergeLiterals(parts), bytes: v.bytes }));
}

function mergeLiterals(parts: Part[]): Part[] {
  const out: Part[] = [];
  for (const p of parts) {
    const last = out[out.length - 1];
    if (typeof p === 'string' && typeof last === 'string') out[out.length - 1] = last + p;
    else out.push(p);
  }
  return out;
}
