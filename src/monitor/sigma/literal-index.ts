/**
 * The literal index. For every field that required literals name (literals.ts) — plus one pseudo-field for
 * keyword literals, searched in every scalar — a table of its literals, folded. A field with many literals has
 * a hash table of 4-character grams (each literal filed under its rarest gram, a bit filter of those grams in
 * front), a 2-gram table for 2–3 chars and a character map for single chars, all probed in one pass over the
 * field's folded value, a hit confirmed by comparing the whole literal in place. A field with few literals, all
 * of some length (the keyword literals, hashes, user names), has a skip table: a window slides along the value
 * and jumps over what cannot start a literal. Scanning the few fields the routed rules care about yields the rules
 * that may match; the others cannot and are never evaluated.
 *
 * Why it never drops a match: a required literal occurs in the value of its field — resolved by the same
 * accessor and folded by the same fold the rule uses — in any event the rule accepts. Fold is a per-character
 * mapping (fold.ts), so the folded literal occurs in the folded value (for keywords: in the folded text of all
 * the event's scalars, EventView.foldedText). The gram scan visits every position of the value, so it reaches
 * the position where the literal's gram starts; the bit filter only turns away grams no literal is filed under;
 * the skip table never moves its window past the end of an occurrence (SkipTable). Each then confirms it there.
 */
import { accessor, type Accessor, type EventView } from './event-view.js';
import { fold } from './fold.js';
import { commonCoverage, literalField, literalText } from './literals.js';

export interface IndexOptions {
  /** Cap on distinct indexed literals; past it the remaining rules are always evaluated. */
  maxLiterals?: number;
  /**
   * A field whose literals are all at least this long, and not more than SKIP_MAX_LITERALS, is searched by
   * skipping (SkipTable) rather than by grams at every position (default 4; Infinity: never).
   */
  skipMinLength?: number;
}

/**
 * Past this many literals the pairs ending their prefixes are many and shared (literals of one field often begin
 * alike: `hklm\software\…`), skips are short and confirmations long: the gram tables do better. Measured over
 * SigmaHQ's Windows rules and the regression events: a skip table wins up to a few dozen literals (3–5 times on
 * keywords, hashes, user names), loses past a hundred.
 */
const SKIP_MAX_LITERALS = 32;

const GOLDEN = 0x9e3779b1 | 0;

function gramHash(s: string, i: number, q: number): number {
  let h = 0;
  for (let k = 0; k < q; k++) h = (Math.imul(h, 31) + s.charCodeAt(i + k)) | 0;
  return h;
}

/** Literals of at least `q` chars filed under one q-gram each, in an open hash table, with a bit filter of its grams. */
class GramTable {
  readonly shift: number;
  readonly head: Int32Array;
  readonly next: Int32Array;
  readonly hash: Int32Array;
  readonly offset: Int32Array;
  readonly text: string[];
  readonly rules: Int32Array[];
  /**
   * One bit per gram hash (top `filterBits` bits of its mix), set for the grams literals are filed under:
   * 16 times the table's slots, so that most positions of a value are turned away by one bit test — a probe of
   * the table itself, then a walk down its chain, is what costs when it is taken at every character.
   */
  readonly filter: Int32Array;
  readonly filterShift: number;

  constructor(
    readonly q: number,
    long: string[],
    byLiteral: Map<string, number[]>,
  ) {
    // Gram frequency over these literals: a literal is filed under its least shared gram, avoiding fragments
    // common in events.
    const freq = new Map<number, number>();
    for (const t of long) {
      const seen = new Set<number>();
      for (let i = 0; i + q <= t.length; i++) seen.add(gramHash(t, i, q));
      for (const h of seen) freq.set(h, (freq.get(h) ?? 0) + 1);
    }
    let bits = 8;
    while (1 << bits < long.length * 2) bits++;
    this.shift = 32 - bits;
    this.filterShift = 32 - (bits + 4);
    this.head = new Int32Array(1 << bits).fill(-1);
    this.filter = new Int32Array(1 << (bits + 4 - 5));
    this.next = new Int32Array(long.length);
    this.hash = new Int32Array(long.length);
    this.offset = new Int32Array(long.length);
    this.text = long;
    this.rules = long.map((t) => Int32Array.from(byLiteral.get(t)!));
    long.forEach((t, e) => {
      const covered = commonCoverage(t);
      let best = 0;
      let bestScore = Infinity;
      for (let i = 0; i + q <= t.length; i++) {
        let common = 0;
        for (let k = i; k < i + q; k++) common += covered[k]!;
        const score = freq.get(gramHash(t, i, q))! + common * 1000;
        if (score < bestScore) {
          bestScore = score;
          best = i;
        }
      }
      const h = gramHash(t, best, q);
      const mix = Math.imul(h, GOLDEN);
      const slot = mix >>> this.shift;
      const bit = mix >>> this.filterShift;
      this.filter[bit >>> 5]! |= 1 << (bit & 31);
      this.hash[e] = h;
      this.offset[e] = best;
      this.next[e] = this.head[slot]!;
      this.head[slot] = e;
    });
  }

