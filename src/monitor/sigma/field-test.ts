/**
 * Compiling one detection item — a field with its modifier chain and values, or a keyword search — into a
 * closure over precomputed folded strings, sets and regular expressions, together with its required literals.
 * Every value modifier of Sigma v2.1 is handled here; an unknown or misplaced modifier rejects the rule.
 */
import { TrucError } from '../../errors.js';
import { cidrMatcher } from './cidr.js';
import { starMatcher } from './glob.js';
import { compileRegex, type LinearRegex, type RegexFlag } from './regex.js';
import { regexLiterals } from './regex-literals.js';
import { base64, base64offset, utf16, windash } from './encode.js';
import { accessor, presence, type EventView } from './event-view.js';
import { fold } from './fold.js';
import { allOf, anyOf, literal, type Literals } from './literals.js';
import {
  ONE,
  STAR,
  literalChunks,
  parseSigmaString,
  plain,
  withStar,
  type SigmaString,
} from './sigma-string.js';
import { TIME_UNITS, timePart, type TimeUnit } from './time-part.js';

export type Test = (v: EventView) => boolean;

export interface Compiled {
  test: Test;
  literals: Literals;
}

export interface ItemContext {
  /** Values for `%name%` placeholders of the `expand` modifier. */
  placeholders?: Readonly<Record<string, readonly string[]>>;
}

const KNOWN = new Set([
  'contains',
  'startswith',
  'endswith',
  'all',
  'cased',
  'neq',
  'exists',
  're',
  'i',
  'm',
  's',
  'cidr',
  'base64',
  'base64offset',
  'windash',
  'utf16le',
  'utf16be',
  'utf16',
  'wide',
  'lt',
  'lte',
  'gt',
  'gte',
  'fieldref',
  'expand',
  ...TIME_UNITS,
]);
const COMPARE = new Set(['lt', 'lte', 'gt', 'gte']);

function bad(msg: string): never {
  throw new TrucError('invalid_rule', msg);
}

// ---- string matching -------------------------------------------------------------------------------------

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A tester for one value list on a string already folded (or raw when cased). */
function stringTester(values: SigmaString[], cased: boolean, all: boolean): (s: string) => boolean {
  const eq: string[] = [];
  const starts: string[] = [];
  const ends: string[] = [];
  const contains: string[] = [];
  const regexes: { test(s: string): boolean }[] = [];
  let any = false;
  for (const v of values) {
    const p = v.parts.map((x) => (typeof x === 'string' && !cased ? fold(x) : x));
    const lit = (x: unknown): x is string => typeof x === 'string';
    if (p.length === 0) eq.push('');
    else if (p.length === 1 && lit(p[0])) eq.push(p[0]);
    else if (p.length === 1 && p[0] === STAR) any = true;
    else if (p.length === 2 && p[0] === STAR && lit(p[1])) ends.push(p[1]);
    else if (p.length === 2 && lit(p[0]) && p[1] === STAR) starts.push(p[0]);
    else if (p.length === 3 && p[0] === STAR && lit(p[1]) && p[2] === STAR) contains.push(p[1]);
    else if (!p.includes(ONE)) {
      // stars and literals only: matched without a regular expression
      const segs: string[] = [''];
      for (const x of p) {
        if (x === STAR) segs.push('');
        else segs[segs.length - 1] += x as string;
      }
      regexes.push({ test: starMatcher(segs) });
    } else {
      // `?` wildcards: the linear-time engine, anchored; the pattern is ours, so no length limit of a rule's
      const src = p.map((x) => (x === STAR ? '.*' : x === ONE ? '.' : escapeRe(x))).join('');
      regexes.push(compileRegex(`^(?:${src})$`, ['s'], Infinity));
    }
  }
  if (all) {
    const tests: ((s: string) => boolean)[] = [
      ...eq.map((e) => (s: string) => s === e),
      ...starts.map((e) => (s: string) => s.startsWith(e)),
      ...ends.map((e) => (s: string) => s.endsWith(e)),
      ...contains.map((e) => (s: string) => s.includes(e)),
      ...regexes.map((r) => (s: string) => r.test(s)),
    ];
    return (s) => {
      for (let i = 0; i < tests.length; i++) if (!tests[i]!(s)) return false;
      return true;
    };
  }
  if (any) return () => true;
  const eqSet = eq.length > 4 ? new Set(eq) : undefined;
  // Specialise the common single-shape lists: no closure array walk per event.
  if (!eqSet && eq.length === 0 && starts.length === 0 && contains.length === 0 && regexes.length === 0) {
    if (ends.length === 1) {
      const e = ends[0]!;
      return (s) => s.endsWith(e);
    }
    return (s) => {
      for (let i = 0; i < ends.length; i++) if (s.endsWith(ends[i]!)) return true;
      return false;
    };
  }
  if (eq.length === 0 && starts.length === 0 && ends.length === 0 && regexes.length === 0) {
    if (contains.length === 1) {
      const c = contains[0]!;
      return (s) => s.includes(c);
    }
    return (s) => {
      for (let i = 0; i < contains.length; i++) if (s.includes(contains[i]!)) return true;
      return false;
    };
  }
  return (s) => {
    if (eqSet) {
      if (eqSet.has(s)) return true;
    } else for (let i = 0; i < eq.length; i++) if (s === eq[i]) return true;
    for (let i = 0; i < starts.length; i++) if (s.startsWith(starts[i]!)) return true;
    for (let i = 0; i < ends.length; i++) if (s.endsWith(ends[i]!)) return true;
    for (let i = 0; i < contains.length; i++) if (s.includes(contains[i]!)) return true;
    for (let i = 0; i < regexes.length; i++) if (regexes[i]!.test(s)) return true;
    return false;
  };
}

