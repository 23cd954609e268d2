/**
 * The message log's contract with the security server. The server spools a message body while it streams
 * through (hashing it), verifies the message, appends the record — which resolves only once the record is
 * durable — and only then delivers. Records are hash-chained; batches of them are time-stamped through a
 * hash tree by an approved TSA. Implemented in `./log.ts`.
 */
import type { Readable } from 'node:stream';
import type { TimeStamper } from '../../sign/signer.js';

export type LogMode = 'full' | 'metadata';

export interface SpooledBody {
  /** spool handle, meaningful to the log that made it */
  readonly id: string;
  readonly length: number;
  /** SHA-256 of the body */
  readonly hash: Buffer;
  /** reads the spooled body back (to deliver it after verification) */
  open(): Readable;
  /** deletes a finished spool that will not be appended (the message was refused after it was read) */
  discard?(): Promise<void>;
}

/** A body being spooled: write chunks as they arrive (await each for back-pressure), then finish or discard. */
export interface BodySpool {
  write(chunk: Buffer): Promise<void>;
  finish(): Promise<SpooledBody>;
  /** drops what was written (the message was refused or the peer went away) */
  discard(): Promise<void>;
}

export interface LogRecordInput {
  /** X-Road-Id of the exchange (request and response share it) */
  messageId: string;
  kind: 'request' | 'response';
  /** which side of the exchange this server was on */
  side: 'consumer' | 'provider';
  /** SUBSYSTEM:… text form */
  client: string;
  /** SERVICE:… text form */
  service: string;
  userId?: string;
  issue?: string;
  /** when this server logged it */
  time: Date;
  /** the signed message header, as it travelled (canonical JSON bytes) */
  header: Buffer;
  /** the signature block, as it travelled */
  signature: Buffer;
  /** SHA-256 of the body and its length */
  bodyHash: Buffer;
  bodyLength: number;
  /**
   * the body: small bodies inline, large ones as spooled; omitted (or dropped in metadata mode) means only
   * the hash is kept
   */
  body?: Buffer | SpooledBody;
  /**
   * certificates and OCSP responses the header names by hash (message protocol v2): each is written once
   * per segment, before the first record naming it, and the record keeps their hashes
   */
  material?: Buffer[];
}

export interface LoggedRecord {
  /** position in this server's log, from 1 */
  seq: number;
  /** the record's chain hash (SHA-256 over the previous chain hash and this record) */
  hash: Buffer;
}

export interface LogHealth {
  /** when the last time-stamp batch succeeded */
  lastTimestampAt: Date | null;
  /** the oldest record still waiting for a time-stamp */
  oldestUnstampedAt: Date | null;
  unstamped: number;
  /** true while records have waited past the grace period: the server refuses new messages */
  refusing: boolean;
  lastError?: string;
}

export interface MessageLogApi {
  /** a new body spool (bounded memory whatever the body's size) */
  spool(): BodySpool;
  /** appends a record; resolves once it is durable (group-committed with others arriving together) */
  append(rec: LogRecordInput): Promise<LoggedRecord>;
  /** time-stamps what waits (up to the batch limit) now; normally run by the schedule */
  timestampNow(stamper: TimeStamper): Promise<{ stamped: number }>;
  health(now?: Date): LogHealth;
  close(): Promise<void>;
  /**
   * Optional beyond the core contract (MessageLog has them; a test double need not): time-stamping on a
   * schedule with the approved TSAs, search of the index, per-message evidence (an ASiC-E ZIP stream).
   */
  startTimestamping?(o: { stampers: TimeStamper[]; intervalMs?: number; graceMs?: number; batchLimit?: number; onEvent?: (e: { type: string; [k: string]: unknown }) => void }): void;
  stopTimestamping?(): void;
  search?(q: { messageId?: string; client?: string; service?: string; kind?: 'request' | 'response'; from?: Date; to?: Date; afterSeq?: number; limit?: number }): Promise<unknown[]>;
  evidence?(messageId: string, opts?: { seal?: (manifest: Buffer) => Promise<Buffer> }): Promise<Readable>;
  /** the requests received as a provider's since a time (client, message id): the replay guard's seed at start */
  receivedSince?(since: Date, each: (client: string, messageId: string) => void): Promise<number>;
  /** the whole log checked as `truc log verify` does, bodies decrypted with the log's own cipher */
  verify?(o: { trustedTsaCerts: Uint8Array[]; intermediates?: Uint8Array[]; checkBodies?: boolean }): Promise<unknown>;
}
