/**
 * Bulk loading with `COPY … FROM STDIN (FORMAT binary)`: rows are encoded once in PostgreSQL's binary copy
 * format (no text escaping on our side, no array or text parsing on the server's) and sent as one stream.
 * It is the fastest way into PostgreSQL, and PGlite takes the same bytes as a blob, so both engines share
 * one encoder. Bulk issuance stores its certificates and audit records this way.
 */
import { TrucError } from '../errors.js';

export type CopyType = 'text' | 'bytea' | 'timestamptz' | 'int8' | 'int4' | 'jsonb';

export interface CopyColumn {
  name: string;
  type: CopyType;
}

/** A row: one value per column, in column order; null or undefined is SQL NULL. */
export type CopyRow = readonly unknown[];

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** microseconds between the Unix epoch and PostgreSQL's (2000-01-01) */
const PG_EPOCH_MS = 946_684_800_000;
const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

function fieldLength(type: CopyType, v: unknown, col: string): number {
  switch (type) {
    case 'text':
      if (typeof v !== 'string') break;
      return Buffer.byteLength(v, 'utf8');
    case 'jsonb':
      if (typeof v !== 'string') break;
      return 1 + Buffer.byteLength(v, 'utf8');
    case 'bytea':
      if (!(v instanceof Uint8Array)) break;
      return v.byteLength;
    case 'timestamptz':
      if (!(v instanceof Date) || Number.isNaN(v.getTime())) break;
      return 8;
    case 'int8':
      if (typeof v !== 'bigint' && !Number.isSafeInteger(v)) break;
      return 8;
    case 'int4':
      if (typeof v !== 'number' || !Number.isInteger(v)) break;
      return 4;
  }
  throw new TrucError('internal', `copy: column ${col} (${type}) cannot hold ${typeof v}`);
}

/** A safe integer as a big-endian int64, without going through BigInt (which costs more than the rest). */
function writeInt64(out: Buffer, v: number, o: number): number {
  const hi = Math.floor(v / 4_294_967_296);
  o = out.writeInt32BE(hi, o);
  return out.writeUInt32BE(v - hi * 4_294_967_296, o);
}

/** The stream's header: signature, flags, header extension length. */
const HEADER = Buffer.concat([SIGNATURE, Buffer.alloc(8)]);
/** The stream's trailer: a field count of -1. */
const TRAILER = Buffer.from([0xff, 0xff]);

/**
 * Encodes rows in the binary copy format — with the stream's header and trailer when `whole` — per row a field count
 * and per field a length (-1 for NULL) and the value in the type's binary send format. Two passes — sizes,
 * then bytes — into a single buffer.
 */
export function encodeCopyRows(columns: readonly CopyColumn[], rows: readonly CopyRow[], whole = false): Buffer {
  const nc = columns.length;
  const lengths = new Int32Array(rows.length * nc);
  let total = whole ? HEADER.length + TRAILER.length : 0;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    if (row.length !== nc) throw new TrucError('internal', `copy: row ${r} has ${row.length} values for ${nc} columns`);
    total += 2;
    for (let c = 0; c < nc; c++) {
      const v = row[c];
      const len = v === null || v === undefined ? -1 : fieldLength(columns[c].type, v, columns[c].name);
      lengths[r * nc + c] = len;
      total += 4 + (len > 0 ? len : 0);
    }
  }
  const out = Buffer.allocUnsafe(total);
  let o = whole ? HEADER.copy(out, 0) : 0;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    o = out.writeInt16BE(nc, o);
    for (let c = 0; c < nc; c++) {
      const len = lengths[r * nc + c];
      o = out.writeInt32BE(len, o);
      if (len < 0) continue;
      const v = row[c];
      switch (columns[c].type) {
        case 'text':
          o += out.write(v as string, o, len, 'utf8');
          break;
        case 'jsonb':
          out[o++] = 1; // jsonb binary format version
          o += out.write(v as string, o, len - 1, 'utf8');
          break;
        case 'bytea': {
          const b = v as Uint8Array;
          out.set(b, o);
          o += b.byteLength;
          break;
        }
        case 'timestamptz':
          // microseconds since 2000 fit a double exactly (|µs| < 2^53 for ±285 years)
          o = writeInt64(out, ((v as Date).getTime() - PG_EPOCH_MS) * 1000, o);
          break;
        case 'int8':
          o = typeof v === 'bigint' ? out.writeBigInt64BE(v, o) : writeInt64(out, v as number, o);
          break;
        case 'int4':
          o = out.writeInt32BE(v as number, o);
          break;
      }
    }
  }
  if (whole) o += TRAILER.copy(out, o);
  if (o !== total) throw new TrucError('internal', `copy: encoded ${o} bytes, expected ${total}`);
  return out;
}

