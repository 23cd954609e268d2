/**
 * One entry for validating whatever signed file arrives (the CLI's `truc verify`, the HTTP validation
 * service): its format told from its structure — a DER or BER ContentInfo of SignedData is CMS (CAdES) even
 * when it carries a PDF; then a PDF (`%PDF-` in the first kilobyte, junk before it allowed), PEM CMS, XML
 * (XAdES) — and the matching validator. A file that is none of these is `unsupported`, not a report.
 */
import type { DetachedInput } from '../xades/detached.js';
import { TrucError } from '../../errors.js';
import type { ValidationReport } from './report.js';
import type { ValidationOptions } from './signer.js';
import { validateCades } from './cades.js';
import { validatePdf } from './pades.js';
import { pemFirstBody } from '../../asn1/der.js';

export type SignedKind = 'pdf' | 'cms' | 'xml';

/** SEQUENCE (definite or indefinite length) opening with the OID id-signedData: a CMS ContentInfo. */
const SIGNED_DATA_OID = Buffer.from('06092a864886f70d010702', 'hex');

function isContentInfo(buf: Buffer): boolean {
  if (buf[0] !== 0x30 || buf.length < 2) return false;
  const l = buf[1];
  const hdr = l < 0x80 || l === 0x80 ? 2 : l <= 0x84 ? 2 + (l & 0x7f) : 0;
  return hdr > 0 && buf.subarray(hdr, hdr + SIGNED_DATA_OID.length).equals(SIGNED_DATA_OID);
}

export function detectFormat(b: Uint8Array): SignedKind | undefined {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  // structure first: an enveloping CMS whose eContent is a PDF holds `%PDF-` near its start
  if (isContentInfo(buf)) return 'cms';
  if (buf.subarray(0, 1024).includes('%PDF-')) return 'pdf';
  if (buf[0] === 0x30) return 'cms';
  // a UTF-16 document says so by its byte-order mark; otherwise UTF-8, with or without one
  const utf16 = (b: Buffer) => b.subarray(2, 2 + (Math.min(b.length - 2, 512) & ~1));
  const head = (
    buf[0] === 0xff && buf[1] === 0xfe
      ? utf16(buf).toString('utf16le')
      : buf[0] === 0xfe && buf[1] === 0xff
        ? Buffer.from(utf16(buf)).swap16().toString('utf16le')
        : buf.subarray(0, 256).toString('utf8')
  )
    .replace(/^\uFEFF/, '')
    .trimStart();
  if (head.startsWith('-----BEGIN')) return 'cms';
  if (head.startsWith('<')) return 'xml';
  return undefined;
}

function pemBlock(text: string): Buffer | undefined {
  const pem = pemFirstBody(text, ['CMS', 'PKCS7']);
  return pem && Buffer.from(pem.body, 'base64');
}

/**
 * `content`: the signed content of a detached signature — one file, or several named documents for a detached
 * XAdES signature over more than one (each matched to its reference by name or digest); a CMS signs one content.
 */
export async function validateFile(bytes: Uint8Array, opts: ValidationOptions & { content?: DetachedInput }): Promise<ValidationReport> {
  const kind = detectFormat(bytes);
  if (kind === 'pdf') return validatePdf(bytes, opts);
  // the XML stack (a DOM, XPath, canonicalisation) loads only for an XML file: a PDF's check does not wait for it
  if (kind === 'xml') return (await import('./xades.js')).validateXades(bytes, opts);
  if (kind === 'cms') {
    const der = bytes[0] === 0x30 ? bytes : pemBlock(Buffer.from(bytes).toString('utf8'));
    if (!der) throw new TrucError('malformed_cms', 'no CMS or PKCS7 PEM block');
    const { content, ...rest } = opts;
    if (content && !(content instanceof Uint8Array) && content.length !== 1) throw new TrucError('bad_request', 'a CMS signature signs one content; give one file / chữ ký CMS chỉ ký một nội dung');
    return validateCades(der, { ...rest, ...(content ? { content: content instanceof Uint8Array ? content : content[0].content } : {}) });
  }
  throw new TrucError('unsupported', 'not a PDF, CMS or XML file');
}
