/**
 * The time-stamping authority's storage: its signing certificate and key reference, and the log of every
 * token issued (serial, time, policy, hash algorithm, message imprint, nonce, requester), written before
 * the token is returned.
 */
import type { Migration, Sql } from '../../store/index.js';
import type { SignatureScheme } from '../../crypto/algorithms.js';

export const tsaMigrations: Migration[] = [
  {
    id: 'tsa/001_tsa',
    sql: `
      CREATE TABLE tsa_signer (
        id text PRIMARY KEY,
        ca_id text NOT NULL REFERENCES pki_ca(id),
        key_store text NOT NULL,
        key_id text NOT NULL,
        scheme text NOT NULL,
        serial text NOT NULL,
        certificate bytea NOT NULL,
        not_before timestamptz NOT NULL,
        not_after timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE tsa_token (
        serial text PRIMARY KEY,
        gen_time timestamptz NOT NULL,
        policy text NOT NULL,
        hash_algorithm text NOT NULL,
        message_imprint bytea NOT NULL,
        nonce text,
        requester_ip text,
        signer_serial text NOT NULL
      );
      CREATE INDEX tsa_token_gen_time ON tsa_token (gen_time);
    `,
  },
];

export interface SignerRow {
  id: string;
  caId: string;
  keyStore: string;
  keyId: string;
  scheme: SignatureScheme;
  serial: string;
  certificate: Buffer;
  notBefore: Date;
  notAfter: Date;
}

export async function getSigner(sql: Sql, id: string): Promise<SignerRow | null> {
  const [r] = await sql.query<any>('SELECT * FROM tsa_signer WHERE id = $1', [id]);
  return r
    ? {
        id: r.id,
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

export async function putSigner(sql: Sql, r: SignerRow): Promise<void> {
  await sql.query(
    `INSERT INTO tsa_signer (id, ca_id, key_store, key_id, scheme, serial, certificate, not_before, not_after)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
     ON CONFLICT (id) DO UPDATE SET ca_id = $2, key_store = $3, key_id = $4, scheme = $5, serial = $6,
       certificate = $7, not_before = $8, not_after = $9, created_at = now()`,
    [r.id, r.caId, r.keyStore, r.keyId, r.scheme, r.serial, r.certificate, r.notBefore, r.notAfter],
  );
}

export interface TokenRow {
  serial: string;
  genTime: Date;
  policy: string;
  hashAlgorithm: string;
  messageImprint: Buffer;
  nonce: string | null;
  requesterIp: string | null;
  signerSerial: string;
}

/** One statement for a batch, a column an array (the statement text is the same whatever the size). */
export async function insertTokens(sql: Sql, rows: TokenRow[]): Promise<void> {
  if (!rows.length) return;
  await sql.query(
    `INSERT INTO tsa_token (serial, gen_time, policy, hash_algorithm, message_imprint, nonce, requester_ip, signer_serial)
     SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::text[], $8::text[])`,
    [
      rows.map((r) => r.serial),
      rows.map((r) => r.genTime),
      rows.map((r) => r.policy),
      rows.map((r) => r.hashAlgorithm),
      rows.map((r) => r.messageImprint),
      rows.map((r) => r.nonce),
      rows.map((r) => r.requesterIp),
      rows.map((r) => r.signerSerial),
    ],
  );
}

export async function getToken(sql: Sql, serial: string): Promise<TokenRow | null> {
  const [r] = await sql.query<any>('SELECT * FROM tsa_token WHERE serial = $1', [serial]);
  return r
    ? {
        serial: r.serial,
        genTime: new Date(r.gen_time),
        policy: r.policy,
        hashAlgorithm: r.hash_algorithm,
        messageImprint: Buffer.from(r.message_imprint),
        nonce: r.nonce,
        requesterIp: r.requester_ip,
        signerSerial: r.signer_serial,
      }
    : null;
}
