/**
 * The time-stamping authority's storage: the log of every token issued (serial, time, policy, hash
 * algorithm, message imprint, nonce, requester), written before the token is returned. Its signing
 * certificate is a service certificate (../service-cert.ts).
 */
import type { Migration, Sql } from '../../store/index.js';

export const tsaMigrations: Migration[] = [
  {
    id: 'tsa/001_tsa',
    sql: `
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
