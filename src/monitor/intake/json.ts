/**
 * Batches of JSON events as an HTTP body — a JSON array, `{"events": [...]}`, or NDJSON — read as the bytes
 * arrive and split into events without parsing the whole body: each event's text is measured (length,
 * nesting, values) as it streams, and only an event within the bounds is handed to `JSON.parse`. An event
 * over them is refused by its index (as the event check would refuse it) without ever being built, and a
 * body over the request's bounds — bytes, events, values in all — is refused as soon as it passes them.
 * The body used to be parsed whole (32 MiB of `[[],[],…]` took 12 s of the event loop and half a gigabyte
 * before its event count was looked at).
 */
import { TrucError } from '../../errors.js';
import { JsonScanner } from '../../json/scan.js';
import { EVENT_LIMITS } from '../events/normalize.js';
import { readTextInSlices } from './text-stream.js';

export interface JsonBatchLimits {
  /** bytes of body */
  bytes: number;
  /** events in one request */
  events: number;
  /** values (strings, numbers, objects, …) in the whole body */
  values: number;
  /** values in one event: beyond, the event is refused unparsed */
  eventValues: number;
  /** characters of one event's text: beyond, refused unparsed (JSON escapes make a text up to six times the stored size) */
  eventChars: number;
}

export const JSON_BATCH_LIMITS: JsonBatchLimits = {
  bytes: 32 * 1024 * 1024,
  events: 1000,
  values: 2_000_000,
  eventValues: 10_000,
  eventChars: 8 * EVENT_LIMITS.bytes,
};

/** An event's nesting as brackets: the event object is 1; deeper than this the event check refuses it anyway. */
const EVENT_BRACKETS = EVENT_LIMITS.depth + 1;
/** what a `{"events": [...]}` body may carry besides its events */
const WRAPPER_CHARS = 64 * 1024;

export interface JsonBatch {
  /** the events in order; a refused one is `undefined` at its index */
  values: unknown[];
  /** events refused before parsing, by index */
  refused: Map<number, string>;
}

/** Why an event is refused that names `__proto__` (plain or escaped): merged into other objects later, it would change their prototype. */
export const PROTO_REASON = 'event carries a "__proto__" member';
const PROTO = Symbol('proto');

function noProto(key: string, value: unknown): unknown {
  if (key === '__proto__') throw PROTO;
  return value;
}

/**
 * One event's text parsed, or PROTO_REASON when it names `__proto__`. The reviver costs a walk, so it runs
 * only where the text could spell the name: literally, or with an escape.
 */
function parseEvent(text: string): { value: unknown } | { reason: string } {
  if (!text.includes('__proto__') && !text.includes('\\u')) return { value: JSON.parse(text) };
  try {
    return { value: JSON.parse(text, noProto) };
  } catch (e) {
    if (e === PROTO) return { reason: PROTO_REASON };
    throw e;
  }
}

const SHAPE =
  'thân là một mảng JSON các sự kiện hoặc {"events": [...]} (the body is a JSON array of events or {"events": [...]})';
function bad(m: string): never {
  throw new TrucError('bad_request', m);
}

interface Current {
  parts: string[];
  chars: number;
  /** the scanner's value count when the event began */
  values0: number;
  reason?: string;
}

/**
 * Splits a JSON array of events, or `{"events": [...]}`, fed in pieces. Text outside the events (brackets,
 * commas, the wrapper's other members) is kept, each event replaced by `0`, and parsed at the end: the
 * grammar of the whole is checked without holding the events twice.
 */
export class JsonBatchSplitter {
  private readonly scanner: JsonScanner;
  private readonly out: JsonBatch = { values: [], refused: new Map() };
  private skeleton: string[] = [];
  private skeletonChars = 0;
  private piece = '';
  /** where in `piece` the text not yet given to the skeleton or an event begins */
  private from = 0;
  /** depth of the array whose elements are events (0: not in it) */
  private eventsDepth = 0;
  private cur: Current | undefined;
  private started = false;

  constructor(private readonly limits: JsonBatchLimits = JSON_BATCH_LIMITS) {
    this.scanner = new JsonScanner(
      // nesting is judged per event below (an event too deep is refused, not the request): the scanner only counts it
      { depth: Number.MAX_SAFE_INTEGER, values: limits.values },
      {
        open: (depth, at) => this.open(depth, at),
        close: (depth, at) => this.close(depth, at),
        comma: (depth, at) => {
          if (this.eventsDepth && depth === this.eventsDepth) {
            this.endEvent(at);
            this.beginEvent(at + 1);
          }
        },
      },
    );
  }

