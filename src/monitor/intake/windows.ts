/**
 * Windows event logs as exported from EVTX: JSON in the `{Event: {System, EventData}}` layout (what
 * evtx_dump and the Sigma regression data write) and the XML of "Save as XML" / `wevtutil qe /f:xml`.
 * The Windows structure stays as it is — Sigma's Windows rules read it directly — and ECS fields are added
 * beside it: `@timestamp` from TimeCreated, `event.code`/`event.action` from the event id, `host.name` from
 * Computer, and for logons (4624/4625/4648/4776) the user, the source address and the outcome. Values that
 * hold Windows message codes (`%%4417`) keep them, and their text as Windows renders it goes beside them
 * under `Event.RenderedData` (windows-messages.ts), where rules find it too.
 * XML arrives from other machines, so it is parsed as a stream (saxes) with every bound checked as the
 * parser goes — size, depth, elements, attributes, events — and only one event's elements held at a time;
 * a DTD is refused. The chunked form gives the event loop back between slices.
 */
import { SaxesParser } from 'saxes';
import { TrucError } from '../../errors.js';
import type { SecurityEvent } from '../../bus/index.js';
import { renderWindowsMessages } from './windows-messages.js';
import { readTextInSlices, Slicer, tooLargeBody } from './text-stream.js';

type Obj = Record<string, unknown>;

export const XML_LIMITS = {
  /** characters of XML accepted in all */
  bytes: 64 * 1024 * 1024,
  /** events in one document */
  events: 100_000,
  /** depth kept as structure in an event; deeper elements become their text */
  depth: 12,
  /** nesting accepted at all (an EVTX export is about six deep) */
  nesting: 64,
  /** elements in one event, and in the whole document */
  eventElements: 10_000,
  elements: 2_000_000,
  /** attributes on one element */
  attributes: 256,
} as const;

