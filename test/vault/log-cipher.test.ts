import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { join } from 'node:path';
import { openDb, migrate, type Db } from '../../src/store/index.js';
import { auditMigrations } from '../../src/audit/index.js';
import { SoftwareKeyStore } from '../../src/crypto/software-keystore.js';
import { keyStores } from '../../src/crypto/keystore.js';
import { Vault, vaultMigrations } from '../../src/vault/index.js';
import { logBodyCipher } from '../../src/vault/envelope/log-cipher.js';
import { MessageLog, verifyLog } from '../../src/exchange/log/index.js';
import { record, logDir } from '../exchange/log/fixtures.js';
import { tmp } from '../helpers/openssl.js';

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

describe('message-log bodies encrypted under the vault', () => {
  let db: Db;
  let store: SoftwareKeyStore;
  let vault: Vault;
  beforeAll(async () => {
    db = await openDb({ url: 'memory://' });
    await migrate(db, [...auditMigrations, ...vaultMigrations]);
    store = await SoftwareKeyStore.open({ dir: tmp('truc-logc-keys-'), passphrase: 'log cipher test passphrase', scryptN: 1 << 10 });
    vault = new Vault({ db, keys: keyStores([store]) });
  });
  afterAll(async () => {
    await store?.close();
    await db?.close();
  });

  it('stores inline and streamed bodies as ciphertext, reads them back with the same log key, survives a KEK rotation, and is unreadable once shredded', async () => {
    const dir = logDir();
    const cipher = await logBodyCipher(vault, 'SERVER:VN/GOV/000.00.00.G22/ss-vpcp');
    expect(cipher.id).toBe('vault:xlog:SERVER:VN/GOV/000.00.00.G22/ss-vpcp');
    const log = await MessageLog.open({ dir, cipher });
    const inline = Buffer.from('Quyết định mật số 7/QĐ-TTg');
    await log.append(record(1, inline));
    const big = Buffer.alloc(2 * 1024 * 1024 + 5, 'công văn mật ');
    const sp = log.spool();
    for (let off = 0; off < big.length; off += 300_000) await sp.write(big.subarray(off, off + 300_000));
    const b = await sp.finish();
    await log.append(record(2, undefined, { body: b, bodyHash: b.hash, bodyLength: b.length }));
    expect((await readAll(b.open())).equals(big)).toBe(true);
    await log.close();

    // nothing readable at rest
    expect(readFileSync(join(dir, 'segments', '0000000001.seg')).includes(inline)).toBe(false);
    const bodyFile = join(dir, 'segments', '0000000001.bodies', '2.body');
    expect(readFileSync(bodyFile).includes(Buffer.from('công văn mật'))).toBe(false);
    expect(statSync(bodyFile).size).toBe(big.length + 12 + 16);

    // the key is found again (the same data key) by a second process's cipher, and after a KEK rotation
    const again = await logBodyCipher(vault, 'SERVER:VN/GOV/000.00.00.G22/ss-vpcp');
    expect((await verifyLog({ dir, trustedTsaCerts: [], cipher: again })).problem).toBeUndefined();
    await vault.addKek({ label: 'rotated' });
    await vault.rotate();
    const rotated = await logBodyCipher(vault, 'SERVER:VN/GOV/000.00.00.G22/ss-vpcp');
    const ok = await verifyLog({ dir, trustedTsaCerts: [], cipher: rotated });
    expect(ok.problem).toBeUndefined();
    expect(ok.incomplete.some((s) => /not decrypted|cipher/.test(s))).toBe(false);

    // another server's log key cannot read these bodies
    const other = await logBodyCipher(vault, 'SERVER:VN/GOV/000.00.00.G09/ss-bnv');
    expect((await verifyLog({ dir, trustedTsaCerts: [], cipher: { ...other, id: cipher.id } })).problem?.why).toMatch(/decrypt|altered|tag/i);

    // crypto-shredding the log's key: nothing can be decrypted any more
    await vault.shred({ id: 'xlog:SERVER:VN/GOV/000.00.00.G22/ss-vpcp' }, { reason: 'retention expired' });
    await expect(logBodyCipher(vault, 'SERVER:VN/GOV/000.00.00.G22/ss-vpcp')).rejects.toMatchObject({ code: 'shredded' });
  });

  it('refuses a body cut short or altered', async () => {
    const cipher = await logBodyCipher(vault, 'SERVER:VN/PROV/000.00.31.H29/ss-hcm');
    const aad = Buffer.from('truc-log-body:test');
    const e = cipher.encryptor(aad);
    const ct = Buffer.concat([e.update(Buffer.from('báo cáo tháng 11')), e.final()]);
    const dec = (bytes: Buffer) => {
      const d = cipher.decryptor(aad);
      return Buffer.concat([d.update(bytes.subarray(0, 5)), d.update(bytes.subarray(5)), d.final()]);
    };
    expect(dec(ct).toString()).toBe('báo cáo tháng 11');
    expect(() => dec(ct.subarray(0, ct.length - 1))).toThrow(/altered|truncated/);
    const flipped = Buffer.from(ct);
    flipped[15]! ^= 1;
    expect(() => dec(flipped)).toThrow(/altered/);
    const d = cipher.decryptor(Buffer.from('truc-log-body:other'));
    expect(() => Buffer.concat([d.update(ct), d.final()])).toThrow(/altered/);
  });

  it('derives each body key with HKDF-SHA256 as documented: node\'s own hkdfSync opens what the log wrote, and the log opens what it seals', async () => {
    const name = 'SERVER:VN/GOV/000.00.00.G09/ss-hkdf';
    const cipher = await logBodyCipher(vault, name);
    const dek = await vault.storeKey(`xlog:${name}`);
    const aad = Buffer.from('truc-log-body:hkdf-check');
    const key = Buffer.from(hkdfSync('sha256', dek, Buffer.alloc(0), Buffer.concat([Buffer.from('truc-log-body-key\0'), aad]), 32));
    const e = cipher.encryptor(aad);
    const ct = Buffer.concat([e.update(Buffer.from('tờ trình số 12')), e.final()]);
    const dec = createDecipheriv('aes-256-gcm', key, ct.subarray(0, 12));
    dec.setAAD(aad);
    dec.setAuthTag(ct.subarray(ct.length - 16));
    expect(Buffer.concat([dec.update(ct.subarray(12, ct.length - 16)), dec.final()]).toString()).toBe('tờ trình số 12');
    const nonce = Buffer.alloc(12, 7);
    const enc = createCipheriv('aes-256-gcm', key, nonce);
    enc.setAAD(aad);
    const sealed = Buffer.concat([nonce, enc.update(Buffer.from('công điện')), enc.final(), enc.getAuthTag()]);
    const d = cipher.decryptor(aad);
    expect(Buffer.concat([d.update(sealed), d.final()]).toString()).toBe('công điện');
    // nonces from the pool are never handed out twice
    const nonces = new Set(Array.from({ length: 2000 }, () => cipher.encryptor(aad).final().subarray(0, 12).toString('hex')));
    expect(nonces.size).toBe(2000);
  });
});
