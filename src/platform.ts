/**
 * Wiring: opens what every role needs from a `Config` — the database (migrated), the key stores, the
 * profiles, the event bus — and hands back a `Platform` the CLI and the HTTP apps work against. Nothing
 * here holds domain logic.
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';
import type { Db } from './store/index.js';
import { ALL_MIGRATIONS, openDatabase } from './database.js';
import { InProcessBus, makeEvent, type Bus } from './bus/index.js';
import { OutboxBus, storedInstanceId } from './bus/outbox.js';
import { SoftwareKeyStore, passphraseMissing, sealedWith } from './crypto/software-keystore.js';
import type { Pkcs11KeyStore } from './crypto/pkcs11-keystore.js';
import { keyStores, type KeyStore, type KeyStores } from './crypto/keystore.js';
import { NoKeyStore, ROLES, rolesNeedKeys, type Role } from './roles.js';
import { loadProfiles, Issuer, type PkiContext } from './pki/index.js';
import { assertKeyProtection } from './vault/guard.js';

export interface Platform {
  config: Config;
  db: Db;
  keys: KeyStores;
  /** the event bus, through the outbox when it reaches other processes (`transactional(bus)`) */
  bus: Bus;
  /** this deployment's identity, in every event */
  instance: string;
  /** the roles this process runs (all by default) */
  roles: readonly Role[];
  log: Logger;
  pki: PkiContext;
  issuer: Issuer;
  close(): Promise<void>;
}

export { ALL_MIGRATIONS };

/**
 * The software key store's secret: the operator's passphrase when configured; otherwise a random
 * key-encryption key generated once into the data folder (mode 0600), which keeps the embedded default
 * a one-command start. Production deployments set a passphrase or use PKCS#11.
 */
function softwareSecret(cfg: Config, log: Logger): { passphrase?: string; kek?: Buffer } {
  if (cfg.keys.software.passphrase) return { passphrase: cfg.keys.software.passphrase };
  // a store sealed with a passphrase started without it: say so, and make no kek.bin that cannot open it
  if (sealedWith(cfg.keys.software.dir) === 'passphrase') throw passphraseMissing(cfg.keys.software.dir);
  const file = kekFile(cfg);
  if (!existsSync(file)) {
    mkdirSync(cfg.dataDir, { recursive: true });
    writeFileSync(file, randomBytes(32), { mode: 0o600 });
    log.warn({ file }, 'generated a key-encryption key for software keys; set a passphrase or use PKCS#11 in production');
  }
  return { kek: readFileSync(file) };
}

function kekFile(cfg: Config): string {
  return cfg.keys.software.kekFile ?? join(cfg.dataDir, 'kek.bin');
}

/**
 * `roles` (default: all) decides what this process opens: without a role that signs (ca, ocsp, tsa) no key
 * store is opened, so a monitoring process needs no passphrase, PIN or token.
 *
 * A start that fails (database or NATS unreachable, a wrong secret, a bad setting) removes what it made —
 * the data folder, the key store folder, `kek.bin`, when they did not exist before — so that the corrected
 * start is a first start again rather than one over half-made folders.
 */
export interface PlatformOptions {
  log?: Logger;
  bus?: Bus;
  roles?: readonly Role[];
  /** a command that exits when done (`truc ca issue`), not a server: see src/database.ts */
  oneShot?: boolean;
  /** a serving process (`truc start`, `truc ss serve`, …): the embedded database runs on its own thread */
  serving?: boolean;
}

export async function openPlatform(config: Config, opts: PlatformOptions = {}): Promise<Platform> {
  const made = [kekFile(config), config.keys.software.dir, config.dataDir].filter((p) => !existsSync(p));
  try {
    return await openPlatformIn(config, opts);
  } catch (e) {
    for (const p of made) rmSync(p, { recursive: true, force: true });
    throw e;
  }
}

