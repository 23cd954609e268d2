/**
 * CMS AuthEnvelopedData (RFC 5083, AES-256-GCM) written and read as a stream, for content too large to
 * hold in memory (the attachments of a classified package, hundreds of megabytes).
 *
 * Writing: the content's size is known beforehand and GCM adds nothing to it, so the whole structure is
 * DER with definite lengths — ContentInfo, the recipients' RecipientInfos (as `encryptCms` makes them), the
 * EncryptedContentInfo whose `[0] IMPLICIT OCTET STRING` is the ciphertext as it is produced, then the MAC.
 * `openssl cms -decrypt -inform DER` and `decryptCms` read it as any other AuthEnvelopedData.
 *
 * Reading accepts that shape only (definite lengths, a primitive encrypted content, no authenticated
 * attributes — which GCM would need before the content), bounded: at most 1 MiB before the content.
 * Plaintext is released piece by piece **before** the tag is checked at the end: a caller must treat what
 * it received as unverified until the generator returns — spool it, and discard it when it throws. Errors:
 * `decrypt_failed` with `detail.stage` `recipient` (no RecipientInfo opens with the keys given: another
 * recipient, the wrong key) or `content` (the tag does not hold: altered or cut), `malformed_cms` (not this
 * shape, lengths that disagree, cut short).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate } from '@peculiar/asn1-x509';
import { IssuerAndSerialNumber, RecipientInfos } from '@peculiar/asn1-cms';
import { TrucError } from '../../errors.js';
import { cipherSlices } from '../../crypto/cipher-slices.js';
import { lengthBytes, oid } from '../../asn1/der.js';
import { GCM, GcmParameters, OID } from './schema.js';
import { recipientInfo, type CmsEncryptOptions } from './encrypt.js';
import { unwrapCek } from './decrypt.js';
import type { RecipientKey } from './recipient-key.js';

const MAX_PREFIX = 1024 * 1024;
const TAG_LENGTH = 16;

const head = (tag: number, n: number) => Buffer.concat([Buffer.from([tag]), lengthBytes(n)]);

export interface CmsStreamWriter {
  /** bytes the whole structure has (known before the first byte: it frames the stream) */
  length: number;
  /** the structure, piece by piece, from exactly `size` bytes of content */
  encrypt(content: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<Buffer>;
}

/** AuthEnvelopedData (AES-256-GCM) of `size` bytes of content to the recipients' certificates, as a stream. */
export function cmsEncryptStream(size: number, recipients: Uint8Array[], opts: Pick<CmsEncryptOptions, 'rsaOaepHash'> = {}): CmsStreamWriter {
  if (!Number.isSafeInteger(size) || size < 0) throw new TrucError('bad_request', 'a content size is a non-negative integer');
  if (recipients.length === 0) throw new TrucError('bad_request', 'at least one recipient certificate is needed');
  const cek = randomBytes(32);
  const nonce = randomBytes(12);
  let infos: Buffer;
  try {
    infos = Buffer.from(AsnConvert.serialize(new RecipientInfos(recipients.map((r) => recipientInfo(r, cek, opts.rsaOaepHash ?? 'sha256')))));
  } catch (e) {
    cek.fill(0);
    throw e;
  }
  const alg = Buffer.from(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: OID.aes256gcm, parameters: AsnConvert.serialize(new GcmParameters({ nonce: new Uint8Array(nonce).buffer, icvLen: TAG_LENGTH })) })));
  const contentType = oid(OID.data);
  const ctHead = head(0x80, size);
  const eciLen = contentType.length + alg.length + ctHead.length + size;
  const eciHead = head(0x30, eciLen);
  const version = Buffer.from([0x02, 0x01, 0x00]);
  const macLen = 2 + TAG_LENGTH;
  const aedLen = version.length + infos.length + eciHead.length + eciLen + macLen;
  const aedHead = head(0x30, aedLen);
  const explicitHead = head(0xa0, aedHead.length + aedLen);
  const type = oid(OID.authEnvelopedData);
  const ciLen = type.length + explicitHead.length + aedHead.length + aedLen;
  const ciHead = head(0x30, ciLen);
  const prefix = Buffer.concat([ciHead, type, explicitHead, aedHead, version, infos, eciHead, contentType, alg, ctHead]);
  let used = false;
  return {
    length: ciHead.length + ciLen,
    async *encrypt(content) {
      if (used) throw new TrucError('internal', 'a CMS stream writer encrypts once');
      used = true;
      const c = createCipheriv('aes-256-gcm', cek, nonce, { authTagLength: TAG_LENGTH });
      cek.fill(0);
      yield prefix;
      let n = 0;
      for await (const piece of content) {
        n += piece.length;
        if (n > size) throw new TrucError('internal', `more than the ${size} bytes announced to encrypt`);
        for (const out of cipherSlices(c, piece)) if (out.length) yield out;
      }
      if (n !== size) throw new TrucError('internal', `${n} bytes to encrypt, ${size} announced`);
      const fin = c.final();
      yield Buffer.concat([fin, Buffer.from([0x04, TAG_LENGTH]), c.getAuthTag()]);
    },
  };
}

