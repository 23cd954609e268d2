/**
 * Wildcard matching without a regular expression. A Sigma value with `*` inside (`*\\Temp\\*.exe`) used to
 * become `^.*…$` for V8, whose backtracking is polynomial in the number of stars — `*a*a*a*a*a*a*b` over a
 * long field from a hunt is a stall. With stars only, the leftmost match of each segment in order is always
 * the right choice, so a prefix check, a suffix check and one forward `indexOf` per middle segment decide
 * it, without going back.
 */
/** A matcher for a whole-string pattern of literal segments joined by `*`: `segments.length >= 2`. */
export function starMatcher(segments: readonly string[]): (s: string) => boolean {
  const first = segments[0]!;
  const last = segments[segments.length - 1]!;
  const middle = segments.slice(1, -1).filter((m) => m !== '');
  const min = segments.reduce((n, x) => n + x.length, 0);
  return (s) => {
    if (s.length < min || !s.startsWith(first) || !s.endsWith(last)) return false;
    let pos = first.length;
    const end = s.length - last.length;
    for (let i = 0; i < middle.length; i++) {
      const m = middle[i]!;
      const at = s.indexOf(m, pos);
      if (at < 0 || at + m.length > end) return false;
      pos = at + m.length;
    }
    return true;
  };
}
