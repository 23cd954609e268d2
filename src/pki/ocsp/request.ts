/**
 * OCSPRequest parsing (RFC 6960 section 4.1) for the responder: the CertIDs asked about, as raw bytes (a
 * response echoes them exactly) and as their parts, and the nonce extension (RFC 8954) if any. Input is
 * hostile: a size limit, a bounded reader, a cap on CertIDs, nonces of 1 to 32 octets; anything else is
 * a `malformed_der` TrucError, which the responder answers with malformedRequest.
 */
import { TrucError } from '../../errors.js';
import { children, decodeOid, parseOne, type Element } from '../../asn1/reader.js';

export const MAX_REQUEST_BYTES = 64 * 1024;
export const MAX_CERT_IDS = 32;
export const OID_NONCE = '1.3.6.1.5.5.7.48.1.2';

const HASHES: Record<string, { name: 'sha1' | 'sha256' | 'sha384' | 'sha512'; size: number }> = {
  '1.3.14.3.2.26': { name: 'sha1', size: 20 },
  '2.16.840.1.101.3.4.2.1': { name: 'sha256', size: 32 },
  '2.16.840.1.101.3.4.2.2': { name: 'sha384', size: 48 },
  '2.16.840.1.101.3.4.2.3': { name: 'sha512', size: 64 },
};
export const CERT_ID_HASH_OIDS = Object.fromEntries(Object.entries(HASHES).map(([o, h]) => [h.name, o])) as Record<
  'sha1' | 'sha256' | 'sha384' | 'sha512',
  string
>;

export interface RequestedCertId {
  /** the CertID element as sent */
  raw: Buffer;
  hashOid: string;
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
  /** serial as lowercase hex without leading zero octets; null for a negative or empty serial */
  serial: string | null;
}

export interface ParsedOcspRequest {
  certIds: RequestedCertId[];
  /** the nonce extension's extnValue content (the DER of the nonce OCTET STRING), to echo */
  nonce: Buffer | null;
}

const bad = (why: string): never => {
  throw new TrucError('malformed_der', `OCSP request: ${why}`);
};

function expect(el: Element | undefined, tag: number, what: string): Element {
  if (!el || el.tag !== tag) bad(`${what} missing or of the wrong type`);
  return el!;
}

export function serialHex(value: Buffer): string | null {
  if (value.length === 0 || value[0] & 0x80) return null;
  let i = 0;
  while (i < value.length - 1 && value[i] === 0) i++;
  return value.subarray(i).toString('hex');
}

function readCertId(el: Element): RequestedCertId {
  const [alg, nameHash, keyHash, serial, extra] = children(expect(el, 0x30, 'CertID'), 'CertID', 4);
  if (extra) bad('CertID has extra fields');
  const [algOid, params] = children(expect(alg, 0x30, 'hashAlgorithm'), 'hashAlgorithm', 2);
  const hashOid = decodeOid(expect(algOid, 0x06, 'hash algorithm OID').value);
  if (params && params.tag !== 0x05) bad('hash algorithm parameters must be absent or NULL');
  const n = expect(nameHash, 0x04, 'issuerNameHash').value;
  const k = expect(keyHash, 0x04, 'issuerKeyHash').value;
  const s = expect(serial, 0x02, 'serialNumber').value;
  if (s.length > 32) bad('serial number longer than 32 octets');
  const h = HASHES[hashOid];
  if (h && (n.length !== h.size || k.length !== h.size)) bad(`${h.name} hashes of the wrong length`);
  return { raw: el.raw, hashOid, issuerNameHash: n, issuerKeyHash: k, serial: serialHex(s) };
}

function readNonce(exts: Element): Buffer | null {
  let nonce: Buffer | null = null;
  for (const ext of children(expect(exts, 0x30, 'requestExtensions'), 'requestExtensions', 16)) {
    const f = children(expect(ext, 0x30, 'Extension'), 'Extension', 3);
    const id = decodeOid(expect(f[0], 0x06, 'extnID').value);
    const value = expect(f[f.length - 1], 0x04, 'extnValue').value;
    if (f.length === 3 && f[1].tag !== 0x01) bad('Extension critical flag is not a BOOLEAN');
    if (id !== OID_NONCE) continue;
    if (nonce) bad('two nonce extensions');
    // RFC 8954: Nonce ::= OCTET STRING (SIZE(1..32)); the extnValue holds its DER
    const inner = parseOne(value, 'nonce', 64);
    if (inner.tag !== 0x04 || inner.value.length < 1 || inner.value.length > 32) bad('nonce must be an OCTET STRING of 1 to 32 octets');
    nonce = value;
  }
  return nonce;
}

export function parseOcspRequest(der: Buffer): ParsedOcspRequest {
  if (der.length > MAX_REQUEST_BYTES) bad(`larger than ${MAX_REQUEST_BYTES} bytes`);
  const root = parseOne(der, 'OCSP request', MAX_REQUEST_BYTES);
  const [tbs, signature, extra] = children(expect(root, 0x30, 'OCSPRequest'), 'OCSPRequest', 2);
  if (extra || (signature && signature.tag !== 0xa0)) bad('unexpected fields after tbsRequest');
  const fields = children(expect(tbs, 0x30, 'tbsRequest'), 'tbsRequest', 4);
  let i = 0;
  if (fields[i]?.tag === 0xa0) {
    const [v] = children(fields[i], 'version', 1);
    if (!v || v.tag !== 0x02 || v.value.length !== 1 || v.value[0] !== 0) bad('unsupported version');
    i++;
  }
  if (fields[i]?.tag === 0xa1) i++; // requestorName: not used
  const list = expect(fields[i++], 0x30, 'requestList');
  const requests = children(list, 'requestList', MAX_CERT_IDS);
  if (requests.length === 0) bad('empty requestList');
  let nonce: Buffer | null = null;
  if (fields[i]?.tag === 0xa2) {
    const [exts, more] = children(fields[i], 'requestExtensions', 1);
    if (!exts || more) bad('bad requestExtensions');
    nonce = readNonce(exts);
    i++;
  }
  if (i !== fields.length) bad('unexpected fields in tbsRequest');
  const certIds = requests.map((r) => {
    const [certId, exts, more] = children(expect(r, 0x30, 'Request'), 'Request', 2);
    if (more || (exts && exts.tag !== 0xa0)) bad('bad Request');
    return readCertId(expect(certId, 0x30, 'CertID'));
  });
  return { certIds, nonce };
}