/** Reads exact byte counts from a stream, holding at most one incoming piece beyond what is asked. */
class Bytes {
  private buf: Buffer = Buffer.alloc(0);
  offset = 0;
  private readonly it: AsyncIterator<Buffer | Uint8Array>;
  constructor(src: AsyncIterable<Buffer | Uint8Array>) {
    this.it = src[Symbol.asyncIterator]();
  }
  private async fill(): Promise<boolean> {
    const r = await this.it.next();
    if (r.done) return false;
    const c = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
    return true;
  }
  async exact(n: number): Promise<Buffer> {
    while (this.buf.length < n) if (!(await this.fill())) throw cut();
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.offset += n;
    return out;
  }
  async *pieces(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!this.buf.length && !(await this.fill())) throw cut();
      const take = Math.min(left, this.buf.length);
      const piece = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      this.offset += take;
      left -= take;
      yield piece;
    }
  }
  async end(): Promise<boolean> {
    return this.buf.length === 0 && !(await this.fill());
  }
}

const malformed = (what: string) => new TrucError('malformed_cms', `malformed CMS stream: ${what}`);
const cut = () => new TrucError('malformed_cms', 'the CMS stream ends early (truncated)', { stage: 'truncated' });

/** A tag (one byte) and a definite length; the offset where the value starts is the reader's. */
async function tl(r: Bytes, expect: number, what: string): Promise<number> {
  const [tag] = await r.exact(1);
  if (tag !== expect) throw malformed(`${what}: tag 0x${tag!.toString(16)}, 0x${expect.toString(16)} expected`);
  const [first] = await r.exact(1);
  if (first! < 0x80) return first!;
  const k = first! & 0x7f;
  if (k === 0) throw malformed(`${what}: indefinite length (a stream is read in DER only)`);
  if (k > 6) throw malformed(`${what}: a length of ${k} bytes`);
  let n = 0;
  for (const b of await r.exact(k)) n = n * 256 + b;
  return n;
}

export interface CmsStreamKey {
  key: RecipientKey;
  /** picks the RecipientInfo addressed to this certificate */
  certificate: Uint8Array;
}

/**
 * Decrypts an AuthEnvelopedData stream (as `cmsEncryptStream` writes it) with the first of `keys` one of
 * its RecipientInfos opens; yields the content as it comes (unverified until the generator returns).
 */
