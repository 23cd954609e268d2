/**
 * Bounded reading of untrusted JSON. `JSON.parse` builds whatever the text describes before anyone can look
 * at it: a 60 MB body of `[{},{},…]` is twenty million objects (seconds of the event loop, gigabytes),
 * `{"a":{"a":…` a million deep breaks every recursive walk after it. The scanner goes over the text once,
 * in pieces as they arrive, without building anything — string contents are skipped with `indexOf` — and
 * counts what parsing would build (values, nesting), so a caller refuses a hostile body before parsing it.
 * It checks structure only (brackets, strings); `JSON.parse` still judges the grammar of what passes.
 */
import { TrucError } from '../errors.js';

export interface JsonLimits {
  /** arrays and objects inside each other */
  depth: number;
  /** values of any kind (strings, numbers, literals, arrays, objects; keys count as strings) */
  values: number;
  /**
   * refuse an object naming a member twice (I-JSON, RFC 7493 §2.3): JSON.parse keeps the last, another
   * reader may keep the first, and a check made on one value lets the other through
   */
  uniqueKeys?: boolean;
}

/** What a body of JSON may describe unless a route says otherwise: far above any request the API takes. */
export const JSON_BODY_LIMITS: JsonLimits = { depth: 64, values: 200_000, uniqueKeys: true };

/** Called at the structural characters outside strings, with the depth before them and their index in the piece. */
export interface ScanHooks {
  open?(depth: number, at: number): void;
  close?(depth: number, at: number): void;
  comma?(depth: number, at: number): void;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * An incremental scanner: `write` each piece of text in order, `end` after the last. The depth and value
 * counts are kept; `limits` throw as soon as they are passed (a TrucError: `too_large` for values,
 * `bad_request` for nesting and repeated names), so a body is refused after reading no more than where it
 * broke the bound.
 */
export class JsonScanner {
  depth = 0;
  values = 0;
  private inString = false;
  /** the previous character inside a string was an unescaped backslash */
  private escaped = false;
  /** inside a number or literal */
  private inScalar = false;
  // with uniqueKeys: whether each open container is an object, the names seen in each open object, the
  // next string is a member's name, the pieces of the name being read
  private readonly objects: boolean[] = [];
  private readonly names: Set<string>[] = [];
  private expectName = false;
  private name: string[] | undefined;

  constructor(
    private readonly limits: JsonLimits,
    private readonly hooks: ScanHooks = {},
  ) {}

  write(s: string): void {
    const n = s.length;
    const keys = this.limits.uniqueKeys === true;
    let i = 0;
    while (i < n) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          this.name?.push(s[i]!);
          i++;
          continue;
        }
        const q = s.indexOf('"', i);
        const stop = q < 0 ? n : q;
        // backslashes right before the quote (or the end of the piece): an odd run escapes it
        let k = stop - 1;
        while (k >= i && s.charCodeAt(k) === BACKSLASH) k--;
        const odd = (stop - 1 - k) % 2 === 1;
        if (q < 0) {
          this.escaped = odd;
          this.name?.push(s.slice(i, n));
          return;
        }
        if (!odd) {
          this.inString = false;
          if (this.name) {
            this.name.push(s.slice(i, q));
            this.endName();
          }
        } else this.name?.push(s.slice(i, q + 1));
        i = q + 1;
        continue;
      }
      const c = s.charCodeAt(i);
      if (c === QUOTE) {
        this.inScalar = false;
        this.value();
        this.inString = true;
        if (this.expectName) {
          this.expectName = false;
          this.name = [];
        }
      } else if (c === 0x7b || c === 0x5b) {
        this.inScalar = false;
        this.value();
        this.hooks.open?.(this.depth, i);
        if (++this.depth > this.limits.depth)
          throw new TrucError(
            'bad_request',
            `JSON lồng sâu quá ${this.limits.depth} cấp (JSON nested deeper than ${this.limits.depth})`,
            { max: this.limits.depth },
          );
        if (keys) {
          const object = c === 0x7b;
          this.objects.push(object);
          if (object) this.names.push(new Set());
          this.expectName = object;
        }
      } else if (c === 0x7d || c === 0x5d) {
        this.inScalar = false;
        this.hooks.close?.(this.depth, i);
        // more closings than openings: JSON.parse will say what is wrong; the count stays sane
        if (this.depth > 0) this.depth--;
        if (keys && this.objects.pop()) this.names.pop();
        this.expectName = false;
      } else if (c === 0x2c) {
        this.inScalar = false;
        this.hooks.comma?.(this.depth, i);
        this.expectName = keys && this.objects[this.objects.length - 1] === true;
      } else if (c === 0x3a || isSpace(c)) {
        this.inScalar = false;
        if (c === 0x3a) this.expectName = false;
      } else if (!this.inScalar) {
        this.inScalar = true;
        this.value();
      }
      i++;
    }
  }

  /** A member's name has been read: refused when its object already has one so named (escapes decoded). */
  private endName(): void {
    const raw = this.name!.join('');
    this.name = undefined;
    let name = raw;
    if (raw.includes('\\'))
      try {
        name = JSON.parse(`"${raw}"`) as string;
      } catch {
        // a bad escape: JSON.parse refuses the whole text later
      }
    const seen = this.names[this.names.length - 1];
    if (!seen) return;
    if (seen.has(name))
      throw new TrucError(
        'bad_request',
        `JSON có tên "${name.slice(0, 64)}" hai lần trong một đối tượng (JSON names "${name.slice(0, 64)}" twice in one object)`,
        { member: name.slice(0, 64) },
      );
    seen.add(name);
  }

  private value(): void {
    if (++this.values > this.limits.values)
      throw new TrucError(
        'too_large',
        `JSON có quá ${this.limits.values} giá trị (JSON of more than ${this.limits.values} values)`,
        { max: this.limits.values },
      );
  }
}

/** Checks a whole JSON text against the limits (throws as JsonScanner does). */
export function checkJson(text: string, limits: JsonLimits = JSON_BODY_LIMITS): void {
  new JsonScanner(limits).write(text);
}