function stringLiterals(field: string | undefined, values: SigmaString[], all: boolean): Literals {
  const per: Literals[] = values.map((v) => {
    const c = literalChunks(v)[0];
    return c ? [literal(field, fold(c))] : null;
  });
  return all ? allOf(per) : anyOf(per);
}

// ---- value preparation -----------------------------------------------------------------------------------

const PLACEHOLDER = /(?<!\\)%([A-Za-z0-9_.\-]+)%/g;
const EXPAND_MAX = 10_000;

function expandPlaceholders(s: string, ctx: ItemContext): string[] {
  let out = [''];
  let last = 0;
  for (const m of s.matchAll(PLACEHOLDER)) {
    const name = m[1]!;
    const vals = ctx.placeholders?.[name];
    if (!vals || vals.length === 0) bad(`placeholder %${name}% has no value in the placeholder map`);
    const before = s.slice(last, m.index);
    out = out.flatMap((o) => vals.map((v) => o + before + v));
    if (out.length > EXPAND_MAX) bad(`placeholder expansion exceeds ${EXPAND_MAX} values`);
    last = m.index + m[0].length;
  }
  const tail = s.slice(last);
  return out.map((o) => (o + tail).replace(/\\%/g, '%'));
}

function toRegex(src: string, mods: string[]): LinearRegex {
  return compileRegex(
    src,
    (['i', 'm', 's'] as const).filter((m: RegexFlag) => mods.includes(m)),
  );
}

function scalars(v: unknown, f: (x: unknown) => boolean): boolean {
  if (Array.isArray(v)) {
    for (const x of v) if (x !== null && typeof x !== 'object' && f(x)) return true;
    return false;
  }
  return v !== undefined && v !== null && typeof v !== 'object' && f(v);
}

function compareOp(op: string, n: number): (x: number) => boolean {
  switch (op) {
    case 'lt':
      return (x) => x < n;
    case 'lte':
      return (x) => x <= n;
    case 'gt':
      return (x) => x > n;
    case 'gte':
      return (x) => x >= n;
    default:
      return (x) => x === n;
  }
}

