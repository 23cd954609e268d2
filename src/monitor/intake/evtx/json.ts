/**
 * From binary XML to the object `evtx_dump -o json` writes (omerbenamram/evtx), which our JSON intake and
 * the SigmaHQ regression data use:
 * - an element with only text is its value (a number or boolean when the text is one integer or boolean
 *   value), one with nothing is null;
 * - otherwise an object: `#attributes` (attributes with a value), `#text`, then the child elements, a
 *   repeated name getting `_1`, `_2`…;
 * - in EventData and UserData, Data elements with a Name become `Name: value` ("" when empty); Data
 *   elements without names become `Data: { "#text": value or [values] }`.
 * Templates are expanded here, value by value, without building an intermediate tree.
 */
import { BinXmlReader, ELEMENT, INSTANCE, MAX_DEPTH, NO_VALUES, SUBST, TEXT, type Values, type XElement, type XNode, BinXmlError } from './binxml.js';
import { BinXmlValue, textOf, type Value } from './values.js';

/** An element of the event with the values its slots take. */
class Ref {
  constructor(
    readonly e: XElement,
    readonly v: Values,
  ) {}
}

type Item = Ref | Exclude<Value, null | BinXmlValue>;

type Obj = Record<string, unknown>;

function put(o: Obj, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

export class JsonRenderer {
  constructor(private readonly reader: BinXmlReader) {}

  /** The `{ Event: … }` object of a record whose binary XML is `[start, end)` of the chunk. */
  record(start: number, end: number): Obj {
    const items: Item[] = [];
    this.resolve(this.reader.fragment(start, end, 0), NO_VALUES, items, 0);
    for (const it of items)
      if (it instanceof Ref) {
        const o: Obj = {};
        put(o, it.e.name, this.elementValue(it, false, 0));
        return o;
      }
    throw new BinXmlError('bản ghi không có phần tử (record holds no element)');
  }

  /** Expands slots, template instances and BinXml values into elements and non-empty values. */
  private resolve(nodes: XNode[], v: Values, out: Item[], depth: number): void {
    if (depth > MAX_DEPTH) throw new BinXmlError('mẫu lồng quá sâu (templates nested too deeply)');
    this.reader.spend(nodes.length);
    for (const n of nodes) {
      switch (n.kind) {
        case ELEMENT:
          out.push(new Ref(n, v));
          break;
        case TEXT:
          if (n.text !== '') out.push(n.text);
          break;
        case SUBST: {
          const x = v.get(n.index);
          if (x === null) break;
          if (x instanceof BinXmlValue) this.resolve(this.reader.fragment(x.offset, x.offset + x.size, depth + 1), NO_VALUES, out, depth + 1);
          else out.push(x);
          break;
        }
        case INSTANCE:
          this.resolve(n.template, n.values, out, depth + 1);
          break;
      }
    }
  }

  private attributes(r: Ref, depth: number): Obj | undefined {
    let o: Obj | undefined;
    for (const a of r.e.attrs) {
      const parts: Item[] = [];
      this.resolve(a.parts, r.v, parts, depth);
      let k = 0;
      for (const p of parts) if (!(p instanceof Ref)) parts[k++] = p;
      if (k === 0) continue;
      parts.length = k;
      put((o ??= {}), a.name, content(parts));
    }
    return o;
  }

  private elementValue(r: Ref, container: boolean, depth: number): unknown {
    const items: Item[] = [];
    this.resolve(r.e.children, r.v, items, depth + 1);
    const attrs = r.e.attrs.length ? this.attributes(r, depth) : undefined;
    let elements = 0;
    for (const it of items) if (it instanceof Ref) elements++;
    if (elements === 0) {
      if (!attrs) return items.length ? content(items) : null;
    }
    return this.body(items, elements, attrs, container, depth);
  }

  private body(items: Item[], elements: number, attrs: Obj | undefined, container: boolean, depth: number): Obj {
    const o: Obj = {};
    if (attrs) o['#attributes'] = attrs;
    if (items.length > elements) o['#text'] = content(elements ? items.filter((x) => !(x instanceof Ref)) : items);
    if (!elements) return o;
    let flatten = false;
    if (container)
      for (const it of items) if (it instanceof Ref && it.e.name === 'Data' && this.nameOf(it, depth) !== undefined) flatten = true;
    let seen: Map<string, number> | undefined;
    let positional = false;
    for (const it of items) {
      if (!(it instanceof Ref)) continue;
      const name = it.e.name;
      if (container && name === 'Data') {
        if (flatten) {
          const key = this.nameOf(it, depth);
          if (key !== undefined) put(o, key, this.dataValue(it, depth));
        } else if (!positional) {
          positional = true;
          const data = items.filter((x): x is Ref => x instanceof Ref && x.e.name === 'Data');
          o.Data = { '#text': data.length === 1 ? this.dataValue(data[0]!, depth) : data.map((d) => this.dataValue(d, depth)) };
        }
        continue;
      }
      let key = name;
      const n = (seen ??= new Map()).get(name);
      if (n === undefined) seen.set(name, 1);
      else {
        key = `${name}_${n}`;
        seen.set(name, n + 1);
      }
      put(o, key, this.elementValue(it, name === 'EventData' || name === 'UserData', depth + 1));
    }
    return o;
  }

  /** The text of a Data element's Name attribute, or undefined when it has none. */
  private nameOf(r: Ref, depth: number): string | undefined {
    for (const a of r.e.attrs) {
      if (a.name !== 'Name') continue;
      const parts: Item[] = [];
      this.resolve(a.parts, r.v, parts, depth);
      let s = '';
      for (const p of parts) if (!(p instanceof Ref)) s += textOf(p);
      return s === '' ? undefined : s;
    }
    return undefined;
  }

  private dataValue(r: Ref, depth: number): unknown {
    const items: Item[] = [];
    this.resolve(r.e.children, r.v, items, depth + 1);
    if (!items.length) return '';
    let elements = 0;
    for (const it of items) if (it instanceof Ref) elements++;
    if (!elements) return content(items);
    return this.body(items, elements, r.e.attrs.length ? this.attributes(r, depth) : undefined, false, depth + 1);
  }
}

/** One value keeps its JSON type; several are joined as text. */
function content(items: Item[]): unknown {
  if (items.length === 1) return items[0];
  let s = '';
  for (const it of items) if (!(it instanceof Ref)) s += textOf(it);
  return s;
}
