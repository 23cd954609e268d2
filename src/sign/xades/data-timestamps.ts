/**
 * Time-stamps over the signed data objects, taken before signing and signed with the signature (EN 319 132-1
 * §5.2.8): xades:AllDataObjectsTimeStamp and xades:IndividualDataObjectsTimeStamp, in
 * SignedProperties/SignedDataObjectProperties. A valid one proves the data existed at its time, whoever signed
 * later. The message imprint's input is made from ds:References of the signature:
 *   AllDataObjectsTimeStamp         every ds:Reference of ds:SignedInfo except the one to SignedProperties, in
 *                                   their order of appearance (§5.2.8.1);
 *   IndividualDataObjectsTimeStamp  the ds:Reference each xades:Include names (URI="#Id of the ds:Reference",
 *                                   referencedData="true"), in the order of the Includes (§5.2.8.2, §5.1.4.4.2);
 * each processed as XML-DSig does (dereference, transforms) and, when the result is still a node-set,
 * canonicalised with the time-stamp's ds:CanonicalizationMethod (Canonical XML 1.0 when there is none, §4.5);
 * the octets concatenated. The data is what the reference's digest is computed over (when that is octets), so
 * the time-stamp and the signature speak of the same bytes.
 */
import { TrucError } from '../../errors.js';
import { C14N10 } from './dsig/c14n.js';
import { DS, dsChildren, referenceData, type DetachedContent } from './dsig/reference.js';
import { XADES_NS } from './c14n.js';

export const SIGNED_PROPERTIES_TYPE = 'http://uri.etsi.org/01903#SignedProperties';
/** each one canonicalises the data again: bounded work on hostile input */
export const MAX_DATA_OBJECT_TIMESTAMPS = 16;
const MAX_INCLUDES = 64;

export type DataObjectTimeStampKind = 'all-data-objects' | 'individual-data-objects';

export interface DataObjectTimeStamp {
  kind: DataObjectTimeStampKind;
  /** AllDataObjectsTimeStamp or IndividualDataObjectsTimeStamp */
  name: string;
  element: Element;
  c14n: string;
  /** the EncapsulatedTimeStamps (DER), usually one */
  tokens: Buffer[];
}