  /** The literals filed under gram hash `h` (mixed: `mix`) that occur in `str` with that gram at `at`. */
  probe(str: string, h: number, mix: number, at: number, hit: (rule: number) => void): void {
    const { head, next, hash, offset, text, rules } = this;
    for (let e = head[mix >>> this.shift]!; e !== -1; e = next[e]!) {
      if (hash[e] !== h) continue;
      const start = at - offset[e]!;
      if (start >= 0 && str.startsWith(text[e]!, start)) {
        const rs = rules[e]!;
        for (let k = 0; k < rs.length; k++) hit(rs[k]!);
      }
    }
  }
}

/**
 * Literals of at least `m` characters searched by skipping (Wu and Manber's multi-pattern search, blocks of two
 * characters): a window of `m` characters slides along the value; when the pair of characters at its end ends no
 * literal's first `m` characters, the window moves on by as far as that pair allows — up to `m - 1` characters —
 * and the positions skipped cannot start any literal. Few long literals (the keyword literals searched through a
 * whole event, hash values) are so found by looking at a fraction of the characters.
 */
class SkipTable {
  private readonly m: number;
  /** Shift for each pair hash: how far the window may move when its last two characters hash there. */
  private readonly shift: Uint8Array;
  /** Literals whose first `m` characters end with a pair of this hash (shift 0), confirmed in place. */
  private readonly ending: Map<number, { text: string; rules: Int32Array }[]>;

  constructor(byLiteral: Map<string, number[]>, m: number) {
    this.m = m;
    const most = Math.min(m - 1, 255);
    this.shift = new Uint8Array(PAIR_SLOTS).fill(most);
    this.ending = new Map();
    for (const [text, rules] of byLiteral) {
      for (let j = 1; j < m; j++) {
        const h = pairHash(text.charCodeAt(j - 1), text.charCodeAt(j));
        const s = m - 1 - j;
        if (s < this.shift[h]!) this.shift[h] = s;
        if (s === 0) {
          let list = this.ending.get(h);
          if (!list) this.ending.set(h, (list = []));
          list.push({ text, rules: Int32Array.from(rules) });
        }
      }
    }
  }

  scan(str: string, hit: (rule: number) => void): void {
    const { m, shift, ending } = this;
    const n = str.length;
    for (let end = m - 1; end < n; ) {
      const h = pairHash(str.charCodeAt(end - 1), str.charCodeAt(end));
      const s = shift[h]!;
      if (s !== 0) {
        end += s;
        continue;
      }
      const start = end - m + 1;
      const list = ending.get(h)!;
      for (let j = 0; j < list.length; j++) {
        if (!str.startsWith(list[j]!.text, start)) continue;
        const rs = list[j]!.rules;
        for (let k = 0; k < rs.length; k++) hit(rs[k]!);
      }
      end++;
    }
  }
}

const PAIR_BITS = 12;
const PAIR_SLOTS = 1 << PAIR_BITS;

/** Two characters to PAIR_BITS bits; pairs that collide share the smaller shift, which only costs speed. */
function pairHash(a: number, b: number): number {
  return (Math.imul((Math.imul(a, 31) + b) | 0, GOLDEN) >>> (32 - PAIR_BITS));
}

/**
 * One field's literals. When they are all long and not too many: a SkipTable. Otherwise a 4-gram table for
 * those of 4 chars or more, a 2-gram table for 2–3 chars and a char map for single chars, all probed in one
 * pass over the value, each position's grams computed from its last four characters.
 */
class FieldTable {
  readonly literals: number;
  /** Length of the shortest literal: a value shorter cannot hold any. */
  readonly shortest: number;
  private readonly skip: SkipTable | undefined;
  private readonly long: GramTable | undefined;
  private readonly mid: GramTable | undefined;
  private readonly singles: Map<number, Int32Array> | undefined;
  private readonly singleMark: Uint8Array | undefined;

  constructor(byLiteral: Map<string, number[]>, skipMinLength: number) {
    this.literals = byLiteral.size;
    let shortest = Infinity;
    for (const t of byLiteral.keys()) shortest = Math.min(shortest, t.length);
    this.shortest = shortest;
    if (shortest >= skipMinLength && byLiteral.size <= SKIP_MAX_LITERALS) {
      this.skip = new SkipTable(byLiteral, shortest);
      return;
    }
    const long: string[] = [];
    const mid: string[] = [];
    const singles = new Map<number, number[]>();
    for (const [t, rules] of byLiteral) {
      if (t.length >= 4) long.push(t);
      else if (t.length >= 2) mid.push(t);
      else if (t.length === 1) singles.set(t.charCodeAt(0), rules);
    }
    if (long.length) this.long = new GramTable(4, long, byLiteral);
    if (mid.length) this.mid = new GramTable(2, mid, byLiteral);
    if (singles.size) {
      this.singles = new Map([...singles].map(([c, r]) => [c, Int32Array.from(r)]));
      this.singleMark = new Uint8Array(65536);
      for (const c of singles.keys()) this.singleMark[c] = 1;
    }
  }

