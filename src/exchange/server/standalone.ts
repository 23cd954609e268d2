/**
 * A security server as its own process (`truc ss …`): its settings come from the `exchange.server` section
 * of the configuration, its database and key stores are the platform's of that process (its own
 * PostgreSQL database or PGlite folder), and its folder holds the anchor, the configuration cache, the
 * pending keys and the message log.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Platform } from '../../platform.js';
import type { ExchangeSettings } from '../../config.js';
import { TrucError, isTrucError } from '../../errors.js';
import { migrate } from '../../store/index.js';
import { parseAnchor, anchorBytes } from '../conf/anchor.js';
import { ConfClient } from '../conf/client.js';
import { parseServer, serverText, type ServerId } from '../ids.js';
import type { MessageLogApi } from '../log/types.js';
import type { BodyCipher } from '../log/cipher.js';
import { Vault } from '../../vault/envelope/vault.js';
import { logBodyCipher } from '../../vault/envelope/log-cipher.js';
import { SecurityServer } from './server.js';
import { ServerStore, serverMigrations } from './store.js';
import { checkCertForKey, generateIdentityKeys, importIdentityCert, type IdentityKind } from './provision.js';
import type { KeyInfo } from '../../crypto/keystore.js';
import { defaultScheme } from '../../crypto/algorithms.js';

export { serviceType } from './store.js';
export type ServerSettings = NonNullable<ExchangeSettings['server']>;

export function serverSettings(p: Platform): ServerSettings & { dir: string; serverId: ServerId } {
  const s = p.config.exchange?.server;
  if (!s) throw new TrucError('invalid_config', 'this process has no security server: set exchange.server.id (SERVER:INSTANCE/CLASS/MEMBER/CODE) in the configuration');
  return { ...s, dir: s.dir ?? join(p.config.dataDir, 'exchange'), serverId: parseServer(s.id) };
}

export async function serverStore(p: Platform): Promise<ServerStore> {
  await migrate(p.db, serverMigrations);
  return new ServerStore(p.db);
}

/**
 * Installs a configuration anchor for a server of `instance` (when given): one of another instance is refused
 * and the anchor held stays. Written beside and renamed into place, so a crash leaves the old one or the new.
 */
export function installAnchor(dir: string, bytes: Buffer, instance?: string): ReturnType<typeof parseAnchor> {
  const a = parseAnchor(bytes);
  if (instance !== undefined && a.instance !== instance)
    throw new TrucError('bad_request', `neo cấu hình của hệ thống ${a.instance}, máy chủ này thuộc ${instance}: không cài / the anchor is for instance ${a.instance}, this server is of ${instance}: not installed`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'anchor.json');
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, anchorBytes(a), { mode: 0o644 });
  renameSync(tmp, file);
  return a;
}

export function confClient(p: Platform, dir: string): ConfClient {
  const file = join(dir, 'anchor.json');
  if (!existsSync(file)) throw new TrucError('invalid_config', `no configuration anchor in ${dir}: run \`truc ss anchor import FILE\` first`);
  return new ConfClient({ anchor: parseAnchor(readFileSync(file)), dir: join(dir, 'conf'), log: p.log });
}

/** `truc ss init`: the two keys and their requests; the key handles wait in the folder for the certificates. */
export async function initKeys(p: Platform, s: ReturnType<typeof serverSettings>, opts: { signKeyStore?: string; only?: IdentityKind } = {}) {
  const pending = await generateIdentityKeys(p.keys, s.serverId, s.memberName ?? s.serverId.memberCode, opts);
  mkdirSync(s.dir, { recursive: true });
  // a new key for one kind (a rotation) leaves the other's pending key, if any, where it was
  const file = join(s.dir, 'pending-keys.json');
  const out: Record<string, { key: KeyInfo['ref']; csrFile: string }> = opts.only && existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  for (const k of pending) {
    const csrFile = join(s.dir, `${k.kind}.csr`);
    writeFileSync(csrFile, `-----BEGIN CERTIFICATE REQUEST-----\n${k.csr.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE REQUEST-----\n`);
    out[k.kind] = { key: k.key.ref, csrFile };
  }
  writeFileSync(join(s.dir, 'pending-keys.json'), JSON.stringify(out, null, 2), { mode: 0o600 });
  return out;
}

/** The pending key of `kind` (from `truc ss init`) and its details. */
async function pendingKey(p: Platform, s: ReturnType<typeof serverSettings>, kind: IdentityKind): Promise<KeyInfo> {
  const file = join(s.dir, 'pending-keys.json');
  if (!existsSync(file)) throw new TrucError('not_found', 'no pending keys: run `truc ss init` first');
  const pending = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { key: KeyInfo['ref'] }>;
  const ref = pending[kind]?.key;
  if (!ref) throw new TrucError('not_found', `no pending ${kind} key`);
  return p.keys.get(ref.store).info(ref.id);
}

