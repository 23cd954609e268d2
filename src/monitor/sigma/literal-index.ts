/**
 * The literal index. For every field that required literals name (literals.ts) — plus one pseudo-field for
 * keyword literals, searched in every scalar — a hash table of 4-character grams: each literal is filed under
 * its rarest gram, and a scan of the field's folded value probes the table once per position, confirming a
 * hit by comparing the whole literal in place. Shorter literals go to a 2-gram table or a character map. Scanning
 * the few fields the routed rules care about yields the rules that may match; the others cannot and are never
 * evaluated.
 *
 * Why it never drops a match: a required literal occurs in the value of its field — resolved by the same
 * accessor and folded by the same fold the rule uses — in any event the rule accepts. Fold is a per-character
 * mapping (fold.ts), so the folded literal occurs in the folded value; the scan visits every position of the
 * value, so it reaches the position where the literal's gram starts and confirms it there.
 */
import { accessor, type Accessor, type EventView } from './event-view.js';
import { fold } from './fold.js';
import { commonCoverage, literalField, literalText } from './literals.js';

export interface IndexOptions {
  /** Cap on distinct indexed literals; past it the remaining rules are always evaluated. */
  maxLiterals?: number;
}

const GOLDEN = 0x9e3779b1 | 0;

function gramHash(s: string, i: number, q: number): number {
  let h = 0;
  for (let k = 0; k < q; k++) h = (Math.imul(h, 31) + s.charCodeAt(i + k)) | 0;
  return h;
}

/** Literals of at least `q` chars filed under one q-gram each, in an open hash table probed at every position. */
class GramTable {
  private readonly shift: number;
  private readonly pow: number;
  private readonly head: Int32Array;
  private readonly next: Int32Array;
  private readonly hash: Int32Array;
  private readonly offset: Int32Array;
  private readonly text: string[];
  private readonly rules: Int32Array[];

  constructor(
    private readonly q: number,
    long: string[],
    byLiteral: Map<string, number[]>,
  ) {
    this.pow = 1;
    for (let k = 1; k < q; k++) this.pow = Math.imul(this.pow, 31);
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
    this.head = new Int32Array(1 << bits).fill(-1);
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
      const slot = Math.imul(h, GOLDEN) >>> this.shift;
      this.hash[e] = h;
      this.offset[e] = best;
      this.next[e] = this.head[slot]!;
      this.head[slot] = e;
    });
  }

  /** `str` must be folded. */
  scan(str: string, hit: (rule: number) => void): void {
    const n = str.length;
    const { q, pow, head, next, hash, offset, text, rules, shift } = this;
    if (n < q) return;
    let h = gramHash(str, 0, q);
    for (let i = 0; ; i++) {
      for (let e = head[Math.imul(h, GOLDEN) >>> shift]!; e !== -1; e = next[e]!) {
        if (hash[e] !== h) continue;
        const start = i - offset[e]!;
        if (start >= 0 && str.startsWith(text[e]!, start)) {
          const rs = rules[e]!;
          for (let k = 0; k < rs.length; k++) hit(rs[k]!);
        }
      }
      if (i + q >= n) break;
      h = (Math.imul(h - Math.imul(str.charCodeAt(i), pow), 31) + str.charCodeAt(i + q)) | 0;
    }
  }
}

/** One field's literals: 4-gram table for the long ones, 2-gram table for 2–3 chars, a char map for single chars. */
class FieldTable {
  readonly literals: number;
  private readonly tables: GramTable[] = [];
  private readonly singles: Map<number, Int32Array> | undefined;
  private readonly singleMark: Uint8Array | undefined;

  constructor(byLiteral: Map<string, number[]>) {
    const long: string[] = [];
    const mid: string[] = [];
    const singles = new Map<number, number[]>();
    for (const [t, rules] of byLiteral) {
      if (t.length >= 4) long.push(t);
      else if (t.length >= 2) mid.push(t);
      else if (t.length === 1) singles.set(t.charCodeAt(0), rules);
    }
    if (long.length) this.tables.push(new GramTable(4, long, byLiteral));
    if (mid.length) this.tables.push(new GramTable(2, mid, byLiteral));
    if (singles.size) {
      this.singles = new Map([...singles].map(([c, r]) => [c, Int32Array.from(r)]));
      this.singleMark = new Uint8Array(65536);
      for (const c of singles.keys()) this.singleMark[c] = 1;
    }
    this.literals = byLiteral.size;
  }

  scan(str: string, hit: (rule: number) => void): void {
    for (let t = 0; t < this.tables.length; t++) this.tables[t]!.scan(str, hit);
    const mark = this.singleMark;
    if (mark) {
      for (let i = 0; i < str.length; i++) {
        const c = str.charCodeAt(i);
        if (mark[c]) {
          const rs = this.singles!.get(c)!;
          for (let k = 0; k < rs.length; k++) hit(rs[k]!);
        }
      }
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

  constructor(
    entries: readonly { rule: number; literals: readonly string[] }[],
    size: number,
    opts: IndexOptions = {},
  ) {
    const max = opts.maxLiterals ?? 2_000_000;
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
      const table = new FieldTable(m);
      literals += table.literals;
      if (field === '') this.keywords = table;
      else this.fields.push({ field, get: accessor(field), table, rules: ruleSets.get(field)! });
    }
    this.keywordRules = ruleSets.get('') ?? new Uint8Array(size);
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
      const raw = f.get(view);
      if (Array.isArray(raw)) {
        for (const x of raw) if (x !== null && typeof x !== 'object') f.table.scan(fold(String(x)), hit);
      }
    }
    if (plan.keywords) {
      const leaves = view.foldedLeaves();
      for (let j = 0; j < leaves.length; j++) this.keywords!.scan(leaves[j]!, hit);
    }
  }
}
