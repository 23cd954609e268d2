/**
 * The monitor's tables, in order — apart from the service, so that opening the platform (which migrates
 * every part) does not load the detection engine.
 */
import type { Migration } from '../store/index.js';
import { eventMigrations } from './events/store.js';
import { alertMigrations } from './alerts/store.js';
import { detectMigrations } from './detect/settings.js';
import { notifySecretMigrations } from './alerts/secret-migrations.js';

/**
 * Events from the bus are stored once: their `event.id` (given by the outbox) is remembered in the
 * transaction that stores them, so a redelivery (a relay repeating itself, a consumer re-created from the
 * start of the stream) is recognised and dropped.
 */
const busIntakeMigrations: Migration[] = [
  {
    id: 'monitor/bus_001_seen',
    sql: `CREATE TABLE monitor_bus_seen (event_id text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
          CREATE INDEX monitor_bus_seen_at ON monitor_bus_seen (at);`,
  },
];

export const monitorMigrations: Migration[] = [...eventMigrations, ...alertMigrations, ...detectMigrations, ...busIntakeMigrations, ...notifySecretMigrations];