  write(text: string): void {
    if (!this.started) {
      const first = /\S/.exec(text);
      if (!first) return;
      if (text[first.index] !== '[' && text[first.index] !== '{') bad(SHAPE);
      this.started = true;
    }
    this.piece = text;
    this.from = 0;
    this.scanner.write(text);
    this.take(text.length);
  }

  end(): JsonBatch {
    if (this.eventsDepth || this.cur) bad('JSON bị cắt giữa chừng (JSON ends inside the events)');
    let whole: unknown;
    try {
      whole = JSON.parse(this.skeleton.join(''));
    } catch (e) {
      bad(`JSON không hợp lệ (not valid JSON): ${(e as Error).message}`);
    }
    const events = Array.isArray(whole)
      ? whole
      : whole && typeof whole === 'object'
        ? (whole as { events?: unknown }).events
        : undefined;
    if (!Array.isArray(events)) bad(SHAPE);
    // an `events` spelled with escapes, never seen as the events while streaming, lands here whole (within
    // WRAPPER_CHARS): each event measured again as text, so `__proto__` inside is refused here too
    if (events.length !== this.out.values.length) {
      const out: JsonBatch = { values: [], refused: new Map() };
      events.forEach((e, i) => {
        const p = parseEvent(JSON.stringify(e) ?? 'null');
        if ('reason' in p) {
          out.values.push(undefined);
          out.refused.set(i, p.reason);
        } else out.values.push(e);
      });
      return out;
    }
    return this.out;
  }

  private open(depth: number, at: number): void {
    if (this.cur) {
      if (depth + 1 - this.eventsDepth > EVENT_BRACKETS)
        this.refuse(`event nested deeper than ${EVENT_LIMITS.depth}`);
      return;
    }
    if (this.piece.charCodeAt(at) !== 0x5b) return;
    if (depth === 0 && this.skeletonChars === 0) {
      this.enterEvents(at, 1);
      return;
    }
    if (depth === 1 && /"events"\s*:\s*$/.test(this.skeletonTail(at))) {
      // a second "events" member replaces the first, as JSON.parse reads it
      this.out.values = [];
      this.out.refused = new Map();
      this.enterEvents(at, 2);
    }
  }

  private close(depth: number, at: number): void {
    if (!this.eventsDepth || depth !== this.eventsDepth) return;
    this.endEvent(at);
    this.eventsDepth = 0;
  }

  private enterEvents(at: number, depth: number): void {
    this.take(at + 1);
    this.eventsDepth = depth;
    this.beginEvent(at + 1);
  }

  private beginEvent(at: number): void {
    this.take(at);
    this.cur = { parts: [], chars: 0, values0: this.scanner.values };
  }

  private endEvent(at: number): void {
    this.take(at);
    const c = this.cur!;
    this.cur = undefined;
    const text = c.parts.join('');
    // `[]` and the space after the last comma are no event; `[1,,2]` is left to the final parse to refuse
    if (c.reason === undefined && !/\S/.test(text)) return;
    const index = this.out.values.length;
    if (index >= this.limits.events)
      throw new TrucError('too_large', `at most ${this.limits.events} events a request`, {
        max: this.limits.events,
      });
    this.addSkeleton('0');
    if (c.reason === undefined && this.scanner.values - c.values0 > this.limits.eventValues)
      c.reason = `event of more than ${this.limits.eventValues} values`;
    if (c.reason !== undefined) {
      this.out.values.push(undefined);
      this.out.refused.set(index, c.reason);
      return;
    }
    let parsed: { value: unknown } | { reason: string };
    try {
      parsed = parseEvent(text);
    } catch (e) {
      bad(`JSON không hợp lệ ở sự kiện ${index} (not valid JSON in event ${index}): ${(e as Error).message}`);
    }
    if ('reason' in parsed) {
      this.out.values.push(undefined);
      this.out.refused.set(index, parsed.reason);
    } else this.out.values.push(parsed.value);
  }

  private refuse(reason: string): void {
    const c = this.cur!;
    if (c.reason !== undefined) return;
    c.reason = reason;
    c.parts = [];
  }

  /** Moves the text of the piece up to `to` into the event being read or the skeleton. */
  private take(to: number): void {
    if (to <= this.from) return;
    const s = this.piece.slice(this.from, to);
    this.from = to;
    const c = this.cur;
    if (!c) return this.addSkeleton(s);
    if (c.reason !== undefined) return;
    c.chars += s.length;
    if (c.chars > this.limits.eventChars) this.refuse(`event larger than ${EVENT_LIMITS.bytes} bytes`);
    else c.parts.push(s);
  }

