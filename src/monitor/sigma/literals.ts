/**
 * Required literals: for a compiled predicate, a set of (field, folded string) pairs of which at least one must
 * occur — the string inside the value of that field, or inside any scalar of the event for keyword searches —
 * in any event the predicate accepts (`null`: no such guarantee). AND keeps the most selective child, OR needs
 * every branch to guarantee something, NOT guarantees nothing. This is what lets the literal index skip rules
 * that cannot match, and why it can never hide a match.
 *
 * A literal is encoded as `field + SEP + text`; keyword literals have an empty field.
 */
export type Literals = string[] | null;

export const SEP = '\u0001';

/** Field literals shorter than this are not worth indexing; keyword literals (searched everywhere) need more. */
export const MIN_LITERAL = 1;
export const MIN_KEYWORD_LITERAL = 4;

/** Fragments so common in (Windows) events that they say little about which rule may match. */
export const COMMON = [
  'c:\\windows\\',
  'system32\\',
  'syswow64\\',
  'c:\\program files',
  'c:\\users\\',
  '\\appdata\\',
  '\\microsoft\\',
  'microsoft corporation',
  'microsoft',
  'windows',
  '\\users\\',
  'dword (0x0000000',
  '.exe',
  '.dll',
  'http://',
  'https://',
];

export function literal(field: string | undefined, text: string): string {
  return (field ?? '') + SEP + text;
}

export function literalText(l: string): string {
  return l.slice(l.indexOf(SEP) + 1);
}

export function literalField(l: string): string {
  return l.slice(0, l.indexOf(SEP));
}

/** 1 for each character of a literal that lies inside a common fragment. */
export function commonCoverage(text: string): Uint8Array {
  const covered = new Uint8Array(text.length);
  for (const c of COMMON) {
    for (let at = text.indexOf(c); at >= 0; at = text.indexOf(c, at + 1)) covered.fill(1, at, at + c.length);
  }
  return covered;
}

/** Length of the longest stretch of a literal not covered by a common fragment. */
export function distinctiveLength(text: string): number {
  const covered = commonCoverage(text);
  let best = 0;
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    run = covered[i] ? 0 : run + 1;
    if (run > best) best = run;
  }
  return best;
}

const scores = new Map<string, number>();

function scoreOne(l: string): number {
  let s = scores.get(l);
  if (s === undefined) {
    const t = literalText(l);
    // Prefer distinctive text; length counts a little on its own.
    s = distinctiveLength(t) + Math.min(t.length, 16) / 4;
    if (t.length < (l.startsWith(SEP) ? MIN_KEYWORD_LITERAL : MIN_LITERAL)) s = -1;
    if (scores.size > 100_000) scores.clear();
    scores.set(l, s);
  }
  return s;
}

function score(l: Literals): number {
  if (l === null || l.length === 0) return -1;
  let min = Infinity;
  for (const s of l) min = Math.min(min, scoreOne(s));
  if (min < 0) return -1;
  // Most distinctive weakest literal first, then fewer alternatives.
  return Math.min(min, 16) * 100_000 - Math.min(l.length, 99_999);
}

export function allOf(children: Literals[]): Literals {
  let best: Literals = null;
  let bestScore = -1;
  for (const c of children) {
    const s = score(c);
    if (s > bestScore) {
      best = c;
      bestScore = s;
    }
  }
  return best;
}

export function anyOf(children: Literals[]): Literals {
  const out = new Set<string>();
  for (const c of children) {
    if (c === null || score(c) < 0) return null;
    for (const s of c) out.add(s);
  }
  return out.size === 0 ? null : [...out];
}

export function useful(l: Literals): l is string[] {
  return score(l) >= 0;
}
