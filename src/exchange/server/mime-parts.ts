/**
 * What X-Road's operational data says of a SOAP message's attachments — how many (requestAttachmentCount,
 * responseAttachmentCount) and how many bytes their contents hold (with the SOAP part's, requestMimeSize and
 * responseMimeSize) — counted from the message's bytes as they pass: the same bytes on both servers, so both
 * sides' records agree. A `multipart/related` message is its SOAP part and then one part per attachment, each
 * opened by a delimiter line `--boundary` at the start of the body or after a CRLF, and closed by
 * `--boundary--` (RFC 2046 §5.1.1): attachments = delimiters − 2 (the SOAP part's and the close). A part's
 * content begins after its headers' empty line and ends at the CRLF of the next delimiter. A `text/xml` message
 * has none. The searches carry the last bytes of a chunk over to the next, so a delimiter or a headers' end
 * split between two chunks is found once; nothing else is kept.
 */
import { parseMediaType } from './soap.js';

const HEADERS_END = Buffer.from('\r\n\r\n', 'latin1');

export class MimeParts {
  private readonly delim: Buffer;
  /** the bytes before the current chunk that a delimiter may begin in (initially a CRLF: the body's start) */
  private carry: Buffer;
  private found = 0;
  /** bytes fed before the current chunk */
  private pos = 0;
  /** where the open part's headers may end (searched from here), or null when they have ended */
  private headersFrom: number | null = null;
  /** where the open part's content began, or null while its headers last */
  private contentFrom: number | null = null;
  private soap = 0;
  private contents = 0;

  constructor(boundary: string) {
    this.delim = Buffer.from(`\r\n--${boundary}`, 'latin1');
    this.carry = Buffer.from('\r\n', 'latin1');
  }

  feed(data: Buffer | Uint8Array): void {
    if (!data.length) return;
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
    const keep = this.delim.length - 1;
    const base = this.pos;
    // delimiters that begin in the carried bytes and end in this chunk (the chunk is not copied whole), then
    // those in the chunk, each at its place in the whole message (the start of its CRLF)
    const seam = Buffer.concat([this.carry, chunk.subarray(0, keep)]);
    const seamAt = base - this.carry.length;
    for (let at = seam.indexOf(this.delim); at >= 0 && at < this.carry.length; at = seam.indexOf(this.delim, at + 1)) this.delimiter(seamAt + at, seam, seamAt, chunk, base);
    for (let at = chunk.indexOf(this.delim); at >= 0; at = chunk.indexOf(this.delim, at + this.delim.length)) this.delimiter(base + at, seam, seamAt, chunk, base);
    // the open part's headers may end in what is left of this chunk
    this.headersEnd(base + chunk.length, seam, seamAt, chunk, base);
    // a delimiter (or a headers' end) that ends in a later chunk begins in the last delim.length − 1 bytes
    // seen; so few bytes cannot hold a whole one, so none is counted twice
    this.carry = chunk.length >= keep ? Buffer.from(chunk.subarray(chunk.length - keep)) : Buffer.concat([this.carry, chunk]).subarray(-keep);
    this.pos = base + chunk.length;
  }

  /** A delimiter at `at`: the open part's content ends there, and the next part's headers begin. */
  private delimiter(at: number, seam: Buffer, seamAt: number, chunk: Buffer, base: number): void {
    this.headersEnd(at, seam, seamAt, chunk, base);
    if (this.contentFrom !== null) {
      const n = Math.max(0, at - this.contentFrom);
      if (this.found === 1) this.soap = n;
      else this.contents += n;
    }
    this.found++;
    this.contentFrom = null;
    this.headersFrom = at + this.delim.length;
  }

  /** Looks for the open part's headers' end before `until` (an empty line: CRLF CRLF after the delimiter's). */
  private headersEnd(until: number, seam: Buffer, seamAt: number, chunk: Buffer, base: number): void {
    const from = this.headersFrom;
    if (from === null || from >= until) return;
    let end = -1;
    // one that begins in the carried bytes (the search went on to the previous chunk's end before)
    if (from < base) {
      const i = seam.indexOf(HEADERS_END, Math.max(0, from - seamAt));
      if (i >= 0 && seamAt + i < base) end = seamAt + i;
    }
    if (end < 0) {
      const i = chunk.indexOf(HEADERS_END, Math.max(from, base) - base);
      if (i >= 0) end = base + i;
    }
    if (end >= 0 && end + HEADERS_END.length <= until) {
      this.headersFrom = null;
      this.contentFrom = end + HEADERS_END.length;
    } else if (until === base + chunk.length) {
      // not in this chunk: the next one's search starts where a headers' end could still begin
      this.headersFrom = Math.max(from, until - (HEADERS_END.length - 1));
    }
  }

  /** The attachments of the message fed so far, as a whole message. */
  get attachments(): number {
    return Math.max(0, this.found - 2);
  }

  /**
   * X-Road's MIME size: the SOAP part's bytes and the attachments' contents (their headers and the delimiters
   * left out), of the parts the message has closed.
   */
  get mimeBytes(): number {
    return this.soap + this.contents;
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