const NAMES: Record<string, DataObjectTimeStampKind> = { AllDataObjectsTimeStamp: 'all-data-objects', IndividualDataObjectsTimeStamp: 'individual-data-objects' };
const kids = (el: Element, ns: string, local?: string): Element[] =>
  Array.from(el.childNodes as unknown as ArrayLike<Node>).filter((n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === ns && (!local || (n as Element).localName === local));

/** The signature's SignedProperties (the one its QualifyingProperties holds), when there is one. */
function signedProperties(sig: Element): Element | undefined {
  for (const o of kids(sig, DS, 'Object'))
    for (const qp of kids(o, XADES_NS, 'QualifyingProperties')) {
      const sp = kids(qp, XADES_NS, 'SignedProperties')[0];
      if (sp) return sp;
    }
  return undefined;
}

/** The data-object time-stamps of a signature, in document order. */
export function readDataObjectTimeStamps(sig: Element): DataObjectTimeStamp[] {
  const sp = signedProperties(sig);
  const sdop = sp ? kids(sp, XADES_NS, 'SignedDataObjectProperties')[0] : undefined;
  if (!sdop) return [];
  const out: DataObjectTimeStamp[] = [];
  for (const el of kids(sdop, XADES_NS)) {
    const kind = NAMES[el.localName];
    if (!kind) continue;
    const c14n = kids(el, DS, 'CanonicalizationMethod')[0]?.getAttribute('Algorithm') ?? C14N10;
    const tokens = kids(el, XADES_NS, 'EncapsulatedTimeStamp').map((t) => Buffer.from((t.textContent ?? '').replace(/\s+/g, ''), 'base64'));
    out.push({ kind, name: el.localName, element: el, c14n, tokens });
  }
  return out;
}

const references = (sig: Element): Element[] => {
  const si = kids(sig, DS, 'SignedInfo')[0];
  return si ? dsChildren(si, 'Reference') : [];
};

/** The ds:Reference that signs the SignedProperties: by its Type, or (producers that leave Type out) by what "#Id" names. */
export function isSignedPropertiesReference(sig: Element, ref: Element): boolean {
  if (ref.getAttribute('Type') === SIGNED_PROPERTIES_TYPE) return true;
  const uri = ref.getAttribute('URI') ?? '';
  const sp = signedProperties(sig);
  const id = sp ? ['Id', 'ID', 'id'].map((a) => sp.getAttribute(a)).find((v) => v) : undefined;
  return !!id && uri === `#${id}`;
}

/** The ds:References a data-object time-stamp covers, in the order their data enters its imprint. */
export function timeStampedReferences(sig: Element, ts: DataObjectTimeStamp): Element[] {
  const refs = references(sig);
  if (ts.kind === 'all-data-objects') {
    const data = refs.filter((r) => !isSignedPropertiesReference(sig, r));
    if (!data.length) throw new TrucError('malformed_xml', 'AllDataObjectsTimeStamp: the signature has no data object reference');
    return data;
  }
  const includes = kids(ts.element, XADES_NS, 'Include');
  if (!includes.length) throw new TrucError('malformed_xml', 'IndividualDataObjectsTimeStamp without xades:Include: it does not say which data it time-stamps');
  if (includes.length > MAX_INCLUDES) throw new TrucError('malformed_xml', `more than ${MAX_INCLUDES} xades:Include elements`);
  const named = includes.map((inc) => {
    const uri = inc.getAttribute('URI') ?? '';
    if (!/^#[^#\s()]+$/.test(uri)) throw new TrucError('unsupported', `xades:Include URI="${uri}": a data-object time-stamp names a ds:Reference of the signature by "#Id"`);
    // referencedData="false" would time-stamp the ds:Reference element itself, which no standard form of this property does
    const rd = inc.getAttribute('referencedData');
    if (rd !== null && !/^\s*(true|1)\s*$/.test(rd)) throw new TrucError('unsupported', `xades:Include URI="${uri}" referencedData="${rd}": a data-object time-stamp covers the referenced data (referencedData="true")`);
    const found = refs.filter((r) => ['Id', 'ID', 'id'].some((a) => r.getAttribute(a) === uri.slice(1)));
    if (found.length !== 1) throw new TrucError('malformed_xml', `xades:Include URI="${uri}" names ${found.length} ds:Reference elements of the signature`);
    if (isSignedPropertiesReference(sig, found[0])) throw new TrucError('malformed_xml', `xades:Include URI="${uri}" names the SignedProperties reference, which is not a data object`);
    return found[0];
  });
  // the same data twice in one input is no producer's and multiplies the work on a hostile document
  const twice = named.find((r, i) => named.indexOf(r) !== i);
  if (twice) throw new TrucError('malformed_xml', `two xades:Include elements name the ds:Reference "#${['Id', 'ID', 'id'].map((a) => twice.getAttribute(a)).find((v) => v)}"`);
  return named;
}

/** What each reference yields, by canonicalisation: several time-stamps over the same data compute it once. */
export type ReferenceDataCache = Map<Element, Map<string, Buffer>>;

/** The input of a data-object time-stamp's message imprint (see the head of this file). */
export function dataObjectTimeStampInput(doc: Document, sig: Element, ts: DataObjectTimeStamp, ids: Map<string, Element[]>, detached?: DetachedContent, cache: ReferenceDataCache = new Map()): Buffer {
  return Buffer.concat(
    timeStampedReferences(sig, ts).map((r) => {
      const known = cache.get(r) ?? new Map<string, Buffer>();
      cache.set(r, known);
      const octets = known.get(ts.c14n) ?? referenceData(doc, sig, r, ids, detached, ts.c14n).octets;
      known.set(ts.c14n, octets);
      return octets;
    }),
  );
}
