/**
 * Sigma string values: literal text with the `*` and `?` wildcards and the specification's escaping
 * (`\*`, `\?`, `\\`; a backslash before anything else is itself). A string is kept as a list of parts so that
 * transformation modifiers (base64, utf16, windash) can rewrite the literal text without touching wildcards.
 */

export const STAR = 0;
export const ONE = 1;
export type Part = string | typeof STAR | typeof ONE;

export interface SigmaString {
  parts: Part[];
  /** True once the text stands for bytes (after utf16*), one char per byte. */
  bytes: boolean;
}

export function parseSigmaString(s: string): SigmaString {
  const parts: Part[] = [];
  let lit = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      const n = s[i + 1];
      if (n === '*' || n === '?' || n === '\\') {
        lit += n;
        i++;
      } else {
        lit += '\\';
      }
    } else if (c === '*' || c === '?') {
      if (lit) parts.push(lit);
      lit = '';
      // Consecutive stars collapse: `**` means the same as `*`.
      if (c === '*' && parts[parts.length - 1] === STAR) continue;
      parts.push(c === '*' ? STAR : ONE);
    } else {
      lit += c;
    }
  }
  if (lit) parts.push(lit);
  return { parts, bytes: false };
}

/** A plain string (no wildcards) as a SigmaString. */
export function plain(s: string, bytes = false): SigmaString {
  return { parts: s ? [s] : [], bytes };
}

export function hasWildcards(v: SigmaString): boolean {
  return v.parts.some((p) => typeof p !== 'string');
}

export function plainText(v: SigmaString): string | undefined {
  if (hasWildcards(v)) return undefined;
  return v.parts.join('');
}

export function withStar(v: SigmaString, start: boolean, end: boolean): SigmaString {
  const parts = [...v.parts];
  if (start && parts[0] !== STAR) parts.unshift(STAR);
  if (end && parts[parts.length - 1] !== STAR) parts.push(STAR);
  return { parts, bytes: v.bytes };
}

export function mapLiterals(v: SigmaString, f: (s: string) => string, bytes: boolean): SigmaString {
  return { parts: v.parts.map((p) => (typeof p === 'string' ? f(p) : p)), bytes };
}

/** The literal chunks between wildcards, longest first (used by the literal index). */
export function literalChunks(v: SigmaString): string[] {
  return v.parts.filter((p): p is string => typeof p === 'string').sort((a, b) => b.length - a.length);
}
