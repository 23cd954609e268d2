/**
 * Envelope encryption at rest. Each protected object version gets its own random AES-256 data key; the
 * object's bytes are sealed with the streaming AEAD of `./stream.ts` under that key with the object's
 * identity and version as associated data. The data key is stored only wrapped (AES-256-GCM inside the key
 * store: a sealed software key or a non-extractable token key) by the key ring's active key-encryption key.
 *
 * Rotation adds a new key-encryption key and re-wraps data keys in batches, each batch one transaction:
 * a crash loses at most the batch in flight, which stays wrapped by the older key (kept until no data key
 * needs it), so rotation simply resumes. Crypto-shredding deletes a data key's wrapped form — the object's
 * ciphertext, wherever copies of it went, becomes noise — and is recorded in the audit log.
 */
import { randomBytes } from 'node:crypto';
import type { Transform } from 'node:stream';
import { TrucError } from '../../errors.js';
import type { Db, Sql } from '../../store/index.js';
import type { KeyStore, KeyStores } from '../../crypto/keystore.js';
import { appendAudit } from '../../audit/index.js';
import { makeEvent, type Bus } from '../../bus/index.js';
import { decryptStream, encryptStream, openBuffer, sealBuffer, type StreamOptions } from './stream.js';

export interface ObjectRef {
  /** the object's identity, stable across versions (a message id, a document id, a file hash …) */
  id: string;
  /** 1 when not given */
  version?: number;
}

export interface KekInfo {
  version: number;
  store: string;
  keyId: string;
  label: string;
  state: 'active' | 'retired' | 'destroyed';
  createdAt: Date;
}

export interface VaultDeps {
  db: Db;
  keys: KeyStores;
  bus?: Bus;
  clock?: () => Date;
  /** the key store that holds new key-encryption keys; the default store when not given */
  kekStore?: string;
}

export interface EncryptOptions extends StreamOptions {
  /** retention: `shredExpired` destroys the data key after this instant */
  expiresAt?: Date;
  /** further associated data bound to the ciphertext (a content type, a message header hash …) */
  ad?: Uint8Array;
}

export interface RotationReport {
  toVersion: number;
  rewrapped: number;
  remaining: number;
}

const MAX_ID = 512;

function checkRef(ref: ObjectRef): { id: string; version: number } {
  const version = ref.version ?? 1;
  if (typeof ref.id !== 'string' || ref.id.length === 0 || ref.id.length > MAX_ID || ref.id.includes('\0'))
    throw new TrucError('bad_request', `object id must be 1..${MAX_ID} characters without NUL`);
  if (!Number.isInteger(version) || version < 1 || version > 2 ** 31 - 1)
    throw new TrucError('bad_request', 'object version must be a positive 32-bit integer');
  return { id: ref.id, version };
}

/** Associated data of the object's ciphertext: identity, version and the caller's own. */
export function objectAd(ref: { id: string; version: number }, extra?: Uint8Array): Buffer {
  const head = Buffer.from(`truc-vault-object\0${ref.id}\0${ref.version}\0`, 'utf8');
  return extra?.length ? Buffer.concat([head, extra]) : head;
}

/** Associated data of a wrapped data key: which object version and which key-encryption key. */
function wrapAd(ref: { id: string; version: number }, kekVersion: number): Buffer {
  return Buffer.from(`truc-vault-dek\0${ref.id}\0${ref.version}\0${kekVersion}`, 'utf8');
}

interface KekRow {
  version: number;
  store: string;
  key_id: string;
  label: string;
  state: KekInfo['state'];
  created_at: Date | string;
}

const kekInfo = (r: KekRow): KekInfo => ({
  version: Number(r.version),
  store: r.store,
  keyId: r.key_id,
  label: r.label,
  state: r.state,
  createdAt: new Date(r.created_at),
});

export class Vault {
  private readonly clock: () => Date;
  private kekCache = new Map<number, KekInfo>();

