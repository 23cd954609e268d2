/**
 * The two fixed structures of an EVTX file: the file header (the first 4 KiB, of which 128 bytes are used)
 * and the 512-byte header at the start of each 64 KiB chunk. Layouts from libyal's "Windows XML Event Log
 * (EVTX) format"; every field is read where it is, nothing is trusted beyond its checksum.
 */
import { crc32 } from './crc32.js';

export const FILE_HEADER_SIZE = 4096;
export const CHUNK_SIZE = 65536;
export const CHUNK_HEADER_SIZE = 512;

const FILE_MAGIC = Buffer.from('ElfFile\0', 'latin1');
const CHUNK_MAGIC = Buffer.from('ElfChnk\0', 'latin1');

export interface FileHeader {
  firstChunk: number;
  lastChunk: number;
  nextRecordId: number;
  minorVersion: number;
  majorVersion: number;
  /** Chunks the header counts: lower than those present in a file copied from a live system. */
  chunkCount: number;
  /** Bit 0: dirty (not closed cleanly), bit 1: full. */
  flags: number;
  checksumOk: boolean;
}

export function isEvtx(head: Uint8Array): boolean {
  if (head.length < 8) return false;
  for (let i = 0; i < 8; i++) if (head[i] !== FILE_MAGIC[i]) return false;
  return true;
}

function u64(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 4294967296;
}

/** Reads the file header; the caller has checked the magic and that 128 bytes are there. */
export function readFileHeader(b: Buffer): FileHeader {
  return {
    firstChunk: u64(b, 8),
    lastChunk: u64(b, 16),
    nextRecordId: u64(b, 24),
    minorVersion: b.readUInt16LE(36),
    majorVersion: b.readUInt16LE(38),
    chunkCount: b.readUInt16LE(42),
    flags: b.readUInt32LE(120),
    checksumOk: crc32(b, 0, 120) === b.readUInt32LE(124),
  };
}

export interface ChunkHeader {
  firstRecordNumber: number;
  lastRecordNumber: number;
  firstRecordId: number;
  lastRecordId: number;
  lastRecordOffset: number;
  /** Where the records end and unused space (possibly holding older, carvable records) begins. */
  freeSpaceOffset: number;
  headerChecksumOk: boolean;
  /** Of the record data from 512 to the free-space offset; false too when that offset is impossible. */
  dataChecksumOk: boolean;
}

export function hasChunkMagic(c: Uint8Array): boolean {
  if (c.length < 8) return false;
  for (let i = 0; i < 8; i++) if (c[i] !== CHUNK_MAGIC[i]) return false;
  return true;
}

/** Reads a chunk header; the caller has checked the magic and that 512 bytes are there. */
export function readChunkHeader(c: Buffer): ChunkHeader {
  const freeSpaceOffset = c.readUInt32LE(48);
  const dataEnd = freeSpaceOffset >= CHUNK_HEADER_SIZE && freeSpaceOffset <= c.length ? freeSpaceOffset : -1;
  return {
    firstRecordNumber: u64(c, 8),
    lastRecordNumber: u64(c, 16),
    firstRecordId: u64(c, 24),
    lastRecordId: u64(c, 32),
    lastRecordOffset: c.readUInt32LE(44),
    freeSpaceOffset,
    headerChecksumOk: crc32(c, 128, CHUNK_HEADER_SIZE, crc32(c, 0, 120)) === c.readUInt32LE(124),
    dataChecksumOk: dataEnd >= 0 && crc32(c, CHUNK_HEADER_SIZE, dataEnd) === c.readUInt32LE(52),
  };
}

/** True when every byte is zero: a chunk allocated in advance and never written, not damage. */
export function allZero(c: Uint8Array, start = 0, end = c.length): boolean {
  for (let i = start; i < end; i++) if (c[i] !== 0) return false;
  return true;
}