function asNumber(x: unknown): number | undefined {
  if (typeof x === 'number') return x;
  if (typeof x === 'string' && x.trim() !== '') {
    const n = Number(x);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** Combines per-value tests with OR (or AND under `all`). */
function combine(tests: Test[], all: boolean): Test {
  if (tests.length === 1) return tests[0]!;
  return all
    ? (v) => {
        for (let i = 0; i < tests.length; i++) if (!tests[i]!(v)) return false;
        return true;
      }
    : (v) => {
        for (let i = 0; i < tests.length; i++) if (tests[i]!(v)) return true;
        return false;
      };
}

// ---- the item compiler -----------------------------------------------------------------------------------

export function compileItem(
  field: string | undefined,
  modifiers: readonly string[],
  rawValues: readonly unknown[],
  ctx: ItemContext = {},
): Compiled {
  const mods = [...modifiers];
  for (const m of mods) if (!KNOWN.has(m)) bad(`unknown modifier ${m}`);
  const has = (m: string): boolean => mods.includes(m);
  const all = has('all');
  const cased = has('cased');
  const neq = has('neq');
  if (all && rawValues.length < 2) bad('modifier all needs a list of at least two values');
  for (const sub of ['i', 'm', 's']) if (has(sub) && !has('re')) bad(`modifier ${sub} only applies after re`);

  const label = field ?? 'keywords';
  if (field !== undefined && /[\u0000-\u001f]/.test(field))
    bad(`control character in field name ${JSON.stringify(field)}`);

  // exists: a presence test, nothing else.
  if (has('exists')) {
    if (field === undefined) bad('exists needs a field');
    if (mods.length !== 1 || rawValues.length !== 1 || typeof rawValues[0] !== 'boolean') {
      bad(`${label}|exists takes exactly one boolean value and no other modifier`);
    }
    const present = presence(field);
    const want = rawValues[0] as boolean;
    return { test: want ? present : (v) => !present(v), literals: null };
  }

  const positive = compilePositive(field, mods, rawValues, ctx, all, cased, label);
  if (!neq) return positive;
  if (field === undefined) bad('neq needs a field');
  const get = accessor(field);
  const pos = positive.test;
  return { test: (v) => (get(v) ?? null) !== null && !pos(v), literals: null };
}

function compilePositive(
  field: string | undefined,
  mods: string[],
  rawValues: readonly unknown[],
  ctx: ItemContext,
  all: boolean,
  cased: boolean,
  label: string,
): Compiled {
  const has = (m: string): boolean => mods.includes(m);
  const get = field === undefined ? undefined : accessor(field);

  // fieldref: compare with another field of the same event.
  if (has('fieldref')) {
    if (!get || field === undefined) bad('fieldref needs a field');
    const shape = has('contains') ? 'c' : has('startswith') ? 's' : has('endswith') ? 'e' : '=';
    const tests = rawValues.map((r): Test => {
      if (typeof r !== 'string') bad(`${label}|fieldref values must be field names`);
      const other = accessor(r);
      return (v) => {
        const a = get(v);
        const b = other(v);
        if (a === undefined || a === null || b === undefined || b === null) return false;
        if (typeof a === 'object' || typeof b === 'object') return false;
        const x = cased ? String(a) : fold(String(a));
        const y = cased ? String(b) : fold(String(b));
        return shape === '='
          ? x === y
          : shape === 'c'
            ? x.includes(y)
            : shape === 's'
              ? x.startsWith(y)
              : x.endsWith(y);
      };
    });
    return { test: combine(tests, all), literals: null };
  }

  // Null values: the field is absent or null. Mixed with other values they are OR-ed in.
  const nulls = rawValues.filter((r) => r === null).length;
  const values = rawValues.filter((r) => r !== null);
  const nullTest: Test | undefined = nulls > 0 && get ? (v) => (get(v) ?? null) === null : undefined;
  if (nulls > 0 && !get) bad('null is not a keyword');
  if (values.length === 0) return { test: nullTest!, literals: null };

  const withNull = (c: Compiled): Compiled =>
    nullTest ? { test: combine([nullTest, c.test], false), literals: null } : c;

  // Regular expressions.
  if (has('re')) {
    const res = values.map((r) => {
      if (typeof r !== 'string') bad(`${label}|re values must be strings`);
      return toRegex(r, mods);
    });
    const rest = mods.filter((m) => !['re', 'i', 'm', 's', 'all', 'cased', 'neq'].includes(m));
    if (rest.length) bad(`modifier ${rest[0]} cannot be combined with re`);
    const per: Literals[] = values.map(
      (r) => regexLiterals(r as string)?.map((l) => literal(field, l)) ?? null,
    );
    const literals = all ? allOf(per) : anyOf(per);
    if (!get) {
      const tests = res.map(
        (re): Test =>
          (v) =>
            v.leaves().some((s) => re.test(s)),
      );
      return withNull({ test: combine(tests, all), literals });
    }
    const tests = res.map(
      (re): Test =>
        (v) =>
          scalars(get(v), (x) => re.test(String(x))),
    );
    return withNull({ test: combine(tests, all), literals });
  }

  // CIDR networks.
  if (has('cidr')) {
    if (!get) bad('cidr needs a field');
    const ms = values.map((r) => {
      if (typeof r !== 'string') bad(`${label}|cidr values must be strings`);
      return cidrMatcher(r);
    });
    const tests = ms.map(
      (m): Test =>
        (v) =>
          scalars(get(v), (x) => typeof x === 'string' && m(x)),
    );
    return withNull({ test: combine(tests, all), literals: null });
  }

  // Time parts, optionally followed by a numeric comparison.
  const unit = TIME_UNITS.find((u) => has(u)) as TimeUnit | undefined;
  const cmp = mods.find((m) => COMPARE.has(m));
  if (unit || cmp) {
    if (!get) bad(`${unit ?? cmp} needs a field`);
    const tests = values.map((r): Test => {
      const n = asNumber(r);
      if (n === undefined) bad(`${label}|${unit ?? cmp} values must be numbers`);
      const ok = compareOp(cmp ?? 'eq', n);
      if (unit) {
        return (v) =>
          scalars(get(v), (x) => {
            const p = timePart(x, unit);
            return p !== undefined && ok(p);
          });
      }
      return (v) =>
        scalars(get(v), (x) => {
          const xn = asNumber(x);
          return xn !== undefined && ok(xn);
        });
    });
    return withNull({ test: combine(tests, all), literals: null });
  }

  // Strings (numbers and booleans compare by their text), through the transformation chain in order.
  let strs: SigmaString[] = [];
  for (const r of values) {
    if (typeof r === 'string') {
      if (has('expand')) for (const e of expandPlaceholders(r, ctx)) strs.push(parseSigmaString(e));
      else strs.push(parseSigmaString(r));
    } else if (typeof r === 'number' || typeof r === 'boolean') {
      strs.push(plain(String(r)));
    } else {
      bad(`${label}: unsupported value ${JSON.stringify(r)}`);
    }
  }
  for (const m of mods) {
    switch (m) {
      case 'contains':
        strs = strs.map((s) => withStar(s, true, true));
        break;
      case 'startswith':
        strs = strs.map((s) => withStar(s, false, true));
        break;
      case 'endswith':
        strs = strs.map((s) => withStar(s, true, false));
        break;
      case 'base64':
        strs = strs.map(base64);
        break;
      case 'base64offset':
        strs = strs.flatMap(base64offset);
        break;
      case 'utf16le':
      case 'utf16be':
      case 'utf16':
      case 'wide':
        strs = strs.map((s) => utf16(s, m));
        break;
      case 'windash':
        strs = strs.flatMap(windash);
        break;
      default:
        break; // flags handled elsewhere: all, cased, neq, expand
    }
  }
  // base64offset without `contains` can never match a whole field; pySigma implies contains.
  if (has('base64offset') && !has('contains')) strs = strs.map((s) => withStar(s, true, true));
  if (all && strs.length < 2) bad('modifier all needs a list of at least two values');

  if (!get) {
    // Keyword search: each value is looked for inside every scalar of the event.
    const kws = strs.map((s) => withStar(s, true, true));
    const tests = (all ? kws.map((k) => [k]) : [kws]).map((group): Test => {
      const t = stringTester(group, cased, false);
      return cased
        ? (v) => v.leaves().some(t)
        : (v) => {
            const ls = v.foldedLeaves();
            for (let i = 0; i < ls.length; i++) if (t(ls[i]!)) return true;
            return false;
          };
    });
    return { test: combine(tests, all), literals: stringLiterals(undefined, kws, all) };
  }

  const key = field!;
  const literals = stringLiterals(key, strs, all);
  const t = stringTester(strs, cased, all);
  if (cased) {
    return withNull({ test: (v) => scalars(get(v), (x) => t(String(x))), literals });
  }
  const ta = stringTester(strs, false, false);
  const perValue = all ? strs.map((s) => stringTester([s], false, false)) : undefined;
  const test: Test = (v) => {
    const f = v.foldedOf(key, get);
    if (f !== null) return t(f);
    const raw = v.arrayOf(key);
    if (raw === undefined) return false;
    // Arrays (ECS multi-valued fields): any element matches; under `all` each value by some element.
    const elems = raw.filter((x) => x !== null && typeof x !== 'object').map((x) => fold(String(x)));
    if (perValue) return perValue.every((pv) => elems.some(pv));
    return elems.some(ta);
  };
  return withNull({ test, literals });
}
