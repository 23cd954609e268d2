import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import { openDb, migrate, type Db } from '../../src/store/index.js';
import { auditMigrations, verifyAuditChain } from '../../src/audit/index.js';
import { SoftwareKeyStore } from '../../src/crypto/software-keystore.js';
import { Pkcs11KeyStore } from '../../src/crypto/pkcs11-keystore.js';
import { keyStores } from '../../src/crypto/keystore.js';
import { InProcessBus, type SecurityEvent } from '../../src/bus/index.js';
import { Vault, vaultMigrations, bodyCipher } from '../../src/vault/index.js';
import { testDatabaseUrls, postgresWanted, freshPostgresUrl } from '../helpers/db.js';
import { tmp } from '../helpers/openssl.js';
import { softHsmMissing, softHsmToken, type SoftHsmToken } from '../helpers/softhsm.js';

const PASS = 'vault test passphrase';

async function fresh(url: string, dir = tmp('truc-vault-keys-')) {
  const db = await openDb({ url });
  await migrate(db, [...auditMigrations, ...vaultMigrations]);
  const store = await SoftwareKeyStore.open({ dir, passphrase: PASS, scryptN: 1 << 10 });
  const bus = new InProcessBus();
  const events: SecurityEvent[] = [];
  bus.subscribe('truc.vault.>', (_s, e) => void events.push(e));
  const vault = new Vault({ db, keys: keyStores([store]), bus });
  return { db, store, vault, events, dir };
}

async function collect(t: NodeJS.ReadWriteStream, input: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from([input]), t as any, new Writable({ write(c, _e, cb) { out.push(c); cb(); } }));
  return Buffer.concat(out);
}

