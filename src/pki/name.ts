/**
 * Distinguished names: the attribute types we issue, their string syntax (`C=VN, O=…, CN=…`: attributes in
 * the order written are the order in the DER, most significant first, as `openssl req -subj` takes them —
 * not RFC 4514's reversed order), and their DER encoding. DirectoryString values
 * are UTF8String (RFC 5280 §4.1.2.6), so Vietnamese names with diacritics round-trip; countryName and
 * serialNumber are PrintableString and emailAddress IA5String, as their ASN.1 definitions require.
 */
import { TrucError } from '../errors.js';
import { TAG, oid, seq, set, utf8, printable, ia5 } from '../asn1/der.js';
import { children, decodeOid, parseOne, type Element } from '../asn1/reader.js';

export interface NameAttribute {
  type: string; // short name, e.g. CN
  value: string;
}

export const ATTRIBUTES: Record<string, { oid: string; syntax: 'utf8' | 'printable' | 'ia5'; max: number }> = {
  CN: { oid: '2.5.4.3', syntax: 'utf8', max: 64 },
  SN: { oid: '2.5.4.4', syntax: 'utf8', max: 64 },
  serialNumber: { oid: '2.5.4.5', syntax: 'printable', max: 64 },
  C: { oid: '2.5.4.6', syntax: 'printable', max: 2 },
  L: { oid: '2.5.4.7', syntax: 'utf8', max: 128 },
  ST: { oid: '2.5.4.8', syntax: 'utf8', max: 128 },
  street: { oid: '2.5.4.9', syntax: 'utf8', max: 128 },
  O: { oid: '2.5.4.10', syntax: 'utf8', max: 64 },
  OU: { oid: '2.5.4.11', syntax: 'utf8', max: 64 },
  title: { oid: '2.5.4.12', syntax: 'utf8', max: 64 },
  GN: { oid: '2.5.4.42', syntax: 'utf8', max: 64 },
  organizationIdentifier: { oid: '2.5.4.97', syntax: 'utf8', max: 64 },
  UID: { oid: '0.9.2342.19200300.100.1.1', syntax: 'utf8', max: 64 },
  emailAddress: { oid: '1.2.840.113549.1.9.1', syntax: 'ia5', max: 255 },
};

const BY_OID = new Map(Object.entries(ATTRIBUTES).map(([k, v]) => [v.oid, k]));
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

export function encodeName(attrs: NameAttribute[]): Buffer {
  return seq(
    ...attrs.map((a) => {
      const def = ATTRIBUTES[a.type];
      if (!def) throw new TrucError('subject_not_allowed', `unknown name attribute "${a.type}"`);
      if (a.value.length === 0 || [...a.value].length > def.max)
        throw new TrucError('subject_not_allowed', `${a.type} must be 1 to ${def.max} characters`);
      let v: Buffer;
      if (def.syntax === 'printable') {
        if (!PRINTABLE.test(a.value))
          throw new TrucError('subject_not_allowed', `${a.type} must use PrintableString characters only`);
        v = printable(a.value);
      } else if (def.syntax === 'ia5') {
        if (!/^[\x20-\x7e]*$/.test(a.value)) throw new TrucError('subject_not_allowed', `${a.type} must be ASCII`);
        v = ia5(a.value);
      } else v = utf8(a.value.normalize('NFC'));
      return set(seq(oid(def.oid), v));
    }),
  );
}

const STRING_TAGS = new Set<number>([TAG.UTF8String, TAG.PrintableString, TAG.IA5String, 0x14, 0x1e, 0x1c]);
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** A string value of a request's name; bytes that are not the text their tag promises are refused, not guessed. */
function decodeString(el: Element): string {
  if (!STRING_TAGS.has(el.tag)) throw new TrucError('malformed_der', `name: unsupported string type ${el.tag}`);
  switch (el.tag) {
    case 0x1e: {
      // BMPString: UTF-16BE, two bytes a character
      if (el.value.length % 2) throw new TrucError('malformed_der', 'name: BMPString of odd length');
      return Buffer.from(el.value).swap16().toString('utf16le');
    }
    case 0x1c: {
      // UniversalString: UCS-4 big-endian
      if (el.value.length % 4) throw new TrucError('malformed_der', 'name: UniversalString length not a multiple of 4');
      let out = '';
      for (let i = 0; i < el.value.length; i += 4) {
        const cp = el.value.readUInt32BE(i);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new TrucError('malformed_der', 'name: bad UniversalString character');
        out += String.fromCodePoint(cp);
      }
      return out;
    }
    case TAG.UTF8String:
      try {
        return UTF8.decode(el.value);
      } catch {
        throw new TrucError('malformed_der', 'name: UTF8String is not valid UTF-8');
      }
    default:
      return el.value.toString('latin1');
  }
}

/** Decodes a Name; attributes of types we do not know are kept under their dotted OID. */
export function decodeName(der: Buffer): NameAttribute[] {
  const name = parseOne(der, 'name');
  if (name.tag !== TAG.SEQUENCE) throw new TrucError('malformed_der', 'name: not a SEQUENCE');
  const out: NameAttribute[] = [];
  for (const rdn of children(name, 'name', 64)) {
    if (rdn.tag !== TAG.SET) throw new TrucError('malformed_der', 'name: RDN is not a SET');
    for (const atv of children(rdn, 'name', 16)) {
      const [t, v] = children(atv, 'name', 2);
      if (!t || !v || t.tag !== TAG.OID) throw new TrucError('malformed_der', 'name: bad AttributeTypeAndValue');
      const o = decodeOid(t.value);
      // composed (NFC), as we encode: the subject we store and search is the one in the certificate
      out.push({ type: BY_OID.get(o) ?? o, value: decodeString(v).normalize('NFC') });
    }
  }
  return out;
}

function escapeValue(v: string): string {
  return v.replace(/([,+"\\<>;=])/g, '\\$1').replace(/^([ #])/, '\\$1').replace(/ $/, '\\ ');
}

export function nameToString(attrs: NameAttribute[]): string {
  return attrs.map((a) => `${a.type}=${escapeValue(a.value)}`).join(', ');
}

/** Parses `C=VN, O=Bộ Nội vụ, CN=Nguyễn Văn A` (commas inside values escaped with a backslash). */
export function parseNameString(s: string): NameAttribute[] {
  if (s.length > 4096) throw new TrucError('subject_not_allowed', 'subject string too long');
  const out: NameAttribute[] = [];
  let cur = '';
  const parts: string[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '\\' && i + 1 < s.length) {
      cur += ch + s[++i];
    } else if (ch === ',') {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const p of parts) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new TrucError('subject_not_allowed', `bad name component "${p.trim()}"`);
    const type = p.slice(0, eq).trim();
    const canonical = Object.keys(ATTRIBUTES).find((k) => k.toLowerCase() === type.toLowerCase());
    if (!canonical) throw new TrucError('subject_not_allowed', `unknown name attribute "${type}"`);
    const value = p
      .slice(eq + 1)
      .trim()
      .replace(/\\(.)/g, '$1')
      .normalize('NFC');
    out.push({ type: canonical, value });
  }
  return out;
}
