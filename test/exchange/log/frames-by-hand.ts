/**
 * A log file's frames parsed by hand (length u32, type u8, payload, chain hash): tests that damage a log on
 * purpose find where its frames are without the reader they are testing.
 */
export interface Frame {
  offset: number;
  len: number;
  type: number;
  payload: Buffer;
  hash: Buffer;
  end: number;
}

/** the whole frames of a log file, in order (a cut-short last one is left out) */
export function frames(buf: Buffer): Frame[] {
  const out: Frame[] = [];
  let o = 0;
  while (o + 5 <= buf.length) {
    const len = buf.readUInt32BE(o);
    const end = o + 5 + len + 32;
    if (end > buf.length) break;
    out.push({ offset: o, len, type: buf[o + 4]!, payload: buf.subarray(o + 5, o + 5 + len), hash: buf.subarray(o + 5 + len, end), end });
    o = end;
  }
  return out;
}

/** a frame's bytes from its parts */
export function frameBytes(type: number, payload: Buffer, hash: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(payload.length, 0);
  h[4] = type;
  return Buffer.concat([h, payload, hash]);
}

/** record frames (type 2) of a segment */
export const recordFrames = (buf: Buffer): Frame[] => frames(buf).filter((f) => f.type === 2);