for (const { name, url } of testDatabaseUrls()) {
  describe(`envelope encryption at rest (${name})`, () => {
    let ctx: Awaited<ReturnType<typeof fresh>>;
    beforeAll(async () => {
      ctx = await fresh(await url());
    });
    afterAll(async () => {
      await ctx?.store.close();
      await ctx?.db.close();
    });

    it('seals each object version under its own data key, bound to identity and version', async () => {
      const { vault } = ctx;
      const a = await vault.seal({ id: 'doc-1', version: 1 }, Buffer.from('công văn số 1'));
      const b = await vault.seal({ id: 'doc-1', version: 2 }, Buffer.from('công văn số 1'));
      expect(a.equals(b)).toBe(false);
      expect((await vault.open({ id: 'doc-1', version: 1 }, a)).toString()).toBe('công văn số 1');
      // a version's ciphertext presented as another version, or another object, fails
      await expect(vault.open({ id: 'doc-1', version: 2 }, a)).rejects.toMatchObject({ code: 'decrypt_failed' });
      await expect(vault.seal({ id: 'doc-1', version: 1 }, Buffer.from('again'))).rejects.toMatchObject({ code: 'conflict' });
      await expect(vault.open({ id: 'doc-9' }, a)).rejects.toMatchObject({ code: 'not_found' });
      const wrapped = await ctx.db.query<{ wrapped: Buffer }>('SELECT wrapped FROM xv_data_key');
      expect(wrapped.length).toBe(2);
      // the stored form is a wrapped key, not a raw 32-byte key
      for (const w of wrapped) expect(Buffer.from(w.wrapped).length).toBe(12 + 32 + 16);
    });

    it('streams through the body cipher with associated data', async () => {
      const c = bodyCipher(ctx.vault, 'log');
      const body = randomBytes(300_000);
      const ad = Buffer.from('header-hash');
      const sealed = await collect(await c.encrypt('msg-1', ad), body);
      expect((await collect(await c.decrypt('msg-1', ad), sealed)).equals(body)).toBe(true);
      await expect(collect(await c.decrypt('msg-1', Buffer.from('other')), sealed)).rejects.toMatchObject({ code: 'decrypt_failed' });
      await expect(collect(await c.decrypt('msg-1', ad), sealed.subarray(0, sealed.length - 16))).rejects.toMatchObject({ code: 'decrypt_failed' });
    });

    it('crypto-shreds at retention expiry and records it in the audit log', async () => {
      const { vault, db } = ctx;
      const now = Date.now();
      const old = await vault.seal({ id: 'expiring' }, Buffer.from('old'), { expiresAt: new Date(now - 1000) });
      const kept = await vault.seal({ id: 'kept' }, Buffer.from('kept'), { expiresAt: new Date(now + 3_600_000) });
      expect(await vault.shredExpired({ actor: 'retention' })).toBe(1);
      await expect(vault.open({ id: 'expiring' }, old)).rejects.toMatchObject({ code: 'shredded' });
      expect((await vault.open({ id: 'kept' }, kept)).toString()).toBe('kept');
      const [row] = await db.query<{ wrapped: Buffer | null }>("SELECT wrapped FROM xv_data_key WHERE object_id = 'expiring'");
      expect(row.wrapped).toBeNull();
      const audit = await db.query<{ action: string; target: string; actor: string }>("SELECT action, target, actor FROM audit_log WHERE action = 'vault.shred'");
      expect(audit).toEqual([{ action: 'vault.shred', target: 'expiring#1', actor: 'retention' }]);
      expect((await verifyAuditChain(db)).ok).toBe(true);
      expect(ctx.events.some((e) => e.event.action === 'vault.shredded')).toBe(true);
      // explicit shredding of every version of an object
      expect(await vault.shred({ id: 'doc-1' }, { reason: 'case closed', actor: 'clerk' })).toBe(2);
      expect(await vault.shred({ id: 'doc-1' })).toBe(0);
    });

    it('rotates the key-encryption key online and destroys the retired one once nothing needs it', async () => {
      const { vault } = ctx;
      const objs = await Promise.all(Array.from({ length: 25 }, async (_, i) => ({ i, ct: await vault.seal({ id: `rot-${i}` }, Buffer.from(`object ${i}`)) })));
      const before = (await vault.activeKek())!;
      const next = await vault.addKek({ actor: 'officer' });
      expect(next.version).toBe(before.version + 1);
      // new objects use the new key at once; old ones still open under the retired key
      const fresh1 = await vault.seal({ id: 'after-rotation' }, Buffer.from('new'));
      expect((await vault.status({ id: 'after-rotation' }))!.kekVersion).toBe(next.version);
      expect((await vault.open({ id: 'rot-3' }, objs[3].ct)).toString()).toBe('object 3');
      const partial = await vault.rotate({ batchSize: 4, maxBatches: 2 });
      expect(partial.rewrapped).toBe(8);
      expect(partial.remaining).toBeGreaterThan(0);
      const rest = await vault.rotate({ batchSize: 7 });
      expect(rest.remaining).toBe(0);
      for (const o of objs) expect((await vault.open({ id: `rot-${o.i}` }, o.ct)).toString()).toBe(`object ${o.i}`);
      expect(await vault.destroyRetiredKeks()).toEqual([before.version]);
      expect((await vault.keks()).find((k) => k.version === before.version)!.state).toBe('destroyed');
      expect((await vault.open({ id: 'after-rotation' }, fresh1)).toString()).toBe('new');
    });

    it('a key-encryption key that is gone is a clear error and an event', async () => {
      const { vault, store } = ctx;
      const ct = await vault.seal({ id: 'kek-gone' }, Buffer.from('x'));
      const active = (await vault.activeKek())!;
      await store.destroySecret(active.keyId);
      await expect(vault.open({ id: 'kek-gone' }, ct)).rejects.toMatchObject({ code: 'key_store_unavailable' });
      await expect(vault.seal({ id: 'kek-gone-2' }, Buffer.from('y'))).rejects.toMatchObject({ code: 'key_store_unavailable' });
      expect(ctx.events.some((e) => e.event.action === 'vault.kek.unavailable' && e.event.outcome === 'failure')).toBe(true);
    });
  });
}

