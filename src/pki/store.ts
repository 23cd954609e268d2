/**
 * The PKI's storage authority: the only module that reads or writes the CA tables. Certificates are kept
 * with their status; every status change takes a value from one sequence, so a delta CRL is exactly the
 * changes after its base CRL's high-water mark, whatever the clocks did.
 */
import { TrucError } from '../errors.js';
import type { Migration, Sql } from '../store/index.js';
import { CopyRows, type CopyColumn } from '../store/copy.js';
import type { KeyAlgorithm, SignatureScheme } from '../crypto/algorithms.js';

export const pkiMigrations: Migration[] = [
  {
    id: 'pki/001_ca',
    sql: `
      CREATE TABLE pki_ca (
        id text PRIMARY KEY,
        parent_id text REFERENCES pki_ca(id),
        subject text NOT NULL,
        subject_der bytea NOT NULL,
        certificate bytea NOT NULL,
        key_store text NOT NULL,
        key_id text NOT NULL,
        key_algorithm text NOT NULL,
        scheme text NOT NULL,
        ski bytea NOT NULL,
        not_before timestamptz NOT NULL,
        not_after timestamptz NOT NULL,
        path_len int,
        status text NOT NULL DEFAULT 'active',
        crl_number bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE SEQUENCE pki_status_seq;
      CREATE TABLE pki_certificate (
        serial text PRIMARY KEY,
        ca_id text NOT NULL REFERENCES pki_ca(id),
        profile text NOT NULL,
        subject text NOT NULL,
        key_algorithm text NOT NULL,
        spki_sha256 bytea NOT NULL,
        not_before timestamptz NOT NULL,
        not_after timestamptz NOT NULL,
        status text NOT NULL DEFAULT 'good' CHECK (status IN ('good', 'revoked', 'hold')),
        revoked_at timestamptz,
        reason int,
        invalidity_date timestamptz,
        status_seq bigint NOT NULL DEFAULT 0,
        request_id text UNIQUE,
        request_hash bytea,
        requested_by text NOT NULL,
        der bytea NOT NULL,
        issued_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX pki_certificate_ca_status ON pki_certificate (ca_id, status) WHERE status <> 'good';
      CREATE INDEX pki_certificate_status_seq ON pki_certificate (ca_id, status_seq) WHERE status_seq > 0;
      CREATE INDEX pki_certificate_subject ON pki_certificate (lower(subject) text_pattern_ops);
      CREATE INDEX pki_certificate_not_after ON pki_certificate (not_after);
      CREATE INDEX pki_certificate_profile ON pki_certificate (profile, issued_at);
      CREATE TABLE pki_crl (
        ca_id text NOT NULL REFERENCES pki_ca(id),
        number bigint NOT NULL,
        delta boolean NOT NULL,
        base_number bigint,
        high_seq bigint NOT NULL,
        this_update timestamptz NOT NULL,
        next_update timestamptz NOT NULL,
        entries int NOT NULL,
        der bytea NOT NULL,
        PRIMARY KEY (ca_id, number)
      );
      CREATE INDEX pki_crl_latest ON pki_crl (ca_id, delta, number DESC);
    `,
  },
  {
    // Indexes for the searches that are actually run, and none that only slow issuance down:
    // - the btree on lower(subject) served no query (subject search is a substring match, LIKE '%…%', which a
    //   btree cannot answer) and cost a lower() and a text index entry per certificate;
    // - every search returns the newest first (ORDER BY issued_at DESC): one index on issued_at serves the
    //   unfiltered listing and lets a filtered one (subject, profile) walk newest-first and stop at its limit,
    //   where (profile, issued_at) served only a profile filter;
    // - request ids are optional: their unique index holds only the rows that have one.
    id: 'pki/003_certificate_indexes',
    sql: `
      DROP INDEX pki_certificate_subject;
      DROP INDEX pki_certificate_profile;
      CREATE INDEX pki_certificate_issued ON pki_certificate (issued_at);
      ALTER TABLE pki_certificate DROP CONSTRAINT pki_certificate_request_id_key;
      CREATE UNIQUE INDEX pki_certificate_request_id ON pki_certificate (request_id) WHERE request_id IS NOT NULL;
    `,
  },
  {
    // requests for keys that cannot sign (./key-agreement): the signed request as received, the SHA-256 of
    // the answer its challenge expects (not the answer), and what became of it
    id: 'pki/004_key_agreement_request',
    sql: `
      CREATE TABLE pki_ka_request (
        id text PRIMARY KEY,
        member text NOT NULL,
        profile text NOT NULL,
        subject text NOT NULL,
        spki bytea NOT NULL,
        signing_serial text NOT NULL,
        request jsonb NOT NULL,
        expected_hash bytea NOT NULL,
        state text NOT NULL CHECK (state IN ('challenged', 'issuing', 'issued', 'refused')),
        serial text,
        requested_by text NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        decided_by text,
        decided_at timestamptz,
        reason text
      );
    `,
  },
];

