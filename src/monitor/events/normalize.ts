/**
 * What every event passes before it is stored: a minimal validation (an object of bounded size and depth
 * with an ISO 8601 `@timestamp` and an `event.action`), then the fields the intake derives so that rules
 * need no arithmetic — the hour of the day in the working time zone (`truc.local_hour`), where the event
 * came in (`truc.intake`), and whether a classified document went to someone not cleared for it
 * (`truc.classification.exceeds_clearance`).
 */
import type { SecurityEvent } from '../../bus/index.js';
import { normalizeWindows } from '../intake/windows.js';

export const EVENT_LIMITS = { bytes: 256 * 1024, depth: 16, futureMs: 86_400_000 } as const;

const ISO = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

export type Intake = 'http' | 'syslog' | 'bus' | 'file' | 'windows';

export type Checked = { ok: true; event: SecurityEvent; at: Date } | { ok: false; reason: string };

function depthOk(v: unknown, depth: number): boolean {
  if (depth > EVENT_LIMITS.depth) return false;
  if (Array.isArray(v)) return v.every((x) => depthOk(x, depth + 1));
  if (v && typeof v === 'object') {
    for (const k in v) if (!depthOk((v as Record<string, unknown>)[k], depth + 1)) return false;
  }
  return true;
}

/**
 * Bounds of the length of `JSON.stringify(v)` found in one walk, without building the text: a string of n
 * characters takes between n + 2 and 6n + 2 (every character escaped as \uXXXX). Anything not plain data
 * (a Date, a class instance, a toJSON) makes the upper bound infinite. The event check builds the text only
 * when the bounds straddle the limit — for events of a few kilobytes, never.
 */
interface Bounds {
  lo: number;
  hi: number;
  /** a value deeper than EVENT_LIMITS.depth was met (the walk does not go below it) */
  deep: boolean;
}

function jsonBounds(v: unknown, b: Bounds, budget: { nodes: number }, depth: number): void {
  if (depth > EVENT_LIMITS.depth) {
    b.deep = true;
    // what lies past the depth limit still counts toward the size, so that a size over the limit is said
    // first — walked without recursion (it may be nested a million deep) and within the node budget
    b.lo += lowerBound(v, budget);
    return;
  }
  if (--budget.nodes < 0) {
    b.hi = Infinity;
    return;
  }
  switch (typeof v) {
    case 'string':
      b.lo += v.length + 2;
      b.hi += 6 * v.length + 2;
      return;
    case 'number':
      b.lo += 1;
      b.hi += 24;
      return;
    case 'boolean':
      b.lo += 4;
      b.hi += 5;
      return;
    case 'object': {
      if (v === null) {
        b.lo += 4;
        b.hi += 4;
        return;
      }
      if (Array.isArray(v)) {
        b.lo += 2 + Math.max(0, v.length - 1);
        b.hi += 2 + Math.max(0, v.length - 1);
        // undefined and functions in arrays become null
        for (const x of v) {
          if (x === undefined || typeof x === 'function' || typeof x === 'symbol') {
            b.lo += 4;
            b.hi += 4;
          } else jsonBounds(x, b, budget, depth + 1);
        }
        return;
      }
      const proto = Object.getPrototypeOf(v);
      if ((proto !== Object.prototype && proto !== null) || 'toJSON' in v) {
        b.hi = Infinity;
        return;
      }
      b.lo += 2;
      b.hi += 2;
      let first = true;
      for (const k in v) {
        if (!Object.hasOwn(v, k)) continue;
        const x = (v as Record<string, unknown>)[k];
        if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
        const sep = first ? 0 : 1;
        first = false;
        b.lo += sep + k.length + 3;
        b.hi += sep + 6 * k.length + 3;
        jsonBounds(x, b, budget, depth + 1);
      }
      return;
    }
    default:
      // bigint throws in JSON.stringify, undefined at the top is no text: let the exact measure say
      b.hi = Infinity;
  }
}

/** A lower bound of a value's JSON length, by an explicit stack; stops past the event limit or the node budget. */
function lowerBound(v: unknown, budget: { nodes: number }): number {
  let lo = 0;
  const stack: unknown[] = [v];
  while (stack.length && lo <= EVENT_LIMITS.bytes && --budget.nodes >= 0) {
    const x = stack.pop();
    if (typeof x === 'string') lo += x.length + 2;
    else if (typeof x === 'number') lo += 1;
    else if (typeof x === 'boolean' || x === null) lo += 4;
    else if (Array.isArray(x)) {
      lo += 1 + x.length;
      for (let i = 0; i < x.length && stack.length < budget.nodes; i++) stack.push(x[i]);
    } else if (typeof x === 'object') {
      lo += 2;
      for (const k in x) {
        if (stack.length >= budget.nodes) break;
        if (!Object.hasOwn(x, k)) continue;
        lo += k.length + 3;
        stack.push((x as Record<string, unknown>)[k]);
      }
    }
  }
  return lo;
}

/**
 * The length of an event's JSON text, or bounds of it good enough for the limit, and whether it is nested
 * deeper than allowed — one walk for both. Where the walk cannot tell (deep, not plain data, very many
 * nodes), the text is built and the depth walked as before.
 */
function measureEvent(e: unknown): { bytes: number; deep: boolean } {
  const b: Bounds = { lo: 0, hi: 0, deep: false };
  jsonBounds(e, b, { nodes: 100_000 }, 0);
  // too deep is a refusal whatever the size: the text of a value nested a million deep is never built
  // (JSON.stringify recurses and would throw), only the lower bound found so far says whether it is also too large
  if (b.deep) return { bytes: b.lo, deep: true };
  if (b.hi === Infinity) return { bytes: textLength(e), deep: !depthOk(e, 0) };
  if (b.hi <= EVENT_LIMITS.bytes) return { bytes: b.hi, deep: false };
  if (b.lo > EVENT_LIMITS.bytes) return { bytes: b.lo, deep: false };
  return { bytes: textLength(e), deep: false };
}

