/**
 * The OCSP responder's read side of certificate status. Status is the CA's (pki_certificate); the responder
 * only reads it, here, in one place. Its delegated certificates are service certificates (../service-cert.ts).
 */
import type { Sql } from '../../store/index.js';
import type { CertStatus } from '../store.js';

/** What the responder needs to know of a certificate. */
export interface StatusRow {
  serial: string;
  caId: string;
  status: CertStatus;
  revokedAt: Date | null;
  reason: number | null;
  notAfter: Date;
  seq: number;
}

const statusFromRow = (r: any): StatusRow => ({
  serial: r.serial,
  caId: r.ca_id,
  status: r.status,
  revokedAt: r.revoked_at ? new Date(r.revoked_at) : null,
  reason: r.reason,
  notAfter: new Date(r.not_after),
  seq: Number(r.status_seq),
});

const COLUMNS = 'serial, ca_id, status, revoked_at, reason, not_after, status_seq';

/** Certificates of a CA not expired at `at`. */
export async function currentStatuses(sql: Sql, caId: string, at: Date): Promise<StatusRow[]> {
  const rows = await sql.query<any>(`SELECT ${COLUMNS} FROM pki_certificate WHERE ca_id = $1 AND not_after >= $2`, [
    caId,
    at,
  ]);
  return rows.map(statusFromRow);
}

/** Certificates of a CA whose status changed after `sinceSeq` (changes made by other processes). */
export async function statusChangesSince(sql: Sql, caId: string, sinceSeq: number): Promise<StatusRow[]> {
  const rows = await sql.query<any>(
    `SELECT ${COLUMNS} FROM pki_certificate WHERE ca_id = $1 AND status_seq > $2 ORDER BY status_seq LIMIT 10000`,
    [caId, sinceSeq],
  );
  return rows.map(statusFromRow);
}

export async function statusOf(sql: Sql, serial: string): Promise<StatusRow | null> {
  const [r] = await sql.query<any>(`SELECT ${COLUMNS} FROM pki_certificate WHERE serial = $1`, [serial]);
  return r ? statusFromRow(r) : null;
}