export interface CaRow {
  id: string;
  parentId: string | null;
  subject: string;
  subjectDer: Buffer;
  certificate: Buffer;
  keyStore: string;
  keyId: string;
  keyAlgorithm: KeyAlgorithm;
  scheme: SignatureScheme;
  ski: Buffer;
  notBefore: Date;
  notAfter: Date;
  pathLen: number | null;
  status: string;
}

export type CertStatus = 'good' | 'revoked' | 'hold';

export interface CertRow {
  serial: string;
  caId: string;
  profile: string;
  subject: string;
  keyAlgorithm: string;
  notBefore: Date;
  notAfter: Date;
  status: CertStatus;
  revokedAt: Date | null;
  reason: number | null;
  invalidityDate: Date | null;
  requestId: string | null;
  requestedBy: string;
  issuedAt: Date;
  der: Buffer;
}

const caFromRow = (r: any): CaRow => ({
  id: r.id,
  parentId: r.parent_id,
  subject: r.subject,
  subjectDer: Buffer.from(r.subject_der),
  certificate: Buffer.from(r.certificate),
  keyStore: r.key_store,
  keyId: r.key_id,
  keyAlgorithm: r.key_algorithm,
  scheme: r.scheme,
  ski: Buffer.from(r.ski),
  notBefore: new Date(r.not_before),
  notAfter: new Date(r.not_after),
  pathLen: r.path_len,
  status: r.status,
});

export const certFromRow = (r: any): CertRow => ({
  serial: r.serial,
  caId: r.ca_id,
  profile: r.profile,
  subject: r.subject,
  keyAlgorithm: r.key_algorithm,
  notBefore: new Date(r.not_before),
  notAfter: new Date(r.not_after),
  status: r.status,
  revokedAt: r.revoked_at ? new Date(r.revoked_at) : null,
  reason: r.reason,
  invalidityDate: r.invalidity_date ? new Date(r.invalidity_date) : null,
  requestId: r.request_id,
  requestedBy: r.requested_by,
  issuedAt: new Date(r.issued_at),
  der: Buffer.from(r.der),
});

export async function insertCa(sql: Sql, ca: CaRow): Promise<void> {
  await sql.query(
    `INSERT INTO pki_ca (id, parent_id, subject, subject_der, certificate, key_store, key_id, key_algorithm, scheme,
       ski, not_before, not_after, path_len, status)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)`,
    [
      ca.id,
      ca.parentId,
      ca.subject,
      ca.subjectDer,
      ca.certificate,
      ca.keyStore,
      ca.keyId,
      ca.keyAlgorithm,
      ca.scheme,
      ca.ski,
      ca.notBefore,
      ca.notAfter,
      ca.pathLen,
      ca.status,
    ],
  );
}

export async function getCa(sql: Sql, id: string): Promise<CaRow | null> {
  const [r] = await sql.query('SELECT * FROM pki_ca WHERE id = $1', [id]);
  return r ? caFromRow(r) : null;
}

export async function listCas(sql: Sql): Promise<CaRow[]> {
  return (await sql.query('SELECT * FROM pki_ca ORDER BY created_at, id')).map(caFromRow);
}

export interface NewCert {
  serial: string;
  caId: string;
  profile: string;
  subject: string;
  keyAlgorithm: string;
  spkiSha256: Buffer;
  notBefore: Date;
  notAfter: Date;
  requestId: string | null;
  requestHash: Buffer | null;
  requestedBy: string;
  der: Buffer;
}

/**
 * One insert for a whole batch, a column an array: the statement text and its parameter count stay the
 * same whatever the batch size, so the server parses a short statement instead of one with thousands of
 * placeholders.
 * A serial collision fails the batch (the caller retries).
 */
