/** GeneralName (RFC 5280 section 4.2.1.6) decoded into the forms name constraints and CRL scopes compare. */
import { TrucError } from '../../errors.js';
import { children, readElement, type Element } from '../../asn1/reader.js';
import { nameFromElement, type DistinguishedName } from './name.js';

export type GeneralName =
  | { type: 'email'; value: string }
  | { type: 'dns'; value: string }
  | { type: 'uri'; value: string }
  | { type: 'ip'; value: Buffer }
  | { type: 'dir'; value: DistinguishedName }
  | { type: 'other'; tag: number; raw: Buffer };

export const MAX_GENERAL_NAMES = 1024;

function ia5(el: Element, what: string): string {
  if (el.constructed) throw new TrucError('malformed_der', `${what}: constructed string`);
  for (const b of el.value)
    if (b > 0x7e || b < 0x20) throw new TrucError('malformed_der', `${what}: non-IA5 character in a name`);
  return el.value.toString('latin1');
}

export function readGeneralName(el: Element, what = 'GeneralName'): GeneralName {
  switch (el.tag) {
    case 0x81:
      return { type: 'email', value: ia5(el, what) };
    case 0x82:
      return { type: 'dns', value: ia5(el, what) };
    case 0x86:
      return { type: 'uri', value: ia5(el, what) };
    case 0x87:
      return { type: 'ip', value: el.value };
    case 0xa4: {
      // directoryName is EXPLICIT because Name is a CHOICE
      const inner = readElement(el.value, 0, what);
      if (inner.end !== el.value.length)
        throw new TrucError('malformed_der', `${what}: trailing bytes in directoryName`);
      return { type: 'dir', value: nameFromElement(inner, what) };
    }
    default:
      return { type: 'other', tag: el.tag, raw: el.raw };
  }
}

export function readGeneralNames(el: Element, what = 'GeneralNames'): GeneralName[] {
  return children(el, what, MAX_GENERAL_NAMES).map((c) => readGeneralName(c, what));
}

/** Comparison form for matching distribution point names (case-insensitive for text forms). */
export function generalNameKey(n: GeneralName): string {
  switch (n.type) {
    case 'dir':
      return `dir:${n.value.key}`;
    case 'ip':
      return `ip:${n.value.toString('hex')}`;
    case 'other':
      return `other:${n.raw.toString('hex')}`;
    case 'uri':
      return `uri:${n.value}`;
    default:
      return `${n.type}:${n.value.toLowerCase()}`;
  }
}
