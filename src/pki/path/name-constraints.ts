/**
 * Name constraints (RFC 5280 sections 4.2.1.10 and 6.1.3 (b)-(c)): every name of a certificate (subject
 * DN, emailAddress attributes, subject alternative names, and, as OpenSSL does, a host-name-like CN of an
 * end entity without DNS names) must fall inside the permitted subtrees of its type, and outside the
 * excluded ones, of every CA above it. Each CA's constraints are kept apart and all checked, which is
 * the intersection the RFC describes. Forms we cannot compare (otherName, x400, ediParty, registeredID)
 * fail closed when a constraint of that form exists.
 */
import type { Certificate, NameConstraints } from './certificate.js';
import type { GeneralName } from './general-name.js';
import { attributeValues, nameWithin, describeName } from './name.js';
import { OID } from './oids.js';
import { reject } from './result.js';
import { MAX_NAME_CHECKS } from './limits.js';

function typeKey(n: GeneralName): string {
  return n.type === 'other' ? `other:${n.tag}` : n.type;
}

function dnsWithin(name: string, base: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  const b = base.toLowerCase().replace(/\.$/, '');
  if (b === '') return true;
  if (b.startsWith('.')) return n.endsWith(b) && n.length > b.length;
  return n === b || n.endsWith('.' + b);
}

function emailWithin(addr: string, base: string): boolean {
  const at = addr.lastIndexOf('@');
  if (at < 1) return false;
  if (base.includes('@'))
    return (
      addr.slice(0, at) === base.slice(0, base.lastIndexOf('@')) &&
      addr.slice(at + 1).toLowerCase() === base.slice(base.lastIndexOf('@') + 1).toLowerCase()
    );
  const host = addr.slice(at + 1).toLowerCase();
  const b = base.toLowerCase();
  if (b.startsWith('.')) return host.endsWith(b) && host.length > b.length;
  return host === b;
}

function uriWithin(uri: string, base: string): boolean {
  let host: string;
  try {
    host = new URL(uri).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (!host) return false;
  const b = base.toLowerCase();
  if (b.startsWith('.')) return host.endsWith(b) && host.length > b.length;
  return host === b;
}

function ipWithin(addr: Buffer, base: Buffer): boolean {
  if ((base.length !== 8 && base.length !== 32) || addr.length * 2 !== base.length) return false;
  const half = addr.length;
  for (let i = 0; i < half; i++) if ((addr[i] & base[half + i]) !== (base[i] & base[half + i])) return false;
  return true;
}

function within(n: GeneralName, base: GeneralName): boolean {
  if (n.type === 'dns' && base.type === 'dns') return dnsWithin(n.value, base.value);
  if (n.type === 'email' && base.type === 'email') return emailWithin(n.value, base.value);
  if (n.type === 'uri' && base.type === 'uri') return uriWithin(n.value, base.value);
  if (n.type === 'ip' && base.type === 'ip') return ipWithin(n.value, base.value);
  if (n.type === 'dir' && base.type === 'dir') return nameWithin(n.value, base.value);
  return false; // 'other' forms are never judged inside anything
}

const HOSTNAME = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/** The names a certificate is judged by. */
export function constrainedNames(cert: Certificate, isEndEntity: boolean): GeneralName[] {
  const names: GeneralName[] = [];
  if (cert.subject.rdns.length > 0) names.push({ type: 'dir', value: cert.subject });
  for (const e of attributeValues(cert.subject, OID.emailAddress)) names.push({ type: 'email', value: e });
  names.push(...cert.subjectAltNames);
  if (isEndEntity && !cert.subjectAltNames.some((n) => n.type === 'dns'))
    for (const cn of attributeValues(cert.subject, OID.commonName))
      if (HOSTNAME.test(cn)) names.push({ type: 'dns', value: cn });
  return names;
}

export function checkNameConstraints(
  cert: Certificate,
  index: number,
  isEndEntity: boolean,
  constraints: NameConstraints[],
): void {
  if (constraints.length === 0) return;
  const names = constrainedNames(cert, isEndEntity);
  let work = 0;
  for (const nc of constraints) {
    work += names.length * (nc.permitted.length + nc.excluded.length);
    if (work > MAX_NAME_CHECKS) reject('name_constraints', 'too many name constraint comparisons', index);
    for (const n of names) {
      const t = typeKey(n);
      const permitted = nc.permitted.filter((b) => typeKey(b) === t);
      if (permitted.length > 0 && !permitted.some((b) => within(n, b)))
        reject('name_constraints', `${show(n)} is outside the permitted subtrees`, index);
      if (nc.excluded.some((b) => typeKey(b) === t && (t.startsWith('other') || within(n, b))))
        reject('name_constraints', `${show(n)} is inside an excluded subtree`, index);
    }
  }
}

function show(n: GeneralName): string {
  switch (n.type) {
    case 'dir':
      return `directory name "${describeName(n.value)}"`;
    case 'ip':
      return `IP address ${n.value.length === 4 ? [...n.value].join('.') : n.value.toString('hex')}`;
    case 'other':
      return `name of form [${n.tag & 0x1f}]`;
    default:
      return `${n.type} name "${n.value}"`;
  }
}