const CERT_COLUMNS: CopyColumn[] = [
  { name: 'serial', type: 'text' },
  { name: 'ca_id', type: 'text' },
  { name: 'profile', type: 'text' },
  { name: 'subject', type: 'text' },
  { name: 'key_algorithm', type: 'text' },
  { name: 'spki_sha256', type: 'bytea' },
  { name: 'not_before', type: 'timestamptz' },
  { name: 'not_after', type: 'timestamptz' },
  { name: 'request_id', type: 'text' },
  { name: 'request_hash', type: 'bytea' },
  { name: 'requested_by', type: 'text' },
  { name: 'der', type: 'bytea' },
];

const certRow = (c: NewCert): unknown[] => [
  c.serial,
  c.caId,
  c.profile,
  c.subject,
  c.keyAlgorithm,
  c.spkiSha256,
  c.notBefore,
  c.notAfter,
  c.requestId,
  c.requestHash,
  c.requestedBy,
  c.der,
];

/**
 * Certificate rows being encoded for `insertCerts` a slice at a time, before the transaction starts: start
 * with `certRows()`, add slices with `addCerts`.
 */
export function certRows(): CopyRows {
  return new CopyRows(CERT_COLUMNS);
}

export function addCerts(into: CopyRows, certs: NewCert[]): CopyRows {
  return into.add(certs.map(certRow));
}

/**
 * Stores issued certificates with one binary COPY (constraints and unique serials checked as for INSERT),
 * given as rows or as `certRows` encoded them.
 */
export async function insertCerts(sql: Sql, certs: NewCert[] | CopyRows): Promise<void> {
  if (Array.isArray(certs) && certs.length === 0) return;
  await sql.copyFrom('pki_certificate', CERT_COLUMNS, Array.isArray(certs) ? certs.map(certRow) : certs);
}

export async function findByRequestIds(
  sql: Sql,
  ids: string[],
): Promise<Map<string, { serial: string; requestHash: Buffer | null; der: Buffer }>> {
  if (ids.length === 0) return new Map();
  const rows = await sql.query<any>(
    'SELECT serial, request_id, request_hash, der FROM pki_certificate WHERE request_id = ANY($1::text[])',
    [ids],
  );
  return new Map(
    rows.map((r) => [
      r.request_id,
      { serial: r.serial, requestHash: r.request_hash ? Buffer.from(r.request_hash) : null, der: Buffer.from(r.der) },
    ]),
  );
}

export async function getCert(sql: Sql, serial: string, forUpdate = false): Promise<CertRow | null> {
  const [r] = await sql.query(`SELECT * FROM pki_certificate WHERE serial = $1${forUpdate ? ' FOR UPDATE' : ''}`, [
    serial,
  ]);
  return r ? certFromRow(r) : null;
}

export async function setStatus(
  sql: Sql,
  serial: string,
  status: CertStatus,
  revokedAt: Date | null,
  reason: number | null,
  invalidityDate: Date | null,
): Promise<void> {
  await sql.query(
    `UPDATE pki_certificate SET status = $2, revoked_at = $3, reason = $4, invalidity_date = $5,
       status_seq = nextval('pki_status_seq') WHERE serial = $1`,
    [serial, status, revokedAt, reason, invalidityDate],
  );
}

export interface CertQuery {
  serial?: string;
  subject?: string; // substring, case-insensitive
  profile?: string;
  caId?: string;
  status?: CertStatus;
  /** valid at this instant */
  validAt?: Date;
  expiresBefore?: Date;
  issuedAfter?: Date;
  limit?: number;
  offset?: number;
}

export async function searchCerts(sql: Sql, q: CertQuery): Promise<CertRow[]> {
  for (const [k, d] of Object.entries({ validAt: q.validAt, expiresBefore: q.expiresBefore, issuedAfter: q.issuedAfter }))
    if (d && Number.isNaN(d.getTime())) throw new TrucError('bad_request', `${k} is not a date`);
  const w: string[] = [];
  const p: unknown[] = [];
  if (q.serial) w.push(`serial = $${p.push(q.serial.toLowerCase())}`);
  if (q.subject) w.push(`lower(subject) LIKE $${p.push('%' + q.subject.normalize('NFC').toLowerCase().replace(/[\\%_]/g, '\\$&') + '%')}`);
  if (q.profile) w.push(`profile = $${p.push(q.profile)}`);
  if (q.caId) w.push(`ca_id = $${p.push(q.caId)}`);
  if (q.status) w.push(`status = $${p.push(q.status)}`);
  if (q.validAt) {
    const i = p.push(q.validAt);
    w.push(`not_before <= $${i} AND not_after >= $${i}`);
  }
  if (q.expiresBefore) w.push(`not_after < $${p.push(q.expiresBefore)}`);
  if (q.issuedAfter) w.push(`issued_at > $${p.push(q.issuedAfter)}`);
  // interpolated into the SQL text: whole numbers only, whatever the caller passed
  const whole = (n: number | undefined, dflt: number) => (Number.isFinite(n) ? Math.floor(n!) : dflt);
  const limit = Math.min(Math.max(whole(q.limit, 50), 1), 1000);
  const offset = Math.max(whole(q.offset, 0), 0);
  const rows = await sql.query(
    `SELECT * FROM pki_certificate ${w.length ? 'WHERE ' + w.join(' AND ') : ''}
     ORDER BY issued_at DESC, serial LIMIT ${limit} OFFSET ${offset}`,
    p,
  );
  return rows.map(certFromRow);
}

