/**
 * Whether a certificate is valid for the peer it is presented for: a DNS name, an IP address or an e-mail
 * address (RFC 6125 section 6, RFC 9525, CA/Browser Forum Baseline Requirements 7.1.4.2, RFC 8398 for
 * mailboxes).
 *
 * - DNS names are compared as A-labels, case-insensitively, one trailing dot ignored; a name given in
 *   Unicode is converted to its A-label form first (IDNA, as `url.domainToASCII` does it).
 * - A wildcard is only `*` as the whole left-most label, matches exactly one non-empty label, never across
 *   labels, never alone, and never directly on a public suffix (`*.com`, `*.vn`, `*.gov.vn`, `*.com.vn`…:
 *   the list below is the part of the Public Suffix List that matters here, plus every one-label name).
 * - IP addresses (v4, v6) are compared as bytes with iPAddress entries only, never with DNS names or CNs.
 * - E-mail addresses: the local part exactly, the domain case-insensitively.
 * - The subject's CN (DNS) or emailAddress (e-mail) count only in the `rfc5280` profile, and only when the
 *   certificate has no subjectAltName entry of that type; the `strict` profile never reads them.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { TrucError } from '../../errors.js';
import type { Certificate } from './certificate.js';
import type { GeneralName } from './general-name.js';
import { attributeValues } from './name.js';
import { OID } from './oids.js';
import type { ProfileName } from './profile.js';
import { reject } from './result.js';

export type PeerName = { type: 'dns' | 'ip' | 'email'; value: string };

/** Public suffixes under which a wildcard is refused (besides every single-label name). */
export const PUBLIC_SUFFIXES: ReadonlySet<string> = new Set([
  // generic and Vietnamese second-level registries (VNNIC)
  ...['com', 'net', 'org', 'info', 'biz', 'edu', 'gov', 'mil', 'int', 'name', 'pro', 'io', 'vn'],
  ...['com.vn', 'net.vn', 'org.vn', 'edu.vn', 'gov.vn', 'int.vn', 'ac.vn', 'biz.vn', 'info.vn', 'name.vn'],
  ...['pro.vn', 'health.vn', 'id.vn', 'io.vn'],
  // a few others seen in partners' certificates
  ...['co.uk', 'org.uk', 'gov.uk', 'ac.uk', 'com.au', 'gov.au', 'co.jp', 'go.jp', 'com.cn', 'gov.cn'],
  ...['co.kr', 'go.kr', 'com.sg', 'gov.sg', 'co.th', 'go.th', 'com.my', 'gov.my', 'co.id', 'go.id'],
  ...['com.kh', 'gov.kh', 'com.la', 'gov.la'],
]);

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function isHostname(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  return s.split('.').every((l) => LABEL.test(l));
}

/** A DNS name in comparison form (A-labels, lower case, no trailing dot), or null when it is not one. */
function canonicalDns(s: string): string | null {
  let v = s.trim();
  if (v.endsWith('.')) v = v.slice(0, -1);
  if (/[^\x00-\x7f]/.test(v)) v = domainToASCII(v);
  v = v.toLowerCase();
  return isHostname(v) ? v : null;
}

export function ipBytes(s: string): Buffer | null {
  let v = s.trim();
  if (v.startsWith('[') && v.endsWith(']')) v = v.slice(1, -1);
  const kind = isIP(v);
  if (kind === 4) return Buffer.from(v.split('.').map(Number));
  if (kind !== 6 || v.includes('%')) return null; // a zone index names an interface, not an address
  let v4: number[] = [];
  const last = v.lastIndexOf(':');
  if (v.slice(last + 1).includes('.')) {
    v4 = v.slice(last + 1).split('.').map(Number);
    v = `${v.slice(0, last + 1)}0:0`;
  }
  const [head, tail] = v.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  if (v4.length) Buffer.from(v4).copy(out, 12);
  return out;
}

/** One name as the caller typed it: an IP address, an e-mail address (with `@`), or else a DNS name. */
export function peerNameOf(s: string): PeerName {
  const v = s.trim();
  if (ipBytes(v)) return { type: 'ip', value: v };
  if (v.includes('@')) return { type: 'email', value: v };
  return { type: 'dns', value: v };
}

