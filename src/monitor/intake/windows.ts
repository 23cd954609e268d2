/**
 * Windows event logs as exported from EVTX: JSON in the `{Event: {System, EventData}}` layout (what
 * evtx_dump and the Sigma regression data write) and the XML of "Save as XML" / `wevtutil qe /f:xml`.
 * The Windows structure stays as it is — Sigma's Windows rules read it directly — and ECS fields are added
 * beside it: `@timestamp` from TimeCreated, `event.code`/`event.action` from the event id, `host.name` from
 * Computer, and for logons (4624/4625/4648/4776) the user, the source address and the outcome.
 * XML is parsed with DTDs refused and bounded sizes, since event exports arrive from other machines.
 */
import { DOMParser, type Element } from '@xmldom/xmldom';
import { TrucError } from '../../errors.js';
import type { SecurityEvent } from '../../bus/index.js';

type Obj = Record<string, unknown>;

export const XML_LIMITS = { bytes: 64 * 1024 * 1024, events: 100_000, depth: 12 } as const;

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

function elements(n: Element): Element[] {
  const out: Element[] = [];
  for (let c = n.firstChild; c; c = c.nextSibling) if (c.nodeType === 1) out.push(c as Element);
  return out;
}

function attrs(n: Element): Obj | undefined {
  if (!n.attributes || n.attributes.length === 0) return undefined;
  const o: Obj = {};
  for (let i = 0; i < n.attributes.length; i++) {
    const a = n.attributes.item(i)!;
    if (a.name === 'xmlns' || a.name.startsWith('xmlns:')) continue;
    o[a.localName ?? a.name] = a.value;
  }
  return Object.keys(o).length ? o : undefined;
}

function textOf(n: Element): string {
  return (n.textContent ?? '').trim();
}

/** A generic element: attributes under `#attributes`, text under `#text` (or the text alone), children by name. */
function generic(n: Element, depth: number): unknown {
  if (depth > XML_LIMITS.depth) return textOf(n);
  const kids = elements(n);
  const a = attrs(n);
  if (kids.length === 0) {
    const t = textOf(n);
    return a ? { '#attributes': a, ...(t ? { '#text': t } : {}) } : t;
  }
  const o: Obj = a ? { '#attributes': a } : {};
  for (const k of kids) {
    const name = k.localName ?? k.nodeName;
    const v = generic(k, depth + 1);
    if (name in o) o[name] = ([] as unknown[]).concat(o[name], v);
    else o[name] = v;
  }
  return o;
}

function eventData(n: Element): Obj {
  const o: Obj = {};
  const unnamed: string[] = [];
  for (const d of elements(n)) {
    const name = d.getAttribute('Name');
    if (name) o[name] = textOf(d);
    else if ((d.localName ?? d.nodeName) === 'Data') unnamed.push(textOf(d));
    else o[d.localName ?? d.nodeName] = generic(d, 2);
  }
  if (unnamed.length) o.Data = unnamed.length === 1 ? unnamed[0] : unnamed;
  return o;
}

function eventElement(n: Element): Obj {
  const ev: Obj = {};
  for (const part of elements(n)) {
    const name = part.localName ?? part.nodeName;
    if (name === 'System') {
      const sys: Obj = {};
      for (const k of elements(part)) sys[k.localName ?? k.nodeName] = generic(k, 2);
      ev.System = sys;
    } else if (name === 'EventData') ev.EventData = eventData(part);
    else if (name === 'UserData') {
      const child = elements(part)[0];
      ev.UserData = child ? { [child.localName ?? child.nodeName]: eventData(child) } : {};
    } else ev[name] = generic(part, 1);
  }
  return { Event: ev };
}

/** Parses an EVTX XML export (`<Events><Event>…</Event>…</Events>` or one `<Event>`). */
export function parseWindowsXml(xml: string): Obj[] {
  if (xml.length > XML_LIMITS.bytes) throw new TrucError('too_large', `XML larger than ${XML_LIMITS.bytes} bytes`);
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new TrucError('malformed_xml', 'DTDs and entity declarations are not accepted');
  const errors: string[] = [];
  let doc;
  try {
    doc = new DOMParser({
      onError: (level: string, msg: string) => {
        if (level !== 'warning') errors.push(msg);
      },
    }).parseFromString(xml, 'text/xml');
  } catch (e) {
    throw new TrucError('malformed_xml', `not well-formed XML: ${(e as Error).message}`);
  }
  if (errors.length || !doc.documentElement) throw new TrucError('malformed_xml', `not well-formed XML: ${errors[0] ?? 'no root element'}`);
  const root = doc.documentElement as unknown as Element;
  const list = (root.localName ?? root.nodeName) === 'Event' ? [root] : elements(root).filter((e) => (e.localName ?? e.nodeName) === 'Event');
  if (list.length > XML_LIMITS.events) throw new TrucError('too_large', `more than ${XML_LIMITS.events} events`);
  return list.map(eventElement);
}
