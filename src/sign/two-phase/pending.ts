/**
 * Signatures waiting for their value: one row per handle, holding the document, the signer's certificate,
 * the parameters and the data to be signed made in step one. A handle is single-use — `claimPending` marks
 * it used in the same statement that reads it, so two completions cannot both win — and expires (default
 * 10 minutes). A completion that fails after the claim (a time-stamp authority down) gives the handle back,
 * since nothing was written; a value that does not verify is refused before the claim. Rows are the
 * principal's own: another principal's handle is "not found". A batch is several handles made together,
 * completed by one approval on the token.
 */
import { randomBytes } from 'node:crypto';
import { TrucError } from '../../errors.js';
import type { SignatureScheme } from '../../crypto/algorithms.js';
import type { Migration, Sql } from '../../store/index.js';
import type { TwoPhaseParams } from './params.js';

export const pendingMigrations: Migration[] = [
  {
    id: 'sign/002_sign_pending',
    sql: `
      CREATE TABLE sign_pending (
        handle text PRIMARY KEY,
        principal text NOT NULL,
        batch text,
        position integer NOT NULL DEFAULT 0,
        title text NOT NULL,
        params text NOT NULL,
        document bytea NOT NULL,
        document_sha256 text NOT NULL,
        certificate bytea NOT NULL,
        chain text NOT NULL,
        scheme text NOT NULL,
        dtbs bytea NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz
      );
      CREATE INDEX sign_pending_batch ON sign_pending (batch) WHERE batch IS NOT NULL;
      CREATE INDEX sign_pending_expires ON sign_pending (expires_at);
    `,
  },
];

export interface Pending {
  handle: string;
  principal: string;
  batch?: string;
  /** order within the batch */
  position: number;
  title: string;
  params: TwoPhaseParams;
  document: Buffer;
  documentSha256: string;
  certificate: Buffer;
  chain: Buffer[];
  scheme: SignatureScheme;
  dtbs: Buffer;
  createdAt: Date;
  expiresAt: Date;
  usedAt?: Date;
}

interface Row {
  handle: string;
  principal: string;
  batch: string | null;
  position: number;
  title: string;
  params: string;
  document: Uint8Array;
  document_sha256: string;
  certificate: Uint8Array;
  chain: string;
  scheme: string;
  dtbs: Uint8Array;
  created_at: Date | string;
  expires_at: Date | string;
  used_at: Date | string | null;
}

const fromRow = (r: Row): Pending => ({
  handle: r.handle,
  principal: r.principal,
  ...(r.batch ? { batch: r.batch } : {}),
  position: r.position,
  title: r.title,
  params: JSON.parse(r.params) as TwoPhaseParams,
  document: Buffer.from(r.document),
  documentSha256: r.document_sha256,
  certificate: Buffer.from(r.certificate),
  chain: (JSON.parse(r.chain) as string[]).map((c) => Buffer.from(c, 'base64')),
  scheme: r.scheme as SignatureScheme,
  dtbs: Buffer.from(r.dtbs),
  createdAt: new Date(r.created_at),
  expiresAt: new Date(r.expires_at),
  ...(r.used_at ? { usedAt: new Date(r.used_at) } : {}),
});

export const newHandle = (): string => `sp_${randomBytes(18).toString('base64url')}`;
export const newBatch = (): string => `sb_${randomBytes(12).toString('base64url')}`;

export async function insertPending(sql: Sql, p: Omit<Pending, 'usedAt'>): Promise<void> {
  await sql.query(
    `INSERT INTO sign_pending (handle, principal, batch, title, params, document, document_sha256, certificate, chain, scheme, dtbs, created_at, expires_at, position)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)`,
    [
      p.handle,
      p.principal,
      p.batch ?? null,
      p.title,
      JSON.stringify(p.params),
      p.document,
      p.documentSha256,
      p.certificate,
      JSON.stringify(p.chain.map((c) => c.toString('base64'))),
      p.scheme,
      p.dtbs,
      p.createdAt.toISOString(),
      p.expiresAt.toISOString(),
      p.position,
    ],
  );
}

/** The principal's handle, whatever its state (for refusing with the right reason). */
export async function getPending(sql: Sql, principal: string, handle: string): Promise<Pending> {
  const [r] = await sql.query<Row>('SELECT * FROM sign_pending WHERE handle = $1 AND principal = $2', [handle, principal]);
  if (!r) throw new TrucError('not_found', `no signature is waiting under handle "${handle.slice(0, 60)}" / không có chữ ký nào chờ với mã này`);
  return fromRow(r);
}

/** Checks a handle can still be completed at `now`; throws `handle_used` or `handle_expired`. */
export function assertOpen(p: Pending, now: Date): void {
  if (p.usedAt) throw new TrucError('handle_used', `the handle was already used at ${p.usedAt.toISOString()} / mã ký đã được dùng`, { handle: p.handle });
  if (p.expiresAt.getTime() <= now.getTime()) throw new TrucError('handle_expired', `the handle expired at ${p.expiresAt.toISOString()}: prepare the signature again / mã ký đã hết hạn, hãy chuẩn bị lại`, { handle: p.handle });
}

/** Marks the handle used, atomically: only one caller gets it. */
export async function claimPending(sql: Sql, p: Pending, now: Date): Promise<void> {
  const r = await sql.query('UPDATE sign_pending SET used_at = $3 WHERE handle = $1 AND principal = $2 AND used_at IS NULL AND expires_at > $3 RETURNING handle', [p.handle, p.principal, now.toISOString()]);
  if (!r.length) {
    assertOpen(await getPending(sql, p.principal, p.handle), now);
    throw new TrucError('handle_used', 'the handle was used meanwhile / mã ký vừa được dùng', { handle: p.handle });
  }
}

/** Gives a claimed handle back after a completion that wrote nothing. */
export async function releasePending(sql: Sql, p: Pending): Promise<void> {
  await sql.query('UPDATE sign_pending SET used_at = NULL WHERE handle = $1', [p.handle]);
}

/** After a successful completion the document is no longer kept; the row stays as the handle's record. */
export async function finishPending(sql: Sql, p: Pending): Promise<void> {
  await sql.query("UPDATE sign_pending SET document = ''::bytea WHERE handle = $1", [p.handle]);
}

export async function batchHandles(sql: Sql, principal: string, batch: string): Promise<string[]> {
  return (await sql.query<{ handle: string }>('SELECT handle FROM sign_pending WHERE batch = $1 AND principal = $2 ORDER BY position', [batch, principal])).map((r) => r.handle);
}

/** Drops rows past their expiry by more than `keepSeconds` (a day by default). */
export async function purgePending(sql: Sql, now: Date, keepSeconds = 86_400): Promise<number> {
  return (await sql.query('DELETE FROM sign_pending WHERE expires_at < $1 RETURNING handle', [new Date(now.getTime() - keepSeconds * 1000).toISOString()])).length;
}