type Reference =
  | { type: 'dns'; name: string; shown: string }
  | { type: 'ip'; bytes: Buffer; shown: string }
  | { type: 'email'; local: string; domain: string; shown: string };

/** The caller's name in comparison form; a name that cannot be one is the caller's error (bad_request). */
export function referenceOf(p: PeerName): Reference {
  const bad = (why: string) => new TrucError('bad_request', `${p.type} "${p.value.slice(0, 256)}": ${why}`);
  if (p.type === 'ip') {
    const bytes = ipBytes(p.value);
    if (!bytes) throw bad('không phải địa chỉ IP / not an IP address');
    return { type: 'ip', bytes, shown: p.value };
  }
  if (p.type === 'email') {
    const at = p.value.lastIndexOf('@');
    const domain = at > 0 ? canonicalDns(p.value.slice(at + 1)) : null;
    if (!domain || /[\s@]/.test(p.value.slice(0, at))) throw bad('không phải địa chỉ thư / not an e-mail address');
    return { type: 'email', local: p.value.slice(0, at), domain, shown: p.value };
  }
  const name = canonicalDns(p.value);
  if (!name) throw bad('không phải tên miền (ký tự đại diện không được dùng ở đây) / not a DNS name (wildcards are not references)');
  return { type: 'dns', name, shown: p.value };
}

/** Whether a presented DNS identifier (a dNSName, or a CN where allowed) covers the reference name. */
export function dnsMatches(presented: string, ref: string): boolean {
  let p = presented.toLowerCase();
  if (p.endsWith('.')) p = p.slice(0, -1);
  if (!p.startsWith('*.')) return isHostname(p) && p === ref;
  const base = p.slice(2);
  if (!isHostname(base) || !base.includes('.') || PUBLIC_SUFFIXES.has(base)) return false;
  const dot = ref.indexOf('.');
  return dot > 0 && ref.slice(dot + 1) === base;
}

function emailMatches(presented: string, ref: { local: string; domain: string }): boolean {
  const at = presented.lastIndexOf('@');
  if (at <= 0) return false;
  return presented.slice(0, at) === ref.local && presented.slice(at + 1).toLowerCase().replace(/\.$/, '') === ref.domain;
}

function ipText(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  if (b.length === 16) return (b.toString('hex').match(/.{4}/g) ?? []).map((g) => g.replace(/^0+(?=.)/, '')).join(':');
  return `(${b.length} bytes)`;
}

/** The names the certificate can be matched by, for the reference's type and the profile. */
function presented(cert: Certificate, ref: Reference, profile: ProfileName): string[] {
  const sans = cert.subjectAltNames.filter((n): n is Extract<GeneralName, { type: typeof ref.type }> => n.type === ref.type);
  if (ref.type === 'ip') return sans.map((n) => ipText(n.value as Buffer));
  const texts = sans.map((n) => n.value as string);
  if (texts.length || profile === 'strict') return texts;
  return attributeValues(cert.subject, ref.type === 'dns' ? OID.commonName : OID.emailAddress);
}

export function matchesPeerName(cert: Certificate, ref: Reference, profile: ProfileName): boolean {
  if (ref.type === 'ip')
    return cert.subjectAltNames.some((n) => n.type === 'ip' && n.value.length === ref.bytes.length && n.value.equals(ref.bytes));
  const names = presented(cert, ref, profile);
  return ref.type === 'dns' ? names.some((n) => dnsMatches(n, ref.name)) : names.some((n) => emailMatches(n, ref));
}

export function checkPeerName(cert: Certificate, ref: Reference, profile: ProfileName): void {
  if (matchesPeerName(cert, ref, profile)) return;
  const names = presented(cert, ref, profile);
  const kind = { dns: ['tên miền', 'DNS name'], ip: ['địa chỉ IP', 'IP address'], email: ['địa chỉ thư', 'e-mail address'] }[ref.type];
  const list = names.length ? names.slice(0, 10).join(', ') + (names.length > 10 ? ', …' : '') : '—';
  reject(
    'peer_name_mismatch',
    `chứng thư không hợp lệ cho ${kind[0]} ${ref.shown} (chứng thư ghi: ${list}) / the certificate is not valid for the ${kind[1]} ${ref.shown} (it names: ${list})`,
    0,
  );
}
