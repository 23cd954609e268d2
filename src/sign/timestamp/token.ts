/**
 * Reading a TimeStampToken (RFC 3161 §2.4.2): the CMS SignedData read by `inspectCms` (bounded, signature
 * over the signed attributes checked against the certificate it names), and the TSTInfo it encloses —
 * policy, message imprint, serial, genTime (fractions of a second allowed), nonce.
 */
import { children, decodeOid, parseOne, type Element } from '../../asn1/reader.js';
import { TrucError } from '../../errors.js';
import { inspectCms, type CmsInspection, type CmsSigner } from '../cades/verify.js';
import { readDigestAlgorithm, type DigestAlgorithm } from '../cms/signature-value.js';

export const TST_INFO = '1.2.840.113549.1.9.16.1.4';

export interface TstInfo {
  policy: string;
  hash: DigestAlgorithm;
  hashedMessage: Buffer;
  serialHex: string;
  genTime: Date;
  nonce?: Buffer;
}

export interface TimeStampToken {
  der: Buffer;
  tstInfo: TstInfo;
  cms: CmsInspection;
  signer: CmsSigner;
}

const bad = (m: string) => new TrucError('malformed_cms', `time-stamp token: ${m}`);

function generalizedTime(el: Element): Date {
  const m = el.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\.\d{1,9})?Z$/.exec(el.value.toString('ascii')) : null;
  if (!m) throw bad('genTime is not a GeneralizedTime in Zulu');
  const ms = m[7] ? Math.floor(Number(m[7]) * 1000) : 0;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms));
}

/** The magnitude of a positive INTEGER (leading zero octet dropped). */
const magnitude = (v: Buffer) => (v.length > 1 && v[0] === 0 ? v.subarray(1) : v);

export function parseTstInfo(der: Buffer): TstInfo {
  const f = children(parseOne(der, 'TSTInfo'), 'TSTInfo', 12);
  if (f[0]?.tag !== 0x02 || f[1]?.tag !== 0x06 || f[2]?.tag !== 0x30 || f[3]?.tag !== 0x02 || !f[4]) throw bad('TSTInfo is not version, policy, messageImprint, serialNumber, genTime');
  const [alg, hashed] = children(f[2], 'messageImprint', 2);
  // any digest we can compute is read (SHA-1 included): whether it is still reliable is the algorithm policy's call
  const hash = alg?.tag === 0x30 ? readDigestAlgorithm(Buffer.from(alg.raw)).digest : undefined;
  if (!hash) throw new TrucError('unsupported', 'time-stamp token: the imprint hash algorithm is not supported');
  if (hashed?.tag !== 0x04) throw bad('hashedMessage is not an OCTET STRING');
  const nonce = f.slice(5).find((e) => e.tag === 0x02);
  return {
    policy: decodeOid(f[1].value),
    hash,
    hashedMessage: Buffer.from(hashed.value),
    serialHex: magnitude(f[3].value).toString('hex'),
    genTime: generalizedTime(f[4]),
    ...(nonce ? { nonce: Buffer.from(magnitude(nonce.value)) } : {}),
  };
}

export function readTimeStampToken(der: Uint8Array): TimeStampToken {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const cms = inspectCms(buf);
  if (!cms.content) throw bad('no encapsulated TSTInfo');
  const signer = cms.signers[0];
  if (cms.signers.length !== 1) throw bad(`${cms.signers.length} signers, one expected`);
  if (signer.contentType !== TST_INFO) throw bad('the content is not a TSTInfo');
  return { der: buf, tstInfo: parseTstInfo(cms.content), cms, signer };
}
