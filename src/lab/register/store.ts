/**
 * The register's storage authority: the only module that reads or writes the lab tables — vendors, their
 * products and product versions (with the algorithms each claims), test runs (the report's canonical
 * bytes and its detached signature, exactly as signed), certificates of conformity, licences, and the
 * lab's own signing key and certificate.
 */
import type { Migration, Sql } from '../../store/index.js';
import { OUTCOMES, type OutcomeCounts } from '../outcome.js';
import { rowReader, toBuffer, type Row } from './row.js';

export const labMigrations: Migration[] = [
  {
    id: 'lab/001_register',
    sql: `
      CREATE TABLE lab_vendor (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        country text,
        tax_id text,
        contact text,
        created_at timestamptz NOT NULL,
        created_by text NOT NULL
      );
      CREATE INDEX lab_vendor_name ON lab_vendor (lower(name) text_pattern_ops);
      CREATE TABLE lab_product (
        id text PRIMARY KEY,
        vendor_id text NOT NULL REFERENCES lab_vendor(id),
        name text NOT NULL,
        kind text NOT NULL,
        description text,
        created_at timestamptz NOT NULL,
        created_by text NOT NULL,
        UNIQUE (vendor_id, name)
      );
      CREATE INDEX lab_product_name ON lab_product (lower(name) text_pattern_ops);
      CREATE TABLE lab_product_version (
        id text PRIMARY KEY,
        product_id text NOT NULL REFERENCES lab_product(id),
        version text NOT NULL,
        algorithms text[] NOT NULL,
        created_at timestamptz NOT NULL,
        created_by text NOT NULL,
        UNIQUE (product_id, version)
      );
      CREATE INDEX lab_product_version_algorithms ON lab_product_version USING gin (algorithms);
      CREATE TABLE lab_run (
        id text PRIMARY KEY,
        product_version_id text REFERENCES lab_product_version(id),
        product_name text NOT NULL,
        product_version text NOT NULL,
        adapter text NOT NULL,
        profile text,
        verdict text CHECK (verdict IN ('PASS', 'FAIL')),
        suites jsonb NOT NULL,
        pass int NOT NULL,
        fail int NOT NULL,
        acceptable int NOT NULL,
        unsupported int NOT NULL,
        skipped int NOT NULL,
        error int NOT NULL,
        report bytea NOT NULL,
        report_sha256 bytea NOT NULL,
        signature bytea,
        signer_serial text,
        started_at timestamptz NOT NULL,
        finished_at timestamptz NOT NULL,
        operator text NOT NULL,
        recorded_at timestamptz NOT NULL
      );
      CREATE INDEX lab_run_version ON lab_run (product_version_id, finished_at DESC);
      CREATE SEQUENCE lab_certificate_seq;
      CREATE TABLE lab_certificate (
        number text PRIMARY KEY,
        product_version_id text NOT NULL REFERENCES lab_product_version(id),
        profile text NOT NULL,
        standard text NOT NULL,
        run_id text REFERENCES lab_run(id),
        issued_at timestamptz NOT NULL,
        valid_until timestamptz NOT NULL,
        status text NOT NULL CHECK (status IN ('issued', 'suspended', 'revoked')),
        status_reason text,
        suspended_at timestamptz,
        revoked_at timestamptz,
        issued_by text NOT NULL,
        CHECK (valid_until > issued_at)
      );
      CREATE INDEX lab_certificate_version ON lab_certificate (product_version_id);
      CREATE INDEX lab_certificate_status ON lab_certificate (status, valid_until);
      CREATE SEQUENCE lab_licence_seq;
      CREATE TABLE lab_licence (
        number text PRIMARY KEY,
        vendor_id text NOT NULL REFERENCES lab_vendor(id),
        product_id text REFERENCES lab_product(id),
        kind text NOT NULL,
        scope text,
        issued_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        status text NOT NULL CHECK (status IN ('issued', 'suspended', 'revoked')),
        status_reason text,
        suspended_at timestamptz,
        revoked_at timestamptz,
        issued_by text NOT NULL,
        CHECK (expires_at > issued_at)
      );
      CREATE INDEX lab_licence_vendor ON lab_licence (vendor_id);
      CREATE INDEX lab_licence_status ON lab_licence (status, expires_at);
      CREATE TABLE lab_signer (
        serial text PRIMARY KEY,
        ca_id text NOT NULL,
        key_store text NOT NULL,
        key_id text NOT NULL,
        scheme text NOT NULL,
        subject text NOT NULL,
        certificate bytea NOT NULL,
        not_before timestamptz NOT NULL,
        not_after timestamptz NOT NULL,
        created_at timestamptz NOT NULL
      );
    `,
  },
];