  scan(str: string, hit: (rule: number) => void): void {
    if (this.skip !== undefined) {
      this.skip.scan(str, hit);
      return;
    }
    const { long, mid, singleMark: mark } = this;
    const f4 = long?.filter;
    const s4 = long?.filterShift ?? 0;
    const f2 = mid?.filter;
    const s2 = mid?.filterShift ?? 0;
    // a, b, c: the three characters before position i (gramHash's arithmetic, q = 4 and q = 2, from them)
    let a = 0;
    let b = 0;
    let c = 0;
    for (let i = 0; i < str.length; i++) {
      const d = str.charCodeAt(i);
      if (mark !== undefined && mark[d] === 1) {
        const rs = this.singles!.get(d)!;
        for (let k = 0; k < rs.length; k++) hit(rs[k]!);
      }
      if (f2 !== undefined && i >= 1) {
        const h = (Math.imul(c, 31) + d) | 0;
        const mix = Math.imul(h, GOLDEN);
        const bit = mix >>> s2;
        if ((f2[bit >>> 5]! & (1 << (bit & 31))) !== 0) mid!.probe(str, h, mix, i - 1, hit);
      }
      if (f4 !== undefined && i >= 3) {
        const h = (Math.imul((Math.imul((Math.imul(a, 31) + b) | 0, 31) + c) | 0, 31) + d) | 0;
        const mix = Math.imul(h, GOLDEN);
        const bit = mix >>> s4;
        if ((f4[bit >>> 5]! & (1 << (bit & 31))) !== 0) long!.probe(str, h, mix, i - 3, hit);
      }
      a = b;
      b = c;
      c = d;
    }
  }
}

interface FieldEntry {
  field: string;
  get: Accessor;
  table: FieldTable;
  /** 1 for rules with a literal on this field. */
  rules: Uint8Array;
}

/** What to scan for one route: the fields its rules index, and whether keyword literals are in play. */
export interface ScanPlan {
  fields: FieldEntry[];
  keywords: boolean;
}

export class LiteralIndex {
  readonly literals: number;
  readonly fieldCount: number;
  /** Rules (by index) that could not be indexed and are always candidates. */
  readonly unindexed: number[] = [];
  private readonly fields: FieldEntry[] = [];
  private readonly keywords: FieldTable | undefined;
  private readonly keywordRules: Uint8Array;
  /** Leaves shorter than this (folded) cannot hold a keyword literal: the keyword text leaves them out. */
  readonly keywordMin: number;

  constructor(
    entries: readonly { rule: number; literals: readonly string[] }[],
    size: number,
    opts: IndexOptions = {},
  ) {
    const max = opts.maxLiterals ?? 2_000_000;
    const skipMin = Math.max(opts.skipMinLength ?? 4, 3);
    const byField = new Map<string, Map<string, number[]>>();
    const ruleSets = new Map<string, Uint8Array>();
    let count = 0;
    for (const e of entries) {
      if (count + e.literals.length > max) {
        this.unindexed.push(e.rule);
        continue;
      }
      count += e.literals.length;
      for (const l of e.literals) {
        const f = literalField(l);
        const t = fold(literalText(l));
        let m = byField.get(f);
        if (!m) byField.set(f, (m = new Map()));
        let rs = m.get(t);
        if (!rs) m.set(t, (rs = []));
        if (rs[rs.length - 1] !== e.rule) rs.push(e.rule);
        let set = ruleSets.get(f);
        if (!set) ruleSets.set(f, (set = new Uint8Array(size)));
        set[e.rule] = 1;
      }
    }
    let literals = 0;
    for (const [field, m] of byField) {
      const table = new FieldTable(m, skipMin);
      literals += table.literals;
      if (field === '') this.keywords = table;
      else this.fields.push({ field, get: accessor(field), table, rules: ruleSets.get(field)! });
    }
    this.keywordRules = ruleSets.get('') ?? new Uint8Array(size);
    this.keywordMin = this.keywords?.shortest ?? 0;
    this.literals = literals;
    this.fieldCount = this.fields.length;
  }

  /** The fields worth scanning for events routed to the rules marked in `allowed`. */
  plan(allowed: Uint8Array): ScanPlan {
    const used = (rules: Uint8Array): boolean => {
      for (let i = 0; i < rules.length; i++) if (rules[i] && allowed[i]) return true;
      return false;
    };
    return {
      fields: this.fields.filter((f) => used(f.rules)),
      keywords: this.keywords !== undefined && used(this.keywordRules),
    };
  }

  /** Calls `hit(rule)` for each indexed rule one of whose literals occurs where it must (duplicates possible). */
  scan(view: EventView, plan: ScanPlan, hit: (rule: number) => void): void {
    for (let j = 0; j < plan.fields.length; j++) {
      const f = plan.fields[j]!;
      const v = view.foldedOf(f.field, f.get);
      if (v !== null) {
        f.table.scan(v, hit);
        continue;
      }
      const raw = view.arrayOf(f.field);
      if (raw !== undefined) {
        for (const x of raw) if (x !== null && typeof x !== 'object') f.table.scan(fold(String(x)), hit);
      }
    }
    if (plan.keywords) this.keywords!.scan(view.foldedText(this.keywordMin), hit);
  }
}