async function openPlatformIn(config: Config, opts: PlatformOptions): Promise<Platform> {
  const log = opts.log ?? pino({ level: config.log.level });
  // production mode refuses a key-encryption key beside the data; development says so loudly
  if (!opts.roles || rolesNeedKeys(opts.roles)) for (const w of assertKeyProtection(config).warnings) log.warn(w);
  const db = await openDatabase(config, { oneShot: opts.oneShot, thread: opts.serving === true && config.database.thread, serving: opts.serving === true });
  const stores: KeyStore[] = [];
  let pkcs11: Pkcs11KeyStore | undefined;
  try {
    if (opts.roles && !rolesNeedKeys(opts.roles)) stores.push(new NoKeyStore(opts.roles));
    else stores.push(
      await SoftwareKeyStore.open({
        dir: config.keys.software.dir,
        signWorkers: config.keys.software.signWorkers,
        ...softwareSecret(config, log),
      }),
    );
    if (config.keys.pkcs11 && stores[0]!.kind !== 'none') {
      // the PKCS#11 binding and the NATS client load only when configured: a command on the embedded
      // default starts without them
      const { Pkcs11KeyStore } = await import('./crypto/pkcs11-keystore.js');
      stores.push(
        await Pkcs11KeyStore.open({
          module: config.keys.pkcs11.module,
          slot: { tokenLabel: config.keys.pkcs11.tokenLabel },
          pin: config.keys.pkcs11.pin,
        }),
      );
      pkcs11 = stores[stores.length - 1] as Pkcs11KeyStore;
    }
  } catch (e) {
    for (const s of stores) await s.close().catch(() => {});
    await db.close().catch(() => {});
    throw e;
  }
  const keys: KeyStores = stores[0]!.kind === 'none' ? { get: () => stores[0]!, default: stores[0]! } : keyStores(stores, config.keys.default);
  const onBusError = (e: unknown) => log.error({ err: e }, 'event subscriber failed');
  let inner: Bus;
  let instance: string;
  try {
    instance = config.instance ?? (await storedInstanceId(db));
    inner =
      opts.bus ??
      (config.bus.kind === 'nats'
        ? await (await import('./bus/nats.js')).NatsBus.connect({
            servers: config.bus.url!,
            stream: config.bus.stream ?? 'TRUC_EVENTS',
            subjectPrefix: config.bus.subjectPrefix ?? 'truc',
            duplicateWindowSeconds: config.bus.duplicateWindowSeconds,
            onError: onBusError,
            log,
          })
        : new InProcessBus(onBusError));
  } catch (e) {
    for (const s of stores) await s.close().catch(() => {});
    await db.close().catch(() => {});
    throw e;
  }
  const remote = opts.bus ? opts.bus instanceof (await import('./bus/nats.js')).NatsBus : config.bus.kind === 'nats';
  const bus = new OutboxBus(db, inner, { instance, durable: remote, pipeline: remote, log });
  // a token that goes away or comes back is told to the log and, as an event, to the monitor (an alert)
  if (pkcs11) {
    const s = pkcs11;
    s.onAvailability((available, reason) => {
      const action = available ? 'keystore.restored' : 'keystore.unavailable';
      if (available) log.info({ keyStore: s.kind }, 'PKCS#11 token available again');
      else log.error({ keyStore: s.kind, reason }, 'PKCS#11 token unavailable: signing answers 503 until it returns');
      bus
        .publish(`truc.crypto.${action}`, makeEvent('crypto', action, available ? 'success' : 'failure', { category: ['configuration'], reason }))
        .catch((err) => log.error({ err }, 'key store event not written'));
    });
  }
  const profiles = await loadProfiles(config.profilesDir);
  const pki: PkiContext = {
    db,
    keys,
    profiles,
    policy: config.crypto,
    publicUrl: config.publicUrl.replace(/\/$/, ''),
    bus,
    clock: () => new Date(),
    crl: config.crl,
  };
  return {
    config,
    db,
    keys,
    bus,
    instance,
    roles: opts.roles ?? ROLES,
    log,
    pki,
    issuer: new Issuer(pki),
    async close() {
      await bus.close();
      for (const s of stores) await s.close().catch(() => {});
      await db.close();
    },
  };
}
