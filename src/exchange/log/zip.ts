/**
 * A small streaming ZIP writer (stored entries only, no compression): enough for ASiC containers. Entries
 * known in advance carry their CRC-32 and sizes in the local header; streamed entries (a large body) use a
 * data descriptor, so nothing is held whole in memory. ZIP64 is not written: an entry or the archive
 * reaching 4 GiB is refused.
 */
import { crc32 } from 'node:zlib';
import { TrucError } from '../../errors.js';

const LIMIT = 0xffff_ffff;
const DOS_TIME = 0; // 00:00:00
const DOS_DATE = (2026 - 1980) << 9 | (1 << 5) | 1; // a fixed date: containers are reproducible

interface Central {
  name: Buffer;
  crc: number;
  size: number;
  offset: number;
  flags: number;
}

export class ZipWriter {
  private offset = 0;
  private readonly entries: Central[] = [];
  constructor(private readonly push: (b: Buffer) => Promise<void> | void) {}

  private async out(b: Buffer): Promise<void> {
    this.offset += b.length;
    if (this.offset > LIMIT) throw new TrucError('too_large', 'the container would exceed 4 GiB (ZIP64 is not written)');
    await this.push(b);
  }

  private local(name: Buffer, flags: number, crc: number, size: number): Buffer {
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(flags & 0x0008 ? 20 : 10, 4); // version needed: 1.0 stored, 2.0 with a data descriptor
    h.writeUInt16LE(flags, 6);
    h.writeUInt16LE(0, 8); // stored
    h.writeUInt16LE(DOS_TIME, 10);
    h.writeUInt16LE(DOS_DATE, 12);
    h.writeUInt32LE(crc, 14);
    h.writeUInt32LE(size, 18);
    h.writeUInt32LE(size, 22);
    h.writeUInt16LE(name.length, 26);
    h.writeUInt16LE(0, 28);
    return Buffer.concat([h, name]);
  }

  private static utf8Flag(name: string): number {
    return /^[\x20-\x7e]*$/.test(name) ? 0 : 0x0800;
  }

  async add(name: string, data: Buffer): Promise<void> {
    const n = Buffer.from(name, 'utf8');
    const flags = ZipWriter.utf8Flag(name);
    const crc = crc32(data) >>> 0;
    const offset = this.offset;
    await this.out(this.local(n, flags, crc, data.length));
    await this.out(data);
    this.entries.push({ name: n, crc, size: data.length, offset, flags });
  }

  async addStream(name: string, src: AsyncIterable<Buffer>): Promise<void> {
    const n = Buffer.from(name, 'utf8');
    const flags = ZipWriter.utf8Flag(name) | 0x0008; // sizes and CRC in a data descriptor
    const offset = this.offset;
    await this.out(this.local(n, flags, 0, 0));
    let crc = 0;
    let size = 0;
    for await (const c of src) {
      crc = crc32(c, crc);
      size += c.length;
      if (size > LIMIT) throw new TrucError('too_large', `${name} exceeds 4 GiB (ZIP64 is not written)`);
      await this.out(c);
    }
    crc >>>= 0;
    const dd = Buffer.alloc(16);
    dd.writeUInt32LE(0x08074b50, 0);
    dd.writeUInt32LE(crc, 4);
    dd.writeUInt32LE(size, 8);
    dd.writeUInt32LE(size, 12);
    await this.out(dd);
    this.entries.push({ name: n, crc, size, offset, flags });
  }

  async finish(): Promise<void> {
    const start = this.offset;
    for (const e of this.entries) {
      const c = Buffer.alloc(46);
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE(0x0314, 4); // made by: Unix, 2.0
      c.writeUInt16LE(e.flags & 0x0008 ? 20 : 10, 6);
      c.writeUInt16LE(e.flags, 8);
      c.writeUInt16LE(0, 10);
      c.writeUInt16LE(DOS_TIME, 12);
      c.writeUInt16LE(DOS_DATE, 14);
      c.writeUInt32LE(e.crc, 16);
      c.writeUInt32LE(e.size, 20);
      c.writeUInt32LE(e.size, 24);
      c.writeUInt16LE(e.name.length, 28);
      c.writeUInt16LE(0, 30);
      c.writeUInt16LE(0, 32);
      c.writeUInt16LE(0, 34);
      c.writeUInt16LE(0, 36);
      c.writeUInt32LE((0o100644 << 16) >>> 0, 38);
      c.writeUInt32LE(e.offset, 42);
      await this.out(Buffer.concat([c, e.name]));
    }
    if (this.entries.length > 0xffff) throw new TrucError('too_large', 'too many entries for a ZIP without ZIP64');
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(this.entries.length, 8);
    end.writeUInt16LE(this.entries.length, 10);
    end.writeUInt32LE(this.offset - start, 12);
    end.writeUInt32LE(start, 16);
    await this.out(end);
  }
}
