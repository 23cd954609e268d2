/**
 * Syslog over a stream (RFC 6587): octet counting (`<len> <msg>`, RFC 5425's only form) or non-transparent
 * framing (one message per line), told apart by the first character of each frame as RFC 6587 §3.4 does.
 * Messages longer than the limit end the connection: a peer that sends them is broken or hostile.
 */
export class SyslogFramer {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly maxBytes: number) {}

  /** Feeds bytes; returns the complete messages. Throws when a frame exceeds the limit. */
  push(chunk: Buffer): string[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: string[] = [];
    let pos = 0;
    const b = this.buf;
    while (pos < b.length) {
      const c = b[pos]!;
      if (c === 0x0a || c === 0x0d || c === 0x00) {
        pos++;
        continue;
      }
      if (c >= 0x31 && c <= 0x39) {
        // octet counting: digits, a space, then exactly that many bytes
        let i = pos;
        let len = 0;
        while (i < b.length && b[i]! >= 0x30 && b[i]! <= 0x39 && i - pos < 8) len = len * 10 + (b[i++]! - 0x30);
        if (i >= b.length) break;
        if (b[i] !== 0x20) throw new Error('octet-counted frame without a space after its length');
        if (len > this.maxBytes) throw new Error(`syslog frame of ${len} bytes exceeds ${this.maxBytes}`);
        if (i + 1 + len > b.length) break;
        out.push(b.toString('utf8', i + 1, i + 1 + len));
        pos = i + 1 + len;
        continue;
      }
      const nl = b.indexOf(0x0a, pos);
      if (nl < 0) {
        if (b.length - pos > this.maxBytes) throw new Error(`syslog line exceeds ${this.maxBytes} bytes`);
        break;
      }
      if (nl - pos > this.maxBytes) throw new Error(`syslog line exceeds ${this.maxBytes} bytes`);
      out.push(b.toString('utf8', pos, nl).replace(/\r$/, ''));
      pos = nl + 1;
    }
    this.buf = pos >= b.length ? Buffer.alloc(0) : b.subarray(pos);
    return out;
  }
}
