/**
 * OCSPResponse ⇄ BasicOCSPResponse. CAdES revocation-values carries the BasicOCSPResponse (EN 319 122-1);
 * a PDF's DSS and our path validator take the whole OCSPResponse (RFC 6960 §4.2.1).
 */
import { ctx, enumerated, octets, oid, seq } from '../../asn1/der.js';
import { children, decodeOid, parseOne } from '../../asn1/reader.js';

const BASIC = '1.3.6.1.5.5.7.48.1.1';

/** The BasicOCSPResponse of a successful OCSPResponse; undefined for anything else. */
export function basicOfOcspResponse(der: Buffer): Buffer | undefined {
  try {
    const [status, bytes] = children(parseOne(der, 'OCSPResponse', 1 << 20), 'OCSPResponse', 2);
    if (status.tag !== 0x0a || status.value[0] !== 0 || bytes?.tag !== 0xa0) return undefined;
    const [type, response] = children(children(bytes)[0], 'responseBytes', 2);
    if (decodeOid(type.value) !== BASIC || response?.tag !== 0x04) return undefined;
    return Buffer.from(response.value);
  } catch {
    return undefined;
  }
}

export const ocspResponseOfBasic = (basic: Buffer): Buffer => seq(enumerated(0), ctx(0, seq(oid(BASIC), octets(basic))));