export interface RevokedEntry {
  serial: string;
  status: CertStatus;
  revokedAt: Date | null;
  reason: number | null;
  invalidityDate: Date | null;
}

/** Revoked and held certificates of a CA not yet expired at `at`, plus the status high-water mark. */
export async function revokedFor(sql: Sql, caId: string, at: Date): Promise<RevokedEntry[]> {
  const rows = await sql.query<any>(
    `SELECT serial, status, revoked_at, reason, invalidity_date FROM pki_certificate
     WHERE ca_id = $1 AND status <> 'good' AND not_after >= $2 ORDER BY serial`,
    [caId, at],
  );
  return rows.map((r) => ({
    serial: r.serial,
    status: r.status,
    revokedAt: r.revoked_at ? new Date(r.revoked_at) : null,
    reason: r.reason,
    invalidityDate: r.invalidity_date ? new Date(r.invalidity_date) : null,
  }));
}

/** Certificates whose status changed after `sinceSeq` (for a delta CRL), with their current status. */
export async function changedSince(sql: Sql, caId: string, sinceSeq: number, at: Date): Promise<RevokedEntry[]> {
  const rows = await sql.query<any>(
    `SELECT serial, status, revoked_at, reason, invalidity_date FROM pki_certificate
     WHERE ca_id = $1 AND status_seq > $2 AND not_after >= $3 ORDER BY serial`,
    [caId, sinceSeq, at],
  );
  return rows.map((r) => ({
    serial: r.serial,
    status: r.status,
    revokedAt: r.revoked_at ? new Date(r.revoked_at) : null,
    reason: r.reason,
    invalidityDate: r.invalidity_date ? new Date(r.invalidity_date) : null,
  }));
}

export async function currentStatusSeq(sql: Sql): Promise<number> {
  // last_value of a sequence never used yet is its start (1) with is_called false
  const [r] = await sql.query<{ last_value: string; is_called: boolean }>(
    'SELECT last_value, is_called FROM pki_status_seq',
  );
  return r.is_called ? Number(r.last_value) : 0;
}

export async function nextCrlNumber(sql: Sql, caId: string): Promise<number> {
  const [r] = await sql.query<{ crl_number: string }>(
    'UPDATE pki_ca SET crl_number = crl_number + 1 WHERE id = $1 RETURNING crl_number',
    [caId],
  );
  return Number(r.crl_number);
}

export interface CrlRow {
  caId: string;
  number: number;
  delta: boolean;
  baseNumber: number | null;
  highSeq: number;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: number;
  der: Buffer;
}

export async function insertCrl(sql: Sql, c: CrlRow): Promise<void> {
  await sql.query(
    `INSERT INTO pki_crl (ca_id, number, delta, base_number, high_seq, this_update, next_update, entries, der)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
    [c.caId, c.number, c.delta, c.baseNumber, c.highSeq, c.thisUpdate, c.nextUpdate, c.entries, c.der],
  );
}

export async function latestCrl(sql: Sql, caId: string, delta: boolean): Promise<CrlRow | null> {
  const [r] = await sql.query<any>(
    'SELECT * FROM pki_crl WHERE ca_id = $1 AND delta = $2 ORDER BY number DESC LIMIT 1',
    [caId, delta],
  );
  return r
    ? {
        caId: r.ca_id,
        number: Number(r.number),
        delta: r.delta,
        baseNumber: r.base_number === null ? null : Number(r.base_number),
        highSeq: Number(r.high_seq),
        thisUpdate: new Date(r.this_update),
        nextUpdate: new Date(r.next_update),
        entries: r.entries,
        der: Buffer.from(r.der),
      }
    : null;
}
