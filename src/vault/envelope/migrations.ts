/**
 * The vault's tables (prefix `xv_`): the key ring of key-encryption keys (versions; the keys themselves
 * live in a key store), one wrapped data key per protected object version, and rotation jobs.
 */
import type { Migration } from '../../store/index.js';

export const envelopeMigrations: Migration[] = [
  {
    id: 'vault/001_envelope',
    sql: `
      CREATE TABLE xv_kek (
        version int PRIMARY KEY,
        store text NOT NULL,
        key_id text NOT NULL,
        label text NOT NULL,
        state text NOT NULL CHECK (state IN ('active', 'retired', 'destroyed')),
        created_at timestamptz NOT NULL DEFAULT now(),
        destroyed_at timestamptz
      );
      CREATE UNIQUE INDEX xv_kek_one_active ON xv_kek (state) WHERE state = 'active';
      CREATE TABLE xv_data_key (
        object_id text NOT NULL,
        version int NOT NULL,
        kek_version int NOT NULL REFERENCES xv_kek (version),
        wrapped bytea,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz,
        shredded_at timestamptz,
        shred_reason text,
        PRIMARY KEY (object_id, version),
        CHECK ((wrapped IS NULL) = (shredded_at IS NOT NULL))
      );
      CREATE INDEX xv_data_key_kek ON xv_data_key (kek_version) WHERE shredded_at IS NULL;
      CREATE INDEX xv_data_key_expiry ON xv_data_key (expires_at) WHERE shredded_at IS NULL AND expires_at IS NOT NULL;
      CREATE TABLE xv_rotation (
        id bigserial PRIMARY KEY,
        to_version int NOT NULL REFERENCES xv_kek (version),
        started_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        finished_at timestamptz,
        rewrapped bigint NOT NULL DEFAULT 0
      );
    `,
  },
];
