/**
 * The `cidr` modifier: IPv4 and IPv6 networks. Addresses are parsed to 16-bit groups (IPv4 as the last two
 * groups of a 4-group form) so a prefix test is a few integer comparisons, no allocation per event beyond parsing.
 */
import { TrucError } from '../../errors.js';

function parseV4(s: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) return undefined;
  return [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
}

function parseV6(input: string): number[] | undefined {
  let s = input;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.length > 45) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    const items = h.split(':');
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      if (it.includes('.')) {
        if (i !== items.length - 1) return undefined;
        const v4 = parseV4(it);
        if (!v4) return undefined;
        out.push(...v4);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(it)) return undefined;
        out.push(parseInt(it, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const fill = 8 - head.length - tail.length;
  if (fill < 1) return undefined;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}

/** Parses an address; IPv4 yields 2 groups, IPv6 8. */
export function parseIp(s: string): number[] | undefined {
  const t = s.trim();
  return t.includes(':') ? parseV6(t) : parseV4(t);
}

export function cidrMatcher(spec: string): (value: string) => boolean {
  const [addr, bitsText] = spec.split('/');
  const net = addr ? parseIp(addr) : undefined;
  const max = net ? net.length * 16 : 0;
  const bits = bitsText === undefined ? max : Number(bitsText);
  if (!net || !/^\d*$/.test(bitsText ?? '') || !(bits >= 0 && bits <= max)) {
    throw new TrucError('invalid_rule', `cidr: ${JSON.stringify(spec)} is not a network`);
  }
  const full = Math.floor(bits / 16);
  const rest = bits % 16;
  const mask = rest ? (0xffff << (16 - rest)) & 0xffff : 0;
  const groups = net.length;
  return (value) => {
    const ip = parseIp(value);
    if (!ip || ip.length !== groups) return false;
    for (let i = 0; i < full; i++) if (ip[i] !== net[i]) return false;
    return rest === 0 || (ip[full]! & mask) === (net[full]! & mask);
  };
}
