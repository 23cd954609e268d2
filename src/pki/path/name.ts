/**
 * Distinguished names and their comparison (RFC 5280 section 7.1, in the spirit of RFC 4518): two names
 * are equal when their RDNs match in order, each attribute compared by type and by value, string values
 * after Unicode NFKC, case folding and whitespace folding, whatever string type encoded them.
 */
import { TrucError } from '../../errors.js';
import { children, readElement, type Element } from '../../asn1/reader.js';
import { readOid } from './primitives.js';
import { OID } from './oids.js';

export interface Attribute {
  oid: string;
  /** decoded text for string types, null for others */
  text: string | null;
  /** comparison form */
  canon: string;
}

export interface DistinguishedName {
  der: Buffer;
  rdns: Attribute[][];
  /** equal keys ⇔ equal names */
  key: string;
}

const MAX_RDNS = 64;
const MAX_AVAS = 16;

function decodeString(tag: number, v: Buffer): string | null {
  switch (tag) {
    case 0x0c: // UTF8String
      return v.toString('utf8');
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x1a: // VisibleString
    case 0x14: // TeletexString, read as Latin-1 as most software does
      return v.toString('latin1');
    case 0x1e: {
      // BMPString, UTF-16BE
      if (v.length % 2) return null;
      const sw = Buffer.from(v);
      sw.swap16();
      return sw.toString('utf16le');
    }
    case 0x1c: {
      // UniversalString, UTF-32BE
      if (v.length % 4) return null;
      let s = '';
      for (let i = 0; i < v.length; i += 4) {
        const cp = v.readUInt32BE(i);
        if (cp > 0x10ffff) return null;
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default:
      return null;
  }
}

export function foldText(s: string): string {
  return s.normalize('NFKC').toLowerCase().trim().replace(/\s+/g, ' ');
}

export function parseName(der: Buffer, what = 'name'): DistinguishedName {
  const el = readElement(der, 0, what);
  return nameFromElement(el, what);
}

export function nameFromElement(el: Element, what = 'name'): DistinguishedName {
  if (el.tag !== 0x30) throw new TrucError('malformed_der', `${what}: a Name must be a SEQUENCE`);
  const rdns: Attribute[][] = [];
  for (const rdnEl of children(el, what, MAX_RDNS)) {
    if (rdnEl.tag !== 0x31) throw new TrucError('malformed_der', `${what}: an RDN must be a SET`);
    const avas: Attribute[] = [];
    for (const avaEl of children(rdnEl, what, MAX_AVAS)) {
      const parts = children(avaEl, what, 2);
      if (avaEl.tag !== 0x30 || parts.length !== 2)
        throw new TrucError('malformed_der', `${what}: bad attribute`);
      const oid = readOid(parts[0], what);
      const text = decodeString(parts[1].tag, parts[1].value);
      avas.push({
        oid,
        text,
        canon: text === null ? `#${parts[1].raw.toString('hex')}` : `'${foldText(text)}`,
      });
    }
    if (avas.length === 0) throw new TrucError('malformed_der', `${what}: empty RDN`);
    rdns.push(avas);
  }
  const key = JSON.stringify(rdns.map((r) => r.map((a) => `${a.oid}=${a.canon}`).sort()));
  return { der: el.raw, rdns, key };
}

function rdnKey(rdn: Attribute[]): string {
  return JSON.stringify(rdn.map((a) => `${a.oid}=${a.canon}`).sort());
}

/** Whether `name` lies within the subtree rooted at `base` (directoryName name constraints). */
export function nameWithin(name: DistinguishedName, base: DistinguishedName): boolean {
  if (base.rdns.length > name.rdns.length) return false;
  for (let i = 0; i < base.rdns.length; i++) if (rdnKey(base.rdns[i]) !== rdnKey(name.rdns[i])) return false;
  return true;
}

/** Values of one attribute type, in order (email addresses in the subject, common names). */
export function attributeValues(name: DistinguishedName, oid: string): string[] {
  const out: string[] = [];
  for (const rdn of name.rdns) for (const a of rdn) if (a.oid === oid && a.text !== null) out.push(a.text);
  return out;
}

const SHORT: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber',
  '0.9.2342.19200300.100.1.25': 'DC',
  [OID.emailAddress]: 'emailAddress',
};

/** A readable rendering for messages (not for comparison). */
export function describeName(name: DistinguishedName): string {
  return name.rdns
    .map((rdn) => rdn.map((a) => `${SHORT[a.oid] ?? a.oid}=${a.text ?? a.canon}`).join('+'))
    .join(', ');
}
