/**
 * CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320): the checksum EVTX uses for its file header, its chunk
 * headers and each chunk's record data. Node 20's zlib has no crc32, so a table-driven one here.
 */
const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** The CRC of `buf[start, end)`, continuing from `crc` (0 to start). */
export function crc32(buf: Uint8Array, start = 0, end = buf.length, crc = 0): number {
  let c = ~crc;
  for (let i = start; i < end; i++) c = TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
