/**
 * From binary XML to the object `evtx_dump -o json` writes (omerbenamram/evtx), which our JSON intake and
 * the SigmaHQ regression data use:
 * - an element with only text is its value (a number or boolean when the text is one integer or boolean
 *   value), one with nothing is null;
 * - otherwise an object: `#attributes` (attributes with a value), `#text`, then the child elements, a
 *   repeated name getting `_1`, `_2`…;
 * - in EventData and UserData, Data elements with a Name become `Name: value` ("" when empty); Data
 *   elements without names become `Data: { "#text": value or [values] }`.
 * Templates are expanded here, value by value, without building an intermediate tree; what can be known of
 * an element from its template alone (a single slot, only child elements, a literal Name) is worked out
 * once per template and kept on it.
 */
import { BinXmlError, BinXmlReader, ELEMENT, INSTANCE, MAX_DEPTH, NO_VALUES, SUBST, TEXT, type Values, type XElement, type XNode } from './binxml.js';
import { BinXmlValue, textOf, type Value } from './values.js';

/** An element reached through a slot or another template instance, with the values its slots take. */
class Ref {
  constructor(
    readonly e: XElement,
    readonly v: Values,
  ) {}
}

/** A child: an element of the template being rendered (its values), an element from elsewhere, or a value. */
type Item = XElement | Ref | Exclude<Value, null | BinXmlValue>;

type Obj = Record<string, unknown>;

interface Shape {
  /** Index of the one slot that is the element's whole content, or -1. */
  slot: number;
  /** Children are elements only (no text, slots or instances): no expansion needed. */
  elementsOnly: boolean;
  /** The Name attribute's literal text; null when it comes from a slot; undefined when there is none. */
  name: string | null | undefined;
  /**
   * When the children are elements whose keys the template fixes (names, `_N` suffixes, literal Data
   * names): the key of each child ('' for a Data left out), once as a container and once not, and an
   * object with those keys to copy, which is much faster than adding keys one by one.
   */
  keys?: [string[], Obj] | null;
  containerKeys?: [string[], Obj] | null;
}

function fixedKeys(e: XElement, container: boolean): [string[], Obj] | null {
  if (!shapeOf(e).elementsOnly || !e.children.length) return null;
  const children = e.children as XElement[];
  const keys: string[] = [];
  const seen = new Map<string, number>();
  const flatten = container && children.some((c) => c.name === 'Data' && shapeOf(c).name != null);
  for (const c of children) {
    if (container && c.name === 'Data') {
      const n = shapeOf(c).name;
      if (!flatten || n === null) return null; // positional Data, or a name from a slot
      keys.push(n ?? '');
      continue;
    }
    const n = seen.get(c.name);
    seen.set(c.name, (n ?? 0) + 1);
    keys.push(n === undefined ? c.name : `${c.name}_${n}`);
  }
  if (keys.includes('__proto__')) return null;
  const proto: Obj = {};
  for (const k of keys) if (k !== '') proto[k] = null;
  return [keys, proto];
}

function shapeOf(e: XElement): Shape {
  let s = e.shape as Shape | undefined;
  if (s) return s;
  let name: string | null | undefined;
  for (const a of e.attrs)
    if (a.name === 'Name') {
      name = a.parts.every((p) => p.kind === TEXT) ? a.parts.map((p) => (p as { text: string }).text).join('') : null;
      if (name === '') name = undefined;
      break;
    }
  const c = e.children;
  s = { slot: c.length === 1 && c[0]!.kind === SUBST ? c[0]!.index : -1, elementsOnly: c.every((n) => n.kind === ELEMENT), name };
  e.shape = s;
  return s;
}

function isElement(it: Item): it is XElement | Ref {
  return typeof it === 'object' && !Array.isArray(it);
}