export type Status = 'issued' | 'suspended' | 'revoked';

export interface VendorRow {
  id: string;
  name: string;
  country: string | null;
  taxId: string | null;
  contact: string | null;
  createdAt: Date;
}

export interface ProductRow {
  id: string;
  vendorId: string;
  vendorName: string;
  name: string;
  kind: string;
  description: string | null;
  createdAt: Date;
}

export interface VersionRow {
  id: string;
  productId: string;
  productName: string;
  vendorId: string;
  vendorName: string;
  version: string;
  algorithms: string[];
  createdAt: Date;
}

export interface RunSuiteSummary {
  file: string;
  sha256: string;
  algorithm: string;
  counts: OutcomeCounts;
  error?: string;
}

export interface RunRow {
  id: string;
  productVersionId: string | null;
  productName: string;
  productVersion: string;
  adapter: string;
  profile: string | null;
  verdict: 'PASS' | 'FAIL' | null;
  suites: RunSuiteSummary[];
  counts: OutcomeCounts;
  reportSha256: string;
  signed: boolean;
  signerSerial: string | null;
  startedAt: Date;
  finishedAt: Date;
  operator: string;
}

export interface CertificateRow {
  number: string;
  productVersionId: string;
  vendorName: string;
  productName: string;
  version: string;
  algorithms: string[];
  profile: string;
  standard: string;
  runId: string | null;
  issuedAt: Date;
  validUntil: Date;
  status: Status;
  statusReason: string | null;
  suspendedAt: Date | null;
  revokedAt: Date | null;
  issuedBy: string;
}

export interface LicenceRow {
  number: string;
  vendorId: string;
  vendorName: string;
  productId: string | null;
  productName: string | null;
  kind: string;
  scope: string | null;
  issuedAt: Date;
  expiresAt: Date;
  status: Status;
  statusReason: string | null;
  suspendedAt: Date | null;
  revokedAt: Date | null;
  issuedBy: string;
}

export interface SignerRow {
  serial: string;
  caId: string;
  keyStore: string;
  keyId: string;
  scheme: string;
  subject: string;
  certificate: Buffer;
  notBefore: Date;
  notAfter: Date;
}


/** `%text%` for LIKE, with the pattern characters in the text escaped. */
export function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

// ---- vendors, products, versions

export async function insertVendor(sql: Sql, v: VendorRow & { createdBy: string }): Promise<void> {
  await sql.query('INSERT INTO lab_vendor (id, name, country, tax_id, contact, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
    v.id,
    v.name,
    v.country,
    v.taxId,
    v.contact,
    v.createdAt,
    v.createdBy,
  ]);
}

const vendorOf = rowReader<VendorRow>({ id: 'text', name: 'text', country: 'text', taxId: 'text', contact: 'text', createdAt: 'date' });

export async function findVendor(sql: Sql, idOrName: string): Promise<VendorRow | null> {
  const [r] = await sql.query<Row>('SELECT * FROM lab_vendor WHERE id = $1 OR name = $1', [idOrName]);
  return r ? vendorOf(r) : null;
}

export async function listVendors(sql: Sql, q: { name?: string; limit?: number } = {}): Promise<VendorRow[]> {
  const rows = await sql.query<Row>(
    `SELECT * FROM lab_vendor WHERE ($1::text IS NULL OR lower(name) LIKE $1) ORDER BY name LIMIT $2`,
    [q.name ? containsPattern(q.name) : null, Math.min(q.limit ?? 100, 1000)],
  );
  return rows.map(vendorOf);
}