/** `truc ss import-cert auth|sign FILE`: the CA's certificate for a pending key. */
export async function importCert(p: Platform, s: ReturnType<typeof serverSettings>, kind: IdentityKind, der: Buffer): Promise<void> {
  await importIdentityCert(await serverStore(p), kind, await pendingKey(p, s, kind), der);
}

/**
 * `truc ss register --auth-cert FILE`, the first step of a rotation: an `auth-cert` request for the new
 * authentication certificate of the pending key (its proof of possession made with that key, a fresh OCSP
 * response for it from the approved CA's responder) while the server goes on with its current one. Once
 * approved, the configuration lists both; `import-cert auth FILE` and a restart put the new one in use, and
 * `--delete-auth-cert OLD` takes the old one out.
 */
export async function newAuthCertRequest(p: Platform, s: ReturnType<typeof serverSettings>, server: SecurityServer, der: Buffer, address: string) {
  const key = await pendingKey(p, s, 'auth');
  checkCertForKey('auth', key, der);
  const scheme = defaultScheme(key.algorithm);
  const store = p.keys.get(key.ref.store);
  return server.submit(await server.newAuthCertRequest(der, { sign: (d) => store.sign(key.ref.id, scheme, d), scheme }, address));
}

/** The body cipher of a server's message log: its key in the platform's vault (none when exchange.server.encryptLog is false). */
export async function serverLogCipher(p: Platform, name: string, enabled = true): Promise<BodyCipher | undefined> {
  if (!enabled) return undefined;
  return logBodyCipher(new Vault({ db: p.db, keys: p.keys, bus: p.bus }), name);
}

/**
 * The security server of this process's configuration. `readOnly` (commands run beside the serving process:
 * `ss diagnose`, `ss register`): its message log is opened as a view, never for writing (src/store/process-lock.ts) —
 * unless there is no log yet, when nothing can be serving it.
 */
export async function openServer(
  p: Platform,
  openLog: (dir: string, o: { cipher?: BodyCipher; readOnly?: boolean; graceMs?: number }) => Promise<MessageLogApi>,
  o: { readOnly?: boolean } = {},
): Promise<{ server: SecurityServer; conf: ConfClient; log: MessageLogApi; settings: ReturnType<typeof serverSettings> }> {
  const s = serverSettings(p);
  await serverStore(p);
  const conf = confClient(p, s.dir);
  await conf.refresh().catch((e) => p.log.warn({ err: e }, 'the global configuration could not be downloaded now; using the cached one if valid'));
  const cipher = await serverLogCipher(p, serverText(s.serverId), s.encryptLog !== false);
  const lo = { ...(cipher ? { cipher } : {}), ...(s.timestampGraceSeconds ? { graceMs: s.timestampGraceSeconds * 1000 } : {}) };
  let log: MessageLogApi;
  if (o.readOnly)
    try {
      log = await openLog(join(s.dir, 'log'), { ...lo, readOnly: true });
    } catch (e) {
      if (!isTrucError(e) || e.code !== 'not_found') throw e;
      log = await openLog(join(s.dir, 'log'), lo);
    }
  else log = await openLog(join(s.dir, 'log'), lo);
  const server = await SecurityServer.open({
    id: s.serverId,
    db: p.db,
    keys: p.keys,
    conf,
    log,
    bus: p.bus,
    logger: p.log,
    listen: { host: s.host ?? '0.0.0.0', isHost: s.isHost ?? '127.0.0.1', isPort: s.isPort ?? 8081, peerPort: s.peerPort ?? 5500, isTlsPort: s.isTlsPort ?? 8443 },
    ...isTlsFiles(s),
    limits: { ...(s.maxBodyBytes ? { maxBodyBytes: s.maxBodyBytes } : {}), ...(s.answerTimeoutSeconds ? { answerTimeoutMs: s.answerTimeoutSeconds * 1000 } : {}) },
    timestamping: {
      ...(s.timestampIntervalSeconds ? { intervalMs: s.timestampIntervalSeconds * 1000 } : {}),
      ...(s.timestampGraceSeconds ? { graceMs: s.timestampGraceSeconds * 1000 } : {}),
    },
  });
  return { server, conf, log, settings: s };
}

/** exchange.server.isTlsCertFile / isTlsKeyFile: both or neither. */
function isTlsFiles(s: ReturnType<typeof serverSettings>): { isTls?: { key: string; cert: string } } {
  if (!s.isTlsCertFile && !s.isTlsKeyFile) return {};
  if (!s.isTlsCertFile || !s.isTlsKeyFile)
    throw new TrucError('invalid_config', 'exchange.server.isTlsCertFile và isTlsKeyFile đi cùng nhau / isTlsCertFile and isTlsKeyFile go together');
  return { isTls: { cert: readFileSync(s.isTlsCertFile, 'utf8'), key: readFileSync(s.isTlsKeyFile, 'utf8') } };
}