function put(o: Obj, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

export class JsonRenderer {
  constructor(private readonly reader: BinXmlReader) {}

  /** The `{ Event: … }` object of a record whose binary XML is `[start, end)` of the chunk. */
  record(start: number, end: number): Obj {
    const items: Item[] = [];
    this.resolve(this.reader.fragment(start, end, 0), NO_VALUES, items, 0, undefined);
    for (const it of items)
      if (isElement(it)) {
        const r = it as Ref; // resolve() with no base values gives Refs only
        const o: Obj = {};
        put(o, r.e.name, this.elementValue(r.e, r.v, false, 0));
        return o;
      }
    throw new BinXmlError('bản ghi không có phần tử (record holds no element)');
  }

  /**
   * Expands slots, template instances and BinXml values into elements and non-empty values. Elements whose
   * values are `base` are pushed as they are, others with their values.
   */
  private resolve(nodes: XNode[], v: Values, out: Item[], depth: number, base: Values | undefined): void {
    if (depth > MAX_DEPTH) throw new BinXmlError('mẫu lồng quá sâu (templates nested too deeply)');
    this.reader.spend(nodes.length);
    for (const n of nodes) {
      switch (n.kind) {
        case ELEMENT:
          out.push(v === base ? n : new Ref(n, v));
          break;
        case TEXT:
          if (n.text !== '') out.push(n.text);
          break;
        case SUBST: {
          const x = v.get(n.index);
          if (x === null) break;
          if (x instanceof BinXmlValue) this.resolve(this.reader.fragment(x.offset, x.offset + x.size, depth + 1), NO_VALUES, out, depth + 1, base);
          else out.push(x);
          break;
        }
        case INSTANCE:
          this.resolve(n.template, n.values, out, depth + 1, base);
          break;
      }
    }
  }

  private attributes(e: XElement, v: Values, depth: number): Obj | undefined {
    let o: Obj | undefined;
    for (const a of e.attrs) {
      const p = a.parts;
      let value: unknown;
      if (p.length === 1 && p[0]!.kind === TEXT) value = p[0].text === '' ? undefined : p[0].text;
      else if (p.length === 1 && p[0]!.kind === SUBST) {
        const x = v.get(p[0].index);
        value = x === null ? undefined : x instanceof BinXmlValue ? this.attributeText(p, v, depth) : x;
      } else value = this.attributeText(p, v, depth);
      if (value !== undefined) put((o ??= {}), a.name, value);
    }
    return o;
  }

  private attributeText(p: XNode[], v: Values, depth: number): unknown {
    const parts: Item[] = [];
    this.resolve(p, v, parts, depth, v);
    let k = 0;
    for (const x of parts) if (!isElement(x)) parts[k++] = x;
    if (k === 0) return undefined;
    parts.length = k;
    return content(parts);
  }

  private elementValue(e: XElement, v: Values, container: boolean, depth: number): unknown {
    const s = shapeOf(e);
    const attrs = e.attrs.length ? this.attributes(e, v, depth) : undefined;
    if (s.slot >= 0 && !attrs) {
      const x = v.get(s.slot);
      if (x === null) return null;
      if (!(x instanceof BinXmlValue)) return x;
    }
    let items: Item[];
    if (s.elementsOnly) {
      if (!attrs && e.children.length) {
        const fixed = container ? (s.containerKeys === undefined ? (s.containerKeys = fixedKeys(e, true)) : s.containerKeys) : s.keys === undefined ? (s.keys = fixedKeys(e, false)) : s.keys;
        if (fixed) return this.fixedBody(e.children as XElement[], v, fixed, container, depth);
      }
      items = e.children as XElement[];
      this.reader.spend(items.length);
    } else this.resolve(e.children, v, (items = []), depth + 1, v);
    let elements = 0;
    for (const it of items) if (isElement(it)) elements++;
    if (elements === 0 && !attrs) return items.length ? content(items) : null;
    return this.body(items, elements, v, attrs, container, depth);
  }

  private body(items: Item[], elements: number, v: Values, attrs: Obj | undefined, container: boolean, depth: number): Obj {
    const o: Obj = {};
    if (attrs) o['#attributes'] = attrs;
    if (items.length > elements) o['#text'] = content(elements ? items.filter((x) => !isElement(x)) : items);
    if (!elements) return o;
    let flatten = false;
    if (container)
      for (const it of items) {
        if (!isElement(it)) continue;
        const [ce, cv] = it instanceof Ref ? [it.e, it.v] : [it, v];
        if (ce.name === 'Data' && this.nameOf(ce, cv, depth) !== undefined) {
          flatten = true;
          break;
        }
      }
    let seen: Map<string, number> | undefined;
    let positional = false;
    for (const it of items) {
      if (!isElement(it)) continue;
      const ce = it instanceof Ref ? it.e : it;
      const cv = it instanceof Ref ? it.v : v;
      const name = ce.name;
      if (container && name === 'Data') {
        if (flatten) {
          const key = this.nameOf(ce, cv, depth);
          if (key !== undefined) put(o, key, this.dataValue(ce, cv, depth));
        } else if (!positional) {
          positional = true;
          const data: unknown[] = [];
          for (const d of items)
            if (isElement(d)) {
              if (d instanceof Ref) {
                if (d.e.name === 'Data') data.push(this.dataValue(d.e, d.v, depth));
              } else if (d.name === 'Data') data.push(this.dataValue(d, v, depth));
            }
          o.Data = { '#text': data.length === 1 ? data[0] : data };
        }
        continue;
      }
      let key = name;
      if (seen === undefined) seen = new Map([[name, 1]]);
      else {
        const n = seen.get(name);
        if (n === undefined) seen.set(name, 1);
        else {
          key = `${name}_${n}`;
          seen.set(name, n + 1);
        }
      }
      put(o, key, this.elementValue(ce, cv, name === 'EventData' || name === 'UserData', depth + 1));
    }
    return o;
  }

  private fixedBody(children: XElement[], v: Values, [keys, proto]: [string[], Obj], container: boolean, depth: number): Obj {
    this.reader.spend(children.length);
    const o: Obj = { ...proto };
    for (let i = 0; i < children.length; i++) {
      const k = keys[i]!;
      if (k === '') continue;
      const c = children[i]!;
      o[k] = container && c.name === 'Data' ? this.dataValue(c, v, depth) : this.elementValue(c, v, c.name === 'EventData' || c.name === 'UserData', depth + 1);
    }
    return o;
  }

  /** The text of a Data element's Name attribute, or undefined when it has none. */
  private nameOf(e: XElement, v: Values, depth: number): string | undefined {
    const s = shapeOf(e);
    if (s.name !== null) return s.name;
    for (const a of e.attrs) {
      if (a.name !== 'Name') continue;
      const parts: Item[] = [];
      this.resolve(a.parts, v, parts, depth, v);
      let t = '';
      for (const p of parts) if (!isElement(p)) t += textOf(p);
      return t === '' ? undefined : t;
    }
    return undefined;
  }

  private dataValue(e: XElement, v: Values, depth: number): unknown {
    const s = shapeOf(e);
    if (s.slot >= 0) {
      const x = v.get(s.slot);
      if (x === null) return '';
      if (!(x instanceof BinXmlValue)) return x;
    }
    let items: Item[];
    if (s.elementsOnly) this.reader.spend((items = e.children as XElement[]).length);
    else this.resolve(e.children, v, (items = []), depth + 1, v);
    if (!items.length) return '';
    let elements = 0;
    for (const it of items) if (isElement(it)) elements++;
    if (!elements) return content(items);
    return this.body(items, elements, v, e.attrs.length ? this.attributes(e, v, depth) : undefined, false, depth + 1);
  }
}

/** One value keeps its JSON type; several are joined as text. */
function content(items: Item[]): unknown {
  if (items.length === 1) return items[0];
  let s = '';
  for (const it of items) if (!isElement(it)) s += textOf(it);
  return s;
}
