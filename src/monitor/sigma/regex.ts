/**
 * Regular expressions of rules, filters, hunts and pipelines, run by a linear-time engine (RE2, the pure
 * JavaScript port `re2js`): matching costs time proportional to the text, whatever the pattern, so a hunt
 * with `^(a+)+$` from a read-only analyst cannot hold the event loop (and with it OCSP, the CA and the TSA).
 * V8's backtracking engine is never given a pattern that came from a rule.
 *
 * What RE2 lacks — backreferences and lookaround — rejects the rule with a clear reason instead of
 * running it on another engine. Semantics otherwise follow Sigma's (PCRE-like) regular expressions: PCRE
 * inline flags at the start, `i`, `m` and `s` from modifiers. Known differences from JavaScript's engine:
 * under `i`, RE2 folds case by Unicode's simple folding (ſ matches s, K (Kelvin) matches k); `\s` is
 * ASCII white space only; `.` excludes only `\n` (JavaScript also excludes `\r`, U+2028 and U+2029).
 */
import { RE2JS } from 're2js';
import { TrucError } from '../../errors.js';

/** Longest pattern accepted, in characters. */
export const REGEX_MAX = 4096;
/** Largest compiled program accepted (RE2 instructions): bounds the per-character cost of a match. */
export const REGEX_PROGRAM_MAX = 20_000;

export interface LinearRegex {
  /** true when the pattern matches somewhere in `s` (JavaScript's `RegExp.prototype.test`) */
  test(s: string): boolean;
  readonly source: string;
}

export type RegexFlag = 'i' | 'm' | 's';

function bad(msg: string): never {
  throw new TrucError('invalid_rule', msg);
}

/** Why RE2 refuses a pattern, in words an analyst can act on. */
function unsupported(src: string): string | undefined {
  if (/\(\?<?[=!]/.test(src)) return 'lookaround (?=, ?!, ?<=, ?<!)';
  if (/\\[1-9]|\\k</.test(src)) return 'backreferences (\\1, \\k<name>)';
  if (/\(\?>/.test(src)) return 'atomic groups (?>';
  if (/[*+?}][+]/.test(src.replace(/\\./g, ''))) return 'possessive quantifiers';
  return undefined;
}

/**
 * Compiles a rule's regular expression. `flags` are added to any PCRE inline flags at the start of the
 * pattern; `(?x)` is refused (extended mode would change the meaning of spaces). `max` bounds the
 * pattern's length (patterns built by the compiler itself from wildcards pass their own).
 */
export function compileRegex(src: string, flags: readonly RegexFlag[] = [], max = REGEX_MAX): LinearRegex {
  if (src.length > max)
    bad(`biểu thức chính quy dài hơn ${max} ký tự (regular expression longer than ${max})`);
  let body = src;
  const set = new Set<string>(flags);
  const inline = /^\(\?([imsx]+)\)/.exec(body);
  if (inline) {
    if (inline[1]!.includes('x')) bad('không hỗ trợ chế độ mở rộng (?x) (regex extended mode (?x) is not supported)');
    for (const f of inline[1]!) set.add(f);
    body = body.slice(inline[0].length);
  }
  let bits = 0;
  if (set.has('i')) bits |= RE2JS.CASE_INSENSITIVE;
  if (set.has('m')) bits |= RE2JS.MULTILINE;
  if (set.has('s')) bits |= RE2JS.DOTALL;
  let re: RE2JS;
  try {
    re = RE2JS.compile(body, bits);
  } catch (e) {
    const why = unsupported(body);
    if (why) bad(`biểu thức chính quy dùng ${why}, không chạy được trong thời gian tuyến tính (regular expression uses ${why}, which has no linear-time match)`);
    return bad(`biểu thức chính quy không hợp lệ (invalid regular expression): ${(e as Error).message}`);
  }
  if (re.programSize() > REGEX_PROGRAM_MAX)
    bad(`biểu thức chính quy quá phức tạp (regular expression too complex: ${re.programSize()} > ${REGEX_PROGRAM_MAX} instructions)`);
  return { source: src, test: (s) => re.test(s) };
}
