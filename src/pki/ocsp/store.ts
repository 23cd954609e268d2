/**
 * The OCSP responder's storage: which delegated responder certificate (and key) answers for which CA, and
 * the read side of certificate status it answers from. Status is the CA's (pki_certificate); the responder
 * only reads it, here, in one place.
 */
import type { Migration, Sql } from '../../store/index.js';
import type { SignatureScheme } from '../../crypto/algorithms.js';
import type { CertStatus } from '../store.js';

export const ocspMigrations: Migration[] = [
  {
    id: 'ocsp/001_responder',
    sql: `
      CREATE TABLE ocsp_responder (
        ca_id text PRIMARY KEY REFERENCES pki_ca(id),
        key_store text NOT NULL,
        key_id text NOT NULL,
        scheme text NOT NULL,
        serial text NOT NULL,
        certificate bytea NOT NULL,
        not_before timestamptz NOT NULL,
        not_after timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];

export interface ResponderRow {
  caId: string;
  keyStore: string;
  keyId: string;
  scheme: SignatureScheme;
  serial: string;
  certificate: Buffer;
  notBefore: Date;
  notAfter: Date;
}

export async function getResponder(sql: Sql, caId: string): Promise<ResponderRow | null> {
  const [r] = await sql.query<any>('SELECT * FROM ocsp_responder WHERE ca_id = $1', [caId]);
  return r
    ? {
        caId: r.ca_id,
        keyStore: r.key_store,
        keyId: r.key_id,
        scheme: r.scheme,
        serial: r.serial,
        certificate: Buffer.from(r.certificate),
        notBefore: new Date(r.not_before),
        notAfter: new Date(r.not_after),
      }
    : null;
}

export async function putResponder(sql: Sql, r: ResponderRow): Promise<void> {
  await sql.query(
    `INSERT INTO ocsp_responder (ca_id, key_store, key_id, scheme, serial, certificate, not_before, not_after)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
     ON CONFLICT (ca_id) DO UPDATE SET key_store = $2, key_id = $3, scheme = $4, serial = $5, certificate = $6,
       not_before = $7, not_after = $8, created_at = now()`,
    [r.caId, r.keyStore, r.keyId, r.scheme, r.serial, r.certificate, r.notBefore, r.notAfter],
  );
}

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
