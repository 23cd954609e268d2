/**
 * How a rule sees an event. Events come nested (ECS: `process.command_line` is event.process.command_line),
 * flat with dotted keys, or in the Windows XML-as-JSON shape `{Event: {System, EventData, UserData}}` where
 * Sigma's field names (`CommandLine`, `EventID`, `Provider_Name`) live one or two levels down. A view resolves a
 * field name in this order: own key, dotted path, then the Windows containers (a value holding message codes
 * as both its codes and their text, EventData, also with spaces dropped from its names, System with its XML
 * attributes flattened as `Tag_Attribute`, the child of UserData, and last System/Execution's ProcessID and
 * ThreadID as `ProcessId`/`ThreadId`, the names rules use for them). Folded (lower-cased) values are cached per
 * event because many rules test the same few fields.
 */
import { fold } from './fold.js';

type Obj = Record<string, unknown>;

const PROTO_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));
export const VIEW_LIMITS = { depth: 16, leaves: 10_000 } as const;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The scalar behind an XML-as-JSON node: `{"#text": "4688", "#attributes": {...}}` → "4688". */
function unwrap(v: unknown): unknown {
  if (isObj(v) && '#text' in v) return v['#text'];
  return v;
}

/**
 * `Tag_Attribute` names, made once per pair rather than per event: a name built by concatenation is a new
 * string that V8 must hash and intern again each time it becomes a key. Bounded: past the bound, names are
 * built as before (a crafted event cannot grow the cache).
 */
const attrNames = new Map<string, Map<string, string>>();
let attrNameCount = 0;
const ATTR_NAMES_MAX = 4096;

function attrName(k: string, a: string): string {
  let m = attrNames.get(k);
  const hit = m?.get(a);
  if (hit !== undefined) return hit;
  const name = `${k}_${a}`;
  if (attrNameCount < ATTR_NAMES_MAX) {
    if (!m) attrNames.set(k, (m = new Map()));
    m.set(a, name);
    attrNameCount++;
  }
  return name;
}

// for…in with an own-property check visits what Object.entries lists, in its order, without its arrays
function flattenSystem(sys: Obj): Obj {
  const out: Obj = Object.create(null) as Obj;
  for (const k in sys) {
    if (!Object.hasOwn(sys, k)) continue;
    const v = sys[k];
    if (isObj(v)) {
      if ('#text' in v) out[k] = v['#text'];
      const attrs = v['#attributes'];
      if (isObj(attrs)) for (const a in attrs) if (Object.hasOwn(attrs, a)) out[attrName(k, a)] = attrs[a];
    } else {
      out[k] = v;
    }
  }
  return out;
}

/**
 * The process and thread that wrote the event (`System/Execution`'s attributes) under the names SigmaHQ's
 * rules give them: `ProcessId: 0` on a System 7045 means "installed by process 0", and that attribute is
 * otherwise only `Execution_ProcessID`. Looked up last, so an event's own data (EventData's ProcessId of a
 * Sysmon event, UserData's) wins.
 */
function executionNames(sys: Obj): Obj | undefined {
  const exec = sys.Execution;
  const attrs = isObj(exec) ? exec['#attributes'] : undefined;
  if (!isObj(attrs)) return undefined;
  const out: Obj = Object.create(null) as Obj;
  if (attrs.ProcessID !== undefined) out.ProcessId = attrs.ProcessID;
  if (attrs.ThreadID !== undefined) out.ThreadId = attrs.ThreadID;
  return out;
}

/**
 * A field whose value holds Windows message codes is seen as both its forms, the codes (`%%4417`) and their
 * text (`WriteData (or AddFile)`, from `Event.RenderedData`, added by the intake): a rule matches either, as
 * SigmaHQ's rules are written both ways. Looked up first, before EventData's own value.
 */
