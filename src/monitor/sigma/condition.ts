/**
 * The Sigma condition language: a tokenizer and a recursive-descent parser producing a small AST.
 * Precedence, least to most binding: or, and, not, `x of`, parentheses. Nesting depth, token count and text
 * length are bounded so that a hostile condition cannot exhaust the stack.
 */
import { TrucError } from '../../errors.js';
import { starMatcher } from './glob.js';

export type Condition =
  | { t: 'id'; name: string }
  | { t: 'and'; items: Condition[] }
  | { t: 'or'; items: Condition[] }
  | { t: 'not'; item: Condition }
  /** `N of pattern` / `all of pattern`; `pattern` undefined means `them`. */
  | { t: 'of'; quantity: number | 'all'; pattern: string | undefined };

export const CONDITION_LIMITS = { length: 16_384, tokens: 2_048, depth: 48 } as const;

type Token =
  | { k: 'lp' | 'rp' | 'and' | 'or' | 'not' | 'of' | 'all' | 'them'; at: number }
  | { k: 'num'; v: number; at: number }
  | { k: 'word'; v: string; at: number };

const KEYWORDS = new Set(['and', 'or', 'not', 'of', 'all', 'them']);
const WORD = /[A-Za-z0-9_*.\-]/;

function fail(text: string, at: number, why: string): never {
  throw new TrucError('invalid_rule', `condition: ${why} at offset ${at} in "${text.slice(0, 200)}"`, {
    condition: text.slice(0, 200),
    offset: at,
  });
}

export function tokenize(text: string): Token[] {
  if (text.length > CONDITION_LIMITS.length)
    fail(text, 0, `longer than ${CONDITION_LIMITS.length} characters`);
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      out.push({ k: c === '(' ? 'lp' : 'rp', at: i });
      i++;
    } else if (c === '|') {
      fail(
        text,
        i,
        'aggregation pipes (`| count()`) are the obsolete correlation syntax; use a correlation rule',
      );
    } else if (WORD.test(c)) {
      const start = i;
      while (i < text.length && WORD.test(text[i]!)) i++;
      const w = text.slice(start, i);
      const lw = w.toLowerCase();
      if (KEYWORDS.has(lw)) out.push({ k: lw as 'and', at: start });
      else if (/^\d+$/.test(w)) out.push({ k: 'num', v: Number(w), at: start });
      else if (lw === 'near') fail(text, start, 'the obsolete `near` operator is not supported');
      else out.push({ k: 'word', v: w, at: start });
    } else {
      fail(text, i, `unexpected character ${JSON.stringify(c)}`);
    }
    if (out.length > CONDITION_LIMITS.tokens) fail(text, i, `more than ${CONDITION_LIMITS.tokens} tokens`);
  }
  return out;
}

export function parseCondition(text: string): Condition {
  const toks = tokenize(text);
  let pos = 0;
  const peek = (): Token | undefined => toks[pos];
  const at = (): number => toks[pos]?.at ?? text.length;

  function orExpr(depth: number): Condition {
    if (depth > CONDITION_LIMITS.depth) fail(text, at(), `nesting deeper than ${CONDITION_LIMITS.depth}`);
    const items = [andExpr(depth)];
    while (peek()?.k === 'or') {
      pos++;
      items.push(andExpr(depth));
    }
    return items.length === 1 ? items[0]! : { t: 'or', items };
  }
  function andExpr(depth: number): Condition {
    const items = [notExpr(depth)];
    while (peek()?.k === 'and') {
      pos++;
      items.push(notExpr(depth));
    }
    return items.length === 1 ? items[0]! : { t: 'and', items };
  }
  function notExpr(depth: number): Condition {
    if (peek()?.k === 'not') {
      pos++;
      if (depth + 1 > CONDITION_LIMITS.depth)
        fail(text, at(), `nesting deeper than ${CONDITION_LIMITS.depth}`);
      return { t: 'not', item: notExpr(depth + 1) };
    }
    return primary(depth);
  }
  function primary(depth: number): Condition {
    const tok = peek();
    if (!tok) fail(text, text.length, 'unexpected end');
    if (tok.k === 'lp') {
      pos++;
      const inner = orExpr(depth + 1);
      if (peek()?.k !== 'rp') fail(text, at(), 'missing )');
      pos++;
      return inner;
    }
    if (tok.k === 'num' || tok.k === 'all') {
      pos++;
      if (peek()?.k !== 'of') fail(text, at(), 'expected "of"');
      pos++;
      const target = peek();
      let pattern: string | undefined;
      if (target?.k === 'them') pattern = undefined;
      else if (target?.k === 'word') pattern = target.v;
      else fail(text, at(), 'expected a search identifier pattern or "them"');
      pos++;
      if (tok.k === 'num' && tok.v < 1) fail(text, tok.at, 'quantity must be at least 1');
      return { t: 'of', quantity: tok.k === 'num' ? tok.v : 'all', pattern };
    }
    if (tok.k === 'word') {
      pos++;
      if (tok.v.includes('*')) fail(text, tok.at, 'a wildcard identifier needs "1 of" or "all of"');
      return { t: 'id', name: tok.v };
    }
    fail(text, tok.at, `unexpected "${tok.k}"`);
  }

  const ast = orExpr(0);
  if (pos < toks.length) fail(text, at(), 'unexpected trailing input');
  return ast;
}

/** Identifiers matched by an `of` pattern; `them` skips identifiers starting with `_`. */
export function expandPattern(pattern: string | undefined, identifiers: readonly string[]): string[] {
  if (pattern === undefined) return identifiers.filter((i) => !i.startsWith('_'));
  if (!pattern.includes('*')) return identifiers.filter((i) => i === pattern);
  // no regular expression: a rule's own `1 of a*b*c*…` would backtrack polynomially in V8
  const match = starMatcher(pattern.split('*'));
  return identifiers.filter(match);
}