export async function insertProduct(sql: Sql, p: Omit<ProductRow, 'vendorName'> & { createdBy: string }): Promise<void> {
  await sql.query('INSERT INTO lab_product (id, vendor_id, name, kind, description, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
    p.id,
    p.vendorId,
    p.name,
    p.kind,
    p.description,
    p.createdAt,
    p.createdBy,
  ]);
}

const productOf = rowReader<ProductRow>({ id: 'text', vendorId: 'text', vendorName: 'text', name: 'text', kind: 'text', description: 'text', createdAt: 'date' });

export async function findProduct(sql: Sql, id: string): Promise<ProductRow | null> {
  const [r] = await sql.query<Row>('SELECT p.*, v.name AS vendor_name FROM lab_product p JOIN lab_vendor v ON v.id = p.vendor_id WHERE p.id = $1', [id]);
  return r ? productOf(r) : null;
}

export interface ProductQuery {
  /** vendor id, or a substring of its name */
  vendor?: string;
  /** substring of the product's name, case-insensitive */
  name?: string;
  /** products with a version claiming this algorithm */
  algorithm?: string;
  limit?: number;
}

const VENDOR_MATCH = `($1::text IS NULL OR v.id = $1 OR lower(v.name) LIKE $2)`;

export async function searchProducts(sql: Sql, q: ProductQuery = {}): Promise<ProductRow[]> {
  const rows = await sql.query<Row>(
    `SELECT p.*, v.name AS vendor_name FROM lab_product p JOIN lab_vendor v ON v.id = p.vendor_id
      WHERE ${VENDOR_MATCH}
        AND ($3::text IS NULL OR lower(p.name) LIKE $3)
        AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM lab_product_version pv WHERE pv.product_id = p.id AND $4 = ANY (pv.algorithms)))
      ORDER BY v.name, p.name LIMIT $5`,
    [q.vendor ?? null, q.vendor ? containsPattern(q.vendor) : null, q.name ? containsPattern(q.name) : null, q.algorithm ?? null, Math.min(q.limit ?? 100, 1000)],
  );
  return rows.map(productOf);
}

export async function insertVersion(sql: Sql, v: { id: string; productId: string; version: string; algorithms: string[]; createdAt: Date; createdBy: string }): Promise<void> {
  await sql.query('INSERT INTO lab_product_version (id, product_id, version, algorithms, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)', [
    v.id,
    v.productId,
    v.version,
    v.algorithms,
    v.createdAt,
    v.createdBy,
  ]);
}

const VERSION_SELECT = `SELECT pv.*, p.name AS product_name, p.vendor_id, v.name AS vendor_name
  FROM lab_product_version pv JOIN lab_product p ON p.id = pv.product_id JOIN lab_vendor v ON v.id = p.vendor_id`;

const versionOf = rowReader<VersionRow>({
  id: 'text',
  productId: 'text',
  productName: 'text',
  vendorId: 'text',
  vendorName: 'text',
  version: 'text',
  algorithms: 'list',
  createdAt: 'date',
});

export async function findVersion(sql: Sql, id: string): Promise<VersionRow | null> {
  const [r] = await sql.query<Row>(`${VERSION_SELECT} WHERE pv.id = $1`, [id]);
  return r ? versionOf(r) : null;
}

export async function searchVersions(sql: Sql, q: ProductQuery & { productId?: string } = {}): Promise<VersionRow[]> {
  const rows = await sql.query<Row>(
    `${VERSION_SELECT}
      WHERE ${VENDOR_MATCH}
        AND ($3::text IS NULL OR lower(p.name) LIKE $3)
        AND ($4::text IS NULL OR $4 = ANY (pv.algorithms))
        AND ($5::text IS NULL OR p.id = $5)
      ORDER BY v.name, p.name, pv.created_at LIMIT $6`,
    [
      q.vendor ?? null,
      q.vendor ? containsPattern(q.vendor) : null,
      q.name ? containsPattern(q.name) : null,
      q.algorithm ?? null,
      q.productId ?? null,
      Math.min(q.limit ?? 100, 1000),
    ],
  );
  return rows.map(versionOf);
}