export interface XmlLimits {
  bytes: number;
  events: number;
  nesting: number;
  eventElements: number;
  elements: number;
  attributes: number;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(v: unknown): string | undefined {
  if (isObj(v) && '#text' in v) v = v['#text'];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

const LOGON: Record<string, { outcome: 'success' | 'failure'; action: string }> = {
  '4624': { outcome: 'success', action: 'logged-in' },
  '4625': { outcome: 'failure', action: 'logon-failed' },
  '4648': { outcome: 'success', action: 'logged-in-explicit' },
  '4776': { outcome: 'unknown' as 'success', action: 'credential-validated' },
};

/**
 * The values of EventData (or UserData's element) that hold message codes (`%%4417`), with the codes
 * replaced by their text as Windows renders them; undefined when none does. The values themselves stay as
 * the source has them: SigmaHQ rules match the codes as often as the words.
 */
function renderedData(ev: Obj): Obj | undefined {
  let out: Obj | undefined;
  const fields = (o: unknown): void => {
    if (!isObj(o)) return;
    for (const [k, v] of Object.entries(o)) {
      const r = typeof v === 'string' ? renderWindowsMessages(v) : undefined;
      if (r !== undefined) (out ??= {})[k] = r;
    }
  };
  fields(ev.EventData);
  if (isObj(ev.UserData)) for (const v of Object.values(ev.UserData)) fields(v);
  return out;
}

/** Adds ECS fields to a Windows-layout event; undefined when it is not one. */
export function normalizeWindows(e: Obj): SecurityEvent | undefined {
  const ev = e.Event;
  if (!isObj(ev) || !isObj(ev.System)) return undefined;
  const sys = ev.System;
  const data = isObj(ev.EventData) ? ev.EventData : {};
  const tc = sys.TimeCreated;
  const st = isObj(tc) && isObj(tc['#attributes']) ? tc['#attributes'].SystemTime : text(tc);
  const id = text(sys.EventID) ?? '0';
  const out = e as SecurityEvent;
  if (typeof out['@timestamp'] !== 'string' && typeof st === 'string') {
    const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(st) ? st : st + 'Z');
    if (!Number.isNaN(ms)) out['@timestamp'] = new Date(ms).toISOString();
  }
  const logon = LOGON[id];
  const channel = text(sys.Channel) ?? '';
  if (!isObj(out.event)) {
    out.event = {
      kind: 'event',
      category: logon ? ['authentication'] : [],
      action: logon?.action ?? `windows-event-${id}`,
      outcome: logon && logon.outcome !== ('unknown' as string) ? logon.outcome : 'unknown',
      module: 'windows',
      dataset: `windows.${channel.toLowerCase().replace(/[^a-z0-9]+/g, '_')}`,
    };
    (out.event as Obj).code = id;
    const provider = isObj(sys.Provider) && isObj(sys.Provider['#attributes']) ? sys.Provider['#attributes'].Name : undefined;
    if (typeof provider === 'string') (out.event as Obj).provider = provider;
  }
  const rendered = renderedData(ev);
  if (rendered) ev.RenderedData = rendered;
  else delete ev.RenderedData;
  const computer = text(sys.Computer);
  if (computer && !out.host) out.host = { name: computer };
  if (logon) {
    const user = text(data.TargetUserName) ?? text(data.SubjectUserName);
    if (user && !out.user) out.user = { name: user };
    const ip = text(data.IpAddress);
    if (ip && ip !== '-' && !out.source) out.source = { ip, ...(/^\d+$/.test(text(data.IpPort) ?? '') ? { port: Number(text(data.IpPort)) } : {}) };
  }
  return out;
}

/** An element of an event being built: its name without prefix, attributes and content in order. */
interface Node {
  name: string;
  attrs: Record<string, string>;
  content: (Node | string)[];
}

function localName(q: string): string {
  const i = q.indexOf(':');
  return i < 0 ? q : q.slice(i + 1);
}

function elements(n: Node): Node[] {
  const out: Node[] = [];
  for (const c of n.content) if (typeof c !== 'string') out.push(c);
  return out;
}

function attrs(n: Node): Obj | undefined {
  let o: Obj | undefined;
  for (const [k, v] of Object.entries(n.attrs)) {
    if (k === 'xmlns' || k.startsWith('xmlns:')) continue;
    (o ??= {})[localName(k)] = v;
  }
  return o;
}

/**
 * The text of an element exactly as the document has it: an element with no child elements gives all its
 * text, spaces, tabs and line breaks included (`<Data Name="X"> </Data>` is " ", as Windows and the JSON
 * export have it); in an element with children, text made only of white space lies between elements and is
 * the document's indentation, not a value.
 */
function textContent(n: Node, out: string[]): string[] {
  const mixed = n.content.some((c) => typeof c !== 'string');
  for (const c of n.content) {
    if (typeof c !== 'string') textContent(c, out);
    else if (!mixed || !ONLY_SPACE.test(c)) out.push(c);
  }
  return out;
}

const ONLY_SPACE = /^[ \t\r\n]*$/;

function textOf(n: Node): string {
  return textContent(n, []).join('');
}

/** Adds text to an element, joined to the text before it (the parser may hand one text in several pieces). */
function addText(n: Node, x: string): void {
  const last = n.content.length - 1;
  if (last >= 0 && typeof n.content[last] === 'string') n.content[last] = (n.content[last] as string) + x;
  else n.content.push(x);
}

/** A generic element: attributes under `#attributes`, text under `#text` (or the text alone), children by name. */
function generic(n: Node, depth: number): unknown {
  if (depth > XML_LIMITS.depth) return textOf(n);
  const kids = elements(n);
  const a = attrs(n);
  if (kids.length === 0) {
    const t = textOf(n);
    return a ? { '#attributes': a, ...(t ? { '#text': t } : {}) } : t;
  }
  const o: Obj = a ? { '#attributes': a } : {};
  for (const k of kids) {
    const v = generic(k, depth + 1);
    if (k.name in o) o[k.name] = ([] as unknown[]).concat(o[k.name], v);
    else o[k.name] = v;
  }
  return o;
}

function eventData(n: Node): Obj {
  const o: Obj = {};
  const unnamed: string[] = [];
  for (const d of elements(n)) {
    const name = d.attrs.Name;
    if (name) o[name] = textOf(d);
    else if (d.name === 'Data') unnamed.push(textOf(d));
    else o[d.name] = generic(d, 2);
  }
  if (unnamed.length) o.Data = unnamed.length === 1 ? unnamed[0] : unnamed;
  return o;
}

function eventElement(n: Node): Obj {
  const ev: Obj = {};
  for (const part of elements(n)) {
    if (part.name === 'System') {
      const sys: Obj = {};
      for (const k of elements(part)) sys[k.name] = generic(k, 2);
      ev.System = sys;
    } else if (part.name === 'EventData') ev.EventData = eventData(part);
    else if (part.name === 'UserData') {
      const child = elements(part)[0];
      ev.UserData = child ? { [child.name]: eventData(child) } : {};
    } else ev[part.name] = generic(part, 1);
  }
  return { Event: ev };
}

function tooLarge(msg: string, max: number): never {
  throw new TrucError('too_large', msg, { max });
}

function malformed(msg: string): never {
  throw new TrucError('malformed_xml', msg);
}

/**
 * A streaming parser of an EVTX XML export (`<Events><Event>…</Event>…</Events>` or one `<Event>`): feed it
 * text with `write`, which returns the events completed so far; `close` checks the document ended.
 * Elements outside an event are checked and counted, never kept.
 */
export class WindowsXmlParser {
  private readonly sax = new SaxesParser({ position: false });
  private readonly limits: XmlLimits;
  private readonly stack: (Node | null)[] = [];
  private done: Obj[] = [];
  private events = 0;
  private elements = 0;
  private inEvent = 0;
  private chars = 0;
  private rootIsEvent = false;