/** Encodes rows as a whole binary copy stream (header, rows, trailer) in one buffer. */
export function encodeCopyBinary(columns: readonly CopyColumn[], rows: readonly CopyRow[]): Buffer {
  return encodeCopyRows(columns, rows, true);
}

/**
 * A binary copy stream built a slice of rows at a time — so that a caller encoding thousands of rows can
 * let the event loop run between slices — and sent as one COPY.
 */
export class CopyRows {
  private readonly parts: Buffer[] = [];
  private n = 0;

  constructor(readonly columns: readonly CopyColumn[]) {}

  add(rows: readonly CopyRow[]): this {
    if (rows.length) {
      this.parts.push(encodeCopyRows(this.columns, rows));
      this.n += rows.length;
    }
    return this;
  }

  get count(): number {
    return this.n;
  }

  /** The stream, in pieces to be sent in order: header, the slices, trailer. */
  stream(): Buffer[] {
    return [HEADER, ...this.parts, TRAILER];
  }
}

/** `COPY table (columns) FROM <source> (FORMAT binary)`, with the names checked as plain identifiers. */
/** The rows as a binary copy stream (in pieces), or null when there are none. */
export function copyData(columns: readonly CopyColumn[], rows: readonly CopyRow[] | CopyRows): Buffer[] | null {
  if (rows instanceof CopyRows) {
    if (rows.columns !== columns) throw new TrucError('internal', 'copy: rows encoded for other columns');
    return rows.count ? rows.stream() : null;
  }
  return rows.length ? [encodeCopyBinary(columns, rows)] : null;
}

/** PGlite's COPY of these rows from its virtual `/dev/blob`: the statement and the bytes, or null when there are none. */
export function blobCopy(table: string, columns: readonly CopyColumn[], rows: readonly CopyRow[] | CopyRows): { text: string; parts: Buffer[] } | null {
  const parts = copyData(columns, rows);
  return parts ? { text: copyStatement(table, columns, "'/dev/blob'"), parts } : null;
}

export function copyStatement(table: string, columns: readonly CopyColumn[], source: string): string {
  for (const n of [table, ...columns.map((c) => c.name)])
    if (!IDENT.test(n)) throw new TrucError('internal', `copy: "${n}" is not a plain identifier`);
  return `COPY ${table} (${columns.map((c) => c.name).join(', ')}) FROM ${source} (FORMAT binary)`;
}

interface PgConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

/**
 * A `pg` submittable that runs one `COPY … FROM STDIN` and streams `data` when the server asks for it.
 * node-postgres hands the active query the protocol messages; this one answers CopyInResponse with the
 * data and CopyDone, and finishes on ReadyForQuery, or on the first error (a server error, or the socket
 * dying, after which no ReadyForQuery comes).
 */
export class PgCopyIn {
  private done = false;
  private error: Error | null = null;
  readonly promise: Promise<void>;
  private settle!: (e: Error | null) => void;

  constructor(
    readonly text: string,
    private readonly data: readonly Buffer[],
  ) {
    this.promise = new Promise<void>((resolve, reject) => {
      this.settle = (e) => (e ? reject(e) : resolve());
    });
  }

  private finish(e: Error | null): void {
    if (this.done) return;
    this.done = true;
    this.settle(e);
  }

  submit(con: PgConnection): void {
    con.query(this.text);
  }

  handleCopyInResponse(con: PgConnection): void {
    const CHUNK = 1 << 20;
    for (const part of this.data)
      for (let o = 0; o < part.length; o += CHUNK) con.sendCopyFromChunk(part.subarray(o, o + CHUNK));
    con.endCopyFrom();
  }

  handleError(e: Error): void {
    this.error ??= e;
    this.finish(this.error);
  }

  handleReadyForQuery(): void {
    this.finish(this.error);
  }

  handleCommandComplete(): void {}
  handleCopyData(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
}
