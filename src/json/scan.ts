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
}

/** What a body of JSON may describe unless a route says otherwise: far above any request the API takes. */
export const JSON_BODY_LIMITS: JsonLimits = { depth: 64, values: 200_000 };

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
 * `bad_request` for nesting), so a body is refused after reading no more than where it broke the bound.
 */
export class JsonScanner {
  depth = 0;
  values = 0;
  private inString = false;
  /** the previous character inside a string was an unescaped backslash */
  private escaped = false;
  /** inside a number or literal */
  private inScalar = false;

  constructor(
    private readonly limits: JsonLimits,
    private readonly hooks: ScanHooks = {},
  ) {}

  write(s: string): void {
    const n = s.length;
    let i = 0;
    while (i < n) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
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
          return;
        }
        if (!odd) this.inString = false;
        i = q + 1;
        continue;
      }
      const c = s.charCodeAt(i);
      if (c === QUOTE) {
        this.inScalar = false;
        this.value();
        this.inString = true;
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
      } else if (c === 0x7d || c === 0x5d) {
        this.inScalar = false;
        this.hooks.close?.(this.depth, i);
        // more closings than openings: JSON.parse will say what is wrong; the count stays sane
        if (this.depth > 0) this.depth--;
      } else if (c === 0x2c) {
        this.inScalar = false;
        this.hooks.comma?.(this.depth, i);
      } else if (c === 0x3a || isSpace(c)) {
        this.inScalar = false;
      } else if (!this.inScalar) {
        this.inScalar = true;
        this.value();
      }
      i++;
    }
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