  constructor(private readonly deps: VaultDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  // ---------- key ring ----------

  async keks(): Promise<KekInfo[]> {
    const rows = await this.deps.db.query<KekRow>('SELECT * FROM xv_kek ORDER BY version');
    return rows.map(kekInfo);
  }

  /** `sql`: the transaction in progress, if any (PGlite has one connection: a query beside it would wait forever) */
  private async kek(version: number, sql: Sql = this.deps.db): Promise<KekInfo> {
    const hit = this.kekCache.get(version);
    if (hit && hit.state !== 'destroyed') return hit;
    const [row] = await sql.query<KekRow>('SELECT * FROM xv_kek WHERE version = $1', [version]);
    if (!row) throw new TrucError('key_store_unavailable', `key-encryption key version ${version} is not in the key ring`);
    const k = kekInfo(row);
    this.kekCache.set(version, k);
    return k;
  }

  async activeKek(): Promise<KekInfo | null> {
    const [row] = await this.deps.db.query<KekRow>("SELECT * FROM xv_kek WHERE state = 'active'");
    return row ? kekInfo(row) : null;
  }

  private store(kind: string): KeyStore & Required<Pick<KeyStore, 'wrapSecret' | 'unwrapSecret'>> {
    let s: KeyStore;
    try {
      s = this.deps.keys.get(kind);
    } catch {
      throw new TrucError('key_store_unavailable', `key store "${kind}" holding a key-encryption key is not configured`);
    }
    if (!s.wrapSecret || !s.unwrapSecret || !s.generateSecret)
      throw new TrucError('unsupported', `key store "${kind}" cannot hold key-encryption keys`);
    return s as KeyStore & Required<Pick<KeyStore, 'wrapSecret' | 'unwrapSecret'>>;
  }

  /**
   * Makes a new key-encryption key in `store` and makes it the active one; the previous active key becomes
   * `retired` (still used to unwrap until `rotate` has re-wrapped everything it wrapped).
   */
  async addKek(opts: { store?: string; label?: string; actor?: string } = {}): Promise<KekInfo> {
    const kind = opts.store ?? this.deps.kekStore ?? this.deps.keys.default.kind;
    const s = this.store(kind);
    const label = opts.label ?? `truc-vault-kek-${this.clock().toISOString()}`;
    const secret = await this.withKek(kind, () => s.generateSecret!(label));
    const info = await this.deps.db.tx(async (sql) => {
      await sql.query("SELECT pg_advisory_xact_lock(hashtext('xv_kek'))");
      const [{ v }] = await sql.query<{ v: number }>('SELECT coalesce(max(version), 0) + 1 AS v FROM xv_kek');
      await sql.query("UPDATE xv_kek SET state = 'retired' WHERE state = 'active'");
      const [row] = await sql.query<KekRow>(
        "INSERT INTO xv_kek (version, store, key_id, label, state, created_at) VALUES ($1, $2, $3, $4, 'active', $5) RETURNING *",
        [Number(v), kind, secret.ref.id, label, this.clock()],
      );
      await appendAudit(sql, [{ actor: opts.actor ?? 'system', action: 'vault.kek.add', target: `kek:${v}`, outcome: 'success', detail: { store: kind, keyId: secret.ref.id } }]);
      return kekInfo(row);
    });
    this.kekCache.clear();
    this.emit('kek.added', 'success', { kek: { version: info.version, store: kind } });
    return info;
  }

  /** The active key-encryption key, made on first use. */
  async ensureKek(): Promise<KekInfo> {
    return (await this.activeKek()) ?? this.addKek({ label: 'truc-vault-kek-1' });
  }

  /** Runs a key store operation; an absent key or unreachable token becomes `key_store_unavailable` + event. */
  private async withKek<T>(kind: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof TrucError && e.code === 'decrypt_failed') throw e;
      const err =
        e instanceof TrucError && (e.code === 'key_store_unavailable' || e.code === 'unsupported')
          ? e
          : new TrucError('key_store_unavailable', `the key-encryption key in store "${kind}" is unavailable: ${(e as Error).message}`, { store: kind }, { cause: e });
      this.emit('kek.unavailable', 'failure', { kek: { store: kind } }, err.message);
      throw err;
    }
  }

  private async wrap(ref: { id: string; version: number }, kek: KekInfo, dek: Buffer): Promise<Buffer> {
    const s = this.store(kek.store);
    return this.withKek(kek.store, () => s.wrapSecret(kek.keyId, dek, wrapAd(ref, kek.version)));
  }

  private async unwrap(ref: { id: string; version: number }, kekVersion: number, wrapped: Buffer, sql?: Sql): Promise<Buffer> {
    const kek = await this.kek(kekVersion, sql);
    if (kek.state === 'destroyed') throw new TrucError('key_store_unavailable', `key-encryption key version ${kekVersion} was destroyed`);
    const s = this.store(kek.store);
    return this.withKek(kek.store, () => s.unwrapSecret(kek.keyId, wrapped, wrapAd(ref, kek.version)));
  }

  // ---------- objects ----------

  /** Creates and stores the data key of a new object version; returns it (the caller seals with it). */
  private async newDataKey(r: { id: string; version: number }, expiresAt?: Date): Promise<Buffer> {
    const kek = await this.ensureKek();
    const dek = randomBytes(32);
    const wrapped = await this.wrap(r, kek, dek);
    try {
      await this.deps.db.query(
        'INSERT INTO xv_data_key (object_id, version, kek_version, wrapped, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [r.id, r.version, kek.version, wrapped, this.clock(), expiresAt ?? null],
      );
    } catch (e) {
      if (/duplicate key|unique/i.test((e as Error).message))
        throw new TrucError('conflict', `object ${r.id} version ${r.version} already has a data key; encrypt a new version`, { object: r.id, version: r.version });
      throw e;
    }
    return dek;
  }

  private async dataKey(r: { id: string; version: number }): Promise<Buffer> {
    const [row] = await this.deps.db.query<{ kek_version: number; wrapped: Buffer | null; shredded_at: Date | string | null }>(
      'SELECT kek_version, wrapped, shredded_at FROM xv_data_key WHERE object_id = $1 AND version = $2',
      [r.id, r.version],
    );
    if (!row) throw new TrucError('not_found', `no data key for object ${r.id} version ${r.version}`, { object: r.id, version: r.version });
    if (!row.wrapped)
      throw new TrucError('shredded', `object ${r.id} version ${r.version} was crypto-shredded at ${new Date(row.shredded_at!).toISOString()}; it cannot be decrypted`, { object: r.id, version: r.version });
    return this.unwrap(r, Number(row.kek_version), Buffer.from(row.wrapped));
  }

  /**
   * The data key of a long-lived store that encrypts many items itself (a security server's message log):
   * made on first use under the active key-encryption key, unwrapped on every later call (re-wrapped by
   * `rotate` like any other), destroyed by `shred`. The caller keeps it in memory only and derives one key
   * per item from it.
   */
  async storeKey(id: string): Promise<Buffer> {
    const r = checkRef({ id });
    try {
      return await this.dataKey(r);
    } catch (e) {
      if (!(e instanceof TrucError) || e.code !== 'not_found') throw e;
    }
    try {
      return await this.newDataKey(r);
    } catch (e) {
      // made by another process at the same moment: use theirs
      if (e instanceof TrucError && e.code === 'conflict') return this.dataKey(r);
      throw e;
    }
  }

  /** The data key `storeKey` made, never making one: `not_found` when there is none, `shredded` when destroyed. */
  async existingStoreKey(id: string): Promise<Buffer> {
    return this.dataKey(checkRef({ id }));
  }

  /** A stream that encrypts a new object version: plaintext in, ciphertext out. */
  async encrypt(ref: ObjectRef, opts: EncryptOptions = {}): Promise<Transform> {
    const r = checkRef(ref);
    const dek = await this.newDataKey(r, opts.expiresAt);
    const t = encryptStream(dek, objectAd(r, opts.ad), opts);
    dek.fill(0);
    return t;
  }

  /** A stream that decrypts an object version; it errors (`decrypt_failed`) on any tampering or truncation. */
  async decrypt(ref: ObjectRef, opts: { ad?: Uint8Array } = {}): Promise<Transform> {
    const r = checkRef(ref);
    const dek = await this.dataKey(r);
    const t = decryptStream(dek, objectAd(r, opts.ad));
    dek.fill(0);
    return t;
  }

  async seal(ref: ObjectRef, plaintext: Uint8Array, opts: EncryptOptions = {}): Promise<Buffer> {
    const r = checkRef(ref);
    const dek = await this.newDataKey(r, opts.expiresAt);
    try {
      return await sealBuffer(dek, objectAd(r, opts.ad), plaintext, opts);
    } finally {
      dek.fill(0);
    }
  }

  async open(ref: ObjectRef, sealed: Uint8Array, opts: { ad?: Uint8Array } = {}): Promise<Buffer> {
    const r = checkRef(ref);
    const dek = await this.dataKey(r);
    try {
      return await openBuffer(dek, objectAd(r, opts.ad), sealed);
    } finally {
      dek.fill(0);
    }
  }

  // ---------- rotation ----------

  /**
   * Re-wraps every live data key not yet under the active key-encryption key, `batchSize` per transaction.
   * Safe to run while objects are read and written, from several processes (rows are claimed with SKIP
   * LOCKED), and to resume after a crash: what is left is found again by its key version.
   */
  async rotate(opts: { batchSize?: number; maxBatches?: number; actor?: string; onBatch?: (done: number) => void } = {}): Promise<RotationReport> {
    const kek = await this.activeKek();
    if (!kek) throw new TrucError('conflict', 'no active key-encryption key: nothing to rotate to');
    const batchSize = Math.max(1, Math.min(opts.batchSize ?? 200, 10_000));
    const now = this.clock();
    const [job] = await this.deps.db.query<{ id: string }>(
      'INSERT INTO xv_rotation (to_version, started_at, updated_at) VALUES ($1, $2, $2) RETURNING id',
      [kek.version, now],
    );
    let total = 0;
    for (let b = 0; opts.maxBatches === undefined || b < opts.maxBatches; b++) {
      const n = await this.deps.db.tx(async (sql) => {
        const rows = await sql.query<{ object_id: string; version: number; kek_version: number; wrapped: Buffer }>(
          `SELECT object_id, version, kek_version, wrapped FROM xv_data_key
            WHERE kek_version <> $1 AND shredded_at IS NULL
            ORDER BY object_id, version LIMIT $2 FOR UPDATE SKIP LOCKED`,
          [kek.version, batchSize],
        );
        for (const row of rows) {
          const r = { id: row.object_id, version: Number(row.version) };
          const dek = await this.unwrap(r, Number(row.kek_version), Buffer.from(row.wrapped), sql);
          const wrapped = await this.wrap(r, kek, dek);
          dek.fill(0);
          await sql.query('UPDATE xv_data_key SET kek_version = $1, wrapped = $2 WHERE object_id = $3 AND version = $4', [kek.version, wrapped, r.id, r.version]);
        }
        if (rows.length)
          await sql.query('UPDATE xv_rotation SET rewrapped = rewrapped + $1, updated_at = $2 WHERE id = $3', [rows.length, this.clock(), job.id]);
        return rows.length;
      });
      if (n === 0) break;
      total += n;
      opts.onBatch?.(total);
    }
    const [{ remaining }] = await this.deps.db.query<{ remaining: string }>(
      'SELECT count(*) AS remaining FROM xv_data_key WHERE kek_version <> $1 AND shredded_at IS NULL',
      [kek.version],
    );
    const left = Number(remaining);
    await this.deps.db.tx(async (sql) => {
      if (left === 0) await sql.query('UPDATE xv_rotation SET finished_at = $1, updated_at = $1 WHERE id = $2', [this.clock(), job.id]);
      await appendAudit(sql, [{ actor: opts.actor ?? 'system', action: 'vault.kek.rotate', target: `kek:${kek.version}`, outcome: 'success', detail: { rewrapped: total, remaining: left } }]);
    });
    this.emit('kek.rotated', 'success', { kek: { version: kek.version }, rewrapped: total, remaining: left });
    return { toVersion: kek.version, rewrapped: total, remaining: left };
  }

  /** Destroys retired key-encryption keys that no live data key needs any more. Returns their versions. */
  async destroyRetiredKeks(actor = 'system'): Promise<number[]> {
    const rows = await this.deps.db.query<KekRow>(
      `SELECT k.* FROM xv_kek k WHERE k.state = 'retired'
         AND NOT EXISTS (SELECT 1 FROM xv_data_key d WHERE d.kek_version = k.version AND d.shredded_at IS NULL)`,
    );
    const out: number[] = [];
    for (const row of rows) {
      const k = kekInfo(row);
      const s = this.store(k.store);
      await this.deps.db.tx(async (sql) => {
        const [still] = await sql.query<{ n: string }>(
          "SELECT count(*) AS n FROM xv_data_key WHERE kek_version = $1 AND shredded_at IS NULL",
          [k.version],
        );
        if (Number(still.n) > 0) return;
        await sql.query("UPDATE xv_kek SET state = 'destroyed', destroyed_at = $1 WHERE version = $2", [this.clock(), k.version]);
        await appendAudit(sql, [{ actor, action: 'vault.kek.destroy', target: `kek:${k.version}`, outcome: 'success', detail: { store: k.store, keyId: k.keyId } }]);
        // destroyed inside the transaction: if the store refuses, the ring still says retired
        await s.destroySecret?.(k.keyId);
        out.push(k.version);
      });
    }
    this.kekCache.clear();
    return out;
  }

  // ---------- crypto-shredding ----------

  private async shredWhere(sql: Sql, where: string, params: unknown[], reason: string, actor: string): Promise<{ object_id: string; version: number }[]> {
    const rows = await sql.query<{ object_id: string; version: number }>(
      `UPDATE xv_data_key SET wrapped = NULL, shredded_at = $1, shred_reason = $2
        WHERE shredded_at IS NULL AND ${where} RETURNING object_id, version`,
      [this.clock(), reason, ...params],
    );
    if (rows.length)
      await appendAudit(
        sql,
        rows.map((r) => ({ actor, action: 'vault.shred', target: `${r.object_id}#${r.version}`, outcome: 'success' as const, detail: { reason } })),
      );
    return rows;
  }

  /** Destroys the data key of one object version (or every version when none is given). */
  async shred(ref: { id: string; version?: number }, opts: { reason?: string; actor?: string } = {}): Promise<number> {
    const id = checkRef({ id: ref.id, version: ref.version ?? 1 }).id;
    const reason = opts.reason ?? 'requested';
    const rows = await this.deps.db.tx((sql) =>
      ref.version === undefined
        ? this.shredWhere(sql, 'object_id = $3', [id], reason, opts.actor ?? 'system')
        : this.shredWhere(sql, 'object_id = $3 AND version = $4', [id, ref.version], reason, opts.actor ?? 'system'),
    );
    for (const r of rows) this.emit('shredded', 'success', { object: { id: r.object_id, version: Number(r.version) }, reason });
    return rows.length;
  }

  /** Retention: destroys the data keys whose `expiresAt` has passed. */
  async shredExpired(opts: { actor?: string; limit?: number } = {}): Promise<number> {
    const rows = await this.deps.db.tx((sql) =>
      this.shredWhere(
        sql,
        `(object_id, version) IN (SELECT object_id, version FROM xv_data_key WHERE shredded_at IS NULL AND expires_at <= $3 ORDER BY expires_at LIMIT $4)`,
        [this.clock(), opts.limit ?? 10_000],
        'retention expired',
        opts.actor ?? 'system',
      ),
    );
    for (const r of rows) this.emit('shredded', 'success', { object: { id: r.object_id, version: Number(r.version) }, reason: 'retention expired' });
    return rows.length;
  }

  /** What the vault knows of an object version (never the key). */
  async status(ref: ObjectRef): Promise<{ kekVersion: number; createdAt: Date; expiresAt: Date | null; shreddedAt: Date | null } | null> {
    const r = checkRef(ref);
    const [row] = await this.deps.db.query<{ kek_version: number; created_at: string; expires_at: string | null; shredded_at: string | null }>(
      'SELECT kek_version, created_at, expires_at, shredded_at FROM xv_data_key WHERE object_id = $1 AND version = $2',
      [r.id, r.version],
    );
    if (!row) return null;
    return {
      kekVersion: Number(row.kek_version),
      createdAt: new Date(row.created_at),
      expiresAt: row.expires_at ? new Date(row.expires_at) : null,
      shreddedAt: row.shredded_at ? new Date(row.shredded_at) : null,
    };
  }

  private emit(action: string, outcome: 'success' | 'failure', truc: Record<string, unknown>, reason?: string): void {
    const bus = this.deps.bus;
    if (!bus) return;
    const subject = `truc.vault.${action}`;
    if (!bus.listening(subject)) return;
    const event = makeEvent('vault', `vault.${action}`, outcome, { category: ['configuration'], truc, reason, at: this.clock() });
    bus.publish(subject, event).catch(() => {});
  }
}
