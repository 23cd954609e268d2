/**
 * EVTX files built for tests and the benchmark from real recordings: a recording's chunk filled up with
 * copies of its own records (later copies refer to the templates the first records define, as in a chunk
 * Windows filled), and files assembled from such chunks with a correct or a chosen header.
 */
import { crc32 } from '../../src/monitor/intake/evtx/crc32.js';

const FILE_HEADER = 4096;
const CHUNK = 65536;

/**
 * A record without its inline template definitions (its own and those of BinXml values inside it, such as
 * a Sysmon EventData): what a later record using the same templates looks like.
 */
function referenceForm(c: Buffer, pos: number, size: number): Buffer {
  const inst = pos + 24 + 4; // after the record header and the fragment header
  if (c[inst] !== 0x0c) return Buffer.from(c.subarray(pos, pos + size));
  const defOffset = c.readUInt32LE(inst + 6);
  const valuesAt = defOffset === inst + 10 ? inst + 10 + 24 + c.readUInt32LE(defOffset + 20) : inst + 10;
  const count = c.readUInt32LE(valuesAt);
  const descriptors = Buffer.from(c.subarray(valuesAt + 4, valuesAt + 4 + 4 * count));
  const values: Buffer[] = [];
  let at = valuesAt + 4 + 4 * count;
  for (let i = 0; i < count; i++) {
    const n = descriptors.readUInt16LE(4 * i);
    let v = c.subarray(at, at + n);
    // a BinXml value opening with its own template instance whose definition is inline
    if (descriptors[4 * i + 2] === 0x21 && v[0] === 0x0f && v[4] === 0x0c && v.readUInt32LE(10) === at + 14) {
      v = Buffer.concat([v.subarray(0, 14), v.subarray(14 + 24 + v.readUInt32LE(14 + 20))]);
      descriptors.writeUInt16LE(v.length, 4 * i);
    }
    values.push(v);
    at += n;
  }
  const head = c.subarray(pos, inst + 10);
  const r = Buffer.concat([head, c.subarray(valuesAt, valuesAt + 4), descriptors, ...values, c.subarray(at, pos + size)]);
  r.writeUInt32LE(r.length, 4);
  r.writeUInt32LE(r.length, r.length - 4);
  return r;
}

/** Recomputes a chunk header's record and header checksums. */
export function sealChunk(c: Buffer): Buffer {
  c.writeUInt32LE(crc32(c, 512, c.readUInt32LE(48)), 52);
  c.writeUInt32LE(crc32(c, 128, 512, crc32(c, 0, 120)), 124);
  return c;
}

/**
 * The first chunk of `file`, its free space filled with copies of its live records (record numbers going
 * on from the last), checksums recomputed. `firstId` renumbers the records from there.
 */
export function fillChunk(file: Buffer, firstId?: number): Buffer {
  const src = file.subarray(FILE_HEADER, FILE_HEADER + CHUNK);
  const free = src.readUInt32LE(48);
  const records: Buffer[] = [];
  for (let pos = 512; pos + 24 <= free; ) {
    const size = src.readUInt32LE(pos + 4);
    if (src.readUInt32LE(pos) !== 0x2a2a || size < 28) break;
    records.push(referenceForm(src, pos, size));
    pos += size;
  }
  const c = Buffer.alloc(CHUNK);
  src.copy(c, 0, 0, free);
  let at = free;
  let last = src.readUInt32LE(44);
  for (let i = 0; records.length; i++) {
    const r = records[i % records.length]!;
    if (at + r.length > CHUNK) break;
    r.copy(c, at);
    last = at;
    at += r.length;
  }
  c.writeUInt32LE(last, 44);
  c.writeUInt32LE(at, 48);
  let id = firstId ?? Number(src.readBigUInt64LE(24));
  let n = 0;
  for (let pos = 512; pos < at; pos += c.readUInt32LE(pos + 4), n++) c.writeBigUInt64LE(BigInt(id++), pos + 8);
  c.writeBigUInt64LE(BigInt(id - n), 8);
  c.writeBigUInt64LE(BigInt(id - 1), 16);
  c.writeBigUInt64LE(BigInt(id - n), 24);
  c.writeBigUInt64LE(BigInt(id - 1), 32);
  return sealChunk(c);
}

/** A file of `chunks` behind a header counting `count` of them (all by default), its checksum correct. */
export function buildEvtx(chunks: Buffer[], count = chunks.length, flags = 0): Buffer {
  const h = Buffer.alloc(FILE_HEADER);
  h.write('ElfFile\0', 0, 'latin1');
  h.writeBigUInt64LE(0n, 8);
  h.writeBigUInt64LE(BigInt(Math.max(0, count - 1)), 16);
  h.writeBigUInt64LE(1n, 24);
  h.writeUInt32LE(128, 32);
  h.writeUInt16LE(2, 36);
  h.writeUInt16LE(3, 38);
  h.writeUInt16LE(FILE_HEADER, 40);
  h.writeUInt16LE(count, 42);
  h.writeUInt32LE(flags, 120);
  h.writeUInt32LE(crc32(h, 0, 120), 124);
  return Buffer.concat([h, ...chunks]);
}

/** A record holding `binxml` (a fragment), numbered `id`. */
export function record(id: number, binxml: Buffer): Buffer {
  const r = Buffer.alloc(24 + binxml.length + 4);
  r.writeUInt32LE(0x2a2a, 0);
  r.writeUInt32LE(r.length, 4);
  r.writeBigUInt64LE(BigInt(id), 8);
  r.writeBigUInt64LE(133000000000000000n, 16);
  binxml.copy(r, 24);
  r.writeUInt32LE(r.length, r.length - 4);
  return r;
}

/** A sealed chunk holding `records` one after another from offset 512. */
export function chunkOf(records: Buffer[]): Buffer {
  const c = Buffer.alloc(CHUNK);
  c.write('ElfChnk\0', 0, 'latin1');
  let at = 512;
  let last = 512;
  for (const r of records) {
    r.copy(c, at);
    last = at;
    at += r.length;
  }
  c.writeUInt32LE(128, 40);
  c.writeUInt32LE(last, 44);
  c.writeUInt32LE(at, 48);
  return sealChunk(c);
}

/** An element name written inline at chunk offset `at` (next-string offset, hash, length, UTF-16, NUL). */
export function inlineName(name: string): Buffer {
  const b = Buffer.alloc(8 + 2 * name.length + 2);
  b.writeUInt16LE(name.length, 6);
  b.write(name, 8, 'utf16le');
  return b;
}