  private addSkeleton(s: string): void {
    this.skeletonChars += s.length;
    if (this.skeletonChars > WRAPPER_CHARS + 2 * this.limits.events)
      throw new TrucError(
        'too_large',
        `ngoài "events", thân chỉ được mang ${WRAPPER_CHARS} ký tự (besides "events", a body carries at most ${WRAPPER_CHARS} characters)`,
        { max: WRAPPER_CHARS },
      );
    this.skeleton.push(s);
  }

  /** The last characters outside the events, up to the piece's index `at` (to recognise `"events":`). */
  private skeletonTail(at: number): string {
    this.take(at);
    let tail = '';
    for (let i = this.skeleton.length - 1; i >= 0 && tail.length < 64; i--) tail = this.skeleton[i] + tail;
    return tail.slice(-64);
  }
}

/**
 * Splits NDJSON fed in pieces: one event a line, blank lines skipped, each line measured as it comes and
 * refused unparsed past the bounds.
 */
export class NdjsonSplitter {
  private readonly out: JsonBatch = { values: [], refused: new Map() };
  private cur: Current | undefined;
  private scanner: JsonScanner | undefined;
  private values = 0;

  constructor(private readonly limits: JsonBatchLimits = JSON_BATCH_LIMITS) {}

  write(text: string): void {
    let from = 0;
    for (;;) {
      const nl = text.indexOf('\n', from);
      this.add(text.slice(from, nl < 0 ? text.length : nl));
      if (nl < 0) return;
      this.endLine();
      from = nl + 1;
    }
  }

  end(): JsonBatch {
    this.endLine();
    return this.out;
  }

  private add(s: string): void {
    if (!s) return;
    if (!this.cur) {
      this.cur = { parts: [], chars: 0, values0: 0 };
      this.scanner = new JsonScanner(
        { depth: Number.MAX_SAFE_INTEGER, values: Number.MAX_SAFE_INTEGER },
        {
          open: (depth) => {
            if (depth + 1 > EVENT_BRACKETS && this.cur && this.cur.reason === undefined)
              this.cur = { ...this.cur, parts: [], reason: `event nested deeper than ${EVENT_LIMITS.depth}` };
          },
        },
      );
    }
    const c = this.cur;
    this.scanner!.write(s);
    if (c !== this.cur) return; // refused by the hook just now
    if (c.reason !== undefined) return;
    c.chars += s.length;
    if (c.chars > this.limits.eventChars)
      this.cur = { ...c, parts: [], reason: `event larger than ${EVENT_LIMITS.bytes} bytes` };
    else c.parts.push(s);
  }

  private endLine(): void {
    const c = this.cur;
    const values = this.scanner?.values ?? 0;
    this.cur = undefined;
    this.scanner = undefined;
    if (!c) return;
    const text = c.parts.join('');
    if (c.reason === undefined && !/\S/.test(text)) return;
    this.values += values;
    if (this.values > this.limits.values)
      throw new TrucError(
        'too_large',
        `JSON có quá ${this.limits.values} giá trị (JSON of more than ${this.limits.values} values)`,
        { max: this.limits.values },
      );
    const index = this.out.values.length;
    if (index >= this.limits.events)
      throw new TrucError('too_large', `at most ${this.limits.events} events a request`, {
        max: this.limits.events,
      });
    const reason =
      c.reason ??
      (values > this.limits.eventValues ? `event of more than ${this.limits.eventValues} values` : undefined);
    if (reason !== undefined) {
      this.out.values.push(undefined);
      this.out.refused.set(index, reason);
      return;
    }
    let parsed: { value: unknown } | { reason: string };
    try {
      parsed = parseEvent(text);
    } catch (e) {
      bad(`NDJSON: ${(e as Error).message}`);
    }
    if ('reason' in parsed) {
      this.out.values.push(undefined);
      this.out.refused.set(index, parsed.reason);
    } else this.out.values.push(parsed.value);
  }
}

/** Reads a JSON or NDJSON batch of events from a request body as it arrives, within the bounds. */
export async function parseJsonEventsStream(
  body: AsyncIterable<Uint8Array | string>,
  o: { ndjson: boolean; limits?: Partial<JsonBatchLimits>; declaredLength?: number | undefined },
): Promise<JsonBatch> {
  const limits = { ...JSON_BATCH_LIMITS, ...o.limits };
  const s = o.ndjson ? new NdjsonSplitter(limits) : new JsonBatchSplitter(limits);
  await readTextInSlices(body, (t) => s.write(t), {
    max: limits.bytes,
    declaredLength: o.declaredLength,
    what: o.ndjson ? 'NDJSON' : 'JSON',
  });
  return s.end();
}