/** The length of a value's JSON text; Infinity when none can be built (a cycle, nesting past the stack): refused as too large. */
function textLength(e: unknown): number {
  try {
    return JSON.stringify(e).length;
  } catch {
    return Infinity;
  }
}

/** Checks an untrusted event; `size` is its JSON length when the caller knows it. */
export function checkEvent(x: unknown, now = Date.now(), size?: number): Checked {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return { ok: false, reason: 'not a JSON object' };
  const e = x as Record<string, unknown>;
  const ts = e['@timestamp'];
  if (typeof ts !== 'string' || !ISO.test(ts)) return { ok: false, reason: '@timestamp must be an ISO 8601 date-time with a zone' };
  const ms = Date.parse(ts);
  if (Number.isNaN(ms)) return { ok: false, reason: '@timestamp is not a valid date' };
  if (ms > now + EVENT_LIMITS.futureMs) return { ok: false, reason: '@timestamp is more than a day in the future' };
  const meta = e.event;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return { ok: false, reason: 'the "event" field must be an object (ECS event.*, with event.action)' };
  const action = (meta as Record<string, unknown>).action;
  if (typeof action !== 'string' || action.length === 0 || action.length > 200)
    return { ok: false, reason: 'event.action must be a string of 1 to 200 characters' };
  // an upper bound when it is under the limit: the exact length only matters near it
  const m = size === undefined ? measureEvent(e) : { bytes: size, deep: !depthOk(e, 0) };
  if (m.bytes > EVENT_LIMITS.bytes) return { ok: false, reason: `event larger than ${EVENT_LIMITS.bytes} bytes` };
  if (m.deep) return { ok: false, reason: `event nested deeper than ${EVENT_LIMITS.depth}` };
  return { ok: true, event: e as unknown as SecurityEvent, at: new Date(ms) };
}

/** Classification levels of Vietnamese state secrets (and their English names), as numbers. */
const LEVELS: Record<string, number> = {
  unclassified: 0,
  public: 0,
  'thường': 0,
  'mật': 1,
  mat: 1,
  confidential: 1,
  'tối mật': 2,
  'toi mat': 2,
  'toi-mat': 2,
  secret: 2,
  'tuyệt mật': 3,
  'tuyet mat': 3,
  'tuyet-mat': 3,
  'top secret': 3,
  'top-secret': 3,
};

export function classificationLevel(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string') {
    const k = v.trim().toLowerCase().normalize('NFC');
    if (/^\d+$/.test(k)) return Number(k);
    return LEVELS[k];
  }
  return undefined;
}

/** The hour of the day in a time zone, cached by UTC hour (zones move by whole quarter hours at most). */
export class LocalHour {
  private readonly fmt: Intl.DateTimeFormat;
  private lastKey = NaN;
  private lastOffsetMin = 0;
  constructor(readonly timezone: string) {
    this.fmt = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit' });
  }
  of(ms: number): number {
    const key = Math.floor(ms / 900_000);
    if (key !== this.lastKey) {
      const parts = this.fmt.formatToParts(new Date(key * 900_000));
      const h = Number(parts.find((p) => p.type === 'hour')!.value);
      const m = Number(parts.find((p) => p.type === 'minute')!.value);
      const utcMin = (key * 15) % 1440;
      this.lastOffsetMin = (h * 60 + m - utcMin + 1440) % 1440;
      this.lastKey = key;
    }
    const minutes = (Math.floor(ms / 60_000) % 1440) + this.lastOffsetMin;
    return Math.floor((((minutes % 1440) + 1440) % 1440) / 60);
  }
}

/** Adds the derived fields in place and returns the event. */
export function derive(event: SecurityEvent, at: Date, intake: Intake, hour: LocalHour): SecurityEvent {
  const truc = (event.truc && typeof event.truc === 'object' && !Array.isArray(event.truc) ? event.truc : (event.truc = {})) as Record<
    string,
    unknown
  >;
  truc.local_hour = hour.of(at.getTime());
  truc.intake ??= intake;
  const cls = truc.classification as Record<string, unknown> | undefined;
  const rcp = truc.recipient as Record<string, unknown> | undefined;
  if (cls && typeof cls === 'object' && rcp && typeof rcp === 'object') {
    const level = classificationLevel(cls.level);
    const clearance = classificationLevel(rcp.clearance) ?? (rcp.clearance === undefined ? 0 : undefined);
    if (level !== undefined && clearance !== undefined) cls.exceeds_clearance = level > clearance;
  }
  return event;
}

export type Accepted = { ok: true; event: SecurityEvent; at: Date; intake: Intake } | { ok: false; reason: string };

/**
 * What every intake does with an untrusted value before detection: a Windows-layout object gets its ECS
 * fields (normalizeWindows; its intake becomes `windows` unless it came from a file), then the check, then
 * the derived fields. The monitor service and `truc hunt` both go through here, so a file hunted gives the
 * rules the same events as the same file ingested.
 */
export function acceptEvent(value: unknown, intake: Intake, hour: LocalHour, now = Date.now()): Accepted {
  let v = value;
  let via = intake;
  if (v && typeof v === 'object' && !Array.isArray(v) && 'Event' in v) {
    const w = normalizeWindows(v as Record<string, unknown>);
    if (w) {
      v = w;
      if (intake !== 'file') via = 'windows';
    }
  }
  const c = checkEvent(v, now);
  if (!c.ok) return c;
  return { ok: true, event: derive(c.event, c.at, via, hour), at: c.at, intake: via };
}
