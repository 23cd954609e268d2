/**
 * Subject alternative names: the GeneralNames we issue (DNS, e-mail, IP, URI), checked for syntax and
 * encoded to DER; and decoded from CSR extension requests.
 */
import { isIP } from 'node:net';
import { ipBytes as parseIp } from './path/peer-name.js';
import { TrucError } from '../errors.js';
import { seq, tlv } from '../asn1/der.js';
import { children, type Element } from '../asn1/reader.js';

export interface AltNames {
  dns: string[];
  email: string[];
  ip: string[];
  uri: string[];
}

export const emptyAltNames = (): AltNames => ({ dns: [], email: [], ip: [], uri: [] });

const DNS = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const EMAIL = /^[^\s@]{1,64}@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

function ipBytes(ip: string): Buffer {
  const b = isIP(ip) ? parseIp(ip) : null;
  if (!b) throw new TrucError('subject_not_allowed', `"${ip}" is not an IP address`);
  return b;
}

export function checkAltNames(a: AltNames): AltNames {
  const total = a.dns.length + a.email.length + a.ip.length + a.uri.length;
  if (total > 100) throw new TrucError('subject_not_allowed', 'at most 100 alternative names');
  const dns = a.dns.map((d) => d.toLowerCase());
  for (const d of dns)
    if (d.length > 253 || !DNS.test(d)) throw new TrucError('subject_not_allowed', `"${d}" is not a DNS name`);
  for (const e of a.email) if (!EMAIL.test(e)) throw new TrucError('subject_not_allowed', `"${e}" is not an e-mail address`);
  for (const ip of a.ip) ipBytes(ip);
  for (const u of a.uri) {
    try {
      const url = new URL(u);
      if (!/^[\x21-\x7e]+$/.test(u) || !url.protocol) throw new Error();
    } catch {
      throw new TrucError('subject_not_allowed', `"${u}" is not a URI`);
    }
  }
  return { dns, email: a.email, ip: a.ip, uri: a.uri };
}

function inCidr(ip: string, range: string): boolean {
  const [net, bits] = range.split('/');
  let a: Buffer, b: Buffer;
  try {
    a = ipBytes(ip);
    b = ipBytes(net!);
  } catch {
    return false;
  }
  if (a.length !== b.length) return false;
  const n = bits === undefined ? a.length * 8 : Number(bits);
  for (let i = 0; i < a.length * 8 && i < n; i++) {
    const m = 0x80 >> i % 8;
    if ((a[i >> 3]! & m) !== (b[i >> 3]! & m)) return false;
  }
  return true;
}

function dnsAllowed(name: string, list: readonly string[]): boolean {
  return list.some((e) => (e.startsWith('.') ? name.endsWith(e) && name.length > e.length : name === e));
}

/**
 * Refuses the names a profile's allow-list does not cover (see `Profile.names`): `localhost`, a wildcard
 * such as `*.gov.vn` or a public address only when the profile lists them.
 */
export function checkNamesAllowed(profile: string, a: AltNames, names: { dns: readonly string[]; ip: readonly string[]; wildcards: boolean }): void {
  for (const d of a.dns) {
    const wild = d.startsWith('*.');
    if (wild && !names.wildcards)
      throw new TrucError('subject_not_allowed', `hồ sơ ${profile} không cấp tên đại diện "${d}" (profile ${profile} does not certify wildcard names)`, { name: d });
    if (!dnsAllowed(wild ? d.slice(2) : d, names.dns))
      throw new TrucError('subject_not_allowed', `tên "${d}" không nằm trong danh sách cho phép của hồ sơ ${profile} ("${d}" is not in profile ${profile}'s allowed names)`, { name: d });
  }
  for (const ip of a.ip)
    if (!names.ip.some((r) => inCidr(ip, r)))
      throw new TrucError('subject_not_allowed', `địa chỉ ${ip} không nằm trong danh sách cho phép của hồ sơ ${profile} (${ip} is not in profile ${profile}'s allowed addresses)`, { name: ip });
}

export function encodeAltNames(a: AltNames): Buffer {
  return seq(
    ...a.email.map((e) => tlv(0x81, Buffer.from(e, 'ascii'))),
    ...a.dns.map((d) => tlv(0x82, Buffer.from(d, 'ascii'))),
    ...a.uri.map((u) => tlv(0x86, Buffer.from(u, 'ascii'))),
    ...a.ip.map((ip) => tlv(0x87, ipBytes(ip))),
  );
}

function ipString(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  if (b.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
    return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:::+/, '::');
  }
  throw new TrucError('malformed_der', 'bad iPAddress length');
}

export function decodeAltNames(gn: Element): AltNames {
  const out = emptyAltNames();
  for (const n of children(gn, 'subjectAltName', 200)) {
    if (n.tag === 0x81) out.email.push(n.value.toString('ascii'));
    else if (n.tag === 0x82) out.dns.push(n.value.toString('ascii'));
    else if (n.tag === 0x86) out.uri.push(n.value.toString('ascii'));
    else if (n.tag === 0x87) out.ip.push(ipString(n.value));
    // other name forms (otherName, directoryName) are not carried over from requests
  }
  return out;
}