function bothForms(ev: Obj, rendered: Obj): Obj {
  const out: Obj = Object.create(null) as Obj;
  const sources: Obj[] = [];
  if (isObj(ev.EventData)) sources.push(ev.EventData);
  if (isObj(ev.UserData)) for (const v of Object.values(ev.UserData)) if (isObj(v)) sources.push(v);
  for (const k in rendered) {
    if (!Object.hasOwn(rendered, k)) continue;
    const src = sources.find((s) => Object.hasOwn(s, k));
    out[k] = src ? [src[k], rendered[k]] : rendered[k];
  }
  return out;
}

/** Sigma field names drop the spaces of Windows data names (`Source Name` → `SourceName`). */
function spacedKeys(o: Obj): Obj | undefined {
  let out: Obj | undefined;
  for (const k in o) {
    if (k.includes(' ') && Object.hasOwn(o, k)) {
      out ??= Object.create(null) as Obj;
      out[k.replaceAll(' ', '')] = o[k];
    }
  }
  return out;
}

export class EventView {
  readonly raw: Obj;
  private containers: Obj[] | undefined;
  private readonly folded = new Map<string, string | null>();
  private arrays: Map<string, unknown[]> | undefined;
  private leafCache: string[] | undefined;
  private foldedLeafCache: string[] | undefined;
  private foldedTextCache: string | undefined;
  /** Set by `leaves()` when the event exceeded the depth or size bounds and some scalars were not listed. */
  truncated = false;

  constructor(raw: Obj) {
    this.raw = raw;
  }

  /** The Windows flat containers, built on first use. */
  flat(): Obj[] {
    if (this.containers) return this.containers;
    const out: Obj[] = [];
    const ev = this.raw.Event;
    if (isObj(ev)) {
      if (isObj(ev.RenderedData)) out.push(bothForms(ev, ev.RenderedData));
      if (isObj(ev.EventData)) {
        out.push(ev.EventData);
        const spaced = spacedKeys(ev.EventData);
        if (spaced) out.push(spaced);
      }
      if (isObj(ev.System)) out.push(flattenSystem(ev.System));
      if (isObj(ev.UserData)) for (const v of Object.values(ev.UserData)) if (isObj(v)) out.push(v);
      if (isObj(ev.System)) {
        const exec = executionNames(ev.System);
        if (exec) out.push(exec);
      }
    }
    this.containers = out;
    return out;
  }

  /** Folded string form of a field's scalar value, cached; null when absent or not a scalar. */
  foldedOf(key: string, get: (v: EventView) => unknown): string | null {
    let f = this.folded.get(key);
    if (f !== undefined) return f;
    const v = get(this);
    f = typeof v === 'string' ? fold(v) : typeof v === 'number' || typeof v === 'boolean' ? String(v) : null;
    this.folded.set(key, f);
    if (f === null && Array.isArray(v)) (this.arrays ??= new Map()).set(key, v);
    return f;
  }

  /**
   * The value of a field for which `foldedOf` gave null, when it is an array (ECS multi-valued fields); undefined
   * when absent or another kind of value. Kept by `foldedOf`, so that an absent field — most of the fields the
   * rules of a kind of event name — is looked for once per event, not once more after it was not found.
   */
  arrayOf(key: string): unknown[] | undefined {
    return this.arrays?.get(key);
  }

  /** Every scalar leaf of the event as a string (for keyword searches and the literal index). */
  leaves(): string[] {
    if (this.leafCache) return this.leafCache;
    const out: string[] = [];
    const walk = (v: unknown, depth: number): void => {
      if (out.length >= VIEW_LIMITS.leaves || depth > VIEW_LIMITS.depth) {
        this.truncated = true;
        return;
      }
      if (typeof v === 'string') out.push(v);
      else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') out.push(String(v));
      else if (Array.isArray(v)) for (const x of v) walk(x, depth + 1);
      else if (isObj(v)) for (const k in v) if (Object.hasOwn(v, k)) walk(v[k], depth + 1);
    };
    walk(this.raw, 0);
    this.leafCache = out;
    return out;
  }

