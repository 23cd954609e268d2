/**
 * Vault: streaming envelope encryption (STREAM over AES-256-GCM, 64 KiB segments) against one raw
 * AES-256-GCM pass of node:crypto in the same run — 100 MB objects in 1 MiB chunks (throughput) and 1 KB
 * objects through the whole vault (data key, wrap, database row; objects per second).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { openDb, migrate } from '../src/store/index.js';
import { auditMigrations } from '../src/audit/index.js';
import { SoftwareKeyStore } from '../src/crypto/software-keystore.js';
import { keyStores } from '../src/crypto/keystore.js';
import { Vault, vaultMigrations } from '../src/vault/index.js';

export const title = 'Vault (encryption at rest)';

const MB = 1_000_000;
const CHUNK = 1 << 20;

function pushAll(t: NodeJS.ReadWriteStream, chunks: Buffer[], keep = true): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    t.on('error', reject);
    t.pipe(new Writable({ write(c, _e, cb) { if (keep) out.push(c); cb(); } })).on('finish', () => resolve(out));
    for (const c of chunks) t.write(c);
    t.end();
  });
}

export async function run(): Promise<Record<string, unknown>> {
  const size = 100 * MB;
  const plain: Buffer[] = [];
  for (let at = 0; at < size; at += CHUNK) plain.push(randomBytes(Math.min(CHUNK, size - at)));
  const db = await openDb({ url: 'memory://' });
  await migrate(db, [...auditMigrations, ...vaultMigrations]);
  const store = await SoftwareKeyStore.open({ dir: mkdtempSync(join(tmpdir(), 'truc-bench-vault-')), passphrase: 'bench passphrase', scryptN: 1 << 10 });
  const vault = new Vault({ db, keys: keyStores([store]) });
  await vault.ensureKek();

  const best = async (f: () => Promise<void>, n = 3) => {
    let t = Infinity;
    for (let i = 0; i < n; i++) {
      const s = process.hrtime.bigint();
      await f();
      t = Math.min(t, Number(process.hrtime.bigint() - s) / 1e9);
    }
    return t;
  };

  // raw: one GCM pass over the same chunks
  const key = randomBytes(32);
  const iv = randomBytes(12);
  let rawCt: Buffer[] = [];
  let rawTag = Buffer.alloc(0);
  const rawEnc = await best(async () => {
    const c = createCipheriv('aes-256-gcm', key, iv);
    rawCt = plain.map((p) => c.update(p));
    c.final();
    rawTag = c.getAuthTag();
  });
  const rawDec = await best(async () => {
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAuthTag(rawTag);
    for (const c of rawCt) d.update(c);
    d.final();
  });
  rawCt = [];

  let n = 0;
  let sealed: Buffer[] = [];
  const vaultEnc = await best(async () => {
    sealed = await pushAll(await vault.encrypt({ id: `big-${++n}` }), plain);
  });
  // read back as from a file: 1 MiB chunks, like the plaintext side
  const whole = Buffer.concat(sealed);
  sealed = [];
  for (let at = 0; at < whole.length; at += CHUNK) sealed.push(whole.subarray(at, Math.min(at + CHUNK, whole.length)));
  const vaultDec = await best(async () => {
    await pushAll(await vault.decrypt({ id: `big-${n}` }), sealed, false);
  });
  sealed = [];

  // small objects: 1 KB each, through the whole vault vs raw GCM with a fresh key each
  const small = randomBytes(1000);
  const count = 2000;
  const rawSmall = await best(async () => {
    for (let i = 0; i < count; i++) {
      const c = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
      c.update(small);
      c.final();
      c.getAuthTag();
    }
  }, 1);
  let s = 0;
  const sealedSmall: Buffer[] = [];
  const vaultSmall = await best(async () => {
    for (let i = 0; i < count; i++) sealedSmall.push(await vault.seal({ id: `small-${s++}` }, small));
  }, 1);
  const vaultSmallOpen = await best(async () => {
    for (let i = 0; i < count; i++) await vault.open({ id: `small-${i}` }, sealedSmall[i]);
  }, 1);
  await store.close();
  await db.close();
  const mbps = (t: number) => Math.round(size / MB / t);
  return {
    'large 100 MB encrypt MB/s (vault)': mbps(vaultEnc),
    'large 100 MB encrypt MB/s (raw AES-256-GCM)': mbps(rawEnc),
    'large encrypt ratio': Math.round((rawEnc / vaultEnc) * 100) / 100,
    'large 100 MB decrypt MB/s (vault)': mbps(vaultDec),
    'large 100 MB decrypt MB/s (raw AES-256-GCM)': mbps(rawDec),
    'large decrypt ratio': Math.round((rawDec / vaultDec) * 100) / 100,
    'small 1 KB seal objects/s (vault, PGlite)': Math.round(count / vaultSmall),
    'small 1 KB open objects/s (vault, PGlite)': Math.round(count / vaultSmallOpen),
    'small 1 KB objects/s (raw AES-256-GCM, fresh key)': Math.round(count / rawSmall),
  };
}
