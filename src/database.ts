/**
 * The database alone, as every command opens it: the data folder made private, the engine started, the
 * schema brought up to date — one query when it is current, as it is but for the first start after an
 * upgrade. `openPlatform` builds on it; the commands that only read (the lists, `truc verify`'s trust
 * anchors) stop here, with no key store to unlock, no bus, no profiles.
 *
 * Each part's migrations come from a module of their own or from its store module, never from the part's
 * face: knowing the schema must not load the part's code.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import type { Config } from './config.js';
import { secureDataDir } from './datadir.js';
import { openDb, migrate, type Db } from './store/index.js';
import { auditMigrations } from './audit/log.js';
import { busMigrations } from './bus/outbox.js';
import { pkiMigrations } from './pki/store.js';
import { serviceCertMigrations } from './pki/service-cert.js';
import { tsaMigrations } from './pki/tsa/store.js';
import { authMigrations } from './http/auth/store.js';
import { labMigrations } from './lab/register/store.js';
import { monitorMigrations } from './monitor/migrations.js';
import { signKeyMigrations } from './sign/keys/migrations.js';
import { pendingMigrations } from './sign/two-phase/pending.js';
import { vaultMigrations } from './vault/migrations.js';

export const ALL_MIGRATIONS = [
  ...busMigrations,
  ...auditMigrations,
  ...pkiMigrations,
  ...serviceCertMigrations,
  ...authMigrations,
  ...tsaMigrations,
  ...labMigrations,
  ...monitorMigrations,
  ...signKeyMigrations,
  ...pendingMigrations,
  ...vaultMigrations,
];

/**
 * `oneShot`: the process runs a command and exits, not a server — the embedded engine is started for that
 * (src/store/db.ts); `'read'`: a command that only reads a few rows (`truc ca list`). A failed open
 * removes the data folder when it made it.
 */
export async function openDatabase(config: Config, opts: { oneShot?: boolean | 'read'; thread?: boolean; serving?: boolean } = {}): Promise<Db> {
  const made = !existsSync(config.dataDir);
  let db: Db | undefined;
  try {
    mkdirSync(config.dataDir, { recursive: true });
    secureDataDir(config.dataDir, config.database.url); // 0700, umask 077, an old embedded database tightened
    db = await openDb({
      url: config.database.url,
      poolSize: config.database.poolSize,
      oneShot: opts.oneShot,
      thread: opts.thread === true,
      serving: opts.serving === true,
    });
    await migrate(db, ALL_MIGRATIONS);
    return db;
  } catch (e) {
    await db?.close().catch(() => {});
    if (made) rmSync(config.dataDir, { recursive: true, force: true });
    throw e;
  }
}
