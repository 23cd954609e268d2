/**
 * The XML namespaces XAdES uses and the one canonical form our time-stamps are computed over: exclusive
 * C14N without comments (xml-crypto's, the second verifier's own), which renders only the namespaces an
 * element visibly uses, so a property canonicalises the same wherever it sits in the document.
 */
import { ExclusiveCanonicalization } from 'xml-crypto';

export const DS_NS = 'http://www.w3.org/2000/09/xmldsig#';
export const XADES_NS = 'http://uri.etsi.org/01903/v1.3.2#';
export const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';

/** The exclusive canonical form (without comments) of an element, as UTF-8 octets. */
export function excC14n(el: Element): Buffer {
  return Buffer.from(new ExclusiveCanonicalization().process(el as never, {}), 'utf8');
}