describe('rotation survives a kill -9 mid-way', () => {
  it.runIf(postgresWanted())('a killed rotation loses nothing and resumes', async () => {
    const url = await freshPostgresUrl();
    const ctx = await fresh(url);
    try {
      const n = 120;
      const objs: Buffer[] = [];
      for (let i = 0; i < n; i++) objs.push(await ctx.vault.seal({ id: `crash-${i}` }, Buffer.from(`payload ${i}`)));
      const first = (await ctx.vault.activeKek())!;
      await ctx.vault.addKek();
      const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/rotate-child.ts'), url, ctx.dir, PASS], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((r) => child.on('exit', (code, sig) => r(sig ? -1 : code)));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d) => {
          out += d;
          // several batches committed, the next one in flight: kill without a chance to clean up
          if ((out.match(/batch/g) ?? []).length >= 3) {
            child.kill('SIGKILL');
            resolve();
          }
        });
        child.on('exit', () => reject(new Error(`child exited before the kill: ${out} ${stderr}`)));
      });
      expect(await exited).toBe(-1);
      expect(out).not.toContain('finished');
      const moved = await ctx.db.query<{ n: string }>('SELECT count(*) AS n FROM xv_data_key WHERE kek_version <> $1', [first.version]);
      expect(Number(moved[0].n)).toBeGreaterThanOrEqual(9);
      expect(Number(moved[0].n)).toBeLessThan(n);
      // nothing lost: every object still opens, half under the old key and half under the new
      for (let i = 0; i < n; i++) expect((await ctx.vault.open({ id: `crash-${i}` }, objs[i])).toString()).toBe(`payload ${i}`);
      const r = await ctx.vault.rotate({ batchSize: 50 });
      expect(r.remaining).toBe(0);
      for (let i = 0; i < n; i++) expect((await ctx.vault.open({ id: `crash-${i}` }, objs[i])).toString()).toBe(`payload ${i}`);
      const jobs = await ctx.db.query<{ finished_at: Date | null }>('SELECT finished_at FROM xv_rotation ORDER BY id');
      expect(jobs[0].finished_at).toBeNull(); // the killed job
      expect(jobs.at(-1)!.finished_at).not.toBeNull();
    } finally {
      await ctx.store.close();
      await ctx.db.close();
    }
  }, 60_000);
});

describe.skipIf(softHsmMissing() !== null)('key-encryption key on PKCS#11 (SoftHSM2)', () => {
  let token: SoftHsmToken;
  let hsm: Pkcs11KeyStore;
  let db: Db;
  let vault: Vault;
  beforeAll(async () => {
    // the database first: PGlite started after the PKCS#11 module is loaded stalls in this process
    db = await openDb({ url: 'memory://' });
    await migrate(db, [...auditMigrations, ...vaultMigrations]);
    token = softHsmToken();
    hsm = await Pkcs11KeyStore.open({ module: token.modulePath, slot: { tokenLabel: token.tokenLabel }, pin: token.pin });
    const soft = await SoftwareKeyStore.open({ dir: tmp('truc-vault-keys-'), passphrase: PASS, scryptN: 1 << 10 });
    vault = new Vault({ db, keys: keyStores([soft, hsm]), kekStore: 'pkcs11' });
  });
  afterAll(async () => {
    await hsm?.close();
    await db?.close();
    token?.cleanup();
  });

  it('wraps data keys on the token, rotates from software to token, and fails clearly when the key is gone', async () => {
    const k = await vault.ensureKek();
    expect(k.store).toBe('pkcs11');
    const ct = await vault.seal({ id: 'hsm-1' }, Buffer.from('trên token'));
    expect((await vault.open({ id: 'hsm-1' }, ct)).toString()).toBe('trên token');
    // tampered wrapped key: the token's GCM refuses it
    const [orig] = await db.query<{ wrapped: Buffer }>("SELECT wrapped FROM xv_data_key WHERE object_id = 'hsm-1'");
    const bad = Buffer.from(orig.wrapped);
    bad[20] ^= 1;
    await db.query("UPDATE xv_data_key SET wrapped = $1 WHERE object_id = 'hsm-1'", [bad]);
    await expect(vault.open({ id: 'hsm-1' }, ct)).rejects.toMatchObject({ code: 'decrypt_failed' });
    // a rotation meeting it stops with the same error and moves nothing of its batch
    await vault.addKek({ store: 'pkcs11' });
    await expect(vault.rotate()).rejects.toMatchObject({ code: 'decrypt_failed' });
    expect((await vault.status({ id: 'hsm-1' }))!.kekVersion).toBe(k.version);
    await db.query("UPDATE xv_data_key SET wrapped = $1 WHERE object_id = 'hsm-1'", [Buffer.from(orig.wrapped)]);
    expect((await vault.rotate()).remaining).toBe(0);
    expect((await vault.open({ id: 'hsm-1' }, ct)).toString()).toBe('trên token');
    const soft = await vault.addKek({ store: 'software' });
    const ct2 = await vault.seal({ id: 'hsm-2' }, Buffer.from('two'));
    await vault.addKek({ store: 'pkcs11' });
    expect((await vault.rotate()).remaining).toBe(0);
    expect((await vault.open({ id: 'hsm-2' }, ct2)).toString()).toBe('two');
    expect((await vault.status({ id: 'hsm-2' }))!.kekVersion).toBe(soft.version + 1);
    const active = (await vault.activeKek())!;
    await hsm.destroySecret(active.keyId);
    await expect(vault.open({ id: 'hsm-2' }, ct2)).rejects.toMatchObject({ code: 'key_store_unavailable' });
  });
});