// ---- runs

export async function insertRun(sql: Sql, r: RunRow & { report: Buffer; signature: Buffer | null; recordedAt: Date }): Promise<void> {
  const c = r.counts;
  await sql.query(
    `INSERT INTO lab_run (id, product_version_id, product_name, product_version, adapter, profile, verdict, suites,
       pass, fail, acceptable, unsupported, skipped, error, report, report_sha256, signature, signer_serial,
       started_at, finished_at, operator, recorded_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`,
    [
      r.id,
      r.productVersionId,
      r.productName,
      r.productVersion,
      r.adapter,
      r.profile,
      r.verdict,
      JSON.stringify(r.suites),
      c.PASS,
      c.FAIL,
      c.ACCEPTABLE,
      c.UNSUPPORTED,
      c.SKIPPED,
      c.ERROR,
      r.report,
      Buffer.from(r.reportSha256, 'hex'),
      r.signature,
      r.signerSerial,
      r.startedAt,
      r.finishedAt,
      r.operator,
      r.recordedAt,
    ],
  );
}

const RUN_COLUMNS = `id, product_version_id, product_name, product_version, adapter, profile, verdict, suites, pass, fail, acceptable,
  unsupported, skipped, error, report_sha256, signature IS NOT NULL AS signed, signer_serial, started_at, finished_at, operator`;

const runOf = rowReader<RunRow>({
  id: 'text',
  productVersionId: 'text',
  productName: 'text',
  productVersion: 'text',
  adapter: 'text',
  profile: 'text',
  verdict: 'text',
  suites: (v) => (typeof v === 'string' ? JSON.parse(v) : v),
  // one column per outcome: pass, fail, acceptable, …
  counts: (_v, r) => Object.fromEntries(OUTCOMES.map((o) => [o, Number(r[o.toLowerCase()])])) as OutcomeCounts,
  reportSha256: (v) => toBuffer(v).toString('hex'),
  signed: (v) => !!v,
  signerSerial: 'text',
  startedAt: 'date',
  finishedAt: 'date',
  operator: 'text',
});

export async function findRun(sql: Sql, id: string): Promise<RunRow | null> {
  const [r] = await sql.query<Row>(`SELECT ${RUN_COLUMNS} FROM lab_run WHERE id = $1`, [id]);
  return r ? runOf(r) : null;
}

export async function runArtifacts(sql: Sql, id: string): Promise<{ report: Buffer; signature: Buffer | null } | null> {
  const [r] = await sql.query<Row>('SELECT report, signature FROM lab_run WHERE id = $1', [id]);
  return r ? { report: toBuffer(r.report), signature: r.signature ? toBuffer(r.signature) : null } : null;
}

export async function searchRuns(sql: Sql, q: { productVersionId?: string; verdict?: 'PASS' | 'FAIL'; profile?: string; limit?: number } = {}): Promise<RunRow[]> {
  const rows = await sql.query<Row>(
    `SELECT ${RUN_COLUMNS} FROM lab_run
      WHERE ($1::text IS NULL OR product_version_id = $1) AND ($2::text IS NULL OR verdict = $2) AND ($3::text IS NULL OR profile = $3)
      ORDER BY finished_at DESC, id LIMIT $4`,
    [q.productVersionId ?? null, q.verdict ?? null, q.profile ?? null, Math.min(q.limit ?? 50, 1000)],
  );
  return rows.map(runOf);
}

// ---- certificates of conformity

export async function nextNumber(sql: Sql, kind: 'certificate' | 'licence'): Promise<string> {
  const [r] = await sql.query<{ n: string }>(`SELECT nextval('lab_${kind}_seq')::text AS n`);
  return r.n;
}

