/**
 * Notification secrets (a webhook's bearer token, the SMTP password …) sealed under the vault: the clear
 * value is given once (`truc monitor notify-secret set`), sealed with a data key of its own wrapped by the
 * vault's key-encryption key, and only the sealed bytes are stored (`monitor_notify_secret`). The value is
 * opened when a notification is sent and dropped after; nothing reads it back out (listing says only
 * whether a secret is set). Rotating the key-encryption key re-wraps these data keys like any other vault
 * object; replacing or removing a secret crypto-shreds the old data key.
 */
import { randomUUID } from 'node:crypto';
import { TrucError } from '../../errors.js';
import type { Db } from '../../store/index.js';
import { appendAudit } from '../../audit/index.js';
import { makeEvent, type Bus } from '../../bus/index.js';
import { Vault } from '../../vault/index.js';
import type { KeyStores } from '../../crypto/keystore.js';
import type { MonitorConfig } from '../config.js';

/** the table, in a module of its own: migrating the database must not load the vault (src/database.ts) */
export { notifySecretMigrations } from './secret-migrations.js';

/** What a channel needs at send time: the clear value of a named secret. */
export interface SecretSource {
  reveal(name: string): Promise<string>;
}

export interface SecretInfo {
  name: string;
  set: true;
  updatedAt: Date;
  updatedBy: string;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const ad = (name: string) => Buffer.from(`truc-monitor-notify-secret\0${name}`, 'utf8');

function checkName(name: string): void {
  if (!NAME.test(name)) throw new TrucError('bad_request', `tên bí mật không hợp lệ (secret name must be 1-64 of A-Z a-z 0-9 _ . -): ${JSON.stringify(name).slice(0, 80)}`);
}

/** A secret's state for listing: set or not, and whether the notification settings name it. */
export interface SecretStatus {
  name: string;
  set: boolean;
  updatedAt?: Date;
  updatedBy?: string;
  usedByConfig: boolean;
}

export class NotifySecrets implements SecretSource {
  constructor(
    private readonly db: Db,
    private readonly vault: Vault,
    private readonly bus?: Bus,
  ) {}

  /** The platform's notification secrets, sealed under its vault. */
  static of(p: { db: Db; keys: KeyStores; bus: Bus }): NotifySecrets {
    return new NotifySecrets(p.db, new Vault({ db: p.db, keys: p.keys, bus: p.bus }), p.bus);
  }

  /** Every secret that is set or that the notification settings name, with whether it is set and used. */
  async status(notify: MonitorConfig['notify']): Promise<SecretStatus[]> {
    const named = new Set<string>([...notify.webhooks.flatMap((w) => Object.values(w.secretHeaders ?? {})), ...(notify.email?.passwordSecret ? [notify.email.passwordSecret] : [])]);
    const set = await this.list();
    const have = new Set(set.map((x) => x.name));
    return [
      ...set.map((x) => ({ name: x.name, set: true, updatedAt: x.updatedAt, updatedBy: x.updatedBy, usedByConfig: named.has(x.name) })),
      ...[...named].filter((n) => !have.has(n)).map((n) => ({ name: n, set: false, usedByConfig: true })),
    ];
  }

  /** Seals `value` under a new data key and stores only the sealed form; the former value's key is shredded. */
  async set(name: string, value: string, actor = 'system'): Promise<void> {
    checkName(name);
    if (!value) throw new TrucError('bad_request', 'giá trị bí mật rỗng (the secret value is empty)');
    const objectId = `monitor-notify:${name}:${randomUUID()}`;
    const sealed = await this.vault.seal({ id: objectId }, Buffer.from(value, 'utf8'), { ad: ad(name) });
    const former = await this.db.tx(async (sql) => {
      const [old] = await sql.query<{ object_id: string }>('SELECT object_id FROM monitor_notify_secret WHERE name = $1 FOR UPDATE', [name]);
      await sql.query(
        `INSERT INTO monitor_notify_secret (name, object_id, sealed, updated_at, updated_by) VALUES ($1, $2, $3, now(), $4)
         ON CONFLICT (name) DO UPDATE SET object_id = excluded.object_id, sealed = excluded.sealed, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
        [name, objectId, sealed, actor],
      );
      await appendAudit(sql, [{ actor, action: 'monitor.notify_secret.set', target: `notify-secret:${name}`, outcome: 'success', detail: { replaced: !!old } }]);
      return old?.object_id;
    });
    if (former) await this.vault.shred({ id: former }, { reason: 'notification secret replaced' });
  }

  /** Removes the secret and shreds its data key; returns whether one was set. */
  async remove(name: string, actor = 'system'): Promise<boolean> {
    checkName(name);
    const former = await this.db.tx(async (sql) => {
      const [old] = await sql.query<{ object_id: string }>('DELETE FROM monitor_notify_secret WHERE name = $1 RETURNING object_id', [name]);
      if (old) await appendAudit(sql, [{ actor, action: 'monitor.notify_secret.remove', target: `notify-secret:${name}`, outcome: 'success' }]);
      return old?.object_id;
    });
    if (former) await this.vault.shred({ id: former }, { reason: 'notification secret removed' });
    return !!former;
  }

  /** The secrets that are set — names and dates, never values. */
  async list(): Promise<SecretInfo[]> {
    const rows = await this.db.query<{ name: string; updated_at: Date | string; updated_by: string }>(
      'SELECT name, updated_at, updated_by FROM monitor_notify_secret ORDER BY name',
    );
    return rows.map((r) => ({ name: r.name, set: true, updatedAt: new Date(r.updated_at), updatedBy: r.updated_by }));
  }

  /**
   * The clear value, for a notification being sent. An unknown name is `not_found`; a key-encryption key
   * that cannot be reached is `key_store_unavailable` (the vault publishes `truc.vault.kek.unavailable`);
   * either way `truc.monitor.notify.secret_unavailable` is published too.
   */
  async reveal(name: string): Promise<string> {
    try {
      const [row] = await this.db.query<{ object_id: string; sealed: Buffer }>('SELECT object_id, sealed FROM monitor_notify_secret WHERE name = $1', [name]);
      if (!row) throw new TrucError('not_found', `bí mật thông báo "${name}" chưa được đặt (notification secret "${name}" is not set: truc monitor notify-secret set ${name})`);
      const clear = await this.vault.open({ id: row.object_id }, Buffer.from(row.sealed), { ad: ad(name) });
      const s = clear.toString('utf8');
      clear.fill(0);
      return s;
    } catch (e) {
      const code = e instanceof TrucError ? e.code : 'internal';
      this.publish(name, code, (e as Error).message);
      if (e instanceof TrucError && e.code !== 'not_found')
        throw new TrucError(e.code, `không mở được bí mật thông báo "${name}" (cannot open notification secret "${name}"): ${e.message}`, { secret: name }, { cause: e });
      throw e;
    }
  }

  private publish(name: string, code: string, reason: string): void {
    const subject = 'truc.monitor.notify.secret_unavailable';
    if (!this.bus?.listening(subject)) return;
    const event = makeEvent('monitor', 'monitor.notify.secret_unavailable', 'failure', { category: ['configuration'], truc: { secret: { name }, code }, reason });
    this.bus.publish(subject, event).catch(() => {});
  }
}
