/**
 * Case folding for Sigma's case-insensitive matching. `toLowerCase` is a per-character mapping except for the
 * Greek capital sigma, whose lower case depends on its neighbours (σ or final ς). Mapping ς to σ afterwards makes
 * the fold a per-character homomorphism, so "value contains literal" survives folding both sides — the literal
 * index relies on that to never drop a rule that the exact matcher would accept.
 */
export function fold(s: string): string {
  const l = s.toLowerCase();
  return l.indexOf('ς') === -1 ? l : l.replaceAll('ς', 'σ');
}