export async function insertCertificate(
  sql: Sql,
  c: Pick<CertificateRow, 'number' | 'productVersionId' | 'profile' | 'standard' | 'runId' | 'issuedAt' | 'validUntil' | 'issuedBy'>,
): Promise<void> {
  await sql.query(
    `INSERT INTO lab_certificate (number, product_version_id, profile, standard, run_id, issued_at, valid_until, status, issued_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'issued', $8)`,
    [c.number, c.productVersionId, c.profile, c.standard, c.runId, c.issuedAt, c.validUntil, c.issuedBy],
  );
}

const CERT_SELECT = `SELECT c.*, pv.version, pv.algorithms, p.name AS product_name, v.name AS vendor_name
  FROM lab_certificate c JOIN lab_product_version pv ON pv.id = c.product_version_id
  JOIN lab_product p ON p.id = pv.product_id JOIN lab_vendor v ON v.id = p.vendor_id`;

const certificateOf = rowReader<CertificateRow>({
  number: 'text',
  productVersionId: 'text',
  vendorName: 'text',
  productName: 'text',
  version: 'text',
  algorithms: 'list',
  profile: 'text',
  standard: 'text',
  runId: 'text',
  issuedAt: 'date',
  validUntil: 'date',
  status: 'text',
  statusReason: 'text',
  suspendedAt: 'date?',
  revokedAt: 'date?',
  issuedBy: 'text',
});

export async function findCertificate(sql: Sql, number: string, forUpdate = false): Promise<CertificateRow | null> {
  const [r] = await sql.query<Row>(`${CERT_SELECT} WHERE c.number = $1${forUpdate ? ' FOR UPDATE OF c' : ''}`, [number]);
  return r ? certificateOf(r) : null;
}

export interface ConformityQuery {
  /** vendor id, or a substring of its name */
  vendor?: string;
  /** substring of the product's name */
  product?: string;
  algorithm?: string;
  status?: Status;
  /** issued (not suspended or revoked) and within validity at this time */
  validAt?: Date;
  expiresBefore?: Date;
  limit?: number;
}

export async function searchCertificates(sql: Sql, q: ConformityQuery & { profile?: string; productVersionId?: string } = {}): Promise<CertificateRow[]> {
  const rows = await sql.query<Row>(
    `${CERT_SELECT}
      WHERE ${VENDOR_MATCH}
        AND ($3::text IS NULL OR lower(p.name) LIKE $3)
        AND ($4::text IS NULL OR $4 = ANY (pv.algorithms))
        AND ($5::text IS NULL OR c.status = $5)
        AND ($6::timestamptz IS NULL OR (c.status = 'issued' AND c.issued_at <= $6 AND c.valid_until > $6))
        AND ($7::timestamptz IS NULL OR c.valid_until < $7)
        AND ($8::text IS NULL OR c.profile = $8)
        AND ($9::text IS NULL OR c.product_version_id = $9)
      ORDER BY c.issued_at DESC, c.number LIMIT $10`,
    [
      q.vendor ?? null,
      q.vendor ? containsPattern(q.vendor) : null,
      q.product ? containsPattern(q.product) : null,
      q.algorithm ?? null,
      q.status ?? null,
      q.validAt ?? null,
      q.expiresBefore ?? null,
      q.profile ?? null,
      q.productVersionId ?? null,
      Math.min(q.limit ?? 100, 1000),
    ],
  );
  return rows.map(certificateOf);
}

export async function setStatus(
  sql: Sql,
  table: 'lab_certificate' | 'lab_licence',
  number: string,
  status: Status,
  reason: string | null,
  at: Date,
): Promise<void> {
  const stamp = status === 'revoked' ? ', revoked_at = $4' : status === 'suspended' ? ', suspended_at = $4' : ', suspended_at = NULL';
  await sql.query(`UPDATE ${table} SET status = $2, status_reason = $3${stamp} WHERE number = $1`, status === 'issued' ? [number, status, reason] : [number, status, reason, at]);
}

// ---- licences