  constructor(limits: Partial<XmlLimits> = {}) {
    this.limits = { ...XML_LIMITS, ...limits };
    const L = this.limits;
    this.sax.on('doctype', () => malformed('DTDs and entity declarations are not accepted (không nhận DTD và khai báo thực thể)'));
    this.sax.on('opentag', (t) => {
      const depth = this.stack.length;
      if (depth >= L.nesting) tooLarge(`XML nested deeper than ${L.nesting} elements (XML lồng sâu quá ${L.nesting} cấp)`, L.nesting);
      if (++this.elements > L.elements) tooLarge(`more than ${L.elements} XML elements (quá ${L.elements} phần tử XML)`, L.elements);
      const attributes = t.attributes as Record<string, string>;
      if (Object.keys(attributes).length > L.attributes) tooLarge(`more than ${L.attributes} attributes on one element (quá ${L.attributes} thuộc tính)`, L.attributes);
      const name = localName(t.name);
      const parent = depth > 0 ? this.stack[depth - 1]! : null;
      let node: Node | null = null;
      if (parent) {
        if (++this.inEvent > L.eventElements)
          tooLarge(`more than ${L.eventElements} elements in one event (quá ${L.eventElements} phần tử trong một sự kiện)`, L.eventElements);
        node = { name, attrs: attributes, content: [] };
        parent.content.push(node);
      } else if (name === 'Event' && (depth === 0 || (depth === 1 && !this.rootIsEvent))) {
        if (depth === 0) this.rootIsEvent = true;
        if (++this.events > L.events) tooLarge(`more than ${L.events} events (quá ${L.events} sự kiện)`, L.events);
        this.inEvent = 1;
        node = { name, attrs: attributes, content: [] };
      }
      this.stack.push(node);
    });
    this.sax.on('text', (x) => {
      const top = this.stack[this.stack.length - 1];
      if (top) addText(top, x);
    });
    this.sax.on('cdata', (x) => {
      const top = this.stack[this.stack.length - 1];
      if (top) addText(top, x);
    });
    this.sax.on('closetag', () => {
      const node = this.stack.pop();
      // a kept element with no kept parent is an event: convert it and let its elements go
      if (node && (this.stack.length === 0 || this.stack[this.stack.length - 1] === null)) this.done.push(eventElement(node));
    });
  }

  /** Parses the next piece of text; returns the events it completed. */
  write(chunk: string): Obj[] {
    this.chars += chunk.length;
    if (this.chars > this.limits.bytes) tooLarge(`XML larger than ${this.limits.bytes} bytes (XML lớn quá ${this.limits.bytes} byte)`, this.limits.bytes);
    this.guard(() => this.sax.write(chunk));
    const out = this.done;
    this.done = [];
    return out;
  }

  /** Ends the document: throws when it is not well-formed or has no root element. */
  close(): Obj[] {
    this.guard(() => this.sax.close());
    if (this.elements === 0) malformed('not well-formed XML: no root element (XML không đúng dạng: không có phần tử gốc)');
    const out = this.done;
    this.done = [];
    return out;
  }

  private guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      if (e instanceof TrucError) throw e;
      malformed(`not well-formed XML (XML không đúng dạng): ${(e as Error).message}`);
    }
  }
}

/** Parses a whole EVTX XML export at once (still bounded as it streams). */
export function parseWindowsXml(xml: string, limits: Partial<XmlLimits> = {}): Obj[] {
  const p = new WindowsXmlParser(limits);
  return [...p.write(xml), ...p.close()];
}

/** Parses an EVTX XML export in slices, giving the event loop back between them. */
export async function parseWindowsXmlChunked(xml: string, limits: Partial<XmlLimits> = {}): Promise<Obj[]> {
  const max = limits.bytes ?? XML_LIMITS.bytes;
  if (xml.length > max) tooLargeBody('XML', max);
  const p = new WindowsXmlParser(limits);
  const out: Obj[] = [];
  await new Slicer((t) => {
    for (const e of p.write(t)) out.push(e);
  }).feed(xml);
  for (const e of p.close()) out.push(e);
  return out;
}

/**
 * Parses an EVTX XML export as its bytes arrive (a request body), checking every bound as it goes: a
 * declared length over `limits.bytes` is refused before anything is read, and the bytes, events and
 * elements as they come — so an oversized or hostile body is refused after reading no more than the bound,
 * never held whole. UTF-8, as HTTP bodies of application/xml are here.
 */
export async function parseWindowsXmlStream(body: AsyncIterable<Uint8Array | string>, limits: Partial<XmlLimits> = {}, declaredLength?: number): Promise<Obj[]> {
  const p = new WindowsXmlParser(limits);
  const out: Obj[] = [];
  const write = (t: string) => {
    for (const e of p.write(t)) out.push(e);
  };
  await readTextInSlices(body, write, { max: limits.bytes ?? XML_LIMITS.bytes, declaredLength, what: 'XML' });
  for (const e of p.close()) out.push(e);
  return out;
}
