/** The table of server-held signing keys (./store.ts), apart so that opening the database reads no signing code. */
import type { Migration } from '../../store/index.js';

export const signKeyMigrations: Migration[] = [
  {
    id: 'sign/001_sign_key',
    sql: `
      CREATE TABLE sign_key (
        principal text PRIMARY KEY,
        key_store text NOT NULL,
        key_id text NOT NULL,
        scheme text NOT NULL,
        serial text NOT NULL,
        ca_id text NOT NULL,
        certificate bytea NOT NULL,
        profile text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];
