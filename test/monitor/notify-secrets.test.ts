import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openDb, migrate, type Db } from '../../src/store/index.js';
import { auditMigrations, verifyAuditChain } from '../../src/audit/index.js';
import { SoftwareKeyStore } from '../../src/crypto/software-keystore.js';
import { keyStores } from '../../src/crypto/keystore.js';
import { InProcessBus, type SecurityEvent } from '../../src/bus/index.js';
import { Vault, vaultMigrations } from '../../src/vault/index.js';
import { Notifier, NotifySecrets, monitorConfig, notifySecretMigrations, type Alert } from '../../src/monitor/index.js';
import { tmp } from '../helpers/openssl.js';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/http/app.js';
import { createToken } from '../../src/http/auth/store.js';
import { MonitorService } from '../../src/monitor/index.js';
import { testPlatform, type TestPlatform } from '../helpers/platform.js';

const TOKEN = 'Bearer tk-9f3c1e7a-webhook-secret';

function alert(id: string): Alert {
  const t = new Date('2026-03-02T03:00:00Z');
  return {
    id, ruleId: 'r', title: `Alert ${id}`, author: 'Trục', kind: 'rule', level: 'high', severity: 4, tags: [], attack: [],
    groupKey: '', group: {}, count: 1, value: null, eventIds: ['1'], sample: null, firstAt: t, lastAt: t,
    status: 'new', closeReason: null, assignee: null, createdAt: t, updatedAt: t,
  };
}

/** every file under dir, read whole */
function* files(dir: string): Generator<Buffer> {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) yield* files(p);
    else yield readFileSync(p);
  }
}