  foldedLeaves(): string[] {
    if (!this.foldedLeafCache) this.foldedLeafCache = this.leaves().map(fold);
    return this.foldedLeafCache;
  }

  /**
   * The scalar leaves of the event that may hold a keyword literal of `minLength` characters or more, folded,
   * in one string, each followed by U+0000: what the literal index searches keyword literals in, in one pass
   * rather than one per leaf. A literal found in a leaf is found here (fold maps character by character,
   * fold.ts); one spanning two leaves would have to hold U+0000, and only makes a rule a candidate that its own
   * test then judges. A leaf is left out only when it cannot hold such a literal: fewer characters than
   * `minLength` and all of them ASCII (folding non-ASCII text may lengthen it: İ becomes i and a combining dot).
   * Built in one walk without listing the leaves first, and it sets `truncated` as `leaves()` does.
   */
  foldedText(minLength = 0): string {
    if (this.foldedTextCache === undefined || this.foldedTextMin !== minLength) {
      this.foldedTextMin = minLength;
      this.textLeaves = 0;
      this.text = '';
      this.truncated = false;
      this.textWalk(this.raw, 0, minLength);
      this.foldedTextCache = fold(this.text);
      this.text = '';
    }
    return this.foldedTextCache;
  }

  private text = '';
  private textLeaves = 0;
  private foldedTextMin = 0;

  /** foldedText's walk: the leaves `leaves()` lists, in its order, under the same bounds. */
  private textWalk(v: unknown, depth: number, min: number): void {
    if (this.textLeaves >= VIEW_LIMITS.leaves || depth > VIEW_LIMITS.depth) {
      this.truncated = true;
      return;
    }
    if (typeof v === 'string') {
      this.textLeaves++;
      if (v.length >= min || !isAscii(v)) this.text += v + '\u0000';
    } else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') {
      this.textLeaves++;
      const s = String(v);
      if (s.length >= min) this.text += s + '\u0000';
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) this.textWalk(v[i], depth + 1, min);
    } else if (isObj(v)) {
      for (const k in v) if (Object.hasOwn(v, k)) this.textWalk(v[k], depth + 1, min);
    }
  }
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** A compiled accessor for one field name; cheap to call, allocation-free. */
export type Accessor = (v: EventView) => unknown;

export function accessor(name: string): Accessor {
  const path = name.includes('.') ? name.split('.') : undefined;
  const safe = PROTO_KEYS.has(name) || (path?.some((p) => PROTO_KEYS.has(p)) ?? false);
  const own = safe
    ? (o: Obj, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined)
    : (o: Obj, k: string): unknown => o[k];
  return (view) => {
    let v = own(view.raw, name);
    if (v !== undefined) return unwrap(v);
    if (path) {
      let cur: unknown = view.raw;
      for (let i = 0; i < path.length && cur !== undefined; i++) {
        cur = isObj(cur) ? own(cur, path[i]!) : undefined;
      }
      if (cur !== undefined) return unwrap(cur);
    }
    const flat = view.flat();
    for (let i = 0; i < flat.length; i++) {
      v = own(flat[i]!, name);
      if (v !== undefined) return unwrap(v);
    }
    return undefined;
  };
}

/** Whether a field is present (even when null or empty), for the `exists` modifier. */
export function presence(name: string): (v: EventView) => boolean {
  const path = name.includes('.') ? name.split('.') : undefined;
  return (view) => {
    if (Object.hasOwn(view.raw, name)) return true;
    if (path) {
      let cur: unknown = view.raw;
      let ok = true;
      for (const p of path) {
        if (isObj(cur) && Object.hasOwn(cur, p)) cur = cur[p];
        else {
          ok = false;
          break;
        }
      }
      if (ok) return true;
    }
    return view.flat().some((c) => Object.hasOwn(c, name));
  };
}
