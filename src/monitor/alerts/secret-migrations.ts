/** The table of sealed notification secrets (./secrets.ts), apart from the code that seals them: knowing the schema must not load the vault. */
import type { Migration } from '../../store/index.js';

export const notifySecretMigrations: Migration[] = [
  {
    id: 'monitor/notify_001_secret',
    sql: `CREATE TABLE monitor_notify_secret (
            name text PRIMARY KEY,
            object_id text NOT NULL,
            sealed bytea NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            updated_by text NOT NULL
          );`,
  },
];