export async function* cmsDecryptStream(src: AsyncIterable<Buffer | Uint8Array>, keys: CmsStreamKey[], opts: { maxSize?: number } = {}): AsyncGenerator<Buffer> {
  const r = new Bytes(src);
  const ciLen = await tl(r, 0x30, 'ContentInfo');
  const ciEnd = r.offset + ciLen;
  const typeLen = await tl(r, 0x06, 'ContentInfo.contentType');
  if (!(await r.exact(typeLen)).equals(oid(OID.authEnvelopedData).subarray(2))) throw malformed('not AuthEnvelopedData');
  const exLen = await tl(r, 0xa0, 'ContentInfo.content');
  if (r.offset + exLen !== ciEnd) throw malformed('ContentInfo lengths disagree');
  const aedLen = await tl(r, 0x30, 'AuthEnvelopedData');
  if (r.offset + aedLen !== ciEnd) throw malformed('AuthEnvelopedData lengths disagree');
  const vLen = await tl(r, 0x02, 'version');
  const v = await r.exact(vLen);
  if (vLen !== 1 || v[0] !== 0) throw malformed('version is not 0');
  let [tag] = await r.exact(1);
  if (tag === 0xa0) throw malformed('originatorInfo is not read in streams');
  if (tag !== 0x31) throw malformed('RecipientInfos expected');
  // put the tag back by reading the rest of the SET by hand
  const [first] = await r.exact(1);
  let riLen = first!;
  let riLenBytes = Buffer.from([first!]);
  if (first! >= 0x80) {
    const k = first! & 0x7f;
    if (k === 0 || k > 4) throw malformed('RecipientInfos length');
    const more = await r.exact(k);
    riLen = 0;
    for (const b of more) riLen = riLen * 256 + b;
    riLenBytes = Buffer.concat([riLenBytes, more]);
  }
  if (riLen > MAX_PREFIX) throw new TrucError('too_large', `RecipientInfos of ${riLen} bytes`);
  const riDer = Buffer.concat([Buffer.from([0x31]), riLenBytes, await r.exact(riLen)]);
  let infos: RecipientInfos;
  try {
    infos = AsnConvert.parse(riDer, RecipientInfos);
  } catch {
    throw malformed('RecipientInfos');
  }
  if (infos.length > 1000) throw malformed('too many recipients');
  const eciLen = await tl(r, 0x30, 'EncryptedContentInfo');
  const eciEnd = r.offset + eciLen;
  const ctLen = await tl(r, 0x06, 'EncryptedContentInfo.contentType');
  await r.exact(ctLen);
  const algLen = await tl(r, 0x30, 'contentEncryptionAlgorithm');
  if (algLen > 4096) throw malformed('contentEncryptionAlgorithm too long');
  const algDer = Buffer.concat([head(0x30, algLen), await r.exact(algLen)]);
  let gcm: (typeof GCM)[string];
  let params: GcmParameters;
  try {
    const alg = AsnConvert.parse(algDer, AlgorithmIdentifier);
    gcm = GCM[alg.algorithm]!;
    if (!gcm) throw new TrucError('unsupported', `authenticated content algorithm ${alg.algorithm} is not supported`);
    if (!alg.parameters) throw malformed('GCM without parameters');
    params = AsnConvert.parse(alg.parameters, GcmParameters);
  } catch (e) {
    if (e instanceof TrucError) throw e;
    throw malformed('contentEncryptionAlgorithm');
  }
  if (params.icvLen < 12 || params.icvLen > 16) throw malformed('GCM tag length');
  const size = await tl(r, 0x80, 'encryptedContent (primitive, definite)');
  if (r.offset + size !== eciEnd) throw malformed('EncryptedContentInfo lengths disagree');
  if (opts.maxSize !== undefined && size > opts.maxSize) throw new TrucError('too_large', `encrypted content of ${size} bytes (at most ${opts.maxSize})`);
  if (eciEnd + 2 + params.icvLen !== ciEnd) throw malformed('the MAC does not end the structure (authenticated attributes are not read in streams)');

  let cek: Buffer | null = null;
  for (const k of keys) {
    let ias: IssuerAndSerialNumber;
    try {
      const c = AsnConvert.parse(Buffer.from(k.certificate), Certificate);
      ias = new IssuerAndSerialNumber({ issuer: c.tbsCertificate.issuer, serialNumber: c.tbsCertificate.serialNumber });
    } catch {
      throw new TrucError('bad_request', 'a decryption certificate is not a DER X.509 certificate');
    }
    for (const ri of infos) {
      try {
        cek = await unwrapCek(ri, k.key, ias, {});
      } catch (e) {
        if (e instanceof TrucError && e.code !== 'decrypt_failed') throw e;
        cek = null;
      }
      if (cek) break;
    }
    if (cek) break;
  }
  if (!cek || cek.length !== gcm.keyLength) throw new TrucError('decrypt_failed', 'no recipient information opens with the keys of this recipient (addressed to another certificate, or the wrong key)', { stage: 'recipient' });
  const d = createDecipheriv(gcm.cipher, cek, Buffer.from(params.nonce), { authTagLength: params.icvLen });
  cek.fill(0);
  for await (const piece of r.pieces(size)) {
    for (const out of cipherSlices(d, piece)) if (out.length) yield out;
  }
  [tag] = await r.exact(1);
  const [macLen] = await r.exact(1);
  if (tag !== 0x04 || macLen !== params.icvLen) throw malformed('MAC');
  d.setAuthTag(await r.exact(macLen));
  let fin: Buffer;
  try {
    fin = d.final();
  } catch {
    throw new TrucError('decrypt_failed', 'the content failed authentication: altered or cut', { stage: 'content' });
  }
  if (!(await r.end())) throw malformed('bytes after the structure');
  if (fin.length) yield fin;
}