describe('notification secrets sealed under the vault', () => {
  const dataDir = tmp('truc-notify-secret-db-');
  let db: Db;
  let store: SoftwareKeyStore;
  let vault: Vault;
  let secrets: NotifySecrets;
  const events: SecurityEvent[] = [];
  let server: http.Server;
  let url: string;
  const received: { auth?: string; id: string }[] = [];

  beforeAll(async () => {
    db = await openDb({ url: dataDir });
    await migrate(db, [...auditMigrations, ...vaultMigrations, ...notifySecretMigrations]);
    store = await SoftwareKeyStore.open({ dir: tmp('truc-notify-secret-keys-'), passphrase: 'notify secret test', scryptN: 1 << 10 });
    const bus = new InProcessBus();
    bus.subscribe('truc.>', (_s, e) => void events.push(e));
    vault = new Vault({ db, keys: keyStores([store]), bus });
    secrets = new NotifySecrets(db, vault, bus);
    server = http.createServer((req, res) => {
      let b = '';
      req.on('data', (d) => (b += d));
      req.on('end', () => {
        received.push({ auth: req.headers.authorization, id: JSON.parse(b).id });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as any).port}/hook`;
  });
  afterAll(async () => {
    server.close();
    await store.close();
    await db.close();
  });

  const notifier = () =>
    Notifier.fromConfig(monitorConfig({ notify: { webhooks: [{ url, secretHeaders: { authorization: 'hook-token' } }] } }).notify, undefined, secrets);

  it('stores only the sealed form: neither the row nor any database file holds the clear value', async () => {
    await secrets.set('hook-token', TOKEN, 'tester');
    const [row] = await db.query<{ sealed: Buffer }>('SELECT sealed FROM monitor_notify_secret WHERE name = $1', ['hook-token']);
    const needle = Buffer.from(TOKEN, 'utf8');
    const tokenPart = Buffer.from('tk-9f3c1e7a', 'utf8');
    expect(Buffer.from(row!.sealed).includes(needle)).toBe(false);
    expect(Buffer.from(row!.sealed).includes(tokenPart)).toBe(false);
    // the whole PGlite folder, once the database wrote it out
    await db.query('CHECKPOINT');
    let bytes = 0;
    for (const f of files(dataDir)) {
      bytes += f.length;
      expect(f.includes(tokenPart)).toBe(false);
    }
    expect(bytes).toBeGreaterThan(0);
    // listing tells set / not set, never the value
    const list = await secrets.list();
    expect(list).toEqual([expect.objectContaining({ name: 'hook-token', set: true, updatedBy: 'tester' })]);
    expect(JSON.stringify(list)).not.toContain('tk-9f3c1e7a');
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true });
  });

  it('opens the secret only to send: a real local listener receives the right token', async () => {
    const n = notifier();
    n.notify(alert('a1'));
    await n.close();
    expect(n.lastError).toBeUndefined();
    expect(n.stats).toMatchObject({ sent: 1, failed: 0 });
    expect(received.at(-1)).toEqual({ auth: TOKEN, id: 'a1' });
  });

  it('a replaced secret is sent from then on and the former data key is shredded', async () => {
    const [before] = await db.query<{ object_id: string }>('SELECT object_id FROM monitor_notify_secret WHERE name = $1', ['hook-token']);
    await secrets.set('hook-token', `${TOKEN}-2`, 'tester');
    expect((await vault.status({ id: before!.object_id }))!.shreddedAt).toBeInstanceOf(Date);
    const n = notifier();
    n.notify(alert('a2'));
    await n.close();
    expect(received.at(-1)).toEqual({ auth: `${TOKEN}-2`, id: 'a2' });
  });

  it('rotation of the key-encryption key re-wraps the secret like any vault object', async () => {
    const [row] = await db.query<{ object_id: string }>('SELECT object_id FROM monitor_notify_secret WHERE name = $1', ['hook-token']);
    const old = (await vault.activeKek())!;
    const next = await vault.addKek();
    const r = await vault.rotate();
    expect(r.remaining).toBe(0);
    expect((await vault.status({ id: row!.object_id }))!.kekVersion).toBe(next.version);
    expect(await vault.destroyRetiredKeks()).toEqual([old.version]);
    const n = notifier();
    n.notify(alert('a3'));
    await n.close();
    expect(received.at(-1)).toEqual({ auth: `${TOKEN}-2`, id: 'a3' });
  });

  it('an unset secret or an unavailable key-encryption key fails the notification with a clear error and an event, not a crash', async () => {
    const unset = Notifier.fromConfig(monitorConfig({ notify: { webhooks: [{ url, secretHeaders: { authorization: 'never-set' } }] } }).notify, undefined, secrets);
    unset.notify(alert('b1'));
    await unset.close();
    expect(unset.stats).toMatchObject({ sent: 0, failed: 1 });
    expect(unset.lastError).toMatchObject({ code: 'not_found' });
    expect(unset.lastError!.message).toMatch(/chưa được đặt.*not set/);

    const count = received.length;
    await store.destroySecret((await vault.activeKek())!.keyId);
    const n = notifier();
    n.notify(alert('b2'));
    await n.close();
    expect(n.stats).toMatchObject({ sent: 0, failed: 1 });
    expect(n.lastError).toMatchObject({ code: 'key_store_unavailable' });
    expect(n.lastError!.message).toMatch(/không mở được bí mật thông báo "hook-token" \(cannot open notification secret "hook-token"\)/);
    expect(received).toHaveLength(count);
    const actions = events.filter((e) => e.event.outcome === 'failure').map((e) => e.event.action);
    expect(actions).toContain('vault.kek.unavailable');
    expect(actions).toContain('monitor.notify.secret_unavailable');
    expect(events.find((e) => e.event.action === 'monitor.notify.secret_unavailable' && (e as any).truc.code === 'key_store_unavailable')).toBeDefined();
  });
});

describe('notification secrets over the HTTP API', () => {
  let p: TestPlatform;
  let m: MonitorService;
  let app: FastifyInstance;
  let base: string;
  let analyst: string;
  let sender: string;
  beforeAll(async () => {
    p = await testPlatform('memory://');
    const config = monitorConfig({ notify: { webhooks: [{ url: 'http://127.0.0.1:9/x', secretHeaders: { authorization: 'api-hook' } }], email: { host: '127.0.0.1', port: 25, from: 'a@b.vn', to: ['c@b.vn'], passwordSecret: 'smtp-pw' } } });
    m = await MonitorService.start({ db: p.db, bus: p.bus, log: pino({ level: 'silent' }), config, listen: false, subscribe: false, scanner: null });
    app = await buildApp(p, { monitor: m });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    analyst = (await createToken(p.db, 'analyst', ['monitor-analyst'])).token;
    sender = (await createToken(p.db, 'sender', ['event-sender'])).token;
  });
  afterAll(async () => {
    await app?.close();
    await m?.stop();
    await p?.close();
  });
  const call = (method: string, path: string, token: string, body?: unknown) =>
    fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });

  it('takes the clear value once, stores it sealed, and answers only set / not set', async () => {
    const clear = 'Bearer api-9d1f0c55-secret';
    expect((await call('PUT', '/api/v1/monitor/notify-secrets/api-hook', sender, { value: clear })).status).toBe(403);
    const put = await call('PUT', '/api/v1/monitor/notify-secrets/api-hook', analyst, { value: clear });
    expect(put.status).toBe(200);
    expect(await put.text()).not.toContain('9d1f0c55');
    const list = await call('GET', '/api/v1/monitor/notify-secrets', analyst);
    const text = await list.text();
    expect(text).not.toContain('9d1f0c55');
    expect(JSON.parse(text).secrets).toEqual([
      expect.objectContaining({ name: 'api-hook', set: true, updatedBy: 'analyst', usedByConfig: true }),
      { name: 'smtp-pw', set: false, usedByConfig: true },
    ]);
    const [row] = await p.db.query<{ sealed: Buffer }>('SELECT sealed FROM monitor_notify_secret WHERE name = $1', ['api-hook']);
    expect(Buffer.from(row!.sealed).includes(Buffer.from('9d1f0c55'))).toBe(false);
    expect((await call('PUT', '/api/v1/monitor/notify-secrets/bad%20name', analyst, { value: 'x' })).status).toBe(400);
    expect((await call('PUT', '/api/v1/monitor/notify-secrets/api-hook', analyst, { value: '' })).status).toBe(400);
    expect((await call('DELETE', '/api/v1/monitor/notify-secrets/api-hook', analyst)).status).toBe(200);
    expect((await call('DELETE', '/api/v1/monitor/notify-secrets/api-hook', analyst)).status).toBe(404);
    expect(JSON.parse(await (await call('GET', '/api/v1/monitor/notify-secrets', analyst)).text()).secrets).toEqual([
      { name: 'api-hook', set: false, usedByConfig: true },
      { name: 'smtp-pw', set: false, usedByConfig: true },
    ]);
  });
});
