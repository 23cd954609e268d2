/**
 * How many attachments a SOAP message carries (X-Road's operational data: requestAttachmentCount,
 * responseAttachmentCount), counted from its bytes as they pass — the same bytes on both servers, so both
 * sides' records agree. A `multipart/related` message is its SOAP part and then one part per attachment, each
 * opened by a delimiter line `--boundary` at the start of the body or after a CRLF, and closed by
 * `--boundary--` (RFC 2046 §5.1.1): attachments = delimiters − 2 (the SOAP part's and the close). A `text/xml`
 * message has none. The search carries the last bytes of a chunk over to the next, so a delimiter split
 * between two chunks is found once; nothing else is kept.
 */
import { parseMediaType } from './soap.js';

export class MimeParts {
  private readonly delim: Buffer;
  /** the bytes before the current chunk that a delimiter may begin in (initially a CRLF: the body's start) */
  private carry: Buffer;
  private found = 0;

  constructor(boundary: string) {
    this.delim = Buffer.from(`\r\n--${boundary}`, 'latin1');
    this.carry = Buffer.from('\r\n', 'latin1');
  }

  feed(data: Buffer | Uint8Array): void {
    if (!data.length) return;
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
    const keep = this.delim.length - 1;
    // delimiters that begin in the carried bytes and end in this chunk (the chunk is not copied whole)
    const seam = Buffer.concat([this.carry, chunk.subarray(0, keep)]);
    for (let at = seam.indexOf(this.delim); at >= 0 && at < this.carry.length; at = seam.indexOf(this.delim, at + 1)) this.found++;
    for (let at = chunk.indexOf(this.delim); at >= 0; at = chunk.indexOf(this.delim, at + this.delim.length)) this.found++;
    // a delimiter that ends in a later chunk begins in the last delim.length − 1 bytes seen; so few bytes
    // cannot hold a whole one, so none is counted twice
    this.carry = chunk.length >= keep ? Buffer.from(chunk.subarray(chunk.length - keep)) : Buffer.concat([this.carry, chunk]).subarray(-keep);
  }

  /** The attachments of the message fed so far, as a whole message. */
  get attachments(): number {
    return Math.max(0, this.found - 2);
  }
}

/**
 * A counter for a message of this media type: a multipart/related one with its boundary, or null for any
 * other (a `text/xml` SOAP message: no attachments).
 */
export function mimeParts(contentType: string | undefined): MimeParts | null {
  if (!contentType) return null;
  const mt = parseMediaType(contentType);
  return mt.type === 'multipart/related' && mt.params.boundary ? new MimeParts(mt.params.boundary) : null;
}