export async function insertLicence(
  sql: Sql,
  l: Pick<LicenceRow, 'number' | 'vendorId' | 'productId' | 'kind' | 'scope' | 'issuedAt' | 'expiresAt' | 'issuedBy'>,
): Promise<void> {
  await sql.query(
    `INSERT INTO lab_licence (number, vendor_id, product_id, kind, scope, issued_at, expires_at, status, issued_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'issued', $8)`,
    [l.number, l.vendorId, l.productId, l.kind, l.scope, l.issuedAt, l.expiresAt, l.issuedBy],
  );
}

const LICENCE_SELECT = `SELECT l.*, v.name AS vendor_name, p.name AS product_name
  FROM lab_licence l JOIN lab_vendor v ON v.id = l.vendor_id LEFT JOIN lab_product p ON p.id = l.product_id`;

const licenceOf = rowReader<LicenceRow>({
  number: 'text',
  vendorId: 'text',
  vendorName: 'text',
  productId: 'text',
  productName: 'text',
  kind: 'text',
  scope: 'text',
  issuedAt: 'date',
  expiresAt: 'date',
  status: 'text',
  statusReason: 'text',
  suspendedAt: 'date?',
  revokedAt: 'date?',
  issuedBy: 'text',
});

export async function findLicence(sql: Sql, number: string, forUpdate = false): Promise<LicenceRow | null> {
  const [r] = await sql.query<Row>(`${LICENCE_SELECT} WHERE l.number = $1${forUpdate ? ' FOR UPDATE OF l' : ''}`, [number]);
  return r ? licenceOf(r) : null;
}

export async function searchLicences(sql: Sql, q: Omit<ConformityQuery, 'algorithm'> & { kind?: string } = {}): Promise<LicenceRow[]> {
  const rows = await sql.query<Row>(
    `${LICENCE_SELECT}
      WHERE ${VENDOR_MATCH}
        AND ($3::text IS NULL OR lower(p.name) LIKE $3)
        AND ($4::text IS NULL OR l.kind = $4)
        AND ($5::text IS NULL OR l.status = $5)
        AND ($6::timestamptz IS NULL OR (l.status = 'issued' AND l.issued_at <= $6 AND l.expires_at > $6))
        AND ($7::timestamptz IS NULL OR l.expires_at < $7)
      ORDER BY l.issued_at DESC, l.number LIMIT $8`,
    [
      q.vendor ?? null,
      q.vendor ? containsPattern(q.vendor) : null,
      q.product ? containsPattern(q.product) : null,
      q.kind ?? null,
      q.status ?? null,
      q.validAt ?? null,
      q.expiresBefore ?? null,
      Math.min(q.limit ?? 100, 1000),
    ],
  );
  return rows.map(licenceOf);
}

// ---- the lab's signer

const signerOf = rowReader<SignerRow>({
  serial: 'text',
  caId: 'text',
  keyStore: 'text',
  keyId: 'text',
  scheme: 'text',
  subject: 'text',
  certificate: 'bytes',
  notBefore: 'date',
  notAfter: 'date',
});

export async function currentSigner(sql: Sql): Promise<SignerRow | null> {
  const [r] = await sql.query<Row>('SELECT * FROM lab_signer ORDER BY not_after DESC, created_at DESC LIMIT 1');
  return r ? signerOf(r) : null;
}

export async function findSigner(sql: Sql, serial: string): Promise<SignerRow | null> {
  const [r] = await sql.query<Row>('SELECT * FROM lab_signer WHERE serial = $1', [serial]);
  return r ? signerOf(r) : null;
}

export async function insertSigner(sql: Sql, s: SignerRow & { createdAt: Date }): Promise<void> {
  await sql.query(
    `INSERT INTO lab_signer (serial, ca_id, key_store, key_id, scheme, subject, certificate, not_before, not_after, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [s.serial, s.caId, s.keyStore, s.keyId, s.scheme, s.subject, s.certificate, s.notBefore, s.notAfter, s.createdAt],
  );
}
