/** Figures the benches share. */

/** The `q`-quantile (0–1, nearest rank) of `xs`, rounded to 0.1; NaN for none. */
export function quantile(xs: readonly number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]! * 10) / 10;
}
